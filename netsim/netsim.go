// Package netsim is the simulated network that hosts reference nodes on a sim.Kernel: one
// server host, any number of client hosts, TCP-like connections between them, and the link
// faults a scenario injects (latency, jitter, segmentation, stall, reset).
//
// Each connection has two directions. Each direction is a FIFO pipe of segments (data, and the
// control markers accept, connect, refuse, fin) with at most one kernel event outstanding: the
// one for its head. Keeping a direction's traffic in one queue is what makes the byte-stream
// guarantees hold by construction: nothing on a direction can overtake anything before it, a
// stall only has to hold the head, and a reset discards the in-flight bytes by clearing two
// queues. The pipe is also the place for later per-direction faults (bandwidth, blackhole,
// loss, slow receiver).
//
// Like sim, the package is deterministic: all randomness comes from the kernel's source,
// nothing iterates a map, and nothing reads the wall clock.
package netsim

import (
	"fmt"

	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/sim"
)

// Direction is one way along a connection.
type Direction uint8

// The two directions; they index per-direction settings.
const (
	ClientToServer Direction = iota
	ServerToClient
)

// LinkConfig describes one direction of one channel. A write's delivery time is
// max(now + LatencyNs + uniform[0, JitterNs], the previous delivery time on that direction), so
// jitter varies delay but never reorders a stream. With probability SegmentProb a write of n
// bytes is cut at random points into at most min(SegmentMax, n) pieces, each timed like a
// write of its own.
type LinkConfig struct {
	LatencyNs   int64
	JitterNs    int64
	SegmentProb float64
	SegmentMax  int
}

func (c LinkConfig) validate() {
	if c.LatencyNs < 0 || c.JitterNs < 0 || c.SegmentMax < 0 || !(c.SegmentProb >= 0 && c.SegmentProb <= 1) {
		panic(fmt.Sprintf("netsim: invalid LinkConfig %+v", c))
	}
}

// Stats counts traffic, per channel where indexed by reference.Channel.
type Stats struct {
	Writes         [2]uint64 // Send calls that entered the network
	Deliveries     [2]uint64 // Received calls (a segmented write counts once per piece)
	Bytes          [2]uint64 // bytes handed to Received
	DiscardedBytes uint64    // bytes lost to resets or to a receiver that had closed
	Ignored        uint64    // Env calls on unknown, foreign or closed connections
}

// Trace vocabulary. Records name the host that receives the event; a is the connection (or
// timer) id, b a byte count or a time.
const (
	evDial    = "dial"
	evAccept  = "accept"
	evConnect = "connect"
	evRecv    = "recv"
	evClose   = "close"
	evReset   = "reset"
	evRefused = "refused"
	evTimer   = "timer"
	faultRst  = "f-reset"
	faultStl  = "f-stall"
)

// Network is one simulated network. Build it, add hosts, attach nodes, then drive the kernel.
type Network struct {
	k      *sim.Kernel
	server *Host
	hosts  map[string]*Host // lookup by name only; never iterated
	links  [2][2]LinkConfig // defaults by channel, direction
	// conns is indexed by ConnID. IDs are handed out in order and never reused; an entry is
	// nil once both ends have closed.
	conns      []*conn
	freeTimers *timerEvent
	cuts       []int // scratch for segmentation, reused so splitting allocates nothing
	stats      Stats
}

// New returns an empty network on k.
func New(k *sim.Kernel) *Network {
	return &Network{
		k:     k,
		hosts: make(map[string]*Host),
		conns: []*conn{nil}, // ConnID 0 is never valid, so a zero id is caught as unknown
	}
}

// AddServer adds the server host. There is exactly one per network.
func (n *Network) AddServer(name string) *Host {
	if n.server != nil {
		panic(fmt.Sprintf("netsim: second server %q (already have %q)", name, n.server.name))
	}
	n.server = n.addHost(name, true)
	return n.server
}

// AddClient adds a client host.
func (n *Network) AddClient(name string) *Host { return n.addHost(name, false) }

func (n *Network) addHost(name string, server bool) *Host {
	if name == "" {
		panic("netsim: empty host name")
	}
	if _, dup := n.hosts[name]; dup {
		panic(fmt.Sprintf("netsim: duplicate host name %q", name))
	}
	h := &Host{n: n, name: name, server: server}
	n.hosts[name] = h
	return h
}

