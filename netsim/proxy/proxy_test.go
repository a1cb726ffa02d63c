package proxy

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitTimeout bounds every wait in these tests. It is generous because it only decides how
// long a broken proxy takes to fail a test, never how long a working one takes to pass.
const waitTimeout = 10 * time.Second

const ms = int64(time.Millisecond)

func localAddr(t testing.TB, network string) string {
	if network == "unix" {
		return filepath.Join(t.TempDir(), "s")
	}
	return "127.0.0.1:0"
}

// rig is a target listener with a proxy in front of it.
type rig struct {
	network string
	ln      net.Listener
	p       *Proxy
}

func newRig(t testing.TB, network string, cfg Config, hook func(uint64, Direction, int, []int)) *rig {
	t.Helper()
	ln, err := net.Listen(network, localAddr(t, network))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen, cfg.Target = localAddr(t, network), ln.Addr().String()
	p, err := start(cfg, hook)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		ln.Close()
	})
	return &rig{network: network, ln: ln, p: p}
}

// connect opens a connection through the proxy and returns both ends of it.
func (r *rig) connect(t testing.TB) (client, server duplex) {
	t.Helper()
	cl, err := net.DialTimeout(r.network, r.p.Addr(), waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	r.ln.(interface{ SetDeadline(time.Time) error }).SetDeadline(time.Now().Add(waitTimeout))
	sv, err := r.ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sv.Close() })
	return cl.(duplex), sv.(duplex)
}

func readFull(t testing.TB, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return b
}

func write(t testing.TB, c net.Conn, b []byte) {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(waitTimeout))
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

func expectEOF(t testing.TB, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("read = %d, %v; want 0, EOF", n, err)
	}
}

// readErr reads once and returns the error; a read that returns data is a failure.
func readErr(c net.Conn) error {
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	n, err := c.Read(make([]byte, 1))
	if n != 0 {
		return errors.New("read returned data")
	}
	return err
}

// expectReset checks that err is a reset as the reading side sees it: an error, but neither a
// clean EOF nor our own timeout.
func expectReset(t testing.TB, side string, err error) {
	t.Helper()
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("%s: read error %v; want a reset", side, err)
	}
}

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}).Read(b)
	return b
}

func TestBytesPassUnchanged(t *testing.T) {
	faulty := Link{LatencyNs: ms, JitterNs: 2 * ms, SegmentProb: 0.5, SegmentMax: 8}
	for _, network := range []string{"tcp", "unix"} {
		for _, tc := range []struct {
			name string
			link Link
		}{{"clean", Link{}}, {"faulty", faulty}} {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				r := newRig(t, network, Config{Seed: 1, Up: tc.link, Down: tc.link}, nil)
				cl, sv := r.connect(t)
				up, down := randomBytes(1, 1<<20+17), randomBytes(2, 1<<20+5)
				// Both directions are in flight at once; each writer closes its half so the
				// reader can check that nothing follows the payload.
				errs := make(chan error, 2)
				for _, w := range []struct {
					c duplex
					b []byte
				}{{cl, up}, {sv, down}} {
					go func() {
						w.c.SetWriteDeadline(time.Now().Add(waitTimeout))
						_, err := w.c.Write(w.b)
						if err == nil {
							err = w.c.CloseWrite()
						}
						errs <- err
					}()
				}
				if got := readFull(t, sv, len(up)); !bytes.Equal(got, up) {
					t.Error("client→server bytes differ")
				}
				expectEOF(t, sv)
				if got := readFull(t, cl, len(down)); !bytes.Equal(got, down) {
					t.Error("server→client bytes differ")
				}
				expectEOF(t, cl)
				for range 2 {
					if err := <-errs; err != nil {
						t.Fatal(err)
					}
				}
				if s := r.p.Stats(); s.Bytes != [2]uint64{uint64(len(up)), uint64(len(down))} || s.Connections != 1 {
					t.Errorf("stats %+v", s)
				}
			})
		}
	}
}

