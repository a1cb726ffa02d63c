package checker

import (
	"fmt"
	"slices"
)

// Violation is one broken property in one client session, or, for durable, of the server
// (Session 0).
type Violation struct {
	Property string // one of the Prop* constants
	Session  int64
	Node     string
	Index    int     // index in the history of the first offending event
	Message  string  // one line: what was expected and what happened, with seqs
	Context  []Event // up to 3 events of the session before the offending one, it, and up to 3 after
}

// Result is the verdict on a history. Violations are in history order, at most one per
// (session, property): the first, since later ones are usually its echoes. Durable violations
// belong to the server (Session 0), one per restart that lost synced posts.
type Result struct {
	Violations []Violation
	Sessions   int   // sessions opened
	Delivered  int64 // deliver events
	Posts      int64 // acknowledged posts: post_ok events, over every epoch
}

// HistoryError reports a history that cannot be judged, as opposed to one that shows a bug.
type HistoryError struct {
	Index  int // index of the offending event
	Reason string
}

// Error names the offending event, so a recorder bug can be found in the history file.
func (e *HistoryError) Error() string {
	return fmt.Sprintf("malformed history: event %d: %s", e.Index, e.Reason)
}

// contextSide is how many session events a violation's context keeps on each side.
const contextSide = 3

// Check runs the linear validators over h. The stored logs are built from the whole history
// first, because real systems record post acknowledgements late, after deliveries of the same
// message; the sessions are judged in a second pass, each against the log of the epoch it
// opened in (see epoch). The error, always a *HistoryError, is for a malformed history only.
func Check(h History) (Result, error) {
	c := newChecker(h, buildLog(h))
	return c.result()
}

// newChecker is the second pass, ready to take the events the first pass, st, accepted.
func newChecker(h History, st stored) *checker {
	limit := len(h)
	if st.bad != nil {
		limit = st.bad.Index
	}
	return &checker{
		h: h[:limit], epochs: st.epochs, server: st.server, st: st,
		sessions: NewSessionIndex(), nodeByName: make(map[string]int),
	}
}

// result is the verdict once every event up to the first pass's error went through step.
// Judging the prefix before a log error still finds session errors that come earlier, so
// the error reported is always the first one in the history.
func (c *checker) result() (Result, error) {
	if err := c.run(); err != nil {
		return Result{}, err
	}
	if c.st.bad != nil {
		return Result{}, c.st.bad
	}
	return c.done(), nil
}

// done is the verdict of a second pass over a well-formed history, fed every event by run or
// by Judge.
func (c *checker) done() Result {
	c.res.Posts = c.st.posts
	return c.res
}

// entry is one stored message.
type entry struct {
	seq   int64
	msgID int32
	sum   uint32
}

// epoch is a stretch of the history between two restarts of the server. Its log is what the
// storage recovered at the restart that began it (the previous epoch's entries up to the
// restart's seq) followed by the posts acknowledged since. Every session is judged against the
// log of one epoch, the server life it talked to: a server crash resets every connection, so a
// session sees one life. That is the epoch in which it became Active (its Reply, or HelloReply
// in online mode), not always the one it opened in: a session opened while the server was down,
// or whose connection attempt outlived a crash, reached the restarted server.
type epoch struct {
	log   []entry
	kept  int   // entries recovered at the restart: the log an open right after it sees
	crash int   // history index of the server's last crash before that restart, -1 if none
	lost  []int // history indices of the synced post_oks the restart lost, in seq order
}

// stored is the first pass's result.
type stored struct {
	epochs []epoch
	server string
	posts  int64
	bad    *HistoryError // the first time or post_ok order error
}

// serverOf is the node that posts. A history has one server; its restarts begin epochs, and
// they may come before its first post, hence a name from anywhere in the history.
func serverOf(h History) string {
	for i := range h {
		switch h[i].Kind {
		case EvPost, EvPostOK, EvPostErr:
			return h[i].Node
		}
	}
	return ""
}

// buildLog is the first pass: the epochs with their logs.
func buildLog(h History) stored {
	b := newLogBuilder(serverOf(h))
	for i := range h {
		if !b.step(h, i) {
			break
		}
	}
	return b.finish()
}

