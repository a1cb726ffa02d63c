// Package tcp runs the reference stream+ nodes on real sockets: TCP for HOST:PORT addresses,
// Unix sockets for addresses containing a '/'.
//
// Threading: each host has one loop goroutine that owns its node and every piece of node
// state; nothing else ever calls the node. Other goroutines only feed the loop events through
// one channel: one acceptor per listening socket, one dialer per outgoing connect, one reader
// and one writer per connection, and time.AfterFunc callbacks for timers. A reader hands the
// loop its buffer and waits for it back, so a connection costs one read buffer however fast
// its peer sends. A writer drains a per-connection queue the loop appends to, so a slow peer
// never blocks the loop; the queue is capped (Limits.MaxQueueBytes). API calls (Post, Open,
// Close) run as closures on the loop.
package tcp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/reference/wire"
)

var (
	// ErrClosed is returned by calls on a host that has been shut down.
	ErrClosed = errors.New("tcp: host is shut down")
	// ErrSlowConsumer is what a node's Closed reports for a connection the host reset
	// because its outgoing queue passed Limits.MaxQueueBytes. It wraps reference.ErrReset.
	ErrSlowConsumer = fmt.Errorf("%w: outgoing queue over its limit", reference.ErrReset)
	// ErrStalled is what a node's Closed reports for a request channel the host closed
	// because its client read nothing for Limits.StallTimeout with Limits.StallBytes unsent.
	// It wraps reference.ErrReset.
	ErrStalled = fmt.Errorf("%w: the client stopped reading", reference.ErrReset)
	// ErrEvicted is what a node's Closed reports for a connection the host reset to make
	// room for a new one at Limits.MaxConns. It wraps reference.ErrReset.
	ErrEvicted = fmt.Errorf("%w: evicted at the connection cap", reference.ErrReset)
	// ErrIdleTimeout is what a node's Closed reports for a connection the host closed after
	// Limits.IdleTimeout without a complete handshake or frame. It wraps reference.ErrReset.
	ErrIdleTimeout = fmt.Errorf("%w: idle timeout", reference.ErrReset)
)

// network picks the socket family an address names.
func network(addr string) string {
	if strings.Contains(addr, "/") {
		return "unix"
	}
	return "tcp"
}

type connState uint8

const (
	csDialing connState = iota // a dialer goroutine is connecting
	csOpen                     // the node knows it and gets its events
	csDoomed                   // the host reset it; the node's Closed is queued on the loop
	csClosed                   // the node gets no more events; the socket may still be flushing
)

