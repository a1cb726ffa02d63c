package netsim

import (
	"slices"
	"testing"

	"github.com/streamsim/streamsim/reference"
)

// A client writes faster than the jitter spread; the server must still read the stream in
// order, and the jitter must really have varied the delays.
func TestOrderUnderJitter(t *testing.T) {
	w := newWorld(1)
	symmetric(w.n, reference.ChanOnline, LinkConfig{LatencyNs: 1 * ms, JitterNs: 5 * ms})
	cl := w.client("c1")
	const writes = 300
	var c reference.ConnID
	var sentNs []int64
	sent := 0
	cl.onConnected = func(reference.ConnID) { cl.env.SetTimer(0, 0) }
	cl.onTimer = func(uint64) {
		sentNs = append(sentNs, cl.env.Now())
		cl.env.Send(c, counter(sent))
		if sent++; sent < writes {
			cl.env.SetTimer(10_000, 0)
		}
	}
	c = cl.env.Dial(reference.ChanOnline)
	w.k.Run(100 * ms)

	mustEqualBytes(t, "stream", w.server.bytesOn(c), counters(writes))
	var delays []int64
	for i, e := range w.server.on(c)[1:] {
		if d := e.atNs - sentNs[i]; d < 1*ms {
			t.Fatalf("write %d delivered after %d ns, below the latency", i, d)
		} else {
			delays = append(delays, d)
		}
	}
	slices.Sort(delays)
	if delays[0] == delays[len(delays)-1] {
		t.Fatal("all delays equal: jitter had no effect, so the test proves nothing")
	}
}

// Segmentation splits writes into pieces that are sub-slices of the original (never copies)
// and that concatenate back to the same stream.
func TestSegmentation(t *testing.T) {
	w := newWorld(2)
	w.n.SetLink(reference.ChanOnline, ServerToClient, LinkConfig{LatencyNs: ms, JitterNs: 100_000, SegmentProb: 1, SegmentMax: 8})
	cl := w.client("c1")
	const writes, size = 100, 100
	var frames [][]byte
	w.server.onAccepted = func(c reference.ConnID, _ reference.Channel) {
		for i := range writes {
			f := make([]byte, size)
			for j := range f {
				f[j] = byte(i*7 + j)
			}
			frames = append(frames, f)
			w.server.env.Send(c, f)
		}
	}
	c := cl.env.Dial(reference.ChanOnline)
	w.k.Run(50 * ms)

	mustEqualBytes(t, "stream", cl.bytesOn(c), slices.Concat(frames...))
	pieces, offset := 0, 0
	for _, e := range cl.on(c) {
		if e.kind != "recv" {
			continue
		}
		pieces++
		if len(e.p) == 0 || offset%size+len(e.p) > size {
			t.Fatalf("piece of %d bytes at stream offset %d is empty or spans two writes", len(e.p), offset)
		}
		if &e.p[0] != &frames[offset/size][offset%size] {
			t.Fatalf("piece at stream offset %d is a copy, not a sub-slice of the write", offset)
		}
		offset += len(e.p)
	}
	if pieces <= writes || pieces > writes*8 {
		t.Fatalf("%d pieces for %d writes with SegmentMax 8", pieces, writes)
	}
	if st := w.n.Stats(); st.Writes[reference.ChanOnline] != writes || st.Deliveries[reference.ChanOnline] != uint64(pieces) ||
		st.Bytes[reference.ChanOnline] != writes*size {
		t.Fatalf("stats %+v", st)
	}
}

