package reference

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/streamsim/streamsim/reference/storage"
	"github.com/streamsim/streamsim/reference/wire"
)

// ServerConfig configures a server. Zero values take the defaults noted.
type ServerConfig struct {
	Store   storage.Store // default: a new memory store
	Autoseq bool          // ignore posted seqs and assign last+1
	// MaxMsgBytes rejects larger posts (TLL max-size); default 64 KiB - 16, the largest body
	// a TLL tcp receiver accepts in one frame.
	MaxMsgBytes int
	// MaxFrameBytes bounds frames received from clients; default 64 KiB - 16.
	MaxFrameBytes int
	// HistoryBatchMsgs is how many stored messages go out in one send on a request channel;
	// default 64. HistoryIntervalNs pauses between batches, so history streams over time and
	// interleaves with live posts, as a real server's reader does.
	HistoryBatchMsgs  int
	HistoryIntervalNs int64
	// HistoryBatchBytes, when positive, also ends a batch once its bodies reach that many
	// bytes (a batch holds at least one message), so what one history send costs is bounded
	// in bytes whatever the message size. Default: batches are bounded by count alone.
	HistoryBatchBytes int
	// HistoryMaxPendingBytes pauses a history stream while that many bytes wait unsent on its
	// channel (the reader is slower than the store); default 256 KiB.
	HistoryMaxPendingBytes int
	// SubscriberMaxLagBytes drops an online subscriber with that many bytes waiting unsent,
	// as TLL's pub ring drops one whose next message was evicted (spec 4.2 point 6); the
	// client fails loudly and recovers from history. Default 1 MiB, TLL's ring size.
	SubscriberMaxLagBytes int
	// PubLastSeq, when positive and above the stored last seq, is what the online handshake
	// reports: TLL's pub last-seq placeholder, or a pub endpoint that published more than the
	// store holds (TLL test_online_gap).
	PubLastSeq int64
	// Durable makes every post durable before it is acknowledged or published: the store
	// (a storage.Syncer) is synced after each append. Clients then never see a message a
	// crash could take back.
	Durable bool
	Bugs    Bugs
	// Failpoints carries the hook that decides whether a failpoint fires (see failpoints.go);
	// nil: none ever does.
	Failpoints context.Context
}

type srvPhase uint8

const (
	spHello      srvPhase = iota // online: waiting for Hello
	spSubscribed                 // online: receives every post
	spRequest                    // request: waiting for Request
	spHistory                    // request: streaming history, then tailing the store
)

type srvConn struct {
	id     ConnID
	ph     srvPhase
	framer *wire.Framer // request channel
	hello  []byte       // online channel, until the Hello is complete
	next   int64        // history: the next seq to read from the store
	paused bool         // history: a batch timer is pending
	// bodyHint is the mean body size of the last history batch, with HistoryBatchBytes: what
	// the next one reads.
	bodyHint int
}

// Server is the reference stream+ server. Post stores a message and then publishes it on the
// online channel; clients read history over the request channel.
type Server struct {
	env     Env
	cfg     ServerConfig
	last    int64
	pubLast int64
	durable int64 // last seq acknowledged as durable

	conns map[ConnID]*srvConn // lookup only; never iterated
	subs  []*srvConn          // online subscribers, in subscription order
	tails []*srvConn          // request channels streaming history, in request order
	recs  []storage.Record
	ends  []int // where each frame being published ends (publish)
	// frames is PostBatch's buffer on a CopySender, kept for the next batch unless a batch
	// of large messages grew it past maxKeptFrames.
	frames []byte

	unstored []storage.Record // BugPublishBeforeStore: published, not yet stored
	// BugInstantSnapshot: the instant of the latest post (-1 before any), and the last seq
	// before that instant's posts.
	tickAt, tickLast int64
}