type conn struct {
	id reference.ConnID
	ch reference.Channel
	nc net.Conn // nil while dialing

	// Owned by the loop.
	state    connState
	cancel   context.CancelFunc // stops the dial
	answered bool               // the node has sent on it: its handshake is answered
	// The server tracks frame boundaries of what a request-channel client sends, to time
	// out a frame left incomplete. The client side of that channel is always std frames.
	hdrHave    int
	size       [4]byte
	bodyLeft   uint64
	idle       *time.Timer
	idleGen    uint64 // tells a stale idle timer from the armed one
	counted    bool   // its socket counts against MaxConns: open and not reset
	opened     time.Time
	stall      *time.Timer
	stallAt    int64 // written when the stall timer was armed
	stallSince time.Time

	// Shared with the writer. Sends are copied into the blocks of out, so the writer takes
	// everything queued since its last look at once, however many frames it holds, and
	// queueing never grows a buffer by copying it. spare is the writer's emptied list,
	// kept so that swapping lists allocates nothing.
	mu         sync.Mutex
	out, spare []*[]byte
	fin, abort bool // flush then half-close; stop at once
	wake       chan struct{}
	pending    atomic.Int64 // queued or being written: a chunk counts until all of it is written
	written    atomic.Int64 // bytes the peer has taken so far
	// A drain watch (OnDrained): armed while drainAt ≥ 0; drainID is set before it is armed.
	drainAt atomic.Int64
	drainID atomic.Uint64

	// Shared with the reader.
	discard atomic.Bool // the node is done with it: read only to drain
	heard   atomic.Bool // the peer has sent something, handled or not
	ack     chan struct{}

	running atomic.Int32 // reader and writer still running; the last one out closes nc
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// push queues p. Only a push into an empty queue wakes the writer: a non-empty one is taken
// whole by the writer's next look.
func (c *conn) push(p []byte) {
	c.pending.Add(int64(len(p)))
	c.mu.Lock()
	idle := len(c.out) == 0
	if c.out == nil {
		c.out, c.spare = c.spare, nil
	}
	for len(p) > 0 {
		n := len(c.out)
		if n == 0 || len(*c.out[n-1]) == blockSize {
			c.out = append(c.out, blocks.Get().(*[]byte))
			n++
		}
		b := c.out[n-1]
		k := min(len(p), blockSize-len(*b))
		*b = append(*b, p[:k]...)
		p = p[k:]
	}
	c.mu.Unlock()
	if idle {
		c.signal()
	}
}

// blockSize is the unit of an outgoing queue and the most one write hands the socket, so
// that Pending falls as the peer reads rather than only once a whole backlog is out: a
// server judges a subscriber's lag by it.
const blockSize = 64 << 10

// blocks holds written blocks for any connection to refill: the memory queues take follows
// the bytes in flight, not the number of connections, and a block is never zeroed again.
var blocks = sync.Pool{New: func() any {
	b := make([]byte, 0, blockSize)
	return &b
}}

// queued is how many bytes out holds.
func queued(out []*[]byte) int {
	n := 0
	for _, b := range out {
		n += len(*b)
	}
	return n
}

// recycle returns out's blocks to the pool and empties it.
func recycle(out []*[]byte) []*[]byte {
	for i, b := range out {
		*b = (*b)[:0]
		blocks.Put(b)
		out[i] = nil
	}
	return out[:0]
}

// take hands the writer what is queued, and gets back the list it wrote before, emptied.
func (c *conn) take(written []*[]byte) (out []*[]byte, fin, abort bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if written != nil && c.spare == nil {
		c.spare = written
	}
	out, c.out = c.out, nil
	return out, c.fin, c.abort
}

// track follows std frame boundaries in what the peer sent.
func (c *conn) track(p []byte) {
	for len(p) > 0 {
		if c.bodyLeft > 0 {
			n := min(uint64(len(p)), c.bodyLeft)
			c.bodyLeft -= n
			p = p[n:]
			continue
		}
		n := min(len(p), wire.HeaderSize-c.hdrHave)
		if c.hdrHave < len(c.size) {
			copy(c.size[c.hdrHave:], p[:n])
		}
		c.hdrHave += n
		p = p[n:]
		if c.hdrHave == wire.HeaderSize {
			c.hdrHave = 0
			c.bodyLeft = uint64(binary.LittleEndian.Uint32(c.size[:]))
		}
	}
}

type evKind uint8

const (
	evCall     evKind = iota // run fn
	evTimer                  // a node timer fired
	evAccept                 // nc accepted on channel ch
	evDialed                 // c's dial ended: nc or err
	evRecv                   // p arrived on c; ack when done with it
	evReadEnd                // c's reader stopped with err (io.EOF for the peer's FIN)
	evWriteErr               // c's writer failed with err
	evIdle                   // c's idle timer gen fired
	evStall                  // c's stall timer fired
	evDrop                   // report the host's reset of c to the node (loop-local)
	evGone                   // c's goroutines are gone and its socket closed
)

type event struct {
	kind evKind
	c    *conn
	ch   reference.Channel
	nc   net.Conn
	p    []byte
	err  error
	gen  uint64
	t    *nodeTimer
	fn   func()
}

type nodeTimer struct {
	t  *time.Timer
	id uint64
}

// host implements reference.Env on sockets for one node.
type host struct {
	node    reference.Node
	lim     Limits
	server  bool      // accepted connections get idle timeouts
	addrs   [2]string // where Dial connects, by channel (clients)
	readBuf int
	idle    func() // called on the loop when it has handled every event it had
	start   time.Time
	loopG   uint64 // the loop goroutine's id

	events chan event
	quit   chan struct{} // closed to stop the loop
	exited chan struct{} // closed when the loop stops taking events: every poster gives up
	done   chan struct{} // closed when every goroutine of the host has ended
	once   sync.Once
	wg     sync.WaitGroup // every goroutine but the loop

	// Owned by the loop.
	nextID    reference.ConnID
	conns     map[reference.ConnID]*conn // every connection holding a socket or a dial
	sockets   int                        // conns that count against MaxConns
	timers    map[*nodeTimer]struct{}
	local     []event  // events the loop raises for itself, run before the next one
	soon      []uint64 // node timers due now, run after every event already waiting
	soonSpare []uint64
	listeners []net.Listener

	accepted, rejected, idleTimeouts, slowDrops, stalls, evictions atomic.Uint64
}

var (
	_ reference.Env        = (*host)(nil)
	_ reference.Drainer    = (*host)(nil)
	_ reference.CopySender = (*host)(nil)
)

func newHost(lim Limits, server bool, readBuf int) *host {
	return &host{
		lim:     lim,
		server:  server,
		readBuf: readBuf,
		start:   time.Now(),
		events:  make(chan event, 1024),
		quit:    make(chan struct{}),
		exited:  make(chan struct{}),
		done:    make(chan struct{}),
		conns:   make(map[reference.ConnID]*conn),
		timers:  make(map[*nodeTimer]struct{}),
	}
}

// run starts the loop; h.node must be set.
func (h *host) run() {
	started := make(chan struct{})
	go func() {
		h.loopG = goid()
		close(started)
		h.loop()
	}()
	<-started
}

func (h *host) loop() {
	defer close(h.done)
	for {
		if len(h.soon) > 0 {
			// Timers due now take turns with everything that arrived meanwhile, so history
			// streams pumping batch after batch hold nothing else back.
			select {
			case <-h.quit:
				h.exit()
				return
			default:
			}
			for n := len(h.events); n > 0; n-- {
				h.handleAll(<-h.events)
			}
			due := h.soon
			h.soon = h.soonSpare[:0]
			for _, id := range due {
				h.handleAll(event{kind: evTimer, t: &nodeTimer{id: id}})
			}
			h.soonSpare = due[:0]
			continue
		}
		select {
		case ev := <-h.events:
			h.handleAll(ev)
		case <-h.quit:
			h.exit()
			return
		}
	}
}

// handleAll handles ev and the events it raised, then tells an idle watcher if nothing else
// is waiting.
func (h *host) handleAll(ev event) {
	h.handle(ev)
	for i := 0; i < len(h.local); i++ {
		h.handle(h.local[i])
	}
	clear(h.local)
	h.local = h.local[:0]
	if h.idle != nil && len(h.events) == 0 && len(h.soon) == 0 {
		h.idle()
	}
}

func (h *host) exit() {
	h.teardown()
	close(h.exited)
	h.wg.Wait()
	// A poster may have got an event into the buffer just before exited closed; the sockets
	// it carries are closed here, since nobody else will.
	for {
		select {
		case ev := <-h.events:
			if ev.nc != nil {
				ev.nc.Close()
			}
		default:
			return
		}
	}
}

// stop ends the loop and, if wait, every goroutine of the host. It is idempotent.
func (h *host) stop(wait bool) {
	h.once.Do(func() { close(h.quit) })
	if wait {
		<-h.done
	}
}

func (h *host) teardown() {
	for _, l := range h.listeners {
		l.Close()
	}
	for t := range h.timers {
		t.t.Stop()
	}
	h.soon = nil
	for _, c := range h.conns {
		if c.idle != nil {
			c.idle.Stop()
		}
		if c.stall != nil {
			c.stall.Stop()
		}
		if c.nc == nil {
			c.cancel()
			continue
		}
		c.nc.Close()
	}
}

// goid returns the calling goroutine's id, from the first line of its stack ("goroutine 7
// [running]:"). Go hides goroutine ids on purpose; the loop needs one only so that a Handler
// callback calling back into its ClientHost runs inline instead of waiting on itself
// (golang.org/x/net/http2 uses the same trick for its re-entrancy checks).
func goid() uint64 {
	var buf [32]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = b[len("goroutine "):]
	b = b[:bytes.IndexByte(b, ' ')]
	id, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		panic("tcp: cannot parse the goroutine id: " + err.Error())
	}
	return id
}

