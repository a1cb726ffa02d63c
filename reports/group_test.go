package reports

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDurationInPeoplesUnits(t *testing.T) {
	for d, want := range map[time.Duration]string{
		850:                                        "850 ns",
		4200 * time.Nanosecond:                     "4.2 µs",
		4200 * time.Microsecond:                    "4.2 ms",
		500 * time.Millisecond:                     "500 ms",
		12345 * time.Millisecond:                   "12 s",
		2500 * time.Millisecond:                    "2.5 s",
		2*time.Minute + 5*time.Second:              "2 min 05 s",
		time.Hour + 2*time.Minute + 10*time.Second: "1 h 02 min",
		-3 * time.Millisecond:                      "-3.0 ms",
		0:                                          "0 ns",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%d) = %q, want %q", d, got, want)
		}
	}
}

func TestGroupJoinsSameBugAndSeparatesOthers(t *testing.T) {
	var fs []FailureResult
	for seed := uint64(50); seed > 0; seed-- { // out of order: the group's first is still seed 1
		fs = append(fs, FailureResult{Scenario: "s", Impl: "mutant:m", Seed: seed, Violations: []ViolationResult{
			{Property: "no-dup", Message: fmt.Sprintf("seq %d delivered again", seed*7)}}})
	}
	fs = append(fs,
		FailureResult{Scenario: "s", Impl: "mutant:m", Seed: 60, Violations: []ViolationResult{{Property: "no-dup", Message: "seq 3 lost"}}},
		FailureResult{Scenario: "s", Impl: "mutant:m", Seed: 61, Violations: []ViolationResult{{Property: "handover", Message: "seq 3 lost"}}},
		FailureResult{Scenario: "t", Impl: "mutant:m", Seed: 2, Violations: []ViolationResult{{Property: "no-dup", Message: "seq 9 delivered again"}}},
		FailureResult{Scenario: "s", Impl: "mutant:m", Seed: 70, Error: "seed 70 panicked"},
	)
	gs := Group(fs)
	var got []string
	for _, g := range gs {
		got = append(got, fmt.Sprintf("%s %s %q x%d first %d", g.Scenario, g.Property, g.Pattern, g.Seeds, g.First.Seed))
	}
	want := []string{
		`s error "seed N panicked" x1 first 70`,
		`s handover "seq N lost" x1 first 61`,
		`s no-dup "seq N delivered again" x50 first 1`,
		`s no-dup "seq N lost" x1 first 60`,
		`t no-dup "seq N delivered again" x1 first 2`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("groups:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if gs[2].Example() != "seq 7 delivered again" || !strings.Contains(gs[2].Replay(), "--seed 1 --impl mutant:m") {
		t.Errorf("first of the no-dup group: %q, %q", gs[2].Example(), gs[2].Replay())
	}
}

// summary.md stays a page however many seeds fail: one line per group, at most maxGroups.
func TestSummaryStaysShort(t *testing.T) {
	s := Summary{Partial: true}
	for sc := range 40 {
		name := fmt.Sprintf("scn%02d", sc)
		s.Scenarios = append(s.Scenarios, ScenarioResult{Scenario: name, Impl: "reference", Ranges: []SeedRange{{FirstSeed: 1, Seeds: 1000, Hash: "00"}}, Violations: 1000})
		for seed := uint64(1); seed <= 1000; seed++ {
			s.Failures = append(s.Failures, FailureResult{Scenario: name, Impl: "reference", Seed: seed, Violations: []ViolationResult{{Property: "no-dup", Message: fmt.Sprintf("seq %d twice", seed)}}})
		}
	}
	dir := t.TempDir()
	if err := WriteSummary(dir, s); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
	if n := strings.Count(string(md), "\n"); n > 100 {
		t.Errorf("summary.md of 40,000 failing seeds has %d lines", n)
	}
	for _, want := range []string{"**Partial**", "40000 failing seeds in 40 groups", "10 more groups: results.json lists every failing seed"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("summary.md lacks %q", want)
		}
	}
	back, err := ReadResults(filepath.Join(dir, "results.json"))
	if err != nil || !back.Partial || len(back.Failures) != 40000 {
		t.Errorf("results.json: partial %v, %d failures, %v", back.Partial, len(back.Failures), err)
	}
	// A merge with a partial part is partial.
	if m, err := Merge(back, campaign()); err != nil || !m.Partial {
		t.Errorf("merge of a partial summary: partial %v, %v", m.Partial, err)
	}
}