func TestLatencyDelaysAndJitterKeepsOrder(t *testing.T) {
	const upNs, downNs = 30 * ms, 20 * ms
	r := newRig(t, "tcp", Config{
		Seed: 2,
		Up:   Link{LatencyNs: upNs},
		Down: Link{LatencyNs: downNs, JitterNs: 15 * ms, SegmentProb: 1, SegmentMax: 4},
	}, nil)
	cl, sv := r.connect(t)

	t0 := time.Now()
	write(t, cl, []byte{1})
	readFull(t, sv, 1)
	if d := time.Since(t0); d < time.Duration(upNs) {
		t.Errorf("client→server took %v; want ≥ %v", d, time.Duration(upNs))
	}

	// Many small writes, cut further by segmentation, each piece with its own jitter: order
	// must survive, and none may arrive early.
	const msgs = 200
	sent := make([]time.Time, msgs)
	for i := range msgs {
		sent[i] = time.Now()
		write(t, sv, []byte{byte(i), byte(i >> 8), 0xAA, 0x55})
	}
	sv.CloseWrite()
	cl.SetReadDeadline(time.Now().Add(waitTimeout))
	var stream []byte
	buf := make([]byte, 1024)
	for {
		n, err := cl.Read(buf)
		now := time.Now()
		for j := len(stream); j < len(stream)+n; j++ {
			if i := j / 4; now.Sub(sent[i]) < time.Duration(downNs) {
				t.Fatalf("message %d arrived after %v; want ≥ %v", i, now.Sub(sent[i]), time.Duration(downNs))
			}
		}
		stream = append(stream, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(stream) != 4*msgs {
		t.Fatalf("got %d bytes; want %d", len(stream), 4*msgs)
	}
	for i := range msgs {
		if m := stream[4*i : 4*i+4]; !bytes.Equal(m, []byte{byte(i), byte(i >> 8), 0xAA, 0x55}) {
			t.Fatalf("message %d is %x: stream reordered or corrupted", i, m)
		}
	}
}

func TestSegmentationSplitsWrites(t *testing.T) {
	var mu sync.Mutex
	var cutReads int
	hook := func(_ uint64, _ Direction, _ int, cuts []int) {
		mu.Lock()
		defer mu.Unlock()
		if len(cuts) > 0 {
			cutReads++
		}
	}
	r := newRig(t, "tcp", Config{Seed: 3, Up: Link{SegmentProb: 1, SegmentMax: 8}}, hook)
	cl, sv := r.connect(t)
	// 32 KiB fits one loopback segment, so unless the proxy cuts it, it arrives in one read.
	const writes, size = 20, 32 << 10
	reads := 0
	buf := make([]byte, 2*size)
	for i := range writes {
		msg := randomBytes(uint64(i), size)
		write(t, cl, msg)
		var got []byte
		sv.SetReadDeadline(time.Now().Add(waitTimeout))
		for len(got) < size {
			n, err := sv.Read(buf[:size-len(got)])
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, buf[:n]...)
			reads++
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("write %d arrived changed", i)
		}
	}
	if reads <= writes {
		t.Errorf("%d writes arrived in %d reads; want more reads than writes", writes, reads)
	}
	mu.Lock()
	defer mu.Unlock()
	if cutReads == 0 {
		t.Error("no read was cut")
	}
}

func TestBandwidthPacesDelivery(t *testing.T) {
	const bw, size = 1_000_000, 200_000
	r := newRig(t, "tcp", Config{Down: Link{BandwidthBytesPerSec: bw}}, nil)
	cl, sv := r.connect(t)
	msg := randomBytes(4, size)
	t0 := time.Now()
	write(t, sv, msg)
	if got := readFull(t, cl, size); !bytes.Equal(got, msg) {
		t.Fatal("bytes differ")
	}
	if d, want := time.Since(t0), time.Duration(size*int64(time.Second)/bw); d < want {
		t.Errorf("%d bytes at %d B/s took %v; want ≥ %v", size, bw, d, want)
	}
}

func TestStallHoldsThenReleasesInOrder(t *testing.T) {
	const stall = 300 * time.Millisecond
	r := newRig(t, "tcp", Config{}, nil)
	cl, sv := r.connect(t)
	write(t, cl, []byte("hello"))
	readFull(t, sv, 5)

	t0 := time.Now()
	if n := r.p.Stall(Down, stall); n != 1 {
		t.Fatalf("Stall affected %d connections; want 1", n)
	}
	for _, s := range []string{"a", "bc", "def"} {
		write(t, sv, []byte(s))
	}
	// The other direction is not stalled.
	write(t, cl, []byte("u"))
	readFull(t, sv, 1)
	if d := time.Since(t0); d >= stall {
		t.Errorf("client→server byte took %v during a server→client stall", d)
	}
	if got := readFull(t, cl, 6); string(got) != "abcdef" {
		t.Errorf("after the stall got %q; want %q", got, "abcdef")
	}
	if d := time.Since(t0); d < stall {
		t.Errorf("stalled bytes arrived after %v; want ≥ %v", d, stall)
	}
}

func TestResetResetsBothSides(t *testing.T) {
	r := newRig(t, "tcp", Config{}, nil)
	cl, sv := r.connect(t)
	write(t, cl, []byte("x"))
	readFull(t, sv, 1)
	errs := make(chan error, 2)
	for _, c := range []net.Conn{cl, sv} {
		go func() { errs <- readErr(c) }()
	}
	if n := r.p.Reset(); n != 1 {
		t.Fatalf("Reset affected %d connections; want 1", n)
	}
	for range 2 {
		expectReset(t, "reading side", <-errs)
	}
	if s := r.p.Stats(); s.Resets != 1 {
		t.Errorf("Resets = %d; want 1", s.Resets)
	}
}

func TestPeerResetPropagates(t *testing.T) {
	r := newRig(t, "tcp", Config{}, nil)
	cl, sv := r.connect(t)
	write(t, cl, []byte("x"))
	readFull(t, sv, 1)
	cl.(*net.TCPConn).SetLinger(0)
	cl.Close()
	expectReset(t, "server", readErr(sv))
	if s := r.p.Stats(); s.Resets != 1 {
		t.Errorf("Resets = %d; want 1", s.Resets)
	}
}

func TestSlowCloseDelaysEOF(t *testing.T) {
	const delay = 250 * time.Millisecond
	r := newRig(t, "tcp", Config{}, nil)
	r.p.SlowClose(delay)
	cl, sv := r.connect(t)
	t0 := time.Now()
	write(t, cl, []byte("x"))
	cl.CloseWrite()
	readFull(t, sv, 1)
	if d := time.Since(t0); d >= delay {
		t.Errorf("data took %v; only the FIN should be delayed", d)
	}
	expectEOF(t, sv)
	if d := time.Since(t0); d < delay {
		t.Errorf("EOF after %v; want ≥ %v", d, delay)
	}
}

func TestHalfClosePropagates(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			r := newRig(t, network, Config{}, nil)
			cl, sv := r.connect(t)
			write(t, cl, []byte("request"))
			if err := cl.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if got := readFull(t, sv, 7); string(got) != "request" {
				t.Fatalf("server got %q", got)
			}
			expectEOF(t, sv)
			// The server can still answer over the half that is open.
			write(t, sv, []byte("response"))
			if err := sv.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if got := readFull(t, cl, 8); string(got) != "response" {
				t.Fatalf("client got %q", got)
			}
			expectEOF(t, cl)
		})
	}
}

