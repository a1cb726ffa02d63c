package checker

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
)

// The fresh property as a linearizability model. The server's last seq is a register: a post
// sets it to its seq at one instant between the post event and its post_ok, and accepted seqs
// increase, so the register only grows and takes every posted value in turn (-1 before the
// first, as in TLL's Reply). A delivery of seq s at time t is a point operation that needs the
// register ≥ s: its post has taken effect.
//
// An Online(s) is, as the property reads, a read of the register over [open, Online] returning
// exactly s. Because the register is monotonic and passes through every posted value, that
// read is equivalent to two point operations, "register ≤ s" at the open and "register ≥ s" at
// the Online, provided s is a value the register ever holds (a posted seq, or -1): if the
// register is ≤ s at the open and ≥ s at the Online, it equals s at the instant post s takes
// effect, which lies between the two.
//
// Each client session is judged with the posts it can observe, those of the epoch Check judges
// it in (after a server restart the register starts again from the last seq the storage
// recovered). Posts that all returned before the session's first operation collapse into the
// register's initial value v0; the others that began by its last operation are kept, in seq
// order. A linearization then places each kept post k at an instant p_k in [call_k, ret_k],
// the p_k in seq order, and the point operations around them. "Register ≥ s" at t holds iff
// v0 ≥ s or the first kept post of seq ≥ s has p ≤ t; "register ≤ s" at t holds iff v0 ≤ s
// and the first kept post of seq > s has p ≥ t (intervals are closed: ties order either way).
// So every kept post k gets a window [L_k, U_k]: L_k the latest of its call and the opens
// whose Online needs it later, U_k the earliest of its return and the deliveries and Onlines
// that need it by then. Non-decreasing p_k within those windows exist iff no L_i exceeds a
// U_k with i ≤ k, which one sweep in seq order decides, taking p_k as late as the earlier
// posts force and no later. The session is legal exactly when the sweep gets through: linear
// in its operations and posts, whatever the number of posts in flight.
//
// Porcupine decides the same model by search; it is the second opinion (a differential test
// holds the two to the same verdicts) and draws the view of failing sessions (see freshlin.go).

// Verdicts of CheckFresh.
const (
	VerdictOK      = "ok"
	VerdictIllegal = "illegal"
)

// LinResult is CheckFresh's verdict.
type LinResult struct {
	Verdict  string  // VerdictIllegal if a session is, else VerdictOK
	Illegal  []int64 // sessions whose operations cannot be linearized, in the order they opened
	Sessions int     // sessions with operations to check
	Ops      int     // client operations judged: deliveries, and two per Online

	blames []freshBlame // one per Illegal session, same order
	h      History      // what was judged, for Visualize
}

// freshBlame explains one illegal session.
type freshBlame struct {
	session int64
	node    string
	event   int // history index of the Online or delivery that cannot be placed
	msg     string
}

type opKind uint8

const (
	opInit       opKind = iota // the posts before a porcupine partition, as one write
	opPost                     // a post, from its post event to its post_ok
	opDeliver                  // register ≥ seq
	opOnlineLow                // register ≤ seq, at the open
	opOnlineHigh               // register ≥ seq, at the Online, and seq a value the register holds
)

// emptySeq is the register before any post: "no data", as TLL's Reply says it.
const emptySeq = -1

func seqString(s int64) string {
	if s == emptySeq {
		return "none"
	}
	return fmt.Sprint(s)
}

// freshPost is one accepted post as an operation.
type freshPost struct {
	seq       int64
	call, ret int64
	event     int // the post_ok
	// bound is the history index of the event that bounds ret: the post_ok, or a delivery of this
	// or a higher seq, which this post must take effect before.
	bound int
}

// postLog is the posts of one epoch, sorted by seq, with the bounds that let a session find the
// posts it can observe without scanning them all.
type postLog struct {
	ps          []freshPost
	maxRetTo    []int64 // maxRetTo[j]: the latest ret of ps[:j+1]
	minCallFrom []int64 // minCallFrom[j]: the earliest call of ps[j:]
}

