package reference

import (
	"fmt"
	"math"

	"github.com/streamsim/streamsim/reference/storage"
	"github.com/streamsim/streamsim/reference/wire"
)

// Bugs is a set of deliberately planted bugs. The reference is correct with none set; each bit
// puts back one known failure of a real implementation, so campaigns can prove that the
// harness detects it. The zero value is the correct reference.
type Bugs uint64

const (
	// BugNoDrain: after the switch to live, messages already delivered from history are
	// delivered again instead of being skipped: both the buffered ones at the overlap and
	// the late online copies after an exact match.
	BugNoDrain Bugs = 1 << iota
	// BugSeqDataOffByOne: seq-data S asks for S instead of S+1, repeating the message the
	// application already has.
	BugSeqDataOffByOne
	// BugSkipHistory: the nothing-to-fetch test compares with <= instead of ==, so a seq
	// open with history to fetch goes Online at once, at the requested position.
	BugSkipHistory
	// BugAckBeforeSync: a durable server acknowledges a post as durable without syncing it.
	BugAckBeforeSync
	// BugReopenInclusive: the application reopens with seq = the last delivered seq instead
	// of seq-data, so the last message comes again (the reopen policy is the application's;
	// the simulator's client application honours this bit).
	BugReopenInclusive
	// BugOverlapOffByOne: the overlap test accepts a buffer front two seqs past the history
	// message, so the message between them is never delivered.
	BugOverlapOffByOne
	// BugReplyRaceDrop: on the nothing-to-fetch path the client goes live with live data that
	// overtook the Reply still in its buffer, and drops it.
	BugReplyRaceDrop
	// BugReplySeqOnly: the seq history must reach is the Reply's last seq alone, not the
	// larger of it and the online handshake's.
	BugReplySeqOnly
	// BugTranslatedSeq: the Reply's requested seq names the seq after the one the server
	// serves from; a client reads it to learn where an initial request starts.
	BugTranslatedSeq
	// BugSeq32: the open's seq is truncated to 32 bits.
	BugSeq32
	// BugAdvanceBeforeDeliver: at the switch the client's position jumps to the newest
	// buffered message before the buffer is delivered, so the buffer is skipped.
	BugAdvanceBeforeDeliver
	// BugStaleLivePosition: at the switch the client's position goes back to the target it
	// learned from the Reply, not what history delivered.
	BugStaleLivePosition
	// BugFailOnPast: after the switch the client is live at once, not draining: a late
	// online copy of a message history delivered fails the session.
	BugFailOnPast
	// BugSilentEviction: the client takes the nothing-to-fetch shortcut although its buffer
	// already evicted messages it needs, which nothing will deliver.
	BugSilentEviction
	// BugSilentMalformed: the server answers a malformed request with nothing.
	BugSilentMalformed
	// BugHangOnRequestFailure: a request channel that fails before the Reply is ignored.
	BugHangOnRequestFailure
	// BugRequestBeforeSubscribe: the request goes out once the online connection is up,
	// before the subscription is confirmed; the HelloReply's seq is never used.
	BugRequestBeforeSubscribe
	// BugPublishBeforeStore: the server publishes a post at once and stores it (and reports
	// it as its last seq) only storeLagNs later.
	BugPublishBeforeStore
	// BugFailAtNextSeq: the client's beyond-the-end test fails an open at seq = last+1 too,
	// which must go Online at once.
	BugFailAtNextSeq
	// BugInstantSnapshot: the handshakes report the last seq as of the start of the current
	// instant, leaving out posts made at the same instant.
	BugInstantSnapshot
	// BugOnlineWaitsLive: a seq open with nothing to fetch and nothing buffered waits for a
	// live message to report Online, or onlineWaitNs, longer than the default liveness bound.
	BugOnlineWaitsLive
)

// Mutant documents one planted bug.
type Mutant struct {
	Name   string
	Bug    Bugs
	Origin string // where the bug comes from
	Doc    string
}

