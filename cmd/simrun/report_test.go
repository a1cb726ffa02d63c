package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/scenarios"
	"github.com/streamsim/streamsim/validate"
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

// A validate run's report.html shows the verdict validate gave: a run judged inconclusive
// must never read as a failure, whatever validate calls its verdicts.
func TestValidateReportVerdict(t *testing.T) {
	h := checker.History{
		{T: 0, Node: "server", Kind: checker.EvPost, Seq: 1}, {T: 1, Node: "server", Kind: checker.EvPostOK, Seq: 1},
		{T: 2, Node: "c1", Session: 1, Kind: checker.EvOpen, Mode: checker.ModeSeq, ReqSeq: 1},
		{T: 3, Node: "c1", Session: 1, Kind: checker.EvDeliver, Seq: 1},
		{T: 4, Node: "c1", Session: 1, Kind: checker.EvDeliver, Seq: 1},
	}
	res, err := checker.Check(h)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Violations) == 0 {
		t.Fatal("the history's repeated delivery is no violation")
	}
	for _, tc := range []struct {
		verdict validate.Verdict
		want    string
	}{
		{validate.Inconclusive, "INCONCLUSIVE: the machine ran too late to judge the timing"},
		{validate.Fail, "FAIL: "},
	} {
		dir := t.TempDir()
		f := validate.Failure{Seed: 7, Verdict: tc.verdict, Violations: res.Violations,
			Outcome: validate.Outcome{Verdict: tc.verdict, History: h, Result: res}}
		path, err := writeValidateFailure(dir, "verdict", f, "exec", func(string) string { return "simrun validate ..." })
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(path, "report.html"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), tc.want) {
			t.Errorf("report.html of a run judged %v does not say %q", tc.verdict, tc.want)
		}
		sched, err := os.ReadFile(filepath.Join(path, "schedule.txt"))
		if err != nil || !strings.HasPrefix(string(sched), "verdict: "+tc.verdict.String()+"\n") {
			t.Errorf("schedule.txt of a run judged %v: %v\n%s", tc.verdict, err, sched)
		}
	}
}
