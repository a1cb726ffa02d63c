package tcp

import (
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/streamsim/streamsim/reference"
)

// probe is a server node that does what a test tells it on each accept and reports the
// Closed events it gets.
type probe struct {
	env      reference.Env
	accepted func(env reference.Env, c reference.ConnID)
	closed   chan string
	timers   chan uint64 // nil: timers are ignored
}

func (p *probe) Accepted(c reference.ConnID, _ reference.Channel) { p.accepted(p.env, c) }
func (p *probe) Connected(reference.ConnID)                       {}
func (p *probe) Received(reference.ConnID, []byte)                {}
func (p *probe) Timer(id uint64) {
	if p.timers != nil {
		p.timers <- id
	}
}
func (p *probe) Closed(c reference.ConnID, err error) {
	p.closed <- fmt.Sprintf("closed %d: %v", c, err)
}

// A connection the host reset for its queue is reported to the node after the event that
// overflowed it, unless the node closed it meanwhile: the closer gets no event.
func TestEnvDroppedThenClosed(t *testing.T) {
	const limit = 1 << 10
	p := &probe{closed: make(chan string, 4), accepted: func(env reference.Env, c reference.ConnID) {
		env.Send(c, make([]byte, limit+1))
		if c == 1 {
			env.Close(c)
		}
	}}
	h, err := serve("127.0.0.1:0", "127.0.0.1:0", Limits{MaxQueueBytes: limit}.withDefaults(), func(env reference.Env) reference.Node {
		p.env = env
		return p
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.stop(true)
	online := h.listeners[reference.ChanOnline].Addr().String()
	dialHangup(t, online)
	dialHangup(t, online)
	select {
	case got := <-p.closed:
		if want := fmt.Sprintf("closed 2: %v", ErrSlowConsumer); got != want {
			t.Fatalf("node got %q first, want %q", got, want)
		}
	case <-time.After(patience):
		t.Fatal("the node never heard of the dropped connection")
	}
	if !errors.Is(ErrSlowConsumer, reference.ErrReset) {
		t.Fatal("ErrSlowConsumer does not wrap reference.ErrReset")
	}
}

// A drain watch fires once the peer has read the backlog down to it, and not before: what lets
// a paused history stream resume without a poll.
func TestEnvOnDrained(t *testing.T) {
	const backlog = 32 << 20 // far above what loopback socket buffers hold
	p := &probe{closed: make(chan string, 4), timers: make(chan uint64, 4), accepted: func(env reference.Env, c reference.ConnID) {
		env.Send(c, make([]byte, backlog))
		env.(reference.Drainer).OnDrained(c, 64<<10, 77)
	}}
	h, err := serve("127.0.0.1:0", "127.0.0.1:0", Limits{MaxQueueBytes: 2 * backlog}.withDefaults(), func(env reference.Env) reference.Node {
		p.env = env
		return p
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.stop(true)
	nc := dialRaw(t, h.listeners[reference.ChanOnline].Addr().String())
	// Nobody reads yet: the socket buffers take far less than the backlog, so the watch
	// cannot fire however long the writer tries.
	var pending int
	for range 100 {
		if err := h.do(func() { pending = h.Pending(1) }); err != nil {
			t.Fatal(err)
		}
		if pending > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case id := <-p.timers:
		t.Fatalf("timer %d fired with %d bytes unread", id, pending)
	default:
	}
	if _, err := io.CopyN(io.Discard, nc, backlog); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-p.timers:
		if id != 77 {
			t.Fatalf("timer %d, want 77", id)
		}
	case <-time.After(patience):
		t.Fatal("the drain watch never fired after the peer read everything")
	}
}
