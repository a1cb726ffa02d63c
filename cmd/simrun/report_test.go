package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamsim/streamsim/scenarios"
)

// simrun report writes the campaign's report for a plan file and for a history file, and
// says whether it found a violation.
func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	s, _ := scenarios.Lookup("test_overlapped")
	plan := s.Build(1)
	plan.Seed = 1
	planPath := filepath.Join(dir, "overlapped.json")
	if err := plan.Save(planPath); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	code, stdout, stderr := simrun("report", planPath, "--impl", "mutant:no-drain", "--out", out)
	page := filepath.Join(out, "failures", "test_overlapped-1-mutant_no-drain", "report.html")
	if code != 1 || !strings.Contains(stdout, "violations found; wrote "+page) {
		t.Fatalf("report of a failing plan: exit %d\n%s%s", code, stdout, stderr)
	}
	if b, err := os.ReadFile(page); err != nil || !strings.Contains(string(b), "no-dup") {
		t.Fatalf("report.html of the plan: %v", err)
	}
	if code, stdout, _ := simrun("report", planPath, "--out", out); code != 0 || !strings.Contains(stdout, "no violation") {
		t.Fatalf("report of a passing plan: exit %d\n%s", code, stdout)
	}

	hist := filepath.Join(dir, "recorded.jsonl")
	if code, _, _ := simrun("replay", "--scenario", "test_overlapped", "--seed", "1", "--impl", "mutant:no-drain", "--history", hist); code != 1 {
		t.Fatal("replay of a mutant did not fail")
	}
	code, stdout, _ = simrun("report", hist, "--out", out)
	page = filepath.Join(out, "failures", "recorded-0-unknown", "report.html")
	if code != 1 || !strings.Contains(stdout, page) {
		t.Fatalf("report of a failing history: exit %d\n%s", code, stdout)
	}
	if b, _ := os.ReadFile(page); !strings.Contains(string(b), "simrun check "+hist) {
		t.Errorf("a history's report does not name simrun check as its rerun command")
	}

	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte("{\"t\":1}\n"), 0o644)
	for _, args := range [][]string{{"report", bad}, {"report", filepath.Join(dir, "none.json")}, {"report"}, {"report", planPath, "--impl", "tll"}} {
		if code, _, stderr := simrun(args...); code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("simrun %v: exit %d, %q", args, code, stderr)
		}
	}
}