// Accepted and Connected come before any data on their end, even when the client writes
// before it is connected and the server writes from inside Accepted.
func TestHandshakeBeforeData(t *testing.T) {
	w := newWorld(3)
	symmetric(w.n, reference.ChanOnline, LinkConfig{LatencyNs: ms})
	w.server.onAccepted = func(c reference.ConnID, _ reference.Channel) { w.server.env.Send(c, []byte("hello")) }
	cl := w.client("c1")
	cl.onConnected = func(c reference.ConnID) { cl.env.Send(c, []byte("late")) }
	c := cl.env.Dial(reference.ChanOnline)
	cl.env.Send(c, []byte("early"))
	w.k.Run(10 * ms)

	if got := w.server.kinds(c); !slices.Equal(got, []string{"accept", "recv", "recv"}) {
		t.Fatalf("server saw %v", got)
	}
	if e := w.server.on(c)[0]; e.atNs != 1*ms || e.ch != reference.ChanOnline {
		t.Fatalf("accept %+v, want at 1ms on online", e)
	}
	mustEqualBytes(t, "server stream", w.server.bytesOn(c), []byte("earlylate"))
	if got := cl.kinds(c); !slices.Equal(got, []string{"connect", "recv"}) {
		t.Fatalf("client saw %v", got)
	}
	if e := cl.on(c)[0]; e.atNs != 2*ms {
		t.Fatalf("connected at %d, want after one round trip (2ms)", e.atNs)
	}
}

// A graceful close delivers everything sent before it, then Closed(nil); the closing end hears
// nothing more, and calls on the closed id are ignored, not fatal.
func TestGracefulClose(t *testing.T) {
	w := newWorld(4)
	symmetric(w.n, reference.ChanRequest, LinkConfig{LatencyNs: ms, JitterNs: ms, SegmentProb: 0.5, SegmentMax: 3})
	w.server.onAccepted = func(c reference.ConnID, _ reference.Channel) {
		for i := range 10 {
			w.server.env.Send(c, counter(i))
		}
		w.server.env.Close(c)
		w.server.env.Send(c, []byte("after close"))
	}
	cl := w.client("c1")
	cl.onReceived = func(c reference.ConnID, _ []byte) { cl.env.Send(c, []byte("ack")) }
	c := cl.env.Dial(reference.ChanRequest)
	w.k.Run(50 * ms)

	mustEqualBytes(t, "client stream", cl.bytesOn(c), counters(10))
	log := cl.on(c)
	if last := log[len(log)-1]; last.kind != "closed" || last.err != nil {
		t.Fatalf("client's last event %+v, want Closed(nil)", last)
	}
	if got := w.server.kinds(c); !slices.Equal(got, []string{"accept"}) {
		t.Fatalf("server got %v after closing", got)
	}
	before := w.n.Stats().Ignored
	cl.env.Send(c, []byte("x"))
	cl.env.Close(c)
	if got := w.n.Stats().Ignored - before; got != 2 {
		t.Fatalf("%d calls on a closed conn counted as ignored, want 2", got)
	}
	if w.n.conns[c] != nil {
		t.Fatal("connection not released after both ends closed")
	}
}

// The client closes: the server gets all the data, then Closed(nil).
func TestClientClose(t *testing.T) {
	w := newWorld(5)
	symmetric(w.n, reference.ChanOnline, LinkConfig{LatencyNs: ms, JitterNs: 3 * ms})
	cl := w.client("c1")
	cl.onConnected = func(c reference.ConnID) {
		for i := range 50 {
			cl.env.Send(c, counter(i))
		}
		cl.env.Close(c)
	}
	c := cl.env.Dial(reference.ChanOnline)
	w.k.Run(50 * ms)
	got := w.server.kinds(c)
	if got[0] != "accept" || got[len(got)-1] != "closed" || len(got) != 52 {
		t.Fatalf("server saw %v", got)
	}
	mustEqualBytes(t, "server stream", w.server.bytesOn(c), counters(50))
	if got := cl.kinds(c); !slices.Equal(got, []string{"connect"}) {
		t.Fatalf("closing client saw %v", got)
	}
}

