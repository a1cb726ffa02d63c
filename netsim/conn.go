package netsim

import (
	"fmt"
	"math"
	"slices"

	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/sim"
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
func sender(d Direction) side   { return side(d) }

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
	bornNs int64
	state  [2]endState // by side
	pipes  [2]pipe     // by direction
	rst    [2]rstEvent // by side; embedded so a reset allocates nothing
	reset  bool
	// connected is set once the client has had Connected: an abort before that is a failed
	// dial, which the client sees as ErrRefused.
	connected  bool
	finDelayNs int64 // extra delay for the FIN (SlowClose); a connection carries at most one
	// abortNs is when the idle timeout resets the connection whatever happens meanwhile (a
	// blackhole, a segment never getting through); 0 for never. Partition deadlines are not
	// stored here because Heal can cancel them: watch recomputes them when it fires.
	abortNs int64
	watchNs int64 // when watch is armed for; 0 when not armed
	watch   watchEvent
}

func (c *conn) host(s side) *Host {
	if s == sideClient {
		return c.client
	}
	return c.n.server
}

// hostName names an end in the trace; a client may dial (and send) while no server exists.
func (c *conn) hostName(s side) string {
	if h := c.host(s); h != nil {
		return h.name
	}
	return ""
}

// link returns the configuration that applies to writes on direction d now.
func (c *conn) link(d Direction) *LinkConfig {
	if c.client.hasLink[c.ch][d] {
		return &c.client.links[c.ch][d]
	}
	return &c.n.links[c.ch][d]
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

// kill ends the connection abruptly: everything in flight is discarded, each end still open
// gets Closed at the time given for it, and a server end whose accept is still in flight never
// learns of the connection.
func (c *conn) kill(clientAtNs, serverAtNs int64) {
	c.reset = true
	c.pipes[ClientToServer].clear()
	c.pipes[ServerToClient].clear()
	if c.state[sideClient] == endOpen {
		c.n.k.Schedule(clientAtNs, &c.rst[sideClient])
	}
	switch c.state[sideServer] {
	case endOpen:
		c.n.k.Schedule(serverAtNs, &c.rst[sideServer])
	case endPending:
		c.state[sideServer] = endClosed
	}
	c.releaseIfDone()
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
			c.pipes[ServerToClient].pushMarker(segRefuse, 0)
			c.releaseIfDone() // the client may have closed already
			return
		}
		c.state[sideServer] = endOpen
		// Queued before the node runs so that whatever it sends from Accepted follows the
		// handshake to the client.
		c.pipes[ServerToClient].pushMarker(segConnect, 0)
		n.k.Trace().Record(n.k.Now(), srv.name, evAccept, int64(c.id), int64(c.ch))
		srv.node.Accepted(c.id, c.ch)
	case segConnect:
		c.connected = true
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

// rstEvent tells one end that its connection was reset. A client that never got Connected
// hears of it as a failed dial.
type rstEvent struct {
	c    *conn
	side side
}

func (r *rstEvent) Fire() {
	c := r.c
	if c.state[r.side] != endOpen {
		return
	}
	if r.side == sideClient && !c.connected {
		c.close(r.side, evRefused, reference.ErrRefused)
		return
	}
	c.close(r.side, evReset, reference.ErrReset)
}

// abortAt makes the idle timeout reset the connection at atNs unless it ends sooner.
func (c *conn) abortAt(atNs int64) {
	if c.abortNs == 0 || atNs < c.abortNs {
		c.abortNs = atNs
	}
	c.armWatch(atNs)
}

// armWatch makes watch fire at atNs unless it is already due earlier. A later event it
// supersedes stays queued and is ignored when it fires, because watchNs no longer matches;
// the earlier one re-arms for whatever deadline is still standing.
func (c *conn) armWatch(atNs int64) {
	// A deadline can already have passed: a short partition extended past the idle timeout
	// owes a reset from when it began. Overdue means now.
	atNs = max(atNs, c.n.k.Now())
	if c.watchNs == 0 || atNs < c.watchNs {
		c.watchNs = atNs
		c.n.k.Schedule(atNs, &c.watch)
	}
}

// partitionDeadlineNs is when the idle timeout resets the connection because of the
// partitions holding it now, or 0 if they end in time. A connection dialed into a partition
// counts from its dial, which makes the reset its connect timeout.
func (c *conn) partitionDeadlineNs() int64 {
	h := c.client
	now := c.n.k.Now()
	deadline := int64(0)
	for d, untilNs := range h.partUntilNs {
		if untilNs <= now {
			continue
		}
		at := max(h.partSinceNs[d], c.bornNs) + c.n.idleTimeoutNs
		if untilNs >= at && (deadline == 0 || at < deadline) {
			deadline = at
		}
	}
	return deadline
}

// watchEvent resets its connection when the idle timeout expires.
type watchEvent struct{ c *conn }

func (w *watchEvent) Fire() {
	c := w.c
	now := c.n.k.Now()
	if c.watchNs != now {
		return
	}
	c.watchNs = 0
	if c.reset || c.n.conns[c.id] != c {
		return
	}
	deadline := c.partitionDeadlineNs()
	if c.abortNs != 0 && (deadline == 0 || c.abortNs < deadline) {
		deadline = c.abortNs
	}
	switch {
	case deadline == 0:
	case deadline > now:
		c.armWatch(deadline)
	default:
		c.n.stats.Timeouts++
		c.n.k.Trace().Record(now, c.client.name, evTimeout, int64(c.id), 0)
		c.kill(now, now)
	}
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
	atNs   int64 // when it reaches the far end unless something ahead of it or a hold delays it
	readNs int64 // how long the receiver takes to read it (RecvBytesPerSec)
	p      []byte
	kind   segKind
}

// pipe is one direction of a connection: a FIFO ring of segments and at most one kernel event
// (armed) for the head. A segment is delivered at max(its arrival time, the delivery of the
// segment before it, the end of any hold), which is the documented LinkConfig rule, enforced
// by the queue itself.
type pipe struct {
	c *conn
	// k is c.n.k, kept here because a pipe's Fire starts every delivery: reaching the kernel
	// through the connection and the network was three dependent loads before anything else.
	k    *sim.Kernel
	dir  Direction
	ring []segment // length is a power of two
	head int
	size int
	// Holds. A stall or blackhole delays the head until stallUntilNs; a slow receiver until
	// recvFreeNs. A partition (on the client host) parks the pipe with no event armed, since
	// Heal can end it early and a queued event cannot be moved; whatever ends a partition kicks
	// the pipes.
	stallUntilNs int64
	recvFreeNs   int64
	blackSinceNs int64 // start of the current blackhole, which the idle timeout counts from
	blackUntilNs int64
	txFreeNs     int64 // when the sender finishes transmitting what it has (BandwidthBytesPerSec)
	armed        bool
	queuedBytes  int // data written and not yet delivered: the sender's view of its buffer
	detourBytes  int // the part of queuedBytes in reordered datagrams outside the ring
	epoch        uint32
}

const initialRing = 8

// maxBackoffShift caps retransmission backoff at 2^6 = 64 times RetransmitNs.
const maxBackoffShift = 6

// pushMarker queues a control segment, extraNs later than the link alone would deliver it.
func (p *pipe) pushMarker(kind segKind, extraNs int64) {
	p.send(p.c.link(p.dir), kind, nil, extraNs)
}

// pushData queues a write, cut into pieces when the link segments it. Pieces are three-index
// sub-slices so a receiver appending to one cannot overwrite the next.
func (p *pipe) pushData(b []byte) {
	n := p.c.n
	cfg := p.c.link(p.dir)
	if cfg.SendBufferBytes > 0 && p.queuedBytes+len(b) > cfg.SendBufferBytes {
		n.stats.OverBufferWrites++
		n.k.Trace().Record(n.k.Now(), p.c.hostName(sender(p.dir)), evOverBuf, int64(p.c.id), int64(p.queuedBytes+len(b)))
	}
	if cfg.Unreliable {
		p.pushDatagram(cfg, b[:len(b):len(b)])
		return
	}
	rng := n.k.Rand()
	if cfg.SegmentProb == 0 || cfg.SegmentMax < 2 || len(b) < 2 || rng.Float64() >= cfg.SegmentProb {
		p.send(cfg, segData, b[:len(b):len(b)], 0)
		return
	}
	pieces := 2 + rng.IntN(min(cfg.SegmentMax, len(b))-1)
	cuts := n.cuts[:0]
	for range pieces - 1 {
		cuts = append(cuts, 1+rng.IntN(len(b)-1))
	}
	slices.Sort(cuts)
	from := 0
	for _, at := range cuts {
		if at == from {
			continue // two equal cuts: one piece fewer
		}
		p.send(cfg, segData, b[from:at:at], 0)
		from = at
	}
	p.send(cfg, segData, b[from:len(b):len(b)], 0)
	n.cuts = cuts
}

// send queues a segment sent now over cfg, stamped with its arrival time, extraNs later than
// the link alone would deliver it, and its reading time. Random draws happen in a fixed order
// (delay, then loss), each only when its knob is set. The segment is built in its ring slot:
// this is the hot path, and copying segments through it showed in the benchmark.
func (p *pipe) send(cfg *LinkConfig, kind segKind, b []byte, extraNs int64) {
	s := p.slot()
	s.p, s.kind = b, kind
	p.stamp(s, cfg, extraNs)
	p.commit()
}

// stamp sets the times of a segment sent now, in a slot that is still zero.
func (p *pipe) stamp(s *segment, cfg *LinkConfig, extraNs int64) {
	k := p.k
	sentNs := k.Now()
	if cfg.BandwidthBytesPerSec > 0 {
		sentNs = max(sentNs, p.txFreeNs) + durationNs(len(s.p), cfg.BandwidthBytesPerSec)
		p.txFreeNs = sentNs
	}
	s.atNs = sentNs + cfg.delayNs(k.Rand()) + extraNs
	if cfg.LossProb > 0 && !cfg.Unreliable {
		s.atNs += p.retransmitNs(cfg, sentNs)
	}
	if cfg.RecvBytesPerSec > 0 {
		s.readNs = durationNs(len(s.p), cfg.RecvBytesPerSec)
	}
}

// retransmitNs draws how many times in a row a segment sent at sentNs is lost and returns the
// delay its retransmissions add. The count is geometric, drawn in one step so that a high loss
// probability costs no more than a low one. If retrying would outlast the idle timeout the
// sender gives up then, and the connection resets.
func (p *pipe) retransmitNs(cfg *LinkConfig, sentNs int64) int64 {
	c := p.c
	n := c.n
	rto, idle := cfg.RetransmitNs, n.idleTimeoutNs
	losses := math.Inf(1)
	if cfg.LossProb < 1 {
		u := 1 - n.k.Rand().Float64() // in (0, 1], so the logarithm is finite
		losses = math.Floor(math.Log(u) / math.Log(cfg.LossProb))
	}
	if losses == 0 {
		return 0
	}
	// Each loss adds at least rto, so losses*rto ≥ idle means giving up, and below that the
	// sum cannot overflow. It is summed in integers to stay exact.
	delayNs := idle
	if rto < idle && losses < float64(idle/rto) {
		k := int64(losses)
		doubling := min(k, maxBackoffShift) // the timer doubles for these losses, then stays at its cap
		delayNs = rto*(1<<doubling-1) + (k-doubling)*rto<<maxBackoffShift
	}
	if delayNs >= idle {
		c.abortAt(sentNs + idle)
		return idle
	}
	n.stats.Retransmits += uint64(losses)
	n.k.Trace().Record(n.k.Now(), c.hostName(receiver(p.dir)), evRetx, int64(c.id), delayNs)
	return delayNs
}

// pushDatagram sends one write as a message on an unreliable link. Each copy is timed like a
// write of its own, so a duplicate also takes its share of bandwidth.
func (p *pipe) pushDatagram(cfg *LinkConfig, b []byte) {
	c := p.c
	n := c.n
	rng := n.k.Rand()
	tr := n.k.Trace()
	now := n.k.Now()
	to := c.hostName(receiver(p.dir))
	copies := 1
	if cfg.DupProb > 0 && rng.Float64() < cfg.DupProb {
		copies = 2
		n.stats.DupMessages++
		tr.Record(now, to, evDup, int64(c.id), int64(len(b)))
	}
	for range copies {
		s := segment{p: b, kind: segData}
		p.stamp(&s, cfg, 0)
		switch {
		case cfg.LossProb > 0 && rng.Float64() < cfg.LossProb:
			n.stats.DroppedMessages++
			n.stats.DiscardedBytes += uint64(len(b))
			tr.Record(now, to, evDrop, int64(c.id), int64(len(b)))
		case cfg.ReorderProb > 0 && rng.Float64() < cfg.ReorderProb:
			s.atNs += 1 + rng.Int64N(cfg.ReorderMaxNs)
			n.stats.ReorderedMessages++
			tr.Record(now, to, evReorder, int64(c.id), s.atNs)
			p.queuedBytes += len(b)
			p.detourBytes += len(b)
			n.k.Schedule(s.atNs, &detourEvent{p: p, s: s, epoch: p.epoch})
		default:
			*p.slot() = s
			p.commit()
		}
	}
}

// detourEvent carries a reordered datagram until it joins the back of its pipe's queue,
// behind messages sent after it. It is allocated per reordered message: only links configured
// to reorder pay for it.
type detourEvent struct {
	p     *pipe
	s     segment
	epoch uint32
}

func (d *detourEvent) Fire() {
	p := d.p
	if d.epoch != p.epoch {
		return // discarded, and counted, by a clear since
	}
	p.queuedBytes -= len(d.s.p)
	p.detourBytes -= len(d.s.p)
	*p.slot() = d.s
	p.commit()
}

// slot returns the free slot at the back of the ring; commit then queues what was written
// there.
func (p *pipe) slot() *segment {
	if p.size == len(p.ring) {
		p.grow()
	}
	return &p.ring[(p.head+p.size)&(len(p.ring)-1)]
}

func (p *pipe) commit() {
	s := &p.ring[(p.head+p.size)&(len(p.ring)-1)]
	p.queuedBytes += len(s.p)
	p.size++
	if !p.armed {
		p.armed = true
		p.k.Schedule(s.atNs, p)
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

// clear discards everything queued, reordered datagrams included. An armed event stays queued
// in the kernel; when it fires it finds the pipe empty, or finds a later segment and re-arms
// for it.
func (p *pipe) clear() {
	st := &p.c.n.stats
	for p.size > 0 {
		s := &p.ring[p.head]
		st.DiscardedBytes += uint64(len(s.p))
		p.queuedBytes -= len(s.p)
		*s = segment{}
		p.head = (p.head + 1) & (len(p.ring) - 1)
		p.size--
	}
	st.DiscardedBytes += uint64(p.detourBytes)
	p.queuedBytes -= p.detourBytes
	p.detourBytes = 0
	p.epoch++
}

// kick arms a parked pipe, once whatever parked it may have ended.
func (p *pipe) kick() {
	if p.armed || p.size == 0 {
		return
	}
	p.armed = true
	k := p.k
	k.Schedule(max(p.ring[p.head].atNs, k.Now()), p)
}

// Fire delivers the head if it is due and the direction is not held, then re-arms for the
// next. One segment per event keeps other events at the same instant interleaved fairly.
func (p *pipe) Fire() {
	k := p.k
	now := k.Now()
	if p.size == 0 || p.c.client.partUntilNs[p.dir] > now {
		p.armed = false
		return
	}
	slot := &p.ring[p.head]
	// The head is not due when the direction is held, or when this event was armed for a
	// segment since discarded.
	if due := max(slot.atNs, p.stallUntilNs, p.recvFreeNs); due > now {
		k.Schedule(due, p)
		return
	}
	seg := *slot
	*slot = segment{}
	p.head = (p.head + 1) & (len(p.ring) - 1)
	p.size--
	p.queuedBytes -= len(seg.p)
	p.recvFreeNs = now + seg.readNs
	p.c.deliver(p.dir, seg)
	if p.size == 0 {
		p.armed = false
		return
	}
	k.Schedule(max(p.ring[p.head].atNs, k.Now()), p)
}