// onLoop reports whether the caller is the loop goroutine.
func (h *host) onLoop() bool { return goid() == h.loopG }

// post hands ev to the loop, or reports false once the loop has stopped.
func (h *host) post(ev event) bool {
	select {
	case h.events <- ev:
		return true
	case <-h.exited:
		return false
	}
}

// do runs fn on the loop and waits for it.
func (h *host) do(fn func()) error {
	done := make(chan struct{})
	if !h.post(event{kind: evCall, fn: func() { fn(); close(done) }}) {
		return ErrClosed
	}
	select {
	case <-done:
		return nil
	case <-h.exited:
		select {
		case <-done:
			return nil
		default:
			return ErrClosed
		}
	}
}

func (h *host) handle(ev event) {
	c := ev.c
	switch ev.kind {
	case evCall:
		ev.fn()
	case evTimer:
		delete(h.timers, ev.t)
		h.node.Timer(ev.t.id)
	case evAccept:
		h.accept(ev.nc, ev.ch)
	case evDialed:
		h.dialed(c, ev.nc, ev.err)
	case evRecv:
		if c.state == csOpen {
			if h.server && c.ch == reference.ChanRequest {
				c.track(ev.p)
			}
			h.node.Received(c.id, ev.p)
			h.watchIdle(c)
		}
		c.ack <- struct{}{}
	case evReadEnd:
		eof := errors.Is(ev.err, io.EOF)
		if c.state == csOpen {
			h.closeForNode(c, peerErr(ev.err))
			if eof {
				// The peer may only have half-closed: it still gets what was queued.
				h.flushAndClose(c)
				return
			}
		}
		if !eof {
			h.reset(c)
		}
	case evWriteErr:
		if c.state == csOpen {
			h.closeForNode(c, peerErr(ev.err))
		}
		h.reset(c)
	case evIdle:
		if c.idle == nil || ev.gen != c.idleGen {
			return
		}
		h.idleTimeouts.Add(1)
		h.closeForNode(c, ErrIdleTimeout)
		if c.ch == reference.ChanRequest && !c.answered {
			c.push(wire.AppendMsg(nil, wire.Error{Text: fmt.Sprintf("no complete request within %v", h.lim.IdleTimeout)}))
			h.flushAndClose(c)
			return
		}
		h.reset(c)
	case evDrop:
		if c.state == csDoomed {
			h.closeForNode(c, ev.err)
		}
	case evStall:
		h.checkStall(c)
	case evGone:
		h.uncount(c)
		if c.stall != nil {
			c.stall.Stop()
		}
		delete(h.conns, c.id)
	}
}

