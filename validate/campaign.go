package validate

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/scenarios"
)

// Campaign runs scenarios over seeds in real time.
type Campaign struct {
	Scenarios []scenarios.Scenario
	FirstSeed uint64
	Seeds     int
	// Parallel is how many runs go at once; below 1, one. Each run has its own drivers and
	// proxies, so runs never share anything but the machine.
	Parallel int
	Options  Options
	// Keep is how many failing runs of each scenario keep their plan and outcome for reports.
	Keep int
}

// Report is a campaign's result for one scenario.
type Report struct {
	Scenario   string
	Runs       int
	Violations int
	Delivered  int64
	Wall       time.Duration // summed over runs
	Notes      []Note        // what the scenario's plans asked for that runs could not do, sorted
	Failures   []Failure     // every failing run, in seed order; the first Keep with Plan and Outcome
	// Inconclusive are the runs whose only violations rest on timing on a machine measured
	// running late, kept as Failures are.
	Inconclusive []Failure
	Canary       Canary  // the latest the machine ran in any run
	Latency      Latency // over every run
	// Coverage counts the runs that reached each boundary situation in real time, and
	// SimCoverage the simulations of the same plans and seeds that did: a situation a
	// simulation reaches and the real runs do not was not tested in real time.
	Coverage, SimCoverage scenarios.Coverage
}

// Note is something a plan asked for that Runs of the scenario's runs could not reproduce.
type Note struct {
	Text string
	Runs int
}

// Failure is a run that violated a property or could not be judged.
type Failure struct {
	Seed       uint64
	Verdict    Verdict
	Err        error
	Violations []checker.Violation
	Plan       scenarios.Plan // zero beyond Campaign.Keep
	Outcome    Outcome        // the whole run, history included; zero beyond Campaign.Keep
}

type job struct {
	scenario int
	seed     uint64
}

type result struct {
	job
	plan scenarios.Plan
	out  Outcome
	err  error
	sim  scenarios.Coverage
}

// Run plays every scenario and seed and returns one report per scenario, in order. Cancelling
// ctx stops the runs in progress; the reports then cover what finished.
func (c Campaign) Run(ctx context.Context) []Report {
	jobs := make(chan job)
	results := make(chan result)
	var wg sync.WaitGroup
	for range max(1, c.Parallel) {
		wg.Go(func() {
			for j := range jobs {
				p := c.Scenarios[j.scenario].Build(j.seed)
				out, err := Run(ctx, p, j.seed, c.Options)
				results <- result{j, p, out, err, simCoverage(p, j.seed)}
			}
		})
	}
	go func() {
		defer close(jobs)
		for i := range c.Scenarios {
			for k := range c.Seeds {
				select {
				case jobs <- job{i, c.FirstSeed + uint64(k)}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()
	var all []result
	for r := range results {
		all = append(all, r)
	}
	slices.SortFunc(all, func(a, b result) int {
		return cmp.Or(cmp.Compare(a.scenario, b.scenario), cmp.Compare(a.seed, b.seed))
	})
	reps := make([]Report, len(c.Scenarios))
	for i, s := range c.Scenarios {
		reps[i].Scenario = s.Name
		reps[i].Coverage.Add(nil)
		reps[i].SimCoverage.Add(nil)
	}
	for _, r := range all {
		rep := &reps[r.scenario]
		rep.Runs++
		rep.Wall += r.out.Wall
		rep.Delivered += r.out.Result.Delivered
		rep.Canary.Add(r.out.Canary)
		rep.Latency.Add(&r.out.Latency)
		rep.Coverage.Add(r.out.Coverage)
		rep.SimCoverage.Add(r.sim)
		for _, n := range r.out.Notes {
			i := slices.IndexFunc(rep.Notes, func(o Note) bool { return o.Text == n })
			if i < 0 {
				i = len(rep.Notes)
				rep.Notes = append(rep.Notes, Note{Text: n})
			}
			rep.Notes[i].Runs++
		}
		vs := r.out.Result.Violations
		if r.err == nil && r.out.Verdict == Pass {
			continue
		}
		verdict := r.out.Verdict
		if r.err != nil && verdict != Inconclusive {
			verdict = Fail
		}
		list := &rep.Failures
		if verdict == Inconclusive {
			list = &rep.Inconclusive
		} else {
			rep.Violations += len(vs)
		}
		f := Failure{Seed: r.seed, Verdict: verdict, Err: r.err, Violations: vs}
		if len(*list) < c.Keep {
			f.Plan, f.Outcome = r.plan, r.out
		}
		*list = append(*list, f)
	}
	for i := range reps {
		slices.SortFunc(reps[i].Notes, func(a, b Note) int { return cmp.Compare(a.Text, b.Text) })
	}
	return reps
}

// simCoverage is what the simulator reaches with the same plan and seed; nil when it cannot
// run the plan, which then has nothing to compare with.
func simCoverage(p scenarios.Plan, seed uint64) scenarios.Coverage {
	out, err := scenarios.Run(p, seed, scenarios.Options{NoFresh: true})
	if err != nil {
		return nil
	}
	return scenarios.Cover(out.History)
}
