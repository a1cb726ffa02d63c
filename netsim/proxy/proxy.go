// Package proxy is a fault-injecting TCP and Unix-socket proxy for implementations that run as
// real processes. It is the real-time counterpart of netsim's simulated links: one Proxy sits
// on one (client, channel) path, forwards bytes both ways, and applies per-direction latency,
// jitter, bandwidth, segmentation, stalls, resets and slow closes, and per connection a setup
// time (during which a reset is a refusal) and byte-level corruption of chosen frames.
//
// Real timing cannot be replayed, but the schedule of faults can: every random choice (jitter,
// where a read is cut) comes from a PCG stream derived from Config.Seed and the connection's
// ordinal, so the same seed and the same reads give the same decisions.
//
// Each connection runs a reader and a writer goroutine per direction joined by a byte-bounded
// FIFO. The reader timestamps what it reads and queues it with a delivery time; the writer
// waits for that time (and for any stall) and writes. The FIFO is what keeps a direction in
// order whatever the delays, and its bound is what turns a slow receiver into backpressure on
// the sender instead of memory growth.
package proxy

import (
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Direction is one way through the proxy.
type Direction uint8

// The two directions; they index per-direction settings and counters.
const (
	Up   Direction = iota // client → server
	Down                  // server → client
)

// Link describes one direction. Each piece of a read is delivered at
// max(read time + LatencyNs + uniform[0, JitterNs], the previous piece's delivery time), so
// jitter varies delay but never reorders. With probability SegmentProb a read of n bytes is
// cut at random points into at most min(SegmentMax, n) pieces, each timed and written on its
// own and at least 1 ms after the piece before it (even after a stall), so that a receiver
// waiting in read sees the frames split. A positive BandwidthBytesPerSec adds serialization
// delay: bytes leave no faster than that rate. Zero values disable each fault.
type Link struct {
	LatencyNs            int64
	JitterNs             int64
	BandwidthBytesPerSec int64
	SegmentProb          float64
	SegmentMax           int
}

func (l Link) validate() error {
	// Jitter is drawn with Int64N(JitterNs+1), which must not overflow.
	if l.LatencyNs < 0 || l.JitterNs < 0 || l.JitterNs == math.MaxInt64 || l.BandwidthBytesPerSec < 0 ||
		l.SegmentMax < 0 || !(l.SegmentProb >= 0 && l.SegmentProb <= 1) {
		return fmt.Errorf("proxy: invalid link %+v", l)
	}
	return nil
}

// Config describes a proxy. Listen and Target are HOST:PORT for TCP or, if they contain a
// '/', a Unix socket path. A Unix Listen path must not exist yet.
type Config struct {
	Listen, Target string
	Seed           uint64
	Up, Down       Link
	// SetupNs holds each accepted connection that long before the proxy dials the target and
	// forwards a byte: the handshake a connection across a slow link takes, which loopback
	// completes at once. A Reset meanwhile refuses the connection: the server never sees it.
	SetupNs int64
	// Corrupt rewrites bytes of chosen frames as they pass.
	Corrupt []Corruption
}

// Corruption overwrites bytes of one frame of every connection: starting Offset bytes into
// the Frame-th frame (from 0) going direction Dir, with Bytes, cut off at the frame's end.
// Frames are stream+'s: a header of uint32 little-endian body size, int32 msgid and int64 seq,
// then the body; the proxy follows them by the sizes as sent, whatever it rewrites.
type Corruption struct {
	Dir    Direction
	Frame  int
	Offset int
	Bytes  []byte
}

// frameHeader is the size of a stream+ frame header; the body size is its first 4 bytes.
const frameHeader = 16

// Stats counts what the proxy has done since Start.
type Stats struct {
	Connections  uint64    // accepted from clients
	DialFailures uint64    // accepted connections whose target could not be reached; the client was reset
	Resets       uint64    // connections reset, by Reset or because one side reset or failed
	Refused      uint64    // connections Reset during their setup, before the target saw them
	Corrupted    uint64    // frames rewritten by Config.Corrupt
	Bytes        [2]uint64 // delivered, by Direction
}

// Proxy forwards connections accepted on one address to one target address.
type Proxy struct {
	cfg       Config
	targetNet string
	ln        net.Listener
	epoch     time.Time // origin of every *Ns timestamp; monotonic
	links     [2]atomic.Pointer[Link]
	slowNs    atomic.Int64
	// segmentHook, when set by tests, sees every read's cut points; the slice is reused.
	segmentHook func(ordinal uint64, d Direction, n int, cuts []int)

	connections, dialFailures, resets, refused, corrupted atomic.Uint64
	bytes                                                 [2]atomic.Uint64

	done      chan struct{} // closed by Close; ends the accept loop's backoff
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup // the accept loop and every connection's serve

	mu     sync.Mutex
	closed bool
	conns  map[*conn]struct{} // the current connections: targets of Reset and Stall
}

// Start listens on cfg.Listen and forwards every accepted connection to cfg.Target.
func Start(cfg Config) (*Proxy, error) { return start(cfg, nil) }

func start(cfg Config, hook func(uint64, Direction, int, []int)) (*Proxy, error) {
	if cfg.Listen == "" || cfg.Target == "" {
		return nil, errors.New("proxy: Listen and Target are required")
	}
	for _, l := range []Link{cfg.Up, cfg.Down} {
		if err := l.validate(); err != nil {
			return nil, err
		}
	}
	if cfg.SetupNs < 0 {
		return nil, fmt.Errorf("proxy: negative SetupNs %d", cfg.SetupNs)
	}
	for _, c := range cfg.Corrupt {
		if c.Dir > Down || c.Frame < 0 || c.Offset < 0 || len(c.Bytes) == 0 {
			return nil, fmt.Errorf("proxy: invalid corruption %+v", c)
		}
	}
	ln, err := net.Listen(network(cfg.Listen), cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	p := &Proxy{
		cfg:         cfg,
		targetNet:   network(cfg.Target),
		ln:          ln,
		epoch:       time.Now(),
		segmentHook: hook,
		done:        make(chan struct{}),
		conns:       make(map[*conn]struct{}),
	}
	p.links[Up].Store(&cfg.Up)
	p.links[Down].Store(&cfg.Down)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func network(addr string) string {
	if strings.Contains(addr, "/") {
		return "unix"
	}
	return "tcp"
}

// Addr returns the address the proxy listens on, with the actual port when Listen asked for
// port 0.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetLink replaces the link for direction dir on current and future connections. Latency,
// jitter and segmentation apply to bytes read from then on, bandwidth to bytes written from
// then on.
func (p *Proxy) SetLink(dir Direction, l Link) error {
	if dir > Down {
		return fmt.Errorf("proxy: invalid direction %d", dir)
	}
	if err := l.validate(); err != nil {
		return err
	}
	p.links[dir].Store(&l)
	return nil
}

// Reset resets every current connection as a middlebox RST would: both the client and the
// server get an RST, and bytes in flight through the proxy are dropped. On Unix sockets, which
// have no RST, the peers see the socket closed. A connection still in its setup (SetupNs) is
// refused: the client is reset before a byte of it reached the server, which never sees it.
// It returns how many connections it reset or refused.
func (p *Proxy) Reset() int {
	n := 0
	for _, c := range p.current() {
		count := &p.resets
		if c.settingUp() {
			count = &p.refused
		}
		if c.abort(true, count) {
			n++
		}
	}
	return n
}

// Stall holds every byte on direction dir of every current connection for d from now, then
// releases them in order (subject to the link's bandwidth). Bytes read meanwhile queue behind
// them, up to the queue bound. A stall can be extended but not shortened; connections
// accepted later are not stalled. It returns how many connections it stalled.
func (p *Proxy) Stall(dir Direction, d time.Duration) int {
	untilNs := p.nowNs() + int64(d)
	p.mu.Lock()
	defer p.mu.Unlock()
	// Stall calls are serialized by p.mu, so the load and store below cannot interleave with
	// another stall's.
	for c := range p.conns {
		if s := &c.stallUntilNs[dir]; s.Load() < untilNs {
			s.Store(untilNs)
		}
	}
	return len(p.conns)
}

// SlowClose delays every FIN the proxy forwards from then on by d: when one side closes its
// write half, the other side sees EOF d later than the link alone would deliver it. Zero
// restores prompt closes.
func (p *Proxy) SlowClose(d time.Duration) { p.slowNs.Store(int64(max(d, 0))) }

// Stats returns the counters so far.
func (p *Proxy) Stats() Stats {
	return Stats{
		Connections:  p.connections.Load(),
		DialFailures: p.dialFailures.Load(),
		Resets:       p.resets.Load(),
		Refused:      p.refused.Load(),
		Corrupted:    p.corrupted.Load(),
		Bytes:        [2]uint64{p.bytes[Up].Load(), p.bytes[Down].Load()},
	}
}

// Close stops listening, closes every connection (without RST; bytes in flight are dropped)
// and returns once every goroutine the proxy started has exited.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		close(p.done)
		p.closeErr = p.ln.Close()
		for _, c := range p.current() {
			c.abort(false, nil)
		}
	})
	p.wg.Wait()
	return p.closeErr
}

func (p *Proxy) current() []*conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	cs := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		cs = append(cs, c)
	}
	return cs
}

func (p *Proxy) forget(c *conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) nowNs() int64 { return int64(time.Since(p.epoch)) }

func (p *Proxy) link(d Direction) *Link { return p.links[d].Load() }

// Accept backoff bounds: errors such as EMFILE are transient, and retrying at once would spin.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
)

func (p *Proxy) accept() {
	defer p.wg.Done()
	var ordinal uint64
	backoff := minBackoff
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			t := time.NewTimer(backoff)
			select {
			case <-p.done:
				return
			case <-t.C:
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			nc.Close()
			return
		}
		c := newConn(p, nc.(duplex), ordinal)
		ordinal++
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		p.connections.Add(1)
		go c.serve()
	}
}
