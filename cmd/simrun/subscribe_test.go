package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/reference/storage"
	"github.com/streamsim/streamsim/reference/tcp"
)

// Against a server that is not there, subscribe fails and says why where a person looks.
func TestSubscribeDeadServerSaysWhy(t *testing.T) {
	l := listenRaw(t)
	addr := l.Addr().String()
	l.Close() // nobody listens there now
	var out bytes.Buffer
	code, err := subscribe(context.Background(), clientOpts{online: addr, request: addr, mode: reference.ModeOnline}, &out)
	if code != 1 || err == nil || !strings.Contains(err.Error(), "session failed") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("exit %d, %v", code, err)
	}
	if !strings.Contains(out.String(), `"state":"Error"`) {
		t.Fatalf("the history does not record the failure:\n%s", out.String())
	}
}

// subscribeEveryKind makes s write one line of each kind subscribe writes, reason being the
// Error's.
func subscribeEveryKind(s *subscriber, reason string) {
	s.open(reference.ModeSeq, 5)
	s.State(reference.StateOpening, "") // not recorded: the open says it
	s.State(reference.StateActive, "")
	s.Phase(reference.PhaseRequest, 5)
	s.Data(5, 7, []byte("hello"))
	s.Control(reference.CtlOnline, 5)
	s.State(reference.StateError, reason)
	s.closing()
	s.State(reference.StateClosed, "")
	s.stop()
}

// wait returns once s's writer has done what it was asked: after Idle, everything recorded
// before it is written.
func (s *subscriber) wait() {
	s.mu.Lock()
	for (s.taken || s.flush || len(s.queue) >= subscribeBatch) && s.err == nil {
		s.room.Wait()
	}
	s.mu.Unlock()
}