// sortBySeq orders posts by seq. Check rejects a history whose post_ok seqs do not increase
// within an epoch; sorting keeps the model well-defined on such a history anyway. The posts
// of a well-formed history are in order already, which one pass confirms for less than what
// a stable sort spends finding out.
func sortBySeq(ps []freshPost) {
	bySeq := func(a, b freshPost) int { return cmp.Compare(a.seq, b.seq) }
	if !slices.IsSortedFunc(ps, bySeq) {
		slices.SortStableFunc(ps, bySeq)
	}
}

// settle orders the posts' effects by seq and computes the bounds.
func (l *postLog) settle() {
	ps := l.ps
	// Posts take effect in seq order, so each one does before any higher one does. A post
	// called after a higher one took effect keeps a point interval at its call, which no
	// linearization can place: the history is illegal, and the sweep says so.
	for j := len(ps) - 2; j >= 0; j-- {
		if next := ps[j+1].ret; next < ps[j].ret {
			ps[j].ret, ps[j].bound = max(next, ps[j].call), ps[j+1].bound
		}
	}
	l.maxRetTo = make([]int64, len(ps))
	l.minCallFrom = make([]int64, len(ps))
	for j := range ps {
		l.maxRetTo[j] = ps[j].ret
		if j > 0 {
			l.maxRetTo[j] = max(l.maxRetTo[j], l.maxRetTo[j-1])
		}
		k := len(ps) - 1 - j
		l.minCallFrom[k] = ps[k].call
		if k+1 < len(ps) {
			l.minCallFrom[k] = min(l.minCallFrom[k], l.minCallFrom[k+1])
		}
	}
}

// find is the index of the post of seq.
func (l *postLog) find(seq int64) (int, bool) {
	return slices.BinarySearchFunc(l.ps, seq, func(p freshPost, s int64) int { return cmp.Compare(p.seq, s) })
}

// lowerBound is the index of the first post of seq ≥ seq. A session's operations mostly ask
// for the post right after the one they asked for last, so hint is tried before a search.
func (l *postLog) lowerBound(seq int64, hint int) int {
	ps := l.ps
	if hint >= 0 && hint <= len(ps) && (hint == 0 || ps[hint-1].seq < seq) && (hint == len(ps) || ps[hint].seq >= seq) {
		return hint
	}
	j, _ := l.find(seq)
	return j
}

// settledBefore is the length of the longest prefix of posts that all returned before t: posts
// that took effect before anything at t or later, whatever the linearization.
func (l *postLog) settledBefore(t int64) int {
	n, _ := slices.BinarySearchFunc(l.maxRetTo, t, func(r, t int64) int {
		if r < t {
			return -1
		}
		return 1
	})
	return n
}

// beganBy is the number of posts up to the last one that began by t: posts after it all begin
// later.
func (l *postLog) beganBy(t int64) int {
	n, _ := slices.BinarySearchFunc(l.minCallFrom, t, func(c, t int64) int {
		if c <= t {
			return -1
		}
		return 1
	})
	return n
}

// lastBefore is the register's value once the first n posts took effect.
func (l *postLog) lastBefore(n int) int64 {
	if n == 0 {
		return emptySeq
	}
	return l.ps[n-1].seq
}

// clientOp is a point operation of a session. The history index is 32 bits so that an op,
// kept per delivery while a history is judged, takes 24 bytes; a history of 2^31 events would
// not fit in memory anyway.
type clientOp struct {
	t     int64
	seq   int64
	event int32
	kind  opKind
	held  bool // opOnlineHigh: seq is a value the register holds
}

type freshSession struct {
	id     int64
	node   string
	open   int // history index
	tOpen  int64
	epoch  int  // the epoch whose posts it observes: the server life it talked to (see epoch)
	pinned bool // epoch is final (see contacts)
	ops    opList
	// first and last are the earliest and latest instants of its operations, implied ones
	// included: they decide which posts the session can observe, so leaving implied
	// deliveries out of ops changes nothing the sweep decides.
	first, last int64
	// implied counts deliveries left out of ops because they can constrain nothing: their
	// post was acknowledged by then (see collector.implied).
	implied int
	hint    int // index in the epoch's posts where the session's next delivery's post is likely
}

