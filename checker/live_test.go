package checker

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// runLive checks a script's history with CheckLiveness: its "!liveness" markers are the
// violations expected. A post that a session misses carries the session: "20!liveness@c1".
func runLive(t *testing.T, src string, opt LivenessOptions) []Violation {
	t.Helper()
	return runMarked(t, src, func(h History) []Violation { return CheckLiveness(h, opt) }, false)
}

// runMarked checks a script's history, which Check must accept, with check: the script's
// "!property" markers are the violations expected. Each violation must name its session's
// node, hold its offending event in its context and say what happened on one line, naming
// the session if namesSession.
func runMarked(t *testing.T, src string, check func(History) []Violation, namesSession bool) []Violation {
	t.Helper()
	s := parseScript(t, src)
	if _, err := Check(s.h); err != nil {
		t.Fatalf("Check: %v", err)
	}
	vs := check(s.h)
	var got []string
	for _, v := range vs {
		got = append(got, fmt.Sprintf("%s c%d @%d", v.Property, v.Session, v.Index))
		if v.Node != s.nodes[v.Session] {
			t.Errorf("violation for session %d on node %q, want %q", v.Session, v.Node, s.nodes[v.Session])
		}
		if v.Message == "" || strings.Contains(v.Message, "\n") {
			t.Errorf("message %q is not one line", v.Message)
		}
		if namesSession && !strings.Contains(v.Message, fmt.Sprintf("session %d ", v.Session)) {
			t.Errorf("message %q does not name session %d", v.Message, v.Session)
		}
		if !slices.ContainsFunc(v.Context, func(e Event) bool { return e == s.h[v.Index] }) {
			t.Errorf("context %+v lacks the offending event %+v", v.Context, s.h[v.Index])
		}
	}
	if !slices.Equal(got, s.want) {
		var msgs []string
		for _, v := range vs {
			msgs = append(msgs, v.Message)
		}
		t.Fatalf("violations\n got %q\nwant %q\nmessages:\n  %s", got, s.want, strings.Join(msgs, "\n  "))
	}
	return vs
}

type liveCase struct {
	name, src string
	end       int64 // LivenessOptions.EndNs
}

