// Package reports renders the results of simulation campaigns: a Markdown summary and a
// mergeable results.json per campaign, and per failing seed a directory with the replayable
// plan, a window of the history and a self-contained HTML report.
package reports

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Summary is what a campaign, or several shards of one merged, found.
//
// results.json holds it as one JSON object; field names are stable, and a reader refuses a
// schema it does not know:
//
//	{
//	  "schema": 1,
//	  "partial": true,                  only when the campaign was stopped before its end
//	  "scenarios": [{                   one row per (scenario, impl)
//	    "scenario": "test_overlapped",
//	    "impl": "reference",            or "mutant:NAME"
//	    "ranges": [{                    the seeds run, disjoint, by first seed
//	      "first_seed": 1,
//	      "seeds": 100,                 seeds first_seed .. first_seed+seeds-1
//	      "shard": 1, "shards": 2,      optional: only those with index mod shards = shard-1
//	      "hash": "6e8d8b1f76f5ad1f"    campaign hash of exactly these seeds, 16 hex digits
//	    }],
//	    "violations": 3,                over all seeds; a run that could not complete counts 1
//	    "inconclusive": 1,              simrun validate only: runs too slowed by the machine to judge
//	    "delivered": 700,               simulated deliveries
//	    "events": 3100,                 kernel events fired
//	    "sim_ns": 900000,               virtual time simulated
//	    "wall_ns": 1200000              wall time spent, summed over shards
//	  }],
//	  "failures": [{                    by scenario, impl, then seed
//	    "scenario": "test_overlapped",
//	    "impl": "reference",
//	    "seed": 1,
//	    "error": "...",                 only when the run could not complete
//	    "verdict": "inconclusive",      simrun validate only, when the machine was too slow to judge
//	    "figures": "...",               with it: how late the machine ran, the stretched bound
//	    "violations": [{"property": "no-dup", "node": "c1", "session": 1, "index": 17,
//	                    "message": "seq 40 delivered again"}]
//	  }]
//	}
//
// A campaign hash is a wrapping sum of per-seed terms, so when Merge has every shard of a
// range it joins them into that one range with the sum of their hashes: the merge of a
// sharded campaign equals the unsharded campaign's results.
type Summary struct {
	Scenarios []ScenarioResult
	Failures  []FailureResult
	// Partial marks a campaign stopped before its end (Ctrl-C): the ranges hold the seeds
	// that finished.
	Partial bool
}

// ScenarioResult is one scenario run against one implementation.
type ScenarioResult struct {
	Scenario   string      `json:"scenario"`
	Impl       string      `json:"impl"`
	Ranges     []SeedRange `json:"ranges"`
	Violations int         `json:"violations"`
	// Inconclusive counts real-time runs whose only violations the machine's lateness may
	// explain; they are not in Violations.
	Inconclusive int    `json:"inconclusive,omitempty"`
	Delivered    int64  `json:"delivered"`
	Events       uint64 `json:"events"`
	SimNs        int64  `json:"sim_ns"`
	WallNs       int64  `json:"wall_ns"`
}

// SeedRange is a run of seeds, or with Shards > 1 the Shard-th of Shards interleaved shares of
// it, and the campaign hash over them. The hash is a hex string because JSON readers outside
// Go lose precision on integers above 2^53.
type SeedRange struct {
	FirstSeed uint64 `json:"first_seed"`
	Seeds     int    `json:"seeds"`
	Shard     int    `json:"shard,omitempty"`
	Shards    int    `json:"shards,omitempty"`
	Hash      string `json:"hash"`
}

// Count is how many seeds the range ran.
func (rg SeedRange) Count() int {
	if rg.Shards <= 1 {
		return rg.Seeds
	}
	return (rg.Seeds - (rg.Shard - 1) + rg.Shards - 1) / rg.Shards
}

