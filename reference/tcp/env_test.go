package tcp

import (
	"errors"
	"fmt"
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
}

func (p *probe) Accepted(c reference.ConnID, _ reference.Channel) { p.accepted(p.env, c) }
func (p *probe) Connected(reference.ConnID)                       {}
func (p *probe) Received(reference.ConnID, []byte)                {}
func (p *probe) Timer(uint64)                                     {}
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
