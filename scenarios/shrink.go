package scenarios

import (
	"fmt"

	"github.com/streamsim/streamsim/checker"
)

// Shrunk is the outcome of minimising a failing plan.
type Shrunk struct {
	Plan       Plan
	BeforeSize int
	AfterSize  int
	Runs       int               // simulations run while shrinking
	Violation  checker.Violation // the first violation the minimal plan still shows
}

// DefaultShrinkRuns bounds a shrink by the number of simulations rather than by wall time, so
// the minimal plan is the same on any machine.
const DefaultShrinkRuns = 5000

// Shrink minimises p while it keeps violating the property it violates now, with the same
// seed. It takes the first smaller candidate that still fails and starts over from it, until
// no candidate fails or maxRuns simulations have run. The result is deterministic.
func Shrink(p Plan, seed uint64, opt Options, maxRuns int) (Shrunk, error) {
	if maxRuns <= 0 {
		maxRuns = DefaultShrinkRuns
	}
	out, err := RunSafely(p, seed, opt)
	if err != nil {
		return Shrunk{}, err
	}
	if len(out.Result.Violations) == 0 {
		return Shrunk{}, fmt.Errorf("plan %s seed %d violates nothing; there is nothing to shrink", p.Name, seed)
	}
	want := out.Result.Violations[0].Property
	res := Shrunk{Plan: p, BeforeSize: p.Size(), Runs: 1, Violation: out.Result.Violations[0]}
	fails := func(q Plan) (checker.Violation, bool) {
		res.Runs++
		o, err := RunSafely(q, seed, opt)
		if err != nil {
			return checker.Violation{}, false
		}
		for _, v := range o.Result.Violations {
			if v.Property == want {
				return v, true
			}
		}
		return checker.Violation{}, false
	}
	for progress := true; progress && res.Runs < maxRuns; {
		progress = false
		next := PlanShrinker(res.Plan)
		for c, ok := next(); ok && res.Runs < maxRuns; c, ok = next() {
			if v, bad := fails(c.(Plan)); bad {
				res.Plan, res.Violation, progress = c.(Plan), v, true
				break
			}
		}
	}
	res.AfterSize = res.Plan.Size()
	return res, nil
}
