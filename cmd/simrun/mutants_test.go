package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/scenarios"
)

func TestMutantsBadUsageExits2(t *testing.T) {
	for _, args := range [][]string{
		{"mutants", "--seeds", "0"},
		{"mutants", "--parallel", "-1"},
		{"mutants", "extra"},
	} {
		if code, _, _ := simrun(args...); code != 2 {
			t.Errorf("simrun %v: exit %d, want 2", args, code)
		}
	}
}

// One run (test_new, seed 1) kills only skip-history: the survivors make the exit status 1,
// and the matrix and the one counterexample are written all the same.
func TestMutantsReportsSurvivorsWithExit1(t *testing.T) {
	dir := t.TempDir()
	code, out, _ := simrun("mutants", "--seeds", "1", "--out", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	if !regexp.MustCompile(`(?m)^skip-history\s+yes\s+handover\s+1\s+test_new\s+1\s+[0-9.]+ \S+\s+\d+ → \d+$`).MatchString(out) {
		t.Fatalf("no row for skip-history killed at run 1 with its shrunk size:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^no-drain\s+NO\s+1\s`).MatchString(out) || !strings.Contains(out, "The reference passed all 1 runs") {
		t.Fatalf("no surviving no-drain row or no reference verdict:\n%s", out)
	}
	if n := len(reference.Mutants()); !strings.Contains(out, fmt.Sprintf("\nFAIL: %d of %d mutants survived 1 runs (", n-1, n)) {
		t.Errorf("no FAIL verdict naming the survivors:\n%s", out)
	}
	dir = filepath.Join(dir, "latest")
	index, _ := os.ReadFile(filepath.Join(dir, "index.html"))
	if got := strings.Count(string(index), "survived</text>"); !strings.Contains(string(index), `id="kills"`) || got != len(reference.Mutants())-1 {
		t.Errorf("index.html: %d survivors in the seeds-to-kill chart, want %d", got, len(reference.Mutants())-1)
	}
	md, err := os.ReadFile(filepath.Join(dir, "mutants.md"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(md), "\n| `"); got != len(reference.Mutants()) {
		t.Fatalf("mutants.md has %d mutant rows, want %d:\n%s", got, len(reference.Mutants()), md)
	}
	entries, err := scenarios.LoadCorpus(filepath.Join(dir, "corpus"))
	if err != nil || len(entries) != 1 || len(entries[0].Plan.Kills) != 1 || entries[0].Plan.Kills[0] != "skip-history" {
		t.Fatalf("corpus: %+v, %v; want the one counterexample of skip-history", entries, err)
	}
}