func TestLiveness(t *testing.T) {
	const opened = "ok 10 20; open c1 seq 10; phase c1 request 10; phase c1 reply 20; "
	const live = "ok 10; open c1 seq 10; d c1 10; online c1 10; "
	// Scripts that end with "t 100; open c9 online" make the run last until t=100 with an event
	// that nothing is due to.
	for _, tc := range []liveCase{
		{name: "stuck after reply", src: opened + "d c1 10!liveness; t 100; ok 30"},
		{name: "stuck with nothing delivered", src: "ok 10 20; open c1 seq 10; phase c1 request 10; phase c1 reply!liveness 20; t 100; state c1 Active"},
		{name: "stuck until after the bound, then an error", src: opened + "d c1 10!liveness; t 50; state c1 Error; t 100; open c9 online"},
		{name: "error within the bound", src: opened + "t 8; state c1 Error; t 100; ok 30"},
		{name: "close within the bound", src: opened + "t 8; close c1; t 100; open c9 online"},
		{name: "Online within the bound", src: opened + "d c1 10 20; online c1 20; t 100; ok 30; d c1 30"},
		{name: "Online at the bound", src: opened + "d c1 10 20; t 13; online c1 20; t 100; open c9 online"},
		{name: "Online after the bound", src: opened + "d c1 10 20!liveness; t 14; online c1 20; t 100; open c9 online"},
		{name: "bound after the end of the run", src: opened + "d c1 10"},
		{name: "EndNs extends the run", src: opened + "d c1 10!liveness", end: 100},
		{name: "online mode needs no Online", src: "open c1 online; state c1 Active; t 100; ok 10; d c1 10"},

		{name: "post delivered in time", src: live + "ok 20; t 12; d c1 20; t 100; ok 30"},
		{name: "post not delivered", src: live + "ok 20!liveness@c1; t 100; ok 30"},
		{name: "post delivered late", src: live + "ok 20!liveness@c1; t 50; d c1 20; t 100; open c9 online"},
		{name: "first of several misses", src: live + "ok 20; d c1 20; ok 30!liveness@c1 40; d c1 40; t 100; open c9 online"},
		{name: "posts out of order within the bound", src: live + "ok 20 30; d c1 30 20; t 100; open c9 online"},
		{name: "post out of order after the bound", src: live + "ok 20!liveness@c1 30; d c1 30; t 50; d c1 20; t 100; open c9 online"},
		{name: "post acknowledged after its delivery", src: "ok 10; open c1 seq 10; d c1 10; post 20; d c1 20; online c1 20; ok 20; t 100; open c9 online"},
		{name: "post before the session went live", src: "ok 10; open c1 seq 10; d c1 10; ok 20; online c1 10; t 100; open c9 online"},
		{name: "session ending before the bound", src: live + "ok 20; t 12; state c1 Error; t 100; open c9 online"},
		{name: "session ending after the bound", src: live + "ok 20!liveness@c1; t 50; state c1 Error; t 100; open c9 online"},
		{name: "post whose bound is after the end", src: live + "t 95; ok 20; t 100; open c9 online"},
		{name: "live in online mode once Active", src: "open c1 online; state c1 Active; ok 10!liveness@c1; t 100; open c9 online"},
		{name: "not live in online mode before Active", src: "open c1 online; ok 10; t 100; open c9 online"},
		{name: "a history-mode session is not live at Active", src: "ok 10; open c1 seq 10; state c1 Active; ok 20; d c1 10; t 12; online c1 10; t 100; open c9 online"},
		{name: "violations in history order", src: "ok 10; open c1 seq 10; d c1 10; online c1 10; open c2 seq 10; d c2 10!liveness; t 20; ok 20!liveness@c1; t 100; open c9 online"},

		{name: "a late fault moves the Online deadline past the end", src: opened + "d c1 10; t 95; fault c1 stall; t 100; open c9 online"},
		{name: "a late fault moves the Online deadline", src: opened + "d c1 10; t 50; fault c1 stall; t 60; phase c1 overlap!liveness 10; t 100; open c9 online"},
		{name: "a late crash moves the Online deadline", src: opened + "d c1 10; t 50; crash c1; t 55; restart c1 0; t 64; phase c1 overlap!liveness 10; t 100; open c9 online"},
		{name: "posts before the last fault are not due", src: live + "ok 20; t 50; fault c1 stall; t 100; open c9 online"},
		{name: "posts after the last fault are due", src: live + "ok 20; t 50; fault c1 stall; ok 30!liveness@c1; t 100; open c9 online"},
		{name: "a server restart is a fault too", src: live + "ok 20; t 50; crash srv; restart srv 20; ok 30!liveness@c1; t 100; open c9 online"},
	} {
		t.Run(tc.name, func(t *testing.T) { runLive(t, tc.src, LivenessOptions{BoundNs: 10, EndNs: tc.end}) })
	}
}

func TestLivenessMessages(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"stall", "ok 10 20 30; open c1 seq 10; phase c1 request 10; phase c1 reply 30; d c1 10 20!liveness; t 100; open c9 online",
			[]string{"stalled", "by t=14", "phase reply (seq 30)", "delivered 2", "last seq 20", "open at t=4"}},
		{"stall after a fault", "ok 10; open c1 seq 10!liveness; t 40; fault c1 reset; t 100; open c9 online",
			[]string{"stalled", "t=50", "last fault at t=40", "reported no phase", "delivered nothing"}},
		{"missed post", "ok 10; open c1 seq 10; d c1 10; online c1 10; ok 20!liveness@c1; t 100; open c9 online",
			[]string{"seq 20", "acknowledged at t=5", "not delivered by t=15"}},
		{"late post", "ok 10; open c1 seq 10; d c1 10; online c1 10; ok 20!liveness@c1; t 40; d c1 20; t 100; open c9 online",
			[]string{"seq 20", "delivered only at t=40", "after t=15"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs := runLive(t, tc.src, LivenessOptions{BoundNs: 10})
			for _, w := range tc.want {
				if !strings.Contains(vs[0].Message, w) {
					t.Errorf("message %q lacks %q", vs[0].Message, w)
				}
			}
		})
	}
}

