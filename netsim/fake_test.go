package netsim

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/sim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const ms = int64(1_000_000)

// ev is one event seen by a fakeNode.
type ev struct {
	atNs int64
	kind string // accept, connect, recv, closed, timer
	c    reference.ConnID
	ch   reference.Channel
	p    []byte // the slice as delivered, not a copy: tests check it aliases the sender's
	err  error
	id   uint64
}

// fakeNode logs every event and runs optional hooks, which act through env.
type fakeNode struct {
	env         reference.Env
	log         []ev
	onAccepted  func(c reference.ConnID, ch reference.Channel)
	onConnected func(c reference.ConnID)
	onReceived  func(c reference.ConnID, p []byte)
	onClosed    func(c reference.ConnID, err error)
	onTimer     func(id uint64)
}

func (f *fakeNode) Accepted(c reference.ConnID, ch reference.Channel) {
	f.log = append(f.log, ev{atNs: f.env.Now(), kind: "accept", c: c, ch: ch})
	if f.onAccepted != nil {
		f.onAccepted(c, ch)
	}
}

func (f *fakeNode) Connected(c reference.ConnID) {
	f.log = append(f.log, ev{atNs: f.env.Now(), kind: "connect", c: c})
	if f.onConnected != nil {
		f.onConnected(c)
	}
}

func (f *fakeNode) Received(c reference.ConnID, p []byte) {
	f.log = append(f.log, ev{atNs: f.env.Now(), kind: "recv", c: c, p: p})
	if f.onReceived != nil {
		f.onReceived(c, p)
	}
}

func (f *fakeNode) Closed(c reference.ConnID, err error) {
	f.log = append(f.log, ev{atNs: f.env.Now(), kind: "closed", c: c, err: err})
	if f.onClosed != nil {
		f.onClosed(c, err)
	}
}

func (f *fakeNode) Timer(id uint64) {
	f.log = append(f.log, ev{atNs: f.env.Now(), kind: "timer", id: id})
	if f.onTimer != nil {
		f.onTimer(id)
	}
}

// on returns the events for connection c.
func (f *fakeNode) on(c reference.ConnID) []ev {
	var out []ev
	for _, e := range f.log {
		if e.c == c && e.kind != "timer" {
			out = append(out, e)
		}
	}
	return out
}

// bytesOn concatenates everything received on c.
func (f *fakeNode) bytesOn(c reference.ConnID) []byte {
	var b []byte
	for _, e := range f.on(c) {
		if e.kind == "recv" {
			b = append(b, e.p...)
		}
	}
	return b
}

func (f *fakeNode) kinds(c reference.ConnID) []string {
	var out []string
	for _, e := range f.on(c) {
		out = append(out, e.kind)
	}
	return out
}

// world is a network with an attached fake server, and the run's trace as text.
type world struct {
	k      *sim.Kernel
	n      *Network
	server *fakeNode
	trace  bytes.Buffer
}

func newWorld(seed uint64) *world {
	k := sim.New(seed)
	n := New(k)
	w := &world{k: k, n: n, server: &fakeNode{}}
	k.Trace().SetWriter(&w.trace)
	h := n.AddServer("server")
	w.server.env = h
	h.Attach(w.server)
	return w
}

func (w *world) client(name string) *fakeNode {
	h := w.n.AddClient(name)
	f := &fakeNode{env: h}
	h.Attach(f)
	return f
}

// rec is one trace record.
type rec struct {
	atNs int64
	who  string
	a, b int64
}

// records returns the trace records of kind what, parsed back from the text trace.
func (w *world) records(what string) []rec {
	var out []rec
	for line := range strings.Lines(w.trace.String()) {
		f := strings.Fields(line)
		if len(f) != 5 || f[2] != what {
			continue
		}
		msInt, msFrac, _ := strings.Cut(strings.TrimSuffix(f[0], "ms"), ".")
		whole, err1 := strconv.ParseInt(msInt, 10, 64)
		frac, err2 := strconv.ParseInt(msFrac, 10, 64)
		a, err3 := strconv.ParseInt(f[3], 10, 64)
		b, err4 := strconv.ParseInt(f[4], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			panic("unparsable trace line " + line)
		}
		out = append(out, rec{atNs: whole*ms + frac, who: f[1], a: a, b: b})
	}
	return out
}

// at runs f at virtual time t, as the scenario layer does with faults.
func (w *world) at(t int64, f func()) { w.k.Schedule(t, sim.Func(f)) }

func symmetric(n *Network, ch reference.Channel, cfg LinkConfig) {
	n.SetLink(ch, ClientToServer, cfg)
	n.SetLink(ch, ServerToClient, cfg)
}

func counter(i int) []byte {
	return []byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
}

func counters(n int) []byte {
	var b []byte
	for i := range n {
		b = append(b, counter(i)...)
	}
	return b
}

func mustEqualBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %d bytes, want %d; first difference at %d", what, len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
