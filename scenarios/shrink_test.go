package scenarios

import (
	"testing"
	"time"

	"github.com/streamsim/streamsim/reference"
)

// The planted seq-data off-by-one is found by a random campaign and shrinks to a small plan
// that still shows it (at most 20 events, under 30 seconds).
func TestShrinkSeqDataOffByOne(t *testing.T) {
	opt := Options{Bugs: reference.BugSeqDataOffByOne}
	s, _ := Lookup("random")
	rep := Campaign{Scenario: s, FirstSeed: 1, Seeds: 500, Options: opt}.Run()
	if len(rep.Failures) == 0 {
		t.Fatal("500 random seeds did not find the seq-data off-by-one")
	}
	f := rep.Failures[0]
	start := time.Now()
	res, err := Shrink(s.Build(f.Seed), f.Seed, opt, 0)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seed %d: %d → %d events in %d runs, %v; remaining: %s %s", f.Seed, res.BeforeSize, res.AfterSize, res.Runs, took, res.Violation.Property, res.Violation.Message)
	if res.AfterSize > 20 || res.AfterSize >= res.BeforeSize {
		t.Fatalf("shrunk from %d to %d events, want at most 20", res.BeforeSize, res.AfterSize)
	}
	if took > 30*time.Second {
		t.Fatalf("shrinking took %v, want under 30 s", took)
	}
	// The minimal plan still fails the same way against the mutant and passes the reference.
	again, err := Run(res.Plan, f.Seed, opt)
	if err != nil || len(again.Result.Violations) == 0 || again.Result.Violations[0].Property != res.Violation.Property {
		t.Fatalf("the minimal plan does not reproduce: %v %v", err, again.Result.Violations)
	}
	clean, err := Run(res.Plan, f.Seed, Options{})
	if err != nil || len(clean.Result.Violations) != 0 {
		t.Fatalf("the minimal plan fails the correct reference too: %v %v", err, clean.Result.Violations)
	}
	// Shrinking is deterministic.
	res2, _ := Shrink(s.Build(f.Seed), f.Seed, opt, 0)
	if res2.AfterSize != res.AfterSize || res2.Runs != res.Runs {
		t.Fatalf("two shrinks differ: %d/%d events, %d/%d runs", res.AfterSize, res2.AfterSize, res.Runs, res2.Runs)
	}
}

func TestShrinkRefusesAPassingPlan(t *testing.T) {
	s, _ := Lookup("test_new")
	if _, err := Shrink(s.Build(1), 1, Options{}, 0); err == nil {
		t.Fatal("shrinking a plan that violates nothing did not fail")
	}
}
