// Package reference is the reference stream+ implementation: a server and a client written as
// sans-IO state machines. A node never touches sockets, clocks, goroutines or global random
// state; it reacts to events delivered by its host and acts only through the Env it is given.
// The deterministic simulator (netsim) and the socket runtime (reference/tcp) are two hosts
// for the same code.
package reference

import "errors"

// ConnID names one connection end inside a host. IDs are assigned by the host and never
// reused within a run, so a late event for a closed connection cannot be confused with a
// new one.
type ConnID uint64

// Channel tells which of the two stream+ connections a connection is. Hosts use it to apply
// per-channel faults; nodes use it to know what an accepted connection is for.
type Channel uint8

const (
	ChanOnline  Channel = iota // pub+tcp: handshake, then live data server→client
	ChanRequest                // tcp: Request/Reply, then history, then ClientDone
)

func (c Channel) String() string {
	if c == ChanOnline {
		return "online"
	}
	return "request"
}

// Env is everything a node may do to the world. Every call is non-blocking; effects show up
// later as events on this or another node. Time is in nanoseconds since the host started
// (virtual under the simulator).
type Env interface {
	Now() int64
	// Dial opens a connection to the server's endpoint for ch. The node later gets
	// Connected(c) or Closed(c, err).
	Dial(ch Channel) ConnID
	// Send queues p for delivery in order. The host owns p afterwards: the caller must not
	// modify it (hosts may hand the same slice to several receivers).
	Send(c ConnID, p []byte)
	// Close closes c gracefully: bytes already sent are still delivered, then the peer sees
	// Closed(c, nil). The closing side gets no event for c.
	Close(c ConnID)
	// SetTimer schedules Timer(id) on this node after d nanoseconds (d ≥ 0).
	SetTimer(d int64, id uint64)
	// Pending is how many bytes sent on c have not yet left this node (its send buffer). A
	// server uses it to drop a subscriber that falls too far behind instead of buffering
	// without bound; 0 for an unknown or closed connection.
	Pending(c ConnID) int
}

// Drainer is an Env that can tell a node when a connection drains: after OnDrained(c, below,
// id), Timer(id) comes once Pending(c) ≤ below (at once if it already is), unless c closes
// first.
// A node on an Env without it looks again on a timer.
type Drainer interface {
	OnDrained(c ConnID, below int, id uint64)
}

// CopySender is an Env whose sends can copy: once SendCopy(c, p) returns, p is the caller's
// again, so a node can build what it sends often in one buffer it keeps.
type CopySender interface {
	SendCopy(c ConnID, p []byte)
}

// Node is what a host drives. Every method runs to completion before the next event is
// delivered; a node may call its Env freely from inside any of them.
type Node interface {
	// Accepted: a peer connected to this node's endpoint for ch (servers only).
	Accepted(c ConnID, ch Channel)
	// Connected: a connection this node dialed is established.
	Connected(c ConnID)
	// Received: bytes arrived on c, in order. p is only valid during the call.
	Received(c ConnID, p []byte)
	// Closed: c is gone. err is nil for an orderly close by the peer, ErrReset for a reset,
	// ErrRefused when a dial found nobody listening.
	Closed(c ConnID, err error)
	// Timer: a timer set with SetTimer fired.
	Timer(id uint64)
}

var (
	ErrReset   = errors.New("connection reset")
	ErrRefused = errors.New("connection refused")
)