// closeForNode reports c closed to the node, which gets nothing more for it.
func (h *host) closeForNode(c *conn, err error) {
	c.state = csClosed
	h.watchIdle(c)
	h.node.Closed(c.id, err)
}

func (h *host) newConn(ch reference.Channel) *conn {
	h.nextID++
	c := &conn{id: h.nextID, ch: ch, wake: make(chan struct{}, 1), ack: make(chan struct{}, 1)}
	c.drainAt.Store(-1)
	h.conns[c.id] = c
	return c
}

// open starts c's reader and writer on nc.
func (h *host) open(c *conn, nc net.Conn) {
	c.nc = nc
	c.state = csOpen
	c.opened = time.Now()
	c.counted = true
	h.sockets++
	c.running.Store(2)
	h.wg.Go(func() { h.readLoop(c) })
	h.wg.Go(func() { h.writeLoop(c) })
}

func (h *host) accept(nc net.Conn, ch reference.Channel) {
	if h.sockets >= h.lim.MaxConns && !h.makeRoom() {
		h.rejected.Add(1)
		resetConn(nc)
		return
	}
	h.accepted.Add(1)
	c := h.newConn(ch)
	h.open(c, nc)
	h.node.Accepted(c.id, ch)
	h.watchIdle(c)
}

func (h *host) dialed(c *conn, nc net.Conn, err error) {
	c.cancel()
	if c.state != csDialing {
		if nc != nil {
			nc.Close()
		}
		delete(h.conns, c.id)
		return
	}
	if err != nil {
		delete(h.conns, c.id)
		h.closeForNode(c, dialErr(err))
		return
	}
	h.open(c, nc)
	h.node.Connected(c.id)
}

