package netsim

import (
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/streamsim/streamsim/reference"
)

// pacer writes count numbered writes of size bytes on one connection, one every gapNs, and
// records when each was sent. Byte 0-3 of write i hold counter(i).
type pacer struct {
	f      *fakeNode
	c      reference.ConnID
	count  int
	size   int
	gapNs  int64
	sentNs []int64
	before func() // runs before each write, e.g. to sample Pending
}

func (p *pacer) tick(uint64) {
	if len(p.sentNs) == p.count {
		return
	}
	if p.before != nil {
		p.before()
	}
	b := make([]byte, max(p.size, 4))
	copy(b, counter(len(p.sentNs)))
	p.sentNs = append(p.sentNs, p.f.env.Now())
	p.f.env.Send(p.c, b)
	if len(p.sentNs) < p.count {
		p.f.env.SetTimer(p.gapNs, 0)
	}
}

// clientPacer dials ch and writes once connected.
func clientPacer(f *fakeNode, ch reference.Channel, count int, gapNs int64) *pacer {
	p := &pacer{f: f, count: count, gapNs: gapNs}
	f.onConnected = func(reference.ConnID) { f.env.SetTimer(0, 0) }
	f.onTimer = p.tick
	p.c = f.env.Dial(ch)
	return p
}

// serverPacer writes on the first connection the server accepts.
func serverPacer(w *world, count, size int, gapNs int64) *pacer {
	p := &pacer{f: w.server, count: count, size: size, gapNs: gapNs}
	w.server.onAccepted = func(c reference.ConnID, _ reference.Channel) {
		if p.c == 0 {
			p.c = c
			w.server.env.SetTimer(0, 0)
		}
	}
	w.server.onTimer = p.tick
	return p
}

// recvs returns the data events f got on c.
func recvs(f *fakeNode, c reference.ConnID) []ev {
	var out []ev
	for _, e := range f.on(c) {
		if e.kind == "recv" {
			out = append(out, e)
		}
	}
	return out
}

// delays returns, per write of p, how long after sending it was received; writes are never
// segmented here, so the i-th delivery is the i-th write.
func delays(t *testing.T, p *pacer, to *fakeNode) []int64 {
	t.Helper()
	got := recvs(to, p.c)
	if len(got) != len(p.sentNs) {
		t.Fatalf("%d deliveries for %d writes", len(got), len(p.sentNs))
	}
	out := make([]int64, len(got))
	for i, e := range got {
		out[i] = e.atNs - p.sentNs[i]
	}
	return out
}

func lastEvent(t *testing.T, f *fakeNode, c reference.ConnID) ev {
	t.Helper()
	log := f.on(c)
	if len(log) == 0 {
		t.Fatalf("no events on conn %d", c)
	}
	return log[len(log)-1]
}

func mustClose(t *testing.T, who string, e ev, atNs int64, err error) {
	t.Helper()
	if e.kind != "closed" || e.err != err || e.atNs != atNs {
		t.Fatalf("%s: last event %s at %d ns (err %v), want closed at %d ns with %v", who, e.kind, e.atNs, e.err, atNs, err)
	}
}

// Each latency distribution has its shape: fixed is constant, uniform stays within its range,
// exponential averages LatencyNs+JitterNs with a long tail (about 63% of draws below the
// mean, where uniform has half).
func TestLatencyDistributions(t *testing.T) {
	cases := []struct {
		dist            LatencyDist
		jitterNs        int64
		meanNs, maxNs   int64 // maxNs 0: unbounded
		belowMean, tail float64
	}{
		{LatencyFixed, 0, 1 * ms, 1 * ms, 0, 0},
		{LatencyUniform, 2 * ms, 2 * ms, 3 * ms, 0.5, 0},
		{LatencyExponential, 2 * ms, 3 * ms, 0, 1 - math.Exp(-1), math.Exp(-4)},
	}
	for _, tc := range cases {
		t.Run(tc.dist.String(), func(t *testing.T) {
			w := newWorld(21)
			w.n.SetLink(reference.ChanOnline, ClientToServer, LinkConfig{LatencyDist: tc.dist, LatencyNs: ms, JitterNs: tc.jitterNs})
			const writes = 2000
			// Writes far apart, so that no delivery waits for the previous one.
			p := clientPacer(w.client("c1"), reference.ChanOnline, writes, 50*ms)
			w.k.Run(writes * 50 * ms)
			d := delays(t, p, w.server)
			var sum float64
			below, tail := 0, 0
			for _, x := range d {
				sum += float64(x)
				if x < ms {
					t.Fatalf("delay %d ns below LatencyNs", x)
				}
				if tc.maxNs != 0 && x > tc.maxNs {
					t.Fatalf("delay %d ns above %d", x, tc.maxNs)
				}
				if x < tc.meanNs {
					below++
				}
				if x > ms+4*tc.jitterNs {
					tail++
				}
			}
			mean := sum / writes
			if math.Abs(mean-float64(tc.meanNs)) > 0.05*float64(tc.meanNs) {
				t.Fatalf("mean delay %.0f ns, want %d ± 5%%", mean, tc.meanNs)
			}
			if (slices.Min(d) == slices.Max(d)) != (tc.jitterNs == 0) {
				t.Fatalf("delays from %d to %d ns with JitterNs %d", slices.Min(d), slices.Max(d), tc.jitterNs)
			}
			if tc.belowMean > 0 && math.Abs(float64(below)/writes-tc.belowMean) > 0.04 {
				t.Fatalf("%.3f of delays below the mean, want %.3f", float64(below)/writes, tc.belowMean)
			}
			if tc.tail > 0 && (tail == 0 || math.Abs(float64(tail)/writes-tc.tail) > 0.01) {
				t.Fatalf("%d delays beyond 4 means, want about %.0f", tail, tc.tail*writes)
			}
		})
	}
}

