package netsim

import (
	"fmt"
	"slices"

	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/sim"
)

// The methods here are the faults a scenario applies at planned times. Each records itself in
// the kernel trace when applied; what it then does to traffic shows in the trace as usual
// (deliveries, resets, timeouts). Connection faults hit the named client's current connection
// on a channel (the latest it dialed that is not released yet) and report whether there was
// one to hit.

// Reset resets client's current connection on ch, as a middlebox RST would. In-flight bytes in
// both directions are discarded at once. The client end gets Closed(c, ErrReset) at the
// current time (as a kernel event, after the caller returns), or ErrRefused if it was still
// dialing; the server end, if it has accepted, gets ErrReset one client→server link delay
// later (ignoring holds), and its writes in between are discarded.
func (n *Network) Reset(client string, ch reference.Channel) bool {
	h, c := n.target(client, ch)
	if c == nil {
		return false
	}
	now := n.k.Now()
	n.k.Trace().Record(now, h.name, faultRst, int64(c.id), 0)
	srvNs := now
	if c.state[sideServer] == endOpen {
		srvNs += c.link(ClientToServer).delayNs(n.k.Rand())
	}
	c.kill(now, srvNs)
	return true
}

// Stall holds everything on direction dir of client's current connection on ch until untilNs:
// nothing is delivered before then, nothing is lost, and order is kept, however long it lasts.
// A stall can be extended but not shortened.
func (n *Network) Stall(client string, ch reference.Channel, dir Direction, untilNs int64) bool {
	h, c := n.target(client, ch)
	if c == nil {
		return false
	}
	n.k.Trace().Record(n.k.Now(), h.name, faultStl, int64(c.id), untilNs)
	p := &c.pipes[dir]
	p.stallUntilNs = max(p.stallUntilNs, untilNs)
	return true
}

// Blackhole is Stall as TCP lives it when a path silently eats packets: if the direction stays
// held for the idle timeout, counted from the start of the blackhole (which later blackholes
// extend rather than restart), the connection resets on both ends then, both seeing
// ErrReset at the same instant. A connection idle in that direction resets too: keepalive
// probes, or their replies, would be lost. A shorter blackhole just delays traffic.
func (n *Network) Blackhole(client string, ch reference.Channel, dir Direction, untilNs int64) bool {
	h, c := n.target(client, ch)
	if c == nil {
		return false
	}
	now := n.k.Now()
	n.k.Trace().Record(now, h.name, faultBlk, int64(c.id), untilNs)
	p := &c.pipes[dir]
	if p.blackUntilNs <= now {
		p.blackSinceNs = now
	}
	p.blackUntilNs = max(p.blackUntilNs, untilNs)
	p.stallUntilNs = max(p.stallUntilNs, untilNs)
	if p.blackUntilNs-p.blackSinceNs >= n.idleTimeoutNs {
		c.abortAt(p.blackSinceNs + n.idleTimeoutNs)
	}
	return true
}

// SlowClose makes the graceful close of client's current connection on ch, by either end,
// reach the peer delayNs later than the link alone would deliver it (a connection carries one
// FIN: the end that receives it is closed, so it sends none back). Data sent before the
// close is not delayed; the closing end still gets no more events.
func (n *Network) SlowClose(client string, ch reference.Channel, delayNs int64) bool {
	if delayNs < 0 {
		panic(fmt.Sprintf("netsim: SlowClose delay %d ns is negative", delayNs))
	}
	h, c := n.target(client, ch)
	if c == nil {
		return false
	}
	n.k.Trace().Record(n.k.Now(), h.name, faultSlow, int64(c.id), delayNs)
	c.finDelayNs = delayNs
	return true
}

