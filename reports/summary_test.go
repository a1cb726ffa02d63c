package reports

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// campaign is the summary of one unsharded run over two scenarios, one of them failing.
func campaign() Summary {
	return Summary{
		Scenarios: []ScenarioResult{
			{Scenario: "test_new", Impl: "mutant:no-drain", Ranges: []SeedRange{{FirstSeed: 1, Seeds: 100, Hash: "00000000000000aa"}},
				Delivered: 700, Events: 3100, SimNs: 9_000_000, WallNs: 1_500_000_000},
			{Scenario: "test_overlapped", Impl: "mutant:no-drain", Ranges: []SeedRange{{FirstSeed: 1, Seeds: 100, Hash: "6e8d8b1f76f5ad1f"}},
				Violations: 3, Delivered: 900, Events: 4000, SimNs: 9_500_000, WallNs: 500_000_000},
		},
		Failures: []FailureResult{
			{Scenario: "test_overlapped", Impl: "mutant:no-drain", Seed: 1, Violations: []ViolationResult{
				{Property: "no-dup", Node: "c1", Session: 1, Index: 17, Message: "seq 40 delivered again"},
				{Property: "handover", Node: "c1", Session: 1, Index: 20, Message: "Online(60) after | pipe *and* stars"},
			}},
			{Scenario: "test_overlapped", Impl: "mutant:no-drain", Seed: 7, Error: "seed 7 panicked: boom"},
		},
	}
}

func TestWriteSummary(t *testing.T) {
	dir := t.TempDir()
	if err := WriteSummary(dir, campaign()); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| scenario | impl | seeds | failed seeds | violations | delivered | wall | sim msgs/s | campaign hash |",
		"| test\\_new | mutant:no-drain | 100 (1..100) | 0 | 0 | 700 | 1.5 s | 467 | `00000000000000aa` |",
		"| test\\_overlapped | mutant:no-drain | 100 (1..100) | 2 | 3 | 900 | 500 ms | 1800 | `6e8d8b1f76f5ad1f` |",
		"| **total** | | 200 | 2 | 3 | 1600 | 2.0 s | 800 | |",
		"2 failing seeds in 2 groups",
		"| test\\_overlapped | mutant:no-drain | no-dup | 1 | seq N delivered again | 1 | `simrun replay --scenario test_overlapped --seed 1 --impl mutant:no-drain` |",
		"| test\\_overlapped | mutant:no-drain | error | 1 | seed N panicked: boom | 7 | `simrun replay --scenario test_overlapped --seed 7 --impl mutant:no-drain` |",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}

	// The same summary gives the same bytes.
	again := t.TempDir()
	if err := WriteSummary(again, campaign()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"summary.md", "results.json"} {
		a, _ := os.ReadFile(filepath.Join(dir, name))
		b, _ := os.ReadFile(filepath.Join(again, name))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two writes of one summary", name)
		}
	}
}

func TestResultsRoundTrip(t *testing.T) {
	for name, s := range map[string]Summary{"failing": campaign(), "empty": {}} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := WriteSummary(dir, s); err != nil {
				t.Fatal(err)
			}
			got, err := ReadResults(filepath.Join(dir, "results.json"))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, s) {
				t.Fatalf("round trip changed the summary:\n got %+v\nwant %+v", got, s)
			}
		})
	}
}