// A reset discards in-flight bytes both ways; the client hears of it at once, the server one
// link latency later, and writes in between go nowhere.
func TestReset(t *testing.T) {
	w := newWorld(6)
	symmetric(w.n, reference.ChanOnline, LinkConfig{LatencyNs: ms})
	var sc reference.ConnID
	serverSent := 0
	w.server.onAccepted = func(c reference.ConnID, _ reference.Channel) {
		sc = c
		w.server.env.SetTimer(0, 0)
	}
	w.server.onTimer = func(uint64) {
		w.server.env.Send(sc, counter(serverSent))
		serverSent++
		w.server.env.SetTimer(100_000, 0)
	}
	cl := w.client("c1")
	clientSent := 0
	cl.onReceived = func(c reference.ConnID, _ []byte) {
		cl.env.Send(c, counter(clientSent))
		clientSent++
	}
	c := cl.env.Dial(reference.ChanOnline)
	sentAtReset, reset, again := 0, false, true
	w.at(5*ms, func() {
		sentAtReset = serverSent
		reset = w.n.Reset("c1", reference.ChanOnline)
		again = w.n.Reset("c1", reference.ChanOnline)
	})
	w.k.Run(20 * ms)

	if !reset || again {
		t.Fatalf("Reset returned %v, then %v; want true, then false", reset, again)
	}
	clientLog, serverLog := cl.on(c), w.server.on(c)
	if last := clientLog[len(clientLog)-1]; last.kind != "closed" || last.err != reference.ErrReset || last.atNs != 5*ms {
		t.Fatalf("client's last event %+v, want Closed(ErrReset) at 5ms", last)
	}
	if last := serverLog[len(serverLog)-1]; last.kind != "closed" || last.err != reference.ErrReset || last.atNs != 6*ms {
		t.Fatalf("server's last event %+v, want Closed(ErrReset) at 6ms", last)
	}
	for _, e := range append(clientLog[:len(clientLog)-1], serverLog[:len(serverLog)-1]...) {
		if e.atNs >= 5*ms {
			t.Fatalf("%s at %d ns, after the reset", e.kind, e.atNs)
		}
	}
	got := cl.bytesOn(c)
	mustEqualBytes(t, "client stream", got, counters(len(got)/4))
	if len(got)/4 >= sentAtReset {
		t.Fatalf("client got %d writes of the %d sent before the reset: in-flight bytes not discarded", len(got)/4, sentAtReset)
	}
	got = w.server.bytesOn(c)
	mustEqualBytes(t, "server stream", got, counters(len(got)/4))
	if len(got)/4 >= clientSent {
		t.Fatalf("server got %d of the client's %d writes: in-flight bytes not discarded", len(got)/4, clientSent)
	}
	if w.n.Stats().DiscardedBytes == 0 {
		t.Fatal("no discarded bytes counted")
	}
}

// A stalled direction delivers nothing until the stall ends, then everything, in order; the
// other direction keeps flowing.
func TestStall(t *testing.T) {
	w := newWorld(7)
	symmetric(w.n, reference.ChanOnline, LinkConfig{LatencyNs: ms, JitterNs: 200_000})
	var sc reference.ConnID
	sent := 0
	w.server.onAccepted = func(c reference.ConnID, _ reference.Channel) {
		sc = c
		w.server.env.SetTimer(0, 0)
	}
	w.server.onTimer = func(uint64) {
		if sent < 20 {
			w.server.env.Send(sc, counter(sent))
			sent++
			w.server.env.SetTimer(ms, 0)
		}
	}
	cl := w.client("c1")
	cl.onTimer = func(uint64) { cl.env.Send(1, []byte("ping")) }
	c := cl.env.Dial(reference.ChanOnline)
	cl.env.SetTimer(7*ms, 0)
	var stalled bool
	w.at(5*ms, func() { stalled = w.n.Stall("c1", reference.ChanOnline, ServerToClient, 12*ms) })
	w.k.Run(40 * ms)

	if !stalled || c != 1 {
		t.Fatalf("Stall returned %v for conn %d", stalled, c)
	}
	mustEqualBytes(t, "client stream", cl.bytesOn(c), counters(20))
	burst := 0
	for _, e := range cl.on(c) {
		if e.kind == "recv" && e.atNs > 5*ms && e.atNs < 12*ms {
			t.Fatalf("delivery at %d ns during the stall", e.atNs)
		}
		if e.kind == "recv" && e.atNs == 12*ms {
			burst++
		}
	}
	if burst < 5 {
		t.Fatalf("%d held writes released at the end of the stall, want the ~6 sent during it", burst)
	}
	ping := w.server.on(c)[1]
	if ping.kind != "recv" || ping.atNs < 8*ms || ping.atNs > 8*ms+200_000 {
		t.Fatalf("client→server %+v, want a ping at 8ms: the stall must hold one direction only", ping)
	}
}

