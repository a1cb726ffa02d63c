package main

import (
	"bytes"
	"fmt"
	"time"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/reports"
	"github.com/streamsim/streamsim/scenarios"
)

// reportsPerScenario bounds how many failing seeds of one scenario get a report directory: a
// mutant campaign fails thousands of seeds with the same bug.
const reportsPerScenario = 10

// freshTimeout bounds porcupine's search per failure report; past it the verdict is unknown.
const freshTimeout = 10 * time.Second

// results converts a campaign report for results.json.
func results(rep scenarios.Report, c scenarios.Campaign, impl string) (reports.ScenarioResult, []reports.FailureResult) {
	rg := reports.SeedRange{FirstSeed: c.FirstSeed, Seeds: c.Seeds, Hash: fmt.Sprintf("%016x", rep.Hash)}
	if c.Shards > 1 {
		rg.Shard, rg.Shards = c.Shard, c.Shards
	}
	row := reports.ScenarioResult{
		Scenario: rep.Scenario, Impl: impl, Ranges: []reports.SeedRange{rg},
		Violations: rep.Violations, Delivered: rep.Delivered, Events: rep.Events, SimNs: rep.SimNs, WallNs: int64(rep.Wall),
	}
	var fails []reports.FailureResult
	for _, f := range rep.Failures {
		fr := reports.FailureResult{Scenario: rep.Scenario, Impl: impl, Seed: f.Seed}
		if f.Err != nil {
			fr.Error = f.Err.Error()
		}
		for _, v := range f.Outcome.Result.Violations {
			fr.Violations = append(fr.Violations, reports.ViolationResult{Property: v.Property, Node: v.Node, Session: v.Session, Index: v.Index, Message: v.Message})
		}
		fails = append(fails, fr)
	}
	return row, fails
}

// writeFailureReport replays one failing seed to recover its history (campaigns keep none),
// asks porcupine about it, and writes the failure's directory under dir.
func writeFailureReport(dir string, s scenarios.Scenario, seed uint64, impl string, opt scenarios.Options) (string, error) {
	plan := s.Build(seed)
	plan.Seed = seed
	f := reports.Failure{Scenario: s.Name, Seed: seed, Impl: impl, Plan: plan}
	out, err := scenarios.Run(plan, seed, opt)
	if err != nil {
		f.Err = err.Error()
	} else {
		f.Hash, f.History, f.Result = out.Hash, out.History, out.Result
		lin := checker.CheckFresh(out.History, freshTimeout)
		var page bytes.Buffer
		if lin.Visualize(&page) == nil {
			f.Porcupine, f.PorcupineVerdict = page.Bytes(), lin.Verdict
		}
	}
	if err := reports.WriteFailure(dir, f, checker.WriteHistory); err != nil {
		return "", err
	}
	return reports.FailureDir(dir, f), nil
}
