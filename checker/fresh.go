package checker

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
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
// effect, which lies between the two. The check uses the split form because an operation
// spanning the whole history phase would forbid cutting the session into small partitions, and
// because porcupine's verbose search backtracks across such an operation in time quadratic in
// the operations it spans (0.24 s for 16,000 deliveries, four times that for twice as many).
//
// Partitions: one client session with the posts it can observe, those of the epoch Check
// judges it in (after a server restart the register starts again from the last seq the storage
// recovered), cut further into windows at instants no kept operation spans. At such an instant
// every earlier operation precedes every later one in any linearization, so the register there
// is known, the posts before it collapse into one initial write, and the session is
// linearizable if and only if each window is.

// Verdicts of CheckFresh.
const (
	VerdictOK      = "ok"
	VerdictIllegal = "illegal"
	VerdictUnknown = "unknown"
)

// LinResult is CheckFresh's verdict.
type LinResult struct {
	Verdict    string  // VerdictIllegal if a session is, else VerdictUnknown if one timed out, else VerdictOK
	Illegal    []int64 // sessions whose operations cannot be linearized, in the order they opened
	Unknown    []int64 // sessions the timeout left undecided, in the order they opened
	Sessions   int     // sessions with operations to check
	Partitions int     // porcupine searches
	Ops        int     // porcupine operations: a post counts once per partition that keeps it

	blames  []freshBlame // one per Illegal session, same order
	parts   []freshPart
	timeout time.Duration
}

// freshBlame explains one illegal session.
type freshBlame struct {
	session int64
	node    string
	event   int // history index of the Online or delivery the search could not place
	msg     string
}

type opKind uint8

const (
	opInit       opKind = iota // the posts before a partition, as one write
	opPost                     // a post, from its post event to its post_ok
	opDeliver                  // register ≥ seq
	opOnlineLow                // register ≤ seq, at the open
	opOnlineHigh               // register ≥ seq, at the Online, and seq a value the register holds
)

// freshOp is a porcupine operation's input, and its metadata too; the model ignores outputs.
// Operations hold pointers to it, which box without an allocation each.
type freshOp struct {
	kind    opKind
	seq     int64
	held    bool  // opOnlineHigh: seq is -1 or a posted seq
	session int64 // client operations, for the visualization
	event   int   // history index of the post_ok, delivery or Online; -1 for opInit
}

// unset is the register before a partition's initial write, which the model forces first.
const unset = int64(math.MinInt64)

// emptySeq is the register before any post: "no data", as TLL's Reply says it.
const emptySeq = -1

func freshModel() porcupine.Model {
	return porcupine.Model{
		Init: func() any { return unset },
		Step: freshStep,
		Hash: func(state any) uint64 { return uint64(state.(int64)) * 0x9e3779b97f4a7c15 },
		DescribeOperation: func(input, _ any) string {
			op := input.(*freshOp)
			switch op.kind {
			case opInit:
				return fmt.Sprintf("posts before: last=%s", seqString(op.seq))
			case opPost:
				return fmt.Sprintf("post %d", op.seq)
			case opDeliver:
				return fmt.Sprintf("session %d: deliver %d (last ≥ %d)", op.session, op.seq, op.seq)
			case opOnlineLow:
				s := seqString(op.seq)
				return fmt.Sprintf("session %d: open, Online(%s) to come (last ≤ %s)", op.session, s, s)
			}
			if !op.held {
				return fmt.Sprintf("session %d: Online(%s), a seq never posted", op.session, seqString(op.seq))
			}
			return fmt.Sprintf("session %d: Online(%s) (last ≥ %s)", op.session, seqString(op.seq), seqString(op.seq))
		},
		DescribeState: func(state any) string {
			if s := state.(int64); s != unset {
				return "last=" + seqString(s)
			}
			return "unset"
		},
		DescribeOperationMetadata: func(m any) string {
			if op := m.(*freshOp); op.event >= 0 {
				return fmt.Sprintf("history event %d", op.event)
			}
			return ""
		},
	}
}

func freshStep(state, input, _ any) (bool, any) {
	last, op := state.(int64), input.(*freshOp)
	if op.kind == opInit {
		return last == unset, op.seq
	}
	if last == unset {
		return false, state
	}
	switch op.kind {
	case opPost:
		return op.seq > last, op.seq
	case opOnlineLow:
		return last <= op.seq, state
	case opOnlineHigh:
		return op.held && last >= op.seq, state
	}
	return last >= op.seq, state
}

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