// logBuilder is the first pass in progress, one event at a time, so that Judge can make it
// together with the other validators' first passes.
type logBuilder struct {
	st    stored
	cur   epoch
	crash int
	// synced holds the history indices of the synced post_oks in cur.log, in seq order, so a
	// restart finds the ones it lost at the end.
	synced []int
	// Every post_ok must be above floor, set by the latest post_ok or server restart.
	floorAt int
	floor   int64
}

func newLogBuilder(server string) logBuilder {
	return logBuilder{st: stored{server: server}, cur: epoch{crash: -1}, crash: -1, floorAt: -1}
}

// step takes event i; it reports false, and takes no more, once the history is malformed.
func (b *logBuilder) step(h History, i int) bool {
	if b.st.bad != nil {
		return false
	}
	e := &h[i]
	if i > 0 && e.T < h[i-1].T {
		b.st.bad = &HistoryError{i, fmt.Sprintf("time goes back from %d to %d", h[i-1].T, e.T)}
		return false
	}
	switch {
	case e.Kind == EvPostOK:
		if b.floorAt >= 0 && e.Seq <= b.floor {
			b.st.bad = &HistoryError{i, notAbove(h, e.Seq, b.floorAt)}
			return false
		}
		b.cur.log = appendDoubling(b.cur.log, entry{e.Seq, e.MsgID, e.Sum})
		b.floor, b.floorAt = e.Seq, i
		b.st.posts++
		if e.Name == PostSynced {
			b.synced = append(b.synced, i)
		}
	case e.Node != b.st.server:
	case e.Kind == EvCrash:
		b.crash = i
	case e.Kind == EvRestart:
		b.st.epochs = append(b.st.epochs, b.cur)
		cut := above(b.cur.log, e.Seq)
		next := epoch{log: b.cur.log[:cut], kept: cut, crash: b.crash}
		if cut < len(b.cur.log) {
			// The next append must copy rather than overwrite the entries the previous epoch
			// still holds; when nothing was lost it writes past them and may share the array.
			next.log = slices.Clip(next.log)
		}
		k := len(b.synced)
		for k > 0 && h[b.synced[k-1]].Seq > e.Seq {
			k--
		}
		next.lost = slices.Clone(b.synced[k:])
		b.synced = b.synced[:k]
		b.cur, b.crash = next, -1
		b.floor, b.floorAt = e.Seq, i
	}
	return true
}

// finish is the first pass's result: the epochs up to the end, or up to the malformed event.
func (b *logBuilder) finish() stored {
	b.st.epochs = append(b.st.epochs, b.cur)
	return b.st
}

// notAbove explains a post_ok seq that is not above the one the event at floorAt set.
func notAbove(h History, seq int64, floorAt int) string {
	if f := &h[floorAt]; f.Kind == EvRestart {
		return fmt.Sprintf("post_ok seq %d is not above seq %d, the last the server recovered at its restart (event %d)", seq, f.Seq, floorAt)
	}
	return fmt.Sprintf("post_ok seq %d does not increase on the previous post_ok seq %d", seq, h[floorAt].Seq)
}

