package proxy

import (
	"context"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// maxQueuedBytes bounds what one direction of one connection holds in flight. Past it the
	// reader stops reading, so a stalled or slow receiver pushes back on the sender through
	// the proxy as it would through TCP, and memory stays bounded (by this plus one read).
	maxQueuedBytes = 4 << 20
	readBufBytes   = 64 << 10
	// bandwidthQuantumsPerSec sets how finely a throttled link paces its writes: one write
	// carries at most 1/200 s of link time, so delivery is smooth instead of whole reads
	// arriving in bursts.
	bandwidthQuantumsPerSec = 200
	// pieceGapNs spaces the pieces of a cut read. netsim hands each piece to the receiver as
	// an event of its own; over real sockets, pieces written back to back would usually be
	// merged by the receiver's next read, and the split would never be seen.
	pieceGapNs = int64(time.Millisecond)
)

// duplex is a connection whose write half can be closed alone; *net.TCPConn and
// *net.UnixConn are the only kinds the proxy handles.
type duplex interface {
	net.Conn
	CloseWrite() error
}

// conn is one proxied connection: the client end the proxy accepted, the server end it dialed,
// and a queue per direction.
type conn struct {
	p            *Proxy
	ordinal      uint64
	client       duplex
	queues       [2]queue
	stallUntilNs [2]atomic.Int64 // by Direction; written only under p.mu
	done         chan struct{}   // closed by abort: every wait in the connection selects on it
	ctx          context.Context // cancelled by abort, to interrupt the dial
	cancel       context.CancelFunc
	wg           sync.WaitGroup // the four pump goroutines

	mu      sync.Mutex
	server  duplex // nil until the dial succeeds
	dialing bool   // the setup is over: the proxy is dialing the target or has
	aborted bool
	rst     bool // how it was aborted, for a server that connects after the abort
}

// settingUp reports whether the connection is still in its setup, unknown to the server.
func (c *conn) settingUp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.dialing
}