// A bandwidth limit sends writes one after another, so a burst arrives spread out by each
// write's transmission time, and Pending shows the bytes still waiting.
func TestBandwidth(t *testing.T) {
	w := newWorld(22)
	symmetric(w.n, reference.ChanOnline, LinkConfig{LatencyNs: ms})
	w.n.SetLink(reference.ChanOnline, ServerToClient, LinkConfig{LatencyNs: ms, BandwidthBytesPerSec: 1_000_000})
	var sc reference.ConnID
	var pending []int
	sample := func() { pending = append(pending, w.server.env.Pending(sc)) }
	w.server.onAccepted = func(c reference.ConnID, _ reference.Channel) {
		sc = c
		for range 10 {
			w.server.env.Send(c, make([]byte, 1000)) // 1 ms each at 1 MB/s
		}
		sample()
	}
	w.server.onTimer = func(uint64) { w.server.env.Send(sc, make([]byte, 500)) }
	cl := w.client("c1")
	c := cl.env.Dial(reference.ChanOnline)
	w.at(5*ms+500_000, sample)
	w.at(30*ms, func() { w.server.env.SetTimer(0, 0) })
	w.at(40*ms, sample)
	w.k.Run(50 * ms)

	// Accepted at 1 ms: write i leaves the sender at 1+(i+1) ms and arrives 1 ms later. The
	// write at 30 ms finds the link idle and takes only its own 0.5 ms.
	var got, want []int64
	for i, e := range recvs(cl, c) {
		got = append(got, e.atNs)
		want = append(want, int64(i+3)*ms)
	}
	want[10] = 31*ms + 500_000
	if !slices.Equal(got, want) {
		t.Fatalf("deliveries at %v, want %v", got, want)
	}
	if !slices.Equal(pending, []int{10_000, 7_000, 0}) {
		t.Fatalf("Pending %v, want [10000 7000 0]", pending)
	}
}

// Loss on a reliable link costs time, never bytes: the stream arrives whole and in order,
// retransmissions back off by doubling, and a retransmitted write holds up the writes behind
// it (they are delivered with it, not at their own time).
func TestLossOnReliableLink(t *testing.T) {
	w := newWorld(23)
	const rto = 4 * ms
	w.n.SetLink(reference.ChanOnline, ClientToServer, LinkConfig{LatencyNs: ms, LossProb: 0.3, RetransmitNs: rto})
	p := clientPacer(w.client("c1"), reference.ChanOnline, 400, 200_000)
	w.k.Run(500 * ms)

	mustEqualBytes(t, "stream", w.server.bytesOn(p.c), counters(400))
	retx := w.records(evRetx)
	if len(retx) < 100 || uint64(len(retx)) > w.n.Stats().Retransmits {
		t.Fatalf("%d retransmitted segments, %d losses: want about 30%% of 401 segments", len(retx), w.n.Stats().Retransmits)
	}
	// The delays k losses in a row add: the timer doubles from rto up to 64×rto.
	valid := map[int64]bool{}
	for k, timer, sum := 0, rto, int64(0); k < 20; k++ {
		sum += timer
		valid[sum] = true
		timer = min(2*timer, 64*rto)
	}
	backoffs := map[int64]bool{}
	for _, r := range retx {
		if !valid[r.b] {
			t.Fatalf("retransmission delay %d ns is not a sum of doubling timeouts", r.b)
		}
		backoffs[r.b] = true
	}
	if !backoffs[rto] || !backoffs[3*rto] {
		t.Fatalf("backoffs seen %v: want single and double losses", backoffs)
	}
	d := delays(t, p, w.server)
	got := recvs(w.server, p.c)
	blocked := 0
	for i := 1; i < len(got); i++ {
		if got[i].atNs < got[i-1].atNs {
			t.Fatal("deliveries out of time order")
		}
		// Write i arrives with write i-1 though it left 200 µs later: it waited behind it.
		if got[i].atNs == got[i-1].atNs && d[i-1] >= ms+rto {
			blocked++
		}
	}
	if blocked < 20 {
		t.Fatalf("%d writes delivered together with a retransmitted one before them: no head-of-line blocking", blocked)
	}
}

