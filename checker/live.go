package checker

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
)

// LivenessOptions bound the liveness property.
type LivenessOptions struct {
	// BoundNs is how long after the faults stop a history-mode session may take to report Online
	// (or to fail), and how long a post may take to reach a live session; below 0 it is 0.
	BoundNs int64
	// EndNs is when the run stopped; 0 means the time of the history's last event. Nothing is
	// due after it: the run did not wait to see.
	EndNs int64
	// SessionsOnly drops the duty to deliver every later post, keeping the duty to reach
	// Online or fail. For runs whose online link loses messages for the whole run: without
	// heartbeats, which stream+ does not have, a lost last message cannot be detected.
	SessionsOnly bool
	// Calm says the run's links never end a connection on their own: no datagram links,
	// bandwidth or receiver limits, or segment loss. A session that was live and then ended in
	// Error with no fault, crash or restart event before it then failed for nothing, and that
	// end does not release it from the posts after it.
	Calm bool
}

// CheckLiveness judges liveness, which needs a bound and so is not part of Check. Let F be the
// time of the history's last fault, crash or restart event, of any node (minus infinity if there
// is none). A fault event marks where a fault starts, so BoundNs must also cover the longest
// fault (a stall, a partition) the run injects. A session in a history mode must report Online, or end (close, Error, Closed), by
// max(F, its open) + BoundNs; one that has not is reported stalled, with the last phase it
// reached, its deliveries and the last seq delivered. And every post acknowledged after the
// last fault, at t, must reach each session live at t (it reported Online, or Active in online
// mode) by t + BoundNs, unless the session ended by then. Nothing due after EndNs is judged.
//
// It assumes a history Check accepted, runs in time linear in the history (plus a log factor
// per session) and returns violations in history order, at most one per session: a stall, else
// the first post the session missed.
func CheckLiveness(h History, opt LivenessOptions) []Violation {
	if len(h) == 0 {
		return nil
	}
	pre := newLivePrepass()
	for i := range h {
		pre.step(i, &h[i])
	}
	l := newLiveness(h, opt, &pre)
	for i := range h {
		l.event(i, &h[i])
	}
	return l.verdicts(opt)
}

// livePrepass is liveness's first pass, one event at a time so Judge can make it with the
// other first passes. The posts after the last fault come after the server's last restart,
// so their seqs increase along the history: one order serves for time and for seq. They are
// gathered in the pass that finds the faults, each fault starting them over.
type livePrepass struct {
	firstFault, lastFault int
	posts                 []livePost
}

func newLivePrepass() livePrepass { return livePrepass{firstFault: -1, lastFault: -1} }

func (p *livePrepass) step(i int, e *Event) {
	switch e.Kind {
	case EvFault, EvCrash, EvRestart:
		if p.firstFault < 0 {
			p.firstFault = i
		}
		p.lastFault, p.posts = i, p.posts[:0]
	case EvPostOK:
		p.posts = appendDoubling(p.posts, livePost{seq: e.Seq, t: e.T, event: i})
	}
}

// newLiveness is the second pass, ready for the events of h, after the first pass pre.
func newLiveness(h History, opt LivenessOptions, pre *livePrepass) *liveness {
	l := &liveness{h: h, bound: max(opt.BoundNs, 0), sessionsOnly: opt.SessionsOnly, sessions: NewSessionIndex(), posts: pre.posts}
	if opt.Calm {
		// Without a fault event, an Error has no cause the history can show.
		l.causeFrom = len(h)
		if pre.firstFault >= 0 {
			l.causeFrom = pre.firstFault
		}
	}
	if pre.lastFault >= 0 {
		l.faultsEnd, l.faulted = h[pre.lastFault].T, true
	}
	return l
}

// verdicts judges every session once the second pass has seen the whole history.
func (l *liveness) verdicts(opt LivenessOptions) []Violation {
	end := opt.EndNs
	if end == 0 {
		end = l.h[len(l.h)-1].T
	}
	var vs []Violation
	for k := range l.ss {
		if v, ok := l.verdict(&l.ss[k], end); ok {
			vs = append(vs, v)
		}
	}
	slices.SortStableFunc(vs, func(a, b Violation) int { return cmp.Compare(a.Index, b.Index) })
	return vs
}

// livePost is a post acknowledged after the last fault.
type livePost struct {
	seq   int64
	t     int64
	event int // history index of the post_ok
}

