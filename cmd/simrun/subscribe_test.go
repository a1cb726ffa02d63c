package main

import (
	"bytes"
	"context"
	"io"
	"os"
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
// Online, events/s the history lines it wrote per second. Compare with tcp's BenchmarkReplay,
// the same replay by the reference client alone.
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
	o := clientOpts{online: on, request: rq, mode: reference.ModeSeq, seq: 0}
	b.ResetTimer()
	for range b.N {
		r, w, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		online := make(chan struct{})
		go func(online chan struct{}) {
			// Reads like a consumer of the history would, and stops the session at Online.
			marker := []byte(`"name":"Online"`)
			// buf keeps the last bytes of the previous read before the new ones, so a
			// marker split between two reads is still found.
			buf := make([]byte, len(marker)+256<<10)
			kept := 0
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
		}(online)
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
		io.Copy(io.Discard, r)
		r.Close()
	}
	b.ReportMetric(float64(replayMsgs)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
