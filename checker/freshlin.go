package checker

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/anishathalye/porcupine"
)

// Porcupine's side of fresh: the same model as CheckFresh's sweep, decided by search. It is
// the second opinion the differential tests hold the sweep to, and it draws the view of the
// failing sessions in a report.
//
// A session is cut further into windows at instants no kept operation spans. At such an
// instant every earlier operation precedes every later one in any linearization, so the
// register there is known, the posts before it collapse into one initial write, and the
// session is linearizable if and only if each window is. Online stays split in two point
// operations: one spanning the whole history phase would forbid the cuts, and porcupine's
// verbose search backtracks across such an operation in time quadratic in the operations it
// spans. With posts overlapping each other the search is exponential in how many do, so it is
// never the verdict.

// visualizeTimeout bounds the search that draws the view; the verdict does not wait on it.
const visualizeTimeout = 10 * time.Second

// freshOp is a porcupine operation's input, and its metadata too; the model ignores outputs.
// Operations hold pointers to it, which box without an allocation each.
type freshOp struct {
	kind    opKind
	seq     int64
	held    bool // opOnlineHigh: seq is a value the register holds
	session int64
	event   int // history index; -1 for opInit
}

// unset is the register before a partition's initial write, which the model forces first.
const unset = int64(math.MinInt64)

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

// minWindow is the fewest operations a window gets before it may be cut: fewer means more
// searches, each with a fixed cost; more means porcupine's per-step cost, linear in the
// window, grows.
const minWindow = 256

// windows cuts session s, with the posts it can observe, into porcupine partitions of at least
// window operations where the timing allows.
func windows(s *freshSession, l *postLog, window int) [][]porcupine.Operation {
	ops := s.ops.all()
	// Only the open-time halves of Online are out of place.
	slices.SortStableFunc(ops, func(a, b clientOp) int { return cmp.Compare(a.t, b.t) })
	first, end := ops[0].t, ops[len(ops)-1].t
	settled := l.settledBefore(first)
	var kept []freshPost
	for j := settled; j < len(l.ps) && l.minCallFrom[j] <= end; j++ {
		if l.ps[j].call <= end {
			kept = append(kept, l.ps[j])
		}
	}
	slices.SortStableFunc(kept, func(a, b freshPost) int { return cmp.Compare(a.call, b.call) })

	var parts [][]porcupine.Operation
	last := l.lastBefore(settled)
	var cur []porcupine.Operation
	var reach int64 // the latest return in cur
	flush := func() {
		if len(cur) > 0 {
			parts = append(parts, cur)
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
	for i < len(ops) || j < len(kept) {
		if j < len(kept) && (i == len(ops) || kept[j].call <= ops[i].t) {
			p := &kept[j]
			add(p.call, p.ret, 0, freshOp{kind: opPost, seq: p.seq, event: p.event})
			j++
			continue
		}
		o := &ops[i]
		held := false
		if o.kind == opOnlineHigh {
			_, posted := l.find(o.seq)
			held = posted || o.seq == emptySeq
		}
		add(o.t, o.t, 1, freshOp{kind: o.kind, seq: o.seq, held: held, session: s.id, event: int(o.event)})
		i++
	}
	flush()
	return parts
}

// porcupineFresh is the second opinion: porcupine's search over the windows of every session
// with operations, each bounded by timeout (none if 0). It returns the sessions it finds
// illegal and those it left undecided, in the order they opened.
func porcupineFresh(h History, window int, timeout time.Duration) (illegal, unknown []int64) {
	ss, posts := collect(h, false)
	model := freshModel()
	for k := range ss {
		s := &ss[k]
		if s.ops.n == 0 {
			continue
		}
		verdict := porcupine.Ok
		for _, part := range windows(s, &posts[s.epoch], window) {
			switch porcupine.CheckOperationsTimeout(model, part, timeout) {
			case porcupine.Illegal:
				verdict = porcupine.Illegal
			case porcupine.Unknown:
				if verdict == porcupine.Ok {
					verdict = porcupine.Unknown
				}
			}
			if verdict == porcupine.Illegal {
				break
			}
		}
		switch verdict {
		case porcupine.Illegal:
			illegal = append(illegal, s.id)
		case porcupine.Unknown:
			unknown = append(unknown, s.id)
		}
	}
	return illegal, unknown
}

// Visualize writes porcupine's self-contained HTML view of the fresh searches: when sessions
// are illegal, only the window of each that holds the operation blamed, so a failure report
// stays small; otherwise every window. The search that records the partial linearizations is
// bounded by visualizeTimeout; past it the view shows what it explored.
func (r LinResult) Visualize(w io.Writer) error {
	ss, posts := collect(r.h, false)
	blamed := make(map[int64]int, len(r.blames))
	for _, b := range r.blames {
		blamed[b.session] = b.event
	}
	var chosen [][]porcupine.Operation
	for k := range ss {
		s := &ss[k]
		event, illegal := blamed[s.id]
		if s.ops.n == 0 || len(blamed) > 0 && !illegal {
			continue
		}
		parts := windows(s, &posts[s.epoch], minWindow)
		if !illegal {
			chosen = append(chosen, parts...)
			continue
		}
		at := slices.IndexFunc(parts, func(ops []porcupine.Operation) bool {
			return slices.ContainsFunc(ops, func(op porcupine.Operation) bool { return op.ClientId != 0 && op.Input.(*freshOp).event == event })
		})
		if at < 0 {
			// The posts themselves are at fault: every window of the session shows them.
			chosen = append(chosen, parts...)
			continue
		}
		chosen = append(chosen, parts[at])
	}
	model := freshModel()
	model.Partition = func([]porcupine.Operation) [][]porcupine.Operation { return chosen }
	_, info := porcupine.CheckOperationsVerbose(model, nil, visualizeTimeout)
	return porcupine.Visualize(model, info, w)
}