type liveness struct {
	h            History
	bound        int64
	sessionsOnly bool
	faultsEnd    int64 // F
	faulted      bool  // false: no fault at all, F is minus infinity
	posts        []livePost
	ss           []liveSession
	sessions     SessionIndex
	waiting      []int // sessions in ss whose Reply found the server empty, until the next post
	// causeFrom is the history index of the first fault, crash or restart in a calm run: an
	// Error before it ended a live session for nothing. 0 when the run is not calm.
	causeFrom int
}

// liveSession is what liveness knows about one session.
type liveSession struct {
	id      int64
	node    string
	history bool  // opened in a history mode, so it owes an Online
	online  bool  // opened in online mode, so Active makes it live
	opened  int64 // time of the open
	due     int64 // history modes: when Online, or an end, is due
	// waiting: the Reply said the server was empty, so there is nothing to hand over until
	// the next post (TLL's WaitOnline); Online is due a bound after that post instead.
	waiting bool
	dueOpen int64 // the due set at the open, kept while waiting

	// By due: whether the session reported Online or ended, and else where it was.
	settled  bool
	atDue    int // history index of its last event by due
	phase    string
	phaseSeq int64
	count    int64
	last     int64

	ended bool
	endT  int64
	// groundless: it ended in Error while live, in a calm run, before any fault; it still owes
	// the posts after its end.
	groundless bool

	// Before it is live: the highest seq delivered, which covers posts acknowledged late.
	delivered bool
	top       int64

	live bool
	// next indexes posts: the first post due to the session and not yet delivered. Deliveries
	// beyond it wait in ahead (post index → delivery time) until it is; a healthy session never
	// needs ahead.
	next  int
	ahead map[int]int64
	late  int // index in posts of the first post delivered after its bound, -1 if none
	lateT int64
}

func (l *liveness) lookup(id int64) *liveSession {
	k, ok := l.sessions.Find(id)
	if !ok {
		return nil
	}
	return &l.ss[k]
}

func (l *liveness) event(i int, e *Event) {
	if e.Kind == EvPostOK && len(l.waiting) > 0 {
		for _, k := range l.waiting {
			s := &l.ss[k]
			s.waiting, s.due = false, max(s.dueOpen, addSat(e.T, l.bound))
		}
		l.waiting = l.waiting[:0]
		return
	}
	if e.Kind == EvOpen {
		if l.sessions.Add(e.Session, len(l.ss)) {
			l.ss = append(l.ss, l.open(i, e))
		}
		return
	}
	switch e.Kind {
	case EvDeliver, EvControl, EvState, EvClose, EvPhase:
	default:
		return
	}
	s := l.lookup(e.Session)
	if s == nil {
		return
	}
	ends := e.Kind == EvClose || e.Kind == EvState && (e.State == StError || e.State == StClosed)
	goesLive := e.Kind == EvControl && e.Name == CtlOnline ||
		e.Kind == EvState && e.State == StActive && s.online
	if s.history && e.T <= s.due {
		s.atDue = i
		switch {
		case ends, e.Kind == EvControl && e.Name == CtlOnline:
			s.settled = true
		case e.Kind == EvPhase:
			s.phase, s.phaseSeq = e.Name, e.Seq
			if e.Name == PhReply && e.Seq == -1 && s.count == 0 && !s.waiting {
				s.waiting, s.dueOpen, s.due = true, s.due, math.MaxInt64
				k, _ := l.sessions.Find(e.Session)
				l.waiting = append(l.waiting, k)
			}
		case e.Kind == EvDeliver:
			s.count++
			s.last = e.Seq
		}
	}
	switch {
	case ends:
		if !s.ended {
			s.ended, s.endT = true, e.T
			s.groundless = s.live && e.Kind == EvState && e.State == StError && i < l.causeFrom
		}
	case goesLive && !s.live:
		l.goLive(s, i)
	case e.Kind == EvDeliver && s.live:
		l.deliver(s, e)
	case e.Kind == EvDeliver:
		if !s.delivered || e.Seq > s.top {
			s.delivered, s.top = true, e.Seq
		}
	}
}

func (l *liveness) open(i int, e *Event) liveSession {
	from := e.T
	if l.faulted {
		from = max(from, l.faultsEnd)
	}
	return liveSession{
		id: e.Session, node: e.Node, history: e.Mode.known() && e.Mode != ModeOnline, online: e.Mode == ModeOnline,
		opened: e.T, due: addSat(from, l.bound), atDue: i, late: -1,
	}
}

