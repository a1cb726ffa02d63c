package scenarios

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/streamsim/streamsim/checker"
)

// fanoutPlan is one server publishing posts live to eight clients that subscribed early, with
// no faults: the throughput of the simulator itself.
func fanoutPlan(posts int) Plan {
	p := Plan{Name: "fanout", Net: NetPlan{Online: Link{LatencyUs: 50}, Request: Link{LatencyUs: 50}}}
	for i := range 8 {
		p.Clients = append(p.Clients, ClientPlan{Name: fmt.Sprintf("c%d", i+1), OpenAtUs: 0, Mode: "seq", Seq: 0})
	}
	p.Posts = append(p.Posts, Post{AtUs: 0, Seq: 0, SizeBytes: 64})
	for i := 1; i < posts; i++ {
		p.Posts = append(p.Posts, Post{AtUs: 1000 + int64(i), Seq: int64(i), SizeBytes: 64})
	}
	p.DurationUs = int64(posts) + 10_000
	return p
}

// BenchmarkFanout8 reports simulated messages delivered per wall-clock second: simulator,
// network, reference server and clients, history recording and the linear validators, with
// the garbage collector set as simrun runs it (simrunGC) and each history's array recycled
// as a campaign recycles it.
func BenchmarkFanout8(b *testing.B) { benchFanout(b, Options{NoFresh: true}) }

// BenchmarkFanout8Fresh is the same with the fresh sweep, as campaigns run it.
func BenchmarkFanout8Fresh(b *testing.B) { benchFanout(b, Options{}) }

// simrunGC sets the garbage collector for the rest of the benchmark as simrun runs campaigns
// (tuneGC in cmd/simrun: GOGC 400 and a 2 GiB soft limit), so the figures are a campaign's.
// A run keeps its history, tens of megabytes here, until it is judged; at the default GOGC
// the collector rescans it several times per run.
func simrunGC(b *testing.B) {
	gc, limit := debug.SetGCPercent(400), debug.SetMemoryLimit(2<<30)
	b.Cleanup(func() {
		debug.SetGCPercent(gc)
		debug.SetMemoryLimit(limit)
	})
}

func benchFanout(b *testing.B, opt Options) {
	simrunGC(b)
	p := fanoutPlan(20_000)
	var delivered int64
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		out, err := Run(p, uint64(i), opt)
		if err != nil {
			b.Fatal(err)
		}
		if len(out.Result.Violations) > 0 || out.Delivered != 8*20_000 {
			b.Fatalf("delivered %d, violations %v", out.Delivered, out.Result.Violations)
		}
		delivered += out.Delivered
		recycle(out.History)
	}
	b.ReportMetric(float64(delivered)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkRandom reports seeds per second of the random scenario, the unit of a campaign, with
// the garbage collector set as simrun runs it (simrunGC) and histories recycled as a campaign
// recycles them.
func BenchmarkRandom(b *testing.B) {
	simrunGC(b)
	s, _ := Lookup("random")
	var seeds int
	for i := 0; b.Loop(); i++ {
		out, err := Run(s.Build(uint64(i)), uint64(i), Options{})
		if err != nil {
			b.Fatal(err)
		}
		recycle(out.History)
		seeds++
	}
	b.ReportMetric(float64(seeds)/b.Elapsed().Seconds(), "seeds/s")
}

// BenchmarkBody60K is the cost of generating one 60 KiB message body, which dominates runs of
// large messages.
func BenchmarkBody60K(b *testing.B) {
	b.SetBytes(60 << 10)
	for i := 0; b.Loop(); i++ {
		body(int64(i), 7, 60<<10)
	}
}

// TestFreshMillionPosts: a healthy run of 1M posts to 8 clients gets a verdict on every
// property, fresh included, and it is a pass.
func TestFreshMillionPosts(t *testing.T) {
	if testing.Short() {
		t.Skip("campaign-sized: make test runs it without -race")
	}
	const posts = 1_000_000
	out, err := Run(fanoutPlan(posts), 1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Delivered != 8*posts || len(out.Result.Violations) > 0 || out.Fresh.Verdict != checker.VerdictOK || out.Fresh.Sessions != 8 {
		t.Fatalf("delivered %d, fresh %q on %d sessions, violations %v", out.Delivered, out.Fresh.Verdict, out.Fresh.Sessions, out.Result.Violations)
	}
}

// BenchmarkRetained reports the heap a finished run keeps per delivered message: its history
// and verdicts, as a campaign holds them until it reports.
func BenchmarkRetained(b *testing.B) {
	p := fanoutPlan(20_000)
	var perDelivery float64
	for i := 0; b.Loop(); i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		out, err := Run(p, uint64(i), Options{})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perDelivery = float64(after.HeapAlloc-before.HeapAlloc) / float64(out.Delivered)
		runtime.KeepAlive(out)
	}
	b.ReportMetric(perDelivery, "B/delivery")
}
