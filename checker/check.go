package checker

import "fmt"

// Violation is one broken property in one client session.
type Violation struct {
	Property string // one of the Prop* constants
	Session  int64
	Node     string
	Index    int     // index in the history of the first offending event
	Message  string  // one line: what was expected and what happened, with seqs
	Context  []Event // up to 3 events of the session before the offending one, it, and up to 3 after
}

// Result is the verdict on a history. Violations are in history order, at most one per
// (session, property): the first, since later ones are usually its echoes.
type Result struct {
	Violations []Violation
	Sessions   int   // sessions opened
	Delivered  int64 // deliver events
	Posts      int64 // acknowledged posts: the stored log's length
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

// Check runs the linear validators over h. The stored log is built from the whole history
// first, because real systems record post acknowledgements late, after deliveries of the same
// message; the sessions are judged in a second pass. The error, always a *HistoryError, is for
// a malformed history only.
func Check(h History) (Result, error) {
	log, bad := buildLog(h)
	limit := len(h)
	if bad != nil {
		limit = bad.Index
	}
	c := checker{h: h[:limit], log: log, byID: make(map[int64]int), lastSess: -1}
	// Judging the prefix before a log error still finds session errors that come earlier, so
	// the error reported is always the first one in the history.
	if err := c.run(); err != nil {
		return Result{}, err
	}
	if bad != nil {
		return Result{}, bad
	}
	c.res.Posts = int64(len(log))
	return c.res, nil
}

// entry is one stored message.
type entry struct {
	seq   int64
	msgID int32
	sum   uint32
}

// buildLog is the first pass: the stored log, and the first time or post_ok order error.
func buildLog(h History) ([]entry, *HistoryError) {
	var log []entry
	for i := range h {
		e := &h[i]
		if i > 0 && e.T < h[i-1].T {
			return log, &HistoryError{i, fmt.Sprintf("time goes back from %d to %d", h[i-1].T, e.T)}
		}
		if e.Kind != EvPostOK {
			continue
		}
		if n := len(log); n > 0 && e.Seq <= log[n-1].seq {
			return log, &HistoryError{i, fmt.Sprintf("post_ok seq %d does not increase on the previous post_ok seq %d", e.Seq, log[n-1].seq)}
		}
		log = append(log, entry{e.Seq, e.MsgID, e.Sum})
	}
	return log, nil
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
	h        History
	log      []entry
	res      Result
	byID     map[int64]int // session id → index in ss
	ss       []session
	posted   int // post_ok events so far in the second pass: the log prefix an open sees
	lastID   int64
	lastSess int // index in ss of lastID, or -1; saves the map lookup on runs of one session
}

// run is the second pass: every session event, in history order.
func (c *checker) run() error {
	for i := range c.h {
		e := &c.h[i]
		switch e.Kind {
		case EvPostOK:
			c.posted++
		case EvOpen:
			if err := c.open(i, e); err != nil {
				return err
			}
		case EvDeliver, EvControl, EvState, EvClose:
			s := c.lookup(e.Session)
			if s == nil {
				return &HistoryError{i, fmt.Sprintf("%s for session %d, which was never opened", e.Kind, e.Session)}
			}
			c.event(i, e, s)
		}
	}
	return nil
}

func (c *checker) lookup(id int64) *session {
	if c.lastSess >= 0 && c.lastID == id {
		return &c.ss[c.lastSess]
	}
	k, ok := c.byID[id]
	if !ok {
		return nil
	}
	c.lastID, c.lastSess = id, k
	return &c.ss[k]
}

func (c *checker) open(i int, e *Event) error {
	if first, dup := c.byID[e.Session]; dup {
		return &HistoryError{i, fmt.Sprintf("session %d opened again (first open at event %d)", e.Session, c.ss[first].openAt)}
	}
	m, ok := parseMode(e.Mode)
	if !ok {
		return &HistoryError{i, fmt.Sprintf("session %d opened in unknown mode %q", e.Session, e.Mode)}
	}
	s := session{
		id: e.Session, node: e.Node, openAt: i, mode: m, reqSeq: e.ReqSeq,
		lastAtOpen: -1, lo: -1,
	}
	if c.posted > 0 {
		s.lastAtOpen = c.log[c.posted-1].seq
	}
	s.remember(i)
	c.byID[e.Session] = len(c.ss)
	c.ss = append(c.ss, s)
	c.res.Sessions++
	return nil
}

// event judges one deliver, control, state or close of session s.
func (c *checker) event(i int, e *Event, s *session) {
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
	b := e.Seq
	j, stored := c.find(s, b)
	switch {
	case !stored:
		c.flag(s, i, e, pNoPhantom, "seq %d (msgid %d, sum %08x) delivered, but no such seq was stored", b, e.MsgID, e.Sum)
	case c.log[j].msgID != e.MsgID || c.log[j].sum != e.Sum:
		c.flag(s, i, e, pNoPhantom, "seq %d delivered as msgid %d sum %08x, stored as msgid %d sum %08x", b, e.MsgID, e.Sum, c.log[j].msgID, c.log[j].sum)
	}
	if s.count == 0 {
		c.checkStart(i, e, s, stored)
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
		if (s.count > 0 || s.online) && s.next < len(c.log) && c.log[s.next].seq < b {
			if s.count > 0 {
				c.flag(s, i, e, pNoGap, "seq %d delivered after seq %d; expected stored seq %d first", b, s.top, c.log[s.next].seq)
			} else {
				c.flag(s, i, e, pNoGap, "seq %d delivered first after Online(%d); expected stored seq %d first", b, s.onlineSeq, c.log[s.next].seq)
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
		s.mark(j, len(c.log))
	} else {
		if s.phantoms == nil {
			s.phantoms = make(map[int64]struct{})
		}
		s.phantoms[b] = struct{}{}
	}
	s.last = b
	s.count++
}

// find maps seq to its log index. The session's next index is checked first, which is the
// answer for every delivery of a healthy stream.
func (c *checker) find(s *session, seq int64) (int, bool) {
	if j := s.next; j < len(c.log) && c.log[j].seq == seq {
		return j, true
	}
	j := atOrAbove(c.log, seq)
	return j, j < len(c.log) && c.log[j].seq == seq
}

func (c *checker) checkStart(i int, e *Event, s *session, stored bool) {
	b := e.Seq
	var k int
	var want string
	switch s.mode {
	case mOnline:
		if b <= s.lastAtOpen {
			c.flag(s, i, e, pStart, "first delivery seq %d in online mode; expected a seq above %d, the last post before the open", b, s.lastAtOpen)
		}
		return
	case mLast:
		if !stored || b < s.lastAtOpen {
			c.flag(s, i, e, pStart, "first delivery seq %d in last mode; expected a stored seq >= %d, the last post before the open", b, s.lastAtOpen)
		}
		return
	case mSeq:
		k, want = atOrAbove(c.log, s.reqSeq), fmt.Sprintf(">= %d", s.reqSeq)
	case mSeqData:
		k, want = above(c.log, s.reqSeq), fmt.Sprintf("> %d", s.reqSeq)
	case mInitial:
		k, want = 0, "at all"
	}
	switch {
	case k == len(c.log):
		c.flag(s, i, e, pStart, "first delivery seq %d in %s mode; expected nothing, no stored seq %s", b, s.mode, want)
	case c.log[k].seq != b:
		c.flag(s, i, e, pStart, "first delivery seq %d in %s mode; expected %d, the first stored seq %s", b, s.mode, c.log[k].seq, want)
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
	case s.mode == mOnline:
		c.flag(s, i, e, pHandover, "Online(%d) in online mode, which never reports Online", x)
		return
	case s.online:
		c.flag(s, i, e, pHandover, "Online(%d) after an earlier Online(%d); expected one", x, s.onlineSeq)
		return
	}
	s.online, s.onlineSeq = true, x
	if s.count == 0 {
		// Online.seq is where live data resumes, so it anchors the gap check of the next delivery.
		s.next = above(c.log, x)
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
		case mSeq:
			k = atOrAbove(c.log, s.reqSeq)
		case mSeqData:
			k = above(c.log, s.reqSeq)
		}
		if k < len(c.log) && c.log[k].seq <= x {
			c.flag(s, i, e, pHandover, "Online(%d) with nothing delivered; expected stored seq %d first (%s mode, seq %d)", x, c.log[k].seq, s.mode, s.reqSeq)
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