// collectPosts builds the posts each epoch's sessions can observe (see epoch): the posts the
// previous epoch's storage recovered, then the ones accepted since. Each post_ok and post_err
// answers the oldest unanswered post of its node, since a server application answers its posts
// in order; a post_ok with no post is instantaneous; a post never answered is left out, as Check
// leaves it out of the stored log, and so is a post under way when its node crashed.
func collectPosts(h History, server string, ss []freshSession, byID map[int64]int) []postLog {
	pending := make(map[string][]int)
	var epochs [][]freshPost
	var ps []freshPost
	for i := range h {
		e := &h[i]
		switch e.Kind {
		case EvPost:
			pending[e.Node] = append(pending[e.Node], i)
		case EvCrash:
			delete(pending, e.Node)
		case EvRestart:
			if e.Node != server {
				continue
			}
			sortBySeq(ps)
			epochs = append(epochs, ps)
			// Recovered posts took effect before the crash, so they keep their intervals.
			ps = slices.Clone(ps[:sort.Search(len(ps), func(k int) bool { return ps[k].seq > e.Seq })])
		case EvPostOK, EvPostErr:
			call := e.T
			if q := pending[e.Node]; len(q) > 0 {
				call = h[q[0]].T
				pending[e.Node] = q[1:]
			}
			if e.Kind == EvPostOK {
				ps = append(ps, freshPost{seq: e.Seq, call: call, ret: e.T, event: i, bound: i})
			}
		}
	}
	sortBySeq(ps)
	epochs = append(epochs, ps)
	logs := make([]postLog, len(epochs))
	for k := range epochs {
		logs[k].ps = epochs[k]
	}

	// A delivery observes its post: the post took effect by then. Tightening the post's
	// interval brings that knowledge to every session's partition, so an Online elsewhere that
	// is older than data already delivered is caught although the post_ok came late.
	for i := range h {
		e := &h[i]
		if e.Kind != EvDeliver {
			continue
		}
		k, opened := byID[e.Session]
		if !opened {
			continue
		}
		l := &logs[ss[k].epoch]
		if j, ok := l.find(e.Seq); ok && e.T >= l.ps[j].call && e.T < l.ps[j].ret {
			l.ps[j].ret, l.ps[j].bound = e.T, i
		}
	}
	for k := range logs {
		logs[k].settle()
	}
	return logs
}

// sortBySeq orders posts by seq. Check rejects a history whose post_ok seqs do not increase
// within an epoch; sorting keeps the model well-defined on such a history anyway.
func sortBySeq(ps []freshPost) {
	slices.SortStableFunc(ps, func(a, b freshPost) int { return cmp.Compare(a.seq, b.seq) })
}