// watchIdle arms c's idle timer when c owes the server a handshake or the rest of a frame,
// and disarms it otherwise. The deadline runs from the moment c started owing, so a peer
// trickling bytes cannot hold a connection forever.
func (h *host) watchIdle(c *conn) {
	if !h.server {
		return
	}
	waiting := c.state == csOpen && (!c.answered || c.hdrHave > 0 || c.bodyLeft > 0)
	if waiting == (c.idle != nil) {
		return
	}
	c.idleGen++
	if !waiting {
		c.idle.Stop()
		c.idle = nil
		return
	}
	gen := c.idleGen
	c.idle = time.AfterFunc(h.lim.IdleTimeout, func() { h.post(event{kind: evIdle, c: c, gen: gen}) })
}

// flushAndClose closes c gracefully: the writer sends what is queued, then half-closes; the
// reader drains until the peer's FIN. Linger bounds both, against a peer that never reads or
// never closes.
func (h *host) flushAndClose(c *conn) {
	c.discard.Store(true)
	c.nc.SetDeadline(time.Now().Add(h.lim.Linger))
	c.mu.Lock()
	c.fin = true
	c.mu.Unlock()
	c.signal()
}

func (h *host) uncount(c *conn) {
	if c.counted {
		c.counted = false
		h.sockets--
	}
}

// makeRoom resets the connection that costs the others most, if one does (Limits.MaxConns
// says which), and reports whether it found one.
func (h *host) makeRoom() bool {
	var victim *conn
	var best [2]int64
	for _, c := range h.conns {
		// The highest key goes: its class, then the most unsent bytes or the oldest.
		var key [2]int64
		switch {
		case !c.counted || c.nc == nil:
			continue
		case c.state != csOpen:
			key = [2]int64{5, -int64(c.id)} // closing: of no use to anyone
		case !c.answered && !c.heard.Load() && time.Since(c.opened) >= handshakeGrace:
			key = [2]int64{4, -int64(c.id)} // silent since it connected
		case c.stall != nil && c.written.Load() == c.stallAt && time.Since(c.stallSince) >= stallGrace:
			key = [2]int64{3, c.pending.Load()} // over StallBytes and reading nothing: furthest behind
		case c.ch == reference.ChanRequest:
			// A request channel lives only until its history is read; an honest client
			// reset here fails loudly and opens again.
			key = [2]int64{2, -int64(c.id)}
		default:
			continue // a subscriber keeping up: never evicted
		}
		if victim == nil || key[0] > best[0] || (key[0] == best[0] && (key[1] > best[1] || key[1] == best[1] && c.id < victim.id)) {
			victim, best = c, key
		}
	}
	if victim == nil {
		return false
	}
	h.evictions.Add(1)
	if victim.state == csOpen {
		h.closeForNode(victim, ErrEvicted)
	}
	h.reset(victim)
	return true
}

// handshakeGrace is how long a connection may stay silent before it counts as a waste of a
// slot at the cap. One that sent its handshake is waiting for a busy server, not wasting it.
const handshakeGrace = time.Second

// stallGrace is how long a connection must have read nothing, over StallBytes, before it
// counts as furthest behind at the cap: an honest reader is never that still.
const stallGrace = 100 * time.Millisecond

