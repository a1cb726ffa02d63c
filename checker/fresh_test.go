package checker

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
)

// runFresh checks a script's history with CheckFresh: its "!fresh" markers are the violations
// expected, at the events they sit on. Scripts here carry no other markers, since Check's
// verdicts on them are not the point.
func runFresh(t *testing.T, src string) {
	t.Helper()
	s := parseScript(t, src)
	res := CheckFresh(s.h)
	var got []string
	for _, v := range res.Violations(s.h) {
		got = append(got, fmt.Sprintf("%s c%d @%d", v.Property, v.Session, v.Index))
		if v.Node != fmt.Sprintf("c%d", v.Session) {
			t.Errorf("violation for session %d on node %q", v.Session, v.Node)
		}
		if v.Message == "" || strings.Contains(v.Message, "\n") {
			t.Errorf("message %q is not one line", v.Message)
		}
	}
	if !slices.Equal(got, s.want) {
		var msgs []string
		for _, v := range res.Violations(s.h) {
			msgs = append(msgs, v.Message)
		}
		t.Fatalf("violations\n got %q\nwant %q\nmessages:\n  %s", got, s.want, strings.Join(msgs, "\n  "))
	}
	want := VerdictOK
	if len(s.want) > 0 {
		want = VerdictIllegal
	}
	if res.Verdict != want || len(res.Illegal) != len(s.want) {
		t.Fatalf("verdict %q, illegal %v; want %q", res.Verdict, res.Illegal, want)
	}
	if illegal, unknown := porcupineFresh(s.h, minWindow, 0); !slices.Equal(illegal, res.Illegal) || len(unknown) > 0 {
		t.Fatalf("porcupine finds %v illegal, %v unknown; the sweep %v", illegal, unknown, res.Illegal)
	}
}

func runFreshCases(t *testing.T, cases []scriptCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runFresh(t, tc.src) })
	}
}

func TestFreshCorrect(t *testing.T) {
	runFreshCases(t, []scriptCase{
		{"history then live", "ok 10 20 30; open c1 seq 10; d c1 10 20 30; online c1 30; ok 40; d c1 40"},
		{"acks recorded late", "open c1 online; post 10; d c1 10; ok 10; post 20; d c1 20; ok 20"},
		{"live posts during history", "ok 10 20; open c1 seq 10; d c1 10; ok 30; d c1 20; ok 40; d c1 30 40; online c1 40"},
		{"Online before a post in flight takes effect", "ok 10; post 20; open c1 seq 10; d c1 10; online c1 10; ok 20; d c1 20"},
		{"Online after a post in flight took effect", "ok 10; post 20; open c1 seq 10; d c1 10 20; online c1 20; ok 20"},
		{"sparse seqs", "ok 10 20 30; open c1 seq 15; ok 50; d c1 20 30 50; online c1 50; ok 70 90; d c1 70 90"},
		// The register held 20 between posts 20 and 30, both after the open: exactly 20 is
		// readable although the server's last was already 30 at the Online.
		{"sparse seqs, Online passed over", "ok 10; open c1 seq 10; ok 20 30; d c1 10 20; online c1 20; d c1 30"},
		{"nothing to fetch", "ok 10 20; open c1 seq 21; online c1 20; ok 30; d c1 30"},
		{"empty server", "open c1 initial; ok 10; d c1 10; online c1 10; ok 20; d c1 20"},
		{"empty server reported as none", "open c1 seq 0; online c1 -1; ok 10; d c1 10"},
		{"online mode", "ok 10; open c1 online; ok 20 30; d c1 20 30"},
		{"two sessions", "ok 10 20; open c1 seq 10; open c2 seq 20; d c1 10; d c2 20; d c1 20; online c2 20; online c1 20; ok 30; d c2 30; d c1 30"},
		{"no operations", "ok 10; open c1 seq 10; close c1"},
	})
}