// Dialing with no server, or a server host with no node, is refused after a round trip.
func TestRefused(t *testing.T) {
	k := newWorld(8).k
	n := New(k)
	n.SetLink(reference.ChanRequest, ClientToServer, LinkConfig{LatencyNs: 2 * ms})
	n.SetLink(reference.ChanRequest, ServerToClient, LinkConfig{LatencyNs: 3 * ms})
	h := n.AddClient("c1")
	cl := &fakeNode{env: h}
	h.Attach(cl)
	c1 := h.Dial(reference.ChanRequest)
	k.Run(10 * ms)
	n.AddServer("server") // a host, but nothing listening on it
	c2 := h.Dial(reference.ChanRequest)
	k.Run(20 * ms)

	if c1 == c2 {
		t.Fatal("connection id reused")
	}
	for _, c := range []reference.ConnID{c1, c2} {
		log := cl.on(c)
		if len(log) != 1 || log[0].kind != "closed" || log[0].err != reference.ErrRefused {
			t.Fatalf("conn %d: %+v, want only Closed(ErrRefused)", c, log)
		}
	}
	if at := cl.on(c2)[0].atNs; at != 15*ms {
		t.Fatalf("refused at %d, want 10ms + 2ms + 3ms", at)
	}
	if n.conns[c1] != nil || n.conns[c2] != nil || h.current[reference.ChanRequest] != nil {
		t.Fatal("refused connections not released")
	}
}

// Link settings apply to their own channel, direction and (for overrides) client only.
func TestPerChannelConfig(t *testing.T) {
	w := newWorld(9)
	w.n.SetLink(reference.ChanOnline, ClientToServer, LinkConfig{LatencyNs: 1 * ms})
	w.n.SetLink(reference.ChanOnline, ServerToClient, LinkConfig{LatencyNs: 2 * ms})
	w.n.SetLink(reference.ChanRequest, ClientToServer, LinkConfig{LatencyNs: 5 * ms})
	w.n.SetLink(reference.ChanRequest, ServerToClient, LinkConfig{LatencyNs: 7 * ms})
	w.server.onReceived = func(c reference.ConnID, p []byte) { w.server.env.Send(c, p) }
	type want struct{ accept, connect, echo int64 }
	cases := []struct {
		client string
		ch     reference.Channel
		want   want
	}{
		{"c1", reference.ChanOnline, want{1 * ms, 3 * ms, 6 * ms}},
		{"c1", reference.ChanRequest, want{5 * ms, 12 * ms, 24 * ms}},
		{"c2", reference.ChanOnline, want{1 * ms, 3 * ms, 6 * ms}},
		{"c2", reference.ChanRequest, want{5 * ms, 25 * ms, 50 * ms}},
	}
	nodes := map[string]*fakeNode{"c1": w.client("c1"), "c2": w.client("c2")}
	w.n.SetClientLink("c2", reference.ChanRequest, ServerToClient, LinkConfig{LatencyNs: 20 * ms})
	ids := make([]reference.ConnID, len(cases))
	for i, tc := range cases {
		f := nodes[tc.client]
		f.onConnected = func(c reference.ConnID) { f.env.Send(c, []byte("echo")) }
		ids[i] = f.env.Dial(tc.ch)
	}
	w.k.Run(100 * ms)
	for i, tc := range cases {
		f := nodes[tc.client]
		got := want{w.server.on(ids[i])[0].atNs, f.on(ids[i])[0].atNs, f.on(ids[i])[1].atNs}
		if got != tc.want {
			t.Errorf("%s %v: accept, connect, echo at %v, want %v", tc.client, tc.ch, got, tc.want)
		}
	}
}