// NewServer returns a server over cfg.Store, continuing after the last stored seq.
func NewServer(env Env, cfg ServerConfig) *Server {
	if cfg.Store == nil {
		cfg.Store = storage.NewMemory()
	}
	if cfg.MaxMsgBytes <= 0 {
		cfg.MaxMsgBytes = 64<<10 - wire.HeaderSize
	}
	if cfg.MaxFrameBytes <= 0 {
		cfg.MaxFrameBytes = 64<<10 - wire.HeaderSize
	}
	if cfg.HistoryBatchMsgs <= 0 {
		cfg.HistoryBatchMsgs = DefaultHistoryBatchMsgs
	}
	if cfg.HistoryMaxPendingBytes <= 0 {
		cfg.HistoryMaxPendingBytes = 256 << 10
	}
	if cfg.SubscriberMaxLagBytes <= 0 {
		cfg.SubscriberMaxLagBytes = 1 << 20
	}
	s := &Server{env: env, cfg: cfg, last: cfg.Store.Last(), pubLast: -1, durable: cfg.Store.Last(), conns: make(map[ConnID]*srvConn), tickAt: -1}
	if cfg.PubLastSeq > 0 {
		s.pubLast = cfg.PubLastSeq
	}
	return s
}

// LastSeq is the last accepted seq, -1 when the store is empty.
func (s *Server) LastSeq() int64 { return s.last }

// DurableSeq is the last seq the server acknowledged as durable: with Durable, every accepted
// post; otherwise what the store held when the server started.
func (s *Server) DurableSeq() int64 { return s.durable }

// DefaultHistoryBatchMsgs is ServerConfig.HistoryBatchMsgs when it is not set.
const DefaultHistoryBatchMsgs = 64

var (
	ErrNotIncreasing = storage.ErrNotIncreasing
	ErrTooLarge      = errors.New("message too large")
)

// Post stores a message, then publishes it. It returns the seq stored (different from seq
// with Autoseq).
func (s *Server) Post(seq int64, msgid int32, body []byte) (int64, error) {
	if len(body) > s.cfg.MaxMsgBytes {
		return 0, s.tooLarge(body)
	}
	if s.cfg.Bugs.has(BugPublishBeforeStore) {
		return s.publishBeforeStore(seq, msgid, body)
	}
	requested := seq
	seq, err := s.store(seq, msgid, body)
	if err != nil {
		return 0, err
	}
	if s.cfg.Durable {
		if err := s.sync(); err != nil {
			return 0, err
		}
		s.durable = seq
	}
	if hit(s.cfg.Failpoints, FPServerAfterStore) {
		// As when publishing fails after the store took the message (P20): every
		// subscriber is dropped and must recover it from history.
		for len(s.subs) > 0 {
			s.disconnect(s.subs[0])
		}
	}
	if len(s.subs) > 0 {
		pub := seq
		if s.cfg.Bugs.has(BugAutoseqPublishesRequested) {
			pub = requested
		}
		frame := wire.AppendFrame(nil, msgid, pub, body)
		s.ends = append(s.ends[:0], len(frame))
		s.publish(frame, s.ends, s.env.Send)
	}
	s.pumpTails()
	return seq, nil
}

func (s *Server) tooLarge(body []byte) error {
	return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(body), s.cfg.MaxMsgBytes)
}

// store appends a message to the store under the seq it gets, which it returns.
func (s *Server) store(seq int64, msgid int32, body []byte) (int64, error) {
	if s.cfg.Autoseq {
		seq = s.last + 1
	}
	if seq <= s.last {
		return 0, fmt.Errorf("%w: %d after %d", ErrNotIncreasing, seq, s.last)
	}
	if s.cfg.Bugs.has(BugInstantSnapshot) {
		s.tick()
	}
	// Storing first is what makes a client's buffer eviction safe (I3): whatever a client
	// sees online, it can also read from history.
	if err := s.cfg.Store.Append(storage.Record{Seq: seq, MsgID: msgid, Body: body}); err != nil {
		return 0, err
	}
	s.last = seq
	return seq, nil
}

// PostResult is what one post of a batch came to: the seq stored, or why it was refused.
type PostResult struct {
	Seq int64
	Err error
}