func TestDialFailureResetsClient(t *testing.T) {
	p, err := Start(Config{Listen: "127.0.0.1:0", Target: filepath.Join(t.TempDir(), "nobody")})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// The reset can beat the end of the client's own connect, so either call may report it.
	cl, err := net.DialTimeout("tcp", p.Addr(), waitTimeout)
	if err == nil {
		defer cl.Close()
		err = readErr(cl)
	}
	expectReset(t, "client", err)
	if s := p.Stats(); s.Connections != 1 || s.DialFailures != 1 {
		t.Errorf("stats %+v; want 1 connection, 1 dial failure", s)
	}
}

func TestCloseWithActiveConnections(t *testing.T) {
	r := newRig(t, "tcp", Config{}, nil)
	idle, _ := r.connect(t)
	stalled, stalledSv := r.connect(t)
	blocked, _ := r.connect(t)
	if n := r.p.Stall(Down, time.Hour); n != 3 {
		t.Fatalf("Stall affected %d connections; want 3", n)
	}
	write(t, stalledSv, []byte("held in the proxy"))
	// This server never reads: the proxy blocks writing to it, its queue fills, and the
	// client blocks writing to the proxy.
	writeDone := make(chan error, 1)
	go func() {
		blocked.SetWriteDeadline(time.Now().Add(waitTimeout))
		_, err := blocked.Write(make([]byte, 64<<20))
		writeDone <- err
	}()

	closed := make(chan error, 1)
	go func() { closed <- r.p.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
		// Each connection's goroutine unregisters it on its way out, so one left means
		// Close returned before they finished.
		if n := r.p.Stall(Up, 0); n != 0 {
			t.Errorf("%d connections still registered after Close", n)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Close did not return")
	}
	if err := <-writeDone; err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("blocked writer: %v; want the connection closed under it", err)
	}
	for _, c := range []net.Conn{idle, stalled} {
		if err := readErr(c); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("client read after Close: %v; want EOF or reset", err)
		}
	}
	if _, err := net.DialTimeout("tcp", r.p.Addr(), waitTimeout); err == nil {
		t.Error("proxy still accepts after Close")
	}
	if err := r.p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