// Has reports whether the range ran seed.
func (rg SeedRange) Has(seed uint64) bool {
	if seed < rg.FirstSeed || seed-rg.FirstSeed >= uint64(rg.Seeds) {
		return false
	}
	return rg.Shards <= 1 || int((seed-rg.FirstSeed)%uint64(rg.Shards)) == rg.Shard-1
}

// disjoint reports whether two ranges can share no seed: their spans do not meet, or they are
// different shards of the same split.
func disjoint(a, b SeedRange) bool {
	if a.FirstSeed > b.FirstSeed {
		a, b = b, a
	}
	if b.FirstSeed-a.FirstSeed >= uint64(a.Seeds) {
		return true
	}
	return a.Shards > 1 && a.FirstSeed == b.FirstSeed && a.Seeds == b.Seeds && a.Shards == b.Shards && a.Shard != b.Shard
}

// joinShards replaces every complete set of shards (1..N of one split) by the unsharded range
// with the summed hash.
func joinShards(rs []SeedRange) ([]SeedRange, error) {
	type split struct {
		first  uint64
		seeds  int
		shards int
	}
	groups := map[split][]SeedRange{}
	var out []SeedRange
	for _, rg := range rs {
		if rg.Shards <= 1 {
			out = append(out, rg)
			continue
		}
		k := split{rg.FirstSeed, rg.Seeds, rg.Shards}
		groups[k] = append(groups[k], rg)
	}
	for k, g := range groups {
		seen := make([]bool, k.shards+1)
		for _, rg := range g {
			if seen[rg.Shard] {
				return nil, fmt.Errorf("seed ranges %s appear twice", seedSpan(rg))
			}
			seen[rg.Shard] = true
		}
		if len(g) != k.shards {
			out = append(out, g...)
			continue
		}
		var sum uint64
		for _, rg := range g {
			var h uint64
			if _, err := fmt.Sscanf(rg.Hash, "%x", &h); err != nil {
				return nil, fmt.Errorf("seed range from %d: hash %q: %w", rg.FirstSeed, rg.Hash, err)
			}
			sum += h
		}
		out = append(out, SeedRange{FirstSeed: k.first, Seeds: k.seeds, Hash: fmt.Sprintf("%016x", sum)})
	}
	sortRanges(out)
	return out, nil
}

// FailureResult is one failing seed: violations, or an error when the run could not complete.
type FailureResult struct {
	Scenario   string            `json:"scenario"`
	Impl       string            `json:"impl"`
	Seed       uint64            `json:"seed"`
	Error      string            `json:"error,omitempty"`
	Violations []ViolationResult `json:"violations"`
	// Verdict is VerdictInconclusive for a real-time run too slowed by the machine to judge, with
	// Figures saying how late it ran; empty for a failure.
	Verdict string `json:"verdict,omitempty"`
	Figures string `json:"figures,omitempty"`
	// Replay is the command that reruns this seed when it is not simrun replay's (a
	// validate run against real processes); empty means ReplayCommand's.
	Replay string `json:"replay,omitempty"`
}

// ViolationResult is one broken property, as checker.Violation reports it.
type ViolationResult struct {
	Property string `json:"property"`
	Node     string `json:"node"`
	Session  int64  `json:"session"`
	Index    int    `json:"index"` // of the first offending event in the run's history
	Message  string `json:"message"`
}

// Seeds is the number of seeds run over all ranges.
func (r ScenarioResult) Seeds() int {
	n := 0
	for _, rg := range r.Ranges {
		n += rg.Count()
	}
	return n
}

// MsgsPerSec is simulated deliveries per second of wall time; over merged shards the wall
// times add up, so it is the rate of one machine.
func (r ScenarioResult) MsgsPerSec() float64 {
	if r.WallNs <= 0 {
		return 0
	}
	return float64(r.Delivered) / time.Duration(r.WallNs).Seconds()
}

// schema is the version of results.json this package writes and reads.
const schema = 1

// resultsFile is results.json on disk.
type resultsFile struct {
	Schema    int              `json:"schema"`
	Partial   bool             `json:"partial,omitempty"`
	Scenarios []ScenarioResult `json:"scenarios"`
	Failures  []FailureResult  `json:"failures"`
}

