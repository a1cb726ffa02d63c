package reference

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/streamsim/streamsim/reference/wire"
)

// Mode is how a client opens its stream.
type Mode uint8

const (
	ModeOnline  Mode = iota // live data only, no request channel, no Online control
	ModeSeq                 // history from the first stored seq ≥ Seq, then live
	ModeSeqData             // history from the first stored seq > Seq, then live
	ModeInitial             // all stored history, then live
	ModeLast                // the last stored message, then live
)

var modeNames = [...]string{"online", "seq", "seq-data", "initial", "last"}

func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", m)
}

// ParseMode reads a mode as TLL's open parameter spells it.
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if n == s {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown open mode %q (want online, seq, seq-data, initial or last)", s)
}

// Control is a control message the client hands its application.
type Control uint8

const (
	CtlOnline Control = iota + 1 // history is over: everything after comes live
)

func (c Control) String() string {
	if c == CtlOnline {
		return "Online"
	}
	return fmt.Sprintf("control(%d)", c)
}

// State is the client's channel state as its application sees it.
type State uint8

const (
	StateClosed State = iota
	StateOpening
	StateActive
	StateError
)

var stateNames = [...]string{"Closed", "Opening", "Active", "Error"}

func (s State) String() string { return stateNames[s] }

// Phase is a step of an open on its way to Online. Phases change nothing for the application;
// they let histories show where a handover stood, and let fault schedulers aim at it.
type Phase uint8

const (
	PhaseRequest    Phase = iota + 1 // Request sent; seq: the seq asked for (-1 for initial/last)
	PhaseReply                       // Reply received; seq: the seq history must reach
	PhaseOverlap                     // history reached the buffered online data; seq: the buffer's front
	PhaseClientDone                  // ClientDone sent; seq: the last history seq
	PhaseEvict                       // the buffer overflowed for the first time; seq: the evicted seq, or that of a message larger than the buffer
)

var phaseNames = [...]string{PhaseRequest: "request", PhaseReply: "reply", PhaseOverlap: "overlap", PhaseClientDone: "client_done", PhaseEvict: "evict"}

func (p Phase) String() string { return phaseNames[p] }

// Handler receives what a client delivers. Callbacks may call Close on the client.
type Handler interface {
	Data(seq int64, msgid int32, body []byte)
	Control(c Control, seq int64)
	State(s State, reason string)
	Phase(p Phase, seq int64)
}

// Protocol selects the request message: TLL's Request (12) or RequestOld (11).
type Protocol uint8

const (
	ProtoNew Protocol = iota
	ProtoOld
)

// ClientConfig configures a client. Zero values take the defaults noted.
type ClientConfig struct {
	BufferBytes   int // bound on buffered online data during history; default 128 KiB as in TLL
	MaxFrameBytes int // largest frame body accepted; default 64 KiB - 16 as TLL's tcp buffer
	Protocol      Protocol
	Peer          string // client name sent in Hello and Request
	// HandshakeTimeoutNs bounds the wait for HelloReply and for Reply (each, from the dial);
	// past it the open fails loudly instead of hanging. Default 5 s.
	HandshakeTimeoutNs int64
	// Contiguous declares that the stream's seqs have no gaps, so the client can detect a
	// lost message (possible only on an unreliable online link) and fail loudly rather than
	// deliver past it.
	Contiguous bool
	Bugs       Bugs
	// Failpoints carries the hook that decides whether a failpoint fires (see failpoints.go);
	// nil: none ever does.
	Failpoints context.Context
}

// phase is where a client is in its open. The handover happens when phase leaves phHistory.
type phase uint8

const (
	phClosed     phase = iota
	phHello            // online dialed, Hello sent when connected, waiting for HelloReply
	phRequest          // request dialed, Request sent when connected, waiting for Reply
	phHistory          // reading history, buffering online data
	phWaitOnline       // initial on an empty server: the first online message starts the stream
	phLive             // handed over: online data only
	phFailed           // ended in Error
)

type link struct {
	id     ConnID
	up     bool // dialed and not yet closed
	framer *wire.Framer
}

