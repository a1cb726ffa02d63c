// Package sim is the deterministic discrete-event kernel under every simulated run: a virtual
// clock, an event queue, the run's only random source, and the run's event trace.
//
// Determinism is the point of the package. Given the same seed and the same sequence of calls,
// a Kernel fires the same handlers at the same virtual times in the same order, so a failing
// run can be replayed bit for bit. Nothing here reads the wall clock, starts goroutines, uses
// global random state or iterates a map. A Kernel is not safe for concurrent use: campaigns run
// one Kernel per goroutine and share nothing.
package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Handler is an event. Long-lived objects implement it on a pointer receiver so scheduling
// them allocates nothing.
type Handler interface{ Fire() }

// Func adapts a function to Handler. Building a closure allocates, so hot paths should
// schedule pointer-typed handlers instead.
type Func func()

// Fire calls f.
func (f Func) Fire() { f() }

// event is stored by value so the queue is one contiguous slice with no per-event allocation.
type event struct {
	atNs int64
	seq  uint64 // insertion order; breaks ties so equal-time events fire as scheduled
	h    Handler
}

func (e *event) before(o *event) bool {
	return e.atNs < o.atNs || (e.atNs == o.atNs && e.seq < o.seq)
}

// arity of the heap. Four children per node halves the depth of a binary heap and keeps the
// children of one node within one or two cache lines, which wins on pop-heavy workloads.
const arity = 4

// Kernel owns virtual time and the event queue of one run.
//
// The queue is in parts. An event no earlier than the last one on a runway is appended to the
// first such runway, which then stays sorted and is read from its front; any other event goes
// to the heap. Step fires whichever front is earliest on (atNs, seq), the order one heap would
// give. The first runway takes a plan's posts and opens, scheduled in order before the run
// starts, so a plan of 20k posts does not make the heap 20k deep; the second takes what the
// network schedules in order while the run goes on, as pipes re-arming one after another for
// their next segments do, at a cost that does not grow with how many are pending.
type Kernel struct {
	nowNs     int64
	seq       uint64
	queue     []event // min-heap on (atNs, seq)
	runways   [2]runway
	fired     uint64
	maxEvents uint64 // 0: unbounded
	exhausted bool
	firing    bool // set while a handler runs, to catch re-entrant Step/Run
	// held: the handler running is queue[0], left in place so that the first event it
	// schedules into the heap replaces it with one sift down, where a pop and then a push
	// took two: a handler mostly schedules its own next event, as a pipe re-arms.
	held  bool
	rng   *rand.Rand
	trace Trace
}

// runway is a queue of events scheduled in order of time.
type runway struct {
	ev   []event // sorted on (atNs, seq); ev[head:] are pending
	head int
}

func (r *runway) pending() int { return len(r.ev) - r.head }

// takes reports whether an event at atNs scheduled now keeps the runway sorted: seq grows with
// every Schedule, so an event no earlier than the last one is after it.
func (r *runway) takes(atNs int64) bool {
	n := len(r.ev)
	return n == r.head || atNs >= r.ev[n-1].atNs
}

// pop removes and returns the first pending event; there must be one.
func (r *runway) pop() event {
	e := r.ev[r.head]
	r.ev[r.head] = event{} // drop the handler reference so the runway does not keep it alive
	r.head++
	// Fired events are dropped from the front once they are half the runway, so a runway that
	// is appended to as fast as it is read does not grow without bound.
	if r.head == len(r.ev) || r.head >= 64 && 2*r.head >= len(r.ev) {
		n := copy(r.ev, r.ev[r.head:])
		clear(r.ev[n:])
		r.ev, r.head = r.ev[:n], 0
	}
	return e
}