// PostBatch posts msgs in order, with the effect of as many calls of Post, and appends each
// one's result to res. A subscriber not near its lag limit gets the batch's frames in one
// send, and the history streams are fed once, after the last post, so a batch costs a host
// one queueing per connection instead of one per message. A server with mutants, failpoints or durability
// posts one by one through Post, whose steps those hook into.
func (s *Server) PostBatch(msgs []storage.Record, res []PostResult) []PostResult {
	if s.cfg.Bugs != 0 || s.cfg.Failpoints != nil || s.cfg.Durable {
		for _, m := range msgs {
			seq, err := s.Post(m.Seq, m.MsgID, m.Body)
			res = append(res, PostResult{seq, err})
		}
		return res
	}
	var frames []byte
	send, kept, live := s.env.Send, false, len(s.subs) > 0
	if live {
		n := framesLen(msgs)
		if cs, ok := s.env.(CopySender); ok {
			frames, send, kept = slices.Grow(s.frames[:0], n), cs.SendCopy, true
		} else {
			// The subscribers' hosts own it once sent, so the next batch needs another.
			frames = make([]byte, 0, n)
		}
	}
	ends := s.ends[:0]
	stored := false
	for _, m := range msgs {
		var seq int64
		var err error
		if len(m.Body) > s.cfg.MaxMsgBytes {
			err = s.tooLarge(m.Body)
		} else {
			seq, err = s.store(m.Seq, m.MsgID, m.Body)
		}
		res = append(res, PostResult{seq, err})
		if err != nil {
			continue
		}
		stored = true
		if live {
			frames = wire.AppendFrame(frames, m.MsgID, seq, m.Body)
			ends = append(ends, len(frames))
		}
	}
	s.ends = ends
	if len(ends) > 0 {
		s.publish(frames, ends, send)
	}
	if kept && cap(frames) <= maxKeptFrames {
		s.frames = frames
	}
	if stored {
		s.pumpTails()
	}
	return res
}

// framesLen is how many bytes the frames of recs take.
func framesLen(recs []storage.Record) int {
	n := len(recs) * wire.HeaderSize
	for _, r := range recs {
		n += len(r.Body)
	}
	return n
}

// maxKeptFrames bounds the frame buffer a server keeps between batches.
const maxKeptFrames = 1 << 20

// publish sends frames, the i-th ending at ends[i], to every subscriber: a subscriber over its
// lag limit before a frame is dropped instead of sent it. Post publishes its one frame here,
// PostBatch a batch's.
func (s *Server) publish(frames []byte, ends []int, send func(ConnID, []byte)) {
	lastStart := 0
	if n := len(ends); n > 1 {
		lastStart = ends[n-2]
	}
	for i := 0; i < len(s.subs); {
		c := s.subs[i]
		if s.env.Pending(c.id)+lastStart <= s.cfg.SubscriberMaxLagBytes {
			// Even if none of it drains meanwhile, no frame would find the subscriber over
			// its limit: one send does what one per frame would.
			send(c.id, frames)
			i++
			continue
		}
		// Near its limit: frame by frame, looking at what has drained before each.
		from := 0
		for _, end := range ends {
			if s.env.Pending(c.id) > s.cfg.SubscriberMaxLagBytes {
				s.disconnect(c) // removes c from subs
				if s.cfg.Bugs.has(BugLagDropSkipsNext) {
					i++
				}
				break
			}
			send(c.id, frames[from:end])
			from = end
		}
		if from == len(frames) {
			i++
		}
	}
}

// pumpTails feeds the history streams that caught up with the store and wait for more.
func (s *Server) pumpTails() {
	// pump may drop the stream it serves, which shifts the rest of tails down one place.
	for i := 0; i < len(s.tails); {
		c := s.tails[i]
		if !c.paused {
			s.pump(c)
		}
		if i < len(s.tails) && s.tails[i] == c {
			i++
		}
	}
}

func (s *Server) Accepted(id ConnID, ch Channel) {
	c := &srvConn{id: id, ph: spHello}
	if ch == ChanRequest {
		c.ph = spRequest
		c.framer = wire.NewFramer(s.cfg.MaxFrameBytes)
	}
	s.conns[id] = c
}

func (s *Server) Connected(ConnID) {}