func TestLivenessStallContextShowsPhases(t *testing.T) {
	vs := runLive(t, "ok 10 20; open c1 seq 10; phase c1 request 10; phase c1 reply!liveness 20; t 100; open c9 online", LivenessOptions{BoundNs: 10})
	var kinds []string
	for _, e := range vs[0].Context {
		kinds = append(kinds, e.Kind.String()+":"+e.Name)
	}
	if got, want := strings.Join(kinds, " "), "open: phase:request phase:reply"; got != want {
		t.Errorf("context %q, want %q", got, want)
	}
}

func TestLivenessGeneratedHistory(t *testing.T) {
	h := genHistory(4, 100, 3000)
	opt := LivenessOptions{BoundNs: 1000}
	if vs := CheckLiveness(h, opt); len(vs) != 0 {
		t.Fatalf("violations in a healthy history: %+v", vs[0])
	}
	// Session 3 misses seq 4000, posted live.
	missed := slices.IndexFunc(h, func(e Event) bool { return e.Kind == EvPostOK && e.Seq == 4000 })
	h = slices.DeleteFunc(slices.Clone(h), func(e Event) bool { return e.Kind == EvDeliver && e.Session == 3 && e.Seq == 4000 })
	vs := CheckLiveness(h, opt)
	if len(vs) != 1 || vs[0].Session != 3 || vs[0].Index != missed {
		t.Fatalf("want one violation for session 3 at event %d: %+v", missed, vs)
	}
}

// BenchmarkCheckLiveness judges BenchmarkCheck's history: 10,000,000 deliveries.
func BenchmarkCheckLiveness(b *testing.B) {
	h := genHistory(8, 1000, 1_250_000)
	b.ReportAllocs()
	for b.Loop() {
		if vs := CheckLiveness(h, LivenessOptions{BoundNs: 100_000}); len(vs) != 0 {
			b.Fatalf("%d violations in a healthy history", len(vs))
		}
	}
}

// A session whose Reply found the server empty waits for the first post (TLL's WaitOnline):
// it owes nothing until a post arrives, and Online a bound after that post.
func TestLivenessWaitsForTheFirstPostOnAnEmptyServer(t *testing.T) {
	ev := func(t int64, k Kind, f func(*Event)) Event {
		e := Event{T: t, Node: "c1", Session: 1, Kind: k}
		if f != nil {
			f(&e)
		}
		return e
	}
	base := History{
		ev(0, EvOpen, func(e *Event) { e.Mode = ModeInitial }),
		ev(10, EvPhase, func(e *Event) { e.Name, e.Seq = PhReply, -1 }),
		ev(10, EvState, func(e *Event) { e.State = StActive }),
	}
	opt := LivenessOptions{BoundNs: 100, EndNs: 1000}
	if vs := CheckLiveness(base, opt); len(vs) != 0 {
		t.Fatalf("waiting on a server that never gets a post: %v", vs)
	}
	posted := append(append(History{}, base...), Event{T: 500, Node: "srv", Kind: EvPost, Seq: 1}, Event{T: 500, Node: "srv", Kind: EvPostOK, Seq: 1})
	if vs := CheckLiveness(posted, opt); len(vs) != 1 || vs[0].Property != PropLiveness {
		t.Fatalf("no Online within the bound after the first post: got %v, want one liveness violation", vs)
	}
	online := append(append(History{}, posted...), ev(550, EvDeliver, func(e *Event) { e.Seq = 1 }), ev(550, EvControl, func(e *Event) { e.Name, e.Seq = CtlOnline, 1 }))
	if vs := CheckLiveness(online, opt); len(vs) != 0 {
		t.Fatalf("Online 50ns after the first post: %v", vs)
	}
}

