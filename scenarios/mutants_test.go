package scenarios

import (
	"strings"
	"testing"

	"github.com/streamsim/streamsim/reference"
)

// The fast subset of simrun mutants: one round of the catalogue (every plan, seed 1) must
// kill every planted bug, and the reference must pass it.
func TestEveryMutantIsKilled(t *testing.T) {
	m := Kill(KillOptions{Seeds: len(Catalogue()), NoShrink: true})
	if r := m.Reference; r.Killed {
		t.Fatalf("the reference fails %s seed %d: %s %s", r.Scenario, r.Seed, r.Property, r.Message)
	}
	if len(m.Mutants) != len(reference.Mutants()) {
		t.Fatalf("%d rows for %d mutants", len(m.Mutants), len(reference.Mutants()))
	}
	for _, r := range m.Mutants {
		if !r.Killed {
			t.Errorf("mutant %s survived %d runs: no plan in the catalogue catches it", r.Name, r.Runs)
		}
	}
	if !m.Passed() {
		t.Error("Passed is false although every mutant died and the reference passed")
	}
}

// The first kill is the first failing run in the documented order, whatever the parallelism.
func TestHuntIgnoresParallelism(t *testing.T) {
	mu, _ := reference.MutantByName("reopen-inclusive")
	var rows []KillRow
	for _, p := range []int{1, 3} {
		rows = append(rows, hunt(KillRow{Name: mu.Name, Bugs: mu.Bug}, KillOptions{Seeds: 200, Parallel: p}))
	}
	a, b := rows[0], rows[1]
	if !a.Killed || a.Runs != b.Runs || a.Scenario != b.Scenario || a.Seed != b.Seed || a.Message != b.Message {
		t.Fatalf("parallel 1: %+v\nparallel 3: %+v", a, b)
	}
	s, seed := runAt(Catalogue(), a.Runs-1)
	if s.Name != a.Scenario || seed != a.Seed {
		t.Fatalf("run %d is %s seed %d, the row says %s seed %d", a.Runs, s.Name, seed, a.Scenario, a.Seed)
	}
	for i := range a.Runs - 1 {
		s, seed := runAt(Catalogue(), i)
		out, err := Run(s.Build(seed), seed, Options{Bugs: mu.Bug})
		if err != nil || len(out.Result.Violations) > 0 {
			t.Fatalf("run %d (%s seed %d) fails too, before the reported first kill", i+1, s.Name, seed)
		}
	}
}

func TestKillMatrixMarkdown(t *testing.T) {
	m := KillMatrix{
		Seeds:     100,
		Reference: KillRow{Name: "reference", Runs: 100},
		Mutants: []KillRow{
			{Name: "a", Killed: true, Runs: 7, Scenario: "test_ring", Seed: 1, Property: "no-gap", Shrunk: Shrunk{Runs: 5, BeforeSize: 31, AfterSize: 7}},
			{Name: "b", Killed: true, Runs: 3, Scenario: "random", Seed: 2, Property: "start"},
			{Name: "c", Runs: 100},
		},
	}
	if median, worst := m.SeedsToKill(); median != 3 || worst != 7 {
		t.Errorf("seeds to kill: median %d, worst %d; want 3 and 7", median, worst)
	}
	if m.Passed() {
		t.Error("Passed with a surviving mutant")
	}
	var b strings.Builder
	if err := m.Markdown(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| `a` | yes | `no-gap` | 7 | test_ring | 1 |",
		"| 31 → 7 |",
		"| `c` | no |  | 100 |",
		"The reference passed all 100 runs",
		"Seeds to kill: median 3, worst 7.",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the Markdown lacks %q:\n%s", want, b.String())
		}
	}
}
