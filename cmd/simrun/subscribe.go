package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
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
// session 1, in the format checker.WriteHistory writes (README, "History files").
//
// The client host's loop only records an event: its time, kind and numbers, in a queue. A
// writer goroutine formats the lines with strconv into one buffer and writes it, so that on a
// machine with a second core the formatting overlaps the client's own work, and an event
// costs no allocation. The buffer is written when the client host's loop runs out of work
// (Idle), when it holds subscribeFlushBytes, and at the end: a burst of history costs a few
// large writes and a lone live message is written at once.
type subscriber struct {
	// mid is what comes between a line's time and its kind, the same on every line.
	mid []byte
	// A line's t is t0, the wall time at start, plus the monotonic time since start, so that t
	// never decreases, even when the wall clock is set back.
	start time.Time
	t0    int64
	out   io.Writer
	// now is the last clock reading, which the next clockLeft events share: reading the clock
	// cost a delivery as much as the rest of recording it. Idle sets clockLeft to 0, so an
	// event after a pause reads the clock anew, and one in a burst is stamped at most
	// subscribeClockEvents events early, a few microseconds.
	now       int64
	clockLeft int

	mu sync.Mutex
	// work wakes the writer: a batch is ready, Idle asked for a write, or subscribe is done.
	// room wakes whoever waits for the writer: a recorder for room in the queue, wait for
	// everything to be written.
	work, room sync.Cond
	// queue holds the events recorded and not yet taken by the writer, at most
	// subscribeQueue; spare is the writer's last batch, reused as the next queue.
	queue, spare []line
	flush        bool          // write out everything recorded so far
	stopping     bool          // the session is over: write out everything and return
	taken        bool          // the writer holds a batch it has not finished
	buffered     bool          // buf holds lines not yet written
	err          error         // the first write failure; nothing is recorded after it
	why          string        // the reason of the session's Error
	ended        chan struct{} // closed when the session ends (Error or Closed) or output fails
	once         sync.Once
	done         chan struct{} // closed when the writer has returned

	// deliverStart is a deliver line's start, at deliverT, up to its seq's digits, which begin
	// at seqAt, seq's; msgidSum is its part between seq and sum for msgid (appendDeliver). The
	// writer's.
	deliverT     int64
	seq          int64
	seqAt        int
	deliverStart []byte
	msgid        int32
	msgidSum     []byte
	// buf holds the formatted lines not yet written; the writer's alone. It is written once it
	// reaches subscribeFlushBytes, so it holds that and at most one line more; the longest line
	// is an Error, whose reason quotes at most one frame of the --max-size the user chose.
	buf []byte
}

// line is one recorded event; which fields it uses depends on its kind. It is kept small, the
// names as the numbers they stand for: every entry is written by the loop on one core and read
// by the writer on the other, and the fewer cache lines the queue spans, the fewer move.
type line struct {
	t      int64
	seq    int64  // seq, or an open's req_seq
	num    int32  // a delivery's msgid, or the Control, Phase, State or Mode the line names
	sum    uint32 // a delivery's
	kind   lineKind
	reason string // a state's
}

// lineKind is a line's ev.
type lineKind uint8

const (
	evDeliver lineKind = iota
	evControl
	evPhase
	evState
	evOpen
	evClose
)

var kindNames = [...]string{evDeliver: "deliver", evControl: "control", evPhase: "phase", evState: "state", evOpen: "open", evClose: "close"}

const (
	// subscribeFlushBytes is how much history a burst gathers before a write: large enough
	// that a write costs little per line, small enough that a consumer sees lines while the
	// burst goes on.
	subscribeFlushBytes = 64 << 10
	// subscribePipeBytes is the size subscribe asks for an output pipe, where the system lets
	// it (growPipe): the default, 64 KiB, holds a single one of its writes, so the writer and
	// the reader of a burst wake each other for every write; 1 MiB is the most an
	// unprivileged process may ask by default (/proc/sys/fs/pipe-max-size).
	subscribePipeBytes = 1 << 20
	// subscribeBatch is how many events wake the writer while the loop is still busy: about a
	// buffer's worth of lines (a line is about 110 bytes).
	subscribeBatch = 512
	// subscribeQueue bounds the events waiting for the writer; the loop waits past it.
	subscribeQueue = 8 * subscribeBatch
	// subscribeClockEvents is how many events of a burst share one clock reading.
	subscribeClockEvents = 16
)

