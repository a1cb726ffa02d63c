package tcp

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/reference/storage"
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
	Stalls       uint64 // request channels closed for not reading (StallBytes, StallTimeout)
	Evictions    uint64 // reset to make room for a new connection at MaxConns
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

// listen listens on addr. A Unix socket file left by a server that was killed is removed
// first, once a connect to it proves nobody listens there.
func listen(addr string) (net.Listener, error) {
	l, err := net.Listen(network(addr), addr)
	if err == nil || network(addr) != "unix" || !errors.Is(err, syscall.EADDRINUSE) {
		return l, err
	}
	nc, derr := net.DialTimeout("unix", addr, time.Second)
	if derr == nil {
		nc.Close()
		return nil, err // somebody does listen
	}
	if !errors.Is(derr, syscall.ECONNREFUSED) {
		return nil, err
	}
	if rerr := os.Remove(addr); rerr != nil {
		return nil, fmt.Errorf("%w (a stale socket file that could not be removed: %v)", err, rerr)
	}
	return net.Listen("unix", addr)
}

// serve runs the node newNode builds on a host listening on both addresses.
func serve(onlineAddr, requestAddr string, lim Limits, newNode func(reference.Env) reference.Node) (*host, error) {
	lo, err := listen(onlineAddr)
	if err != nil {
		return nil, err
	}
	lr, err := listen(requestAddr)
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
// be reused once Post returns. After Close it returns ErrClosed. Each call is a round trip to
// the loop; PostBatch amortises it.
func (s *ServerHost) Post(seq int64, msgid int32, body []byte) (int64, error) {
	var res [1]PostResult
	if _, err := s.PostBatch([]storage.Record{{Seq: seq, MsgID: msgid, Body: body}}, res[:0]); err != nil {
		return 0, err
	}
	return res[0].Seq, res[0].Err
}

// PostResult is what one post of a batch came to: the seq stored, or why it was refused.
type PostResult = reference.PostResult

// PostBatch posts msgs in order, as that many calls of Post would, in one trip to the loop,
// and appends each one's result to res (reference.Server.PostBatch). The subscribers' writers
// see the whole batch at once, so its frames leave in as few writes as the sockets allow.
// Bodies may be reused once it returns. After Close it returns ErrClosed, and res as it was.
func (s *ServerHost) PostBatch(msgs []storage.Record, res []PostResult) ([]PostResult, error) {
	n := len(res)
	err := s.h.do(func() { res = s.srv.PostBatch(msgs, res) })
	if err != nil {
		return res[:n], err
	}
	return res, nil
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
		Stalls:       s.h.stalls.Load(),
		Evictions:    s.h.evictions.Load(),
	}
}

// Close stops listening, closes every connection without flushing, and returns once every
// goroutine of the host has ended. It is idempotent.
func (s *ServerHost) Close() { s.h.stop(true) }