// New returns a kernel at time 0 whose random source is derived only from seed.
func New(seed uint64) *Kernel {
	return &Kernel{
		queue: make([]event, 0, 256),
		// PCG needs two words; the second is the seed mixed with the golden-ratio constant so
		// that neighbouring seeds do not yield related streams.
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
}

// Now returns the current virtual time in nanoseconds.
func (k *Kernel) Now() int64 { return k.nowNs }

// Rand returns the run's single random source. Every random decision of a run must come from
// here so that the seed alone determines the run.
func (k *Kernel) Rand() *rand.Rand { return k.rng }

// Trace returns the run's event trace.
func (k *Kernel) Trace() *Trace { return &k.trace }

// Pending returns the number of scheduled events not yet fired.
func (k *Kernel) Pending() int {
	n := len(k.queue) + k.runways[0].pending() + k.runways[1].pending()
	if k.held {
		n--
	}
	return n
}

// Fired returns the number of events fired so far in this run.
func (k *Kernel) Fired() uint64 { return k.fired }

// SetMaxEvents bounds the total number of events a run may fire (0 removes the bound). Once
// the bound is reached Run and Step stop and Exhausted reports true, so a runaway scenario
// ends instead of hanging a campaign. Setting a new bound clears Exhausted.
func (k *Kernel) SetMaxEvents(n uint64) {
	k.maxEvents = n
	k.exhausted = false
}

// Exhausted reports whether Run or Step refused to fire an event because of SetMaxEvents.
func (k *Kernel) Exhausted() bool { return k.exhausted }

// Schedule queues h to fire at atNs. Scheduling in the past is a programming error and panics:
// silently clamping would hide causality bugs in the caller.
func (k *Kernel) Schedule(atNs int64, h Handler) {
	if atNs < k.nowNs {
		panic(fmt.Sprintf("sim: Schedule at %d ns is before now (%d ns)", atNs, k.nowNs))
	}
	if h == nil {
		panic("sim: Schedule with nil handler")
	}
	k.seq++
	e := event{atNs: atNs, seq: k.seq, h: h}
	for i := range k.runways {
		if r := &k.runways[i]; r.takes(atNs) {
			r.ev = append(r.ev, e)
			return
		}
	}
	if k.held {
		k.held = false
		k.siftDown(e)
		return
	}
	k.push(e)
}

// Reserve makes room for n more events scheduled in order of time, as a plan's are before a
// run starts, so that queueing them does not copy the queue over and over as it grows.
func (k *Kernel) Reserve(n int) { k.runways[0].ev = slices.Grow(k.runways[0].ev, n) }

// After queues h to fire dNs nanoseconds from now; dNs < 0 panics like Schedule.
func (k *Kernel) After(dNs int64, h Handler) { k.Schedule(k.nowNs+dNs, h) }

// Step fires the earliest event, whatever its time, and reports whether it fired one. It
// returns false when the queue is empty or the event bound is reached.
func (k *Kernel) Step() bool {
	if k.Pending() == 0 {
		return false
	}
	return k.step(k.first())
}

// step fires the earliest event, from runway r or, if r is nil, from the heap (first).
func (k *Kernel) step(r *runway) bool {
	if k.maxEvents > 0 && k.fired >= k.maxEvents {
		k.exhausted = true
		return false
	}
	if k.firing {
		panic("sim: Step or Run called from inside a handler")
	}
	var e event
	if r != nil {
		e = r.pop()
	} else {
		e, k.held = k.queue[0], true
	}
	if e.atNs < k.nowNs {
		panic(fmt.Sprintf("sim: event at %d ns popped after now (%d ns): heap order broken", e.atNs, k.nowNs))
	}
	k.nowNs = e.atNs
	k.fired++
	k.firing = true
	e.h.Fire()
	k.firing = false
	if k.held {
		k.held = false
		k.pop()
	}
	return true
}

// Run fires, in order, every event due at or before untilNs, including events scheduled by
// those handlers. It then leaves Now() == untilNs even if the queue emptied earlier, so
// consecutive Runs compose as consecutive slices of time. If the event bound stops it, Now()
// stays at the time of the last event fired. untilNs < Now() panics.
func (k *Kernel) Run(untilNs int64) {
	if k.firing {
		panic("sim: Step or Run called from inside a handler")
	}
	if untilNs < k.nowNs {
		panic(fmt.Sprintf("sim: Run until %d ns is before now (%d ns)", untilNs, k.nowNs))
	}
	for k.Pending() > 0 {
		// The earliest event is found once for the test and the firing.
		r := k.first()
		if r != nil && r.ev[r.head].atNs > untilNs || r == nil && k.queue[0].atNs > untilNs {
			break
		}
		if !k.step(r) {
			return
		}
	}
	k.nowNs = untilNs
}

// first is the runway whose front is the earliest pending event, or nil when that is the
// heap's first event; there must be one pending.
func (k *Kernel) first() *runway {
	var best *runway
	for i := range k.runways {
		if r := &k.runways[i]; r.pending() > 0 && (best == nil || r.ev[r.head].before(&best.ev[best.head])) {
			best = r
		}
	}
	if best != nil && len(k.queue) > 0 && k.queue[0].before(&best.ev[best.head]) {
		return nil
	}
	return best
}

func (k *Kernel) push(e event) {
	k.queue = append(k.queue, e)
	q := k.queue
	i := len(q) - 1
	for i > 0 {
		parent := (i - 1) / arity
		if !e.before(&q[parent]) {
			break
		}
		q[i] = q[parent]
		i = parent
	}
	q[i] = e
}

// pop removes the heap's first event.
func (k *Kernel) pop() {
	q := k.queue
	last := len(q) - 1
	moved := q[last]
	q[last] = event{} // drop the handler reference so the heap does not keep it alive
	k.queue = q[:last]
	if last > 0 {
		k.siftDown(moved)
	}
}

// siftDown puts e in place of the heap's first event and restores the heap order.
func (k *Kernel) siftDown(e event) {
	q := k.queue
	n := len(q)
	i := 0
	for {
		first := arity*i + 1
		if first >= n {
			break
		}
		end := min(first+arity, n)
		least := first
		for c := first + 1; c < end; c++ {
			if q[c].before(&q[least]) {
				least = c
			}
		}
		if !q[least].before(&e) {
			break
		}
		q[i] = q[least]
		i = least
	}
	q[i] = e
}