// SetLink sets the default link for one direction of one channel.
func (n *Network) SetLink(ch reference.Channel, dir Direction, cfg LinkConfig) {
	cfg.validate()
	n.links[ch][dir] = cfg
}

// SetClientLink overrides the link for one client's connections on ch in direction dir. Like
// SetLink it applies to writes made from then on, including on connections already open.
func (n *Network) SetClientLink(client string, ch reference.Channel, dir Direction, cfg LinkConfig) {
	cfg.validate()
	h := n.client(client)
	h.links[ch][dir] = cfg
	h.hasLink[ch][dir] = true
}

// Stats returns the traffic counters so far.
func (n *Network) Stats() Stats { return n.stats }

// Reset resets client's current connection on ch, as a middlebox RST would. In-flight bytes in
// both directions are discarded at once. The client end gets Closed(c, ErrReset) at the
// current time (as a kernel event, after the caller returns); the server end, if it has
// accepted, gets it one client→server link delay later (latency plus jitter, ignoring stalls),
// and its writes in between are discarded. Reset reports whether there was a connection to
// reset.
func (n *Network) Reset(client string, ch reference.Channel) bool {
	h := n.client(client)
	c := h.current[ch]
	if c == nil || c.reset {
		return false
	}
	now := n.k.Now()
	n.k.Trace().Record(now, h.name, faultRst, int64(c.id), 0)
	c.reset = true
	c.pipes[ClientToServer].clear()
	c.pipes[ServerToClient].clear()
	if c.state[sideClient] == endOpen {
		n.k.Schedule(now, &c.rst[sideClient])
	}
	switch c.state[sideServer] {
	case endOpen:
		n.k.Schedule(c.arrivalNs(c.link(ClientToServer)), &c.rst[sideServer])
	case endPending:
		// The accept was in flight and is gone: the server never learns of this connection.
		c.state[sideServer] = endClosed
	}
	c.releaseIfDone()
	return true
}

// Stall holds everything on direction dir of client's current connection on ch until untilNs:
// nothing is delivered before then, nothing is lost, and order is kept. A stall can be
// extended but not shortened. Stall reports whether there was a connection to stall.
func (n *Network) Stall(client string, ch reference.Channel, dir Direction, untilNs int64) bool {
	h := n.client(client)
	c := h.current[ch]
	if c == nil || c.reset {
		return false
	}
	n.k.Trace().Record(n.k.Now(), h.name, faultStl, int64(c.id), untilNs)
	p := &c.pipes[dir]
	p.stallUntilNs = max(p.stallUntilNs, untilNs)
	return true
}

// client returns the named client host. Fault plans name hosts they created, so an unknown
// name is a bug in the plan, not a run-time condition.
func (n *Network) client(name string) *Host {
	h := n.hosts[name]
	if h == nil || h.server {
		panic(fmt.Sprintf("netsim: no client host %q", name))
	}
	return h
}

// Host is one machine on the network. It implements reference.Env for the node attached to
// it.
type Host struct {
	n      *Network
	name   string
	server bool
	node   reference.Node
	// current is the latest connection dialed per channel and not yet released: the target of
	// Reset and Stall.
	current [2]*conn
	links   [2][2]LinkConfig // per-client overrides, by channel, direction
	hasLink [2][2]bool
}

var _ reference.Env = (*Host)(nil)

// Name returns the host's name, as it appears in the trace.
func (h *Host) Name() string { return h.name }

// Attach installs the node this host runs. It is separate from creating the host because a
// node needs its Env to be constructed.
func (h *Host) Attach(node reference.Node) {
	if h.node != nil {
		panic(fmt.Sprintf("netsim: host %q already has a node", h.name))
	}
	if node == nil {
		panic(fmt.Sprintf("netsim: attaching nil node to %q", h.name))
	}
	h.node = node
}

// Now returns the virtual time.
func (h *Host) Now() int64 { return h.n.k.Now() }

