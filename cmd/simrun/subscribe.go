package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
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
// session 1, in the format checker.WriteHistory writes (README, "History files"). Lines are
// appended to one buffer with strconv, so an event costs no allocation, and the buffer is
// written when the client host's loop runs out of work (Idle), when it holds
// subscribeFlushBytes, and at the end: a burst of history costs a few large writes and a lone
// live message is written at once.
type subscriber struct {
	// mid is what comes between a line's time and its kind, the same on every line.
	mid []byte
	// A line's t is t0, the wall time at start, plus the monotonic time since start, so that t
	// never decreases, even when the wall clock is set back.
	start time.Time
	t0    int64
	mu    sync.Mutex
	out   io.Writer
	// buf holds the lines not yet written. It is written once it reaches subscribeFlushBytes,
	// so it holds that and at most one line more; the longest line is an Error, whose reason
	// quotes at most one frame of the --max-size the user chose.
	buf   []byte
	err   error         // the first write failure; nothing is buffered after it
	why   string        // the reason of the session's Error
	ended chan struct{} // closed when the session ends (Error or Closed) or output fails
	once  sync.Once
}

// subscribeFlushBytes is how much history a burst gathers before a write: large enough that a
// write costs little per line, small enough that a consumer sees lines while the burst goes on.
const subscribeFlushBytes = 64 << 10

func newSubscriber(node string, out io.Writer) *subscriber {
	mid := checker.AppendJSONString([]byte(`,"node":`), node)
	mid = append(mid, `,"session":1,"ev":"`...)
	now := time.Now()
	return &subscriber{
		mid: mid, start: now, t0: now.UnixNano(), out: out,
		// A line is about 110 bytes; the spare room keeps the usual last one from growing buf.
		buf:   make([]byte, 0, subscribeFlushBytes+1<<10),
		ended: make(chan struct{}),
	}
}

// begin locks s and starts a line of kind ev in the buffer, stamped now: under the lock, so
// that the order of the lines is the order of their times. The line is built in the slice
// returned and handed back to finish. It returns false, unlocked, once output has failed.
func (s *subscriber) begin(ev string) ([]byte, bool) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return nil, false
	}
	b := append(s.buf, `{"t":`...)
	b = strconv.AppendInt(b, s.t0+int64(time.Since(s.start)), 10)
	b = append(b, s.mid...)
	b = append(b, ev...)
	return append(b, '"'), true
}

// finish ends the line begun in b, writes the buffer if it is full, and unlocks s.
func (s *subscriber) finish(b []byte) {
	s.buf = append(b, '}', '\n')
	if len(s.buf) >= subscribeFlushBytes {
		s.flushLocked()
	}
	s.mu.Unlock()
}

// appendInt and appendString append a field to a line; key is `,"name":`.
func appendInt(b []byte, key string, v int64) []byte {
	return strconv.AppendInt(append(b, key...), v, 10)
}

func appendString(b []byte, key, v string) []byte {
	return checker.AppendJSONString(append(b, key...), v)
}

// Idle flushes: the client host calls it when its loop has nothing more to do.
func (s *subscriber) Idle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked()
}

func (s *subscriber) flushLocked() {
	if s.err != nil || len(s.buf) == 0 {
		return
	}
	_, s.err = s.out.Write(s.buf)
	s.buf = s.buf[:0]
	if s.err != nil {
		s.end()
	}
}

func (s *subscriber) end() { s.once.Do(func() { close(s.ended) }) }

func (s *subscriber) Data(seq int64, msgid int32, body []byte) {
	sum := checker.Checksum(body) // outside the lock: the other writer may be waiting for it
	b, ok := s.begin("deliver")
	if !ok {
		return
	}
	b = appendInt(b, `,"seq":`, seq)
	b = appendInt(b, `,"msgid":`, int64(msgid))
	s.finish(strconv.AppendUint(append(b, `,"sum":`...), uint64(sum), 10))
}

func (s *subscriber) Control(c reference.Control, seq int64) {
	if b, ok := s.begin("control"); ok {
		s.finish(appendInt(appendString(b, `,"name":`, c.String()), `,"seq":`, seq))
	}
}

func (s *subscriber) State(st reference.State, reason string) {
	if st == reference.StateOpening {
		return
	}
	if b, ok := s.begin("state"); ok {
		b = appendString(b, `,"state":`, st.String())
		if reason != "" { // optional: written only when there is one
			b = appendString(b, `,"reason":`, reason)
		}
		s.finish(b)
	}
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
	if b, ok := s.begin("phase"); ok {
		s.finish(appendInt(appendString(b, `,"name":`, p.String()), `,"seq":`, seq))
	}
}

// open and closing record the application's own calls.
func (s *subscriber) open(mode reference.Mode, seq int64) {
	if b, ok := s.begin("open"); ok {
		s.finish(appendInt(appendString(b, `,"mode":`, mode.String()), `,"req_seq":`, seq))
	}
}

func (s *subscriber) closing() {
	if b, ok := s.begin("close"); ok {
		s.finish(b)
	}
}

// subscribe opens one session and writes its history until ctx ends (exit 0: the session is
// closed) or the session fails (exit 1).
func subscribe(ctx context.Context, o clientOpts, stdout io.Writer) (code int, err error) {
	s := newSubscriber(o.cfg.Peer, stdout)
	host := tcp.DialClient(o.online, o.request, s, o.cfg)
	defer host.Shutdown()
	s.open(o.mode, o.seq)
	if err := host.Open(o.mode, o.seq); err != nil {
		s.State(reference.StateError, err.Error())
		s.Idle()
		return 2, usagef("subscribe: %v", err)
	}
	select {
	case <-ctx.Done():
		s.closing()
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
		return code, fmt.Errorf("subscribe: the session failed: %s%s", s.why, limitHint(s.why))
	}
	return code, nil
}

// limitHint names the flag that sets the limit a session failed on, if it failed on one: the
// client's reasons (wire's frame limit, the client's live buffer) cannot know the flag.
func limitHint(why string) string {
	switch {
	case strings.Contains(why, "-byte body, limit is "):
		return " (--max-size sets the limit)"
	case strings.Contains(why, "-byte buffer"):
		return " (--buffer sets its size)"
	}
	return ""
}