func newConn(p *Proxy, client duplex, ordinal uint64) *conn {
	c := &conn{p: p, ordinal: ordinal, client: client, done: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	for d := range c.queues {
		c.queues[d].init()
	}
	return c
}

// serve dials the target and pumps both directions until both have finished or the
// connection is aborted.
func (c *conn) serve() {
	defer c.p.wg.Done()
	defer c.p.forget(c)
	defer c.cancel()
	if setup := time.Duration(c.p.cfg.SetupNs); setup > 0 {
		t := time.NewTimer(setup)
		select {
		case <-t.C:
		case <-c.done:
			t.Stop()
			return
		}
	}
	c.mu.Lock()
	c.dialing = true
	c.mu.Unlock()
	var d net.Dialer
	nc, err := d.DialContext(c.ctx, c.p.targetNet, c.p.cfg.Target)
	if err != nil {
		// The client already believes it is connected; a reset is the closest a proxy can
		// come to the refusal the client would have seen without it.
		c.abort(true, &c.p.dialFailures)
		return
	}
	server := nc.(duplex)
	c.mu.Lock()
	if c.aborted {
		c.mu.Unlock()
		kill(server, c.rst)
		return
	}
	c.server = server
	c.mu.Unlock()
	c.wg.Add(4)
	go c.read(Up, c.client)
	go c.write(Up, server)
	go c.read(Down, server)
	go c.write(Down, c.client)
	c.wg.Wait()
	// Both FINs have been forwarded, or the connection was aborted, in which case this does
	// nothing.
	c.abort(false, nil)
}

// abort tears the connection down once; later calls do nothing and report false. With rst
// both ends get an RST (TCP only) instead of a FIN. count, if not nil, is incremented before
// either end can observe the abort, so a test that sees the reset also sees the count.
func (c *conn) abort(rst bool, count *atomic.Uint64) bool {
	c.mu.Lock()
	if c.aborted {
		c.mu.Unlock()
		return false
	}
	c.aborted, c.rst = true, rst
	server := c.server
	c.mu.Unlock()
	if count != nil {
		count.Add(1)
	}
	close(c.done)
	c.cancel()
	kill(c.client, rst)
	if server != nil {
		kill(server, rst)
	}
	return true
}

func kill(nc duplex, rst bool) {
	if tc, ok := nc.(*net.TCPConn); ok && rst {
		// Linger 0 makes close send an RST and drop unsent data, which is what a reset is.
		tc.SetLinger(0)
	}
	nc.Close()
}

// read pumps src into direction d's queue, deciding each piece's delivery time as it reads.
// It owns d's random stream, so the draws happen in read order whatever the writer does.
func (c *conn) read(d Direction, src duplex) {
	defer c.wg.Done()
	q := &c.queues[d]
	rng := rand.New(rand.NewPCG(c.p.cfg.Seed, streamSeed(c.ordinal, d)))
	buf := make([]byte, readBufBytes)
	frames := framePos{}
	var cuts []int
	var lastNs int64 // delivery time of the previous piece: no piece may overtake it
	for {
		if !q.waitSpace(c.done) {
			return
		}
		n, err := src.Read(buf)
		nowNs := c.p.nowNs()
		l := c.p.link(d)
		if n > 0 {
			// A copy, not buf itself, is queued, and an exact-size one so that the queue
			// bound counts the memory actually held.
			data := slices.Clone(buf[:n])
			if len(c.p.cfg.Corrupt) > 0 {
				c.p.corrupted.Add(uint64(frames.corrupt(data, d, c.p.cfg.Corrupt)))
			}
			cuts = l.cutPoints(rng, n, cuts)
			if c.p.segmentHook != nil {
				c.p.segmentHook(c.ordinal, d, n, cuts)
			}
			from := 0
			for i := 0; i <= len(cuts); i++ {
				to := n
				if i < len(cuts) {
					to = cuts[i]
				}
				lastNs = max(nowNs+l.delayNs(rng), lastNs)
				q.push(item{data: data[from:to:to], readyNs: lastNs, cut: i > 0})
				from = to
			}
		}
		if err == io.EOF {
			lastNs = max(nowNs+l.delayNs(rng)+c.p.slowNs.Load(), lastNs)
			q.push(item{eof: true, readyNs: lastNs})
			return
		}
		if err != nil {
			// The peer reset or the socket failed: pass the reset on. If the error comes
			// from the proxy's own abort, the connection is already down and this is a no-op.
			c.abort(true, &c.p.resets)
			return
		}
	}
}

// write delivers direction d's queue to dst, each item no earlier than its delivery time,
// after any stall, and no faster than the link's bandwidth.
func (c *conn) write(d Direction, dst duplex) {
	defer c.wg.Done()
	q := &c.queues[d]
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var busyNs int64  // when a throttled link finishes sending what it was already given
	var wroteNs int64 // when the last write returned
	for {
		it, ok := q.pop(c.done)
		if !ok {
			return
		}
		readyNs := it.readyNs
		if it.cut {
			readyNs = max(readyNs, wroteNs+pieceGapNs)
		}
		if !c.hold(d, readyNs, timer) {
			return
		}
		if it.eof {
			if err := dst.CloseWrite(); err != nil {
				c.abort(true, &c.p.resets)
			}
			return
		}
		for b := it.data; len(b) > 0; {
			n := len(b)
			if bw := c.p.link(d).BandwidthBytesPerSec; bw > 0 {
				n = min(n, max(1, int(bw/bandwidthQuantumsPerSec)))
				// Bytes are written when their last bit would have arrived, so a transfer of
				// N bytes takes at least N/bw. Starting from now rather than from busyNs alone
				// means time lost to a stall or a blocked write is not later made up in a burst.
				busyNs = max(busyNs, c.p.nowNs()) + ceilDiv(int64(n)*int64(time.Second), bw)
				if !c.hold(d, busyNs, timer) {
					return
				}
			}
			if _, err := dst.Write(b[:n]); err != nil {
				c.abort(true, &c.p.resets)
				return
			}
			wroteNs = c.p.nowNs()
			c.p.bytes[d].Add(uint64(n))
			b = b[n:]
		}
	}
}

// hold waits until tNs and until any stall on direction d is over, re-reading the stall after
// every wait because Stall may extend it meanwhile. It reports false if the connection was
// aborted first.
func (c *conn) hold(d Direction, tNs int64, timer *time.Timer) bool {
	for {
		waitNs := max(tNs, c.stallUntilNs[d].Load()) - c.p.nowNs()
		if waitNs <= 0 {
			return true
		}
		timer.Reset(time.Duration(waitNs))
		select {
		case <-timer.C:
		case <-c.done:
			return false
		}
	}
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// delayNs draws one piece's latency.
func (l *Link) delayNs(rng *rand.Rand) int64 {
	if l.JitterNs == 0 {
		return l.LatencyNs
	}
	return l.LatencyNs + rng.Int64N(l.JitterNs+1)
}

// cutPoints decides, as netsim does for a write, whether and where a read of n bytes is cut.
// It returns the interior cut offsets, ascending and distinct, in cuts' storage.
func (l *Link) cutPoints(rng *rand.Rand, n int, cuts []int) []int {
	cuts = cuts[:0]
	if l.SegmentProb == 0 || l.SegmentMax < 2 || n < 2 || rng.Float64() >= l.SegmentProb {
		return cuts
	}
	pieces := 2 + rng.IntN(min(l.SegmentMax, n)-1)
	for range pieces - 1 {
		cuts = append(cuts, 1+rng.IntN(n-1))
	}
	slices.Sort(cuts)
	return slices.Compact(cuts) // two equal cuts make one piece fewer
}

// streamSeed names the PCG stream of one direction of one connection. The splitmix64
// finalizer spreads neighbouring ordinals apart so adjacent connections' streams do not start
// out correlated.
func streamSeed(ordinal uint64, d Direction) uint64 {
	z := (ordinal<<1 | uint64(d)) + 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// item is a piece of data, or the EOF marker, with the time it may be delivered.
type item struct {
	data    []byte
	eof     bool
	cut     bool // a piece after a cut: keep it apart from the piece before
	readyNs int64
}

// queue is a byte-bounded FIFO between one reader and one writer. Its two one-slot channels
// are wake-ups, not carriers: each side re-checks the state under mu after waking, so a
// stale wake-up is harmless and none is lost. Waiting on channels rather than a sync.Cond lets
// both sides also wait for the connection's abort.
type queue struct {
	mu    sync.Mutex
	items []item
	bytes int
	space chan struct{} // the writer took something out
	avail chan struct{} // the reader put something in
}

func (q *queue) init() {
	q.space = make(chan struct{}, 1)
	q.avail = make(chan struct{}, 1)
}

func (q *queue) push(it item) {
	q.mu.Lock()
	q.items = append(q.items, it)
	q.bytes += len(it.data)
	q.mu.Unlock()
	notify(q.avail)
}

// waitSpace blocks while the queue is full; false means done closed first.
func (q *queue) waitSpace(done <-chan struct{}) bool {
	for {
		q.mu.Lock()
		full := q.bytes >= maxQueuedBytes
		q.mu.Unlock()
		if !full {
			return true
		}
		select {
		case <-q.space:
		case <-done:
			return false
		}
	}
}

// pop blocks until there is an item; false means done closed first.
func (q *queue) pop(done <-chan struct{}) (item, bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			it := q.items[0]
			q.items[0] = item{} // let the bytes be collected while the slice lives on
			q.items = q.items[1:]
			q.bytes -= len(it.data)
			q.mu.Unlock()
			notify(q.space)
			return it, true
		}
		q.mu.Unlock()
		select {
		case <-q.avail:
		case <-done:
			return item{}, false
		}
	}
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// framePos follows stream+ frames through one direction of a connection, for Corruption.
type framePos struct {
	frame int     // index of the frame the next byte belongs to
	pos   int     // offset of the next byte in that frame
	size  [4]byte // the frame's body size field, as sent
}

// corrupt applies every corruption of direction d to data, the next bytes of the stream, and
// returns how many frames it touched first.
func (f *framePos) corrupt(data []byte, d Direction, cs []Corruption) int {
	touched := 0
	for i := range data {
		if f.pos < 4 {
			f.size[f.pos] = data[i]
		}
		for _, c := range cs {
			if c.Dir == d && c.Frame == f.frame && f.pos >= c.Offset && f.pos < c.Offset+len(c.Bytes) {
				if f.pos == c.Offset {
					touched++
				}
				data[i] = c.Bytes[f.pos-c.Offset]
			}
		}
		f.pos++
		if f.pos >= frameHeader && f.pos == frameHeader+int(binary.LittleEndian.Uint32(f.size[:])) {
			f.frame, f.pos = f.frame+1, 0
		}
	}
	return touched
}
