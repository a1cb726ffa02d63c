package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/reports"
	"github.com/streamsim/streamsim/scenarios"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func simrun(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestBadUsageExits2WithOneLine(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"run", "--scenario", "no_such_scenario"},
		{"run", "--all", "--seeds", "-1"},
		{"run", "--all", "--bogus"},
		{"run"},
		{"run", "--all", "--scenario", "test_new"},
		{"run", "--all", "--impl", "mutant:nope"},
		{"run", "--all", "--impl", "tll"},
		{"replay", "--scenario", "random"},
		{"replay", "--seed", "1"},
		{"replay", "--plan", "/no/such/plan.json", "--seed", "1"},
		{"replay", "--plan", "x.json", "--scenario", "random", "--seed", "1"},
		{"list"},
		{"list", "things"},
		{"run", "--all", "--shard", "3/2"},
		{"run", "--all", "--shard", "0/2"},
		{"run", "--all", "--shard", "1/2x"},
		{"validate", "--server-cmd", "x", "--client-cmd", "y", "--all", "--plan", "p.json"},
		{"validate", "--server-cmd", "x", "--client-cmd", "y", "--plan", "/no/such/plan.json"},
	} {
		code, _, stderr := simrun(args...)
		if code != 2 {
			t.Errorf("simrun %v: exit %d, want 2", args, code)
		}
		if len(args) > 0 && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("simrun %v: error is not one line: %q", args, stderr)
		}
	}
}

func TestRunReportsFigures(t *testing.T) {
	code, out, _ := simrun("run", "--scenario", "test_overlapped", "--seeds", "5")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	row := regexp.MustCompile(`(?m)^\s*test_overlapped\s+5\s+0\s+30\s+\S+\s+\d+\s+[0-9a-f]{16}\s*$`)
	if !row.MatchString(out) {
		t.Fatalf("no row with 5 seeds, 0 violations, 30 delivered, wall, rate and hash:\n%s", out)
	}
}

func TestMutantIsCaughtWithExit1(t *testing.T) {
	code, out, _ := simrun("run", "--scenario", "test_overlapped", "--seeds", "3", "--impl", "mutant:no-drain")
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	if !regexp.MustCompile(`shrunk: \d+ → \d+ events`).MatchString(out) {
		t.Fatalf("failures were not shrunk:\n%s", out)
	}
	if !strings.Contains(out, "FAIL test_overlapped seed 1: no-dup on c1") ||
		!strings.Contains(out, "replay: simrun replay --scenario test_overlapped --seed 1 --impl mutant:no-drain") {
		t.Fatalf("failure not described with its property and replay command:\n%s", out)
	}
	code, out, _ = simrun("replay", "--scenario", "test_overlapped", "--seed", "1", "--impl", "mutant:no-drain")
	if code != 1 || !strings.Contains(out, "violation no-dup on c1") {
		t.Fatalf("replay of the failing seed: exit %d:\n%s", code, out)
	}
}

func TestReplayIsBitExact(t *testing.T) {
	code1, a, _ := simrun("replay", "--scenario", "random", "--seed", "42")
	code2, b, _ := simrun("replay", "--scenario", "random", "--seed", "42")
	if code1 != 0 || code2 != 0 {
		t.Fatalf("exit %d and %d", code1, code2)
	}
	if a != b {
		t.Fatal("two replays of random seed 42 printed different output")
	}
	lines := strings.Split(strings.TrimSpace(a), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^scenario random seed 42: \d+ events, \d+ delivered, 0 violations, hash [0-9a-f]{16}$`).MatchString(last) {
		t.Fatalf("last line %q does not carry the hash", last)
	}
	if len(lines) < 50 {
		t.Fatalf("replay printed only %d lines; the trace is missing", len(lines))
	}
	_, c, _ := simrun("replay", "--scenario", "random", "--seed", "43")
	if c == a {
		t.Fatal("seeds 42 and 43 replay identically")
	}
}

// A saved plan replays exactly like the scenario it was built from.
func TestReplayPlanFile(t *testing.T) {
	s, _ := scenarios.Lookup("random")
	p := s.Build(7)
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	_, fromPlan, _ := simrun("replay", "--plan", path, "--seed", "7")
	_, fromScenario, _ := simrun("replay", "--scenario", "random", "--seed", "7")
	if fromPlan == "" || fromPlan != fromScenario {
		t.Fatalf("plan file and scenario replay differ:\n%s\n---\n%s", tail(fromPlan), tail(fromScenario))
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"name":"x","duration_us":10,"clients":[{"name":"c","mode":"sideways"}]}`), 0o644)
	if code, _, stderr := simrun("replay", "--plan", bad, "--seed", "1"); code != 2 || !strings.Contains(stderr, "sideways") {
		t.Fatalf("invalid plan: exit %d, %q", code, stderr)
	}
}

