package validate

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/streamsim/streamsim/reference"
)

// simrun is the simrun binary the tests run as drivers and as the validate command, built
// once in TestMain.
var simrun string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "validate-test-")
	if err == nil {
		simrun = filepath.Join(dir, "simrun")
		err = build(simrun)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "building simrun: %v\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	// A race-enabled driver would otherwise sleep a second at exit, and finish a run with a
	// data race instead of failing it.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0 halt_on_error=1"))
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { os.RemoveAll(dir) }))
}

// build compiles cmd/simrun the way this test binary was compiled: with the race detector and
// failpoint rewriting if it has them. Besides testing the drivers as they were tested, that
// keeps the build cache consistent: make test gives failpoint builds a cache of their own,
// because Go's cache cannot tell a rewritten compile from a plain one.
func build(out string) error {
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	if reference.EnableFailpoints() == nil && reference.FailpointsCompiled() {
		tool, err := exec.Command("go", "tool", "-n", "failpoint-toolexec").Output()
		if err != nil {
			return fmt.Errorf("go tool -n failpoint-toolexec: %v", err)
		}
		args = append(args, "-tags", "failpoints", "-toolexec", strings.TrimSpace(string(tool)))
	}
	cmd := exec.Command("go", append(args, "github.com/streamsim/streamsim/cmd/simrun")...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v\n%s", err, b)
	}
	return nil
}