// Client is the reference stream+ client. It is a sans-IO state machine: feed it events from
// its host, and it acts through Env and reports through Handler.
type Client struct {
	env Env
	h   Handler
	cfg ClientConfig

	mode    Mode
	openSeq int64 // first seq the session wants; -1 until known (initial, last)
	reqSeq  int64 // the open's seq argument

	ph        phase
	gen       uint64 // bumps at every open, close and failure; callbacks compare it to stop
	last      int64  // last seq delivered, -1 before any
	serverSeq int64  // the seq history must reach: max(handshake seq, Reply.last_seq)
	draining  bool   // live, but online copies of already delivered messages may still come
	// helloPending: BugRequestBeforeSubscribe sent the request before the HelloReply, which
	// is still to come and will be dropped.
	helloPending bool
	onlineHeld   bool // BugOnlineWaitsLive: Online is due, waiting for live data

	online, request link
	buf             ring
	helloReply      []byte // body of this session's HelloReply, to spot copies of it
}

// NewClient returns a closed client.
func NewClient(env Env, h Handler, cfg ClientConfig) *Client {
	if cfg.BufferBytes <= 0 {
		cfg.BufferBytes = 128 << 10
	}
	if cfg.MaxFrameBytes <= 0 {
		cfg.MaxFrameBytes = 64<<10 - wire.HeaderSize
	}
	if cfg.HandshakeTimeoutNs <= 0 {
		cfg.HandshakeTimeoutNs = DefaultHandshakeTimeoutNs
	}
	return &Client{env: env, h: h, cfg: cfg, last: -1, serverSeq: -1}
}

// DefaultHandshakeTimeoutNs is ClientConfig.HandshakeTimeoutNs when it is not set.
const DefaultHandshakeTimeoutNs int64 = 5_000_000_000

// ErrBadOpen is returned by Open for parameters that cannot be requested.
var ErrBadOpen = errors.New("invalid open")

// Open starts a session. seq is used by ModeSeq and ModeSeqData. An open on a client that is
// not closed closes the old session first.
func (c *Client) Open(mode Mode, seq int64) error {
	switch mode {
	case ModeSeq, ModeSeqData:
		if seq < 0 {
			return fmt.Errorf("%w: seq %d is negative", ErrBadOpen, seq)
		}
		if mode == ModeSeqData && seq == math.MaxInt64 {
			return fmt.Errorf("%w: seq-data %d has no successor", ErrBadOpen, seq)
		}
	case ModeInitial, ModeLast:
		if c.cfg.Protocol == ProtoOld {
			return fmt.Errorf("%w: mode %s needs the new request protocol", ErrBadOpen, mode)
		}
	case ModeOnline:
	default:
		return fmt.Errorf("%w: unknown mode %d", ErrBadOpen, mode)
	}
	if c.ph != phClosed && c.ph != phFailed {
		c.Close()
	}
	c.gen++
	c.mode, c.reqSeq = mode, seq
	c.openSeq = -1
	switch mode {
	case ModeSeq:
		c.openSeq = seq
	case ModeSeqData:
		c.openSeq = seq + 1
		if c.cfg.Bugs.has(BugSeqDataOffByOne) {
			c.openSeq = seq
		}
	}
	if c.cfg.Bugs.has(BugSeq32) {
		c.openSeq = int64(int32(c.openSeq))
	}
	c.last, c.serverSeq, c.draining, c.helloPending, c.onlineHeld = -1, -1, false, false, false
	c.buf.reset(c.cfg.BufferBytes)
	c.request = link{}
	c.online = c.dial(ChanOnline)
	c.ph = phHello
	c.env.SetTimer(c.cfg.HandshakeTimeoutNs, c.gen)
	return nil
}

// Close ends the session. It is safe to call from inside a Handler callback.
func (c *Client) Close() {
	if c.ph == phClosed {
		return
	}
	c.gen++
	c.drop(&c.online)
	c.drop(&c.request)
	c.ph = phClosed
	c.h.State(StateClosed, "")
}

// LastSeq is the last seq delivered in the current or last session, -1 if none.
func (c *Client) LastSeq() int64 { return c.last }

func (c *Client) dial(ch Channel) link {
	return link{id: c.env.Dial(ch), up: true, framer: wire.NewFramer(c.cfg.MaxFrameBytes)}
}

func (c *Client) drop(l *link) {
	if l.up {
		c.env.Close(l.id)
		l.up = false
	}
}

// fail ends the session in Error. Nothing is delivered after it.
func (c *Client) fail(format string, args ...any) {
	if c.ph == phClosed || c.ph == phFailed {
		return
	}
	c.gen++
	c.drop(&c.online)
	c.drop(&c.request)
	c.ph = phFailed
	c.h.State(StateError, fmt.Sprintf(format, args...))
}

func (c *Client) which(id ConnID) *link {
	switch {
	case c.online.up && c.online.id == id:
		return &c.online
	case c.request.up && c.request.id == id:
		return &c.request
	}
	return nil
}