// opList is a session's operations in chunks: appending never copies them, as a growing slice
// does (at 1.25x growth, about four times over). The first chunk doubles up to opChunk; the
// others are allocated full size.
type opList struct {
	chunks [][]clientOp
	n      int
}

const opChunk = 1 << 12

// add appends an operation. It takes the fields rather than a clientOp: one built on the
// caller's stack was copied in with 16-byte loads of 8-byte stores, which stall on store
// forwarding, once per delivery.
func (l *opList) add(kind opKind, t, seq int64, event int32) {
	switch {
	case l.n == 0:
		l.chunks = append(l.chunks, make([]clientOp, 0, 8))
	case l.n >= opChunk && l.n%opChunk == 0:
		l.chunks = append(l.chunks, make([]clientOp, 0, opChunk))
	case l.n < opChunk && l.n == cap(l.chunks[0]):
		// Doubled, where append would grow it by a quarter at this size: the first chunk is
		// then copied about once on its way to opChunk, not about four times.
		l.chunks[0] = append(make([]clientOp, 0, min(2*l.n, opChunk)), l.chunks[0]...)
	}
	c := &l.chunks[len(l.chunks)-1]
	*c = (*c)[:len(*c)+1]
	o := &(*c)[len(*c)-1]
	o.t, o.seq, o.event, o.kind = t, seq, event, kind
	l.n++
}

// at is operation x.
func (l *opList) at(x int) *clientOp { return &l.chunks[x/opChunk][x%opChunk] }

// all is a copy of the operations in one slice.
func (l *opList) all() []clientOp {
	ops := make([]clientOp, 0, l.n)
	for _, c := range l.chunks {
		ops = append(ops, c...)
	}
	return ops
}

// collect gathers, in one pass over the history (passes over the history were most of the
// check's time), the posts each epoch's sessions can observe and each session's operations.
//
// Posts (see epoch): the posts the previous epoch's storage recovered, then the ones accepted
// since. Each post_ok and post_err answers the oldest unanswered post of its node, since a
// server application answers its posts in order; a post_ok with no post is instantaneous; a
// post never answered is left out, as Check leaves it out of the stored log, and so is a post
// under way when its node crashed.
//
// Operations: each session's deliveries and Online controls in history order, with the
// open-time halves of Onlines first; with skipImplied, deliveries that can constrain nothing
// are only counted (see collector.implied). Events of sessions never opened are Check's to
// report.
func collect(h History, skipImplied bool) ([]freshSession, []postLog) {
	c := newCollector(serverOf(h), skipImplied)
	for i := range h {
		c.step(h, i)
	}
	return c.finish()
}

// collector is collect's pass in progress, one event at a time, so that Judge can make it
// together with the other validators' first passes.
type collector struct {
	server   string
	ss       []freshSession
	idx      SessionIndex
	epoch    int
	restartT int64
	pending  []postQueue    // per posting node
	queueOf  map[string]int // posting node → index in pending
	lastQ    int            // index in pending of the node of the latest post event, -1 if none
	epochs   [][]freshPost
	ps       []freshPost
	// skipImplied leaves implied deliveries out of the sessions' operations: the sweep does
	// not need them, porcupine's second opinion and its picture keep them.
	skipImplied bool
}

// postQueue is one node's posts not answered yet, oldest first, as history indices. Its slice
// is emptied whenever the queue is, so answering posts as they come never reallocates it, as
// the map of resliced queues it replaces did on every post.
type postQueue struct {
	node string
	at   []int
	head int
}

func newCollector(server string, skipImplied bool) collector {
	return collector{server: server, idx: NewSessionIndex(), queueOf: make(map[string]int), lastQ: -1, skipImplied: skipImplied}
}

