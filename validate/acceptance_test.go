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

	"github.com/streamsim/streamsim/scenarios"
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
// The mutant's violation rests on no timing (seq-data S delivers S again), so a loaded machine
// cannot make it inconclusive: both runs must fail.
func TestFailureRerunsFromItsReport(t *testing.T) {
	t.Parallel()
	bin := ShellQuote(simrun)
	dir := t.TempDir()
	args := []string{"validate",
		"--server-cmd", bin + " driver server",
		"--client-cmd", bin + " driver client --impl mutant:seq-data-off-by-one", "--net", "unix"}
	code, out := runValidate(t, append(args, "--scenario", "test_open_seq_data", "--seed", "4", "--out", dir)...)
	m := regexp.MustCompile(`(?m)^  rerun: simrun validate .* --plan (\S+) --seed 4 --net unix `).FindStringSubmatch(out)
	if code != 1 || m == nil {
		t.Fatalf("exit %d, want 1 and a rerun command naming the report's plan:\n%s", code, out)
	}
	failure := filepath.Dir(m[1])
	if b, err := os.ReadFile(filepath.Join(failure, "schedule.txt")); err != nil || !strings.HasPrefix(string(b), "verdict: fail\n") {
		t.Fatalf("schedule.txt: %v\n%s", err, b)
	}
	if b, err := os.ReadFile(filepath.Join(failure, "report.html")); err != nil || !strings.Contains(string(b), `<h3 id="schedule">Fault schedule</h3>`) {
		t.Fatalf("report.html has no fault schedule: %v", err)
	}
	code, out = runValidate(t, append(args, "--plan", m[1], "--seed", "4")...)
	if code != 1 || !regexp.MustCompile(`(?m)^FAIL test_open_seq_data seed 4: start on c1 session 1: `).MatchString(out) {
		t.Fatalf("rerun: exit %d, want the same failure:\n%s", code, out)
	}
}

// runValidate runs simrun validate with args and returns its exit status and output.
func runValidate(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, simrun, args...)
	cmd.WaitDelay = 10 * time.Second
	b, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("simrun validate: %v\n%s", err, b)
	}
	return cmd.ProcessState.ExitCode(), string(b)
}

// figuresLine is how validate prints an inconclusive run's figures.
var figuresLine = regexp.MustCompile(`(?m)^  the machine ran late: timers late up to (\S+), driver answers (\S+), reads (\S+), CPU stalled (\d+)% and I/O (\d+)% of the time; liveness bound stretched to \S+$`)

// printedCanary reads the first figures line of out back into a Canary; false if it has none.
func printedCanary(t *testing.T, out string) (Canary, bool) {
	t.Helper()
	m := figuresLine.FindStringSubmatch(out)
	if m == nil {
		return Canary{}, false
	}
	var c Canary
	for i, d := range []*time.Duration{&c.Timer, &c.Answer, &c.Read} {
		v, err := time.ParseDuration(m[i+1])
		if err != nil {
			t.Fatalf("figures %q: %v", m[0], err)
		}
		*d = v
	}
	cpu, _ := strconv.Atoi(m[4])
	io, _ := strconv.Atoi(m[5])
	c.CPUStall, c.IOStall = float64(cpu)/100, float64(io)/100
	return c, true
}

// Mutants whose only violation is liveness's (an open left waiting) fail; on a machine
// measured too slow to judge timing they are inconclusive, and then the output must carry
// figures that show the machine too slow. Neither ever passes.
func TestTimingOnlyMutants(t *testing.T) {
	if testing.Short() {
		t.Skip("runs validate twice against mutants")
	}
	t.Parallel()
	bin := ShellQuote(simrun)
	for _, tc := range []struct{ mutant, side, scenario string }{
		{"silent-malformed", "server", "malformed_request"},
		{"hang-on-request-failure", "client", "request_refused"},
	} {
		t.Run(tc.mutant, func(t *testing.T) {
			t.Parallel()
			server, client := bin+" driver server", bin+" driver client"
			if tc.side == "server" {
				server += " --impl mutant:" + tc.mutant
			} else {
				client += " --impl mutant:" + tc.mutant
			}
			code, out := runValidate(t, "validate", "--server-cmd", server, "--client-cmd", client, "--plan", roomyPlan(t, tc.scenario), "--seeds", "2")
			switch code {
			case 1:
				if !regexp.MustCompile(`(?m)^FAIL ` + tc.scenario + ` seed \d+: liveness on c1 `).MatchString(out) {
					t.Fatalf("exit 1 without a liveness failure:\n%s", out)
				}
			case 3:
				c, ok := printedCanary(t, out)
				if !ok || !c.TooSlow() {
					t.Fatalf("inconclusive without figures that show the machine too slow (%+v):\n%s", c, out)
				}
				t.Logf("inconclusive on a loaded machine: %v", c)
			default:
				t.Fatalf("exit %d, want 1 (or 3 on a machine measured too slow):\n%s", code, out)
			}
		})
	}
}