// A segment that keeps being lost makes the sender give up after the idle timeout, and the
// connection resets on both ends, as TCP's retransmission timeout would.
func TestLossGivesUp(t *testing.T) {
	w := newWorld(24)
	w.n.SetIdleTimeout(100 * ms)
	symmetric(w.n, reference.ChanOnline, LinkConfig{LatencyNs: ms})
	cl := w.client("c1")
	c := cl.env.Dial(reference.ChanOnline)
	w.at(5*ms, func() {
		w.n.SetClientLink("c1", reference.ChanOnline, ClientToServer, LinkConfig{LatencyNs: ms, LossProb: 1, RetransmitNs: ms})
	})
	w.at(10*ms, func() { cl.env.Send(c, []byte("lost")) })
	w.k.Run(300 * ms)

	mustClose(t, "client", lastEvent(t, cl, c), 110*ms, reference.ErrReset)
	mustClose(t, "server", lastEvent(t, w.server, c), 110*ms, reference.ErrReset)
	if got := w.server.bytesOn(c); len(got) != 0 {
		t.Fatalf("server got %q", got)
	}
	if st := w.n.Stats(); st.Timeouts != 1 {
		t.Fatalf("%d timeouts, want 1", st.Timeouts)
	}
}

// An unreliable link loses, duplicates and reorders whole messages; a write is never cut,
// and nothing is left pending.
func TestUnreliableLink(t *testing.T) {
	w := newWorld(25)
	symmetric(w.n, reference.ChanOnline, LinkConfig{LatencyNs: ms})
	w.n.SetLink(reference.ChanOnline, ServerToClient, LinkConfig{
		LatencyNs: ms, Unreliable: true, LossProb: 0.1, DupProb: 0.1, ReorderProb: 0.2, ReorderMaxNs: 2 * ms,
	})
	const writes = 1000
	p := serverPacer(w, writes, 4, 100_000)
	cl := w.client("c1")
	c := cl.env.Dial(reference.ChanOnline)
	w.k.Run(200 * ms)

	seen := make([]int, writes)
	prev, inversions := -1, 0
	for _, e := range recvs(cl, c) {
		if len(e.p) != 4 {
			t.Fatalf("delivery of %d bytes: a message was cut or merged", len(e.p))
		}
		i := int(e.p[0])<<24 | int(e.p[1])<<16 | int(e.p[2])<<8 | int(e.p[3])
		seen[i]++
		if i < prev {
			inversions++
		}
		prev = i
	}
	missing, twice := 0, 0
	for _, n := range seen {
		missing += b2i(n == 0)
		twice += b2i(n == 2)
	}
	st := w.n.Stats()
	if missing == 0 || twice == 0 || inversions == 0 {
		t.Fatalf("%d missing, %d duplicated, %d out of order: want some of each", missing, twice, inversions)
	}
	if st.Deliveries[reference.ChanOnline] != writes+st.DupMessages-st.DroppedMessages {
		t.Fatalf("stats %+v: deliveries do not add up", st)
	}
	if len(w.records(evDrop)) != int(st.DroppedMessages) || len(w.records(evDup)) != int(st.DupMessages) ||
		len(w.records(evReorder)) != int(st.ReorderedMessages) {
		t.Fatal("trace and stats disagree on datagram faults")
	}
	if got := w.server.env.Pending(p.c); got != 0 {
		t.Fatalf("Pending %d after everything was delivered or dropped", got)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Duplication and reordering exist only on links declared unreliable, and the other knobs
// are checked too.
func TestInvalidLinkConfig(t *testing.T) {
	bad := []LinkConfig{
		{LatencyNs: -1},
		{DupProb: 0.1},
		{ReorderProb: 0.1, ReorderMaxNs: ms},
		{LossProb: 0.1},
		{LossProb: 1.5, RetransmitNs: ms},
		{LatencyDist: LatencyFixed, JitterNs: ms},
		{LatencyDist: 7},
		{Unreliable: true, SegmentProb: 0.5, SegmentMax: 3},
		{Unreliable: true, ReorderProb: 0.1},
		{BandwidthBytesPerSec: -5},
	}
	for _, cfg := range bad {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetLink accepted %+v", cfg)
				}
			}()
			New(newWorld(26).k).SetLink(reference.ChanOnline, ServerToClient, cfg)
		}()
	}
}

