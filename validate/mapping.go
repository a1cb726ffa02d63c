package validate

import (
	"cmp"
	"slices"
	"time"

	"github.com/streamsim/streamsim/netsim/proxy"
	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/scenarios"
)

// Plans are written in microseconds of virtual time for a simulator whose own costs are zero.
// A real run stretches them: processes, pipes and sockets cost tens of microseconds per step,
// so a plan's 1 µs gaps become back-to-back actions, while its latencies and timeouts, scaled
// by the same factor, keep their proportions to each other.
const (
	// targetWall is what the longest catalogue plans take in real time.
	targetWall = time.Second
	// maxScale stretches the shortest plans, whose 100 µs links would otherwise be lost in
	// the noise of a real machine.
	maxScale = 20
	// livenessFloor is the least time a session gets to reach Online, and a post to reach a
	// live session, after the faults stop: generous, because a loaded machine running
	// several runs at once is slow in bursts.
	livenessFloor = 500 * time.Millisecond
)

// mapping is a plan translated for real time and the proxies.
type mapping struct {
	scale  float64
	links  [2]proxy.Link // by reference.Channel; both directions alike, as in the plan
	setup  [2]time.Duration
	server ServerSettings
	idle   time.Duration // the plan's idle timeout: how long a blackhole holds before it resets
	bound  time.Duration // the liveness bound
	end    time.Duration // when the run stops, from its start
	// notes name what the plan asks for that a proxy between real processes cannot do; the
	// run goes ahead without it.
	notes []string
}

func mapPlan(p *scenarios.Plan) mapping {
	m := mapping{scale: min(maxScale, max(1, float64(targetWall)/float64(time.Duration(p.DurationUs)*time.Microsecond)))}
	m.idle = m.d(cmp.Or(p.Net.IdleTimeoutUs, 2_000_000))
	for ch, l := range []scenarios.Link{reference.ChanOnline: p.Net.Online, reference.ChanRequest: p.Net.Request} {
		m.links[ch] = m.link(l, reference.Channel(ch).String())
		// A simulated connection is up after a round trip of its link; loopback's at once.
		m.setup[ch] = 2 * m.d(l.LatencyUs)
	}
	m.server = ServerSettings{
		Autoseq: p.Server.Autoseq, Durable: p.Server.Durable, HistoryBatchMsgs: p.Server.HistoryBatchMsgs,
		HistoryIntervalUs: m.us(p.Server.HistoryIntervalUs), PubLastSeq: p.Server.PubLastSeq,
	}
	if p.Server.MaxLagBytes > 0 {
		// Between real processes a subscriber's lag sits in socket buffers and the proxy's
		// queue, which the server cannot see, before any reaches its own.
		m.note("the server's lag limit")
	}
	last, longest := int64(0), int64(0)
	for _, post := range p.Posts {
		last = max(last, post.AtUs)
	}
	for _, c := range p.Clients {
		last = max(last, c.OpenAtUs, c.CloseAtUs)
		if c.ReadBytesPerSec > 0 {
			m.note("slow-reading clients")
		}
	}
	for _, f := range p.Faults {
		switch f.Kind {
		case scenarios.FaultCrash, scenarios.FaultPartition:
			m.note(f.Kind + " faults")
			continue
		}
		last = max(last, f.AtUs+f.DurationUs)
		longest = max(longest, f.DurationUs)
	}
	if len(p.Failpoints) > 0 {
		m.note("failpoints")
	}
	// A plan whose links make handshakes slow sets its own bound, as it does for the simulator.
	m.bound = max(livenessFloor, m.d(p.LivenessBoundUs)) + m.d(longest)
	m.end = max(m.d(p.DurationUs), m.d(last)+m.bound)
	slices.Sort(m.notes)
	return m
}

// link maps one channel's link onto the proxy. Exponential latency becomes uniform jitter
// with the same mean; what the proxy cannot do at all is noted.
func (m *mapping) link(l scenarios.Link, ch string) proxy.Link {
	out := proxy.Link{LatencyNs: int64(m.d(l.LatencyUs)), SegmentProb: l.SegmentProb, SegmentMax: l.SegmentMax}
	switch l.LatencyDist {
	case "exponential":
		out.JitterNs = 2 * int64(m.d(l.JitterUs))
	case "fixed":
	default:
		out.JitterNs = int64(m.d(l.JitterUs))
	}
	if l.BandwidthBytesPerSec > 0 {
		out.BandwidthBytesPerSec = max(1, int64(float64(l.BandwidthBytesPerSec)/m.scale))
	}
	switch {
	case l.Unreliable:
		m.note("datagram " + ch + " link")
		out.SegmentProb, out.SegmentMax = 0, 0
	case l.LossProb > 0:
		m.note("tcp loss on the " + ch + " link")
	}
	if l.RecvBytesPerSec > 0 {
		m.note("slow receiver on the " + ch + " link")
	}
	return out
}

func (m *mapping) note(s string) {
	if !slices.Contains(m.notes, s) {
		m.notes = append(m.notes, s)
	}
}

// d is a plan duration in real time.
func (m *mapping) d(us int64) time.Duration {
	return time.Duration(float64(us) * m.scale * float64(time.Microsecond))
}

// us is a plan duration in real microseconds.
func (m *mapping) us(us int64) int64 { return int64(float64(us) * m.scale) }

// handshakeNs is the shortest handshake timeout the plan's clients are given, in real time: a
// driver given none uses the reference's default, unscaled.
func (m *mapping) handshakeNs(p *scenarios.Plan) int64 {
	ns := reference.DefaultHandshakeTimeoutNs
	for _, c := range p.Clients {
		if c.HandshakeTimeoutUs > 0 {
			ns = min(ns, int64(m.d(c.HandshakeTimeoutUs)))
		}
	}
	return ns
}

// client is a plan client's settings for its driver.
func (m *mapping) client(c scenarios.ClientPlan) ClientSettings {
	return ClientSettings{
		Name: c.Name, BufferBytes: c.BufferBytes, Protocol: c.Protocol, Contiguous: c.Contiguous,
		HandshakeTimeoutUs: m.us(c.HandshakeTimeoutUs),
	}
}
