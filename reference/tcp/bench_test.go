package tcp

import (
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/reference/storage"
)

// counter is a subscriber that only counts, so the hosts and sockets are what gets measured.
type counter struct {
	n      atomic.Int64
	tick   chan struct{} // nudged on every delivery
	active chan struct{}
}

func newCounter() *counter {
	return &counter{tick: make(chan struct{}, 1), active: make(chan struct{}, 1)}
}

func (c *counter) Data(int64, int32, []byte) {
	c.n.Add(1)
	select {
	case c.tick <- struct{}{}:
	default:
	}
}
func (c *counter) Control(reference.Control, int64) {}
func (c *counter) Phase(reference.Phase, int64)     {}
func (c *counter) State(s reference.State, _ string) {
	if s == reference.StateActive {
		c.active <- struct{}{}
	}
}

// reach waits until c has n deliveries.
func (c *counter) reach(b *testing.B, n int64) {
	timeout := time.NewTimer(patience)
	defer timeout.Stop()
	for c.n.Load() < n {
		select {
		case <-c.tick:
		case <-timeout.C:
			b.Fatalf("subscriber stuck at %d of %d messages", c.n.Load(), n)
		}
	}
}

// postBatch is how many posts the benchmarks hand the server host at once.
const postBatch = 256

// BenchmarkFanout posts 64-byte messages, in batches, to online subscribers over loopback
// TCP. msgs/s counts deliveries summed over subscribers.
func BenchmarkFanout(b *testing.B) {
	for _, subs := range []int{1, 8} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			s := startServer(b, "tcp", reference.ServerConfig{})
			on, rq := s.Addrs()
			counters := make([]*counter, subs)
			for i := range counters {
				counters[i] = newCounter()
				c := DialClient(on, rq, counters[i], reference.ClientConfig{})
				b.Cleanup(c.Shutdown)
				if err := c.Open(reference.ModeOnline, 0); err != nil {
					b.Fatal(err)
				}
				<-counters[i].active
			}
			// Posting runs ahead of delivery by at most a window, far below the
			// subscribers' queue limit, so the benchmark measures throughput rather than
			// how fast a queue fills.
			const window = 8192
			body := make([]byte, 64)
			msgs := make([]storage.Record, postBatch)
			var res []PostResult
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i += len(msgs) {
				msgs = msgs[:min(postBatch, b.N-i)]
				for j := range msgs {
					msgs[j] = storage.Record{Seq: int64(i + j), MsgID: 1, Body: body}
				}
				var err error
				if res, err = s.PostBatch(msgs, res[:0]); err != nil {
					b.Fatal(err)
				}
				if i >= window {
					for _, c := range counters {
						c.reach(b, int64(i-window))
					}
				}
			}
			for _, c := range counters {
				c.reach(b, int64(b.N))
			}
			b.ReportMetric(float64(b.N*subs)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

// BenchmarkLoopbackCopy is the ceiling for the above: one writer and one reader moving 64 KiB
// writes over loopback TCP.
func BenchmarkLoopbackCopy(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		buf := make([]byte, 64<<10)
		for {
			if _, err := nc.Read(buf); err != nil {
				return
			}
		}
	})
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for range b.N {
		if _, err := nc.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	// Count the time until the reader has everything, not just until the kernel took it.
	nc.(*net.TCPConn).CloseWrite()
	var one [1]byte
	if _, err := nc.Read(one[:]); err != io.EOF {
		b.Fatalf("waiting for the reader to finish: %v", err)
	}
}

// BenchmarkPost posts 64-byte messages through a server host on the file store, with no
// subscriber: the cost of getting a post to the node and stored, one op per message (the
// memory store shows the host's share alone; file-behind is the file store writing behind, as
// serve runs it without --durable, beside the same store writing in place). batch is
// how many posts share a trip to the loop (1: Post, else PostBatch); durable adds an fsync per
// post.
func BenchmarkPost(b *testing.B) {
	for _, bc := range []struct {
		store   string
		batch   int
		durable bool
	}{{"memory", 256, false}, {"file", 1, false}, {"file", 256, false}, {"file-behind", 256, false}, {"file", 1, true}} {
		b.Run(fmt.Sprintf("store=%s/durable=%v/batch=%d", bc.store, bc.durable, bc.batch), func(b *testing.B) {
			var st storage.Store = storage.NewMemory()
			if bc.store == "file" || bc.store == "file-behind" {
				opt := storage.FileOptions{NoSyncOnRotate: !bc.durable}
				if bc.store == "file-behind" {
					opt.FS = storage.WriteBehind(storage.OS{})
				}
				f, err := storage.OpenFile(b.TempDir(), opt)
				if err != nil {
					b.Fatal(err)
				}
				// Closing syncs what the store buffered: a cost per store, kept out of the
				// timer, which a cleanup runs after; the server, started later, stops first.
				b.Cleanup(func() {
					if err := f.Close(); err != nil {
						b.Error(err)
					}
				})
				st = f
			}
			s := startServer(b, "tcp", reference.ServerConfig{Store: st, Durable: bc.durable})
			body := make([]byte, 64)
			msgs := make([]storage.Record, bc.batch)
			// The first post creates the file store's first segment (two fsyncs): a cost
			// per store, not per post, which would otherwise weigh on small b.N alone.
			if _, err := s.Post(0, 1, body); err != nil {
				b.Fatal(err)
			}
			var res []PostResult
			b.ResetTimer()
			for i := 0; i < b.N; i += len(msgs) {
				msgs = msgs[:min(bc.batch, b.N-i)]
				for j := range msgs {
					msgs[j] = storage.Record{Seq: int64(i + j + 1), MsgID: 1, Body: body}
				}
				var err error
				if res, err = s.PostBatch(msgs, res[:0]); err != nil {
					b.Fatal(err)
				}
				for _, r := range res {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
			}
		})
	}
}

// latencies is a subscriber that records how long each message took from its post.
type latencies struct {
	counter
	posted []atomic.Int64 // by seq: when it was posted, in ns since start
	start  time.Time
	mu     sync.Mutex
	got    []time.Duration
}

func (l *latencies) Data(seq int64, msgid int32, body []byte) {
	d := time.Duration(time.Since(l.start).Nanoseconds() - l.posted[seq].Load())
	l.mu.Lock()
	l.got = append(l.got, d)
	l.mu.Unlock()
	l.counter.Data(seq, msgid, body)
}

// BenchmarkLatency posts lone 64-byte messages at 1,000 per second to one online subscriber
// and reports the post-to-delivery time's median and 99th percentile: coalescing writes must
// not hold a lone message back. One op is one message, so ns/op is the posting interval.
func BenchmarkLatency(b *testing.B) {
	s := startServer(b, "tcp", reference.ServerConfig{})
	on, rq := s.Addrs()
	l := &latencies{counter: *newCounter(), posted: make([]atomic.Int64, b.N), start: time.Now()}
	c := DialClient(on, rq, l, reference.ClientConfig{})
	b.Cleanup(c.Shutdown)
	if err := c.Open(reference.ModeOnline, 0); err != nil {
		b.Fatal(err)
	}
	<-l.active
	const interval = time.Millisecond
	body := make([]byte, 64)
	b.ResetTimer()
	next := time.Now()
	for i := range b.N {
		time.Sleep(time.Until(next))
		next = next.Add(interval)
		l.posted[i].Store(time.Since(l.start).Nanoseconds())
		if _, err := s.Post(int64(i), 1, body); err != nil {
			b.Fatal(err)
		}
	}
	l.reach(b, int64(b.N))
	b.StopTimer()
	l.mu.Lock()
	defer l.mu.Unlock()
	slices.Sort(l.got)
	b.ReportMetric(float64(l.got[len(l.got)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(l.got[len(l.got)*99/100].Nanoseconds()), "p99-ns")
}

// replayMsgs is how many stored messages BenchmarkReplay replays, as many as the TLL figure it is compared with.
const replayMsgs = 1_000_000

// onlineWaiter is a subscriber that counts and signals Online.
type onlineWaiter struct {
	counter
	online chan struct{}
}

func (o *onlineWaiter) Control(c reference.Control, _ int64) {
	if c == reference.CtlOnline {
		close(o.online)
	}
}

// BenchmarkReplay opens a reference client from seq 0 on a server holding 10^6 64-byte
// messages: one op is one replay to Online, and sec-to-online is the mean time from Open to
// Online, without the client host's start and stop.
func BenchmarkReplay(b *testing.B) {
	s := startServer(b, "tcp", reference.ServerConfig{})
	msgs := make([]storage.Record, 4096)
	body := make([]byte, 64)
	for i := 0; i < replayMsgs; i += len(msgs) {
		msgs = msgs[:min(len(msgs), replayMsgs-i)]
		for j := range msgs {
			msgs[j] = storage.Record{Seq: int64(i + j), MsgID: 1, Body: body}
		}
		if _, err := s.PostBatch(msgs, nil); err != nil {
			b.Fatal(err)
		}
	}
	on, rq := s.Addrs()
	var toOnline time.Duration
	b.ResetTimer()
	for range b.N {
		w := &onlineWaiter{counter: *newCounter(), online: make(chan struct{})}
		c := DialClient(on, rq, w, reference.ClientConfig{})
		start := time.Now()
		if err := c.Open(reference.ModeSeq, 0); err != nil {
			b.Fatal(err)
		}
		select {
		case <-w.online:
		case <-time.After(time.Minute):
			b.Fatalf("no Online within a minute, %d delivered", w.n.Load())
		}
		toOnline += time.Since(start)
		c.Shutdown()
		if got := w.n.Load(); got != replayMsgs {
			b.Fatalf("%d delivered before Online, want %d", got, replayMsgs)
		}
	}
	b.ReportMetric(toOnline.Seconds()/float64(b.N), "sec-to-online")
}