// serverTicker makes the server send a 4-byte counter on every connection it holds, every
// gapNs from startNs until stopNs.
func serverTicker(w *world, startNs, stopNs, gapNs int64) {
	var conns []reference.ConnID
	sent := 0
	w.server.onAccepted = func(c reference.ConnID, _ reference.Channel) { conns = append(conns, c) }
	w.server.onClosed = func(c reference.ConnID, _ error) {
		conns = slices.DeleteFunc(conns, func(x reference.ConnID) bool { return x == c })
	}
	w.server.onTimer = func(uint64) {
		for _, c := range conns {
			w.server.env.Send(c, counter(sent))
		}
		sent++
		if w.k.Now()+gapNs < stopNs {
			w.server.env.SetTimer(gapNs, 0)
		}
	}
	w.at(startNs, func() { w.server.env.SetTimer(0, 0) })
}

// A blackhole holds a direction like a stall; once nothing has got through for the idle
// timeout, counted from the start of the blackhole (extended, not restarted, by an
// overlapping one), the connection resets on both ends.
func TestBlackhole(t *testing.T) {
	type hole struct{ fromNs, untilNs int64 }
	cases := []struct {
		name    string
		holes   []hole
		resetNs int64 // 0: no reset
	}{
		{"short", []hole{{10 * ms, 40 * ms}}, 0},
		{"long", []hole{{10 * ms, 1000 * ms}}, 60 * ms},
		{"extended", []hole{{10 * ms, 40 * ms}, {35 * ms, 70 * ms}}, 60 * ms},
		{"separate", []hole{{10 * ms, 40 * ms}, {45 * ms, 80 * ms}}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(27)
			w.n.SetIdleTimeout(50 * ms)
			symmetric(w.n, reference.ChanOnline, LinkConfig{LatencyNs: ms})
			serverTicker(w, 2*ms, 100*ms, ms)
			cl := w.client("c1")
			c := cl.env.Dial(reference.ChanOnline)
			for _, h := range tc.holes {
				w.at(h.fromNs, func() {
					if !w.n.Blackhole("c1", reference.ChanOnline, ServerToClient, h.untilNs) {
						t.Error("Blackhole found no connection")
					}
				})
			}
			w.k.Run(200 * ms)

			for _, e := range recvs(cl, c) {
				for _, h := range tc.holes {
					if e.atNs > h.fromNs && e.atNs < h.untilNs {
						t.Fatalf("delivery at %d ns inside a blackhole", e.atNs)
					}
				}
			}
			if len(w.records(faultBlk)) != len(tc.holes) {
				t.Fatal("blackholes not traced")
			}
			if tc.resetNs == 0 {
				mustEqualBytes(t, "stream", cl.bytesOn(c), counters(98))
				if w.n.Stats().Timeouts != 0 {
					t.Fatal("a blackhole shorter than the idle timeout reset the connection")
				}
				return
			}
			mustClose(t, "client", lastEvent(t, cl, c), tc.resetNs, reference.ErrReset)
			mustClose(t, "server", lastEvent(t, w.server, c), tc.resetNs, reference.ErrReset)
			if r := w.records(evTimeout); len(r) != 1 || r[0].atNs != tc.resetNs || r[0].a != int64(c) {
				t.Fatalf("timeout records %+v", r)
			}
		})
	}
}

// SlowClose delays the FIN of the next graceful close, and only that.
func TestSlowClose(t *testing.T) {
	w := newWorld(28)
	symmetric(w.n, reference.ChanRequest, LinkConfig{LatencyNs: ms})
	w.server.onAccepted = func(c reference.ConnID, _ reference.Channel) {
		w.server.env.Send(c, []byte("history"))
		w.server.env.Close(c)
	}
	c1, c2 := w.client("c1"), w.client("c2")
	id1, id2 := c1.env.Dial(reference.ChanRequest), c2.env.Dial(reference.ChanRequest)
	var applied, none bool
	w.at(ms/2, func() {
		applied = w.n.SlowClose("c1", reference.ChanRequest, 10*ms)
		none = w.n.SlowClose("c1", reference.ChanOnline, 10*ms)
	})
	w.k.Run(50 * ms)

	if !applied || none {
		t.Fatalf("SlowClose returned %v, and %v with no connection", applied, none)
	}
	for _, x := range []struct {
		f       *fakeNode
		c       reference.ConnID
		closeNs int64
	}{{c1, id1, 12 * ms}, {c2, id2, 2 * ms}} {
		if got := x.f.kinds(x.c); !slices.Equal(got, []string{"connect", "recv", "closed"}) {
			t.Fatalf("conn %d: %v", x.c, got)
		}
		if r := recvs(x.f, x.c); r[0].atNs != 2*ms {
			t.Fatalf("conn %d: data at %d ns, want 2 ms: slow close must not delay data", x.c, r[0].atNs)
		}
		mustClose(t, "client", lastEvent(t, x.f, x.c), x.closeNs, nil)
	}
	if r := w.records(faultSlow); len(r) != 1 || r[0].b != 10*ms {
		t.Fatalf("slow-close records %+v", r)
	}
}

