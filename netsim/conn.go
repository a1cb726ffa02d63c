package netsim

import (
	"fmt"
	"slices"

	"github.com/streamsim/streamsim/reference"
)

// side names an end of a connection. A direction's sender is the side with the same number.
type side uint8

const (
	sideClient side = iota
	sideServer
)

func outgoing(s side) Direction { return Direction(s) }
func incoming(s side) Direction { return Direction(1 - s) }
func receiver(d Direction) side { return side(1 - d) }

type endState uint8

const (
	endPending endState = iota // server end whose accept has not arrived yet
	endOpen                    // the node knows the id and gets events for it
	endClosed                  // the node gets no more events for it
)

// conn is one connection: two ends and a pipe per direction.
type conn struct {
	n      *Network
	id     reference.ConnID
	ch     reference.Channel
	client *Host
	state  [2]endState // by side
	pipes  [2]pipe     // by direction
	rst    [2]rstEvent // by side; embedded so a reset allocates nothing
	reset  bool
}

func (c *conn) host(s side) *Host {
	if s == sideClient {
		return c.client
	}
	return c.n.server
}

// link returns the configuration that applies to writes on direction d now.
func (c *conn) link(d Direction) *LinkConfig {
	if c.client.hasLink[c.ch][d] {
		return &c.client.links[c.ch][d]
	}
	return &c.n.links[c.ch][d]
}

// arrivalNs draws the time at which something sent now over cfg reaches the far end, if
// nothing ahead of it holds it up.
func (c *conn) arrivalNs(cfg *LinkConfig) int64 {
	t := c.n.k.Now() + cfg.LatencyNs
	if cfg.JitterNs > 0 {
		t += c.n.k.Rand().Int64N(cfg.JitterNs + 1)
	}
	return t
}

// releaseIfDone forgets the connection once neither end can get another event. Its kernel
// events may still be queued; they find both ends closed and do nothing.
func (c *conn) releaseIfDone() {
	if c.state[sideClient] != endClosed || c.state[sideServer] != endClosed {
		return
	}
	c.pipes[ClientToServer].clear()
	c.pipes[ServerToClient].clear()
	c.n.conns[c.id] = nil
	if c.client.current[c.ch] == c {
		c.client.current[c.ch] = nil
	}
}

// close marks an end closed before telling its node, so that anything the node does in
// Closed already sees the connection gone.
func (c *conn) close(s side, what string, err error) {
	c.state[s] = endClosed
	h := c.host(s)
	c.n.k.Trace().Record(c.n.k.Now(), h.name, what, int64(c.id), 0)
	c.releaseIfDone()
	h.node.Closed(c.id, err)
}

// deliver hands one segment that reached the receiving side of d to its node.
func (c *conn) deliver(d Direction, seg segment) {
	n := c.n
	s := receiver(d)
	if c.state[s] == endClosed {
		n.stats.DiscardedBytes += uint64(len(seg.p))
		return
	}
	if (c.state[s] == endPending) != (seg.kind == segAccept) {
		panic(fmt.Sprintf("netsim: conn %d: segment kind %d reached an end in state %d: the accept must come first, once", c.id, seg.kind, c.state[s]))
	}
	switch seg.kind {
	case segData:
		n.stats.Deliveries[c.ch]++
		n.stats.Bytes[c.ch] += uint64(len(seg.p))
		h := c.host(s)
		n.k.Trace().Record(n.k.Now(), h.name, evRecv, int64(c.id), int64(len(seg.p)))
		h.node.Received(c.id, seg.p)
	case segAccept:
		srv := n.server
		if srv == nil || srv.node == nil {
			c.state[sideServer] = endClosed
			c.pipes[ServerToClient].pushMarker(segRefuse)
			c.releaseIfDone() // the client may have closed already
			return
		}
		c.state[sideServer] = endOpen
		// Queued before the node runs so that whatever it sends from Accepted follows the
		// handshake to the client.
		c.pipes[ServerToClient].pushMarker(segConnect)
		n.k.Trace().Record(n.k.Now(), srv.name, evAccept, int64(c.id), int64(c.ch))
		srv.node.Accepted(c.id, c.ch)
	case segConnect:
		n.k.Trace().Record(n.k.Now(), c.client.name, evConnect, int64(c.id), 0)
		c.client.node.Connected(c.id)
	case segRefuse:
		c.close(s, evRefused, reference.ErrRefused)
	case segFin:
		c.close(s, evClose, nil)
	default:
		panic(fmt.Sprintf("netsim: conn %d: unknown segment kind %d", c.id, seg.kind))
	}
}

