package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/reference/tcp"
)

// cmdSubscribe runs one reference client session on real sockets, writing its history.
func cmdSubscribe(args []string, stdout io.Writer) (int, error) {
	o, err := clientFlags("subscribe", args)
	if err != nil {
		return 2, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return subscribe(ctx, o, stdout)
}

// subscriber is the application of subscribe: it writes every event as a history line of
// session 1, and reports the session's end. Events are gathered and written when the client
// host's loop runs out of work (Idle), when many have gathered, and at the end, so a burst of
// history costs a few large writes and a lone live message is written at once.
type subscriber struct {
	node  string
	mu    sync.Mutex
	out   io.Writer
	held  checker.History // written at the next flush
	err   error           // the first write failure
	why   string          // the reason of the session's Error
	ended chan struct{}   // closed when the session ends (Error or Closed) or output fails
	once  sync.Once
}

// subscribeHeldMax bounds the events held between flushes.
const subscribeHeldMax = 4096

func (s *subscriber) write(e checker.Event) {
	e.T, e.Node, e.Session = time.Now().UnixNano(), s.node, 1
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	s.held = append(s.held, e)
	if len(s.held) >= subscribeHeldMax {
		s.flushLocked()
	}
}

// Idle flushes: the client host calls it when its loop has nothing more to do.
func (s *subscriber) Idle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked()
}

func (s *subscriber) flushLocked() {
	if s.err != nil || len(s.held) == 0 {
		return
	}
	if s.err = checker.WriteHistory(s.out, s.held); s.err != nil {
		s.end()
	}
	clear(s.held)
	s.held = s.held[:0]
}

func (s *subscriber) end() { s.once.Do(func() { close(s.ended) }) }

func (s *subscriber) Data(seq int64, msgid int32, body []byte) {
	s.write(checker.Event{Kind: checker.EvDeliver, Seq: seq, MsgID: msgid, Sum: checker.Checksum(body)})
}

func (s *subscriber) Control(c reference.Control, seq int64) {
	s.write(checker.Event{Kind: checker.EvControl, Name: c.String(), Seq: seq})
}

func (s *subscriber) State(st reference.State, reason string) {
	if st == reference.StateOpening {
		return
	}
	hs, _ := checker.ParseState(st.String()) // Opening, the one state the history has no name for, returned above
	s.write(checker.Event{Kind: checker.EvState, State: hs, Reason: reason})
	if st == reference.StateError {
		s.mu.Lock()
		s.why = reason
		s.mu.Unlock()
	}
	if st == reference.StateError || st == reference.StateClosed {
		s.end()
	}
}

func (s *subscriber) Phase(p reference.Phase, seq int64) {
	s.write(checker.Event{Kind: checker.EvPhase, Name: p.String(), Seq: seq})
}

// subscribe opens one session and writes its history until ctx ends (exit 0: the session is
// closed) or the session fails (exit 1).
func subscribe(ctx context.Context, o clientOpts, stdout io.Writer) (code int, err error) {
	s := &subscriber{node: o.cfg.Peer, out: stdout, ended: make(chan struct{})}
	host := tcp.DialClient(o.online, o.request, s, o.cfg)
	defer host.Shutdown()
	hm, _ := checker.ParseMode(o.mode.String()) // the reference's modes and the history's have the same names
	s.write(checker.Event{Kind: checker.EvOpen, Mode: hm, ReqSeq: o.seq})
	if err := host.Open(o.mode, o.seq); err != nil {
		s.write(checker.Event{Kind: checker.EvState, State: checker.StError, Reason: err.Error()})
		s.Idle()
		return 2, usagef("subscribe: %v", err)
	}
	select {
	case <-ctx.Done():
		s.write(checker.Event{Kind: checker.EvClose})
		host.Close()
	case <-s.ended:
		code = 1
	}
	// The host stops before the last flush, so no callback writes after it.
	host.Shutdown()
	s.Idle()
	if s.err != nil {
		return code, fmt.Errorf("subscribe: writing the history: %w", s.err)
	}
	if s.why != "" {
		// The history says it too, but whoever ran subscribe reads stderr.
		return code, fmt.Errorf("subscribe: the session failed: %s", s.why)
	}
	return code, nil
}