// settle orders the posts' effects by seq and computes the bounds.
func (l *postLog) settle() {
	ps := l.ps
	// Posts take effect in seq order, so each one does before any higher one does. A post
	// called after a higher one took effect keeps a point interval at its call, which no
	// linearization can place: the history is illegal, and the search says so.
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

// lastBefore is the register's value once the first n posts took effect.
func (l *postLog) lastBefore(n int) int64 {
	if n == 0 {
		return emptySeq
	}
	return l.ps[n-1].seq
}

// clientOp is a point operation of a session.
type clientOp struct {
	kind  opKind
	t     int64
	seq   int64
	event int
}

type freshSession struct {
	id     int64
	node   string
	open   int // history index
	tOpen  int64
	epoch  int  // the epoch whose posts it observes: the server life it talked to (see epoch)
	pinned bool // epoch is final (see contacts)
	ops    []clientOp
}

// collectSessions gathers each session's deliveries and Online controls, and byID, which maps a
// session id to its index in them; events of sessions never opened are Check's to report.
func collectSessions(h History, server string) (ss []freshSession, byID map[int64]int) {
	byID = make(map[int64]int)
	epoch, restartT := 0, int64(0)
	for i := range h {
		e := &h[i]
		switch {
		case e.Kind == EvRestart && e.Node == server:
			epoch, restartT = epoch+1, e.T
		case e.Kind == EvOpen:
			if _, dup := byID[e.Session]; !dup {
				byID[e.Session] = len(ss)
				ss = append(ss, freshSession{id: e.Session, node: e.Node, open: i, tOpen: e.T, epoch: epoch})
			}
		case contacts(e):
			k, ok := byID[e.Session]
			if !ok {
				continue
			}
			s := &ss[k]
			if !s.pinned {
				// The server life of its first contact, as Check judges it; that life
				// began at the restart.
				s.pinned = true
				if s.epoch < epoch {
					s.epoch, s.tOpen = epoch, restartT
				}
			}
			if e.Kind == EvState || e.Kind == EvControl && e.Name != CtlOnline {
				continue
			}
			if e.Kind == EvDeliver {
				s.ops = append(s.ops, clientOp{opDeliver, e.T, e.Seq, i})
			} else {
				s.ops = append(s.ops, clientOp{opOnlineLow, s.tOpen, e.Seq, i}, clientOp{opOnlineHigh, e.T, e.Seq, i})
			}
		}
	}
	for k := range ss {
		// Only the open-time halves of Online are out of place.
		slices.SortStableFunc(ss[k].ops, func(a, b clientOp) int { return cmp.Compare(a.t, b.t) })
	}
	return ss, byID
}

// minWindow is the fewest operations a window gets before it may be cut: fewer means more
// searches, each with a fixed cost; more means porcupine's per-step cost, linear in the
// window, grows.
const minWindow = 256

// freshPart is one porcupine search: a window of one session.
type freshPart struct {
	session int // index in the sessions
	ops     []porcupine.Operation
	result  porcupine.CheckResult
	blame   int // index in ops of the operation the search could not place; -1 when unknown
}

// windows cuts session s, with the posts it can observe, into partitions of at least window
// operations where the timing allows.
func windows(s *freshSession, sk int, l *postLog, window int) []freshPart {
	first, end := s.ops[0].t, s.ops[len(s.ops)-1].t
	settled := l.settledBefore(first)
	var kept []freshPost
	for j := settled; j < len(l.ps) && l.minCallFrom[j] <= end; j++ {
		if l.ps[j].call <= end {
			kept = append(kept, l.ps[j])
		}
	}
	slices.SortStableFunc(kept, func(a, b freshPost) int { return cmp.Compare(a.call, b.call) })

	var parts []freshPart
	last := l.lastBefore(settled)
	var cur []porcupine.Operation
	var reach int64 // the latest return in cur
	flush := func() {
		if len(cur) > 0 {
			parts = append(parts, freshPart{session: sk, ops: cur, blame: -1})
			cur = nil
		}
	}
	// Inputs come from slabs rather than one growing slice, so the pointers stay valid.
	var slab []freshOp
	input := func(op freshOp) *freshOp {
		if len(slab) == cap(slab) {
			slab = make([]freshOp, 0, 2*window)
		}
		slab = append(slab, op)
		return &slab[len(slab)-1]
	}
	add := func(call, ret int64, client int, op freshOp) {
		if len(cur) >= window && reach < call {
			flush()
		}
		if len(cur) == 0 {
			cur = make([]porcupine.Operation, 0, 2*window)
			in := input(freshOp{kind: opInit, seq: last, event: -1})
			cur = append(cur, porcupine.Operation{Input: in, Call: call, Return: call, Metadata: in})
			reach = call
		}
		in := input(op)
		cur = append(cur, porcupine.Operation{ClientId: client, Input: in, Call: call, Return: ret, Metadata: in})
		reach = max(reach, ret)
		if op.kind == opPost {
			last = max(last, op.seq)
		}
	}
	i, j := 0, 0
	for i < len(s.ops) || j < len(kept) {
		if j < len(kept) && (i == len(s.ops) || kept[j].call <= s.ops[i].t) {
			p := &kept[j]
			add(p.call, p.ret, 0, freshOp{kind: opPost, seq: p.seq, event: p.event})
			j++
			continue
		}
		o := &s.ops[i]
		held := false
		if o.kind == opOnlineHigh {
			_, posted := l.find(o.seq)
			held = posted || o.seq == emptySeq
		}
		add(o.t, o.t, 1, freshOp{kind: o.kind, seq: o.seq, held: held, session: s.id, event: o.event})
		i++
	}
	flush()
	return parts
}

// CheckFresh judges the fresh property with porcupine. It assumes a history Check accepted. A
// timeout > 0 bounds the whole check; sessions it leaves undecided are reported unknown, never
// as passing. Searches run in parallel, one per window, on GOMAXPROCS workers.
func CheckFresh(h History, timeout time.Duration) LinResult {
	return checkFresh(h, timeout, minWindow)
}

// checkFresh is CheckFresh with the window size as a parameter, so tests can cut sessions finely.
func checkFresh(h History, timeout time.Duration, window int) LinResult {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	server := serverOf(h)
	ss, byID := collectSessions(h, server)
	posts := collectPosts(h, server, ss, byID)
	res := LinResult{timeout: timeout}
	for k := range ss {
		if len(ss[k].ops) == 0 {
			continue
		}
		res.Sessions++
		res.parts = append(res.parts, windows(&ss[k], k, &posts[ss[k].epoch], window)...)
	}
	res.Partitions = len(res.parts)
	for k := range res.parts {
		res.Ops += len(res.parts[k].ops)
	}
	runParts(res.parts, deadline)

	state := make([]porcupine.CheckResult, len(ss))
	blamed := make([]*freshPart, len(ss))
	for k := range res.parts {
		p := &res.parts[k]
		switch {
		case p.result == porcupine.Illegal && state[p.session] != porcupine.Illegal:
			state[p.session], blamed[p.session] = porcupine.Illegal, p
		case p.result == porcupine.Unknown && state[p.session] == "":
			state[p.session] = porcupine.Unknown
		}
	}
	for k := range ss {
		switch state[k] {
		case porcupine.Illegal:
			res.Illegal = append(res.Illegal, ss[k].id)
			res.blames = append(res.blames, blame(h, &posts[ss[k].epoch], &ss[k], blamed[k]))
		case porcupine.Unknown:
			res.Unknown = append(res.Unknown, ss[k].id)
		}
	}
	switch {
	case len(res.Illegal) > 0:
		res.Verdict = VerdictIllegal
	case len(res.Unknown) > 0:
		res.Verdict = VerdictUnknown
	default:
		res.Verdict = VerdictOK
	}
	return res
}

// runParts runs the searches. Each worker takes the next part; a part started after the
// deadline is unknown without a search, since porcupine reads a zero timeout as none.
func runParts(parts []freshPart, deadline time.Time) {
	model := freshModel()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(parts)) {
		wg.Go(func() {
			for {
				k := int(next.Add(1)) - 1
				if k >= len(parts) {
					return
				}
				p := &parts[k]
				var left time.Duration
				if !deadline.IsZero() {
					if left = time.Until(deadline); left <= 0 {
						p.result = porcupine.Unknown
						continue
					}
				}
				var info porcupine.LinearizationInfo
				p.result, info = porcupine.CheckOperationsVerbose(model, p.ops, left)
				if p.result == porcupine.Illegal {
					p.blame = stuckAt(p.ops, info)
				}
			}
		})
	}
	wg.Wait()
}