// rstEvent tells one end that its connection was reset.
type rstEvent struct {
	c    *conn
	side side
}

func (r *rstEvent) Fire() {
	if r.c.state[r.side] != endOpen {
		return
	}
	r.c.close(r.side, evReset, reference.ErrReset)
}

type segKind uint8

const (
	segData    segKind = iota
	segAccept          // client→server: the dial reaches the server host
	segConnect         // server→client: the accept reaches the client
	segRefuse          // server→client: nobody was listening
	segFin             // graceful close, after all data sent before it
)

type segment struct {
	atNs int64 // when it reaches the far end unless something ahead of it or a stall holds it
	p    []byte
	kind segKind
}

// pipe is one direction of a connection: a FIFO ring of segments and at most one kernel event
// (armed) for the head. A segment is delivered at max(its arrival time, the delivery of the
// segment before it), which is the documented LinkConfig rule, enforced by the queue itself.
type pipe struct {
	c            *conn
	dir          Direction
	ring         []segment // length is a power of two
	head         int
	size         int
	stallUntilNs int64
	armed        bool
	queuedBytes  int // data written and not yet delivered: the sender's view of its buffer
}

const initialRing = 8

func (p *pipe) pushMarker(kind segKind) {
	cfg := p.c.link(p.dir)
	p.push(segment{atNs: p.c.arrivalNs(cfg), kind: kind})
}

// pushData queues a write, cut into pieces when the link segments it. Pieces are three-index
// sub-slices so a receiver appending to one cannot overwrite the next.
func (p *pipe) pushData(b []byte) {
	cfg := p.c.link(p.dir)
	rng := p.c.n.k.Rand()
	if cfg.SegmentProb == 0 || cfg.SegmentMax < 2 || len(b) < 2 || rng.Float64() >= cfg.SegmentProb {
		p.push(segment{atNs: p.c.arrivalNs(cfg), p: b[:len(b):len(b)]})
		return
	}
	pieces := 2 + rng.IntN(min(cfg.SegmentMax, len(b))-1)
	cuts := p.c.n.cuts[:0]
	for range pieces - 1 {
		cuts = append(cuts, 1+rng.IntN(len(b)-1))
	}
	slices.Sort(cuts)
	from := 0
	for _, at := range cuts {
		if at == from {
			continue // two equal cuts: one piece fewer
		}
		p.push(segment{atNs: p.c.arrivalNs(cfg), p: b[from:at:at]})
		from = at
	}
	p.push(segment{atNs: p.c.arrivalNs(cfg), p: b[from:len(b):len(b)]})
	p.c.n.cuts = cuts
}

func (p *pipe) push(s segment) {
	p.queuedBytes += len(s.p)
	if p.size == len(p.ring) {
		p.grow()
	}
	p.ring[(p.head+p.size)&(len(p.ring)-1)] = s
	p.size++
	if !p.armed {
		p.armed = true
		p.c.n.k.Schedule(s.atNs, p)
	}
}

func (p *pipe) grow() {
	ring := make([]segment, max(initialRing, 2*len(p.ring)))
	for i := range p.size {
		ring[i] = p.ring[(p.head+i)&(len(p.ring)-1)]
	}
	p.ring = ring
	p.head = 0
}

// clear discards everything queued. An armed event stays queued in the kernel; when it fires
// it finds the pipe empty, or finds a later segment and re-arms for it.
func (p *pipe) clear() {
	for p.size > 0 {
		s := &p.ring[p.head]
		p.c.n.stats.DiscardedBytes += uint64(len(s.p))
		p.queuedBytes -= len(s.p)
		*s = segment{}
		p.head = (p.head + 1) & (len(p.ring) - 1)
		p.size--
	}
}

// Fire delivers the head if it is due and the direction is not stalled, then re-arms for the
// next. One segment per event keeps other events at the same instant interleaved fairly.
func (p *pipe) Fire() {
	k := p.c.n.k
	now := k.Now()
	if p.size == 0 {
		p.armed = false
		return
	}
	slot := &p.ring[p.head]
	// The head is not due when the direction is stalled, or when this event was armed for a
	// segment since discarded.
	if due := max(slot.atNs, p.stallUntilNs); due > now {
		k.Schedule(due, p)
		return
	}
	seg := *slot
	*slot = segment{}
	p.head = (p.head + 1) & (len(p.ring) - 1)
	p.size--
	p.queuedBytes -= len(seg.p)
	p.c.deliver(p.dir, seg)
	if p.size == 0 {
		p.armed = false
		return
	}
	k.Schedule(max(p.ring[p.head].atNs, k.Now()), p)
}