func (s *Server) Closed(id ConnID, _ error) {
	if c := s.conns[id]; c != nil {
		s.forget(c)
	}
}

func (s *Server) Timer(id uint64) {
	if s.cfg.Bugs.has(BugPublishBeforeStore) && id == storeTimer {
		s.storeLate()
		return
	}
	c := s.conns[ConnID(id)]
	if c == nil || c.ph != spHistory {
		return
	}
	c.paused = false
	s.pump(c)
}

func (s *Server) Received(id ConnID, p []byte) {
	c := s.conns[id]
	if c == nil {
		return
	}
	switch c.ph {
	case spHello:
		s.onHello(c, p)
	case spSubscribed:
		// A subscriber never sends after Hello; TLL drops it too.
		s.disconnect(c)
	default:
		s.onRequestBytes(c, p)
	}
}

func (s *Server) onHello(c *srvConn, p []byte) {
	c.hello = append(c.hello, p...)
	h, n, err := wire.ParseHello(c.hello)
	if errors.Is(err, wire.ErrShort) {
		return
	}
	if err != nil || h.Version != 1 || n != len(c.hello) {
		// No error message exists on the pub channel: the only answer is a disconnect.
		s.disconnect(c)
		return
	}
	c.hello = nil
	c.ph = spSubscribed
	s.subs = append(s.subs, c)
	s.env.Send(c.id, wire.AppendMsg(nil, wire.HelloReply{Version: 1, Seq: max(s.lastNow(), s.pubLast)}))
}

func (s *Server) onRequestBytes(c *srvConn, p []byte) {
	c.framer.Feed(p)
	for s.conns[c.id] == c {
		f, ok, err := c.framer.Next()
		if err != nil {
			s.refuse(c, err.Error())
			return
		}
		if !ok {
			return
		}
		if c.ph == spRequest {
			s.onRequest(c, f)
			continue
		}
		// After Reply the only message a client may send is ClientDone, which ends the
		// channel. Anything else ends it too: it cannot be answered with Error, since
		// the client reads this channel as history by now (P22).
		s.disconnect(c)
	}
}

func (s *Server) onRequest(c *srvConn, f wire.Frame) {
	start, err := s.translate(f)
	if err != nil {
		if s.cfg.Bugs.has(BugSilentMalformed) && malformed(f) {
			return
		}
		// TLL drops malformed requests silently and the client waits forever (P9).
		s.refuse(c, err.Error())
		return
	}
	if hit(s.cfg.Failpoints, FPServerBeforeReply) {
		s.disconnect(c)
		return
	}
	reported := start
	if s.cfg.Bugs.has(BugTranslatedSeq) {
		reported++
	}
	s.env.Send(c.id, wire.AppendMsg(nil, wire.Reply{LastSeq: s.lastNow(), RequestedSeq: reported, BlockSeq: -1}))
	c.ph = spHistory
	c.next = max(start, 0)
	c.bodyHint = s.cfg.HistoryBatchBytes // the first batch reads one message
	s.tails = append(s.tails, c)
	s.pump(c)
}

// sync makes the store durable. A store that cannot sync cannot back a durable server.
func (s *Server) sync() error {
	if s.cfg.Bugs.has(BugAckBeforeSync) {
		return nil // acknowledged as durable, still volatile
	}
	sy, ok := s.cfg.Store.(storage.Syncer)
	if !ok {
		return errors.New("durable server over a store that cannot sync")
	}
	return sy.Sync()
}

// translate turns a request into the first seq to serve.
func (s *Server) translate(f wire.Frame) (int64, error) {
	switch f.MsgID {
	case wire.MsgRequest:
		r, err := wire.DecodeRequest(f.Body)
		if err != nil {
			return 0, err
		}
		switch r.Kind {
		case wire.ReqSeq:
			if r.Seq > math.MaxInt64 {
				return 0, fmt.Errorf("requested seq %d out of range", r.Seq)
			}
			return int64(r.Seq), nil
		case wire.ReqInitial:
			return s.cfg.Store.First(), nil
		case wire.ReqLast:
			if s.last < 0 {
				return 0, errors.New("Failed to request last message: no data on the server")
			}
			// TLL answers last-1 (P11); the reference serves exactly the last message.
			return s.last, nil
		default:
			return 0, errors.New("Requested block, but no block storage configured")
		}
	case wire.MsgRequestOld:
		r, err := wire.DecodeRequestOld(f.Body)
		if err != nil {
			return 0, err
		}
		if r.Block != "" {
			return 0, errors.New("Requested block, but no block storage configured")
		}
		if r.Seq < 0 {
			return 0, fmt.Errorf("requested seq %d is negative", r.Seq)
		}
		return r.Seq, nil
	}
	return 0, fmt.Errorf("expected Request or RequestOld, got msgid %d", f.MsgID)
}

