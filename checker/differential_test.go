package checker_test

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/scenarios"
)

// The fast fresh check is the verdict; porcupine, deciding the same model by search, must agree
// with it on every history the harness produces and on histories broken by hand.

// long gates a campaign-sized test: too slow under the race detector, so `make test` runs
// the packages with -race -short, then these without -race.
func long(t *testing.T) {
	if testing.Short() {
		t.Skip("campaign-sized: make test runs it without -race")
	}
}

// job is one run of the differential campaign.
type job struct {
	scenario scenarios.Scenario
	seed     uint64
	bugs     reference.Bugs
}

// forRuns runs every job on GOMAXPROCS workers and hands each history to judge.
func forRuns(t *testing.T, jobs []job, judge func(j job, h checker.History)) {
	t.Helper()
	var wg sync.WaitGroup
	next := make(chan job)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for j := range next {
				out, err := scenarios.Run(j.scenario.Build(j.seed), j.seed, scenarios.Options{Bugs: j.bugs})
				if err != nil {
					// A planted bug may break a run beyond judging; the reference may not.
					if j.bugs == 0 {
						t.Errorf("%s seed %d: %v", j.scenario.Name, j.seed, err)
					}
					continue
				}
				judge(j, out.History)
			}
		})
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
}

// agree fails t unless the sweep and porcupine find the same sessions illegal in h; it
// reports whether they did and whether h is illegal. Sessions porcupine leaves undecided
// within bound fail t too, unless undecided is given: then they are counted there and the
// others compared.
func agree(t *testing.T, what string, h checker.History, bound time.Duration, undecided *atomic.Int64) (ok, illegal bool) {
	t.Helper()
	res := checker.CheckFresh(h)
	por, unknown := checker.PorcupineFresh(h, bound)
	if undecided != nil && len(unknown) > 0 {
		undecided.Add(1)
		sweep := slices.DeleteFunc(slices.Clone(res.Illegal), func(s int64) bool { return slices.Contains(unknown, s) })
		return slices.Equal(sweep, por), len(res.Illegal) > 0
	}
	if len(unknown) > 0 || !slices.Equal(res.Illegal, por) {
		var buf bytes.Buffer
		_ = checker.WriteHistory(&buf, h)
		t.Errorf("%s: the sweep finds %v illegal, porcupine %v (undecided %v); history:\n%.20000s", what, res.Illegal, por, unknown, buf.String())
		return false, false
	}
	return true, len(por) > 0
}

// TestFreshAgreesOnTheDefaultCampaign: every catalogue scenario, 100 seeds each, against the
// reference.
func TestFreshAgreesOnTheDefaultCampaign(t *testing.T) {
	long(t)
	var jobs []job
	for _, s := range scenarios.Catalogue() {
		for seed := range uint64(100) {
			jobs = append(jobs, job{scenario: s, seed: seed})
		}
	}
	var mu sync.Mutex
	sessions := 0
	forRuns(t, jobs, func(j job, h checker.History) {
		if _, illegal := agree(t, j.scenario.Name, h, time.Minute, nil); illegal {
			t.Errorf("%s seed %d: the reference judged illegal", j.scenario.Name, j.seed)
		}
		mu.Lock()
		sessions += checker.CheckFresh(h).Sessions
		mu.Unlock()
	})
	if len(jobs) < 100*30 || sessions < len(jobs) {
		t.Fatalf("%d runs with %d sessions: the campaign is not the default one", len(jobs), sessions)
	}
}

// TestFreshAgreesOnMutants: every planted bug over the catalogue, where fresh violations are
// found and must be found by both.
func TestFreshAgreesOnMutants(t *testing.T) {
	long(t)
	var jobs []job
	for _, m := range reference.Mutants() {
		for _, s := range scenarios.Catalogue() {
			for seed := range uint64(3) {
				jobs = append(jobs, job{scenario: s, seed: seed, bugs: m.Bug})
			}
		}
	}
	var mu sync.Mutex
	illegal := 0
	forRuns(t, jobs, func(j job, h checker.History) {
		if _, bad := agree(t, j.scenario.Name, h, time.Minute, nil); bad {
			mu.Lock()
			illegal++
			mu.Unlock()
		}
	})
	if illegal == 0 {
		t.Fatalf("no mutant run broke fresh: the test compares only legal histories")
	}
	t.Logf("%d of %d mutant runs break fresh", illegal, len(jobs))
}