// A partition holds one way only, between the named hosts only, and releases everything in
// order when it ends or is healed.
func TestPartition(t *testing.T) {
	w := newWorld(29)
	w.n.SetIdleTimeout(50 * ms)
	symmetric(w.n, reference.ChanOnline, LinkConfig{LatencyNs: ms})
	serverTicker(w, 2*ms, 60*ms, ms)
	c1, c2 := w.client("c1"), w.client("c2")
	id1, id2 := c1.env.Dial(reference.ChanOnline), c2.env.Dial(reference.ChanOnline)
	w.at(5*ms, func() { w.n.Partition([]string{"server"}, []string{"c1"}, 20*ms) })
	w.at(10*ms, func() { c1.env.Send(id1, []byte("during")) })
	w.at(30*ms, func() { w.n.Partition([]string{"c1"}, []string{"server", "c2"}, 1000*ms) })
	w.at(32*ms, func() { c1.env.Send(id1, []byte("healed")) })
	w.at(40*ms, w.n.Heal)
	w.k.Run(100 * ms)

	for _, x := range []struct {
		f      *fakeNode
		c      reference.ConnID
		gapped bool
	}{{c1, id1, true}, {c2, id2, false}} {
		mustEqualBytes(t, "stream", x.f.bytesOn(x.c), counters(58))
		burst := 0
		for _, e := range recvs(x.f, x.c) {
			if x.gapped && e.atNs > 5*ms && e.atNs < 20*ms {
				t.Fatalf("delivery to c1 at %d ns during the partition", e.atNs)
			}
			burst += b2i(e.atNs == 20*ms)
		}
		if x.gapped != (burst > 10) {
			t.Fatalf("conn %d: %d deliveries at the partition's end", x.c, burst)
		}
	}
	srv := recvs(w.server, id1)
	if len(srv) != 2 || srv[0].atNs != 11*ms || srv[1].atNs != 40*ms {
		t.Fatalf("server got %+v: want c1's write at 11 ms (the partition is one way), the next at the heal", srv)
	}
	if st := w.n.Stats(); st.Timeouts != 0 {
		t.Fatal("a partition shorter than the idle timeout reset a connection")
	}
	if len(w.records(faultPart)) != 2 || len(w.records(faultHeal)) != 1 {
		t.Fatal("partition and heal not traced")
	}
}

// A partition that outlasts the idle timeout resets the connections it holds, on both ends,
// and dials across it fail; after Heal a dial gets through.
func TestPartitionTimeout(t *testing.T) {
	w := newWorld(30)
	w.n.SetIdleTimeout(50 * ms)
	symmetric(w.n, reference.ChanOnline, LinkConfig{LatencyNs: ms})
	c1, c2 := w.client("c1"), w.client("c2")
	var ids []reference.ConnID
	c1.onClosed = func(reference.ConnID, error) { ids = append(ids, c1.env.Dial(reference.ChanOnline)) }
	ids = append(ids, c1.env.Dial(reference.ChanOnline))
	id2 := c2.env.Dial(reference.ChanOnline)
	w.at(5*ms, func() { w.n.Partition([]string{"c1", "server"}, []string{"server", "c1"}, 1000*ms) })
	w.at(150*ms, w.n.Heal)
	w.k.Run(200 * ms)

	mustClose(t, "c1", lastEvent(t, c1, ids[0]), 55*ms, reference.ErrReset)
	mustClose(t, "server", lastEvent(t, w.server, ids[0]), 55*ms, reference.ErrReset)
	// Redialed at 55 ms into the partition: the dial times out at 105 ms, and the server
	// never hears of it. The next, at 105 ms, completes once healed.
	mustClose(t, "c1 redial", lastEvent(t, c1, ids[1]), 105*ms, reference.ErrRefused)
	if got := w.server.on(ids[1]); len(got) != 0 {
		t.Fatalf("server saw %+v of a dial across the partition", got)
	}
	// Its accept, held since 106 ms, reaches the server at the heal.
	if len(ids) != 3 || !slices.Equal(c1.kinds(ids[2]), []string{"connect"}) || c1.on(ids[2])[0].atNs != 151*ms {
		t.Fatalf("after heal: dials %v, last saw %+v; want connected at 151 ms", ids, c1.on(ids[len(ids)-1]))
	}
	if got := c2.kinds(id2); !slices.Equal(got, []string{"connect"}) {
		t.Fatalf("c2, outside the partition, saw %v", got)
	}
	if st := w.n.Stats(); st.Timeouts != 2 {
		t.Fatalf("%d timeouts, want 2", st.Timeouts)
	}
}