// Accepted is never expected: clients do not listen.
func (c *Client) Accepted(id ConnID, _ Channel) { c.env.Close(id) }

func (c *Client) Connected(id ConnID) {
	switch l := c.which(id); {
	case l == &c.online && c.ph == phHello:
		c.env.Send(id, wire.AppendHello(nil, c.cfg.Peer))
		if c.cfg.Bugs.has(BugRequestBeforeSubscribe) && c.mode != ModeOnline {
			c.request = c.dial(ChanRequest)
			c.ph, c.helloPending = phRequest, true
		}
	case l == &c.request && c.ph == phRequest:
		c.sendRequest()
	}
}

func (c *Client) Closed(id ConnID, err error) {
	l := c.which(id)
	if l == nil {
		return
	}
	l.up = false
	reason := "closed by peer"
	if err != nil {
		reason = err.Error()
	}
	switch {
	case l == &c.online:
		c.fail("online channel: %s", reason)
	case c.ph == phRequest && c.cfg.Bugs.has(BugHangOnRequestFailure):
		// The open now waits for a Reply that cannot come (P7).
	case c.ph == phRequest || c.ph == phHistory:
		// The open cannot complete without the request channel; TLL would hang here
		// when this happens before Reply (P7). Fail loudly instead.
		c.fail("request channel: %s before history completed", reason)
	}
}

// Timer is the handshake timeout of the session numbered id: stale ones find gen moved on.
func (c *Client) Timer(id uint64) {
	if id != c.gen {
		return
	}
	switch c.ph {
	case phHello:
		c.fail("no HelloReply within %d ms", c.cfg.HandshakeTimeoutNs/1_000_000)
	case phRequest:
		c.fail("no Reply within %d ms", c.cfg.HandshakeTimeoutNs/1_000_000)
	case phLive:
		if c.onlineHeld {
			c.releaseOnline()
		}
	}
}

func (c *Client) Received(id ConnID, p []byte) {
	l := c.which(id)
	if l == nil {
		return
	}
	g := c.gen
	l.framer.Feed(p)
	var f wire.Frame
	for c.gen == g {
		ok, err := l.framer.NextInto(&f)
		if err != nil {
			c.fail("%s channel: %v", c.chanName(l), err)
			return
		}
		if !ok {
			return
		}
		if l == &c.online {
			c.onOnline(f)
		} else {
			c.onRequest(f)
		}
	}
}

func (c *Client) chanName(l *link) string {
	if l == &c.online {
		return "online"
	}
	return "request"
}

func (c *Client) onOnline(f wire.Frame) {
	if c.helloPending && f.MsgID == wire.MsgHelloReply {
		c.helloPending = false
		return
	}
	if c.cfg.Contiguous && c.ph != phHello && f.MsgID == wire.MsgHelloReply && f.Seq == 0 && bytes.Equal(f.Body, c.helloReply) {
		// A datagram link that duplicates messages can duplicate the handshake too; only a
		// client told its link is unreliable (Contiguous) pays for this check.
		return
	}
	switch c.ph {
	case phHello:
		c.onHelloReply(f)
	case phRequest, phHistory:
		c.buffer(f)
	case phWaitOnline:
		// Initial on an empty server: everything the server stores from now on comes
		// online, so the first online message starts the stream.
		if c.buffer(f) {
			c.goLive()
		}
	case phLive:
		if f.Seq <= c.last && !c.cfg.Bugs.has(BugNoDrain) {
			if c.draining && !c.cfg.Bugs.has(BugFailOnPast) {
				if hit(c.cfg.Failpoints, FPClientDuringDrain) {
					c.fail("failpoint %s", FPClientDuringDrain)
				}
				return // an online copy of a message history already delivered
			}
			c.fail("online seq %d not after %d", f.Seq, c.last)
			return
		}
		if c.lost("online", f.Seq) {
			return
		}
		c.draining = false
		if c.onlineHeld && !c.releaseOnline() {
			return
		}
		c.deliver(f.Seq, f.MsgID, f.Body)
	}
}

