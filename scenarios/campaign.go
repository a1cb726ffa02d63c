package scenarios

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/streamsim/streamsim/checker"
)

// Campaign runs one scenario over a range of seeds. Each seed gets its own simulator, so seeds
// run in parallel with nothing shared, and the parallelism never changes a result. Seeds are
// handed out one at a time and each result is summed up as it arrives, so a campaign's memory
// does not depend on its number of seeds.
type Campaign struct {
	Scenario  Scenario
	FirstSeed uint64
	Seeds     int
	Parallel  int // default GOMAXPROCS
	// Shard and Shards split a campaign deterministically: with Shards = N > 1, this one runs
	// only the seeds whose index i (seed - FirstSeed) has i mod N == Shard - 1.
	Shard, Shards int
	Options       Options
	// KeepFailures is how many failing seeds the report keeps, the lowest; default
	// DefaultKeepFailures. Every failing seed is still counted.
	KeepFailures int
	// Progress, when set, is called after each finished seed with the number of seeds done
	// and failed so far. It runs on the caller's goroutine.
	Progress func(done, failed int)
	// Stop, when closed, ends the campaign early: no seed starts after it, the seeds in
	// flight finish, and the report covers the seeds done (Report.Stopped says so).
	Stop <-chan struct{}
	// Observe, when set, sees each seed's history before the campaign drops it. It runs on
	// the worker goroutines, so it must be safe for concurrent use, and must not keep the
	// history: later seeds record into its array.
	Observe func(h checker.History)
}

// DefaultKeepFailures is how many failing seeds a campaign report keeps unless told otherwise:
// far more than anyone reads, and a bound on the memory a campaign against a bad
// implementation needs.
const DefaultKeepFailures = 100

// Failure is one seed whose run violated a property or could not run.
type Failure struct {
	Seed    uint64
	Outcome Outcome // zero when Err is set
	Err     error
}

// Report sums up a campaign.
type Report struct {
	Scenario   string
	Seeds      int // seeds actually run (a shard's share)
	Violations int // total violations over all seeds
	Failed     int // seeds that failed: violated a property or could not run
	Delivered  int64
	Events     uint64
	SimNs      int64
	Wall       time.Duration
	// Failures are the lowest failing seeds, at most the campaign's KeepFailures, in seed
	// order.
	Failures []Failure
	// Hash combines the trace hashes of all seeds run: two campaigns with the same hash ran
	// the same simulations. It is a wrapping sum of per-seed terms, so the hashes of a
	// campaign's shards add up to the hash of the whole campaign.
	Hash uint64
	// Coverage counts how often each boundary situation was reached (see Situations).
	Coverage Coverage
	// Stopped: Campaign.Stop ended the campaign before its last seed.
	Stopped bool
}

// Compression is simulated time over wall-clock time: how many times faster than real time
// the campaign ran, its seeds' virtual times added up, as seeds running in parallel do.
func (r Report) Compression() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(r.SimNs) / float64(r.Wall.Nanoseconds())
}

// MsgsPerSec is simulated deliveries per wall-clock second.
func (r Report) MsgsPerSec() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(r.Delivered) / r.Wall.Seconds()
}

// Run plays every seed and sums up the results.
func (c Campaign) Run() Report {
	par := c.Parallel
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	keep := c.KeepFailures
	if keep <= 0 {
		keep = DefaultKeepFailures
	}
	first, step := 0, 1
	if c.Shards > 1 {
		first, step = c.Shard-1, c.Shards
	}
	start := time.Now()
	type result struct {
		seed uint64
		out  Outcome
		cov  Coverage
		err  error
	}
	seeds := make(chan uint64)
	results := make(chan result)
	var wg sync.WaitGroup
	for range min(par, max(c.Seeds, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range seeds {
				out, err := runSafely(c.Scenario, seed, c.Options)
				cov := Cover(out.History)
				if c.Observe != nil {
					c.Observe(out.History)
				}
				// A campaign keeps only what it reports: the history and the fresh
				// verdict's details stay behind (a report replays the seed for them).
				recycle(out.History)
				out.History, out.Fresh = nil, checker.LinResult{}
				results <- result{seed, out, cov, err}
			}
		}()
	}
	go func() {
		defer func() {
			close(seeds)
			wg.Wait()
			close(results)
		}()
		for i := first; i < c.Seeds && !closed(c.Stop); i += step {
			select {
			case seeds <- c.FirstSeed + uint64(i):
			case <-c.Stop:
				return
			}
		}
	}()
	rep := Report{Scenario: c.Scenario.Name, Coverage: make(Coverage, len(situations))}
	for r := range results {
		rep.Seeds++
		rep.Coverage.Add(r.cov)
		rep.Hash += seedTerm(r.seed, r.out.Hash)
		switch {
		case r.err != nil:
			rep.Violations++
			rep.keep(Failure{Seed: r.seed, Err: r.err}, keep)
		case len(r.out.Result.Violations) > 0:
			rep.Violations += len(r.out.Result.Violations)
			rep.keep(Failure{Seed: r.seed, Outcome: r.out}, keep)
		}
		if r.err == nil {
			rep.Delivered += r.out.Delivered
			rep.Events += r.out.Events
			rep.SimNs += r.out.SimNs
		}
		if c.Progress != nil {
			c.Progress(rep.Seeds, rep.Failed)
		}
	}
	rep.Stopped = rep.Seeds < (max(c.Seeds-first, 0)+step-1)/step
	rep.Wall = time.Since(start)
	return rep
}

// closed reports whether ch is closed, without waiting: a stopped campaign hands out no more
// seeds even when a worker is ready for one.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// keep counts a failure and keeps it if it is among the lowest n seeds seen.
func (r *Report) keep(f Failure, n int) {
	r.Failed++
	i, _ := slices.BinarySearchFunc(r.Failures, f.Seed, func(g Failure, seed uint64) int { return cmp.Compare(g.Seed, seed) })
	if i == n {
		return
	}
	r.Failures = slices.Insert(r.Failures, i, f)
	if len(r.Failures) > n {
		r.Failures[n] = Failure{}
		r.Failures = r.Failures[:n]
	}
}

// seedTerm mixes a seed with its trace hash (splitmix64's finaliser), so equal trace hashes
// of different seeds do not cancel or collide in the campaign sum.
func seedTerm(seed, hash uint64) uint64 {
	x := hash ^ (seed * 0x9e3779b97f4a7c15)
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// RunSafely is Run with a panic turned into the run's error, so one broken run cannot take a
// whole campaign, a shrink or a report down, and the failing seed is still named.
func RunSafely(p Plan, seed uint64, opt Options) (Outcome, error) {
	return safely(seed, func() (Outcome, error) { return Run(p, seed, opt) })
}

// runSafely builds the scenario's plan under the same recover: a generator can panic too.
func runSafely(s Scenario, seed uint64, opt Options) (Outcome, error) {
	return safely(seed, func() (Outcome, error) { return Run(s.Build(seed), seed, opt) })
}

func safely(seed uint64, run func() (Outcome, error)) (out Outcome, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = Outcome{}, fmt.Errorf("seed %d panicked: %v", seed, r)
		}
	}()
	return run()
}