// Timers fire at now+d, in the order set when due together, and a timer set for 0 fires after
// the handler that set it.
func TestTimers(t *testing.T) {
	w := newWorld(10)
	cl := w.client("c1")
	cl.onTimer = func(id uint64) {
		if id == 1 {
			cl.env.SetTimer(0, 10)
			cl.env.SetTimer(2*ms, 11)
		}
	}
	w.at(ms, func() {
		cl.env.SetTimer(5*ms, 5)
		cl.env.SetTimer(3*ms, 3)
		cl.env.SetTimer(5*ms, 6)
		cl.env.SetTimer(0, 1)
		cl.env.SetTimer(-7, 2)
	})
	w.k.Run(20 * ms)
	type fired struct {
		atNs int64
		id   uint64
	}
	var got []fired
	for _, e := range cl.log {
		got = append(got, fired{e.atNs, e.id})
	}
	want := []fired{{1 * ms, 1}, {1 * ms, 2}, {1 * ms, 10}, {3 * ms, 11}, {4 * ms, 3}, {6 * ms, 5}, {6 * ms, 6}}
	if !slices.Equal(got, want) {
		t.Fatalf("timers %v, want %v", got, want)
	}
}

// Env calls naming ids the host does not hold are counted and have no effect.
func TestIgnoredCalls(t *testing.T) {
	w := newWorld(11)
	a, b := w.client("a"), w.client("b")
	c := a.env.Dial(reference.ChanOnline)
	w.k.Run(ms)
	b.env.Send(c, []byte("not mine"))
	b.env.Close(c)
	a.env.Send(0, []byte("zero"))
	a.env.Send(99, []byte("unknown"))
	w.server.env.Close(42)
	w.k.Run(10 * ms)
	if got := w.n.Stats().Ignored; got != 5 {
		t.Fatalf("ignored %d, want 5", got)
	}
	if got := w.server.kinds(c); !slices.Equal(got, []string{"accept"}) {
		t.Fatalf("server saw %v", got)
	}
	if got := a.kinds(c); !slices.Equal(got, []string{"connect"}) {
		t.Fatalf("owner saw %v", got)
	}
}

// scenario is a busy run with every fault this package has: jitter, segmentation, a reset
// followed by a redial, and a stall.
func scenario(seed uint64) (hash uint64, records int) {
	w := newWorld(seed)
	symmetric(w.n, reference.ChanOnline, LinkConfig{LatencyNs: ms, JitterNs: 2 * ms, SegmentProb: 0.3, SegmentMax: 4})
	symmetric(w.n, reference.ChanRequest, LinkConfig{LatencyNs: 3 * ms, JitterNs: ms, SegmentProb: 0.5, SegmentMax: 3})
	w.server.onAccepted = func(c reference.ConnID, _ reference.Channel) { w.server.env.Send(c, []byte("welcome")) }
	w.server.onReceived = func(c reference.ConnID, p []byte) { w.server.env.Send(c, p) }
	for _, name := range []string{"c1", "c2", "c3", "c4"} {
		f := w.client(name)
		var online reference.ConnID
		sent := 0
		f.onConnected = func(c reference.ConnID) {
			if c == online {
				f.env.SetTimer(0, 0)
			}
		}
		f.onTimer = func(uint64) {
			f.env.Send(online, counter(sent))
			if sent++; sent < 50 {
				f.env.SetTimer(300_000, 0)
			}
		}
		f.onClosed = func(c reference.ConnID, err error) {
			if c == online && err == reference.ErrReset {
				online = f.env.Dial(reference.ChanOnline)
			}
		}
		online = f.env.Dial(reference.ChanOnline)
		f.env.Send(f.env.Dial(reference.ChanRequest), []byte("request"))
	}
	w.at(10*ms, func() { w.n.Reset("c2", reference.ChanOnline) })
	w.at(10*ms, func() { w.n.Stall("c3", reference.ChanOnline, ServerToClient, 20*ms) })
	w.k.Run(100 * ms)
	return w.k.Trace().Hash(), w.k.Trace().Len()
}

func TestDeterminism(t *testing.T) {
	h1, n1 := scenario(1)
	again, n1again := scenario(1)
	h2, _ := scenario(2)
	if h1 != again || n1 != n1again {
		t.Fatalf("seed 1 twice: %x (%d records) vs %x (%d records)", h1, n1, again, n1again)
	}
	if h1 == h2 {
		t.Fatalf("seeds 1 and 2 gave the same trace hash %x: randomness is not reaching the run", h1)
	}
	if n1 < 500 {
		t.Fatalf("only %d trace records: the scenario is too quiet to prove anything", n1)
	}
}
