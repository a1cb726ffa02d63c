package reference

import (
	"fmt"
	"strings"
	"testing"

	"github.com/streamsim/streamsim/reference/wire"
)

// recorder is a client application that writes down what it sees.
type recorder struct {
	log     []string
	onData  func(seq int64)
	reasons []string
}

func (r *recorder) Data(seq int64, _ int32, _ []byte) {
	r.log = append(r.log, fmt.Sprintf("data %d", seq))
	if r.onData != nil {
		r.onData(seq)
	}
}
func (r *recorder) Control(c Control, seq int64) { r.log = append(r.log, fmt.Sprintf("%s %d", c, seq)) }
func (r *recorder) State(s State, reason string) {
	r.log = append(r.log, s.String())
	r.reasons = append(r.reasons, reason)
}
func (r *recorder) Phase(Phase, int64) {}
func (r *recorder) String() string     { return strings.Join(r.log, ", ") }

const (
	onlineConn  ConnID = 1
	requestConn ConnID = 2
)

// openTo drives a client through the online handshake up to its request being sent.
func openTo(t *testing.T, mode Mode, seq, helloSeq int64) (*Client, *fakeEnv, *recorder) {
	t.Helper()
	env, rec := newFakeEnv(), &recorder{}
	c := NewClient(env, rec, ClientConfig{})
	if err := c.Open(mode, seq); err != nil {
		t.Fatal(err)
	}
	c.Connected(onlineConn)
	c.Received(onlineConn, wire.AppendMsg(nil, wire.HelloReply{Version: 1, Seq: helloSeq}))
	if len(env.dialed) != 2 || env.dialed[1] != ChanRequest {
		t.Fatalf("after HelloReply the client dialed %v, want online then request", env.dialed)
	}
	c.Connected(requestConn)
	return c, env, rec
}

func data(seq int64) []byte { return wire.AppendFrame(nil, 1, seq, []byte{byte(seq)}) }

func TestClientRequestChannelFailureBeforeReplyFailsLoudly(t *testing.T) {
	c, _, rec := openTo(t, ModeSeq, 0, 5)
	c.Closed(requestConn, ErrRefused)
	if rec.String() != "Error" || !strings.Contains(rec.reasons[0], "request channel") {
		t.Fatalf("got %q (%v); TLL hangs here (P7), the reference must fail", rec, rec.reasons)
	}
}

func TestClientServerErrorReply(t *testing.T) {
	c, _, rec := openTo(t, ModeLast, 0, -1)
	c.Received(requestConn, wire.AppendMsg(nil, wire.Error{Text: "no data on the server"}))
	if rec.String() != "Error" || !strings.Contains(rec.reasons[0], "no data on the server") {
		t.Fatalf("got %q %v", rec, rec.reasons)
	}
}

func TestClientRejectsBadOpens(t *testing.T) {
	c := NewClient(newFakeEnv(), &recorder{}, ClientConfig{Protocol: ProtoOld})
	for _, tc := range []struct {
		m   Mode
		seq int64
	}{{ModeSeq, -1}, {ModeSeqData, -3}, {ModeInitial, 0}, {ModeLast, 0}, {Mode(42), 0}} {
		if err := c.Open(tc.m, tc.seq); err == nil {
			t.Errorf("Open(%v, %d) with the old protocol accepted", tc.m, tc.seq)
		}
	}
}

// History that reaches buffered online data hands over without repeating or losing any.
func TestClientOverlapOnSparseSeqs(t *testing.T) {
	c, env, rec := openTo(t, ModeSeq, 20, 30)
	c.Received(onlineConn, append(data(40), data(50)...))
	c.Received(requestConn, wire.AppendMsg(nil, wire.Reply{LastSeq: 30, RequestedSeq: 20, BlockSeq: -1}))
	c.Received(requestConn, append(append(data(20), data(30)...), data(40)...))
	c.Received(onlineConn, data(60))
	want := "Active, data 20, data 30, data 40, data 50, Online 50, data 60"
	if rec.String() != want {
		t.Fatalf("got  %s\nwant %s", rec, want)
	}
	if fr := env.frames(t, requestConn); len(fr) != 2 || fr[1].MsgID != wire.MsgClientDone {
		t.Fatalf("request channel got %+v, want Request then ClientDone", fr)
	}
}

func TestClientCloseInsideCallbackStopsEverything(t *testing.T) {
	c, _, rec := openTo(t, ModeSeq, 0, 3)
	rec.onData = func(seq int64) {
		if seq == 1 {
			c.Close()
		}
	}
	c.Received(requestConn, wire.AppendMsg(nil, wire.Reply{LastSeq: 3, RequestedSeq: 0, BlockSeq: -1}))
	c.Received(requestConn, append(append(data(0), data(1)...), data(2)...))
	if want := "Active, data 0, data 1, Closed"; rec.String() != want {
		t.Fatalf("got %s, want %s", rec, want)
	}
}

func TestClientFailsOnOnlineSeqGoingBackwardsWhenLive(t *testing.T) {
	c, _, rec := openTo(t, ModeSeq, 4, 3)
	c.Received(requestConn, wire.AppendMsg(nil, wire.Reply{LastSeq: 3, RequestedSeq: 4, BlockSeq: -1}))
	c.Received(onlineConn, append(data(4), data(5)...))
	c.Received(onlineConn, data(5))
	if want := "Active, Online 3, data 4, data 5, Error"; rec.String() != want {
		t.Fatalf("got %s, want %s", rec, want)
	}
}
