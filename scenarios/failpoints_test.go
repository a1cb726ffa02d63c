//go:build failpoints

package scenarios

import (
	"testing"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/reference"
)

// Built with -tags failpoints and failpoint-toolexec (make test): every failpoint must fire in
// the failpoints catalogue plan, and the reference must survive every strike.
func TestEveryFailpointIsHit(t *testing.T) {
	if err := reference.EnableFailpoints(); err != nil {
		t.Fatal(err)
	}
	if !reference.FailpointsCompiled() {
		t.Fatal("built with -tags failpoints but without -toolexec failpoint-toolexec: the markers are no-ops (use make test)")
	}
	s, _ := Lookup("failpoints")
	hits := map[string]int{}
	for seed := uint64(1); seed <= 20; seed++ {
		out, err := Run(s.Build(seed), seed, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range out.Result.Violations {
			t.Errorf("seed %d: %s on %s: %s", seed, v.Property, v.Node, v.Message)
		}
		for _, e := range out.History {
			if e.Kind == checker.EvFault && e.Name == "failpoint" {
				hits[e.Reason]++
			}
		}
	}
	for _, name := range reference.FailpointNames() {
		if hits[name] == 0 {
			t.Errorf("failpoint %s never fired in 20 seeds of the failpoints plan", name)
		} else {
			t.Logf("%s fired %d times", name, hits[name])
		}
	}
}