// A slow receiver holds bytes in the sender's buffer: deliveries follow the reading rate,
// Pending grows past SendBufferBytes, and writes beyond it are queued (nothing lost), counted
// and traced.
func TestSlowReceiver(t *testing.T) {
	w := newWorld(31)
	symmetric(w.n, reference.ChanOnline, LinkConfig{LatencyNs: ms})
	w.n.SetLink(reference.ChanOnline, ServerToClient, LinkConfig{LatencyNs: ms, RecvBytesPerSec: 100_000, SendBufferBytes: 5000})
	p := serverPacer(w, 50, 1000, 2*ms) // five times faster than the client reads
	var pending []int
	p.before = func() { pending = append(pending, w.server.env.Pending(p.c)) }
	cl := w.client("c1")
	c := cl.env.Dial(reference.ChanOnline)
	w.k.Run(2000 * ms)

	got := recvs(cl, c)
	for i := 1; i < len(got); i++ {
		if d := got[i].atNs - got[i-1].atNs; d != 10*ms {
			t.Fatalf("deliveries %d and %d are %d ns apart, want 10 ms at 100 kB/s", i-1, i, d)
		}
	}
	if !slices.IsSorted(pending) || slices.Max(pending) < 30_000 {
		t.Fatalf("Pending before each write %v: want it growing well past the 5000-byte buffer", pending)
	}
	over := 0
	for _, x := range pending {
		over += b2i(x+1000 > 5000)
	}
	if st := w.n.Stats(); st.OverBufferWrites != uint64(over) || len(w.records(evOverBuf)) != over || over == 0 {
		t.Fatalf("%d writes beyond the buffer counted, %d traced, want %d", st.OverBufferWrites, len(w.records(evOverBuf)), over)
	}
	if len(got) != 50 || w.server.env.Pending(p.c) != 0 {
		t.Fatalf("%d of 50 writes delivered: a full buffer must not lose bytes", len(got))
	}
}

// A crashed server gets nothing more: no deliveries, no timers; its peers are reset one link
// delay later, in-flight bytes are dropped, and dials are refused after a round trip.
func TestCrashServer(t *testing.T) {
	w := newWorld(32)
	symmetric(w.n, reference.ChanOnline, LinkConfig{LatencyNs: ms})
	serverTicker(w, 2*ms, 100*ms, ms/2)
	w.at(5*ms, func() { w.server.env.SetTimer(20*ms, 99) })
	c1 := w.client("c1")
	p := clientPacer(c1, reference.ChanOnline, 100, ms/2)
	c2, c3 := w.client("c2"), w.client("c3")
	var late, early reference.ConnID
	var again bool
	w.at(9*ms+ms/2, func() { early = c3.env.Dial(reference.ChanOnline) })
	w.at(10*ms, func() {
		if !w.n.Crash("server") {
			t.Error("Crash of a running server returned false")
		}
		again = w.n.Crash("server")
	})
	w.at(20*ms, func() { late = c2.env.Dial(reference.ChanOnline) })
	w.k.Run(100 * ms)

	if again {
		t.Fatal("second Crash returned true")
	}
	for _, e := range w.server.log {
		if e.atNs > 10*ms {
			t.Fatalf("crashed server got %s at %d ns", e.kind, e.atNs)
		}
	}
	mustClose(t, "c1", lastEvent(t, c1, p.c), 11*ms, reference.ErrReset)
	for _, e := range recvs(c1, p.c) {
		if e.atNs > 10*ms {
			t.Fatalf("c1 received at %d ns, after the crash: in-flight bytes not dropped", e.atNs)
		}
	}
	mustClose(t, "dial in flight", lastEvent(t, c3, early), 11*ms+ms/2, reference.ErrRefused)
	mustClose(t, "dial after crash", lastEvent(t, c2, late), 22*ms, reference.ErrRefused)
	if r := w.records(evCrash); len(r) != 1 || r[0].who != "server" || r[0].a != 1 {
		t.Fatalf("crash records %+v, want one for the server with one connection", r)
	}
	if w.n.Stats().DiscardedBytes == 0 {
		t.Fatal("no in-flight bytes discarded")
	}
}

