package scenarios

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"go.uber.org/goleak"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/reference"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func violations(out Outcome) string {
	if len(out.Result.Violations) == 0 {
		return "violations: none\n"
	}
	var b strings.Builder
	for _, v := range out.Result.Violations {
		fmt.Fprintf(&b, "violation %s %s: %s\n", v.Property, v.Node, v.Message)
	}
	return b.String()
}

// TestCatalogue plays every hand-made scenario over several seeds. The seed changes how the
// network segments writes, never what the applications see, so every seed must tell the same
// story, and it must be the one written in testdata (TLL's expectations, spec section 5.1).
//
//	run name=<scenario> [seeds=N] [summary | verdict]
//
// verdict prints only the checker's verdict, for plans whose story depends on how the binary
// was built (failpoints fire only with failpoint-toolexec).
func TestCatalogue(t *testing.T) {
	datadriven.RunTest(t, "testdata/catalogue.txt", func(t *testing.T, d *datadriven.TestData) string {
		if d.Cmd != "run" {
			d.Fatalf(t, "unknown command %q", d.Cmd)
		}
		var name string
		seeds := 5
		d.ScanArgs(t, "name", &name)
		d.MaybeScanArgs(t, "seeds", &seeds)
		s, ok := Lookup(name)
		if !ok {
			d.Fatalf(t, "unknown scenario %q", name)
		}
		render := Story
		switch {
		case d.HasArg("summary"):
			render = Summary
		case d.HasArg("verdict"):
			render = func(checker.History) string { return "" }
		}
		var first string
		for seed := uint64(1); seed <= uint64(seeds); seed++ {
			out, err := Run(s.Build(seed), seed, Options{})
			if err != nil {
				d.Fatalf(t, "seed %d: %v", seed, err)
			}
			got := render(out.History) + violations(out)
			if seed == 1 {
				first = got
			} else if got != first {
				d.Fatalf(t, "seed %d tells a different story than seed 1:\n%s\nseed 1:\n%s", seed, got, first)
			}
		}
		return first
	})
}

// Every hand-made scenario must have its expected story written down.
func TestCatalogueCovered(t *testing.T) {
	b, err := os.ReadFile("testdata/catalogue.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Catalogue() {
		if s.Generated {
			continue
		}
		if !strings.Contains(string(b), "run name="+s.Name+"\n") && !strings.Contains(string(b), "run name="+s.Name+" ") {
			t.Errorf("scenario %s has no expected story in testdata/catalogue.txt", s.Name)
		}
	}
}

// Same plan and seed, same trace: every catalogue scenario for 20 seeds, run twice.
func TestDeterminism(t *testing.T) {
	for _, s := range Catalogue() {
		hashes := map[uint64]bool{}
		for seed := uint64(1); seed <= 20; seed++ {
			a, err := Run(s.Build(seed), seed, Options{})
			if err != nil {
				t.Fatalf("%s seed %d: %v", s.Name, seed, err)
			}
			b, err := Run(s.Build(seed), seed, Options{})
			if err != nil {
				t.Fatalf("%s seed %d: %v", s.Name, seed, err)
			}
			if a.Hash != b.Hash || len(a.History) != len(b.History) || a.Events != b.Events {
				t.Fatalf("%s seed %d: two runs differ: hash %016x/%016x, %d/%d history events", s.Name, seed, a.Hash, b.Hash, len(a.History), len(b.History))
			}
			hashes[a.Hash] = true
		}
		// Segmentation draws from the seed, so seeds must actually change the runs.
		if len(hashes) < 2 {
			t.Errorf("%s: 20 seeds gave %d distinct trace hashes; the seed does not reach the run", s.Name, len(hashes))
		}
	}
}

// A campaign's result must not depend on its parallelism.
func TestParallelismDoesNotChangeResults(t *testing.T) {
	s, _ := Lookup("random")
	one := Campaign{Scenario: s, FirstSeed: 1, Seeds: 40, Parallel: 1, Options: Options{Bugs: reference.BugNoDrain}}.Run()
	many := Campaign{Scenario: s, FirstSeed: 1, Seeds: 40, Parallel: 4, Options: Options{Bugs: reference.BugNoDrain}}.Run()
	if one.Delivered != many.Delivered || one.Violations != many.Violations || one.Events != many.Events || len(one.Failures) != len(many.Failures) {
		t.Fatalf("parallel 1: %d delivered, %d violations; parallel 4: %d delivered, %d violations", one.Delivered, one.Violations, many.Delivered, many.Violations)
	}
	for i := range one.Failures {
		if one.Failures[i].Seed != many.Failures[i].Seed || one.Failures[i].Outcome.Hash != many.Failures[i].Outcome.Hash {
			t.Fatalf("failure %d differs: seed %d vs %d", i, one.Failures[i].Seed, many.Failures[i].Seed)
		}
	}
}

// A client that goes live without skipping what history already delivered must be caught,
// and caught for the right reason.
func TestBrokenClientIsCaught(t *testing.T) {
	s, _ := Lookup("test_overlapped")
	out, err := Run(s.Build(1), 1, Options{Bugs: reference.BugNoDrain})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Result.Violations) == 0 {
		t.Fatalf("no violation found; story:\n%s", Story(out.History))
	}
	v := out.Result.Violations[0]
	if v.Property != "no-dup" || v.Node != "c1" {
		t.Fatalf("first violation %s on %s (%s), want no-dup on c1", v.Property, v.Node, v.Message)
	}

	r, _ := Lookup("random")
	rep := Campaign{Scenario: r, FirstSeed: 1, Seeds: 200, Options: Options{Bugs: reference.BugNoDrain}}.Run()
	if rep.Violations == 0 {
		t.Fatalf("200 random seeds did not catch the no-drain client")
	}
	clean := Campaign{Scenario: r, FirstSeed: 1, Seeds: 200}.Run()
	if clean.Violations != 0 {
		f := clean.Failures[0]
		t.Fatalf("the reference itself fails random seed %d: %v %v", f.Seed, f.Err, f.Outcome.Result.Violations)
	}
}

// Two shards run exactly the seeds of the whole campaign, and their sums equal its results.
func TestShardsAddUpToTheCampaign(t *testing.T) {
	s, _ := Lookup("random")
	opt := Options{Bugs: reference.BugNoDrain}
	whole := Campaign{Scenario: s, FirstSeed: 3, Seeds: 41, Options: opt}.Run()
	var seeds, violations int
	var delivered int64
	var hash uint64
	var failed []uint64
	for i := 1; i <= 2; i++ {
		part := Campaign{Scenario: s, FirstSeed: 3, Seeds: 41, Shard: i, Shards: 2, Options: opt}.Run()
		seeds += part.Seeds
		violations += part.Violations
		delivered += part.Delivered
		hash += part.Hash
		for _, f := range part.Failures {
			failed = append(failed, f.Seed)
		}
	}
	if seeds != whole.Seeds || violations != whole.Violations || delivered != whole.Delivered || hash != whole.Hash {
		t.Fatalf("shards: %d seeds, %d violations, %d delivered, hash %x; whole: %d, %d, %d, %x",
			seeds, violations, delivered, hash, whole.Seeds, whole.Violations, whole.Delivered, whole.Hash)
	}
	if len(failed) != len(whole.Failures) {
		t.Fatalf("shards found %d failing seeds, the whole campaign %d", len(failed), len(whole.Failures))
	}
}
