package scenarios

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/streamsim/streamsim/reference"
)

func TestBodyIsDrawnFromSeqAndFill(t *testing.T) {
	for _, size := range []int{0, 1, 7, 8, 9, 60 << 10} {
		a := body(5, 9, size)
		if len(a) != size || !bytes.Equal(a, body(5, 9, size)) {
			t.Fatalf("size %d: got %d bytes, or two calls differ", size, len(a))
		}
		if size >= 8 && (bytes.Equal(a, body(5, 10, size)) || bytes.Equal(a, body(6, 9, size)) || bytes.Equal(a, body(9, 5, size))) {
			t.Fatalf("size %d: another seq or fill gives the same body", size)
		}
	}
	// The tail of a body whose size is no multiple of 8 is random too, not zeros.
	if b := body(1, 2, 15); bytes.Equal(b[8:], make([]byte, 7)) {
		t.Fatalf("tail is zeros: %x", b)
	}
}

// Every generated and catalogue plan draws msgids and contents from its seed: a client that
// loses the msgid must be seen.
func TestPlansVaryMsgIDsAndBodies(t *testing.T) {
	for _, s := range Catalogue() {
		a, b := s.Build(1), s.Build(2)
		if len(a.Posts) < 2 {
			continue
		}
		msgids, fills := map[int32]bool{}, map[uint64]bool{}
		for _, p := range a.Posts {
			msgids[p.MsgID], fills[p.Fill] = true, true
		}
		if len(msgids) < 2 || len(fills) < 2 {
			t.Errorf("%s seed 1: %d distinct msgids, %d fills over %d posts", s.Name, len(msgids), len(fills), len(a.Posts))
		}
		if !s.Generated && (a.Posts[0].MsgID == b.Posts[0].MsgID || a.Posts[0].Seq != b.Posts[0].Seq) {
			t.Errorf("%s: seeds 1 and 2 should differ in msgid and agree in seq: %+v %+v", s.Name, a.Posts[0], b.Posts[0])
		}
	}
}

// panicWriter makes a run panic from inside the simulation, as a broken implementation would.
type panicWriter struct{}

func (panicWriter) Write([]byte) (int, error) { panic("planted panic") }

// A panicking run is a reported failure everywhere a run is made: campaign, shrink, replay.
func TestPanickingRunIsAFailure(t *testing.T) {
	s, _ := Lookup("test_open_seq")
	opt := Options{Trace: panicWriter{}}
	rep := Campaign{Scenario: s, FirstSeed: 1, Seeds: 3, Parallel: 2, Options: opt}.Run()
	if len(rep.Failures) != 3 || rep.Failures[0].Err == nil || !strings.Contains(rep.Failures[0].Err.Error(), "seed 1 panicked: planted panic") {
		t.Fatalf("campaign failures %+v", rep.Failures)
	}
	if _, err := RunSafely(s.Build(2), 2, opt); err == nil || !strings.Contains(err.Error(), "seed 2 panicked") {
		t.Fatalf("RunSafely: %v", err)
	}
	if _, err := Shrink(s.Build(2), 2, opt, 10); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("Shrink: %v", err)
	}
	if out, err := RunSafely(s.Build(2), 2, Options{}); err != nil || len(out.Result.Violations) != 0 {
		t.Fatalf("without the panic: %v %v", err, out.Result.Violations)
	}
}

// Seeds are streamed: a campaign of a trillion seeds stopped after a few allocates no more than
// one of a few seeds, where handing out indices up front needed memory for every seed.
func TestCampaignMemoryIndependentOfSeeds(t *testing.T) {
	s, _ := Lookup("test_open_seq")
	alloc := func(seeds int) (uint64, Report) {
		stop := make(chan struct{})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		rep := Campaign{Scenario: s, FirstSeed: 1, Seeds: seeds, Parallel: 2, Stop: stop, Progress: func(done, _ int) {
			if done == 20 {
				close(stop)
			}
		}}.Run()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, rep
	}
	small, _ := alloc(25)
	huge, rep := alloc(1 << 40)
	// Two seeds may be running when it stops, and one handed out as it stops.
	if rep.Seeds < 20 || rep.Seeds > 23 || rep.Violations != 0 {
		t.Fatalf("stopped campaign ran %d seeds with %d violations; want 20 to 23 seeds", rep.Seeds, rep.Violations)
	}
	if huge > 2*small+1<<20 {
		t.Fatalf("a campaign of 2^40 seeds allocated %d bytes for 20 runs; one of 25 seeds %d", huge, small)
	}
}

// A campaign keeps the lowest failing seeds, in order, and counts them all.
func TestCampaignKeepsTheLowestFailures(t *testing.T) {
	s, _ := Lookup("test_overlapped")
	mu, _ := reference.MutantByName("no-drain")
	rep := Campaign{Scenario: s, FirstSeed: 10, Seeds: 12, Parallel: 3, KeepFailures: 4, Options: Options{Bugs: mu.Bug}}.Run()
	if rep.Failed != 12 || len(rep.Failures) != 4 {
		t.Fatalf("%d failed, %d kept; want 12 and 4", rep.Failed, len(rep.Failures))
	}
	for i, f := range rep.Failures {
		if f.Seed != 10+uint64(i) || len(f.Outcome.Result.Violations) == 0 {
			t.Fatalf("kept failure %d is seed %d with %d violations", i, f.Seed, len(f.Outcome.Result.Violations))
		}
	}
}

// BenchmarkCampaignSetup is what a campaign costs before its first seed runs, for 100 and a
// billion seeds: the allocations must not grow with the number.
func BenchmarkCampaignSetup(b *testing.B) {
	s, _ := Lookup("test_open_seq")
	stop := make(chan struct{})
	close(stop)
	for _, n := range []int{100, 1_000_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Campaign{Scenario: s, Seeds: n, Parallel: 2, Stop: stop}.Run()
			}
		})
	}
}

// chaos_targeted aims server crashes at a client's phase and keeps them server crashes, so a
// server crash during a history read is reached.
func TestTargetedServerCrashesStayServerCrashes(t *testing.T) {
	s, _ := Lookup("chaos_targeted")
	aimed := 0
	for seed := uint64(1); seed <= 50; seed++ {
		for _, f := range s.Build(seed).Faults {
			if f.Client == ServerName {
				if f.Kind != FaultCrash || f.Trigger == "" || f.On == "" {
					t.Fatalf("seed %d: server fault %+v is not a crash aimed at a client's phase", seed, f)
				}
				aimed++
			}
		}
	}
	if aimed == 0 {
		t.Fatal("50 chaos_targeted plans crash the server not once")
	}
	p := s.Build(1)
	p.Faults = []Fault{{Trigger: "reply", Kind: FaultCrash, Client: ServerName, DurationUs: 100}}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "needs on") {
		t.Fatalf("a triggered server crash without on: %v", err)
	}
	p.Faults[0].On = "nobody"
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), `on "nobody"`) {
		t.Fatalf("a fault on an unknown client: %v", err)
	}
}
