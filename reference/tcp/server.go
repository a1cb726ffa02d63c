package tcp

import (
	"net"

	"github.com/streamsim/streamsim/reference"
)

// ServerHost runs a reference.Server on two listening sockets: the online (pub+tcp) endpoint
// and the request endpoint.
type ServerHost struct {
	h               *host
	srv             *reference.Server
	online, request string
}

// Stats counts what the server host's limits did.
type Stats struct {
	Accepted     uint64 // connections handed to the node
	Rejected     uint64 // reset on accept because MaxConns sockets were open
	IdleTimeouts uint64 // closed after IdleTimeout without a complete handshake or frame
	SlowDrops    uint64 // reset because their outgoing queue passed MaxQueueBytes
}

// ListenServer listens on both addresses (HOST:PORT for TCP, a path containing '/' for a
// Unix socket; port 0 picks a free port) and serves a reference.Server built from cfg.
func ListenServer(onlineAddr, requestAddr string, cfg reference.ServerConfig, opts ...Option) (*ServerHost, error) {
	s := &ServerHost{}
	h, err := serve(onlineAddr, requestAddr, limitsOf(opts), func(env reference.Env) reference.Node {
		s.srv = reference.NewServer(env, cfg)
		return s.srv
	})
	if err != nil {
		return nil, err
	}
	s.h = h
	s.online, s.request = h.listeners[reference.ChanOnline].Addr().String(), h.listeners[reference.ChanRequest].Addr().String()
	return s, nil
}

// serve runs the node newNode builds on a host listening on both addresses.
func serve(onlineAddr, requestAddr string, lim Limits, newNode func(reference.Env) reference.Node) (*host, error) {
	lo, err := net.Listen(network(onlineAddr), onlineAddr)
	if err != nil {
		return nil, err
	}
	lr, err := net.Listen(network(requestAddr), requestAddr)
	if err != nil {
		lo.Close()
		return nil, err
	}
	h := newHost(lim, true, 4<<10) // clients send only small handshakes
	h.node = newNode(h)
	h.listeners = []net.Listener{reference.ChanOnline: lo, reference.ChanRequest: lr}
	h.wg.Go(func() { h.acceptLoop(lo, reference.ChanOnline) })
	h.wg.Go(func() { h.acceptLoop(lr, reference.ChanRequest) })
	h.run()
	return h, nil
}

// Post stores a message and publishes it (reference.Server.Post, run on the loop). body may
// be reused once Post returns. After Close it returns ErrClosed.
func (s *ServerHost) Post(seq int64, msgid int32, body []byte) (int64, error) {
	var got int64
	var perr error
	if err := s.h.do(func() { got, perr = s.srv.Post(seq, msgid, body) }); err != nil {
		return 0, err
	}
	return got, perr
}

// Addrs returns the bound online and request addresses.
func (s *ServerHost) Addrs() (online, request string) { return s.online, s.request }

// Stats returns the counters so far.
func (s *ServerHost) Stats() Stats {
	return Stats{
		Accepted:     s.h.accepted.Load(),
		Rejected:     s.h.rejected.Load(),
		IdleTimeouts: s.h.idleTimeouts.Load(),
		SlowDrops:    s.h.slowDrops.Load(),
	}
}

// Close stops listening, closes every connection without flushing, and returns once every
// goroutine of the host has ended. It is idempotent.
func (s *ServerHost) Close() { s.h.stop(true) }
