package checker_test

import (
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/scenarios"
)

// separately is what Judge replaces: the four checks one after the other, each with its own
// passes over the history.
func separately(h checker.History, opt checker.JudgeOptions) (checker.Result, checker.LinResult, error) {
	res, err := checker.Check(h)
	if err != nil {
		return checker.Result{}, checker.LinResult{}, err
	}
	res.Violations = append(res.Violations, checker.CheckLiveness(h, opt.Liveness)...)
	res.Violations = append(res.Violations, checker.CheckProgress(h, opt.Progress)...)
	var lin checker.LinResult
	if !opt.NoFresh {
		lin = checker.CheckFresh(h)
		res.Violations = append(res.Violations, lin.Violations(h)...)
	}
	return res, lin, nil
}

// judgeOptions are the ways a history is judged here: calm or not, with and without fresh,
// every post owed or sessions only, and with a bound so tight that liveness fails often, so
// that its verdicts depend on where the faults are.
func judgeOptions(boundNs int64) []checker.JudgeOptions {
	opts := []checker.JudgeOptions{{
		Liveness: checker.LivenessOptions{BoundNs: boundNs / 100, Calm: true},
		Progress: checker.ProgressOptions{Calm: true, HandshakeNs: boundNs / 100},
	}}
	for _, calm := range []bool{true, false} {
		opts = append(opts,
			checker.JudgeOptions{
				Liveness: checker.LivenessOptions{BoundNs: boundNs, Calm: calm},
				Progress: checker.ProgressOptions{Calm: calm, HandshakeNs: reference.DefaultHandshakeTimeoutNs},
			},
			checker.JudgeOptions{
				Liveness: checker.LivenessOptions{BoundNs: boundNs / 4, SessionsOnly: !calm, Calm: calm},
				Progress: checker.ProgressOptions{Calm: calm},
				NoFresh:  true,
			})
	}
	return opts
}

// sameAsSeparately fails t unless Judge says of h exactly what the four checks say, and
// returns which properties were violated and whether h was malformed.
func sameAsSeparately(t *testing.T, what string, h checker.History, opts []checker.JudgeOptions) (props map[string]bool, malformed bool) {
	t.Helper()
	props = make(map[string]bool)
	for _, opt := range opts {
		res, lin, err := checker.Judge(h, opt)
		wantRes, wantLin, wantErr := separately(h, opt)
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Errorf("%s %+v: Judge's error %v, separately %v", what, opt, err, wantErr)
			continue
		}
		malformed = err != nil
		if !reflect.DeepEqual(res, wantRes) {
			t.Errorf("%s %+v: Judge's result\n%+v\nseparately\n%+v", what, opt, res, wantRes)
		}
		if !reflect.DeepEqual(lin, wantLin) {
			t.Errorf("%s %+v: Judge's fresh verdict\n%+v\nseparately\n%+v", what, opt, lin, wantLin)
		}
		for _, v := range res.Violations {
			props[v.Property] = true
		}
	}
	return props, malformed
}

// TestJudgeAgreesWithTheSeparateChecks: on the catalogue's histories, with every planted bug,
// and on histories made malformed, Judge's one pair of passes gives the verdicts of Check,
// CheckLiveness, CheckProgress and CheckFresh, in the same order, and the same errors. The
// histories must break every property, or the comparison would test too little.
func TestJudgeAgreesWithTheSeparateChecks(t *testing.T) {
	// Under -short (and the race detector) one seed, and each planted bug in a quarter of the
	// scenarios, a different quarter for the next bug.
	seeds, every := uint64(2), 1
	if testing.Short() {
		seeds, every = 1, 4
	}
	bugs := []reference.Bugs{0}
	for _, m := range reference.Mutants() {
		bugs = append(bugs, m.Bug)
	}
	var jobs []job
	for b, bug := range bugs {
		for k, s := range scenarios.Catalogue() {
			if bug != 0 && (k+b)%every != 0 {
				continue
			}
			for seed := range seeds {
				jobs = append(jobs, job{scenario: s, seed: seed, bugs: bug})
			}
		}
	}
	var mu sync.Mutex
	broken := make(map[string]bool)
	malformed := 0
	forRuns(t, jobs, func(j job, h checker.History) {
		// The copies below are judged fewer ways: a malformed history's error is Check's
		// whatever the options, and the corrupted ones are for fresh and Check.
		opts := judgeOptions(scenarios.DefaultLivenessBoundUs * 1000)
		props, _ := sameAsSeparately(t, j.scenario.Name, h, opts)
		// No planted bug delivers after an end: a copy gets the last delivery again after a
		// close of its session.
		for k := len(h) - 1; k >= 0; k-- {
			if h[k].Kind == checker.EvDeliver {
				closed := h[k]
				closed.T, closed.Kind = h[len(h)-1].T, checker.EvClose
				late := append(append(append(checker.History(nil), h...), closed), h[k])
				late[len(late)-1].T = closed.T
				more, _ := sameAsSeparately(t, j.scenario.Name+" after end", late, opts[:1])
				for p := range more {
					props[p] = true
				}
				break
			}
		}
		// Copies broken the ways the fresh differential test breaks them: Onlines and
		// deliveries naming other seqs, posts and post_oks moved, which fresh judges by when
		// each post began.
		r := rand.New(rand.NewPCG(j.seed, 11))
		for kind := range 4 {
			if broken, _ := corrupt(r, h, kind); broken != nil {
				more, _ := sameAsSeparately(t, j.scenario.Name+" corrupted", broken, opts[:2])
				for p := range more {
					props[p] = true
				}
			}
		}
		// Malformed copies: time going back, and an event of a session never opened, both
		// after some of the history was judged, so the second passes have state to lose.
		var bad int
		if n := len(h); n > 4 {
			back := append(checker.History(nil), h...)
			back[n/2].T = -1
			_, m1 := sameAsSeparately(t, j.scenario.Name+" time back", back, opts[:1])
			orphan := append(checker.History(nil), h...)
			orphan[n*3/4].Session, orphan[n*3/4].Kind = 1<<40, checker.EvClose
			_, m2 := sameAsSeparately(t, j.scenario.Name+" orphan", orphan, opts[:1])
			bad = btoi(m1) + btoi(m2)
		}
		mu.Lock()
		for p := range props {
			broken[p] = true
		}
		malformed += bad
		mu.Unlock()
	})
	for _, p := range checker.Properties() {
		if !broken[p.Name] {
			t.Errorf("no history broke %s: Judge was not compared on it", p.Name)
		}
	}
	if malformed == 0 {
		t.Errorf("no malformed history: Judge's errors were not compared")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
