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
	Notes      []string      // what the scenario's plans asked for that no run could do
	Failures   []Failure     // every failing run, in seed order; the first Keep with Plan and Outcome
}

// Failure is a run that violated a property or could not be judged.
type Failure struct {
	Seed       uint64
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
				results <- result{j, p, out, err}
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
	}
	for _, r := range all {
		rep := &reps[r.scenario]
		rep.Runs++
		rep.Wall += r.out.Wall
		rep.Delivered += r.out.Result.Delivered
		for _, n := range r.out.Notes {
			if !slices.Contains(rep.Notes, n) {
				rep.Notes = append(rep.Notes, n)
			}
		}
		vs := r.out.Result.Violations
		if r.err == nil && len(vs) == 0 {
			continue
		}
		rep.Violations += len(vs)
		f := Failure{Seed: r.seed, Err: r.err, Violations: vs}
		if len(rep.Failures) < c.Keep {
			f.Plan, f.Outcome = r.plan, r.out
		}
		rep.Failures = append(rep.Failures, f)
	}
	for i := range reps {
		slices.Sort(reps[i].Notes)
	}
	return reps
}