// implied reports whether session s's delivery of seq at t can constrain nothing: the post of
// seq, in the epoch the session observes, was acknowledged at or before t. The sweep's bound
// for that post is then its return already, at or before t, and the post is one the session
// keeps (it began by t). A healthy simulated run acknowledges every post before any client
// sees it, so this leaves most deliveries out of the sweep's work. A post not found, as in a
// history whose posts are out of order, leaves the delivery in.
func (c *collector) implied(s *freshSession, seq, t int64) bool {
	if s.epoch != c.epoch {
		return false
	}
	ps := c.ps
	j := s.hint
	if j >= len(ps) || ps[j].seq != seq {
		var ok bool
		if j, ok = slices.BinarySearchFunc(ps, seq, func(p freshPost, s int64) int { return cmp.Compare(p.seq, s) }); !ok {
			return false
		}
	}
	s.hint = j + 1
	return ps[j].ret <= t
}

// queue is node's queue of posts; a history has one posting node, so the last answer is kept
// to skip the lookup.
func (c *collector) queue(node string) *postQueue {
	if c.lastQ >= 0 && c.pending[c.lastQ].node == node {
		return &c.pending[c.lastQ]
	}
	k, ok := c.queueOf[node]
	if !ok {
		k = len(c.pending)
		c.queueOf[node] = k
		c.pending = append(c.pending, postQueue{node: node})
	}
	c.lastQ = k
	return &c.pending[k]
}

func (c *collector) step(h History, i int) {
	e := &h[i]
	switch e.Kind {
	case EvPost:
		q := c.queue(e.Node)
		q.at = append(q.at, i)
		return
	case EvCrash:
		if k, ok := c.queueOf[e.Node]; ok {
			c.pending[k].at, c.pending[k].head = c.pending[k].at[:0], 0
		}
		return
	case EvRestart:
		if e.Node != c.server {
			return
		}
		c.epoch, c.restartT = c.epoch+1, e.T
		ps := c.ps
		sortBySeq(ps)
		c.epochs = append(c.epochs, ps)
		// Recovered posts took effect before the crash, so they keep their intervals.
		c.ps = slices.Clone(ps[:sort.Search(len(ps), func(k int) bool { return ps[k].seq > e.Seq })])
		return
	case EvPostOK, EvPostErr:
		call := e.T
		if q := c.queue(e.Node); q.head < len(q.at) {
			call = h[q.at[q.head]].T
			if q.head++; q.head == len(q.at) {
				q.at, q.head = q.at[:0], 0
			}
		}
		if e.Kind == EvPostOK {
			// Filled in place: a freshPost literal is too large for registers, and copying
			// one in from the stack stalls on store forwarding.
			c.ps = appendDoubling(c.ps, freshPost{})
			p := &c.ps[len(c.ps)-1]
			p.seq, p.call, p.ret, p.event, p.bound = e.Seq, call, e.T, i, i
		}
		return
	case EvOpen:
		if c.idx.Add(e.Session, len(c.ss)) {
			c.ss = append(c.ss, freshSession{id: e.Session, node: e.Node, open: i, tOpen: e.T, epoch: c.epoch, first: math.MaxInt64, last: math.MinInt64})
		}
		return
	}
	if !contacts(e) {
		return
	}
	k, ok := c.idx.Find(e.Session)
	if !ok {
		return
	}
	s := &c.ss[k]
	if !s.pinned {
		// The server life of its first contact, as Check judges it; that life began at
		// the restart.
		s.pinned = true
		if s.epoch < c.epoch {
			s.epoch, s.tOpen = c.epoch, c.restartT
		}
	}
	switch opsOf(e) {
	case 1:
		s.first, s.last = min(s.first, e.T), max(s.last, e.T)
		if c.skipImplied && c.implied(s, e.Seq, e.T) {
			s.implied++
			return
		}
		s.ops.add(opDeliver, e.T, e.Seq, int32(i))
	case 2:
		s.first, s.last = min(s.first, s.tOpen), max(s.last, e.T)
		s.ops.add(opOnlineLow, s.tOpen, e.Seq, int32(i))
		s.ops.add(opOnlineHigh, e.T, e.Seq, int32(i))
	}
}

