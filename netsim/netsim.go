// Package netsim is the simulated network that hosts reference nodes on a sim.Kernel: one
// server host, any number of client hosts, TCP-like connections between them, and the faults a
// scenario injects: link properties set per channel and direction (latency, jitter, bandwidth,
// segmentation, loss, slow receiver, and datagram loss, duplication and reordering on links
// declared unreliable), faults applied at planned times (stall, blackhole, reset, slow close,
// partition), and process faults (crash, restart). Faults lists them all.
//
// Each connection has two directions. Each direction is a FIFO pipe of segments (data, and the
// control markers accept, connect, refuse, fin) with at most one kernel event outstanding: the
// one for its head. Keeping a direction's traffic in one queue is what makes the byte-stream
// guarantees hold by construction: nothing on a direction can overtake anything before it, a
// stall only has to hold the head, a retransmitted segment blocks everything behind it, and a
// reset discards the in-flight bytes by clearing two queues. The one deliberate exception is a
// reordered datagram on an unreliable link, which leaves the queue and rejoins it later.
//
// Like sim, the package is deterministic: all randomness comes from the kernel's source,
// nothing iterates a map, and nothing reads the wall clock. A link whose fault knobs are zero
// draws exactly the random numbers it drew before those knobs existed.
package netsim

import (
	"fmt"
	"math/rand/v2"

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

// LatencyDist is the shape of a link's delay.
type LatencyDist uint8

const (
	// LatencyUniform: LatencyNs plus a uniform draw from [0, JitterNs]. It is the zero value
	// so that a config naming no distribution keeps the original behaviour.
	LatencyUniform LatencyDist = iota
	// LatencyFixed: exactly LatencyNs; JitterNs must be 0.
	LatencyFixed
	// LatencyExponential: LatencyNs plus an exponential draw with mean JitterNs, i.e. a floor
	// of propagation delay plus queueing delay with a long tail.
	LatencyExponential
)

var latencyDistNames = [...]string{"uniform", "fixed", "exponential"}

func (d LatencyDist) String() string {
	if int(d) < len(latencyDistNames) {
		return latencyDistNames[d]
	}
	return fmt.Sprintf("LatencyDist(%d)", d)
}

// ParseLatencyDist maps "uniform", "fixed" or "exponential" to its LatencyDist.
func ParseLatencyDist(s string) (LatencyDist, error) {
	for i, name := range latencyDistNames {
		if s == name {
			return LatencyDist(i), nil
		}
	}
	return 0, fmt.Errorf("netsim: unknown latency distribution %q (want uniform, fixed or exponential)", s)
}

// LinkConfig describes one direction of one channel. Settings apply to writes made after they
// are set, including on connections already open.
//
// Timing. A direction transmits its writes one after another: with BandwidthBytesPerSec set, a
// write of n bytes occupies the sender for n/BandwidthBytesPerSec after the previous one ends;
// otherwise it leaves at once. It then takes a delay drawn from LatencyDist, plus, when lost
// (LossProb on a reliable link), the retransmissions that repair it: the first after
// RetransmitNs, each next one after twice the previous, up to 64×RetransmitNs. A write is
// delivered at max(that arrival time, the previous delivery on the direction, the time the
// receiver finished reading the previous write at RecvBytesPerSec), so jitter and loss vary
// delays but never reorder a stream, and a lost segment holds up everything behind it (head of
// line blocking). A reliable link never loses bytes: a segment whose retransmissions have gone
// on for the network's idle timeout makes the sender give up, and the connection resets, as
// TCP's does.
//
// Segmentation. With probability SegmentProb a write of n bytes is cut at random points into
// at most min(SegmentMax, n) pieces, each timed (and lost) like a write of its own.
//
// Send buffer. Bytes count in the sender's Pending from Send until delivered. Env.Send never
// blocks, so a write that takes Pending beyond SendBufferBytes is still queued; it is counted
// in Stats.OverBufferWrites and traced. A server watching Pending sees the subscriber fall
// behind and can drop it, which is what the knob exists to provoke.
//
// Unreliable links carry datagrams: each Send is one message, never segmented, and each copy
// of it (a second copy with DupProb) is dropped whole with LossProb or, with ReorderProb,
// held back up to ReorderMaxNs more so that later messages overtake it. Connection set-up and
// close are not subject to these knobs. DupProb and ReorderProb are refused on links not declared Unreliable,
// so no byte stream is ever duplicated or reordered.
type LinkConfig struct {
	LatencyDist          LatencyDist
	LatencyNs            int64
	JitterNs             int64
	BandwidthBytesPerSec int64
	SegmentProb          float64
	SegmentMax           int
	LossProb             float64
	RetransmitNs         int64
	RecvBytesPerSec      int64
	SendBufferBytes      int
	Unreliable           bool
	DupProb              float64
	ReorderProb          float64
	ReorderMaxNs         int64
}

// Validate reports what makes c unusable, or nil.
func (c LinkConfig) Validate() error {
	prob := func(p float64) bool { return p >= 0 && p <= 1 }
	var why string
	switch {
	case c.LatencyNs < 0 || c.JitterNs < 0 || c.BandwidthBytesPerSec < 0 || c.SegmentMax < 0 ||
		c.RetransmitNs < 0 || c.RecvBytesPerSec < 0 || c.SendBufferBytes < 0 || c.ReorderMaxNs < 0:
		why = "negative size, rate or time"
	case !prob(c.SegmentProb) || !prob(c.LossProb) || !prob(c.DupProb) || !prob(c.ReorderProb):
		why = "probability outside [0, 1]"
	case c.LatencyDist > LatencyExponential:
		why = "unknown latency distribution"
	case c.LatencyDist == LatencyFixed && c.JitterNs != 0:
		why = "fixed latency has no jitter"
	case !c.Unreliable && c.LossProb > 0 && c.RetransmitNs == 0:
		why = "loss on a reliable link needs RetransmitNs"
	case !c.Unreliable && (c.DupProb > 0 || c.ReorderProb > 0):
		why = "duplication and reordering need a link declared Unreliable"
	case c.Unreliable && c.SegmentProb > 0:
		why = "datagrams are never segmented"
	case c.ReorderProb > 0 && c.ReorderMaxNs == 0:
		why = "reordering needs ReorderMaxNs"
	default:
		return nil
	}
	return fmt.Errorf("invalid link: %s", why)
}

// validate panics on a bad configuration: a caller of SetLink passing one has a bug.
func (c LinkConfig) validate() {
	if err := c.Validate(); err != nil {
		panic(fmt.Sprintf("netsim: %+v: %v", c, err))
	}
}

// delayNs draws the propagation delay of one segment. It draws nothing when JitterNs is 0.
func (c *LinkConfig) delayNs(rng *rand.Rand) int64 {
	switch {
	case c.JitterNs == 0:
		return c.LatencyNs
	case c.LatencyDist == LatencyExponential:
		return c.LatencyNs + int64(rng.ExpFloat64()*float64(c.JitterNs))
	default:
		return c.LatencyNs + rng.Int64N(c.JitterNs+1)
	}
}

// durationNs is how long n bytes take at rate bytes per second, rounded up so that a non-empty
// write always takes time.
func durationNs(n int, bytesPerSec int64) int64 {
	return (int64(n)*1e9 + bytesPerSec - 1) / bytesPerSec
}

// DefaultIdleTimeoutNs is how long a connection survives with nothing getting through before
// it resets, unless SetIdleTimeout changes it: 2 s of virtual time, much shorter than real TCP's
// minutes so that scenarios reach the reset.
const DefaultIdleTimeoutNs = 2_000_000_000

// Stats counts traffic, per channel where indexed by reference.Channel.
type Stats struct {
	Writes     [2]uint64 // Send calls that entered the network
	Deliveries [2]uint64 // Received calls (a segmented write counts once per piece)
	Bytes      [2]uint64 // bytes handed to Received
	// DiscardedBytes are bytes lost to resets, crashes, a receiver that had closed, or datagram
	// loss.
	DiscardedBytes    uint64
	Ignored           uint64 // Env calls on unknown, foreign or closed connections, or from a crashed host
	Retransmits       uint64 // losses on reliable links, each repaired by a retransmission
	DroppedMessages   uint64 // datagrams lost on unreliable links
	DupMessages       uint64 // datagrams sent twice on unreliable links
	ReorderedMessages uint64 // datagrams held back so that later ones overtake them
	OverBufferWrites  uint64 // writes queued while the sender's Pending exceeded SendBufferBytes
	Timeouts          uint64 // connections reset by the idle timeout
}

// Trace vocabulary. Records name the host that receives the event (for faults, the client whose
// connection is hit, or the host that crashes); a is the connection (or timer) id, b a byte
// count or a time.
const (
	evDial     = "dial"
	evAccept   = "accept"
	evConnect  = "connect"
	evRecv     = "recv"
	evClose    = "close"
	evReset    = "reset"
	evRefused  = "refused"
	evTimer    = "timer"
	evTimeout  = "timeout" // the idle timeout reset a connection
	evRetx     = "retx"    // b: the delay retransmissions added to a segment
	evDrop     = "drop"    // b: the datagram's length
	evDup      = "dup"     // b: the datagram's length
	evReorder  = "reorder" // b: the time the datagram rejoins its queue
	evOverBuf  = "overbuf" // names the sender; b: its Pending after the write
	evCrash    = "crash"   // a: the number of connections lost
	evRestart  = "restart"
	faultRst   = "f-reset"
	faultStl   = "f-stall"
	faultBlk   = "f-black"
	faultSlow  = "f-slowcl" // b: the extra delay of the FIN
	faultPart  = "f-part"   // a: the direction held; b: until when
	faultHeal  = "f-heal"
	networkWho = "net" // the trace name for records about the whole network
)

// Network is one simulated network. Build it, add hosts, attach nodes, then drive the kernel.
type Network struct {
	k       *sim.Kernel
	server  *Host
	hosts   map[string]*Host // lookup by name only; never iterated
	clients []*Host          // in the order added, for faults that visit every client
	links   [2][2]LinkConfig // defaults by channel, direction
	// conns is indexed by ConnID. IDs are handed out in order and never reused; an entry is
	// nil once both ends have closed.
	conns         []*conn
	idleTimeoutNs int64
	freeTimers    *timerEvent
	cuts          []int // scratch for segmentation, reused so splitting allocates nothing
	stats         Stats
}

// New returns an empty network on k.
func New(k *sim.Kernel) *Network {
	return &Network{
		k:             k,
		hosts:         make(map[string]*Host),
		conns:         []*conn{nil}, // ConnID 0 is never valid, so a zero id is caught as unknown
		idleTimeoutNs: DefaultIdleTimeoutNs,
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
func (n *Network) AddClient(name string) *Host {
	h := n.addHost(name, false)
	n.clients = append(n.clients, h)
	return h
}

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

// SetIdleTimeout sets how long traffic may be held by a blackhole or a partition, or a segment
// retransmitted, before the connection resets on both ends (DefaultIdleTimeoutNs until set).
// It plays TCP's retransmission and keepalive timeouts, and the connect timeout of a dial
// that cannot get through.
func (n *Network) SetIdleTimeout(timeoutNs int64) {
	if timeoutNs <= 0 {
		panic(fmt.Sprintf("netsim: idle timeout %d ns: it must be positive", timeoutNs))
	}
	n.idleTimeoutNs = timeoutNs
}

// Stats returns the traffic counters so far.
func (n *Network) Stats() Stats { return n.stats }

// client returns the named client host. Fault plans name hosts they created, so an unknown
// name is a bug in the plan, not a run-time condition.
func (n *Network) client(name string) *Host {
	h := n.hosts[name]
	if h == nil || h.server {
		panic(fmt.Sprintf("netsim: no client host %q", name))
	}
	return h
}

// host is client for faults that may also name the server.
func (n *Network) host(name string) *Host {
	h := n.hosts[name]
	if h == nil {
		panic(fmt.Sprintf("netsim: no host %q", name))
	}
	return h
}

// Host is one machine on the network. It implements reference.Env for the node attached to
// it.
type Host struct {
	n      *Network
	name   string
	server bool
	node   reference.Node // nil before Attach and while crashed
	// current is the latest connection dialed per channel and not yet released: the target of
	// the connection faults.
	current [2]*conn
	links   [2][2]LinkConfig // per-client overrides, by channel, direction
	hasLink [2][2]bool
	// A partition holds direction d of this client's connections while partUntilNs[d] is in
	// the future; partSinceNs[d] is when that continuous hold began, which is what the idle
	// timeout counts from. Both are zero when healed.
	partUntilNs [2]int64
	partSinceNs [2]int64
	crashed     bool
	life        uint32 // incremented by each crash, so timers of an earlier life can be told apart
}

var _ reference.Env = (*Host)(nil)

// Name returns the host's name, as it appears in the trace.
func (h *Host) Name() string { return h.name }

// Attach installs the node this host runs. It is separate from creating the host because a
// node needs its Env to be constructed. A crashed host takes its new node through Restart.
func (h *Host) Attach(node reference.Node) {
	if h.node != nil || h.crashed {
		panic(fmt.Sprintf("netsim: host %q already has a node (a crashed host is given one by Restart)", h.name))
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
// the server host, there is none or it has no node (never attached, or crashed), or if the
// handshake cannot get through within the idle timeout. Bytes sent before Connected are
// queued behind the handshake. A crashed host's Dial is ignored and returns the invalid id 0.
func (h *Host) Dial(ch reference.Channel) reference.ConnID {
	if h.server {
		panic(fmt.Sprintf("netsim: server host %q dialed: only clients dial in stream+", h.name))
	}
	if ch != reference.ChanOnline && ch != reference.ChanRequest {
		panic(fmt.Sprintf("netsim: host %q dialed unknown channel %d", h.name, ch))
	}
	n := h.n
	if h.crashed {
		n.stats.Ignored++
		return 0
	}
	if h.node == nil {
		panic(fmt.Sprintf("netsim: host %q dialed before Attach", h.name))
	}
	c := &conn{n: n, id: reference.ConnID(len(n.conns)), ch: ch, client: h, bornNs: n.k.Now()}
	c.state[sideClient] = endOpen
	c.state[sideServer] = endPending
	c.pipes = [2]pipe{{c: c, k: n.k, dir: ClientToServer}, {c: c, k: n.k, dir: ServerToClient}}
	c.rst = [2]rstEvent{{c: c, side: sideClient}, {c: c, side: sideServer}}
	c.watch.c = c
	n.conns = append(n.conns, c)
	h.current[ch] = c
	n.k.Trace().Record(n.k.Now(), h.name, evDial, int64(c.id), int64(ch))
	c.pipes[ClientToServer].pushMarker(segAccept, 0)
	if at := c.partitionDeadlineNs(); at != 0 {
		c.armWatch(at)
	}
	return c.id
}

// Send queues p on connection id. The network owns p from here on and never copies or
// modifies it; pieces of a segmented write are sub-slices of it, and a duplicated datagram is
// delivered twice as the same slice. An empty p is a no-op. Sends on a connection this host
// does not hold open are counted as Ignored.
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
// Closed(id, nil), later by the delay SlowClose set on the connection, if any. Bytes in flight
// towards this end are discarded, and this end gets no more events for id.
func (h *Host) Close(id reference.ConnID) {
	c, side := h.lookup(id)
	if c == nil {
		return
	}
	c.state[side] = endClosed
	c.pipes[incoming(side)].clear()
	dir := outgoing(side)
	if !c.reset && c.state[receiver(dir)] != endClosed {
		c.pipes[dir].pushMarker(segFin, c.finDelayNs)
	}
	c.releaseIfDone()
}

// SetTimer schedules Timer(id) on this host's node after dNs nanoseconds. A negative delay is
// treated as zero. A crash cancels the host's timers, and a crashed host cannot set any.
func (h *Host) SetTimer(dNs int64, id uint64) {
	n := h.n
	if h.crashed {
		n.stats.Ignored++
		return
	}
	t := n.freeTimers
	if t == nil {
		t = &timerEvent{}
	} else {
		n.freeTimers = t.next
		t.next = nil
	}
	t.h, t.id, t.life = h, id, h.life
	n.k.After(max(dNs, 0), t)
}

// Pending is the number of bytes written on id by this host and not yet delivered, including
// bytes waiting for bandwidth, for a slow receiver, behind a stall, partition or
// retransmission, and beyond SendBufferBytes.
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
	life uint32
	next *timerEvent
}

func (t *timerEvent) Fire() {
	h, id, life := t.h, t.id, t.life
	n := h.n
	t.h = nil
	t.next = n.freeTimers
	n.freeTimers = t
	if life != h.life {
		return // set by a life of the host that has since crashed
	}
	n.k.Trace().Record(n.k.Now(), h.name, evTimer, int64(id), 0)
	h.node.Timer(id)
}