func newSubscriber(node string, out io.Writer) *subscriber {
	mid := checker.AppendJSONString([]byte(`,"node":`), node)
	mid = append(mid, `,"session":1,"ev":"`...)
	now := time.Now()
	s := &subscriber{
		mid: mid, start: now, t0: now.UnixNano(), out: out,
		queue: make([]line, 0, subscribeQueue), spare: make([]line, 0, subscribeQueue),
		// The spare room keeps the usual last line from growing buf.
		buf:   make([]byte, 0, subscribeFlushBytes+1<<10),
		ended: make(chan struct{}), done: make(chan struct{}),
	}
	s.work.L, s.room.L = &s.mu, &s.mu
	go s.write()
	return s
}

// record queues a line of kind, stamped now (see clockLeft): under the lock, so that the order
// of the lines is the order of their times. Once output has failed it records nothing.
func (s *subscriber) record(kind lineKind, seq int64, num int32, sum uint32, reason string) {
	s.mu.Lock()
	for len(s.queue) >= subscribeQueue && s.err == nil {
		s.room.Wait()
	}
	if s.err == nil {
		if s.clockLeft == 0 {
			s.now, s.clockLeft = s.t0+int64(time.Since(s.start)), subscribeClockEvents
		}
		s.clockLeft--
		s.queue = append(s.queue, line{t: s.now, seq: seq, num: num, sum: sum, kind: kind, reason: reason})
		if len(s.queue) == subscribeBatch {
			s.work.Signal()
		}
	}
	s.mu.Unlock()
}

// write is the writer goroutine: it takes the queue in batches and formats and writes them,
// until stop.
func (s *subscriber) write() {
	defer close(s.done)
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		for len(s.queue) < subscribeBatch && !s.flush && !s.stopping {
			s.work.Wait()
		}
		batch, stop := s.queue, s.stopping
		flush := s.flush || stop
		s.queue, s.spare, s.flush, s.taken = s.spare, nil, false, true
		s.room.Broadcast()
		s.mu.Unlock()
		err := s.format(batch, flush)
		s.mu.Lock()
		s.spare, s.taken, s.buffered = batch[:0], false, len(s.buf) > 0
		if err != nil && s.err == nil {
			s.err, s.queue = err, s.queue[:0]
			s.end()
		}
		s.room.Broadcast()
		if stop {
			return
		}
	}
}