// TestFreshAgreesOnCorruptedHistories breaks campaign histories by hand: an Online naming
// another posted seq, a delivery of another seq, a post_ok moved later (which only widens a
// post's interval), a post moved later than deliveries of it. Some results are legal, some
// not; both checks must say the same of each, and the post_ok moved later must stay legal.
// Histories are cut to their first 300 events, and porcupine gets 2 s a history: its search
// is exponential in the operations that overlap, and a post_ok moved later makes a post
// overlap a burst of deliveries at one instant, which it may not decide in time. Those
// histories are left out of the comparison, and they must stay few.
func TestFreshAgreesOnCorruptedHistories(t *testing.T) {
	long(t)
	var jobs []job
	for _, name := range []string{"random", "chaos", "test_overlapped", "reply_race", "server_crash_restart", "buffer_overflow"} {
		s, ok := scenarios.Lookup(name)
		if !ok {
			t.Fatalf("no scenario %s", name)
		}
		for seed := range uint64(15) {
			jobs = append(jobs, job{scenario: s, seed: seed})
		}
	}
	var mu sync.Mutex
	var verdicts [2]int
	var undecided atomic.Int64
	forRuns(t, jobs, func(j job, h checker.History) {
		h = h[:min(len(h), 300)]
		r := rand.New(rand.NewPCG(j.seed, 7))
		for kind := range 4 {
			for range 5 {
				broken, legal := corrupt(r, h, kind)
				if broken == nil {
					break
				}
				ok, illegal := agree(t, j.scenario.Name, broken, 2*time.Second, &undecided)
				if ok && legal && illegal {
					t.Errorf("%s seed %d: a post_ok moved later made the history illegal", j.scenario.Name, j.seed)
				}
				mu.Lock()
				if illegal {
					verdicts[1]++
				} else {
					verdicts[0]++
				}
				mu.Unlock()
			}
		}
	})
	if verdicts[0] < 50 || verdicts[1] < 50 || undecided.Load()*20 > int64(verdicts[0]+verdicts[1]) {
		t.Fatalf("%d legal and %d illegal corrupted histories, %d porcupine could not decide: the comparison tests too little",
			verdicts[0], verdicts[1], undecided.Load())
	}
	t.Logf("%d legal and %d illegal corrupted histories, %d porcupine could not decide in time", verdicts[0], verdicts[1], undecided.Load())
}

// corrupt returns a copy of h broken in way kind, and whether it must stay legal; nil if h has
// nothing to break that way.
func corrupt(r *rand.Rand, h checker.History, kind int) (checker.History, bool) {
	pick := func(f func(e *checker.Event) bool) int {
		var is []int
		for i := range h {
			if f(&h[i]) {
				is = append(is, i)
			}
		}
		if len(is) == 0 {
			return -1
		}
		return is[r.IntN(len(is))]
	}
	posted := pick(func(e *checker.Event) bool { return e.Kind == checker.EvPostOK })
	if posted < 0 {
		return nil, false
	}
	b := slices.Clone(h)
	// move takes event i to just after event k > i, at k's time.
	move := func(i, k int) {
		e := b[i]
		copy(b[i:k], b[i+1:k+1])
		e.T = b[k-1].T
		b[k] = e
	}
	switch kind {
	case 0:
		i := pick(func(e *checker.Event) bool { return e.Kind == checker.EvControl && e.Name == checker.CtlOnline })
		if i < 0 {
			return nil, false
		}
		b[i].Seq = h[posted].Seq
	case 1:
		i := pick(func(e *checker.Event) bool { return e.Kind == checker.EvDeliver })
		if i < 0 {
			return nil, false
		}
		b[i].Seq = h[posted].Seq
	case 2:
		// Not past the next post: its post_ok would then answer this post's call.
		k := posted
		for k+1 < len(h) && h[k+1].Kind != checker.EvPost && h[k+1].Kind != checker.EvPostOK && k-posted < 40 {
			k++
		}
		move(posted, posted+r.IntN(k-posted+1))
		return b, true
	case 3:
		i := pick(func(e *checker.Event) bool { return e.Kind == checker.EvPost })
		if i < 0 {
			return nil, false
		}
		move(i, i+r.IntN(min(len(h)-i, 40)))
	}
	return b, false
}
