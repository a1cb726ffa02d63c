package tcp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/reference/wire"
)

// rig is a server under attack with messages 10, 20, 30 and a healthy online subscriber, so
// each case can show that the attack leaves everyone else served.
type rig struct {
	s       *ServerHost
	healthy *recorder
	want    []string // the healthy subscriber's log so far
	next    int64
}

func newRig(t *testing.T, lim Limits) *rig {
	t.Helper()
	s := startServer(t, "tcp", reference.ServerConfig{}, WithLimits(lim))
	post(t, s, 10, 20, 30)
	c, r := startClient(t, s, reference.ClientConfig{Peer: "healthy"})
	open(t, c, reference.ModeOnline, 0)
	r.waitLast(t, "Active")
	return &rig{s: s, healthy: r, want: []string{"Active"}, next: 40}
}

func (g *rig) online() string  { a, _ := g.s.Addrs(); return a }
func (g *rig) request() string { _, a := g.s.Addrs(); return a }

// postLive posts the next message, padded to size bytes, and waits for the healthy
// subscriber to get it.
func (g *rig) postLive(t *testing.T, size int) {
	t.Helper()
	body := fmt.Appendf(nil, "m%d", g.next)
	body = append(body, bytes.Repeat([]byte{'.'}, max(0, size-len(body)))...)
	if _, err := g.s.Post(g.next, 7, body); err != nil {
		t.Fatalf("post %d: %v", g.next, err)
	}
	g.want = append(g.want, fmt.Sprint("data ", g.next))
	g.healthy.waitLast(t, g.want[len(g.want)-1])
	g.next += 10
}

// waitAccepted waits until the server has accepted n connections in all.
func (g *rig) waitAccepted(t *testing.T, n uint64) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for g.s.Stats().Accepted < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections accepted after %v, want %d", g.s.Stats().Accepted, patience, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// stillServing checks the healthy subscriber got everything and, with fresh, that a new
// request for the last message is answered too.
func (g *rig) stillServing(t *testing.T, fresh bool) {
	t.Helper()
	g.postLive(t, 0)
	g.healthy.expectLog(t, g.want...)
	if !fresh {
		return
	}
	last := g.next - 10
	nc := dialRaw(t, g.request())
	write(t, nc, requestFrame(uint64(last)))
	if fr := readFrame(t, nc); fr.MsgID != wire.MsgReply {
		t.Fatalf("a new request got msgid %d, want Reply", fr.MsgID)
	}
	if fr := readFrame(t, nc); fr.Seq != last {
		t.Fatalf("a new request got history from %d, want %d", fr.Seq, last)
	}
}

// requestHistoryNoRead asks for the whole history on a raw connection and reads none of it.
func requestHistoryNoRead(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc := dialRaw(t, addr)
	write(t, nc, requestFrame(0))
	return nc
}

// helloHandshake subscribes a raw online connection.
func helloHandshake(t *testing.T, nc net.Conn) {
	t.Helper()
	write(t, nc, wire.AppendHello(nil, "raw"))
	if fr := readFrame(t, nc); fr.MsgID != wire.MsgHelloReply {
		t.Fatalf("handshake answered with msgid %d, want HelloReply", fr.MsgID)
	}
}

// requestHistory sends a request for 30 and reads the Reply and message 30.
func requestHistory(t *testing.T, nc net.Conn) {
	t.Helper()
	write(t, nc, requestFrame(30))
	if fr := readFrame(t, nc); fr.MsgID != wire.MsgReply {
		t.Fatalf("request answered with msgid %d, want Reply", fr.MsgID)
	}
	if fr := readFrame(t, nc); fr.Seq != 30 {
		t.Fatalf("history starts at %d, want 30", fr.Seq)
	}
}

func header(size uint32, msgid int32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, size)
	b = binary.LittleEndian.AppendUint32(b, uint32(msgid))
	return binary.LittleEndian.AppendUint64(b, 0)
}

// Cases that must end at once run with a long idle timeout, so a hangup within patience
// cannot be the idle timer; cases about the idle timer run with a short one.
var (
	prompt = Limits{IdleTimeout: time.Minute}
	short  = Limits{IdleTimeout: time.Second}
)