func TestFreshViolations(t *testing.T) {
	runFreshCases(t, []scriptCase{
		// The linear validators accept this one: Online equals the last delivered seq.
		{"Online older than the last seq at the open", "ok 10 20; open c1 seq 10; d c1 10; online c1!fresh 10"},
		{"Online older, nothing delivered, sparse", "ok 10 20 30; open c1 seq 31; online c1!fresh 20"},
		{"Online of a seq posted after it", "ok 10; open c1 seq 11; online c1!fresh 20; ok 20"},
		{"Online of a seq whose post began after it", "ok 10; open c1 seq 11; online c1!fresh 20; post 20; ok 20"},
		// The register is 10 at the open and 30 at the Online, so a range check would pass;
		// but it never holds 25.
		{"Online of a seq in a gap of a sparse log", "ok 10; open c1 seq 11; ok 30; online c1!fresh 25"},
		{"delivery before its post", "open c1 online; d c1 10!fresh; post 10; ok 10"},
		{"delivery of a seq never posted", "ok 10; open c1 seq 10; d c1 10; online c1 10; d c1 20!fresh"},
		{"live delivery before its post, sparse", "ok 10 20; open c1 seq 10; d c1 10 20; online c1 20; d c1 50!fresh; t 50; post 50; ok 50"},
		// Session 1 has seq 20 while its post_ok is still to come, so the server had it when
		// session 2 opened.
		{"Online older than data delivered elsewhere", "ok 10; post 20; open c1 online; d c1 20; open c2 seq 10; d c2 10; online c2!fresh 10; ok 20"},
		// Seq 20 took effect by its delivery at t=3, so seq 10, posted at t=4, came too late.
		// Only the delivery of 30, acknowledged before it arrives and so left out of the
		// sweep's work, makes the session last long enough to observe post 10.
		{"a post called after a higher one took effect", "open c1!fresh online; post 20; d c1 20; post 10; ok 20; ok 10; post 30; ok 30; d c1 30"},
		{"one violation per session", "ok 10 20; open c1 seq 10; open c2 seq 10; d c1 10; online c1!fresh 10; d c2 10 20; online c2 20; d c1 30"},
	})
}

func TestFreshMessages(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"ok 10 20; open c1 seq 10; d c1 10; online c1 10", "Online(10) at t=5 is older than the server's last seq when the session opened at t=3: seq 20 took effect by t=2 (post_ok of seq 20)"},
		{"ok 10; post 20; open c1 online; d c1 20; open c2 seq 10; d c2 10; online c2 10; ok 20", "seq 20 took effect by t=4 (seq 20 delivered to session 1)"},
		// Posts take effect in seq order: seq 20 delivered means seq 10 took effect too.
		{"ok 5; post 10; post 20; open c1 online; d c1 20; open c2 seq 0; d c2 5; online c2 5; ok 10 20", "Online(5) at t=8 is older than the server's last seq when the session opened at t=6: seq 20 took effect by t=5 (seq 20 delivered to session 1)"},
		{"ok 10; open c1 seq 11; online c1 20; ok 20", "Online(20) at t=3, but no post of seq 20 had begun by then (the last begun: 10)"},
		{"ok 10; open c1 seq 11; ok 30; online c1 25", "Online(25) at t=4 names a seq that was never posted"},
		{"open c1 online; d c1 10; post 10; ok 10", "seq 10 delivered at t=2, before its post began at t=3"},
		{"ok 10; open c1 seq 10; d c1 10 20", "seq 20 delivered at t=4, before any post of seq >= 20 began"},
	} {
		s := parseScript(t, tc.src)
		vs := CheckFresh(s.h).Violations(s.h)
		if len(vs) != 1 || !strings.Contains(vs[0].Message, tc.want) {
			t.Errorf("%s:\n got %+v\nwant one violation saying %q", tc.src, vs, tc.want)
		}
	}
}

func TestFreshContext(t *testing.T) {
	s := parseScript(t, "ok 10 20; open c1 seq 10; open c2 seq 10; d c2 10; d c1 10; ok 30; d c1 20; d c1 30; online c1 30; d c1 40!fresh; close c1; state c1 Closed; open c3 seq 0; close c3; state c1 Closed; d c1 50")
	vs := CheckFresh(s.h).Violations(s.h)
	if len(vs) != 1 || vs[0].Index != markerIndex(t, s.want[0]) {
		t.Fatalf("got %+v, want one violation at %s", vs, s.want[0])
	}
	var got []string
	for _, e := range vs[0].Context {
		got = append(got, fmt.Sprintf("%s:%d:%d", e.Kind, e.Session, e.Seq))
	}
	want := []string{"deliver:1:20", "deliver:1:30", "control:1:30", "deliver:1:40", "close:1:0", "state:1:0", "state:1:0"}
	if !slices.Equal(got, want) {
		t.Fatalf("context %q, want %q", got, want)
	}
}

// markerIndex reads the history index out of a "property cN @index" marker.
func markerIndex(t *testing.T, marker string) int {
	t.Helper()
	var i int
	if _, err := fmt.Sscanf(marker[strings.LastIndex(marker, "@"):], "@%d", &i); err != nil {
		t.Fatal(err)
	}
	return i
}