type cutRecord struct {
	ordinal uint64
	dir     Direction
	n       int
	cuts    []int
}

// recordCuts pushes the same sequence of writes through a segmenting proxy on two successive
// connections and returns every read's cut points.
func recordCuts(t *testing.T, seed uint64) []cutRecord {
	var mu sync.Mutex
	var recs []cutRecord
	hook := func(ordinal uint64, d Direction, n int, cuts []int) {
		mu.Lock()
		defer mu.Unlock()
		recs = append(recs, cutRecord{ordinal, d, n, slices.Clone(cuts)})
	}
	link := Link{SegmentProb: 0.7, SegmentMax: 6}
	r := newRig(t, "tcp", Config{Seed: seed, Up: link, Down: link}, hook)
	var want []int
	for range 2 {
		cl, sv := r.connect(t)
		sizes := rand.New(rand.NewPCG(9, 9))
		for i := range 30 {
			from, to := cl, sv
			if i%3 == 2 {
				from, to = sv, cl
			}
			n := 1 + sizes.IntN(3000)
			want = append(want, n)
			// Waiting for each write to arrive makes every proxy read exactly one write.
			write(t, from, randomBytes(uint64(i), n))
			readFull(t, to, n)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, rec := range recs {
		if i >= len(want) || rec.n != want[i] {
			t.Fatalf("read %d was %d bytes; the test needs each read to be one write", i, rec.n)
		}
	}
	return recs
}

func TestSameSeedSameCuts(t *testing.T) {
	a, b, other := recordCuts(t, 42), recordCuts(t, 42), recordCuts(t, 43)
	// Ordinals are left out: the connections are compared with each other below.
	equal := func(x, y []cutRecord) bool {
		return slices.EqualFunc(x, y, func(p, q cutRecord) bool {
			return p.dir == q.dir && p.n == q.n && slices.Equal(p.cuts, q.cuts)
		})
	}
	if !slices.EqualFunc(a, b, func(p, q cutRecord) bool { return p.ordinal == q.ordinal }) || !equal(a, b) {
		t.Errorf("same seed, different cuts:\n%v\n%v", a, b)
	}
	if equal(a, other) {
		t.Error("seeds 42 and 43 cut identically: the seed is not used")
	}
	// The two connections saw the same writes; their streams must still differ.
	if half := len(a) / 2; equal(a[:half], a[half:]) {
		t.Error("both connections cut identically: the ordinal is not used")
	}
}

func TestInvalidConfig(t *testing.T) {
	if _, err := Start(Config{Listen: "127.0.0.1:0", Target: "127.0.0.1:1", Up: Link{SegmentProb: 2}}); err == nil {
		t.Error("SegmentProb 2 accepted")
	}
	p, err := Start(Config{Listen: "127.0.0.1:0", Target: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.SetLink(Down, Link{LatencyNs: -1}); err == nil {
		t.Error("negative latency accepted")
	}
}

func BenchmarkProxyThroughput(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	p, err := Start(Config{Listen: "127.0.0.1:0", Target: ln.Addr().String()})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	received := make(chan int64, 1)
	go func() {
		var total int64
		defer func() { received <- total }()
		sv, err := ln.Accept()
		if err != nil {
			return
		}
		defer sv.Close()
		buf := make([]byte, 64<<10)
		for {
			n, err := sv.Read(buf)
			total += int64(n)
			if err != nil {
				return
			}
		}
	}()
	cl, err := net.Dial("tcp", p.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for range b.N {
		if _, err := cl.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	cl.(*net.TCPConn).CloseWrite()
	// The clock runs until the target has everything, so bytes queued in the proxy count.
	total := <-received
	b.StopTimer()
	if total != int64(b.N)*int64(len(buf)) {
		b.Fatalf("target received %d bytes; want %d", total, int64(b.N)*int64(len(buf)))
	}
}

// A connection's setup holds its bytes, and the server does not see it, until SetupNs has
// passed; after it, the bytes pass unchanged.
func TestSetupDelaysTheConnection(t *testing.T) {
	const setup = 80 * ms
	r := newRig(t, "tcp", Config{SetupNs: setup}, nil)
	start := time.Now()
	cl, sv := r.connect(t)
	write(t, cl, []byte("hello"))
	if got := readFull(t, sv, 5); string(got) != "hello" {
		t.Fatalf("server read %q", got)
	}
	if d := time.Since(start); d < time.Duration(setup) {
		t.Fatalf("the server had the bytes after %v; want at least the setup, %v", d, time.Duration(setup))
	}
}

// A Reset during the setup refuses the connection: the client is reset and the server never
// sees it.
func TestResetDuringSetupRefuses(t *testing.T) {
	r := newRig(t, "tcp", Config{SetupNs: int64(waitTimeout)}, nil)
	cl, err := net.DialTimeout("tcp", r.p.Addr(), waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	write(t, cl, []byte("request"))
	deadline := time.Now().Add(waitTimeout)
	for r.p.Stats().Connections == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := r.p.Reset(); n != 1 {
		t.Fatalf("Reset affected %d connections; want 1", n)
	}
	expectReset(t, "client", readErr(cl))
	r.ln.(*net.TCPListener).SetDeadline(time.Now().Add(100 * time.Millisecond))
	if sv, err := r.ln.Accept(); err == nil {
		sv.Close()
		t.Fatal("the server saw a refused connection")
	}
	if s := r.p.Stats(); s.Refused != 1 || s.Resets != 0 {
		t.Errorf("stats %+v; want 1 refused, 0 resets", s)
	}
}

// A corruption rewrites the chosen bytes of the chosen frame only, on every connection, and
// follows frames by their sizes however the reads cut them.
func TestCorruptRewritesOneFrame(t *testing.T) {
	frame := func(seq byte, body string) []byte {
		b := make([]byte, frameHeader, frameHeader+len(body))
		b[0], b[8] = byte(len(body)), seq
		return append(b, body...)
	}
	stream := slices.Concat(frame(0, "hello"), frame(1, "request"), frame(2, "tail"))
	want := slices.Concat(frame(0, "hello"), frame(1, "reXXest"), frame(2, "tail"))
	cfg := Config{
		Up:      Link{SegmentProb: 1, SegmentMax: 8},
		Corrupt: []Corruption{{Dir: Up, Frame: 1, Offset: frameHeader + 2, Bytes: []byte("XX")}},
	}
	r := newRig(t, "tcp", cfg, nil)
	for i := range 2 {
		cl, sv := r.connect(t)
		for _, b := range stream { // byte by byte: a frame is followed across reads
			write(t, cl, []byte{b})
		}
		if got := readFull(t, sv, len(want)); !bytes.Equal(got, want) {
			t.Fatalf("connection %d: server read %q; want %q", i, got, want)
		}
	}
	if s := r.p.Stats(); s.Corrupted != 2 {
		t.Errorf("Corrupted = %d; want 2", s.Corrupted)
	}
}
