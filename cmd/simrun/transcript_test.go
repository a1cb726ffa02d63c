package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/reference/storage"
)

// The byte examples of spec section 4.7, for a TLL client named "c0" that opens seq=100 on a
// server whose last seq is 130, written as the spec writes them: "00 x8" is eight zeros.
var (
	tllHello      = spec("0a 00 00 00 | 64 00 00 00 | 00 x8 | 01 00 | 08 00 00 00 03 00 00 01 | 63 30 00")
	tllHelloReply = spec("0a 00 00 00 | 65 00 00 00 | 00 x8 | 01 00 | 82 00 00 00 00 00 00 00")
	tllRequest    = spec("26 00 00 00 | 0c 00 00 00 | 00 x8 | 01 00 | 21 00 00 00 03 00 00 01 | 00 x8 | 00 | 64 00 00 00 00 00 00 00 | 00 x8 | 63 30 00")
	tllRequestOld = spec("26 00 00 00 | 0b 00 00 00 | 00 x8 | 01 00 | 64 00 00 00 00 00 00 00 | 19 00 00 00 03 00 00 01 | 00 x8 | 00 x8 | 00 | 63 30 00")
	// A real TLL server never sets Reply.server: 32 bytes, the pointer zero.
	tllReply      = spec("20 00 00 00 | 14 00 00 00 | 00 x8 | 82 00 00 00 00 00 00 00 | 64 00 00 00 00 00 00 00 | ff x8 | 00 x8")
	tllClientDone = spec("08 00 00 00 | 28 00 00 00 | 00 x8 | 82 00 00 00 00 00 00 00")
)

func spec(s string) []byte {
	var out []byte
	for _, tok := range strings.Fields(strings.ReplaceAll(s, "|", " ")) {
		if n, ok := strings.CutPrefix(tok, "x"); ok {
			var k int
			fmt.Sscan(n, &k)
			out = append(out, bytes.Repeat(out[len(out)-1:], k-1)...)
			continue
		}
		b, err := hex.DecodeString(tok)
		if err != nil {
			panic(err)
		}
		out = append(out, b...)
	}
	return out
}

// stdFrame is a TLL std frame, written from the spec's table rather than by reference/wire.
func stdFrame(msgid int32, seq int64, body []byte) []byte {
	var h [16]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(len(body)))
	binary.LittleEndian.PutUint32(h[4:], uint32(msgid))
	binary.LittleEndian.PutUint64(h[8:], uint64(seq))
	return append(h[:], body...)
}

// history is what the transcript's server holds: seqs 100..130, msgid 7.
func history() []byte {
	var b []byte
	for seq := int64(100); seq <= 130; seq++ {
		b = append(b, stdFrame(7, seq, fmt.Appendf(nil, "m%d", seq))...)
	}
	return b
}

const patience = 10 * time.Second

// syncBuffer is a buffer written by one goroutine and read by another.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls until cond holds on the buffer's contents.
func (s *syncBuffer) waitFor(t *testing.T, what string, cond func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		out := s.String()
		if cond(out) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s; got:\n%s", what, out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// served is simrun serve running in this process, as cmdServe runs it.
type served struct {
	online, request string
	stdin           *io.PipeWriter
	stdout, stderr  *syncBuffer
	stop            func() error
}

func startServe(t *testing.T, o serverOpts) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in, w := io.Pipe()
	s := &served{stdin: w, stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	addrs := make(chan [2]string, 1)
	o.listening = func(on, rq string, _ int64) { addrs <- [2]string{on, rq} }
	done := make(chan error, 1)
	go func() { done <- serve(ctx, o, in, s.stdout, s.stderr) }()
	var once sync.Once
	var err error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(patience):
				err = errors.New("serve did not stop")
			}
			w.Close()
		})
		return err
	}
	t.Cleanup(func() { s.stop() })
	select {
	case a := <-addrs:
		s.online, s.request = a[0], a[1]
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(patience):
		t.Fatal("serve did not start listening")
	}
	return s
}

func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout(network(addr), addr, patience)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(patience))
	return nc
}

func network(addr string) string {
	if strings.Contains(addr, "/") {
		return "unix"
	}
	return "tcp"
}

func send(t *testing.T, nc net.Conn, b []byte) {
	t.Helper()
	if _, err := nc.Write(b); err != nil {
		t.Fatal(err)
	}
}

// expect reads exactly len(want) bytes and compares them.
func expect(t *testing.T, nc net.Conn, what string, want []byte) {
	t.Helper()
	got := make([]byte, len(want))
	if n, err := io.ReadFull(nc, got); err != nil {
		t.Fatalf("%s: read %d of %d bytes: %v\ngot  % x", what, n, len(want), err, got[:n])
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from TLL's bytes:\ngot  % x\nwant % x", what, got, want)
	}
}