// buffer keeps an online message until history catches up. A message larger than the whole
// buffer can never be handed over in order, so it fails the session instead of being lost.
func (c *Client) buffer(f wire.Frame) bool {
	evicted, msgid := c.buf.evicted, f.MsgID
	if c.cfg.Bugs.has(BugBufferLosesMsgID) {
		msgid = 0
	}
	if c.buf.push(f.Seq, msgid, f.Body) {
		if evicted == 0 && c.buf.evicted > 0 {
			c.h.Phase(PhaseEvict, c.buf.lastEvicted)
		}
		return true
	}
	// An overflow too, and the history must show it as one: the failure is documented.
	if evicted == 0 {
		c.h.Phase(PhaseEvict, f.Seq)
	}
	c.fail("online message %d of %d bytes does not fit the %d-byte buffer", f.Seq, len(f.Body), c.cfg.BufferBytes)
	return false
}

func (c *Client) onHelloReply(f wire.Frame) {
	if f.MsgID != wire.MsgHelloReply {
		c.fail("online channel: expected HelloReply, got msgid %d", f.MsgID)
		return
	}
	hr, err := wire.DecodeHelloReply(f.Body)
	if err != nil {
		c.fail("online channel: %v", err)
		return
	}
	c.helloReply = append(c.helloReply[:0], f.Body...)
	if c.mode == ModeOnline {
		c.ph = phLive
		c.h.State(StateActive, "")
		return
	}
	c.serverSeq = hr.Seq
	// The request goes out only now that the subscription is active (invariant I2), so
	// everything the server stores after handling the request reaches us online.
	c.request = c.dial(ChanRequest)
	c.ph = phRequest
	c.env.SetTimer(c.cfg.HandshakeTimeoutNs, c.gen)
}

func (c *Client) sendRequest() {
	c.h.Phase(PhaseRequest, c.openSeq)
	if c.cfg.Protocol == ProtoOld {
		c.env.Send(c.request.id, wire.AppendMsg(nil, wire.RequestOld{Version: 1, Seq: c.openSeq, Client: c.cfg.Peer}))
		return
	}
	r := wire.Request{Version: 1, Client: c.cfg.Peer}
	switch c.mode {
	case ModeInitial:
		r.Kind = wire.ReqInitial
	case ModeLast:
		r.Kind = wire.ReqLast
	default:
		r.Kind, r.Seq = wire.ReqSeq, uint64(c.openSeq)
	}
	c.env.Send(c.request.id, wire.AppendMsg(nil, r))
}

func (c *Client) onRequest(f wire.Frame) {
	switch c.ph {
	case phRequest:
		c.onReply(f)
	case phHistory:
		c.onHistory(f)
	}
	// Anything else is history still in flight after the switch: live data covers it.
}

func (c *Client) onReply(f wire.Frame) {
	switch f.MsgID {
	case wire.MsgError:
		e, err := wire.DecodeError(f.Body)
		if err != nil {
			c.fail("request channel: malformed Error: %v", err)
			return
		}
		c.fail("server error: %s", e.Text)
		return
	case wire.MsgReply:
	default:
		c.fail("request channel: expected Reply, got msgid %d", f.MsgID)
		return
	}
	r, err := wire.DecodeReply(f.Body)
	if err != nil {
		c.fail("request channel: malformed Reply: %v", err)
		return
	}
	c.serverSeq = max(c.serverSeq, r.LastSeq)
	if c.cfg.Bugs.has(BugReplySeqOnly) {
		c.serverSeq = r.LastSeq
	}
	c.h.Phase(PhaseReply, c.serverSeq)
	switch c.mode {
	case ModeInitial:
		c.openSeq = r.RequestedSeq
	case ModeLast:
		// TLL servers translate last to last-1 (P11); the last message is what was asked.
		c.openSeq = r.LastSeq
	}
	g := c.gen
	c.ph = phHistory
	c.h.State(StateActive, "")
	if c.gen != g {
		return
	}
	if hit(c.cfg.Failpoints, FPClientAfterReply) {
		c.fail("failpoint %s", FPClientAfterReply)
		return
	}
	switch {
	case c.serverSeq == -1 && c.mode != ModeInitial:
		c.fail("server has no data, cannot open from seq %d", c.openSeq)
	case c.openSeq > c.serverSeq+1, c.cfg.Bugs.has(BugFailAtNextSeq) && c.openSeq == c.serverSeq+1:
		c.fail("requested seq %d is beyond the server's last seq %d", c.openSeq, c.serverSeq)
	case c.buf.evicted > 0 && c.buf.lastEvicted >= c.openSeq && !c.cfg.Bugs.has(BugSilentEviction) &&
		!(c.cfg.Bugs.has(BugEvictionPastStart) && c.buf.lastEvicted == c.openSeq):
		// Online data this session needs was lost from the buffer before the Reply came;
		// only history can supply it, so the shortcuts below that drop the request channel
		// are off. (Evicted messages below the start are not needed: waiting for history
		// then would stall until the next post, which liveness caught in chaos seed 193.)
	case c.serverSeq == -1:
		c.drop(&c.request)
		if c.buf.len() > 0 {
			c.goLive()
		} else {
			c.ph = phWaitOnline
		}
	case c.openSeq == c.serverSeq+1:
		// Nothing to fetch. Online data that raced ahead of the Reply is in the buffer
		// and goes out before Online.
		c.last = c.serverSeq
		c.drop(&c.request)
		if c.cfg.Bugs.has(BugReplyRaceDrop) {
			c.buf.reset(c.cfg.BufferBytes)
		}
		if c.cfg.Bugs.has(BugOnlineWaitsLive) && c.mode == ModeSeq && c.buf.len() == 0 {
			c.holdOnline()
		}
		c.goLive()
	case c.cfg.Bugs.has(BugSkipHistory) && (c.mode == ModeSeq || c.mode == ModeSeqData):
		c.last = c.openSeq - 1
		c.drop(&c.request)
		c.goLive()
	}
}