// format appends the lines of batch to buf, writing it whenever it is full and, with flush,
// at the end.
func (s *subscriber) format(batch []line, flush bool) error {
	b := s.buf
	for i := range batch {
		if l := &batch[i]; l.kind == evDeliver {
			b = s.appendDeliver(b, l)
		} else {
			b = s.appendEvent(b, l)
		}
		if len(b) >= subscribeFlushBytes {
			if _, err := s.out.Write(b); err != nil {
				s.buf = b[:0]
				return err
			}
			b = b[:0]
		}
	}
	s.buf = b
	if flush && len(b) > 0 {
		s.buf = b[:0]
		if _, err := s.out.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// appendEvent appends the line of an event other than a delivery.
func (s *subscriber) appendEvent(b []byte, l *line) []byte {
	b = append(append(s.appendHead(b, l.t), kindNames[l.kind]...), '"')
	switch l.kind {
	case evControl:
		b = appendInt(appendString(b, `,"name":`, reference.Control(l.num).String()), `,"seq":`, l.seq)
	case evPhase:
		b = appendInt(appendString(b, `,"name":`, reference.Phase(l.num).String()), `,"seq":`, l.seq)
	case evState:
		b = appendString(b, `,"state":`, reference.State(l.num).String())
		if l.reason != "" { // optional: written only when there is one
			b = appendString(b, `,"reason":`, l.reason)
		}
	case evOpen:
		b = appendInt(appendString(b, `,"mode":`, reference.Mode(l.num).String()), `,"req_seq":`, l.seq)
	}
	return append(b, '}', '\n')
}

// appendHead appends the start of a line at t, up to its kind: `{"t":`, t and mid.
func (s *subscriber) appendHead(b []byte, t int64) []byte {
	return append(strconv.AppendInt(append(b, `{"t":`...), t, 10), s.mid...)
}

// appendDeliver appends a deliver line. Formatting the 19 digits of t was the largest cost of
// a line, and the events of a burst share a clock reading (clockLeft), so the line's start,
// its seq's digits included, is kept and copied whole while t stays the same. The seqs of a
// replay or of a live stream go up by one, so the next seq adds one to the digits in place
// rather than formatting them anew, which cost a line as much as its sum did. The part between
// seq and sum is kept while the msgid stays the same, as it usually does in a stream.
func (s *subscriber) appendDeliver(b []byte, l *line) []byte {
	switch {
	case l.t != s.deliverT || s.deliverStart == nil:
		s.deliverT = l.t
		s.deliverStart = append(s.appendHead(s.deliverStart[:0], l.t), `deliver","seq":`...)
		s.seqAt = len(s.deliverStart)
		s.deliverStart = strconv.AppendInt(s.deliverStart, l.seq, 10)
	case l.seq != s.seq+1 || l.seq <= 0 || !increment(s.deliverStart[s.seqAt:]):
		s.deliverStart = strconv.AppendInt(s.deliverStart[:s.seqAt], l.seq, 10)
	}
	s.seq = l.seq
	if l.num != s.msgid || s.msgidSum == nil {
		s.msgid = l.num
		s.msgidSum = append(appendInt(s.msgidSum[:0], `,"msgid":`, int64(l.num)), `,"sum":`...)
	}
	b = append(append(b, s.deliverStart...), s.msgidSum...)
	return append(appendSum(b, l.sum), '}', '\n')
}

// increment adds one to the decimal digits, unless they are all nines (the result is one digit
// longer): then it returns false, the digits to be formatted anew.
func increment(digits []byte) bool {
	for i := len(digits) - 1; i >= 0; i-- {
		if digits[i] != '9' {
			digits[i]++
			return true
		}
		digits[i] = '0'
	}
	return false
}

// pairs holds the two digits of each number below 100.
const pairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

// appendSum appends v in decimal, as strconv.AppendUint does, but straight into b: strconv
// formats into an array of its own and copies from there.
func appendSum(b []byte, v uint32) []byte {
	n := 1
	for p := uint64(10); uint64(v) >= p; p *= 10 {
		n++
	}
	b = slices.Grow(b, n)
	i := len(b) + n
	b = b[:i]
	for v >= 100 {
		q := v / 100
		d := (v - q*100) * 2
		i -= 2
		b[i], b[i+1] = pairs[d], pairs[d+1]
		v = q
	}
	if v >= 10 {
		b[i-2], b[i-1] = pairs[v*2], pairs[v*2+1]
	} else {
		b[i-1] = byte('0' + v)
	}
	return b
}

// appendInt and appendString append a field to a line; key is `,"name":`.
func appendInt(b []byte, key string, v int64) []byte {
	return strconv.AppendInt(append(b, key...), v, 10)
}

func appendString(b []byte, key, v string) []byte {
	return checker.AppendJSONString(append(b, key...), v)
}

// Idle has what was recorded written: the client host calls it when its loop has nothing
// more to do.
func (s *subscriber) Idle() {
	s.mu.Lock()
	s.clockLeft = 0
	// A batch the writer is formatting may leave lines in its buffer.
	if len(s.queue) > 0 || s.taken || s.buffered {
		s.flush = true
		s.work.Signal()
	}
	s.mu.Unlock()
}

// stop writes out everything recorded and ends the writer; nothing may be recorded after it.
func (s *subscriber) stop() {
	s.mu.Lock()
	s.stopping = true
	s.work.Signal()
	s.mu.Unlock()
	<-s.done
}

func (s *subscriber) end() { s.once.Do(func() { close(s.ended) }) }

func (s *subscriber) Data(seq int64, msgid int32, body []byte) {
	s.record(evDeliver, seq, msgid, checker.Checksum(body), "")
}

func (s *subscriber) Control(c reference.Control, seq int64) {
	s.record(evControl, seq, int32(c), 0, "")
}

func (s *subscriber) State(st reference.State, reason string) {
	if st == reference.StateOpening {
		return
	}
	s.record(evState, 0, int32(st), 0, reason)
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
	s.record(evPhase, seq, int32(p), 0, "")
}

// open and closing record the application's own calls.
func (s *subscriber) open(mode reference.Mode, seq int64) {
	s.record(evOpen, seq, int32(mode), 0, "")
}

func (s *subscriber) closing() { s.record(evClose, 0, 0, 0, "") }

// subscribe opens one session and writes its history until ctx ends (exit 0: the session is
// closed) or the session fails (exit 1).
func subscribe(ctx context.Context, o clientOpts, stdout io.Writer) (code int, err error) {
	if f, ok := stdout.(*os.File); ok {
		growPipe(f, subscribePipeBytes)
	}
	s := newSubscriber(o.cfg.Peer, stdout)
	host := tcp.DialClient(o.online, o.request, s, o.cfg)
	defer host.Shutdown()
	s.open(o.mode, o.seq)
	if err := host.Open(o.mode, o.seq); err != nil {
		host.Shutdown()
		s.State(reference.StateError, err.Error())
		s.stop()
		return 2, usagef("subscribe: %v", err)
	}
	select {
	case <-ctx.Done():
		s.closing()
		host.Close()
	case <-s.ended:
		code = 1
	}
	// The host stops before the writer, so no callback records after it.
	host.Shutdown()
	s.stop()
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