var mutants = []Mutant{
	{
		Name:   "no-drain",
		Bug:    BugNoDrain,
		Origin: "TLL pitfall P3 (spec section 6); TLL commit cf55532 added the missing drain",
		Doc:    "goes live without skipping online messages already delivered from history",
	},
	{
		Name:   "seq-data-off-by-one",
		Bug:    BugSeqDataOffByOne,
		Origin: "issue 6 list; the classic inclusive/exclusive resume error (TLL P14 is the by-design variant for mode=seq)",
		Doc:    "seq-data S requests S, so the message at S is delivered again",
	},
	{
		Name:   "skip-history",
		Bug:    BugSkipHistory,
		Origin: "TLL E3's nothing-to-fetch test (server_seq + 1 == open_seq, spec 2.3) written as <=",
		Doc:    "goes Online at the requested position without reading history: a stale Online and a gap",
	},
	{
		Name:   "ack-before-sync",
		Bug:    BugAckBeforeSync,
		Origin: "issue 3: a store that acknowledges before it syncs (the classic lost-ack on power loss)",
		Doc:    "a durable server acknowledges posts as durable without syncing them; a crash loses them",
	},
	{
		Name:   "reopen-inclusive",
		Bug:    BugReopenInclusive,
		Origin: "TLL P14: info.reopen is inclusive (mode=seq), so a reopen repeats the last message",
		Doc:    "the application reopens with seq = last delivered, repeating that message",
	},
	{
		Name:   "overlap-off-by-one",
		Bug:    BugOverlapOffByOne,
		Origin: "TLL commit b89b946 (overlap detection off by one): the test is one past TLL's own front <= h+1",
		Doc:    "switches to live when the buffer's front is h+2, skipping history message h+1",
	},
	{
		Name:   "reply-race-drop",
		Bug:    BugReplyRaceDrop,
		Origin: "TLL commit a5e5c0a (wrong state with overlapped data): nothing-to-fetch goes to Drain with data in the ring",
		Doc:    "on the nothing-to-fetch path, live data that overtook the Reply is dropped from the buffer",
	},
	{
		Name:   "reply-seq-only",
		Bug:    BugReplySeqOnly,
		Origin: "TLL commit e86ea31 (use the larger of the online and reply seqs, spec P30)",
		Doc:    "ignores a handshake seq above the Reply's: goes Online before history reaches what the publisher already sent",
	},
	{
		Name:   "wrong-translated-seq",
		Bug:    BugTranslatedSeq,
		Origin: "TLL commit 60e9222 (wrong translated seq reported to the client)",
		Doc:    "the Reply to an initial request names the seq after the first stored one, so the client skips it",
	},
	{
		Name:   "seq-32bit",
		Bug:    BugSeq32,
		Origin: "TLL commit b260a2b (seq parsed as 32 bits; test_open_initial_seq_large)",
		Doc:    "the open's seq loses its high bits: seq 2^32 asks for 0",
	},
	{
		Name:   "advance-before-deliver",
		Bug:    BugAdvanceBeforeDeliver,
		Origin: "nats.go issue 2107: a consumer that advances its position before it has delivered",
		Doc:    "at the switch the position jumps to the newest buffered seq, so the buffer counts as delivered and is skipped",
	},
	{
		Name:   "stale-live-position",
		Bug:    BugStaleLivePosition,
		Origin: "Aeron PR 2031: a stale live position after replay",
		Doc:    "at the switch the position is the Reply's target, not the last seq history delivered: repeats or gaps",
	},
	{
		Name:   "online-without-drain",
		Bug:    BugFailOnPast,
		Origin: "TLL pitfall P3: the Online state fails on a seq in the past instead of draining",
		Doc:    "a late online copy of a message history delivered fails a live session for nothing",
	},
	{
		Name:   "silent-eviction",
		Bug:    BugSilentEviction,
		Origin: "TLL pitfall P4: eviction from a full buffer is silent, lost once the request stream is gone",
		Doc:    "goes live on the nothing-to-fetch path although the buffer evicted messages only history could give",
	},
	{
		Name:   "silent-malformed",
		Bug:    BugSilentMalformed,
		Origin: "TLL pitfall P9: malformed requests get no Error and no disconnect",
		Doc:    "the server ignores a malformed request; the client waits for a Reply until its handshake timeout (TLL: forever)",
	},
	{
		Name:   "hang-on-request-failure",
		Bug:    BugHangOnRequestFailure,
		Origin: "TLL pitfall P7: request-channel failure before the request is posted is ignored",
		Doc:    "a request channel that fails before the Reply is ignored and the open waits (until the handshake timeout)",
	},
	{
		Name:   "request-before-subscribe",
		Bug:    BugRequestBeforeSubscribe,
		Origin: "TLL invariant I2: the online subscription is active before the request is sent",
		Doc:    "sends the request before the subscription is confirmed: posts between the two reach neither channel",
	},
	{
		Name:   "publish-before-store",
		Bug:    BugPublishBeforeStore,
		Origin: "TLL invariant I3: storage receives a message before online does",
		Doc:    "publishes before storing: a client subscribed just after a post can find it in neither channel",
	},
	{
		Name:   "fail-at-next-seq",
		Bug:    BugFailAtNextSeq,
		Origin: "TLL pitfall P12: seq = last+1 goes online at once, only seq > last+1 is an error; issue 10 blind spot 1",
		Doc:    "fails an open at seq = last+1 as beyond the server's end: a loud failure nothing caused",
	},
	{
		Name:   "online-waits-live",
		Bug:    BugOnlineWaitsLive,
		Origin: "a client that takes the first live message as the proof of an empty handover; issue 10 blind spot 2",
		Doc:    "a seq open at last+1 with nothing buffered reports Online only when live data comes, or 150 ms later: late on a paused stream",
	},
	{
		Name:   "instant-snapshot",
		Bug:    BugInstantSnapshot,
		Origin: "a last-seq snapshot keyed by a clock tick, blind to posts of the current tick; issue 10 blind spot 3 (equal timestamps)",
		Doc:    "HelloReply and Reply leave out a post made at the same instant: an open at last+1 goes Online without it, and the next live seq leaves a gap",
	},
}