// A crashed client's node gets nothing more and its calls do nothing; the server sees the
// reset one link delay later.
func TestCrashClient(t *testing.T) {
	w := newWorld(33)
	symmetric(w.n, reference.ChanOnline, LinkConfig{LatencyNs: ms})
	serverTicker(w, 2*ms, 100*ms, ms)
	c1 := w.client("c1")
	c := c1.env.Dial(reference.ChanOnline)
	w.at(5*ms, func() { c1.env.SetTimer(10*ms, 7) })
	w.at(10*ms, func() { w.n.Crash("c1") })
	var redial reference.ConnID
	w.at(12*ms, func() {
		c1.env.Send(c, []byte("zombie"))
		c1.env.SetTimer(0, 8)
		redial = c1.env.Dial(reference.ChanOnline)
	})
	w.k.Run(50 * ms)

	for _, e := range c1.log {
		if e.atNs > 10*ms {
			t.Fatalf("crashed client got %s at %d ns", e.kind, e.atNs)
		}
	}
	mustClose(t, "server", lastEvent(t, w.server, c), 11*ms, reference.ErrReset)
	if redial != 0 || w.n.Stats().Ignored != 3 {
		t.Fatalf("crashed client's Dial returned %d, %d calls ignored; want 0 and 3", redial, w.n.Stats().Ignored)
	}
}

// A restarted host runs a new node that sees nothing of the previous life: not its timers,
// not bytes in flight to it, not its connections; new dials reach it with new ids.
func TestRestart(t *testing.T) {
	w := newWorld(34)
	symmetric(w.n, reference.ChanOnline, LinkConfig{LatencyNs: ms})
	c1 := w.client("c1")
	p := clientPacer(c1, reference.ChanOnline, 100, ms/2)
	redialed := false
	c1.onClosed = func(reference.ConnID, error) {
		if !redialed {
			redialed = true
			c1.env.Dial(reference.ChanOnline)
		}
	}
	w.at(5*ms, func() { w.server.env.SetTimer(20*ms, 99) })
	srv2 := &fakeNode{env: w.server.env}
	w.at(10*ms, func() { w.n.Crash("server") })
	w.at(10*ms+ms/4, func() { w.n.Restart("server", srv2) })
	w.k.Run(100 * ms)

	// c1 is reset at 11 ms and redials; the new node accepts at 12 ms.
	if len(srv2.log) == 0 || srv2.log[0].kind != "accept" || srv2.log[0].atNs != 12*ms || srv2.log[0].c <= p.c {
		t.Fatalf("restarted node first saw %+v, want the accept of a new connection at 12 ms", srv2.log)
	}
	for _, e := range srv2.log {
		if e.c == p.c || e.kind == "timer" {
			t.Fatalf("restarted node got %s for the previous life (conn %d)", e.kind, e.c)
		}
	}
	if r := w.records(evRestart); len(r) != 1 || r[0].atNs != 10*ms+ms/4 {
		t.Fatalf("restart records %+v", r)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Restart of a running host did not panic")
		}
	}()
	w.n.Restart("server", srv2)
}

// everyFault is a busy run with every fault of the package.
func everyFault(seed uint64) *world {
	w := newWorld(seed)
	w.n.SetIdleTimeout(40 * ms)
	w.n.SetLink(reference.ChanOnline, ClientToServer, LinkConfig{LatencyDist: LatencyExponential, LatencyNs: ms, JitterNs: ms, LossProb: 0.05, RetransmitNs: 2 * ms})
	w.n.SetLink(reference.ChanOnline, ServerToClient, LinkConfig{LatencyNs: ms, JitterNs: ms, BandwidthBytesPerSec: 2_000_000,
		Unreliable: true, LossProb: 0.05, DupProb: 0.05, ReorderProb: 0.1, ReorderMaxNs: 2 * ms})
	symmetric(w.n, reference.ChanRequest, LinkConfig{LatencyDist: LatencyFixed, LatencyNs: 2 * ms, SegmentProb: 0.5, SegmentMax: 3,
		LossProb: 0.05, RetransmitNs: ms, RecvBytesPerSec: 200_000, SendBufferBytes: 300})
	w.server.onAccepted = func(c reference.ConnID, _ reference.Channel) { w.server.env.Send(c, make([]byte, 200)) }
	w.server.onReceived = func(c reference.ConnID, p []byte) {
		w.server.env.Send(c, p)
		w.server.env.Send(c, make([]byte, 100))
	}
	for _, name := range []string{"c1", "c2", "c3", "c4"} {
		f := w.client(name)
		var online, request reference.ConnID
		sent := 0
		f.onConnected = func(c reference.ConnID) {
			if c == online {
				f.env.SetTimer(0, 0)
			}
		}
		f.onTimer = func(uint64) {
			f.env.Send(online, counter(sent))
			f.env.Send(request, counter(sent))
			if sent++; sent < 200 {
				f.env.SetTimer(300_000, 0)
			}
		}
		f.onClosed = func(c reference.ConnID, _ error) {
			switch c {
			case online:
				online = f.env.Dial(reference.ChanOnline)
			case request:
				request = f.env.Dial(reference.ChanRequest)
			}
		}
		online, request = f.env.Dial(reference.ChanOnline), f.env.Dial(reference.ChanRequest)
	}
	w.at(10*ms, func() { w.n.Blackhole("c1", reference.ChanOnline, ServerToClient, 100*ms) })
	w.at(10*ms, func() { w.n.Stall("c2", reference.ChanRequest, ClientToServer, 15*ms) })
	w.at(12*ms, func() { w.n.SlowClose("c3", reference.ChanRequest, 5*ms) })
	w.at(13*ms, func() { w.server.env.Close(6) }) // c3's request connection: two dials per client, in order
	w.at(15*ms, func() { w.n.Partition([]string{"server"}, []string{"c2", "c3"}, 30*ms) })
	w.at(20*ms, func() { w.n.Partition([]string{"c4"}, []string{"server"}, 200*ms) })
	w.at(25*ms, w.n.Heal)
	w.at(30*ms, func() { w.n.Reset("c4", reference.ChanOnline) })
	w.at(40*ms, func() { w.n.Crash("c2") })
	w.at(45*ms, func() {
		h := w.n.hosts["c2"]
		f := &fakeNode{env: h}
		w.n.Restart("c2", f)
		f.env.Dial(reference.ChanOnline)
	})
	w.at(50*ms, func() { w.n.Partition([]string{"c3"}, []string{"server"}, 150*ms) })
	w.at(60*ms, func() { w.n.Crash("server") })
	w.at(62*ms, func() { w.n.Restart("server", w.server) })
	w.k.Run(150 * ms)
	return w
}