// Partition stops everything sent by a host in from from reaching a host in to until untilNs
// (or Heal), one way: traffic the other way flows. Held traffic is delivered, in order, when
// the partition ends. A connection held in either direction for the idle timeout resets on
// both ends then; a dial that cannot complete across it fails with ErrRefused after the idle
// timeout (its connect timeout). Host names include the server's; pairs of clients have no
// connections between them and are ignored. Overlapping partitions of a direction merge.
func (n *Network) Partition(from, to []string, untilNs int64) {
	now := n.k.Now()
	for _, a := range from {
		ha := n.host(a)
		for _, b := range to {
			hb := n.host(b)
			var h *Host
			var dir Direction
			switch {
			case !ha.server && hb.server:
				h, dir = ha, ClientToServer
			case ha.server && !hb.server:
				h, dir = hb, ServerToClient
			default:
				continue
			}
			n.k.Trace().Record(now, h.name, faultPart, int64(dir), untilNs)
			if h.partUntilNs[dir] <= now {
				h.partSinceNs[dir] = now
			}
			h.partUntilNs[dir] = max(h.partUntilNs[dir], untilNs)
		}
	}
	for _, c := range n.conns[1:] {
		if c == nil {
			continue
		}
		if at := c.partitionDeadlineNs(); at != 0 {
			c.armWatch(at)
		}
	}
	if untilNs > now {
		n.k.Schedule(untilNs, sim.Func(n.kickAll))
	}
}

// Heal ends every partition now. Stalls and blackholes are not partitions and stay.
func (n *Network) Heal() {
	n.k.Trace().Record(n.k.Now(), networkWho, faultHeal, 0, 0)
	for _, h := range n.clients {
		h.partUntilNs = [2]int64{}
		h.partSinceNs = [2]int64{}
	}
	n.kickAll()
}

// kickAll re-arms every parked pipe, for when a partition may have ended.
func (n *Network) kickAll() {
	for _, c := range n.conns[1:] {
		if c != nil {
			c.pipes[ClientToServer].kick()
			c.pipes[ServerToClient].kick()
		}
	}
}

// Crash stops host's node at once, as a process crash would. The node gets no more events:
// its timers are cancelled and everything in flight to it is dropped. Its connections are gone:
// the operating system resets them, so each peer gets Closed(c, ErrReset) (ErrRefused for a
// client still dialing) one link delay later, ignoring holds; bytes in flight either way are
// discarded. A dial still on its way to a crashed server is refused when it arrives, and later
// dials are refused after a round trip, until Restart. Env calls from the crashed node are
// ignored; its Dial returns the invalid id 0. Crash reports whether the host was up.
func (n *Network) Crash(host string) bool {
	h := n.host(host)
	if h.crashed {
		return false
	}
	now := n.k.Now()
	rng := n.k.Rand()
	h.crashed = true
	h.node = nil
	h.life++
	s := sideClient
	if h.server {
		s = sideServer
	}
	lost := 0
	for _, c := range n.conns[1:] {
		if c == nil || (!h.server && c.client != h) || c.state[s] != endOpen {
			continue
		}
		lost++
		c.state[s] = endClosed
		if c.reset {
			c.releaseIfDone()
			continue
		}
		peerNs := now + c.link(outgoing(s)).delayNs(rng)
		c.kill(peerNs, peerNs)
	}
	n.k.Trace().Record(now, h.name, evCrash, int64(lost), 0)
	return true
}

// Restart attaches a fresh node to a crashed host: a new process with the same network
// identity. It gets no events for connections of the previous life, whose ids are never
// reused, nor for timers that life set.
func (n *Network) Restart(host string, node reference.Node) {
	h := n.host(host)
	if !h.crashed {
		panic(fmt.Sprintf("netsim: restarting host %q, which has not crashed", host))
	}
	if node == nil {
		panic(fmt.Sprintf("netsim: restarting %q with a nil node", host))
	}
	h.crashed = false
	h.node = node
	n.k.Trace().Record(n.k.Now(), h.name, evRestart, 0, 0)
}

// target returns client's host and its current connection on ch, or a nil connection when
// there is none a fault could hit.
func (n *Network) target(client string, ch reference.Channel) (*Host, *conn) {
	h := n.client(client)
	c := h.current[ch]
	if c == nil || c.reset {
		return h, nil
	}
	return h, c
}

// FaultKind describes one fault this package injects, for listings such as `simrun list
// faults`.
type FaultKind struct {
	Name string
	// Via says how a fault is applied: "LinkConfig" for a link property (set with SetLink or
	// SetClientLink), otherwise the Network method that applies it.
	Via    string
	Params []FaultParam
	Doc    string // one line
}