// finish is the sessions and the post logs once every event went through step.
func (c *collector) finish() ([]freshSession, []postLog) {
	ss := c.ss
	sortBySeq(c.ps)
	epochs := append(c.epochs, c.ps)
	logs := make([]postLog, len(epochs))
	for k := range epochs {
		logs[k].ps = epochs[k]
	}

	// A delivery observes its post: the post took effect by then. Tightening the post's
	// interval brings that knowledge to every session, so an Online elsewhere that is older
	// than data already delivered is caught although the post_ok came late.
	for k := range ss {
		s := &ss[k]
		l := &logs[s.epoch]
		hint := 0
		for x := range s.ops.n {
			o := s.ops.at(x)
			if o.kind != opDeliver {
				continue
			}
			j := l.lowerBound(o.seq, hint)
			hint = j + 1
			if j < len(l.ps) && l.ps[j].seq == o.seq && o.t >= l.ps[j].call && o.t < l.ps[j].ret {
				l.ps[j].ret, l.ps[j].bound = o.t, int(o.event)
			}
		}
	}
	for k := range logs {
		logs[k].settle()
	}
	return ss, logs
}

// opsOf is how many operations e makes: one a delivery, two an Online.
func opsOf(e *Event) int {
	switch {
	case e.Kind == EvDeliver:
		return 1
	case e.Kind == EvControl && e.Name == CtlOnline:
		return 2
	}
	return 0
}

// CheckFresh judges the fresh property. It assumes a history Check accepted. It always reaches
// a verdict, in time linear in the history but for a binary search per session and per
// operation that does not ask for the post after the previous one.
func CheckFresh(h History) LinResult {
	ss, posts := collect(h, true)
	return judgeFresh(h, ss, posts)
}

// judgeFresh is CheckFresh once collect's pass is made.
func judgeFresh(h History, ss []freshSession, posts []postLog) LinResult {
	res := LinResult{Verdict: VerdictOK, h: h}
	var sw sweep
	for k := range ss {
		s := &ss[k]
		if s.ops.n+s.implied == 0 {
			continue
		}
		res.Sessions++
		res.Ops += s.ops.n + s.implied
		l := &posts[s.epoch]
		if op, bad := sw.judge(s, l); bad {
			res.Illegal = append(res.Illegal, s.id)
			res.blames = append(res.blames, blame(h, l, s, op))
		}
	}
	if len(res.Illegal) > 0 {
		res.Verdict = VerdictIllegal
	}
	return res
}

// sweep holds the windows of the kept posts of one session at a time; CheckFresh reuses it
// for every session.
type sweep struct {
	lo, hi     []int64 // the clients' bounds on p_k: after lo[k] (Online's open), by hi[k]
	loBy, hiBy []int32 // index in the session's ops of the operation that set each bound, -1 if none
}

// noOp stands for the posts themselves when they, not a client operation, cannot be ordered.
var noOp = clientOp{event: -1}

