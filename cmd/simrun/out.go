package main

import (
	"bytes"
	"fmt"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/reports"
	"github.com/streamsim/streamsim/scenarios"
)

// reportsPerScenario bounds how many failing seeds of one scenario get a report directory: a
// mutant campaign fails thousands of seeds with the same bug.
const reportsPerScenario = 10

// results converts a campaign report for results.json.
func results(rep scenarios.Report, c scenarios.Campaign, impl string) (reports.ScenarioResult, []reports.FailureResult) {
	rg := reports.SeedRange{FirstSeed: c.FirstSeed, Seeds: c.Seeds, Hash: fmt.Sprintf("%016x", rep.Hash)}
	if c.Shards > 1 {
		rg.Shard, rg.Shards = c.Shard, c.Shards
	}
	if rep.Stopped {
		// The seeds run are the first rep.Seeds of the campaign's order; the range ends
		// at the last of them.
		rg.Seeds = rep.Seeds
		if c.Shards > 1 {
			rg.Seeds = (rep.Seeds-1)*c.Shards + c.Shard
		}
	}
	row := reports.ScenarioResult{
		Scenario: rep.Scenario, Impl: impl, Ranges: []reports.SeedRange{rg},
		Violations: rep.Violations, Delivered: rep.Delivered, Events: rep.Events, SimNs: rep.SimNs, WallNs: int64(rep.Wall),
	}
	var fails []reports.FailureResult
	for _, f := range rep.Failures {
		fails = append(fails, failureResult(rep.Scenario, impl, f.Seed, f.Err, f.Outcome.Result.Violations))
	}
	return row, fails
}

// failureResult is one failing seed as results.json holds it, simulated or validated.
func failureResult(scenario, impl string, seed uint64, err error, vs []checker.Violation) reports.FailureResult {
	fr := reports.FailureResult{Scenario: scenario, Impl: impl, Seed: seed}
	if err != nil {
		fr.Error = err.Error()
	}
	for _, v := range vs {
		fr.Violations = append(fr.Violations, reports.ViolationResult{Property: v.Property, Node: v.Node, Session: v.Session, Index: v.Index, Message: v.Message})
	}
	return fr
}

// writeFailure writes a failure's directory under dir, with porcupine's view of the run when
// it has a history, and returns the directory.
func writeFailure(dir string, f reports.Failure, lin checker.LinResult) (string, error) {
	var page bytes.Buffer
	if len(f.History) > 0 && lin.Visualize(&page) == nil {
		f.Porcupine, f.PorcupineVerdict = page.Bytes(), lin.Verdict
	}
	if err := reports.WriteFailure(dir, f, checker.WriteHistory); err != nil {
		return "", err
	}
	return reports.FailureDir(dir, f), nil
}

// writeFailureReport replays one failing seed to recover its history (campaigns keep none)
// and writes the failure's directory under dir. The replay recovers from a panic as the
// campaign did, so a panicking seed becomes a report, not the end of the campaign.
func writeFailureReport(dir string, s scenarios.Scenario, seed uint64, impl string, opt scenarios.Options) (string, error) {
	plan := s.Build(seed)
	plan.Seed = seed
	f := reports.Failure{Scenario: s.Name, Seed: seed, Impl: impl, Plan: plan}
	out, err := scenarios.RunSafely(plan, seed, opt)
	if err != nil {
		f.Err = err.Error()
	}
	f.Hash, f.History, f.Result = out.Hash, out.History, out.Result
	return writeFailure(dir, f, out.Fresh)
}
