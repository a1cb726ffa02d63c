package main

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

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

// replayMsgs is how many stored messages BenchmarkSubscribeReplay replays: the 10^6.
const replayMsgs = 1_000_000

// BenchmarkSubscribeReplay opens subscribe from seq 0 on a server holding 10^6 64-byte
// messages, writing its history to a pipe, and stops at Online: one op is one replay to
// Online (ns/op, B/op and allocs/op are subscribe's, server included), events/s the history
// lines it wrote per second. Before each op, with the timer stopped, the reference client
// alone makes the same replay on the same server with the same configuration, delivering to
// an application that only counts: client-ns/op and client-B/op are its figures, and
// x-client is subscribe's time over the client's, so a machine busy with other work slows
// both sides of the ratio alike.
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
	var clientTime time.Duration
	var clientBytes uint64
	var ms runtime.MemStats
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		runtime.ReadMemStats(&ms)
		before, start := ms.TotalAlloc, time.Now()
		replayAlone(b, o)
		clientTime += time.Since(start)
		runtime.ReadMemStats(&ms)
		clientBytes += ms.TotalAlloc - before
		b.StartTimer()
		replaySubscribe(b, o)
	}
	b.ReportMetric(float64(replayMsgs)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(clientTime.Nanoseconds())/float64(b.N), "client-ns/op")
	b.ReportMetric(float64(clientBytes)/float64(b.N), "client-B/op")
	b.ReportMetric(b.Elapsed().Seconds()/clientTime.Seconds(), "x-client")
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
// would, and stops it at Online.
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
		marker := []byte(`"name":"Online"`)
		// buf keeps the last bytes of the previous read before the new ones, so a marker
		// split between two reads is still found.
		buf := make([]byte, len(marker)+256<<10)
		kept := 0
		online := online
		for {
			n, err := r.Read(buf[kept:])
			seen := buf[:kept+n]
			if online != nil && bytes.Contains(seen, marker) {
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
