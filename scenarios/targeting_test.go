package scenarios

import "testing"

// Aiming faults at protocol phases puts most of them at the handover, where uniform times put
// few: on the same seeds, at least half of the targeted faults land within 8 messages of a
// handover of the client they hit, and more than of the uniform ones.
func TestTargetedFaultsLandAtTheHandover(t *testing.T) {
	share := func(name string) (float64, int) {
		s, _ := Lookup(name)
		near, total := 0, 0
		for seed := uint64(1); seed <= 200; seed++ {
			out, err := Run(s.Build(seed), seed, Options{NoFresh: true})
			if err != nil {
				t.Fatalf("%s seed %d: %v", name, seed, err)
			}
			n, tot := NearHandover(out.History, 8)
			near, total = near+n, total+tot
		}
		return float64(near) / float64(max(total, 1)), total
	}
	uniform, nu := share("chaos")
	targeted, nt := share("chaos_targeted")
	t.Logf("faults within ±8 messages of a handover over 200 seeds: uniform %.1f%% of %d, targeted %.1f%% of %d", 100*uniform, nu, 100*targeted, nt)
	if targeted < 0.5 || targeted <= uniform {
		t.Fatalf("targeted %.2f, uniform %.2f: want targeted ≥ 0.5 and above uniform", targeted, uniform)
	}
}
