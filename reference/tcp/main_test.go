package tcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/reference/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// patience bounds every wait on the network. It is generous because it only ever matters
// when a test is failing.
const patience = 10 * time.Second

var kinds = []string{"tcp", "unix"}

func addrsFor(t testing.TB, kind string) (online, request string) {
	if kind == "unix" {
		d := t.TempDir()
		return filepath.Join(d, "online.sock"), filepath.Join(d, "request.sock")
	}
	return "127.0.0.1:0", "127.0.0.1:0"
}

func startServer(t testing.TB, kind string, cfg reference.ServerConfig, opts ...Option) *ServerHost {
	t.Helper()
	on, rq := addrsFor(t, kind)
	s, err := ListenServer(on, rq, cfg, opts...)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func post(t testing.TB, s *ServerHost, seqs ...int64) {
	t.Helper()
	for _, q := range seqs {
		if _, err := s.Post(q, 7, fmt.Appendf(nil, "m%d", q)); err != nil {
			t.Fatalf("post %d: %v", q, err)
		}
	}
}

// recorder is a client application that writes down what it sees, as strings such as
// "data 20", "Online 30", "Active" or "Error: <reason>". Its callbacks run on the loop.
type recorder struct {
	mu     sync.Mutex
	log    []string
	notify chan struct{}
	onData func(seq int64) // called on the loop after a delivery is logged
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.log = append(r.log, s)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// Data checks the body starts as post writes it: "m<seq>", padded in some tests.
func (r *recorder) Data(seq int64, _ int32, body []byte) {
	if want := fmt.Sprintf("m%d", seq); !strings.HasPrefix(string(body), want) {
		r.add(fmt.Sprintf("data %d with body %.20q, want %q", seq, body, want))
	} else {
		r.add(fmt.Sprintf("data %d", seq))
	}
	if r.onData != nil {
		r.onData(seq)
	}
}
func (r *recorder) Control(c reference.Control, seq int64) { r.add(fmt.Sprintf("%s %d", c, seq)) }
func (r *recorder) State(s reference.State, reason string) {
	if s == reference.StateError {
		r.add("Error: " + reason)
		return
	}
	r.add(s.String())
}
func (r *recorder) Phase(reference.Phase, int64) {}

func (r *recorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.log...)
}

// waitFor waits until done holds for the log.
func (r *recorder) waitFor(t testing.TB, what string, done func(log []string) bool) []string {
	t.Helper()
	timeout := time.NewTimer(patience)
	defer timeout.Stop()
	for {
		log := r.snapshot()
		if done(log) {
			return log
		}
		select {
		case <-r.notify:
		case <-timeout.C:
			t.Fatalf("no %s within %v; client saw: %s", what, patience, strings.Join(log, ", "))
		}
	}
}

// waitLast waits until the last entry is last.
func (r *recorder) waitLast(t testing.TB, last string) []string {
	t.Helper()
	return r.waitFor(t, fmt.Sprintf("%q", last), func(log []string) bool {
		return len(log) > 0 && log[len(log)-1] == last
	})
}

// expectLog waits for the log to reach len(want) entries and checks them.
func (r *recorder) expectLog(t testing.TB, want ...string) {
	t.Helper()
	log := r.waitFor(t, fmt.Sprintf("%d events", len(want)), func(log []string) bool { return len(log) >= len(want) })
	if strings.Join(log, ", ") != strings.Join(want, ", ") {
		t.Fatalf("client saw\n  %s\nwant\n  %s", strings.Join(log, ", "), strings.Join(want, ", "))
	}
}

func startClient(t testing.TB, s *ServerHost, cfg reference.ClientConfig) (*ClientHost, *recorder) {
	t.Helper()
	r := newRecorder()
	on, rq := s.Addrs()
	c := DialClient(on, rq, r, cfg)
	t.Cleanup(c.Shutdown)
	return c, r
}

func open(t testing.TB, c *ClientHost, mode reference.Mode, seq int64) {
	t.Helper()
	if err := c.Open(mode, seq); err != nil {
		t.Fatalf("open %s %d: %v", mode, seq, err)
	}
}

// dialRaw connects a hand-driven peer to addr.
func dialRaw(t testing.TB, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout(network(addr), addr, patience)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

func write(t testing.TB, nc net.Conn, p []byte) {
	t.Helper()
	if _, err := nc.Write(p); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// readFrame reads one std frame.
func readFrame(t testing.TB, nc net.Conn) wire.Frame {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(patience))
	var hdr [wire.HeaderSize]byte
	if _, err := io.ReadFull(nc, hdr[:]); err != nil {
		t.Fatalf("reading a frame header: %v", err)
	}
	body := make([]byte, binary.LittleEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(nc, body); err != nil {
		t.Fatalf("reading a %d-byte frame body: %v", len(body), err)
	}
	return wire.Frame{MsgID: int32(binary.LittleEndian.Uint32(hdr[4:])), Seq: int64(binary.LittleEndian.Uint64(hdr[8:])), Body: body}
}

// expectError reads an Error frame and checks its text mentions want.
func expectError(t testing.TB, nc net.Conn, want string) {
	t.Helper()
	fr := readFrame(t, nc)
	if fr.MsgID != wire.MsgError {
		t.Fatalf("got msgid %d, want Error (%d)", fr.MsgID, wire.MsgError)
	}
	e, err := wire.DecodeError(fr.Body)
	if err != nil {
		t.Fatalf("malformed Error: %v", err)
	}
	if !strings.Contains(e.Text, want) {
		t.Fatalf("Error %q does not mention %q", e.Text, want)
	}
}

// expectHangup reads until the server ends the connection and checks nothing more came.
// Hitting the deadline instead means the server kept the connection open.
func expectHangup(t testing.TB, nc net.Conn) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(patience))
	got, err := io.ReadAll(nc)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection still open after %v", patience)
	}
	if len(got) > 0 {
		t.Fatalf("got %d unexpected bytes before the hangup: % x", len(got), got[:min(len(got), 64)])
	}
}

// dialHangup dials addr and expects the server to hang up without a word. On loopback the
// server's reset may beat connect's own completion, so a reset dial counts too.
func dialHangup(t testing.TB, addr string) {
	t.Helper()
	nc, err := net.DialTimeout(network(addr), addr, patience)
	if err != nil {
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("dial %s: %v, want a connection or a reset", addr, err)
		}
		return
	}
	defer nc.Close()
	expectHangup(t, nc)
}

func requestFrame(seq uint64) []byte {
	return wire.AppendMsg(nil, wire.Request{Version: 1, Kind: wire.ReqSeq, Seq: seq, Client: "raw"})
}
