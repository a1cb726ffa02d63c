package tcp

import "github.com/streamsim/streamsim/reference"

// ClientHost runs a reference.Client against a server's two endpoints.
//
// The Handler's callbacks run on the host's loop goroutine, one at a time. They must not
// block, and the body passed to Data is valid only during the call. A Handler that is also
// an Idler gets Idle, on the loop, each time the loop has handled every event it had: the
// moment to flush what the callbacks buffered, which costs a lone event no wait and gathers
// a burst into one write. A callback may call the
// ClientHost's Open, Close and Shutdown: those detect that they are on the loop and act
// inline instead of waiting for it (Shutdown then only starts the stop; call it again from
// another goroutine to wait for it).
type ClientHost struct {
	h   *host
	cli *reference.Client
}

// DialClient starts a client host. It connects nothing until Open; addresses are HOST:PORT
// for TCP or a path containing '/' for a Unix socket.
func DialClient(onlineAddr, requestAddr string, h reference.Handler, cfg reference.ClientConfig, opts ...Option) *ClientHost {
	hs := newHost(limitsOf(opts), false, 64<<10)
	hs.addrs = [2]string{reference.ChanOnline: onlineAddr, reference.ChanRequest: requestAddr}
	if i, ok := h.(Idler); ok {
		hs.idle = i.Idle
	}
	c := &ClientHost{h: hs, cli: reference.NewClient(hs, h, cfg)}
	hs.node = c.cli
	hs.run()
	return c
}

// Open starts a session (reference.Client.Open). It returns once the open has been issued;
// progress arrives through the Handler. After Shutdown it returns ErrClosed.
func (c *ClientHost) Open(mode reference.Mode, seq int64) error {
	if c.h.onLoop() {
		return c.cli.Open(mode, seq)
	}
	var oerr error
	if err := c.h.do(func() { oerr = c.cli.Open(mode, seq) }); err != nil {
		return err
	}
	return oerr
}

// Close ends the session as the application's close (reference.Client.Close): its
// connections are closed gracefully, and any State(Closed) it causes reaches the Handler
// before Close returns. After Shutdown it does nothing.
func (c *ClientHost) Close() {
	if c.h.onLoop() {
		c.cli.Close()
		return
	}
	c.h.do(c.cli.Close)
}

// Shutdown stops the host and closes its sockets without flushing. Called from another
// goroutine, it returns once every goroutine of the host has ended, and no callback runs
// after that. Called from a callback, it only starts the stop: the loop ends after the
// current event. It is idempotent.
func (c *ClientHost) Shutdown() { c.h.stop(!c.h.onLoop()) }

// Idler is a Handler that wants to know when the client host's loop runs out of work.
type Idler interface {
	Idle()
}