func expectEOF(t *testing.T, nc net.Conn, what string) {
	t.Helper()
	var b [1]byte
	if n, err := nc.Read(b[:]); err != io.EOF {
		t.Fatalf("%s: read %d bytes, %v; want the server to close it", what, n, err)
	}
}

// A TLL client's whole exchange, as spec 4.7 and 4.8 give it, replayed against simrun serve
// over real sockets: every byte the server sends must be TLL's.
func TestTranscriptTLLClientAgainstServe(t *testing.T) {
	for _, proto := range []struct {
		name    string
		request []byte
	}{{"new", tllRequest}, {"old", tllRequestOld}} {
		t.Run(proto.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "store")
			st, err := storage.OpenFile(dir, storage.FileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for seq := int64(100); seq <= 130; seq++ {
				if err := st.Append(storage.Record{Seq: seq, MsgID: 7, Body: fmt.Appendf(nil, "m%d", seq)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			s := startServe(t, serverOpts{online: "127.0.0.1:0", request: "127.0.0.1:0", storage: dir})

			on := dialRaw(t, s.online)
			// TLL's Hello declares 10 bytes and carries 13 (P15); the server must take it
			// however it is cut.
			send(t, on, tllHello[:20])
			time.Sleep(20 * time.Millisecond)
			send(t, on, tllHello[20:])
			expect(t, on, "HelloReply", tllHelloReply)

			rq := dialRaw(t, s.request)
			send(t, rq, proto.request)
			expect(t, rq, "Reply", tllReply)
			expect(t, rq, "history 100..130", history())
			send(t, rq, tllClientDone)
			expectEOF(t, rq, "the request channel after ClientDone")

			fmt.Fprintf(s.stdin, "131 7 m131\n")
			expect(t, on, "live message 131", stdFrame(7, 131, []byte("m131")))
			s.stdout.waitFor(t, "the post's acknowledgement", func(out string) bool { return out == "131\n" })
			if err := s.stop(); err != nil {
				t.Fatalf("serve: %v", err)
			}
			// Acknowledged means stored: the file store has it after the stop.
			st, err = storage.OpenFile(dir, storage.FileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if st.Last() != 131 {
				t.Fatalf("the store ends at %d after the stop, want 131", st.Last())
			}
		})
	}
}

// The other direction: simrun subscribe against a server that answers with TLL's bytes. Every
// byte the client sends must be TLL's, and its history must hold the exchange.
func TestTranscriptSubscribeAgainstTLLServer(t *testing.T) {
	for _, c := range []struct {
		name    string
		proto   reference.Protocol
		request []byte
	}{{"new", reference.ProtoNew, tllRequest}, {"old", reference.ProtoOld, tllRequestOld}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			lo, lr := listenRaw(t), listenRaw(t)
			ctx, cancel := context.WithCancel(context.Background())
			out := &syncBuffer{}
			done := make(chan int, 1)
			o := clientOpts{online: lo.Addr().String(), request: lr.Addr().String(), mode: reference.ModeSeq, seq: 100}
			o.cfg = reference.ClientConfig{Peer: "c0", Protocol: c.proto}
			go func() {
				code, _ := subscribe(ctx, o, out)
				done <- code
			}()
			defer func() {
				cancel()
				select {
				case <-done:
				case <-time.After(patience):
					t.Error("subscribe did not stop")
				}
			}()

			on := acceptRaw(t, lo)
			expect(t, on, "Hello", tllHello)
			send(t, on, tllHelloReply)
			rq := acceptRaw(t, lr)
			expect(t, rq, "Request", c.request)
			send(t, rq, tllReply)
			send(t, rq, history())
			expect(t, rq, "ClientDone", tllClientDone)
			rq.Close() // TLL's server closes the request socket on ClientDone
			send(t, on, stdFrame(7, 131, []byte("m131")))

			hist := out.waitFor(t, "delivery of 131", func(s string) bool { return strings.Contains(s, `"seq":131`) })
			h, err := checker.ReadHistory(strings.NewReader(hist))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range h {
				switch e.Kind {
				case checker.EvDeliver:
					got = append(got, fmt.Sprint(e.Seq))
				case checker.EvControl:
					got = append(got, fmt.Sprintf("%s(%d)", e.Name, e.Seq))
				case checker.EvState:
					got = append(got, e.State.String())
				case checker.EvOpen:
					got = append(got, "open "+e.Mode.String()+" "+fmt.Sprint(e.ReqSeq))
				}
				if e.Node != "c0" || e.Session != 1 {
					t.Fatalf("event %+v: want node c0, session 1", e)
				}
			}
			want := []string{"open seq 100", "Active"}
			for seq := 100; seq <= 130; seq++ {
				want = append(want, fmt.Sprint(seq))
			}
			want = append(want, "Online(130)", "131")
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("history\n%s\nwant\n%s", strings.Join(got, " "), strings.Join(want, " "))
			}
		})
	}
}

func listenRaw(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func acceptRaw(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	l.(*net.TCPListener).SetDeadline(time.Now().Add(patience))
	nc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(patience))
	return nc
}