func TestHardening(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lim    Limits
		fresh  bool // whether a new connection may still be opened afterwards
		attack func(t *testing.T, g *rig)
	}{
		{"request with a bad version", prompt, true, func(t *testing.T, g *rig) {
			nc := dialRaw(t, g.request())
			b := requestFrame(10)
			b[wire.HeaderSize] = 2
			write(t, nc, b)
			expectError(t, nc, "version")
			expectHangup(t, nc)
		}},
		{"unknown msgid", prompt, true, func(t *testing.T, g *rig) {
			nc := dialRaw(t, g.request())
			write(t, nc, wire.AppendFrame(nil, 77, 0, []byte("hi")))
			expectError(t, nc, "msgid 77")
			expectHangup(t, nc)
		}},
		{"frame over the size limit", prompt, true, func(t *testing.T, g *rig) {
			nc := dialRaw(t, g.request())
			write(t, nc, append(header(1<<30, wire.MsgRequest), make([]byte, 100)...))
			expectError(t, nc, "limit")
			expectHangup(t, nc)
		}},
		{"frame that lies about its size, left idle", short, true, func(t *testing.T, g *rig) {
			nc := dialRaw(t, g.request())
			write(t, nc, append(header(1000, wire.MsgRequest), make([]byte, 20)...))
			expectError(t, nc, "no complete request")
			expectHangup(t, nc)
			if n := g.s.Stats().IdleTimeouts; n != 1 {
				t.Fatalf("%d idle timeouts counted, want 1", n)
			}
		}},
		{"silent request connection", short, true, func(t *testing.T, g *rig) {
			nc := dialRaw(t, g.request())
			expectError(t, nc, "no complete request")
			expectHangup(t, nc)
		}},
		{"silent online connection", short, true, func(t *testing.T, g *rig) {
			expectHangup(t, dialRaw(t, g.online()))
		}},
		{"Hello cut off and left idle", short, true, func(t *testing.T, g *rig) {
			nc := dialRaw(t, g.online())
			write(t, nc, wire.AppendHello(nil, "raw")[:20])
			expectHangup(t, nc)
		}},
		{"Hello trickled a byte at a time", short, true, func(t *testing.T, g *rig) {
			// The whole Hello would take 3 s at this pace; the deadline is 1 s from
			// accept, however many bytes trickle in.
			nc := dialRaw(t, g.online())
			stop, done := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(done)
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				for _, b := range wire.AppendHello(nil, "raw") {
					if _, err := nc.Write([]byte{b}); err != nil {
						return
					}
					select {
					case <-tick.C:
					case <-stop:
						return
					}
				}
			}()
			expectHangup(t, nc)
			close(stop)
			<-done
		}},
		{"Hello over the handshake limit", prompt, true, func(t *testing.T, g *rig) {
			nc := dialRaw(t, g.online())
			hello := wire.AppendHello(nil, "raw")
			binary.LittleEndian.PutUint32(hello, 4096)
			write(t, nc, hello)
			expectHangup(t, nc)
		}},
		{"Hello with another msgid", prompt, true, func(t *testing.T, g *rig) {
			nc := dialRaw(t, g.online())
			write(t, nc, requestFrame(10))
			expectHangup(t, nc)
		}},
		{"bytes after the Hello", prompt, true, func(t *testing.T, g *rig) {
			nc := dialRaw(t, g.online())
			helloHandshake(t, nc)
			write(t, nc, []byte{1})
			expectHangup(t, nc)
		}},
		{"a frame after the Reply", prompt, true, func(t *testing.T, g *rig) {
			// No Error is possible here: the client reads this channel as history (P22).
			nc := dialRaw(t, g.request())
			requestHistory(t, nc)
			write(t, nc, wire.AppendFrame(nil, 99, 0, nil))
			expectHangup(t, nc)
		}},
		{"frame cut off after the Reply, left idle", short, true, func(t *testing.T, g *rig) {
			nc := dialRaw(t, g.request())
			requestHistory(t, nc)
			write(t, nc, header(8, wire.MsgClientDone)[:5])
			expectHangup(t, nc)
			if n := g.s.Stats().IdleTimeouts; n != 1 {
				t.Fatalf("%d idle timeouts counted, want 1", n)
			}
		}},
		{"connection flood", Limits{MaxConns: 8, IdleTimeout: time.Minute}, false, func(t *testing.T, g *rig) {
			// The healthy subscriber holds one slot; seven silent ones fill the cap. Once
			// they have been silent long enough, each newcomer makes room by evicting the
			// oldest, and is served.
			silent := make([]net.Conn, 7)
			for i := range silent {
				silent[i] = dialRaw(t, g.online())
			}
			time.Sleep(handshakeGrace)
			for i := range silent {
				nc := dialRaw(t, g.online())
				helloHandshake(t, nc)
				expectHangup(t, silent[i])
			}
			// Now every slot is a subscriber keeping up: nobody is evicted for a newcomer.
			dialHangup(t, g.online())
			if st := g.s.Stats(); st.Rejected != 1 || st.Evictions != 7 || st.Accepted != 15 {
				t.Fatalf("stats %+v, want 15 accepted, 7 evicted and 1 rejected", st)
			}
		}},
		{"request channels that never read, at the cap", Limits{MaxConns: 8, IdleTimeout: time.Minute, StallTimeout: time.Minute}, true, func(t *testing.T, g *rig) {
			// Seven clients request a long history and read none of it; the healthy one and a
			// newcomer subscribe anyway: one of them makes room. 1.5 MB each is far over
			// StallBytes; more only makes the server copy more before it answers the newcomer,
			// which on a loaded machine outlasted the test's patience.
			for range 25 {
				g.postLive(t, 60<<10)
			}
			for range 7 {
				requestHistoryNoRead(t, g.request())
			}
			// The two listeners accept on goroutines of their own: the newcomer must not
			// overtake the requests, or it finds room and nobody is evicted.
			g.waitAccepted(t, 8)
			nc := dialRaw(t, g.online())
			helloHandshake(t, nc)
			if st := g.s.Stats(); st.Evictions != 1 || st.Rejected != 0 {
				t.Fatalf("stats %+v, want 1 eviction and nothing rejected", st)
			}
		}},
		{"request channel that never reads, past the stall timeout", Limits{IdleTimeout: time.Minute, StallTimeout: 200 * time.Millisecond}, true, func(t *testing.T, g *rig) {
			for range 400 {
				g.postLive(t, 60<<10)
			}
			nc := requestHistoryNoRead(t, g.request())
			// Nothing is read until the server gave up; then the history read is whole
			// frames, ending in the Error.
			deadline := time.Now().Add(patience)
			for g.s.Stats().Stalls == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("no stall after %v", patience)
				}
				time.Sleep(10 * time.Millisecond)
			}
			for {
				fr := readFrame(t, nc)
				if fr.MsgID == wire.MsgReply {
					continue
				}
				if fr.MsgID == wire.MsgError {
					if !strings.Contains(string(fr.Body), "history not read") {
						t.Fatalf("Error %q", fr.Body)
					}
					break
				}
				if fr.MsgID != 7 {
					t.Fatalf("history frame with msgid %d", fr.MsgID)
				}
			}
			expectHangup(t, nc)
		}},
		{"subscriber that stops reading", Limits{MaxQueueBytes: 256 << 10, IdleTimeout: time.Minute}, true, func(t *testing.T, g *rig) {
			stuck := dialRaw(t, g.online())
			helloHandshake(t, stuck)
			// In lockstep with the healthy subscriber, so only the stuck one falls behind.
			// The kernel's socket buffers absorb a few MB before the host's queue grows.
			const size, most = 16 << 10, 4000
			for i := 0; g.s.Stats().SlowDrops == 0; i++ {
				if i == most {
					t.Fatalf("stuck subscriber still connected after %d MB", most*size>>20)
				}
				g.postLive(t, size)
			}
			stuck.SetReadDeadline(time.Now().Add(patience))
			if _, err := io.Copy(io.Discard, stuck); errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("stuck subscriber's connection still open after %v", patience)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newRig(t, tc.lim)
			tc.attack(t, g)
			g.stillServing(t, tc.fresh)
		})
	}
}

// A Unix socket file left by a server that was killed is taken over; one a live server
// listens on is not.
func TestStaleUnixSocket(t *testing.T) {
	on, rq := addrsFor(t, "unix")
	// What a killed server leaves: socket files nobody listens on.
	for _, p := range []string{on, rq} {
		l, err := net.Listen("unix", p)
		if err != nil {
			t.Fatal(err)
		}
		l.(*net.UnixListener).SetUnlinkOnClose(false)
		l.Close()
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("the socket file is gone: %v", err)
		}
	}
	s, err := ListenServer(on, rq, reference.ServerConfig{})
	if err != nil {
		t.Fatalf("over stale socket files: %v", err)
	}
	defer s.Close()
	post(t, s, 1)
	if _, err := ListenServer(on, rq+".2", reference.ServerConfig{}); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("a second server on a live socket: %v, want address in use", err)
	}
	// The live server was left alone.
	c, r := startClient(t, s, reference.ClientConfig{})
	open(t, c, reference.ModeSeq, 0)
	r.waitLast(t, "Online 1")
}
