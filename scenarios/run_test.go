package scenarios

import (
	"testing"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/reference"
)

// A run goes on after its plan until a whole liveness bound passed quietly, so a catalogue plan
// that ends soon after its last open still has its liveness judged: a client that reports
// Online after the bound is caught there, and the reference passes.
func TestRunSettlesPastThePlan(t *testing.T) {
	s, _ := Lookup("test_recent")
	p := s.Build(1)
	boundNs := DefaultLivenessBoundUs * 1000
	if p.LivenessBoundUs != 0 || (p.lastEventUs()+DefaultLivenessBoundUs)*1000 <= p.DurationUs*1000 {
		t.Fatalf("test_recent is not a short plan with the default bound: %+v", p)
	}
	out, err := Run(p, 1, Options{})
	if err != nil || len(out.Result.Violations) != 0 {
		t.Fatalf("the reference: %v %v", err, out.Result.Violations)
	}
	last := out.History[len(out.History)-1].T
	if out.SimNs < last+boundNs {
		t.Errorf("the run stopped at %d ns, less than a bound after its last event at %d ns", out.SimNs, last)
	}
	m, _ := reference.MutantByName("online-waits-live")
	bad, err := Run(p, 1, Options{Bugs: m.Bug})
	if err != nil {
		t.Fatal(err)
	}
	if len(bad.Result.Violations) == 0 || bad.Result.Violations[0].Property != checker.PropLiveness {
		t.Fatalf("online-waits-live: violations %+v, want liveness", bad.Result.Violations)
	}
}

// A network that never quiets within the run's bound still stops: a big history read over a
// slow link keeps sending for minutes, and the run ends maxSettleWindows bounds after the plan.
func TestRunSettlingIsBounded(t *testing.T) {
	p := Plan{
		Name: "slow_history", DurationUs: 1000, LivenessBoundUs: 1000,
		Net:     NetPlan{Request: Link{BandwidthBytesPerSec: 1_000_000}},
		Clients: []ClientPlan{{Name: "c1", OpenAtUs: 500, Mode: checker.ModeSeq.String()}},
	}
	for i := range 500 {
		p.Posts = append(p.Posts, Post{Seq: int64(i), SizeBytes: 8000})
	}
	out, err := Run(p, 1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if limit := (p.DurationUs + maxSettleWindows*p.LivenessBoundUs) * 1000; out.SimNs != limit {
		t.Fatalf("the run stopped at %d ns, want %d: the plan's end and %d bounds", out.SimNs, limit, maxSettleWindows)
	}
}

// Malformed input is the cause the history shows for a loud failure, so progress accepts it:
// an initial open over the old protocol, which the client refuses, and a request with a
// wrong version, which the server refuses.
func TestProgressSeesMalformedInput(t *testing.T) {
	for _, c := range []ClientPlan{
		{Name: "c1", OpenAtUs: 500, Mode: checker.ModeInitial.String(), Protocol: "old"},
		{Name: "c1", OpenAtUs: 500, Mode: checker.ModeSeq.String(), RequestVersion: 3},
	} {
		p := Plan{Name: "bad_input", DurationUs: 1000, Posts: steady(0, 5, 100), Clients: []ClientPlan{c}}
		out, err := Run(p, 1, Options{})
		if err != nil {
			t.Fatal(err)
		}
		failed := false
		for _, e := range out.History {
			failed = failed || e.Kind == checker.EvState && e.State == checker.StError
		}
		if !failed || len(out.Result.Violations) != 0 {
			t.Errorf("%+v: failed %v, violations %+v; want a failure and none", c, failed, out.Result.Violations)
		}
	}
}

// The client applications here and in validate record the reference's modes and states in a
// history by name: each one they record must be one the history knows, under the same name.
func TestReferenceModesAndStatesHaveHistoryNames(t *testing.T) {
	for m := reference.ModeOnline; m <= reference.ModeLast; m++ {
		if hm, ok := checker.ParseMode(m.String()); !ok || hm.String() != m.String() {
			t.Errorf("mode %s: the history reads %q (%v)", m, hm, ok)
		}
	}
	for _, s := range []reference.State{reference.StateActive, reference.StateError, reference.StateClosed} {
		if hs, ok := checker.ParseState(s.String()); !ok || hs.String() != s.String() {
			t.Errorf("state %s: the history reads %q (%v)", s, hs, ok)
		}
	}
}

// A client reopens from the last seq it delivered, seq-data, or with the plan's own open while
// it has delivered nothing.
func TestClientPlanResume(t *testing.T) {
	c := ClientPlan{Mode: "seq", Seq: 7}
	if m, seq := c.Resume(false, 40); m != reference.ModeSeq || seq != 7 {
		t.Errorf("nothing delivered: %s %d, want the plan's seq 7", m, seq)
	}
	if m, seq := c.Resume(true, 40); m != reference.ModeSeqData || seq != 40 {
		t.Errorf("40 delivered: %s %d, want seq-data 40", m, seq)
	}
}
