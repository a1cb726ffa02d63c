package validate

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// validateAll runs simrun validate on every catalogue scenario, the reference server and a
// reference client (with extra flags) each in processes of their own, every connection through
// a fault proxy.
func validateAll(t *testing.T, clientFlags string) (code int, out string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := ShellQuote(simrun)
	cmd := exec.CommandContext(ctx, simrun, "validate",
		"--server-cmd", bin+" driver server --online {online} --request {request} --storage {storage}",
		"--client-cmd", bin+" driver client"+clientFlags,
		"--all", "--parallel", "2")
	// Killed on timeout, validate leaves its drivers to find their input closed and exit.
	cmd.WaitDelay = 10 * time.Second
	b, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("simrun validate: %v\n%s", err, b)
	}
	return code, string(b)
}

func TestAcceptanceReference(t *testing.T) {
	t.Parallel()
	code, out := validateAll(t, "")
	// A loaded machine may leave runs inconclusive (exit 3), never failed.
	if code != 0 && code != 3 {
		t.Fatalf("exit %d, want 0 or 3:\n%s", code, out)
	}
	m := regexp.MustCompile(`(?m)^(\d+) runs, 0 violations, 0 failed runs, (\d+) inconclusive runs`).FindStringSubmatch(out)
	if m == nil || (m[2] != "0") != (code == 3) {
		t.Fatalf("no summary line with zero violations matching exit %d:\n%s", code, out)
	}
	// Rows whose last column is "-" ran every fault their plan asks for.
	full := regexp.MustCompile(`(?m)^\S+\s+1\s+0\s+0\s+\d+\s+\d+\s+\S+\s+-$`).FindAllString(out, -1)
	if runs, _ := strconv.Atoi(m[1]); runs < 20 || len(full) < 20 {
		t.Fatalf("%s runs, %d of them with every fault of their plan; want at least 20:\n%s", m[1], len(full), out)
	}
}

// A client with TLL's missing drain (P3) repeats messages history already delivered; the
// same campaign must catch it.
func TestAcceptanceMutantClientIsCaught(t *testing.T) {
	t.Parallel()
	code, out := validateAll(t, " --impl mutant:no-drain")
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	if !regexp.MustCompile(`(?m)^FAIL \S+ seed 1: no-dup on c\d+ session \d+: seq \d+ delivered again`).MatchString(out) {
		t.Fatalf("no no-dup violation reported:\n%s", out)
	}
	if strings.Contains(out, "driver ended") {
		t.Fatalf("a driver failed instead of the mutant being judged:\n%s", out)
	}
}

// A failing run's report names a rerun command that plays the report's own plan.json with the
// same seed and net, and the rerun fails again; the report holds the proxies' fault schedule.
func TestFailureRerunsFromItsReport(t *testing.T) {
	t.Parallel()
	bin := ShellQuote(simrun)
	dir := t.TempDir()
	args := []string{"validate",
		"--server-cmd", bin + " driver server --impl mutant:silent-malformed",
		"--client-cmd", bin + " driver client", "--net", "unix"}
	run := func(extra ...string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, simrun, append(args, extra...)...)
		cmd.WaitDelay = 10 * time.Second
		b, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("simrun validate: %v\n%s", err, b)
		}
		return cmd.ProcessState.ExitCode(), string(b)
	}
	// The failure is liveness's, so a loaded machine makes it inconclusive (exit 3); either
	// way it is reported, and never passes.
	code, out := run("--scenario", "malformed_request", "--seed", "4", "--out", dir)
	m := regexp.MustCompile(`(?m)^  rerun: simrun validate .* --plan (\S+) --seed 4 --net unix `).FindStringSubmatch(out)
	if code != 1 && code != 3 || m == nil {
		t.Fatalf("exit %d, want 1 or 3 and a rerun command naming the report's plan:\n%s", code, out)
	}
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(m[1]), "schedule.txt")); err != nil || !regexp.MustCompile(`^verdict: (fail|inconclusive)\n`).Match(b) {
		t.Fatalf("schedule.txt: %v\n%s", err, b)
	}
	code, out = run("--plan", m[1], "--seed", "4")
	if code != 1 && code != 3 || !regexp.MustCompile(`(?m)^(FAIL|INCONCLUSIVE) malformed_request seed 4: liveness`).MatchString(out) {
		t.Fatalf("rerun: exit %d, want the same failure:\n%s", code, out)
	}
}