// watchStall arms c's stall timer when c is a server's request channel over StallBytes.
func (h *host) watchStall(c *conn) {
	if !h.server || c.ch != reference.ChanRequest || c.stall != nil || c.pending.Load() <= int64(h.lim.StallBytes) {
		return
	}
	c.stallAt, c.stallSince = c.written.Load(), time.Now()
	c.stall = time.AfterFunc(h.lim.StallTimeout, func() { h.post(event{kind: evStall, c: c}) })
}

// checkStall closes c with an Error if its client read nothing since the stall timer was
// armed and it is still over StallBytes; a client that read some gets another timeout.
func (h *host) checkStall(c *conn) {
	c.stall = nil
	if c.state != csOpen || c.pending.Load() <= int64(h.lim.StallBytes) {
		return
	}
	if c.written.Load() != c.stallAt {
		h.watchStall(c)
		return
	}
	h.stalls.Add(1)
	h.closeForNode(c, ErrStalled)
	// What is queued is whole frames (the writer takes everything queued at once), so the
	// Error follows the last frame the client gets intact.
	c.mu.Lock()
	dropped := queued(c.out)
	c.out = recycle(c.out)
	c.mu.Unlock()
	c.pending.Add(-int64(dropped))
	c.push(wire.AppendMsg(nil, wire.Error{Text: fmt.Sprintf("history not read for %v: closing; request it again", h.lim.StallTimeout)}))
	h.flushAndClose(c)
}

// reset drops c's queue and resets its socket.
func (h *host) reset(c *conn) {
	h.uncount(c)
	c.discard.Store(true)
	c.mu.Lock()
	c.abort = true
	c.out = recycle(c.out)
	c.mu.Unlock()
	c.signal()
	resetConn(c.nc)
}

// resetConn closes nc with a TCP RST rather than a FIN, so the peer learns at once and the
// socket skips TIME_WAIT.
func resetConn(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	nc.Close()
}

func (h *host) readLoop(c *conn) {
	defer h.release(c)
	buf := make([]byte, h.readBuf)
	for {
		n, err := c.nc.Read(buf)
		if n > 0 {
			c.heard.Store(true)
		}
		if n > 0 && !c.discard.Load() {
			if !h.post(event{kind: evRecv, c: c, p: buf[:n]}) {
				return
			}
			select {
			case <-c.ack:
			case <-h.exited:
				return
			}
		}
		if err != nil {
			h.post(event{kind: evReadEnd, c: c, err: err})
			return
		}
	}
}

func (h *host) writeLoop(c *conn) {
	defer h.release(c)
	var out []*[]byte
	for {
		var fin, abort bool
		out, fin, abort = c.take(out)
		switch {
		case abort:
			return
		case len(out) > 0:
			for _, b := range out {
				n, err := c.nc.Write(*b)
				c.written.Add(int64(n))
				c.pending.Add(-int64(n))
				if c.drained() {
					h.post(event{kind: evTimer, t: &nodeTimer{id: c.drainID.Load()}})
				}
				if err != nil {
					h.post(event{kind: evWriteErr, c: c, err: err})
					return
				}
			}
			out = recycle(out)
			continue
		case fin:
			if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
			return
		}
		select {
		case <-c.wake:
		case <-h.exited:
			return
		}
	}
}

// release is called by c's reader and writer as they end; the last one closes the socket.
func (h *host) release(c *conn) {
	if c.running.Add(-1) == 0 {
		c.nc.Close()
		h.post(event{kind: evGone, c: c})
	}
}

// acceptLoop feeds the loop what l accepts until l is closed.
func (h *host) acceptLoop(l net.Listener, ch reference.Channel) {
	backoff := 5 * time.Millisecond
	for {
		nc, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors or similar: retrying at once would spin.
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-h.exited:
				t.Stop()
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		if !h.post(event{kind: evAccept, nc: nc, ch: ch}) {
			nc.Close()
			return
		}
	}
}

// peerErr maps how a socket ended to the node's vocabulary.
func peerErr(err error) error {
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return reference.ErrReset
	}
	return err
}

// dialErr maps a failed connect to the node's vocabulary; a Unix socket path that does not
// exist is nobody listening, as a refused TCP port is.
func dialErr(err error) error {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
		return reference.ErrRefused
	}
	return err
}