// judge decides one session: legal, or illegal with the operation to blame (noOp when the
// posts alone cannot be ordered). Of several failures it blames the client operation earliest
// in the history.
func (w *sweep) judge(s *freshSession, l *postLog) (clientOp, bool) {
	first, end := s.first, s.last
	a := l.settledBefore(first)
	v0 := l.lastBefore(a)
	b := max(a, l.beganBy(end)) // kept posts are those of [a, b) that began by end
	n := b - a
	w.lo, w.hi = resize(w.lo, n, math.MinInt64), resize(w.hi, n, math.MaxInt64)
	w.loBy, w.hiBy = resize(w.loBy, n, -1), resize(w.hiBy, n, -1)

	var culprit clientOp
	bad := false
	// A client operation is blamed before the posts, which are only the context of one.
	key := func(o clientOp) int64 {
		if o.event < 0 {
			return math.MaxInt64
		}
		return int64(o.event)
	}
	fail := func(o clientOp) {
		if !bad || key(o) < key(culprit) {
			culprit, bad = o, true
		}
	}
	hint := a
	for x := range s.ops.n {
		o := *s.ops.at(x)
		switch o.kind {
		case opOnlineLow:
			if v0 > o.seq {
				fail(o)
				continue
			}
			if o.seq == math.MaxInt64 {
				continue // no post is above it
			}
			j := l.lowerBound(o.seq+1, a)
			if j < b && o.t > w.lo[j-a] {
				w.lo[j-a], w.loBy[j-a] = o.t, int32(x)
			}
		case opOnlineHigh:
			_, posted := l.find(o.seq)
			s.ops.at(x).held = posted || o.seq == emptySeq
			if o = *s.ops.at(x); !o.held {
				fail(o)
				continue
			}
			fallthrough
		case opDeliver:
			if v0 >= o.seq {
				continue
			}
			j := l.lowerBound(o.seq, hint)
			hint = j + 1
			switch {
			case j >= b:
				fail(o) // no post of seq ≥ it began in time
			case o.t < w.hi[j-a]:
				w.hi[j-a], w.hiBy[j-a] = o.t, int32(x)
			}
		}
	}

	// The sweep: p is the earliest instant the posts so far can all have taken effect by,
	// and from which operation that lower bound comes (-1: a post's call).
	p, pBy := int64(math.MinInt64), int32(-1)
	last := v0
	var pendHi int64 = math.MaxInt64 // bounds aimed at posts left out pass to the next kept one
	pendHiBy, pendLo, pendLoBy := int32(-1), int64(math.MinInt64), int32(-1)
	for j := a; j < b; j++ {
		q, x := &l.ps[j], j-a
		if w.hi[x] < pendHi {
			pendHi, pendHiBy = w.hi[x], w.hiBy[x]
		}
		if w.lo[x] > pendLo {
			pendLo, pendLoBy = w.lo[x], w.loBy[x]
		}
		if q.call > end {
			continue
		}
		if q.seq <= last {
			fail(noOp)
			break
		}
		last = q.seq
		if q.call > p {
			p, pBy = q.call, -1
		}
		if pendLo > p {
			p, pBy = pendLo, pendLoBy
		}
		hi, hiBy := q.ret, int32(-1)
		if pendHi < hi {
			hi, hiBy = pendHi, pendHiBy
		}
		if p > hi {
			// An open that needs the register low after an operation that needs it high: the
			// Online is wrong; a delivery needed a post before the posts could get there.
			switch {
			case pBy >= 0:
				fail(*s.ops.at(int(pBy)))
			case hiBy >= 0:
				fail(*s.ops.at(int(hiBy)))
			default:
				fail(noOp)
			}
			break
		}
		pendHi, pendHiBy, pendLo, pendLoBy = math.MaxInt64, -1, math.MinInt64, -1
	}
	if pendHiBy >= 0 && !bad {
		fail(*s.ops.at(int(pendHiBy))) // it needed a post that never began in time
	}
	return culprit, bad
}

// resize makes s n long, every element fill, reusing its array when it is large enough.
func resize[T any](s []T, n int, fill T) []T {
	if cap(s) < n {
		s = make([]T, n)
	}
	s = s[:n]
	for i := range s {
		s[i] = fill
	}
	return s
}

// appendDoubling is append for the lists a pass over the history builds, one entry per post:
// it doubles a full array where append grows a large one by about a quarter, so a list is
// copied about once on its way to its final length instead of about four times.
func appendDoubling[T any](s []T, v T) []T {
	if len(s) == cap(s) {
		s = slices.Grow(s, max(len(s), 8))
	}
	return append(s, v)
}