// subscribe writes each kind of line as README's "History files" documents it, field for
// field, and byte for byte as checker.WriteHistory writes the same events, tricky strings
// included.
func TestSubscribeLineFormat(t *testing.T) {
	var out bytes.Buffer
	subscribeEveryKind(newSubscriber("c1", &out), "reset by peer")
	want := []string{
		`{"t":T,"node":"c1","session":1,"ev":"open","mode":"seq","req_seq":5}`,
		`{"t":T,"node":"c1","session":1,"ev":"state","state":"Active"}`,
		`{"t":T,"node":"c1","session":1,"ev":"phase","name":"request","seq":5}`,
		`{"t":T,"node":"c1","session":1,"ev":"deliver","seq":5,"msgid":7,"sum":2591144780}`,
		`{"t":T,"node":"c1","session":1,"ev":"control","name":"Online","seq":5}`,
		`{"t":T,"node":"c1","session":1,"ev":"state","state":"Error","reason":"reset by peer"}`,
		`{"t":T,"node":"c1","session":1,"ev":"close"}`,
		`{"t":T,"node":"c1","session":1,"ev":"state","state":"Closed"}`,
	}
	got := regexp.MustCompile(`^\{"t":\d+,`).ReplaceAllString
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, l := range lines {
		if g := got(l, `{"t":T,`); g != want[i] {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, g, want[i])
		}
	}
	if sum := checker.Checksum([]byte("hello")); sum != 2591144780 {
		t.Fatalf("the checksum of hello is %d", sum)
	}

	for _, c := range []struct{ node, reason string }{
		{"c1", "plain"},
		{`c"1\`, "quote \" backslash \\ newline \n cr \r tab \t controls \x00\x01\x1f\x7f"},
		{"ç1", "utf-8 é ☃ 😀 <>& \u2028, invalid \xff\xfe, cut \xe2\x82, overlong \xc0\xaf"},
	} {
		var out bytes.Buffer
		subscribeEveryKind(newSubscriber(c.node, &out), c.reason)
		h, err := checker.ReadHistory(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("node %q, reason %q: %v\n%s", c.node, c.reason, err, out.String())
		}
		// The times are subscribe's; the strings go to WriteHistory as subscribe was given
		// them, not as they read back (invalid UTF-8 reads back as U+FFFD).
		for i := range h {
			h[i].Node = c.node
		}
		h[5].Reason = c.reason
		var canon bytes.Buffer
		if err := checker.WriteHistory(&canon, h); err != nil {
			t.Fatal(err)
		}
		if canon.String() != out.String() {
			t.Fatalf("node %q, reason %q: subscribe wrote\n%s\nWriteHistory writes\n%s", c.node, c.reason, out.String(), canon.String())
		}
		for i := 1; i < len(h); i++ {
			if h[i].T < h[i-1].T {
				t.Fatalf("t decreases at line %d: %d after %d", i+1, h[i].T, h[i-1].T)
			}
		}
	}
}

// Deliveries in a burst share a clock reading and reuse what they can of the line before;
// whatever their seqs and msgids do, they are written byte for byte as checker.WriteHistory
// writes them.
func TestSubscribeDeliveryLines(t *testing.T) {
	var out bytes.Buffer
	s := newSubscriber("c1", &out)
	type d struct {
		seq   int64
		msgid int32
	}
	var ds []d
	for seq := int64(7); seq <= 130; seq++ { // going up by one, past 9 and 99
		ds = append(ds, d{seq, int32(seq / 40)})
	}
	ds = append(ds, d{129, 3}, d{129, 3}, d{1_000_000, -1}, d{0, math.MaxInt32}, d{-5, math.MinInt32}, d{-4, 7}, d{999, 7}, d{1000, 8}, d{1001, 7})
	for i, d := range ds {
		s.Data(d.seq, d.msgid, []byte(strconv.Itoa(i)))
		if i%50 == 0 {
			s.Idle() // a fresh clock reading now and then
		}
	}
	s.stop()
	h, err := checker.ReadHistory(bytes.NewReader(out.Bytes()))
	if err != nil || len(h) != len(ds) {
		t.Fatalf("%d lines of %d, %v:\n%s", len(h), len(ds), err, out.String())
	}
	for i, e := range h {
		if e.Seq != ds[i].seq || e.MsgID != ds[i].msgid || e.Sum != checker.Checksum([]byte(strconv.Itoa(i))) {
			t.Fatalf("line %d reads back as seq %d msgid %d sum %d, want %+v", i+1, e.Seq, e.MsgID, e.Sum, ds[i])
		}
	}
	var canon bytes.Buffer
	if err := checker.WriteHistory(&canon, h); err != nil {
		t.Fatal(err)
	}
	if canon.String() != out.String() {
		t.Fatalf("subscribe wrote\n%s\nWriteHistory writes\n%s", out.String(), canon.String())
	}
}

// recorder is an output that keeps each write apart, or fails them all with fail.
type recorder struct {
	mu     sync.Mutex
	writes []string
	fail   error
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return 0, r.fail
	}
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.writes)
}

// Lines wait in the buffer until the client host's loop is idle or subscribeFlushBytes have
// gathered; then they go in one write.
func TestSubscribeFlushesWhenIdleOrFull(t *testing.T) {
	r := &recorder{}
	s := newSubscriber("c1", r)
	defer s.stop()
	s.Data(1, 1, nil)
	s.wait()
	if w := r.got(); len(w) != 0 {
		t.Fatalf("a line was written before the loop was idle: %q", w)
	}
	s.Idle()
	s.wait()
	if w := r.got(); len(w) != 1 || !strings.Contains(w[0], `"ev":"deliver","seq":1,`) {
		t.Fatalf("after Idle: %q", w)
	}
	s.Idle()
	s.wait()
	if w := r.got(); len(w) != 1 {
		t.Fatalf("an idle loop with nothing new wrote %q", w[1:])
	}
	// A burst of about twice a buffer's worth, with the loop never idle: the first buffer
	// full goes in one write of whole lines, and the rest waits for Idle.
	const n = 1200
	for i := range n {
		s.Data(int64(i+2), 1, nil)
	}
	s.wait()
	w := r.got()[1:]
	if len(w) == 0 {
		t.Fatalf("%d lines of a burst, none written", n)
	}
	lines := 0
	for _, b := range w {
		if len(b) < subscribeFlushBytes || len(b) > subscribeFlushBytes+200 || !strings.HasSuffix(b, "\n") {
			t.Fatalf("a burst was written as %d bytes; want whole lines just past %d", len(b), subscribeFlushBytes)
		}
		lines += strings.Count(b, "\n")
	}
	if lines >= n {
		t.Fatalf("all %d lines of a burst written before the loop was idle", n)
	}
	s.Idle()
	s.wait()
	if w := r.got()[1:]; strings.Count(strings.Join(w, ""), "\n") != n {
		t.Fatalf("after Idle, %d lines of the burst's %d written", strings.Count(strings.Join(w, ""), "\n"), n)
	}
}

// gatedRecorder is a recorder whose first write waits until open is closed.
type gatedRecorder struct {
	recorder
	entered, open chan struct{}
	once          sync.Once
}

func (g *gatedRecorder) Write(p []byte) (int, error) {
	g.once.Do(func() {
		close(g.entered)
		<-g.open
	})
	return g.recorder.Write(p)
}

// When the loop runs out of work while the writer still formats a batch it took, the end of
// that batch is written too, though Idle finds nothing queued and nothing in the buffer yet.
func TestSubscribeIdleWhileWriterBusy(t *testing.T) {
	g := &gatedRecorder{entered: make(chan struct{}), open: make(chan struct{})}
	// Lines of over 200 bytes: a batch is more than a buffer.
	s := newSubscriber(strings.Repeat("n", 100), g)
	defer s.stop()
	for i := range subscribeBatch { // the writer takes them at once
		s.Data(int64(i+1), 1, nil)
	}
	<-g.entered // the writer holds the batch, its first buffer full
	s.Idle()
	close(g.open)
	s.wait()
	if n := strings.Count(strings.Join(g.got(), ""), "\n"); n != subscribeBatch {
		t.Fatalf("%d lines of %d written after Idle", n, subscribeBatch)
	}
}

// Once output fails, the session ends, the failure is kept for subscribe to report, and
// nothing more is buffered.
func TestSubscribeWriteFailureEndsIt(t *testing.T) {
	r := &recorder{fail: io.ErrClosedPipe}
	s := newSubscriber("c1", r)
	defer s.stop()
	s.Data(1, 1, nil)
	s.wait()
	select {
	case <-s.ended:
		t.Fatal("ended before any write")
	default:
	}
	s.Idle()
	s.wait()
	select {
	case <-s.ended:
	default:
		t.Fatal("a failed write did not end the session")
	}
	for i := range 10000 {
		s.Data(int64(i), 1, nil)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != io.ErrClosedPipe || len(s.queue) != 0 {
		t.Fatalf("after the failure: err %v, %d events queued", s.err, len(s.queue))
	}
}

// A delivery costs no allocation, bursts written included.
func TestSubscribeDataAllocatesNothing(t *testing.T) {
	s := newSubscriber("c1", io.Discard)
	defer s.stop()
	body := make([]byte, 64)
	seq := int64(0)
	if n := testing.AllocsPerRun(10000, func() { seq++; s.Data(seq, 1, body) }); n != 0 {
		t.Fatalf("%v allocations per delivery", n)
	}
}

// A lone live message reaches subscribe's output pipe while nothing else happens: it is not
// held waiting for more data or for the end.
func TestSubscribeLoneLiveMessageReachesThePipe(t *testing.T) {
	t.Parallel()
	srv := startServe(t, mustServerOpts(t))
	r, w := testPipe(t)
	defer subscribeOnline(t, srv, w)()
	br := bufio.NewReader(r)
	// readUntil reads lines from the pipe until one contains want, within patience.
	readUntil := func(want string) {
		t.Helper()
		r.SetReadDeadline(time.Now().Add(patience))
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("waiting for %s: %v", want, err)
			}
			if strings.Contains(l, want) {
				return
			}
		}
	}
	readUntil(`"state":"Active"`)
	fmt.Fprintf(srv.stdin, "1 5 alone\n")
	readUntil(`"ev":"deliver","seq":1,`)
}

// testPipe is a pipe, both ends closed when the test ends, after its deferred calls.
func testPipe(t testing.TB) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Close()
		w.Close()
	})
	return r, w
}

// subscribeOnline runs subscribe, online mode, against srv, writing to w, until the function
// it returns stops it; subscribe must then end without error.
func subscribeOnline(t *testing.T, srv *served, w io.Writer) (stop func()) {
	t.Helper()
	o, err := clientFlags("subscribe", []string{"--online", srv.online, "--request", srv.request, "--mode", "online"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := subscribe(ctx, o, w)
		done <- err
	}()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// replayMsgs is how many stored messages BenchmarkSubscribeReplay replays, as tcp's BenchmarkReplay does.
const replayMsgs = 1_000_000

// BenchmarkSubscribeReplay opens subscribe from seq 0 on a server holding 10^6 64-byte
// messages, writing its history to a pipe, and stops at Online: one op is one replay to
// Online (ns/op, B/op and allocs/op are subscribe's, server included), events/s the history
// lines it wrote per second. Before each op, with the timer stopped, the reference client
// alone makes the same replay on the same server with the same configuration, delivering to
// an application that only counts: client-ns/op and client-B/op are its figures, and
// x-client is subscribe's time over the client's, so a machine busy with other work slows
// both sides of the ratio alike. cpu-s/op, client-cpu-s/op and x-client-cpu are the same in
// CPU time (the whole process's, the server's share included), which other work on the
// machine changes much less than wall time.
func BenchmarkSubscribeReplay(b *testing.B) {
	srv, err := tcp.ListenServer("127.0.0.1:0", "127.0.0.1:0", reference.ServerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	msgs := make([]storage.Record, 4096)
	body := make([]byte, 64)
	for i := 0; i < replayMsgs; i += len(msgs) {
		msgs = msgs[:min(len(msgs), replayMsgs-i)]
		for j := range msgs {
			msgs[j] = storage.Record{Seq: int64(i + j), MsgID: 1, Body: body}
		}
		if _, err := srv.PostBatch(msgs, nil); err != nil {
			b.Fatal(err)
		}
	}
	on, rq := srv.Addrs()
	o, err := clientFlags("subscribe", []string{"--online", on, "--request", rq, "--mode", "seq", "--seq", "0"})
	if err != nil {
		b.Fatal(err)
	}
	var clientTime, clientCPU, subCPU time.Duration
	var clientBytes uint64
	var ms runtime.MemStats
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		runtime.ReadMemStats(&ms)
		before, start, cpu := ms.TotalAlloc, time.Now(), cpuTime(b)
		replayAlone(b, o)
		clientCPU += cpuTime(b) - cpu
		clientTime += time.Since(start)
		runtime.ReadMemStats(&ms)
		clientBytes += ms.TotalAlloc - before
		b.StartTimer()
		cpu = cpuTime(b)
		replaySubscribe(b, o)
		subCPU += cpuTime(b) - cpu
	}
	b.ReportMetric(float64(replayMsgs)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(clientTime.Nanoseconds())/float64(b.N), "client-ns/op")
	b.ReportMetric(float64(clientBytes)/float64(b.N), "client-B/op")
	b.ReportMetric(b.Elapsed().Seconds()/clientTime.Seconds(), "x-client")
	b.ReportMetric(subCPU.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(clientCPU.Seconds()/float64(b.N), "client-cpu-s/op")
	b.ReportMetric(subCPU.Seconds()/clientCPU.Seconds(), "x-client-cpu")
}

// containsMarker is bytes.Contains(b, marker) for a marker whose first byte is rare in b.
func containsMarker(b, marker []byte) bool {
	for {
		i := bytes.IndexByte(b, marker[0])
		if i < 0 {
			return false
		}
		if bytes.HasPrefix(b[i:], marker) {
			return true
		}
		b = b[i+1:]
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// onlineCounter is the application of the client alone: it counts deliveries and says when
// the session is Online.
type onlineCounter struct {
	n      int
	online chan struct{}
}

func (c *onlineCounter) Data(int64, int32, []byte) { c.n++ }
func (c *onlineCounter) Control(ctl reference.Control, _ int64) {
	if ctl == reference.CtlOnline {
		close(c.online)
	}
}
func (c *onlineCounter) State(reference.State, string) {}
func (c *onlineCounter) Phase(reference.Phase, int64)  {}

// replayAlone replays with the reference client alone, o as subscribe would use it.
func replayAlone(b *testing.B, o clientOpts) {
	c := &onlineCounter{online: make(chan struct{})}
	host := tcp.DialClient(o.online, o.request, c, o.cfg)
	defer host.Shutdown()
	if err := host.Open(o.mode, o.seq); err != nil {
		b.Fatal(err)
	}
	select {
	case <-c.online:
	case <-time.After(time.Minute):
		b.Fatal("the client alone: no Online within a minute")
	}
	host.Shutdown() // no callback runs after it: c.n is final
	if c.n != replayMsgs {
		b.Fatalf("the client alone delivered %d before Online, want %d", c.n, replayMsgs)
	}
}

// replaySubscribe replays with subscribe writing to a pipe, read as a consumer of the history
// would, and stops it at Online. The consumer runs in this process, so what it costs counts
// in subscribe's share: it looks for the marker's rare first byte, as grep -F does, rather
// than trying the whole marker at every byte, which cost as much as a third of subscribe's
// own work.
func replaySubscribe(b *testing.B, o clientOpts) {
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	online, read := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(read)
		marker := []byte(`Online"`)
		// buf keeps the last bytes of the previous read before the new ones, so a marker
		// split between two reads is still found.
		buf := make([]byte, len(marker)+256<<10)
		kept := 0
		online := online
		for {
			n, err := r.Read(buf[kept:])
			seen := buf[:kept+n]
			if online != nil && containsMarker(seen, marker) {
				close(online)
				online = nil
				cancel()
			}
			kept = copy(buf, seen[max(0, len(seen)-len(marker)):])
			if err != nil {
				return
			}
		}
	}()
	done := make(chan error, 1)
	go func() {
		_, err := subscribe(ctx, o, w)
		w.Close()
		done <- err
	}()
	select {
	case <-online:
	case err := <-done:
		b.Fatalf("subscribe ended before Online: %v", err)
	case <-time.After(time.Minute):
		b.Fatal("no Online within a minute")
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	<-read // the reader has seen the end of the history
}

// A deliver line's t is written as strconv does, repeated or not.
func TestSubscribeTimeDigits(t *testing.T) {
	s := newSubscriber("c1", io.Discard)
	defer s.stop()
	for _, v := range []int64{0, 0, 7, 7, 999_999_999, 1e9, 1e9 + 1, 1_764_000_000_000_000_000, 1_764_000_000_999_999_999,
		1_764_000_000_999_999_999, 1_764_000_001_000_000_000, 1_764_000_000_000_000_001, math.MaxInt64, 0} {
		got := string(s.appendDeliver(nil, &line{t: v, kind: evDeliver, seq: 3, num: 2, sum: 1}))
		if want := `{"t":` + strconv.FormatInt(v, 10) + `,"node":"c1","session":1,"ev":"deliver","seq":3,"msgid":2,"sum":1}` + "\n"; got != want {
			t.Errorf("t %d written as %s", v, got)
		}
	}
}

// Deliveries write every seq and sum as strconv does: a seq going up by one across a carry and
// a new digit, going back, jumping, repeating, from and to zero and negative seqs, and at the
// largest, with t changing or not, and sums of every length.
func TestSubscribeSeqDigits(t *testing.T) {
	s := newSubscriber("c1", io.Discard)
	defer s.stop()
	seqs := []int64{1, 2, 3, 9, 10, 11, 99, 100, 101, 1, 1, 0, 1, -3, -2, -1, 0, 1, 2, 18, 19, 20, 21, 5}
	for v := int64(995); v <= 1_005; v++ {
		seqs = append(seqs, v)
	}
	seqs = append(seqs, 999_999_998, 999_999_999, 1_000_000_000, 1_000_000_001, math.MaxInt64-1, math.MaxInt64, math.MinInt64, math.MinInt64+1, 0, 1)
	sums := []uint32{0, 1, 9, 10, 99, 100, 999, 1000, 99_999, 100_000, 999_999_999, 1_000_000_000, math.MaxUint32}
	for i, v := range seqs {
		l := line{t: int64(i / 5), kind: evDeliver, seq: v, num: 1, sum: sums[i%len(sums)]}
		want := `{"t":` + strconv.Itoa(i/5) + `,"node":"c1","session":1,"ev":"deliver","seq":` + strconv.FormatInt(v, 10) +
			`,"msgid":1,"sum":` + strconv.FormatUint(uint64(l.sum), 10) + "}\n"
		if got := string(s.appendDeliver([]byte("x"), &l)); got != "x"+want {
			t.Errorf("seq %d (the %dth), sum %d written as %s", v, i, l.sum, got)
		}
	}
}

// Events of a burst may share a clock reading, but one after the loop was idle reads the
// clock anew: its t is not that of the event before the pause.
func TestSubscribeClockAfterPause(t *testing.T) {
	var out bytes.Buffer
	s := newSubscriber("c1", &out)
	s.Data(1, 1, nil)
	s.Data(2, 1, nil)
	s.Idle()
	time.Sleep(5 * time.Millisecond)
	s.Data(3, 1, nil)
	s.stop()
	h, err := checker.ReadHistory(bytes.NewReader(out.Bytes()))
	if err != nil || len(h) != 3 {
		t.Fatalf("%d lines, %v:\n%s", len(h), err, out.String())
	}
	if gap := time.Duration(h[2].T - h[1].T); gap < 5*time.Millisecond {
		t.Fatalf("the event after a 5 ms pause is stamped %v after the one before it", gap)
	}
}