// TestResultsSchema pins the field names other tools rely on.
func TestResultsSchema(t *testing.T) {
	dir := t.TempDir()
	if err := WriteSummary(dir, campaign()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Schema    int              `json:"schema"`
		Scenarios []map[string]any `json:"scenarios"`
		Failures  []map[string]any `json:"failures"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]any) string { return strings.Join(slices.Sorted(maps.Keys(m)), ",") }
	if f.Schema != 1 {
		t.Errorf("schema %d, want 1", f.Schema)
	}
	if got, want := keys(f.Scenarios[0]), "delivered,events,impl,ranges,scenario,sim_ns,violations,wall_ns"; got != want {
		t.Errorf("scenario fields %s, want %s", got, want)
	}
	if got, want := keys(f.Scenarios[0]["ranges"].([]any)[0].(map[string]any)), "first_seed,hash,seeds"; got != want {
		t.Errorf("range fields %s, want %s", got, want)
	}
	if got, want := keys(f.Failures[0]), "impl,scenario,seed,violations"; got != want {
		t.Errorf("failure fields %s, want %s", got, want)
	}
	if got, want := keys(f.Failures[1]), "error,impl,scenario,seed,violations"; got != want {
		t.Errorf("failure-with-error fields %s, want %s", got, want)
	}
	if got, want := keys(f.Failures[0]["violations"].([]any)[0].(map[string]any)), "index,message,node,property,session"; got != want {
		t.Errorf("violation fields %s, want %s", got, want)
	}
}

func TestReadResultsRefuses(t *testing.T) {
	for name, body := range map[string]string{
		"unknown schema": `{"schema": 2, "scenarios": [], "failures": []}`,
		"unknown field":  `{"schema": 1, "scenarios": [], "failures": [], "totals": {}}`,
		"seed outside": `{"schema": 1, "scenarios": [{"scenario": "a", "impl": "reference",
			"ranges": [{"first_seed": 1, "seeds": 10, "hash": "00"}]}],
			"failures": [{"scenario": "a", "impl": "reference", "seed": 11, "error": "x"}]}`,
		"empty range": `{"schema": 1, "scenarios": [{"scenario": "a", "impl": "reference",
			"ranges": [{"first_seed": 1, "seeds": 0, "hash": "00"}]}], "failures": []}`,
		"not json": `schema: 1`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "results.json")
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadResults(path); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// shard is the result of seeds first..first+n-1 of one scenario, with a failure at each of
// failing.
func shard(scenario, impl string, first uint64, n int, failing ...uint64) Summary {
	s := Summary{Scenarios: []ScenarioResult{{
		Scenario: scenario, Impl: impl, Ranges: []SeedRange{{FirstSeed: first, Seeds: n, Hash: "h" + scenario}},
		Violations: len(failing), Delivered: int64(10 * n), Events: uint64(30 * n), SimNs: int64(1000 * n), WallNs: int64(1e6 * n),
	}}}
	for _, seed := range failing {
		s.Failures = append(s.Failures, FailureResult{Scenario: scenario, Impl: impl, Seed: seed,
			Violations: []ViolationResult{{Property: "no-gap", Node: "c1", Session: 1, Message: "m"}}})
	}
	return s
}

func TestMerge(t *testing.T) {
	a := shard("b_scenario", "reference", 101, 100, 150, 120)
	b := shard("b_scenario", "reference", 1, 100, 7)
	c := shard("a_scenario", "reference", 1, 50)
	d := shard("b_scenario", "mutant:no-drain", 1, 200, 3)
	got, err := Merge(a, b, c, d)
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{
		Scenarios: []ScenarioResult{
			{Scenario: "a_scenario", Impl: "reference", Ranges: []SeedRange{{FirstSeed: 1, Seeds: 50, Hash: "ha_scenario"}},
				Delivered: 500, Events: 1500, SimNs: 50000, WallNs: 50e6},
			{Scenario: "b_scenario", Impl: "mutant:no-drain", Ranges: []SeedRange{{FirstSeed: 1, Seeds: 200, Hash: "hb_scenario"}},
				Violations: 1, Delivered: 2000, Events: 6000, SimNs: 200000, WallNs: 200e6},
			{Scenario: "b_scenario", Impl: "reference", Ranges: []SeedRange{{FirstSeed: 1, Seeds: 100, Hash: "hb_scenario"}, {FirstSeed: 101, Seeds: 100, Hash: "hb_scenario"}},
				Violations: 3, Delivered: 2000, Events: 6000, SimNs: 200000, WallNs: 200e6},
		},
	}
	for _, f := range []struct {
		impl string
		seed uint64
	}{{"mutant:no-drain", 3}, {"reference", 7}, {"reference", 120}, {"reference", 150}} {
		want.Failures = append(want.Failures, FailureResult{Scenario: "b_scenario", Impl: f.impl, Seed: f.seed,
			Violations: []ViolationResult{{Property: "no-gap", Node: "c1", Session: 1, Message: "m"}}})
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("merged:\n got %+v\nwant %+v", got, want)
	}
	if other, err := Merge(d, c, b, a); err != nil || !reflect.DeepEqual(other, got) {
		t.Fatalf("merging in another order gave %+v, %v", other, err)
	}
	if got.Scenarios[2].Seeds() != 200 {
		t.Errorf("merged seeds %d, want 200", got.Scenarios[2].Seeds())
	}

	// A merged summary is itself a part: merging the merge with a new shard goes on.
	more, err := Merge(got, shard("b_scenario", "reference", 201, 10))
	if err != nil || more.Scenarios[2].Seeds() != 210 {
		t.Fatalf("merging a merged summary: %+v, %v", more, err)
	}
	dir := t.TempDir()
	if err := WriteSummary(dir, more); err != nil {
		t.Fatal(err)
	}
	back, err := ReadResults(filepath.Join(dir, "results.json"))
	if err != nil || !reflect.DeepEqual(back, more) {
		t.Fatalf("merged summary round trip: %+v, %v", back, err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
	if !strings.Contains(string(md), "| b\\_scenario | reference | 210 | 3 | 3 |") ||
		!strings.Contains(string(md), "- b\\_scenario (reference): 1..100 `hb_scenario` 101..200 `hb_scenario` 201..210 `hb_scenario`") {
		t.Errorf("summary.md of a merged summary:\n%s", md)
	}
}

func TestMergeRefusesOverlap(t *testing.T) {
	for name, parts := range map[string][]Summary{
		"same range":    {shard("s", "reference", 1, 100), shard("s", "reference", 1, 100)},
		"partial":       {shard("s", "reference", 1, 100), shard("s", "reference", 100, 5)},
		"inside":        {shard("s", "reference", 1, 100), shard("s", "reference", 40, 2)},
		"after a merge": {shard("s", "reference", 50, 10), shard("s", "reference", 1, 20), shard("s", "reference", 15, 30)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Merge(parts...)
			if err == nil || !strings.Contains(err.Error(), "overlap") {
				t.Fatalf("Merge = %v, want an overlap error", err)
			}
		})
	}
	// Adjacent ranges, other implementations and other scenarios do not overlap.
	if _, err := Merge(shard("s", "reference", 1, 100), shard("s", "reference", 101, 1),
		shard("s", "mutant:x", 1, 100), shard("t", "reference", 1, 100)); err != nil {
		t.Fatal(err)
	}
}

// The shards of one split merge back into the unsharded range, with their hashes summed, so a
// sharded campaign's merge equals the unsharded campaign's results.
func TestMergeJoinsCompleteShards(t *testing.T) {
	part := func(shard int, hash string, fail uint64) Summary {
		return Summary{
			Scenarios: []ScenarioResult{{Scenario: "random", Impl: "reference", Violations: 1, Delivered: 10,
				Ranges: []SeedRange{{FirstSeed: 1, Seeds: 41, Shard: shard, Shards: 2, Hash: hash}}}},
			Failures: []FailureResult{{Scenario: "random", Impl: "reference", Seed: fail, Error: "x"}},
		}
	}
	one, two := part(1, "0000000000000001", 3), part(2, "fffffffffffffffe", 4)
	if one.Scenarios[0].Seeds() != 21 || two.Scenarios[0].Seeds() != 20 {
		t.Fatalf("shard sizes %d and %d, want 21 and 20", one.Scenarios[0].Seeds(), two.Scenarios[0].Seeds())
	}
	if _, err := Merge(part(1, "0000000000000001", 4)); err == nil {
		t.Fatal("seed 4 is not in shard 1/2 of 1..41 but was accepted")
	}
	m, err := Merge(two, one)
	if err != nil {
		t.Fatal(err)
	}
	want := []SeedRange{{FirstSeed: 1, Seeds: 41, Hash: "ffffffffffffffff"}}
	if got := m.Scenarios[0].Ranges; len(got) != 1 || got[0] != want[0] || m.Scenarios[0].Seeds() != 41 {
		t.Fatalf("merged ranges %+v, want %+v", got, want)
	}
	if _, err := Merge(one, one); err == nil {
		t.Fatal("the same shard twice was merged")
	}
	half, err := Merge(one)
	if err != nil || len(half.Scenarios[0].Ranges) != 1 || half.Scenarios[0].Ranges[0].Shards != 2 {
		t.Fatalf("a lone shard must stay a shard: %+v %v", half.Scenarios, err)
	}
}
