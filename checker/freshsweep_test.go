package checker

import (
	"fmt"
	"slices"
	"testing"
)

// overlapHistory is n posts by one server with w in flight at every instant, as a server that
// acknowledges late shows them: post k begins at step k and is acknowledged at step k+w. One
// session, opened first, receives seq k at step k+w/2, while its post is still in flight.
// With bad, the delivery at step bad is of seq bad+1, whose post begins at the next step: one
// illegal delivery. Porcupine's search of this shape grew as 0.55 s at w = 8, 4.1 s at
// w = 12 and 6.5 s at w = 14 for n = 1,000, and gave up past 14.
func overlapHistory(n, w, bad int) History {
	h := make(History, 0, 3*n+1)
	add := func(e Event) {
		e.T = int64(len(h))
		h = append(h, e)
	}
	msg := func(kind Kind, node string, session int64, seq int) Event {
		return Event{Node: node, Session: session, Kind: kind, Seq: int64(seq), MsgID: testMsgID, Sum: testSum(int64(seq))}
	}
	add(Event{Node: "c1", Session: 1, Kind: EvOpen, Mode: ModeOnline})
	for k := range n + w {
		if k < n {
			add(msg(EvPost, "srv", 0, k))
		}
		switch d := k - w/2; {
		case k == bad && k+1 < n:
			add(msg(EvDeliver, "c1", 1, k+1))
		case d >= 0 && d < n:
			add(msg(EvDeliver, "c1", 1, d))
		}
		if k >= w {
			add(msg(EvPostOK, "srv", 0, k-w))
		}
	}
	return h
}

func TestFreshOverlappingPosts(t *testing.T) {
	ok := overlapHistory(10_000, 64, -2)
	if res := CheckFresh(ok); res.Verdict != VerdictOK {
		t.Fatalf("64 posts in flight, every delivery after its post began: %q, want ok", res.Verdict)
	}
	bad := overlapHistory(10_000, 64, 5000)
	res := CheckFresh(bad)
	vs := res.Violations(bad)
	if res.Verdict != VerdictIllegal || len(vs) != 1 || bad[vs[0].Index].Seq != 5001 {
		t.Fatalf("64 posts in flight, seq 5001 delivered before its post began: %q, %+v; want that delivery blamed", res.Verdict, vs)
	}
	// Porcupine decides small ones: it must agree wherever the bad delivery sits.
	for w := 1; w <= 4; w++ {
		for at := -2; at < 24; at++ {
			h := overlapHistory(24, w, at)
			illegal, unknown := porcupineFresh(h, minWindow, 0)
			if got := CheckFresh(h).Illegal; !slices.Equal(got, illegal) || len(unknown) > 0 {
				t.Fatalf("w=%d bad at %d: the sweep finds %v illegal, porcupine %v", w, at, got, illegal)
			}
		}
	}
}

// BenchmarkFreshOverlap judges illegal histories with w posts in flight at every instant, which
// take porcupine's search exponential time in w.
func BenchmarkFreshOverlap(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		for _, w := range []int{8, 14, 64} {
			b.Run(fmt.Sprintf("n=%d/w=%d", n, w), func(b *testing.B) {
				h := overlapHistory(n, w, n/2)
				b.ReportAllocs()
				for b.Loop() {
					if res := CheckFresh(h); res.Verdict != VerdictIllegal {
						b.Fatalf("judged %q, want illegal", res.Verdict)
					}
				}
			})
		}
	}
}