func (c *Client) onHistory(f wire.Frame) {
	h := f.Seq
	if h < c.openSeq {
		return // TLL's last starts one early; anything before the start is not ours
	}
	if h <= c.last {
		c.fail("history seq %d not after %d", h, c.last)
		return
	}
	g := c.gen
	c.deliver(h, f.MsgID, f.Body)
	if c.gen != g {
		return
	}
	switch {
	case c.buf.len() > 0 && (c.buf.front().seq <= h || c.cfg.Bugs.has(BugOverlapOffByOne) && c.buf.front().seq <= h+2):
		// History has reached the buffered online data, and the buffer holds everything
		// after it: the overlap is decided on a seq that exists, never on h+1 (P2).
		c.h.Phase(PhaseOverlap, c.buf.front().seq)
		if hit(c.cfg.Failpoints, FPClientAtOverlap) {
			c.fail("failpoint %s", FPClientAtOverlap)
			return
		}
		c.sendClientDone(h)
		c.goLive()
	case c.buf.len() == 0 && h >= c.serverSeq:
		c.sendClientDone(h)
		c.goLive()
	}
}

func (c *Client) sendClientDone(seq int64) {
	c.h.Phase(PhaseClientDone, seq)
	c.env.Send(c.request.id, wire.AppendMsg(nil, wire.ClientDone{Seq: seq}))
}

// goLive hands over: it delivers the buffered online data beyond what history delivered, then
// reports Online with the last seq delivered. Until an online message is delivered, online
// copies of messages that history delivered may still be in flight and are skipped (drain;
// TLL goes straight to Online after an overlap and fails on them, P3).
func (c *Client) goLive() {
	g := c.gen
	c.ph = phLive
	c.draining = true
	switch {
	case c.cfg.Bugs.has(BugAdvanceBeforeDeliver) && c.buf.len() > 0:
		c.last = c.buf.back().seq
	case c.cfg.Bugs.has(BugStaleLivePosition):
		c.last = c.serverSeq
	}
	for c.gen == g && c.buf.len() > 0 {
		e := c.buf.pop()
		if e.seq <= c.last && !c.cfg.Bugs.has(BugNoDrain) {
			if hit(c.cfg.Failpoints, FPClientDuringDrain) {
				c.fail("failpoint %s", FPClientDuringDrain)
				return
			}
			continue
		}
		if c.lost("buffered", e.seq) {
			return
		}
		c.draining = false
		c.deliver(e.seq, e.msgid, e.body)
	}
	if c.gen != g {
		return
	}
	if hit(c.cfg.Failpoints, FPClientBeforeOnline) {
		c.fail("failpoint %s", FPClientBeforeOnline)
		return
	}
	if c.onlineHeld {
		return
	}
	c.h.Control(CtlOnline, c.last)
}

// lost fails the session when a contiguous stream skips a seq, which only a datagram link
// can make happen: live data is delivered in order or not at all.
func (c *Client) lost(what string, seq int64) bool {
	if !c.cfg.Contiguous || c.last < 0 || seq == c.last+1 {
		return false
	}
	c.fail("%s seq %d after %d in a contiguous stream: %d messages lost", what, seq, c.last, seq-c.last-1)
	return true
}

func (c *Client) deliver(seq int64, msgid int32, body []byte) {
	c.last = seq
	c.h.Data(seq, msgid, body)
}