// FaultParam is one parameter of a fault: a LinkConfig field, or an argument of its method.
type FaultParam struct {
	Name string
	Unit string
}

const viaLink = "LinkConfig"

// Faults lists every fault kind. It is the single source of the fault listing: a fault added
// to the package is added here, and a test checks that every LinkConfig field is listed.
func Faults() []FaultKind {
	conn := []FaultParam{{"client", "host name"}, {"ch", "online|request"}}
	held := slices.Concat(conn, []FaultParam{{"dir", "c2s|s2c"}, {"untilNs", "ns"}})
	return []FaultKind{
		{"latency", viaLink, []FaultParam{{"LatencyDist", "uniform|fixed|exponential"}, {"LatencyNs", "ns"}},
			"one-way delay of each segment: fixed, LatencyNs plus uniform jitter, or LatencyNs plus an exponential with mean JitterNs"},
		{"jitter", viaLink, []FaultParam{{"JitterNs", "ns"}},
			"random part of the delay (uniform width or exponential mean); varies timing, never reorders a stream"},
		{"bandwidth", viaLink, []FaultParam{{"BandwidthBytesPerSec", "bytes/s"}},
			"a direction transmits writes one after another at this rate; waiting bytes count in Pending"},
		{"segmentation", viaLink, []FaultParam{{"SegmentProb", "probability"}, {"SegmentMax", "pieces"}},
			"a write arrives as up to SegmentMax pieces, each timed on its own"},
		{"loss", viaLink, []FaultParam{{"LossProb", "probability"}, {"RetransmitNs", "ns"}},
			"reliable link: a lost segment is retransmitted after RetransmitNs (doubling, to 64x) and blocks all behind it; retrying for the idle timeout resets"},
		{"slow-receiver", viaLink, []FaultParam{{"RecvBytesPerSec", "bytes/s"}, {"SendBufferBytes", "bytes"}},
			"the receiver reads at this rate; writes beyond the send buffer are still queued, counted and traced, and Pending shows the backlog"},
		{"datagram-loss", viaLink, []FaultParam{{"Unreliable", "bool"}, {"LossProb", "probability"}},
			"unreliable link: each write is one message, dropped whole"},
		{"duplication", viaLink, []FaultParam{{"Unreliable", "bool"}, {"DupProb", "probability"}},
			"unreliable link: a message is delivered twice"},
		{"reordering", viaLink, []FaultParam{{"Unreliable", "bool"}, {"ReorderProb", "probability"}, {"ReorderMaxNs", "ns"}},
			"unreliable link: a message is held back up to ReorderMaxNs so that later ones overtake it"},
		{"stall", "Network.Stall", held,
			"hold one direction of a connection until untilNs; nothing lost, order kept"},
		{"blackhole", "Network.Blackhole", slices.Concat(held, []FaultParam{{"IdleTimeoutNs", "ns"}}),
			"a stall that resets the connection on both ends once it has lasted the idle timeout (Network.SetIdleTimeout)"},
		{"reset", "Network.Reset", conn,
			"reset a connection: in-flight bytes discarded, the client told at once, the server one link delay later"},
		{"slow-close", "Network.SlowClose", slices.Concat(conn, []FaultParam{{"delayNs", "ns"}}),
			"the connection's next graceful close reaches the peer delayNs late"},
		{"partition", "Network.Partition", []FaultParam{{"from", "host names"}, {"to", "host names"}, {"untilNs", "ns"}, {"IdleTimeoutNs", "ns"}},
			"nothing from hosts in from reaches hosts in to until untilNs or Network.Heal; held connections reset after the idle timeout, dials fail"},
		{"crash", "Network.Crash", []FaultParam{{"host", "host name"}},
			"a host's node stops: timers cancelled, in-flight events dropped, peers reset one link delay later, dials to a crashed server refused"},
		{"restart", "Network.Restart", []FaultParam{{"host", "host name"}, {"node", "reference.Node"}},
			"a crashed host runs a fresh node, which sees nothing of its previous life"},
	}
}
