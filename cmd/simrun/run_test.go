package main

import (
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamsim/streamsim/reports"
	"github.com/streamsim/streamsim/scenarios"
)

func scenariosReport(name string, seeds, failed int) scenarios.Report {
	return scenarios.Report{Scenario: name, Seeds: seeds, Failures: make([]scenarios.Failure, failed)}
}

// Each --out run gets its own directory named by time and implementation, latest points at
// the newest, and a run against the reference in a reused directory shows none of an earlier
// mutant run's failures.
func TestOutMakesARunDirectoryPerRun(t *testing.T) {
	dir := t.TempDir()
	code, out, _ := simrun("run", "--scenario", "test_overlapped", "--seeds", "3", "--impl", "mutant:no-drain", "--no-shrink", "--out", dir)
	if code != 1 {
		t.Fatalf("mutant run: exit %d\n%s", code, out)
	}
	first, err := os.Readlink(filepath.Join(dir, reports.Latest))
	if err != nil || !regexp.MustCompile(`^\d{8}-\d{6}-mutant_no-drain$`).MatchString(first) {
		t.Fatalf("latest → %q (%v), want a dir named by time and implementation", first, err)
	}
	index, _ := os.ReadFile(filepath.Join(dir, first, "index.html"))
	for _, want := range []string{`id="scenarios"`, `id="heatmap"`, "open → Online", "post → delivery", `id="failures"`, "seq N delivered again", "FAIL: 3 of 3 seeds failed"} {
		if !strings.Contains(string(index), want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	// Every report the index links to exists.
	links := regexp.MustCompile(`href="(failures/[^"]+/report.html)"`).FindAllStringSubmatch(string(index), -1)
	if len(links) < 3 {
		t.Errorf("index.html links %d failure reports, want one per failing seed", len(links))
	}
	for _, l := range links {
		if _, err := os.Stat(filepath.Join(dir, first, l[1])); err != nil {
			t.Errorf("index.html links a missing report: %v", err)
		}
	}

	code, out, _ = simrun("run", "--scenario", "test_overlapped", "--seeds", "3", "--out", dir)
	if code != 0 {
		t.Fatalf("reference run: exit %d\n%s", code, out)
	}
	second, _ := os.Readlink(filepath.Join(dir, reports.Latest))
	if second == first || !strings.HasSuffix(second, "-reference") {
		t.Fatalf("latest → %q after a second run, first was %q", second, first)
	}
	if _, err := os.Stat(filepath.Join(dir, second, "failures")); !os.IsNotExist(err) {
		t.Errorf("the passing run's directory has failures: %v", err)
	}
	s, err := reports.ReadResults(filepath.Join(dir, second, "results.json"))
	if err != nil || len(s.Failures) != 0 || s.Partial {
		t.Errorf("the passing run's results: %d failures, partial %v, %v", len(s.Failures), s.Partial, err)
	}
	if _, err := os.Stat(filepath.Join(dir, first, "failures")); err != nil {
		t.Errorf("the first run's failures are gone: %v", err)
	}
}

// Ctrl-C stops a campaign after the seeds in flight; what finished is printed and written,
// marked partial, and the exit status says it was interrupted.
func TestInterruptWritesPartialResults(t *testing.T) {
	// The test process must survive a SIGINT that arrives before run listens for it.
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, os.Interrupt)
	defer signal.Stop(guard)

	type result struct {
		code     int
		out, err string
	}
	// The signal must come after the first seeds finished; on a loaded machine that can take
	// a while, so wait longer each time nothing had finished yet.
	var dir string
	var s reports.Summary
	for wait := 500 * time.Millisecond; ; wait *= 2 {
		dir = t.TempDir()
		done := make(chan result)
		go func() {
			code, out, errOut := simrun("run", "--scenario", "test_overlapped", "--seeds", "2000000", "--no-shrink", "--out", dir)
			done <- result{code, out, errOut}
		}()
		time.Sleep(wait)
		if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		var r result
		select {
		case r = <-done:
		case <-time.After(60 * time.Second):
			t.Fatal("run did not stop within a minute of SIGINT")
		}
		if r.code != exitInterrupted || !strings.Contains(r.out, "\nSTOPPED: no violation in the ") {
			t.Fatalf("exit %d, want %d and a STOPPED verdict:\n%s%s", r.code, exitInterrupted, r.out, r.err)
		}
		var err error
		s, err = reports.ReadResults(filepath.Join(dir, reports.Latest, "results.json"))
		if err != nil || !s.Partial {
			t.Fatalf("results.json: partial %v, %v", s.Partial, err)
		}
		if len(s.Scenarios) == 1 || wait > 8*time.Second {
			break
		}
	}
	if len(s.Scenarios) != 1 {
		t.Fatalf("no seed finished within 16 s of starting")
	}
	if n := s.Scenarios[0].Seeds(); n < 1 || n >= 2000000 {
		t.Errorf("partial results hold %d seeds", n)
	}
	md, _ := os.ReadFile(filepath.Join(dir, reports.Latest, "summary.md"))
	if !strings.Contains(string(md), "**Partial**") {
		t.Errorf("summary.md does not say it is partial")
	}
}

func TestVerdictLine(t *testing.T) {
	pass := reports.Summary{Scenarios: []reports.ScenarioResult{{Scenario: "a", Impl: "reference", Ranges: []reports.SeedRange{{FirstSeed: 1, Seeds: 10}}}}}
	if got := verdict(pass, 1500*time.Millisecond); got != "PASS: 10 seeds of 1 scenarios, no violation in 1.5 s" {
		t.Errorf("pass: %q", got)
	}
	var fail reports.Summary
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		fail.Scenarios = append(fail.Scenarios, reports.ScenarioResult{Scenario: name, Impl: "reference", Ranges: []reports.SeedRange{{FirstSeed: 1, Seeds: 10}}, Violations: 2})
		fail.Failures = append(fail.Failures, reports.FailureResult{Scenario: name, Impl: "reference", Seed: 3, Violations: []reports.ViolationResult{{Property: "p"}, {Property: "q"}}})
	}
	fail.Partial = true
	if got := verdict(fail, 61*time.Second); got != "FAIL: 5 of 50 seeds failed (10 violations) in 5 of 5 scenarios (a, b, c and 2 more) (stopped early) in 1 min 01 s" {
		t.Errorf("fail: %q", got)
	}
}

func TestStatusLineShowsTotalsAndEstimate(t *testing.T) {
	var b strings.Builder
	st := &status{w: &b, start: time.Now().Add(-30 * time.Second), scenarios: 3, seeds: 300}
	st.finish(scenariosReport("a", 100, 2))
	st.show(1, "b", 50, 1)
	line := b.String()
	for _, want := range []string{"1/3 scenarios", "150/300 seeds", "3 failing", "b (50 seeds)", "0:30 elapsed", "~0:30 left"} {
		if !strings.Contains(line, want) {
			t.Errorf("status line lacks %q: %q", want, line)
		}
	}
	if newStatus(&b, time.Now(), 1, 1) != nil {
		t.Error("a status line on a writer that is not a terminal")
	}
	for d, want := range map[time.Duration]string{42 * time.Second: "0:42", 12*time.Minute + 5*time.Second: "12:05", time.Hour + 2*time.Minute + 3*time.Second: "1:02:03"} {
		if got := clock(d); got != want {
			t.Errorf("clock(%v) = %q, want %q", d, got, want)
		}
	}
}