// Now is the time since the host started.
func (h *host) Now() int64 { return time.Since(h.start).Nanoseconds() }

// Dial connects asynchronously; the node gets Connected or Closed.
func (h *host) Dial(ch reference.Channel) reference.ConnID {
	if h.server {
		panic("tcp: the server node dialed: only clients dial in stream+")
	}
	c := h.newConn(ch)
	c.state = csDialing
	ctx, cancel := context.WithTimeout(context.Background(), h.lim.DialTimeout)
	c.cancel = cancel
	addr := h.addrs[ch]
	h.wg.Go(func() {
		var d net.Dialer
		nc, err := d.DialContext(ctx, network(addr), addr)
		if !h.post(event{kind: evDialed, c: c, nc: nc, err: err}) && nc != nil {
			nc.Close()
		}
	})
	return c.id
}

// live returns c if the node may still use it.
func (h *host) live(id reference.ConnID) *conn {
	c := h.conns[id]
	if c == nil || (c.state != csOpen && c.state != csDialing) {
		return nil
	}
	return c
}

// Send queues p; bytes sent while dialing go out once connected. A send that would push the
// queue past MaxQueueBytes resets c instead, and the node hears of it after the current event.
func (h *host) Send(id reference.ConnID, p []byte) {
	c := h.live(id)
	if c == nil || len(p) == 0 {
		return
	}
	if !c.answered {
		c.answered = true
		h.watchIdle(c)
	}
	if c.pending.Load()+int64(len(p)) > int64(h.lim.MaxQueueBytes) {
		h.slowDrops.Add(1)
		if c.nc != nil {
			h.reset(c)
		} else {
			c.cancel()
		}
		c.state = csDoomed
		h.watchIdle(c)
		h.local = append(h.local, event{kind: evDrop, c: c, err: ErrSlowConsumer})
		return
	}
	c.push(p)
	h.watchStall(c)
}

// SendCopy is Send, which copies p into the queue.
func (h *host) SendCopy(id reference.ConnID, p []byte) { h.Send(id, p) }

// Close flushes what was queued, then closes.
func (h *host) Close(id reference.ConnID) {
	c := h.conns[id]
	if c == nil {
		return
	}
	switch c.state {
	case csDialing:
		c.state = csClosed
		c.cancel()
	case csOpen:
		c.state = csClosed
		h.watchIdle(c)
		h.flushAndClose(c)
	case csDoomed:
		// Already reset; the closer gets no event, so the queued Closed is dropped.
		c.state = csClosed
	}
}

// SetTimer calls the node's Timer(id) on the loop after d nanoseconds; one due now needs no
// clock and no goroutine.
func (h *host) SetTimer(d int64, id uint64) {
	if d <= 0 {
		h.soon = append(h.soon, id)
		return
	}
	t := &nodeTimer{id: id}
	h.timers[t] = struct{}{}
	t.t = time.AfterFunc(time.Duration(max(d, 0)), func() { h.post(event{kind: evTimer, t: t}) })
}

// OnDrained calls the node's Timer(tid) once id's unsent bytes are down to below: the
// writer raises it as it writes, so a paused history stream resumes without polling.
func (h *host) OnDrained(id reference.ConnID, below int, tid uint64) {
	c := h.live(id)
	if c == nil {
		return
	}
	c.drainID.Store(tid)
	c.drainAt.Store(int64(below))
	// The writer may have drained it before the watch was armed.
	if c.drained() {
		h.soon = append(h.soon, tid)
	}
}

// drained disarms c's drain watch and reports true if it was armed and c is down to it.
func (c *conn) drained() bool {
	w := c.drainAt.Load()
	return w >= 0 && c.pending.Load() <= w && c.drainAt.CompareAndSwap(w, -1)
}

// Pending is what was sent on id and not yet written to its socket.
func (h *host) Pending(id reference.ConnID) int {
	if c := h.live(id); c != nil {
		return int(c.pending.Load())
	}
	return 0
}