// goLive starts the session's duty at history index i: the posts acknowledged after it. Order
// in the history, not time, decides, since events may share a time and then the file's order
// is theirs (README, History files). Those it already delivered while reading history were
// acknowledged late, and count as delivered.
func (l *liveness) goLive(s *liveSession, i int) {
	s.live = true
	s.next = sort.Search(len(l.posts), func(k int) bool { return l.posts[k].event > i })
	for s.delivered && s.next < len(l.posts) && l.posts[s.next].seq <= s.top {
		s.next++
	}
}

func (l *liveness) deliver(s *liveSession, e *Event) {
	j := s.next
	switch {
	case j >= len(l.posts) || e.Seq < l.posts[j].seq:
		// A repeat, or a post not due to the session.
	case e.Seq == l.posts[j].seq:
		l.take(s, j, e.T)
		s.next++
		for s.ahead != nil {
			t, ok := s.ahead[s.next]
			if !ok {
				break
			}
			delete(s.ahead, s.next)
			l.take(s, s.next, t)
			s.next++
		}
	default:
		k, found := slices.BinarySearchFunc(l.posts[j:], e.Seq, func(p livePost, seq int64) int { return cmp.Compare(p.seq, seq) })
		if !found {
			return
		}
		if s.ahead == nil {
			s.ahead = make(map[int]int64)
		}
		if _, again := s.ahead[j+k]; !again {
			s.ahead[j+k] = e.T
		}
	}
}

// take records the delivery at time t of post j.
func (l *liveness) take(s *liveSession, j int, t int64) {
	if s.late < 0 && t > addSat(l.posts[j].t, l.bound) {
		s.late, s.lateT = j, t
	}
}

// verdict judges one session once the whole history is read.
func (l *liveness) verdict(s *liveSession, end int64) (Violation, bool) {
	v := Violation{Property: PropLiveness, Session: s.id, Node: s.node}
	if s.history && s.due <= end && !s.settled {
		v.Index, v.Message = s.atDue, l.stalled(s)
		v.Context = sessionContext(l.h, s.id, s.atDue, true)
		return v, true
	}
	if !s.live || l.sessionsOnly {
		return v, false
	}
	// Posts are due to the session only if it stayed open until their bound had passed.
	limit := end
	if s.ended && !s.groundless {
		limit = min(limit, s.endT-1)
	}
	due := sort.Search(len(l.posts), func(k int) bool { return addSat(l.posts[k].t, l.bound) > limit })
	first := s.next
	if s.late >= 0 {
		first = s.late
	}
	if first >= due {
		return v, false
	}
	p := &l.posts[first]
	switch {
	case s.groundless && first != s.late && p.t >= s.endT:
		v.Message = fmt.Sprintf("seq %d, acknowledged at t=%d, was not delivered by t=%d (bound %dns): the session ended in Error at t=%d, live, with no fault, crash or restart before it on calm links",
			p.seq, p.t, addSat(p.t, l.bound), l.bound, s.endT)
	case first == s.late:
		v.Message = fmt.Sprintf("seq %d, acknowledged at t=%d while the session was live, was delivered only at t=%d, after t=%d (bound %dns)",
			p.seq, p.t, s.lateT, addSat(p.t, l.bound), l.bound)
	default:
		v.Message = fmt.Sprintf("seq %d, acknowledged at t=%d while the session was live, was not delivered by t=%d (bound %dns)",
			p.seq, p.t, addSat(p.t, l.bound), l.bound)
	}
	v.Index = p.event
	v.Context = sessionContext(l.h, s.id, p.event, true)
	return v, true
}

// stalled says where a session that missed its Online deadline was at the deadline.
func (l *liveness) stalled(s *liveSession) string {
	since := fmt.Sprintf("its open at t=%d", s.opened)
	if l.faulted && l.faultsEnd > s.opened {
		since = fmt.Sprintf("the last fault at t=%d", l.faultsEnd)
	}
	where := "reported no phase"
	if s.phase != "" {
		where = fmt.Sprintf("reached phase %s (seq %d)", s.phase, s.phaseSeq)
	}
	got := "delivered nothing"
	if s.count > 0 {
		got = fmt.Sprintf("delivered %d, the last seq %d", s.count, s.last)
	}
	return fmt.Sprintf("stalled: neither Online nor an end by t=%d, %dns after %s; by then it %s and %s", s.due, l.bound, since, where, got)
}

// addSat is a+b for b >= 0, saturating rather than wrapping, so that a bound of math.MaxInt64
// means "never".
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