// stuckAt finds the client operation an illegal search could not place: of the operations
// outside the longest partial linearization, the one that returns first, which is where every
// search ran aground. Posts are never blamed; a post stuck is the symptom of a client operation
// that needed the register elsewhere.
func stuckAt(ops []porcupine.Operation, info porcupine.LinearizationInfo) int {
	done := make([]bool, len(ops))
	if parts := info.PartialLinearizations(); len(parts) == 1 {
		// Porcupine gathers partial linearizations through a map; the longest, with ties broken
		// by content, keeps the blame deterministic.
		var longest []int
		for _, l := range parts[0] {
			if len(l) > len(longest) || len(l) == len(longest) && slices.Compare(l, longest) < 0 {
				longest = l
			}
		}
		for _, id := range longest {
			done[id] = true
		}
	}
	best := -1
	for k := range ops {
		if done[k] || ops[k].ClientId == 0 {
			continue
		}
		if best < 0 || ops[k].Return < ops[best].Return {
			best = k
		}
	}
	return best
}

// blame writes the violation of an illegal session from the operation its search stuck at.
func blame(h History, l *postLog, s *freshSession, p *freshPart) freshBlame {
	b := freshBlame{session: s.id, node: s.node, event: s.open}
	if p.blame < 0 {
		b.msg = "the server's posts cannot be ordered by seq around the session's operations"
		return b
	}
	op := p.ops[p.blame]
	in := op.Input.(*freshOp)
	b.event = in.event
	t, seq := op.Call, in.seq
	switch in.kind {
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
		b.msg = fmt.Sprintf("Online(%s) at t=%d", seqString(seq), h[b.event].T) + onlineWhy(h, l, s.tOpen, in)
	}
	return b
}

// onlineWhy explains why an Online's half could not be placed.
func onlineWhy(h History, l *postLog, open int64, in *freshOp) string {
	seq := in.seq
	if in.kind == opOnlineLow {
		n := l.settledBefore(open)
		if last := l.lastBefore(n); n > 0 && last > seq {
			q := l.ps[n-1]
			return fmt.Sprintf(" is older than the server's last seq when the session opened at t=%d: seq %d took effect by t=%d (%s)",
				open, last, q.ret, boundString(h, q.bound))
		}
		return fmt.Sprintf(": the server's last seq cannot have been at most %s at the open, t=%d", seqString(seq), open)
	}
	t := h[in.event].T
	begun := int64(emptySeq)
	for _, q := range l.ps {
		if q.call <= t {
			begun = max(begun, q.seq)
		}
	}
	switch {
	case !in.held:
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

// Visualize writes porcupine's self-contained HTML view of the searches: only the illegal
// ones when there are any, so a failure report stays small, otherwise all of them. It searches
// again to record the partial linearizations, within the timeout CheckFresh had.
func (r LinResult) Visualize(w io.Writer) error {
	var chosen [][]porcupine.Operation
	for k := range r.parts {
		if r.parts[k].result == porcupine.Illegal {
			chosen = append(chosen, r.parts[k].ops)
		}
	}
	if len(chosen) == 0 {
		for k := range r.parts {
			chosen = append(chosen, r.parts[k].ops)
		}
	}
	model := freshModel()
	model.Partition = func([]porcupine.Operation) [][]porcupine.Operation { return chosen }
	_, info := porcupine.CheckOperationsVerbose(model, nil, r.timeout)
	return porcupine.Visualize(model, info, w)
}