// Mutants lists every planted bug, in a fixed order.
func Mutants() []Mutant { return append([]Mutant(nil), mutants...) }

// MutantByName finds a planted bug by name.
func MutantByName(name string) (Mutant, bool) {
	for _, m := range mutants {
		if m.Name == name {
			return m, true
		}
	}
	return Mutant{}, false
}

func (b Bugs) has(x Bugs) bool { return b&x != 0 }

// malformed reports whether TLL's server would drop request frame f without an answer (P9):
// a body that does not decode, a negative old-protocol seq, or an unknown msgid. Requests it
// decodes but cannot serve get an Error from TLL too.
func malformed(f wire.Frame) bool {
	switch f.MsgID {
	case wire.MsgRequest:
		_, err := wire.DecodeRequest(f.Body)
		return err != nil
	case wire.MsgRequestOld:
		r, err := wire.DecodeRequestOld(f.Body)
		return err != nil || r.Seq < 0
	}
	return true
}

// tick notes, under BugInstantSnapshot, the last seq before the posts of the current instant.
func (s *Server) tick() {
	if now := s.env.Now(); now != s.tickAt {
		s.tickAt, s.tickLast = now, s.last
	}
}

// lastNow is the last seq the handshakes report: the last accepted one, or under
// BugInstantSnapshot the last one before the current instant's posts.
func (s *Server) lastNow() int64 {
	if s.cfg.Bugs.has(BugInstantSnapshot) && s.tickAt == s.env.Now() {
		return s.tickLast
	}
	return s.last
}

// onlineWaitNs is how long BugOnlineWaitsLive holds Online back when no live data comes.
const onlineWaitNs = 150_000_000

// holdOnline keeps, under BugOnlineWaitsLive, the coming Online back until live data arrives
// or onlineWaitNs passes.
func (c *Client) holdOnline() {
	c.onlineHeld = true
	c.env.SetTimer(onlineWaitNs, c.gen)
}

// releaseOnline reports, under BugOnlineWaitsLive, the Online held since the switch, now
// that live data came; false if the session ended meanwhile.
func (c *Client) releaseOnline() bool {
	g := c.gen
	c.onlineHeld = false
	c.h.Control(CtlOnline, c.last)
	return c.gen == g
}

// storeLagNs is how long BugPublishBeforeStore keeps a published post out of the store: long
// enough for a client to subscribe after the publish and have its request answered before
// the store catches up.
const storeLagNs = 1_000_000

// storeTimer is the timer id of BugPublishBeforeStore's late store; history timers use
// connection ids, which never reach it.
const storeTimer = math.MaxUint64

// publishBeforeStore is Post under BugPublishBeforeStore: the message goes to the subscribers
// now and into the store, and the server's last seq, when its store timer fires.
func (s *Server) publishBeforeStore(seq int64, msgid int32, body []byte) (int64, error) {
	last := s.last
	if n := len(s.unstored); n > 0 {
		last = s.unstored[n-1].Seq
	}
	if s.cfg.Autoseq {
		seq = last + 1
	}
	if seq <= last {
		return 0, fmt.Errorf("%w: %d after %d", ErrNotIncreasing, seq, last)
	}
	frame := wire.AppendFrame(nil, msgid, seq, body)
	for i := 0; i < len(s.subs); {
		c := s.subs[i]
		if s.env.Pending(c.id) > s.cfg.SubscriberMaxLagBytes {
			s.disconnect(c)
			continue
		}
		s.env.Send(c.id, frame)
		i++
	}
	s.unstored = append(s.unstored, storage.Record{Seq: seq, MsgID: msgid, Body: append([]byte(nil), body...)})
	s.env.SetTimer(storeLagNs, storeTimer)
	return seq, nil
}

// storeLate stores the oldest message publishBeforeStore published: every post sets one timer,
// all with the same delay, so they fire in post order. Then it feeds the history streams.
func (s *Server) storeLate() {
	r := s.unstored[0]
	s.unstored = s.unstored[1:]
	if s.cfg.Store.Append(r) != nil {
		return
	}
	s.last = r.Seq
	s.pumpTails()
}