// WriteSummary writes dir/summary.md for people and dir/results.json for Merge and other
// tools, creating dir if needed. It refuses a Summary that ReadResults would refuse.
func WriteSummary(dir string, s Summary) error {
	if err := validate(s); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Empty lists are written as [] rather than null so readers need no special case.
	f := resultsFile{Schema: schema, Partial: s.Partial, Scenarios: s.Scenarios, Failures: slices.Clone(s.Failures)}
	if f.Scenarios == nil {
		f.Scenarios = []ScenarioResult{}
	}
	if f.Failures == nil {
		f.Failures = []FailureResult{}
	}
	for i := range f.Failures { // on the clone: the caller's summary stays as it was
		if f.Failures[i].Violations == nil {
			f.Failures[i].Violations = []ViolationResult{}
		}
	}
	js, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "summary.md"), markdown(s), 0o644)
}

// ReadResults reads a results.json written by WriteSummary. Empty lists come back nil, so a
// summary survives the round trip unchanged.
func ReadResults(path string) (Summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Summary{}, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	// A misspelt field would otherwise read as zero and be summed silently.
	d.DisallowUnknownFields()
	var f resultsFile
	if err := d.Decode(&f); err != nil {
		return Summary{}, fmt.Errorf("%s: %w", path, err)
	}
	if f.Schema != schema {
		return Summary{}, fmt.Errorf("%s: results schema %d, this simrun reads %d", path, f.Schema, schema)
	}
	s := Summary{Scenarios: f.Scenarios, Failures: f.Failures, Partial: f.Partial}
	if len(s.Scenarios) == 0 {
		s.Scenarios = nil
	}
	if len(s.Failures) == 0 {
		s.Failures = nil
	}
	for i := range s.Failures {
		if len(s.Failures[i].Violations) == 0 {
			s.Failures[i].Violations = nil
		}
	}
	if err := validate(s); err != nil {
		return Summary{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Merge combines summaries of disjoint shards: the rows of one scenario and implementation
// become one row whose counts are the sums and whose ranges are the union. Rows come out by
// scenario then impl, failures by scenario, impl then seed, so the result does not depend on
// the order of parts. Overlapping seed ranges of one scenario and impl are refused: the same
// seeds counted twice would inflate every count.
func Merge(parts ...Summary) (Summary, error) {
	type key struct{ scenario, impl string }
	rows := map[key]*ScenarioResult{}
	var out Summary
	for i, p := range parts {
		if err := validate(p); err != nil {
			return Summary{}, fmt.Errorf("part %d: %w", i, err)
		}
		for _, r := range p.Scenarios {
			k := key{r.Scenario, r.Impl}
			m, ok := rows[k]
			if !ok {
				m = &ScenarioResult{Scenario: r.Scenario, Impl: r.Impl}
				rows[k] = m
			}
			m.Ranges = append(m.Ranges, r.Ranges...)
			m.Violations += r.Violations
			m.Inconclusive += r.Inconclusive
			m.Delivered += r.Delivered
			m.Events += r.Events
			m.SimNs += r.SimNs
			m.WallNs += r.WallNs
		}
		out.Failures = append(out.Failures, p.Failures...)
		out.Partial = out.Partial || p.Partial
	}
	for _, m := range rows {
		var err error
		if m.Ranges, err = joinShards(m.Ranges); err != nil {
			return Summary{}, fmt.Errorf("scenario %s impl %s: %w", m.Scenario, m.Impl, err)
		}
		out.Scenarios = append(out.Scenarios, *m)
	}
	slices.SortFunc(out.Scenarios, func(a, b ScenarioResult) int {
		return cmp.Or(cmp.Compare(a.Scenario, b.Scenario), cmp.Compare(a.Impl, b.Impl))
	})
	slices.SortFunc(out.Failures, func(a, b FailureResult) int {
		return cmp.Or(cmp.Compare(a.Scenario, b.Scenario), cmp.Compare(a.Impl, b.Impl), cmp.Compare(a.Seed, b.Seed))
	})
	if err := validate(out); err != nil {
		return Summary{}, err
	}
	return out, nil
}

func sortRanges(rs []SeedRange) {
	slices.SortFunc(rs, func(a, b SeedRange) int {
		return cmp.Or(cmp.Compare(a.FirstSeed, b.FirstSeed), cmp.Compare(a.Shard, b.Shard))
	})
}

// validate reports the first thing that makes s inconsistent: a repeated row, an empty or
// overlapping seed range, or a failure outside the seeds its row ran.
func validate(s Summary) error {
	type key struct{ scenario, impl string }
	rows := map[key][]SeedRange{}
	for _, r := range s.Scenarios {
		k := key{r.Scenario, r.Impl}
		if r.Scenario == "" || r.Impl == "" {
			return fmt.Errorf("scenario row %q impl %q: both names are required", r.Scenario, r.Impl)
		}
		if _, dup := rows[k]; dup {
			return fmt.Errorf("scenario %s impl %s: two rows", r.Scenario, r.Impl)
		}
		if len(r.Ranges) == 0 {
			return fmt.Errorf("scenario %s impl %s: no seed range", r.Scenario, r.Impl)
		}
		rs := slices.Clone(r.Ranges)
		sortRanges(rs)
		for i, rg := range rs {
			if rg.Seeds < 1 {
				return fmt.Errorf("scenario %s impl %s: seed range from %d has %d seeds", r.Scenario, r.Impl, rg.FirstSeed, rg.Seeds)
			}
			if last := rg.FirstSeed + uint64(rg.Seeds) - 1; last < rg.FirstSeed {
				return fmt.Errorf("scenario %s impl %s: seed range from %d overflows", r.Scenario, r.Impl, rg.FirstSeed)
			}
			if rg.Shards < 0 || (rg.Shards > 1 && (rg.Shard < 1 || rg.Shard > rg.Shards)) || (rg.Shards <= 1 && rg.Shard != 0) {
				return fmt.Errorf("scenario %s impl %s: seed range from %d: shard %d of %d", r.Scenario, r.Impl, rg.FirstSeed, rg.Shard, rg.Shards)
			}
			for _, prev := range rs[:i] {
				if !disjoint(prev, rg) {
					return fmt.Errorf("scenario %s impl %s: seed ranges %s and %s overlap", r.Scenario, r.Impl, seedSpan(prev), seedSpan(rg))
				}
			}
		}
		rows[k] = rs
	}
	for i, f := range s.Failures {
		rs, ok := rows[key{f.Scenario, f.Impl}]
		if !ok {
			return fmt.Errorf("failure %d: scenario %s impl %s has no row", i, f.Scenario, f.Impl)
		}
		if !slices.ContainsFunc(rs, func(rg SeedRange) bool { return rg.Has(f.Seed) }) {
			return fmt.Errorf("failure %d: seed %d is outside the seeds run for scenario %s impl %s", i, f.Seed, f.Scenario, f.Impl)
		}
		if f.Error == "" && len(f.Violations) == 0 {
			return fmt.Errorf("failure %d: scenario %s seed %d has neither violations nor an error", i, f.Scenario, f.Seed)
		}
	}
	return nil
}

// seedSpan names a range the way people read it: first..last, and the shard.
func seedSpan(rg SeedRange) string {
	span := fmt.Sprint(rg.FirstSeed)
	if rg.Seeds > 1 {
		span = fmt.Sprintf("%d..%d", rg.FirstSeed, rg.FirstSeed+uint64(rg.Seeds)-1)
	}
	if rg.Shards > 1 {
		span += fmt.Sprintf(" shard %d/%d", rg.Shard, rg.Shards)
	}
	return span
}

// ReplayCommand is the simrun command line that reruns one seed bit for bit.
func ReplayCommand(scenario string, seed uint64, impl string) string {
	c := fmt.Sprintf("simrun replay --scenario %s --seed %d", scenario, seed)
	if impl != "reference" {
		c += " --impl " + impl
	}
	return c
}

// maxGroups bounds the failure groups summary.md lists, so it stays a page whatever a
// campaign finds; results.json keeps every failing seed.
const maxGroups = 30

// markdown renders summary.md: a table with one row per scenario, then the failures grouped.
func markdown(s Summary) []byte {
	var b bytes.Buffer
	b.WriteString("# streamsim results\n\n")
	if s.Partial {
		b.WriteString("**Partial**: the campaign was stopped before its end; these are the seeds that finished.\n\n")
	}
	failing := map[[2]string]int{}
	failed := 0
	for _, f := range s.Failures {
		if f.Verdict == "" {
			failing[[2]string{f.Scenario, f.Impl}]++
			failed++
		}
	}
	b.WriteString("| scenario | impl | seeds | failed seeds | violations | delivered | wall | sim msgs/s | campaign hash |\n")
	b.WriteString("|:--|:--|--:|--:|--:|--:|--:|--:|:--|\n")
	var total ScenarioResult
	var sharded []ScenarioResult
	for _, r := range s.Scenarios {
		seeds := fmt.Sprint(r.Seeds())
		hash := "`" + r.Ranges[0].Hash + "`"
		if len(r.Ranges) == 1 {
			seeds = fmt.Sprintf("%d (%s)", r.Seeds(), seedSpan(r.Ranges[0]))
		} else {
			hash = fmt.Sprintf("%d shards, below", len(r.Ranges))
			sharded = append(sharded, r)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %d | %s | %.0f | %s |\n",
			mdText(r.Scenario), mdText(r.Impl), seeds, failing[[2]string{r.Scenario, r.Impl}], r.Violations,
			r.Delivered, Duration(time.Duration(r.WallNs)), r.MsgsPerSec(), hash)
		total.Ranges = append(total.Ranges, r.Ranges...)
		total.Violations += r.Violations
		total.Delivered += r.Delivered
		total.WallNs += r.WallNs
	}
	if len(s.Scenarios) > 1 {
		fmt.Fprintf(&b, "| **total** | | %d | %d | %d | %d | %s | %.0f | |\n",
			total.Seeds(), failed, total.Violations, total.Delivered, Duration(time.Duration(total.WallNs)), total.MsgsPerSec())
	}
	if len(sharded) > 0 {
		b.WriteString("\n## Shard hashes\n\n")
		for _, r := range sharded {
			fmt.Fprintf(&b, "- %s (%s):", mdText(r.Scenario), mdText(r.Impl))
			for _, rg := range r.Ranges {
				fmt.Fprintf(&b, " %s `%s`", seedSpan(rg), rg.Hash)
			}
			b.WriteByte('\n')
		}
	}
	b.WriteString("\n## Failures\n\n")
	groups := Group(s.Failures)
	if len(groups) == 0 {
		b.WriteString("None.\n")
	} else {
		fmt.Fprintf(&b, "%d failing seeds in %d groups (same scenario, implementation, property and message; N stands for any number).\n\n", len(s.Failures), len(groups))
		b.WriteString("| scenario | impl | property | failed seeds | message | first seed | replay |\n|:--|:--|:--|--:|:--|--:|:--|\n")
	}
	for i, g := range groups {
		if i == maxGroups {
			fmt.Fprintf(&b, "\n%d more groups: results.json lists every failing seed.\n", len(groups)-maxGroups)
			break
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %d | `%s` |\n", mdText(g.Scenario), mdText(g.Impl), mdText(g.Property), g.Seeds, mdText(g.Pattern), g.First.Seed, g.Replay())
	}
	return b.Bytes()
}

// mdText keeps names and messages from the run from being read as Markdown or HTML.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\n', '\r':
			b.WriteByte(' ')
			continue
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '#', '&':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