// Dial connects to the server's endpoint for ch. The node gets Connected(c) once the
// handshake has crossed the link both ways, or Closed(c, ErrRefused) if, when the dial reaches
// the server host, there is none or it has no node. Bytes sent before Connected are queued
// behind the handshake.
func (h *Host) Dial(ch reference.Channel) reference.ConnID {
	if h.server {
		panic(fmt.Sprintf("netsim: server host %q dialed: only clients dial in stream+", h.name))
	}
	if ch != reference.ChanOnline && ch != reference.ChanRequest {
		panic(fmt.Sprintf("netsim: host %q dialed unknown channel %d", h.name, ch))
	}
	if h.node == nil {
		panic(fmt.Sprintf("netsim: host %q dialed before Attach", h.name))
	}
	n := h.n
	c := &conn{n: n, id: reference.ConnID(len(n.conns)), ch: ch, client: h}
	c.state[sideClient] = endOpen
	c.state[sideServer] = endPending
	c.pipes = [2]pipe{{c: c, dir: ClientToServer}, {c: c, dir: ServerToClient}}
	c.rst = [2]rstEvent{{c: c, side: sideClient}, {c: c, side: sideServer}}
	n.conns = append(n.conns, c)
	h.current[ch] = c
	n.k.Trace().Record(n.k.Now(), h.name, evDial, int64(c.id), int64(ch))
	c.pipes[ClientToServer].pushMarker(segAccept)
	return c.id
}

// Send queues p on connection id. The network owns p from here on and never copies or
// modifies it; pieces of a segmented write are sub-slices of it. An empty p is a no-op. Sends
// on a connection this host does not hold open are counted as Ignored.
func (h *Host) Send(id reference.ConnID, p []byte) {
	c, side := h.lookup(id)
	if c == nil {
		return
	}
	if len(p) == 0 {
		return
	}
	n := h.n
	dir := outgoing(side)
	if c.reset || c.state[receiver(dir)] == endClosed {
		n.stats.DiscardedBytes += uint64(len(p))
		return
	}
	n.stats.Writes[c.ch]++
	c.pipes[dir].pushData(p)
}

// Close closes connection id gracefully: the peer receives every byte already sent, then
// Closed(id, nil). Bytes in flight towards this end are discarded, and this end gets no more
// events for id.
func (h *Host) Close(id reference.ConnID) {
	c, side := h.lookup(id)
	if c == nil {
		return
	}
	c.state[side] = endClosed
	c.pipes[incoming(side)].clear()
	dir := outgoing(side)
	if !c.reset && c.state[receiver(dir)] != endClosed {
		c.pipes[dir].pushMarker(segFin)
	}
	c.releaseIfDone()
}

// SetTimer schedules Timer(id) on this host's node after dNs nanoseconds. A negative delay is
// treated as zero.
func (h *Host) SetTimer(dNs int64, id uint64) {
	n := h.n
	t := n.freeTimers
	if t == nil {
		t = &timerEvent{}
	} else {
		n.freeTimers = t.next
		t.next = nil
	}
	t.h, t.id = h, id
	n.k.After(max(dNs, 0), t)
}

// Pending is the number of bytes written on id by this host and not yet delivered.
func (h *Host) Pending(id reference.ConnID) int {
	c, s := h.find(id)
	if c == nil {
		return 0
	}
	return c.pipes[outgoing(s)].queuedBytes
}

// lookup returns the connection id names and which end of it this host holds, or nil (and
// counts the call as ignored) if the host holds no open end with that id.
func (h *Host) lookup(id reference.ConnID) (*conn, side) {
	c, s := h.find(id)
	if c == nil {
		h.n.stats.Ignored++
	}
	return c, s
}

// find is lookup without the counting, for queries that are not misuse when they miss.
func (h *Host) find(id reference.ConnID) (*conn, side) {
	n := h.n
	if id == 0 || uint64(id) >= uint64(len(n.conns)) || n.conns[id] == nil {
		return nil, 0
	}
	c := n.conns[id]
	s := sideServer
	if c.client == h {
		s = sideClient
	} else if !h.server {
		return nil, 0
	}
	if c.state[s] != endOpen {
		return nil, 0
	}
	return c, s
}

// timerEvent is a pooled timer; the pool is the network's free list, so steady-state timers
// allocate nothing and reuse order is deterministic.
type timerEvent struct {
	h    *Host
	id   uint64
	next *timerEvent
}

func (t *timerEvent) Fire() {
	h, id := t.h, t.id
	n := h.n
	t.h = nil
	t.next = n.freeTimers
	n.freeTimers = t
	n.k.Trace().Record(n.k.Now(), h.name, evTimer, int64(id), 0)
	h.node.Timer(id)
}