func TestFreshWindows(t *testing.T) {
	h := freshBenchHistory(3000, 3)
	ss, posts := collect(h, false)
	for k := range ss {
		if n := len(windows(&ss[k], &posts[ss[k].epoch], minWindow)); n < 2 {
			t.Fatalf("session %d in %d windows; want it cut", ss[k].id, n)
		}
	}
	if res := CheckFresh(h); res.Verdict != VerdictOK || res.Sessions != 3 {
		t.Fatalf("verdict %q on %d sessions; want ok on 3", res.Verdict, res.Sessions)
	}
	// A violation deep in a late window is still found, and only there, by both.
	var bad int
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Kind == EvDeliver && h[i].Session == 2 {
			bad = i
			break
		}
	}
	broken := slices.Clone(h)
	broken[bad].Seq += 1000
	vs := CheckFresh(broken).Violations(broken)
	if len(vs) != 1 || vs[0].Session != 2 || vs[0].Index != bad {
		t.Fatalf("got %+v, want one violation of session 2 at %d", vs, bad)
	}
	if illegal, unknown := porcupineFresh(broken, minWindow, 0); !slices.Equal(illegal, []int64{2}) || len(unknown) > 0 {
		t.Fatalf("porcupine: illegal %v, unknown %v; want [2]", illegal, unknown)
	}
}

// TestFreshPostsSpanningEveryInstant: pipelined posts leave no instant to cut at, so porcupine
// searches each session whole, and both checks are still correct.
func TestFreshPostsSpanningEveryInstant(t *testing.T) {
	var h History
	add := func(e Event) {
		e.T = int64(len(h))
		h = append(h, e)
	}
	post := func(kind Kind, seq int64) Event {
		return Event{Node: "srv", Kind: kind, Seq: seq, MsgID: testMsgID, Sum: testSum(seq)}
	}
	add(Event{Node: "c1", Session: 1, Kind: EvOpen, Mode: ModeOnline})
	add(post(EvPost, 1))
	for seq := int64(1); seq <= 600; seq++ {
		add(post(EvPost, seq+1))
		add(Event{Node: "c1", Session: 1, Kind: EvDeliver, Seq: seq, MsgID: testMsgID, Sum: testSum(seq)})
		add(post(EvPostOK, seq))
	}
	ss, posts := collect(h, false)
	if n := len(windows(&ss[0], &posts[0], minWindow)); n != 1 {
		t.Fatalf("%d windows, want 1", n)
	}
	if res := CheckFresh(h); res.Verdict != VerdictOK {
		t.Fatalf("verdict %q, want ok", res.Verdict)
	}
	if illegal, unknown := porcupineFresh(h, minWindow, 0); len(illegal)+len(unknown) > 0 {
		t.Fatalf("porcupine: illegal %v, unknown %v", illegal, unknown)
	}
}

func TestFreshVisualize(t *testing.T) {
	s := parseScript(t, "ok 10 20; open c1 seq 10; open c2 seq 10; d c2 10 20; online c2 20; d c1 10; online c1 10; ok 30; d c2 30")
	res := CheckFresh(s.h)
	if !slices.Equal(res.Illegal, []int64{1}) {
		t.Fatalf("illegal %v, want [1]", res.Illegal)
	}
	var buf bytes.Buffer
	if err := res.Visualize(&buf); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	if !strings.Contains(html, "<html") || !strings.Contains(html, "session 1: Online(10)") {
		t.Fatalf("visualization lacks the illegal session's Online")
	}
	if strings.Contains(html, "session 2:") {
		t.Fatalf("visualization shows session 2, which is linearizable")
	}

	buf.Reset()
	ok := parseScript(t, "ok 10; open c1 seq 10; d c1 10; online c1 10")
	if err := CheckFresh(ok.h).Visualize(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "session 1: Online(10)") {
		t.Fatalf("visualization of a linearizable history lacks its operations")
	}
}