func TestLivenessSessionsOnly(t *testing.T) {
	h := History{
		{T: 0, Node: "c1", Session: 1, Kind: EvOpen, Mode: ModeOnline},
		{T: 1, Node: "c1", Session: 1, Kind: EvState, State: StActive},
		{T: 5, Node: "srv", Kind: EvPost, Seq: 1},
		{T: 5, Node: "srv", Kind: EvPostOK, Seq: 1},
	}
	if vs := CheckLiveness(h, LivenessOptions{BoundNs: 10, EndNs: 100}); len(vs) != 1 {
		t.Fatalf("an undelivered post to a live session: %v, want one violation", vs)
	}
	if vs := CheckLiveness(h, LivenessOptions{BoundNs: 10, EndNs: 100, SessionsOnly: true}); len(vs) != 0 {
		t.Fatalf("SessionsOnly still judged post delivery: %v", vs)
	}
}

// On calm links an Error while live, with no fault before it, has no cause: the session still
// owes the posts after it.
func TestLivenessCalm(t *testing.T) {
	const live = "ok 10; open c1 seq 10; d c1 10; online c1 10; "
	for _, tc := range []liveCase{
		{name: "an error for nothing keeps the posts due", src: live + "t 12; state c1 Error; ok 20!liveness@c1; t 100; open c9 online"},
		{name: "an error after a fault ends the duty", src: live + "fault c1 reset; t 12; state c1 Error; ok 20; t 100; open c9 online"},
		{name: "an error before going live ends the duty", src: "ok 10; open c1 seq 10; t 12; state c1 Error; ok 20; t 100; open c9 online"},
		{name: "a close ends the duty", src: live + "t 12; close c1; ok 20; t 100; open c9 online"},
		{name: "an error for nothing with no post after it", src: live + "t 12; state c1 Error; t 100; open c9 online"},
	} {
		t.Run(tc.name, func(t *testing.T) { runLive(t, tc.src, LivenessOptions{BoundNs: 10, Calm: true}) })
	}
	vs := runLive(t, live+"t 12; state c1 Error; ok 20!liveness@c1; t 100; open c9 online", LivenessOptions{BoundNs: 10, Calm: true})
	for _, w := range []string{"seq 20", "ended in Error at t=12", "no fault"} {
		if !strings.Contains(vs[0].Message, w) {
			t.Errorf("message %q lacks %q", vs[0].Message, w)
		}
	}
}

// Events that share a time are in the order the history lists them (README): a post
// acknowledged at the instant a session went live, but listed before its Active, was not the
// session's to get; one listed after it was.
func TestLivenessTiesGoByHistoryOrder(t *testing.T) {
	post := Event{T: 5, Node: "srv", Kind: EvPostOK, Seq: 10, MsgID: testMsgID, Sum: testSum(10)}
	open := Event{T: 1, Node: "c1", Session: 1, Kind: EvOpen, Mode: ModeOnline}
	active := Event{T: 5, Node: "c1", Session: 1, Kind: EvState, State: StActive}
	end := Event{T: 500, Node: "c9", Session: 9, Kind: EvOpen, Mode: ModeOnline}
	opt := LivenessOptions{BoundNs: 100}
	before := History{open, post, active, end}
	if _, err := Check(before); err != nil {
		t.Fatal(err)
	}
	if vs := CheckLiveness(before, opt); len(vs) != 0 {
		t.Errorf("post listed before Active: %+v, want no violation", vs)
	}
	after := History{open, active, post, end}
	vs := CheckLiveness(after, opt)
	if len(vs) != 1 || vs[0].Property != PropLiveness || vs[0].Session != 1 || vs[0].Index != 2 {
		t.Errorf("post listed after Active, never delivered: %+v, want one liveness violation at event 2", vs)
	}
}