// Same seed, same run, with every fault on; every fault shows in the trace.
func TestDeterminismAllFaults(t *testing.T) {
	a, b, c := everyFault(1), everyFault(1), everyFault(2)
	if a.k.Trace().Hash() != b.k.Trace().Hash() || a.trace.String() != b.trace.String() {
		t.Fatal("seed 1 twice gave different traces")
	}
	if a.k.Trace().Hash() == c.k.Trace().Hash() {
		t.Fatal("seeds 1 and 2 gave the same trace")
	}
	for _, what := range []string{evRetx, evDrop, evDup, evReorder, evOverBuf, evTimeout, evCrash, evRestart,
		faultBlk, faultStl, faultSlow, faultPart, faultHeal, faultRst} {
		if len(a.records(what)) == 0 {
			t.Errorf("no %q record: that fault did not act in the run", what)
		}
	}
	if n := a.k.Trace().Len(); n < 3000 {
		t.Fatalf("only %d trace records: the run is too quiet to prove anything", n)
	}
}

// Faults lists every link knob, and each fault once, with units and a description.
func TestFaultsCatalogue(t *testing.T) {
	listed := map[string]bool{}
	names := map[string]bool{}
	for _, f := range Faults() {
		if names[f.Name] || f.Name == "" || f.Doc == "" || f.Via == "" || len(f.Params) == 0 {
			t.Errorf("fault %+v: duplicate or incomplete", f)
		}
		names[f.Name] = true
		for _, p := range f.Params {
			if p.Unit == "" {
				t.Errorf("fault %s: parameter %s has no unit", f.Name, p.Name)
			}
			if f.Via == viaLink {
				listed[p.Name] = true
			}
		}
	}
	for i := range reflect.TypeFor[LinkConfig]().NumField() {
		if name := reflect.TypeFor[LinkConfig]().Field(i).Name; !listed[name] {
			t.Errorf("LinkConfig.%s is not in any link fault", name)
		}
	}
}

// A reset discards datagrams held back for reordering with the rest of the in-flight bytes:
// none reaches the server in the link delay before it hears of the reset.
func TestResetDiscardsReordered(t *testing.T) {
	w := newWorld(35)
	symmetric(w.n, reference.ChanOnline, LinkConfig{LatencyNs: ms})
	w.n.SetLink(reference.ChanOnline, ClientToServer, LinkConfig{LatencyNs: ms, Unreliable: true, ReorderProb: 1, ReorderMaxNs: 3 * ms})
	p := clientPacer(w.client("c1"), reference.ChanOnline, 1000, 100_000)
	w.at(20*ms, func() { w.n.Reset("c1", reference.ChanOnline) })
	w.k.Run(50 * ms)

	mustClose(t, "server", lastEvent(t, w.server, p.c), 21*ms, reference.ErrReset)
	for _, e := range recvs(w.server, p.c) {
		if e.atNs > 20*ms {
			t.Fatalf("datagram delivered at %d ns, after the reset", e.atNs)
		}
	}
	if w.n.Stats().ReorderedMessages == 0 {
		t.Fatal("nothing reordered")
	}
}