// atOrAbove is the index of the first stored seq >= seq, len(log) if there is none.
func atOrAbove(log []entry, seq int64) int {
	lo, hi := 0, len(log)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if log[m].seq < seq {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// above is the index of the first stored seq > seq, len(log) if there is none.
func above(log []entry, seq int64) int {
	lo, hi := 0, len(log)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if log[m].seq <= seq {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

type checker struct {
	h          History // up to the first pass's error, if any
	st         stored  // the first pass's result
	epochs     []epoch
	server     string
	ep         int // the current epoch
	posted     int // entries of the current epoch's log an open sees now
	res        Result
	sessions   SessionIndex // session id → index in ss
	ss         []session
	nodeByName map[string]int // client node → index in nodes
	nodes      []clientNode
}

// clientNode is what the resume property needs of a client node across its sessions.
type clientNode struct {
	delivered bool
	last      int64 // the seq of the node's latest delivery, in any session
}

// run is the second pass: every session event, in history order.
func (c *checker) run() error {
	for i := range c.h {
		if err := c.step(i); err != nil {
			return err
		}
	}
	return nil
}

// step judges event i of the second pass.
func (c *checker) step(i int) error {
	e := &c.h[i]
	switch e.Kind {
	case EvPostOK:
		c.posted++
	case EvRestart:
		if e.Node == c.server {
			c.restart(i)
		}
	case EvOpen:
		return c.open(i, e)
	case EvDeliver, EvControl, EvState, EvClose:
		s := c.lookup(e.Session)
		if s == nil {
			return &HistoryError{i, fmt.Sprintf("%s for session %d, which was never opened", e.Kind, e.Session)}
		}
		c.event(i, e, s)
	}
	return nil
}

// restart moves to the next epoch, which the first pass built in step with this one, and
// reports the synced posts it lost.
func (c *checker) restart(i int) {
	c.ep++
	ep := &c.epochs[c.ep]
	c.posted = ep.kept
	if len(ep.lost) == 0 {
		return
	}
	first := &c.h[ep.lost[0]]
	msg := fmt.Sprintf("synced post_ok of seq %d (event %d) lost: the server restarted with seq %d as its last", first.Seq, ep.lost[0], c.h[i].Seq)
	if n := len(ep.lost); n > 1 {
		msg += fmt.Sprintf("; %d synced posts lost, up to seq %d", n, c.h[ep.lost[n-1]].Seq)
	}
	ctx := []Event{*first}
	if ep.crash >= 0 {
		ctx = append(ctx, c.h[ep.crash])
	}
	c.res.Violations = append(c.res.Violations, Violation{
		Property: PropDurable, Node: c.server, Index: i, Message: msg, Context: append(ctx, c.h[i]),
	})
}

func (c *checker) lookup(id int64) *session {
	k, ok := c.sessions.Find(id)
	if !ok {
		return nil
	}
	return &c.ss[k]
}

func (c *checker) open(i int, e *Event) error {
	if first, dup := c.sessions.Find(e.Session); dup {
		return &HistoryError{i, fmt.Sprintf("session %d opened again (first open at event %d)", e.Session, c.ss[first].openAt)}
	}
	if !e.Mode.known() {
		return &HistoryError{i, fmt.Sprintf("session %d opened in unknown mode %d", e.Session, e.Mode)}
	}
	n, known := c.nodeByName[e.Node]
	if !known {
		n = len(c.nodes)
		c.nodeByName[e.Node] = n
		c.nodes = append(c.nodes, clientNode{})
	}
	s := session{
		id: e.Session, node: e.Node, nodeAt: n, openAt: i, mode: e.Mode, reqSeq: e.ReqSeq,
		ep: c.ep, log: c.epochs[c.ep].log, lastAtOpen: -1, lo: -1,
	}
	if c.posted > 0 {
		s.lastAtOpen = s.log[c.posted-1].seq
	}
	if e.Name == OpenReopen && c.nodes[n].delivered {
		s.resume, s.resumeFrom = true, c.nodes[n].last
	}
	s.remember(i)
	c.sessions.Add(e.Session, len(c.ss))
	c.ss = append(c.ss, s)
	c.res.Sessions++
	return nil
}

// contacts reports whether e shows its session in touch with a server: Active, a delivery or a
// control. A session is judged in the server life current at its first contact, which is not
// always the one it opened in: an open during an outage, or a dial that outlived a crash,
// reaches the restarted server. Check and CheckFresh both follow this rule.
func contacts(e *Event) bool {
	return e.Kind == EvDeliver || e.Kind == EvControl || e.Kind == EvState && e.State == StActive
}

// event judges one deliver, control, state or close of session s.
func (c *checker) event(i int, e *Event, s *session) {
	if !s.pinned && contacts(e) {
		s.pinned = true
		if s.ep < c.ep {
			// First contact in a later server life than the one it opened in: judge it
			// there. What that life held when it came up is the least it may expect.
			s.ep, s.log = c.ep, c.epochs[c.ep].log
			if kept := c.epochs[c.ep].kept; kept > 0 {
				s.lastAtOpen = s.log[kept-1].seq
			} else {
				s.lastAtOpen = -1
			}
		}
	}
	c.fillContext(s, e)
	if e.Kind == EvDeliver {
		c.res.Delivered++
	}
	switch {
	case s.ended:
		if e.Kind == EvDeliver || e.Kind == EvControl {
			c.flag(s, i, e, pAfterEnd, "%s %s seq %d after the session ended", e.Kind, e.Name, e.Seq)
		}
	case e.Kind == EvDeliver:
		c.deliver(i, e, s)
	case e.Kind == EvControl:
		c.control(i, e, s)
	case e.Kind == EvClose:
		s.ended = true
	case e.State == StError || e.State == StClosed:
		s.ended = true
	}
	s.remember(i)
}

func (c *checker) deliver(i int, e *Event, s *session) {
	b, log := e.Seq, s.log
	j, stored := s.find(b)
	switch {
	case !stored:
		c.flag(s, i, e, pNoPhantom, "seq %d (msgid %d, sum %08x) delivered, but no such seq was stored", b, e.MsgID, e.Sum)
	case log[j].msgID != e.MsgID || log[j].sum != e.Sum:
		c.flag(s, i, e, pNoPhantom, "seq %d delivered as msgid %d sum %08x, stored as msgid %d sum %08x", b, e.MsgID, e.Sum, log[j].msgID, log[j].sum)
	}
	if s.count == 0 {
		c.checkStart(i, e, s, stored)
		if s.resume {
			c.checkResume(i, e, s)
		}
	}
	if s.online && b <= s.onlineSeq {
		c.flag(s, i, e, pHandover, "seq %d delivered after Online(%d); expected only seqs above it", b, s.onlineSeq)
	}
	// "Previous" is the highest seq delivered so far rather than the latest one: after a
	// duplicate or a step back, the latest would make every following delivery look like a gap.
	if s.count > 0 && b <= s.top {
		if s.seen(b, j, stored) {
			c.flag(s, i, e, pNoDup, "seq %d delivered again", b)
		} else {
			c.flag(s, i, e, pInOrder, "seq %d delivered after seq %d; expected seqs in increasing order", b, s.top)
		}
	} else {
		if (s.count > 0 || s.online) && s.next < len(log) && log[s.next].seq < b {
			if s.count > 0 {
				c.flag(s, i, e, pNoGap, "seq %d delivered after seq %d; expected stored seq %d first", b, s.top, log[s.next].seq)
			} else {
				c.flag(s, i, e, pNoGap, "seq %d delivered first after Online(%d); expected stored seq %d first", b, s.onlineSeq, log[s.next].seq)
			}
		}
		s.top = b
		// Unstored, j is already the first stored seq above b: find fell back to the search.
		s.next = j
		if stored {
			s.next++
		}
	}
	if stored {
		s.mark(j)
	} else {
		if s.phantoms == nil {
			s.phantoms = make(map[int64]struct{})
		}
		s.phantoms[b] = struct{}{}
	}
	s.last = b
	s.count++
	node := &c.nodes[s.nodeAt]
	node.delivered, node.last = true, b
}

// find maps seq to its index in the session's log. The session's next index is checked first,
// which is the answer for every delivery of a healthy stream.
func (s *session) find(seq int64) (int, bool) {
	if j := s.next; j < len(s.log) && s.log[j].seq == seq {
		return j, true
	}
	j := atOrAbove(s.log, seq)
	return j, j < len(s.log) && s.log[j].seq == seq
}

func (c *checker) checkStart(i int, e *Event, s *session, stored bool) {
	b := e.Seq
	var k int
	var want string
	switch s.mode {
	case ModeOnline:
		if b <= s.lastAtOpen {
			c.flag(s, i, e, pStart, "first delivery seq %d in online mode; expected a seq above %d, the last post before the open", b, s.lastAtOpen)
		}
		return
	case ModeLast:
		if !stored || b < s.lastAtOpen {
			c.flag(s, i, e, pStart, "first delivery seq %d in last mode; expected a stored seq >= %d, the last post before the open", b, s.lastAtOpen)
		}
		return
	case ModeSeq:
		k, want = atOrAbove(s.log, s.reqSeq), fmt.Sprintf(">= %d", s.reqSeq)
	case ModeSeqData:
		k, want = above(s.log, s.reqSeq), fmt.Sprintf("> %d", s.reqSeq)
	case ModeInitial:
		k, want = 0, "at all"
	}
	switch {
	case k == len(s.log):
		c.flag(s, i, e, pStart, "first delivery seq %d in %s mode; expected nothing, no stored seq %s", b, s.mode, want)
	case s.log[k].seq != b:
		c.flag(s, i, e, pStart, "first delivery seq %d in %s mode; expected %d, the first stored seq %s", b, s.mode, s.log[k].seq, want)
	}
}

// checkResume judges the first delivery of a reopen: it must be the stored successor, in the
// reopen's epoch, of the last seq the node's earlier sessions delivered.
func (c *checker) checkResume(i int, e *Event, s *session) {
	b, from := e.Seq, s.resumeFrom
	k := above(s.log, from)
	switch {
	case k == len(s.log):
		c.flag(s, i, e, pResume, "reopen delivered seq %d first; expected nothing, no stored seq above %d, the last seq %s delivered before", b, from, s.node)
	case s.log[k].seq == b:
	case b == from:
		c.flag(s, i, e, pResume, "reopen delivered seq %d first again, the last seq %s delivered before; expected %d", b, s.node, s.log[k].seq)
	default:
		c.flag(s, i, e, pResume, "reopen delivered seq %d first; expected %d, the first stored seq above %d, the last seq %s delivered before", b, s.log[k].seq, from, s.node)
	}
}

func (c *checker) control(i int, e *Event, s *session) {
	switch e.Name {
	case CtlBeginOfBlock:
		s.blockBegun = true
	case CtlEndOfBlock:
		s.blockEnded = true
	case CtlOnline:
		c.onlineCtl(i, e, s)
	}
}

func (c *checker) onlineCtl(i int, e *Event, s *session) {
	x := e.Seq
	switch {
	case s.mode == ModeOnline:
		c.flag(s, i, e, pHandover, "Online(%d) in online mode, which never reports Online", x)
		return
	case s.online:
		c.flag(s, i, e, pHandover, "Online(%d) after an earlier Online(%d); expected one", x, s.onlineSeq)
		return
	}
	s.online, s.onlineSeq = true, x
	if s.count == 0 {
		// Online.seq is where live data resumes, so it anchors the gap check of the next delivery.
		s.next = above(s.log, x)
	}
	switch {
	case s.blockBegun && !s.blockEnded:
		c.flag(s, i, e, pHandover, "Online(%d) after BeginOfBlock with no EndOfBlock", x)
	case s.count > 0:
		if x != s.last {
			c.flag(s, i, e, pHandover, "Online(%d); expected Online(%d), the last delivered seq", x, s.last)
		}
	case x < s.lastAtOpen:
		c.flag(s, i, e, pHandover, "Online(%d) with nothing delivered; expected at least %d, the last post before the open", x, s.lastAtOpen)
	default:
		var k int
		switch s.mode {
		case ModeSeq:
			k = atOrAbove(s.log, s.reqSeq)
		case ModeSeqData:
			k = above(s.log, s.reqSeq)
		}
		if k < len(s.log) && s.log[k].seq <= x {
			c.flag(s, i, e, pHandover, "Online(%d) with nothing delivered; expected stored seq %d first (%s mode, seq %d)", x, s.log[k].seq, s.mode, s.reqSeq)
		}
	}
}

// flag records a violation of p at event i, unless s already reported p.
func (c *checker) flag(s *session, i int, e *Event, p prop, format string, args ...any) {
	if s.reported&(1<<p) != 0 {
		return
	}
	s.reported |= 1 << p
	v := Violation{
		Property: p.String(), Session: s.id, Node: s.node, Index: i,
		Message: fmt.Sprintf(format, args...),
		Context: make([]Event, 0, 2*contextSide+1),
	}
	for k := max(0, s.nrecent-contextSide); k < s.nrecent; k++ {
		v.Context = append(v.Context, c.h[s.recent[k%contextSide]])
	}
	v.Context = append(v.Context, *e)
	s.pending = append(s.pending, pendingContext{len(c.res.Violations), contextSide})
	c.res.Violations = append(c.res.Violations, v)
}

// fillContext adds e to the contexts of s's violations still waiting for later events.
func (c *checker) fillContext(s *session, e *Event) {
	if len(s.pending) == 0 {
		return
	}
	kept := s.pending[:0]
	for _, p := range s.pending {
		v := &c.res.Violations[p.violation]
		v.Context = append(v.Context, *e)
		if p.left > 1 {
			kept = append(kept, pendingContext{p.violation, p.left - 1})
		}
	}
	s.pending = kept
}