func tail(s string) string {
	if i := strings.LastIndex(strings.TrimSpace(s), "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}

func TestShrinkCommand(t *testing.T) {
	s, _ := scenarios.Lookup("test_open_seq_data")
	p := s.Build(3)
	p.Seed = 3
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.json")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := simrun("shrink", path, "--impl", "mutant:seq-data-off-by-one")
	if code != 1 {
		t.Fatalf("exit %d (%s):\n%s", code, stderr, out)
	}
	if !regexp.MustCompile(`size 4 → [1-3] \(posts \+ opens \+ faults\)`).MatchString(out) || !strings.Contains(out, "still violates start") {
		t.Fatalf("unexpected output:\n%s", out)
	}
	min, err := scenarios.Load(filepath.Join(dir, "plan.min.json"))
	if err != nil || min.Seed != 3 || min.Size() >= p.Size() {
		t.Fatalf("minimal plan: %+v %v", min, err)
	}
	if code, _, _ := simrun("shrink", path); code != 1 {
		t.Fatalf("shrinking a plan the reference passes: exit %d, want 1 with an error", code)
	}
	if code, _, _ := simrun("shrink", "--seed", "1"); code != 2 {
		t.Fatalf("shrink without a plan: exit %d, want 2", code)
	}
}

func TestList(t *testing.T) {
	for what, want := range map[string]string{
		"scenarios":  "test_overlapped",
		"mutants":    "no-drain",
		"properties": "handover",
		"faults":     "reset",
	} {
		code, out, _ := simrun("list", what)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("list %s: exit %d, output lacks %q:\n%s", what, code, want, out)
		}
	}
}

// Shards 1/2 and 2/2 together run exactly the seeds of the unsharded campaign, and their
// merge equals its results (all but wall time).
func TestShardsMergeToTheWholeCampaign(t *testing.T) {
	dir := t.TempDir()
	run := func(out string, extra ...string) {
		args := append([]string{"run", "--scenario", "random", "--seeds", "30", "--impl", "mutant:no-drain", "--no-shrink", "--out", filepath.Join(dir, out)}, extra...)
		if code, stdout, stderr := simrun(args...); code != 1 {
			t.Fatalf("%v: exit %d %s\n%s", args, code, stderr, stdout)
		}
	}
	run("whole")
	run("one", "--shard", "1/2")
	run("two", "--shard", "2/2")
	code, out, stderr := simrun("merge", filepath.Join(dir, "one"), filepath.Join(dir, "two"), "--out", filepath.Join(dir, "merged"))
	if code != 1 {
		t.Fatalf("merge: exit %d (%s)\n%s", code, stderr, out)
	}
	whole, err := reports.ReadResults(filepath.Join(dir, "whole", "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	merged, err := reports.ReadResults(filepath.Join(dir, "merged", "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	whole.Scenarios[0].WallNs, merged.Scenarios[0].WallNs = 0, 0
	a, _ := json.Marshal(whole)
	b, _ := json.Marshal(merged)
	if string(a) != string(b) {
		t.Fatalf("merged shards differ from the whole campaign:\n%s\n%s", b, a)
	}
	if code, _, _ := simrun("merge", filepath.Join(dir, "one"), filepath.Join(dir, "one")); code != 2 {
		t.Fatalf("merging a shard with itself: exit %d, want 2", code)
	}
}

// replay --history writes the run's history, and check judges it the same way the run did.
func TestReplayWritesHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	if code, out, _ := simrun("replay", "--scenario", "test_overlapped", "--seed", "1", "--impl", "mutant:no-drain", "--history", path); code != 1 {
		t.Fatalf("replay: exit %d\n%s", code, out)
	}
	code, out, _ := simrun("check", path)
	if code != 1 || !strings.Contains(out, "violation no-dup on c1") {
		t.Fatalf("check of the written history: exit %d\n%s", code, out)
	}
}

// simrun check judges a history file: clean, corrupted and malformed.
func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	s, _ := scenarios.Lookup("test_overlapped")
	out, err := scenarios.Run(s.Build(1), 1, scenarios.Options{})
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, h checker.History) string {
		var b bytes.Buffer
		if err := checker.WriteHistory(&b, h); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, b.Bytes(), 0o644)
		return p
	}
	if code, stdout, _ := simrun("check", write("clean.jsonl", out.History)); code != 0 {
		t.Fatalf("clean history: exit %d\n%s", code, stdout)
	}
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"t":0,"node":"server","session":0,"ev":"post_ok","seq":1,"msgid":0,"sum":1}`+"\n"+`{"t":1,"node":"c1","ev":"teleport"}`+"\n"), 0o644)
	if code, _, stderr := simrun("check", bad); code != 2 || !strings.Contains(stderr, "line 2") {
		t.Fatalf("malformed history: exit %d, %q", code, stderr)
	}
	if code, _, _ := simrun("check", filepath.Join(dir, "missing.jsonl")); code != 2 {
		t.Fatalf("missing file: exit %d, want 2", code)
	}
}

// Hand-corrupted copies of a clean history are caught, each for the right property.
func TestCheckCatchesCorruptedHistories(t *testing.T) {
	s, _ := scenarios.Lookup("test_ring")
	out, err := scenarios.Run(s.Build(1), 1, scenarios.Options{})
	if err != nil || len(out.Result.Violations) != 0 {
		t.Fatalf("clean run: %v %v", err, out.Result.Violations)
	}
	h := out.History
	var delivers []int
	online := -1
	for i, e := range h {
		switch {
		case e.Kind == checker.EvDeliver:
			delivers = append(delivers, i)
		case e.Kind == checker.EvControl && e.Name == checker.CtlOnline:
			online = i
		}
	}
	if len(delivers) < 20 || online < 0 || h[online-1].Kind != checker.EvDeliver {
		t.Fatalf("test_ring's history is not what this test expects: %d deliveries, Online at %d", len(delivers), online)
	}
	k := len(delivers) / 3
	mid, next := delivers[k], delivers[k+1]
	without := func(i int) checker.History { return append(append(checker.History{}, h[:i]...), h[i+1:]...) }
	dup := func(i int) checker.History {
		c := append(append(checker.History{}, h[:i+1]...), h[i])
		return append(c, h[i+1:]...)
	}
	swap := func(i, j int) checker.History {
		c := append(checker.History{}, h...)
		c[i].Seq, c[j].Seq, c[i].Sum, c[j].Sum = c[j].Seq, c[i].Seq, c[j].Sum, c[i].Sum
		return c
	}
	earlier := func(i int) checker.History {
		c := append(checker.History{}, h...)
		c[i-1], c[i] = c[i], c[i-1]
		c[i-1].T, c[i].T = c[i].T, c[i-1].T
		return c
	}
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		h    checker.History
		want string
	}{
		"remove a delivery":      {without(mid), "no-gap"},
		"duplicate a delivery":   {dup(mid), "no-dup"},
		"swap two deliveries":    {swap(mid, next), "in-order"},
		"Online one event early": {earlier(online), "handover"},
	} {
		var b bytes.Buffer
		if err := checker.WriteHistory(&b, tc.h); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".jsonl")
		os.WriteFile(path, b.Bytes(), 0o644)
		code, stdout, stderr := simrun("check", path)
		if code != 1 || !strings.Contains(stdout, "violation "+tc.want+" on c1") {
			t.Errorf("%s: exit %d, want 1 naming %s:\n%s%s", name, code, tc.want, stdout, stderr)
		}
	}
}

// A broken client's failure report says porcupine found the history not linearizable, and its
// timeline rings the offending event.
func TestReportOfABrokenClient(t *testing.T) {
	dir := t.TempDir()
	code, out, _ := simrun("run", "--scenario", "test_open_seq", "--seeds", "1", "--impl", "mutant:skip-history", "--no-shrink", "--out", dir)
	if code != 1 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	page, err := os.ReadFile(filepath.Join(dir, "failures", "test_open_seq-1", "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"illegal", `id="violation-0"`, "fresh", "<svg"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
}

// simrun check judges liveness and progress too, each with its flags: a session that stalls
// while posts go on, and a history open that fails with nothing to cause it, are caught; the
// same histories pass when the flags say what excuses them.
func TestCheckJudgesLivenessAndProgress(t *testing.T) {
	const ms = 1_000_000
	post := func(t int64, seq int64) checker.Event {
		return checker.Event{T: t, Node: "server", Kind: checker.EvPostOK, Seq: seq, MsgID: 1, Sum: 7}
	}
	c1 := func(t int64, e checker.Event) checker.Event {
		e.T, e.Node, e.Session = t, "c1", 1
		return e
	}
	stall := checker.History{
		post(0, 10),
		c1(1*ms, checker.Event{Kind: checker.EvOpen, Mode: checker.ModeSeq, ReqSeq: 10}),
		c1(2*ms, checker.Event{Kind: checker.EvState, State: checker.StActive}),
		c1(3*ms, checker.Event{Kind: checker.EvDeliver, Seq: 10, MsgID: 1, Sum: 7}),
		c1(3*ms, checker.Event{Kind: checker.EvControl, Name: checker.CtlOnline, Seq: 10}),
		post(10*ms, 20), post(200*ms, 30), post(400*ms, 40),
	}
	failed := checker.History{
		post(0, 10), post(0, 20),
		c1(1*ms, checker.Event{Kind: checker.EvOpen, Mode: checker.ModeSeq, ReqSeq: 21}),
		c1(2*ms, checker.Event{Kind: checker.EvState, State: checker.StActive}),
		c1(3*ms, checker.Event{Kind: checker.EvState, State: checker.StError, Reason: "requested seq 21 is beyond the server's last seq 20"}),
	}
	beyond := slices.Clone(failed)
	beyond[2].ReqSeq = 22
	dir := t.TempDir()
	write := func(name string, h checker.History) string {
		var b bytes.Buffer
		if err := checker.WriteHistory(&b, h); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"stall", []string{write("stall.jsonl", stall)}, 1, "violation liveness on c1 session 1"},
		{"stall within a longer bound", []string{write("stall.jsonl", stall), "--bound-us", "500000"}, 0, "0 violations"},
		{"open at last+1 fails", []string{write("failed.jsonl", failed)}, 1, "violation progress on c1 session 1"},
		{"lossy links excuse it", []string{write("failed.jsonl", failed), "--lossy"}, 0, "0 violations"},
		{"no timeout after Active", []string{write("failed.jsonl", failed), "--handshake-us", "2000"}, 1, "violation progress"},
		{"open beyond last+1 may fail", []string{write("beyond.jsonl", beyond)}, 0, "0 violations"},
	} {
		code, stdout, stderr := simrun(append([]string{"check"}, tc.args...)...)
		if code != tc.code || !strings.Contains(stdout, tc.want) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s%s", tc.name, code, tc.code, tc.want, stdout, stderr)
		}
	}
	for _, bad := range [][]string{{"--bound-us", "-1"}, {"--handshake-us", "99999999999999999"}, {"--bound-us", "x"}} {
		code, _, stderr := simrun(append([]string{"check", write("stall.jsonl", stall)}, bad...)...)
		if code != 2 || !strings.Contains(stderr, strings.TrimPrefix(bad[0], "--")) {
			t.Errorf("check %v: exit %d, stderr %q; want 2 naming the flag", bad, code, stderr)
		}
	}
}