// roomyPlan writes the catalogue plan name with its request link three times slower and its
// faults 4 ms of plan time later (80 ms real), so that a fault aimed at a request dial in
// progress still finds it when a loaded machine starts the client driver's dial tens of
// milliseconds late: request_refused's reset otherwise found no connection beside stress-ng,
// and the mutant went unexercised. A correct client still reopens well within the bound.
func roomyPlan(t *testing.T, name string) string {
	t.Helper()
	s, ok := scenarios.Lookup(name)
	if !ok {
		t.Fatalf("no scenario %q", name)
	}
	p := s.Build(1)
	p.Net.Request.LatencyUs *= 3
	for i := range p.Faults {
		p.Faults[i].AtUs += 4000
	}
	p.DurationUs += 4000
	path := filepath.Join(t.TempDir(), name+".json")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// A machine too slow to judge timing is emulated by a client driver whose commands reach it
// 200 ms late, which the canary sees as late answers: the liveness violation of a server that
// ignores malformed requests is then inconclusive, printed with the figures that say why, and
// the exit status is 3.
func TestSlowMachineIsInconclusiveWithFigures(t *testing.T) {
	t.Parallel()
	bin := ShellQuote(simrun)
	slow := `while IFS= read -r l; do sleep 0.2; printf '%s\n' "$l"; done | ` + bin + " driver client"
	code, out := runValidate(t, "validate", "--server-cmd", bin+" driver server --impl mutant:silent-malformed",
		"--client-cmd", slow, "--scenario", "malformed_request")
	c, ok := printedCanary(t, out)
	if code != 3 || !ok || c.Answer < 200*time.Millisecond || !c.TooSlow() {
		t.Fatalf("exit %d, figures %+v; want 3, with driver answers at least 200ms late:\n%s", code, c, out)
	}
	if !regexp.MustCompile(`(?m)^INCONCLUSIVE malformed_request seed 1: liveness on c1 session 1: `).MatchString(out) {
		t.Fatalf("no inconclusive liveness violation reported:\n%s", out)
	}
}

// Planted bugs whose violations rest on no timing are caught in real time by the scenarios
// that reach them, each on its own side of the protocol: the drivers get the mutant as the
// simulator's nodes do, and each applies what concerns it.
func TestMutantsAreCaught(t *testing.T) {
	if testing.Short() {
		t.Skip("runs validate against several mutants")
	}
	t.Parallel()
	bin := ShellQuote(simrun)
	for _, tc := range []struct{ mutant, scenario, property string }{
		{"wrong-translated-seq", "test_open_initial", "start"},    // the server's Reply
		{"seq-32bit", "seq_large", "start"},                       // the client's open
		{"advance-before-deliver", "test_overlapped", "handover"}, // the client's switch
		{"overlap-off-by-one", "test_ring", "no-gap"},
		{"buffer-loses-msgid", "test_overlapped", "no-phantom"},
	} {
		t.Run(tc.mutant, func(t *testing.T) {
			t.Parallel()
			impl := " --impl mutant:" + tc.mutant
			code, out := runValidate(t, "validate", "--server-cmd", bin+" driver server"+impl, "--client-cmd", bin+" driver client"+impl, "--scenario", tc.scenario)
			if code != 1 || !regexp.MustCompile(`(?m)^FAIL `+tc.scenario+` seed 1: `+tc.property+` on c1 `).MatchString(out) {
				t.Fatalf("exit %d, want 1 and a %s violation:\n%s", code, tc.property, out)
			}
		})
	}
}