// blame writes the violation of an illegal session from the operation to blame.
func blame(h History, l *postLog, s *freshSession, op clientOp) freshBlame {
	b := freshBlame{session: s.id, node: s.node, event: s.open}
	if op.event < 0 {
		b.msg = "the server's posts cannot be ordered by seq around the session's operations"
		return b
	}
	b.event = int(op.event)
	t, seq := op.t, op.seq
	switch op.kind {
	case opDeliver:
		j, posted := l.find(seq)
		switch {
		case !posted:
			b.msg = fmt.Sprintf("seq %d delivered at t=%d, before any post of seq >= %d began", seq, t, seq)
		case l.ps[j].call > t:
			b.msg = fmt.Sprintf("seq %d delivered at t=%d, before its post began at t=%d", seq, t, l.ps[j].call)
		default:
			b.msg = fmt.Sprintf("seq %d delivered at t=%d, but its post cannot have taken effect by then", seq, t)
		}
	case opOnlineLow, opOnlineHigh:
		b.msg = fmt.Sprintf("Online(%s) at t=%d", seqString(seq), h[b.event].T) + onlineWhy(h, l, s.tOpen, op)
	}
	return b
}

// onlineWhy explains why an Online's half could not be placed.
func onlineWhy(h History, l *postLog, open int64, op clientOp) string {
	seq := op.seq
	if op.kind == opOnlineLow {
		n := l.settledBefore(open)
		if last := l.lastBefore(n); n > 0 && last > seq {
			q := l.ps[n-1]
			return fmt.Sprintf(" is older than the server's last seq when the session opened at t=%d: seq %d took effect by t=%d (%s)",
				open, last, q.ret, boundString(h, q.bound))
		}
		return fmt.Sprintf(": the server's last seq cannot have been at most %s at the open, t=%d", seqString(seq), open)
	}
	t := h[op.event].T
	begun := int64(emptySeq)
	for _, q := range l.ps {
		if q.call <= t {
			begun = max(begun, q.seq)
		}
	}
	switch {
	case !op.held:
		return " names a seq that was never posted"
	case begun < seq:
		return fmt.Sprintf(", but no post of seq %d had begun by then (the last begun: %s)", seq, seqString(begun))
	}
	return fmt.Sprintf(": the server's last seq cannot have reached it between the open at t=%d and then", open)
}

// boundString says which event shows that a post took effect by its time.
func boundString(h History, i int) string {
	e := &h[i]
	if e.Kind == EvDeliver {
		return fmt.Sprintf("seq %d delivered to session %d", e.Seq, e.Session)
	}
	return fmt.Sprintf("post_ok of seq %d", e.Seq)
}

// Violations lists one fresh violation per illegal session, in the order the sessions opened,
// with the same kind of context as Check's.
func (r LinResult) Violations(h History) []Violation {
	vs := make([]Violation, 0, len(r.blames))
	for _, b := range r.blames {
		vs = append(vs, Violation{
			Property: PropFresh, Session: b.session, Node: b.node, Index: b.event, Message: b.msg,
			Context: sessionContext(h, b.session, b.event, false),
		})
	}
	return vs
}

// sessionContext is up to contextSide events of the session before event i, it, and up to
// contextSide after, counting the events Check keeps in contexts, and phases if asked: they
// tell where a session waits.
func sessionContext(h History, session int64, i int, phases bool) []Event {
	of := func(e *Event) bool {
		switch e.Kind {
		case EvOpen, EvDeliver, EvControl, EvState, EvClose:
			return e.Session == session
		case EvPhase:
			return phases && e.Session == session
		}
		return false
	}
	from := i
	for k, n := i-1, 0; k >= 0 && n < contextSide; k-- {
		if of(&h[k]) {
			from, n = k, n+1
		}
	}
	var ctx []Event
	for k := from; k < i; k++ {
		if of(&h[k]) {
			ctx = append(ctx, h[k])
		}
	}
	ctx = append(ctx, h[i])
	for k, n := i+1, 0; k < len(h) && n < contextSide; k++ {
		if of(&h[k]) {
			ctx, n = append(ctx, h[k]), n+1
		}
	}
	return ctx
}
