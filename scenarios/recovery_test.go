package scenarios

import (
	"testing"

	"github.com/streamsim/streamsim/reference"
)

// The recovery properties catch what they are for: a reopen that repeats the last message
// breaks resume, and a server that acknowledges before it syncs breaks durable. The correct
// reference passes the same plans.
func TestRecoveryBugsAreCaught(t *testing.T) {
	for _, tc := range []struct {
		scenario, mutant, property string
	}{
		{"reopen_after_reset", "reopen-inclusive", "resume"},
		{"server_crash_restart", "ack-before-sync", "durable"},
	} {
		s, _ := Lookup(tc.scenario)
		m, _ := reference.MutantByName(tc.mutant)
		caught := false
		for seed := uint64(1); seed <= 20 && !caught; seed++ {
			clean, err := Run(s.Build(seed), seed, Options{})
			if err != nil || len(clean.Result.Violations) != 0 {
				t.Fatalf("%s seed %d: the reference fails: %v %v", tc.scenario, seed, err, clean.Result.Violations)
			}
			out, err := Run(s.Build(seed), seed, Options{Bugs: m.Bug})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range out.Result.Violations {
				caught = caught || v.Property == tc.property
			}
		}
		if !caught {
			t.Errorf("%s on %s: no %s violation in 20 seeds", tc.mutant, tc.scenario, tc.property)
		}
	}
}

// chaos seed 6968 once panicked in netsim: a partition extended after its idle-timeout
// deadline had passed scheduled the reset in the past. Overdue now means at once.
func TestChaosSeed6968(t *testing.T) {
	s, _ := Lookup("chaos")
	out, err := Run(s.Build(6968), 6968, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Result.Violations) != 0 {
		t.Fatalf("violations: %v", out.Result.Violations)
	}
}