// pump sends the next batch of history and arranges for the one after it. A channel that has
// caught up with the store stays in tails and is pumped again by the next Post.
func (s *Server) pump(c *srvConn) {
	if s.env.Pending(c.id) > s.cfg.HistoryMaxPendingBytes {
		// The reader is behind: wait instead of queueing the whole store on its channel.
		c.paused = true
		if d, ok := s.env.(Drainer); ok {
			d.OnDrained(c.id, s.cfg.HistoryMaxPendingBytes, uint64(c.id))
		} else {
			s.env.SetTimer(max(s.cfg.HistoryIntervalNs, historyPollNs), uint64(c.id))
		}
		return
	}
	want := s.cfg.HistoryBatchMsgs
	if s.cfg.HistoryBatchBytes > 0 {
		// As many as the last batch's bodies say fit, so that a batch of large messages
		// does not read from the store what it will not send.
		want = min(want, max(1, s.cfg.HistoryBatchBytes/max(1, c.bodyHint)))
	}
	var err error
	s.recs, err = s.cfg.Store.Read(s.recs[:0], c.next, want)
	if err != nil {
		// The history cannot continue; the client sees its request channel close before
		// it caught up and fails loudly.
		s.disconnect(c)
		return
	}
	if len(s.recs) == 0 {
		return
	}
	recs := s.recs
	more := len(recs) == want // the store may hold more after this batch
	if s.cfg.HistoryBatchBytes > 0 {
		n := 0
		for i, r := range recs {
			if n += len(r.Body); n >= s.cfg.HistoryBatchBytes && i+1 < len(recs) {
				recs, more = recs[:i+1], true
				break
			}
		}
		c.bodyHint = n / len(recs)
	}
	cut := len(recs) > 1 && hit(s.cfg.Failpoints, FPServerMidBatch)
	if cut {
		recs = recs[:len(recs)/2]
	}
	// Sized once: grown by append, a batch's buffer was copied again at every doubling.
	buf := make([]byte, 0, framesLen(recs))
	for _, r := range recs {
		buf = wire.AppendFrame(buf, r.MsgID, r.Seq, r.Body)
	}
	c.next = recs[len(recs)-1].Seq + 1
	s.env.Send(c.id, buf)
	if cut || (!more && hit(s.cfg.Failpoints, FPServerCaughtUp)) {
		s.disconnect(c)
		return
	}
	if more {
		c.paused = true
		s.env.SetTimer(s.cfg.HistoryIntervalNs, uint64(c.id))
	}
}

// historyPollNs is how often a paused history stream looks at its channel again on an Env
// that is not a Drainer.
const historyPollNs = 1_000_000

// refuse answers a bad request with Error and closes the channel.
func (s *Server) refuse(c *srvConn, reason string) {
	s.env.Send(c.id, wire.AppendMsg(nil, wire.Error{Text: reason}))
	s.disconnect(c)
}

func (s *Server) disconnect(c *srvConn) {
	s.env.Close(c.id)
	s.forget(c)
}

func (s *Server) forget(c *srvConn) {
	delete(s.conns, c.id)
	s.subs = remove(s.subs, c)
	s.tails = remove(s.tails, c)
}

func remove(list []*srvConn, c *srvConn) []*srvConn {
	for i, x := range list {
		if x == c {
			copy(list[i:], list[i+1:])
			list[len(list)-1] = nil
			return list[:len(list)-1]
		}
	}
	return list
}
