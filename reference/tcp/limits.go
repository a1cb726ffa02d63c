package tcp

import (
	"cmp"
	"time"

	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/reference/wire"
)

// Limits bound what one peer can cost a host. Zero fields take the defaults noted. The
// server host applies all of them; the client host only MaxQueueBytes, Linger and
// DialTimeout.
type Limits struct {
	// MaxConns caps the server's open sockets, both channels and lingering closes included.
	// A connection accepted at the cap first makes room by resetting one that costs the
	// others: a lingering close, then one that has not finished its handshake, then the
	// request channel furthest behind (over StallBytes unsent, nothing read for a moment),
	// then the oldest request channel (a client reset there fails loudly and opens again). Online subscribers are
	// never evicted: when all are, the new connection is reset at once, before the node
	// hears of it. Default 1024.
	MaxConns int
	// StallBytes and StallTimeout bound a request channel whose client does not read: one
	// with more than StallBytes unsent that writes nothing for StallTimeout is sent an Error
	// and closed (its history can be fetched again). Defaults 64 KiB and 10 s.
	StallBytes   int
	StallTimeout time.Duration
	// IdleTimeout is how long an accepted connection may go without a complete handshake
	// (nothing, or part of a Hello or Request), and how long a request-channel frame may
	// stay incomplete after its first byte. Trickling bytes do not extend it. Default 10 s.
	IdleTimeout time.Duration
	// MaxQueueBytes caps a connection's outgoing queue. A send that would exceed it resets
	// the connection, so a stuck subscriber costs at most this much. It must hold the
	// largest single send: a history batch (ServerConfig.HistoryBatchMsgs frames). Default
	// 8 MiB.
	MaxQueueBytes int
	// Linger bounds a graceful close: flushing the queue and waiting for the peer's FIN.
	// Default 5 s.
	Linger time.Duration
	// DialTimeout bounds a client's connect. Default 10 s.
	DialTimeout time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.MaxConns <= 0 {
		l.MaxConns = 1024
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = 10 * time.Second
	}
	if l.MaxQueueBytes <= 0 {
		l.MaxQueueBytes = 8 << 20
	}
	if l.StallBytes <= 0 {
		l.StallBytes = 64 << 10
	}
	if l.StallTimeout <= 0 {
		l.StallTimeout = 10 * time.Second
	}
	if l.Linger <= 0 {
		l.Linger = 5 * time.Second
	}
	if l.DialTimeout <= 0 {
		l.DialTimeout = 10 * time.Second
	}
	return l
}

// Option configures a host.
type Option func(*Limits)

// WithLimits replaces the host's limits; zero fields still take their defaults.
func WithLimits(l Limits) Option { return func(dst *Limits) { *dst = l } }

func limitsOf(opts []Option) Limits {
	var l Limits
	for _, o := range opts {
		o(&l)
	}
	return l.withDefaults()
}

// LimitsFor returns the default limits, with a queue that holds the largest sends a server
// built from cfg makes: a subscriber's lag bound plus one message, or a paused history's
// bound plus one batch, or the default if that is larger.
func LimitsFor(cfg reference.ServerConfig) Limits {
	l := Limits{}.withDefaults()
	frame := cmp.Or(cfg.MaxMsgBytes, 64<<10) + wire.HeaderSize
	lag := cmp.Or(cfg.SubscriberMaxLagBytes, 1<<20) + frame
	batch := cmp.Or(cfg.HistoryBatchBytes, cmp.Or(cfg.HistoryBatchMsgs, 64)*frame) + frame
	history := cmp.Or(cfg.HistoryMaxPendingBytes, 256<<10) + batch
	l.MaxQueueBytes = max(l.MaxQueueBytes, lag, history)
	return l
}
