package scenarios

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/streamsim/streamsim/checker"
)

// Campaign runs one scenario over a range of seeds. Each seed gets its own simulator, so seeds
// run in parallel with nothing shared, and the parallelism never changes a result.
type Campaign struct {
	Scenario  Scenario
	FirstSeed uint64
	Seeds     int
	Parallel  int // default GOMAXPROCS
	// Shard and Shards split a campaign deterministically: with Shards = N > 1, this one runs
	// only the seeds whose index i (seed - FirstSeed) has i mod N == Shard - 1.
	Shard, Shards int
	Options       Options
	// Progress, when set, is called after each finished seed with the number of seeds done
	// and failed so far. It runs on the caller's goroutine.
	Progress func(done, failed int)
	// Stop, when closed, ends the campaign early: no seed starts after it, the seeds in
	// flight finish, and the report covers the seeds done, which are the first of the
	// campaign's order (Report.Stopped says so).
	Stop <-chan struct{}
	// Observe, when set, sees each seed's history before the campaign drops it. It runs on
	// the worker goroutines, so it must be safe for concurrent use.
	Observe func(h checker.History)
}

// Failure is one seed whose run violated a property or could not run.
type Failure struct {
	Seed    uint64
	Outcome Outcome // zero when Err is set
	Err     error
}

// Report sums up a campaign. Failures are ordered by seed.
type Report struct {
	Scenario   string
	Seeds      int // seeds actually run (a shard's share)
	Violations int // total violations over all seeds
	Delivered  int64
	Events     uint64
	SimNs      int64
	Wall       time.Duration
	Failures   []Failure
	// Hash combines the trace hashes of all seeds run: two campaigns with the same hash ran
	// the same simulations. It is a wrapping sum of per-seed terms, so the hashes of a
	// campaign's shards add up to the hash of the whole campaign.
	Hash uint64
	// Coverage counts how often each boundary situation was reached (see Situations).
	Coverage Coverage
	// Stopped: Campaign.Stop ended the campaign before its last seed.
	Stopped bool
}

// MsgsPerSec is simulated deliveries per wall-clock second.
func (r Report) MsgsPerSec() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(r.Delivered) / r.Wall.Seconds()
}

// Run plays every seed and collects the results in seed order.
func (c Campaign) Run() Report {
	par := c.Parallel
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	start := time.Now()
	type result struct {
		i   int
		out Outcome
		cov Coverage
		err error
	}
	var indices []int
	for i := range c.Seeds {
		if c.Shards <= 1 || i%c.Shards == c.Shard-1 {
			indices = append(indices, i)
		}
	}
	seeds := make(chan int)
	results := make(chan result)
	var wg sync.WaitGroup
	for range min(par, max(len(indices), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range seeds {
				seed := c.FirstSeed + uint64(i)
				out, err := runSafely(c.Scenario, seed, c.Options)
				cov := Cover(out.History)
				if c.Observe != nil {
					c.Observe(out.History)
				}
				// A campaign keeps only what it reports: the history and porcupine's
				// partitions stay behind (a report replays the seed for them).
				out.History, out.Fresh = nil, checker.LinResult{}
				results <- result{i, out, cov, err}
			}
		}()
	}
	go func() {
	feed:
		for _, i := range indices {
			select {
			case seeds <- i:
			case <-c.Stop:
				break feed
			}
		}
		close(seeds)
		wg.Wait()
		close(results)
	}()
	all := make([]result, 0, len(indices))
	done, failed := 0, 0
	for r := range results {
		all = append(all, r)
		done++
		if r.err != nil || len(r.out.Result.Violations) > 0 {
			failed++
		}
		if c.Progress != nil {
			c.Progress(done, failed)
		}
	}
	sort.Slice(all, func(a, b int) bool { return all[a].i < all[b].i })
	rep := Report{Scenario: c.Scenario.Name, Seeds: len(all), Stopped: len(all) < len(indices)}
	rep.Coverage.Add(make(Coverage, len(situations)))
	for _, r := range all {
		rep.Coverage.Add(r.cov)
		seed := c.FirstSeed + uint64(r.i)
		rep.Hash += seedTerm(seed, r.out.Hash)
		if r.err != nil {
			rep.Violations++
			rep.Failures = append(rep.Failures, Failure{Seed: seed, Err: r.err})
			continue
		}
		rep.Delivered += r.out.Delivered
		rep.Events += r.out.Events
		rep.SimNs += r.out.SimNs
		if n := len(r.out.Result.Violations); n > 0 {
			rep.Violations += n
			rep.Failures = append(rep.Failures, Failure{Seed: seed, Outcome: r.out})
		}
	}
	rep.Wall = time.Since(start)
	return rep
}

// seedTerm mixes a seed with its trace hash (splitmix64's finaliser), so equal trace hashes
// of different seeds do not cancel or collide in the campaign sum.
func seedTerm(seed, hash uint64) uint64 {
	x := hash ^ (seed * 0x9e3779b97f4a7c15)
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// runSafely turns a panic in one seed into that seed's failure, so one broken run cannot take
// a whole campaign down and the failing seed is still named.
func runSafely(s Scenario, seed uint64, opt Options) (out Outcome, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("seed %d panicked: %v", seed, r)
		}
	}()
	return Run(s.Build(seed), seed, opt)
}