// TestFreshAgainstGlobalModel compares the sweep with porcupine's search over windows of every
// size, which must agree on every history, and with the property exactly as DESIGN states it:
// one porcupine search over the whole history, each Online a single read of the register over
// [open, Online] that returns its seq. With one session that must agree too; the windows, the
// compressed posts and the split Online read must not change a verdict. With several sessions
// the global search also sees what sessions imply about each other, so it may find more, never
// less.
func TestFreshAgainstGlobalModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var verdicts [2]int
	cut := false
	for iter := range 3000 {
		sessions := 1 + iter%3
		h := randomFreshHistory(r, sessions)
		global := globalFresh(t, h)
		res := CheckFresh(h)
		got := res.Verdict == VerdictIllegal
		want := global == porcupine.Illegal
		fail := func(format string, args ...any) {
			t.Helper()
			var buf bytes.Buffer
			_ = WriteHistory(&buf, h)
			t.Fatalf(format+" on\n%s", append(args, buf.String())...)
		}
		if got && !want || sessions == 1 && got != want {
			fail("sweep %q, global %q", res.Verdict, global)
		}
		ss, posts := collect(h, false)
		for _, window := range []int{1, 2, 5, minWindow} {
			for k := range ss {
				if ss[k].ops.n > 0 && len(windows(&ss[k], &posts[ss[k].epoch], window)) > 1 {
					cut = true
				}
			}
			illegal, unknown := porcupineFresh(h, window, 0)
			if len(unknown) > 0 || !slices.Equal(illegal, res.Illegal) {
				fail("window %d: porcupine illegal %v unknown %v, sweep illegal %v", window, illegal, unknown, res.Illegal)
			}
		}
		verdicts[btoi(want)]++
	}
	if verdicts[0] < 300 || verdicts[1] < 300 || !cut {
		t.Fatalf("the generator is off: %d legal, %d illegal histories, windows cut: %v", verdicts[0], verdicts[1], cut)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// globalFresh is the reference: fresh as one porcupine search, the read as the property reads.
func globalFresh(t *testing.T, h History) porcupine.CheckResult {
	t.Helper()
	type op struct {
		kind string
		seq  int64
	}
	var ops []porcupine.Operation
	calls := make(map[string][]int64)
	opened := make(map[int64]int64)
	for _, e := range h {
		switch {
		case e.Kind == EvPost:
			calls[e.Node] = append(calls[e.Node], e.T)
		case e.Kind == EvPostOK:
			call := e.T
			if q := calls[e.Node]; len(q) > 0 {
				call, calls[e.Node] = q[0], q[1:]
			}
			ops = append(ops, porcupine.Operation{Input: op{"post", e.Seq}, Call: call, Return: e.T})
		case e.Kind == EvOpen:
			opened[e.Session] = e.T
		case e.Kind == EvDeliver:
			ops = append(ops, porcupine.Operation{Input: op{"deliver", e.Seq}, Call: e.T, Return: e.T})
		case e.Kind == EvControl && e.Name == CtlOnline:
			ops = append(ops, porcupine.Operation{Input: op{"read", e.Seq}, Call: opened[e.Session], Return: e.T})
		}
	}
	model := porcupine.Model{
		Init: func() any { return int64(-1) },
		Step: func(state, input, _ any) (bool, any) {
			last, in := state.(int64), input.(op)
			switch in.kind {
			case "post":
				return in.seq > last, in.seq
			case "read":
				return last == in.seq, state
			}
			return last >= in.seq, state
		},
	}
	return porcupine.CheckOperationsTimeout(model, ops, 0)
}

// randomFreshHistory is a small run with posts in flight, sparse seqs, sessions opening at
// random moments, and mostly plausible but sometimes wrong deliveries and Onlines. Several
// events share a time now and then, since closed intervals make ties matter.
func randomFreshHistory(r *rand.Rand, sessions int) History {
	var h History
	var now int64
	add := func(e Event) {
		if r.IntN(3) > 0 {
			now++
		}
		e.T = now
		h = append(h, e)
	}
	type client struct {
		opened, online bool
		next           int // index in posted of the next seq to deliver
		last           int64
	}
	cs := make([]client, sessions)
	var posted []int64
	seq, inFlight := int64(10), false
	for range 12 + r.IntN(12) {
		switch k := r.IntN(10); {
		case k < 3:
			if !inFlight {
				add(Event{Node: "srv", Kind: EvPost, Seq: seq})
				inFlight = true
			} else {
				add(Event{Node: "srv", Kind: EvPostOK, Seq: seq})
				posted = append(posted, seq)
				seq += 1 + int64(r.IntN(3))
				inFlight = false
			}
		default:
			c := r.IntN(sessions)
			cl := &cs[c]
			ev := Event{Node: fmt.Sprintf("c%d", c+1), Session: int64(c + 1)}
			switch {
			case !cl.opened:
				ev.Kind, ev.Mode = EvOpen, ModeSeq
				cl.opened, cl.last = true, -1
			case r.IntN(4) == 0 && !cl.online:
				ev.Kind, ev.Name, ev.Seq = EvControl, CtlOnline, cl.last
				switch r.IntN(4) {
				case 0:
					if len(posted) > 0 {
						ev.Seq = posted[len(posted)-1]
					}
				case 1:
					ev.Seq = seq - int64(r.IntN(25))
				}
				cl.online = true
			default:
				ev.Kind = EvDeliver
				switch {
				case cl.next < len(posted):
					ev.Seq = posted[cl.next]
				case inFlight && r.IntN(2) == 0:
					ev.Seq = seq
				case r.IntN(4) == 0:
					ev.Seq = seq + int64(r.IntN(3))
				default:
					continue
				}
				cl.next++
				cl.last = ev.Seq
			}
			add(ev)
		}
	}
	return h
}

// freshBenchHistory is a healthy run in the shape of a real one: one server posting sparse
// seqs whose post_ok is recorded after the live deliveries, and sessions opening at moments
// spread over the first half of the run, from seq 0, reading history two messages per post while live data goes on,
// then going Online and receiving live data. Every session delivers every message.
func freshBenchHistory(posts, sessions int) History {
	var h History
	var now int64
	add := func(e Event) {
		now++
		e.T = now
		h = append(h, e)
	}
	seqOf := func(k int) int64 { return int64(3*k + 1) }
	msg := func(kind Kind, node string, session int64, k int) Event {
		return Event{Node: node, Session: session, Kind: kind, Seq: seqOf(k), MsgID: testMsgID, Sum: testSum(seqOf(k))}
	}
	type client struct {
		node           string
		opened, online bool
		next           int // the next message to deliver
	}
	cs := make([]client, sessions)
	for c := range cs {
		cs[c].node = fmt.Sprintf("c%d", c+1)
	}
	for k := range posts {
		for c := range cs {
			if !cs[c].opened && k >= c*posts/(2*sessions) {
				cs[c].opened = true
				add(Event{Node: cs[c].node, Session: int64(c + 1), Kind: EvOpen, Mode: ModeSeq})
			}
		}
		add(msg(EvPost, "srv", 0, k))
		for c := range cs {
			cl := &cs[c]
			switch {
			case cl.online:
				add(msg(EvDeliver, cl.node, int64(c+1), k))
				cl.next = k + 1
			case cl.opened:
				for range 2 {
					if cl.next < k {
						add(msg(EvDeliver, cl.node, int64(c+1), cl.next))
						cl.next++
					}
				}
				if cl.next == k {
					// History is done; the message in flight comes live, then Online.
					add(msg(EvDeliver, cl.node, int64(c+1), k))
					add(Event{Node: cl.node, Session: int64(c + 1), Kind: EvControl, Name: CtlOnline, Seq: seqOf(k)})
					cl.next, cl.online = k+1, true
				}
			}
		}
		add(msg(EvPostOK, "srv", 0, k))
	}
	return h
}

func TestFreshBenchHistoryIsHealthy(t *testing.T) {
	h := freshBenchHistory(3000, 8)
	res, err := Check(h)
	if err != nil || len(res.Violations) != 0 {
		t.Fatalf("Check: %v, %+v", err, res.Violations)
	}
	if res.Delivered != 8*3000 {
		t.Fatalf("%d deliveries, want every message to every session", res.Delivered)
	}
}

// Deliveries whose post was acknowledged before they arrived are left out of the sweep's
// operations but still counted as judged; a delivery ahead of its post_ok, or of a seq never
// posted, stays in.
func TestFreshLeavesOutImpliedDeliveries(t *testing.T) {
	s := parseScript(t, "ok 10 20; open c1 seq 10; d c1 10 20; online c1 20; post 30; d c1 30; ok 30; ok 40; d c1 40 50")
	c := newCollector(serverOf(s.h), true)
	for i := range s.h {
		c.step(s.h, i)
	}
	ss, _ := c.finish()
	if len(ss) != 1 || ss[0].implied != 3 || ss[0].ops.n != 4 {
		t.Fatalf("implied %d, kept %d operations; want 3 (10, 20, 40) and 4 (Online's two, 30, 50)", ss[0].implied, ss[0].ops.n)
	}
	res := CheckFresh(s.h)
	if res.Ops != 7 || res.Verdict != VerdictIllegal {
		t.Fatalf("%d operations judged, verdict %q; want 7, illegal (50 was never posted)", res.Ops, res.Verdict)
	}
}

// BenchmarkCheckFresh checks a history of about 100,000 operations: 11,000 posts and 8
// sessions of 11,000 deliveries each.
func BenchmarkCheckFresh(b *testing.B) {
	h := freshBenchHistory(11_000, 8)
	b.ReportAllocs()
	var ops int
	for b.Loop() {
		res := CheckFresh(h)
		if res.Verdict != VerdictOK {
			b.Fatalf("healthy history judged %q", res.Verdict)
		}
		ops = res.Ops
	}
	b.ReportMetric(float64(ops), "ops")
}
