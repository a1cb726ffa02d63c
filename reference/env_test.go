package reference

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/streamsim/streamsim/reference/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeEnv records what a node does, so a test can drive one node by hand.
type fakeEnv struct {
	now     int64
	nextID  ConnID
	dialed  []Channel
	sent    map[ConnID][]byte
	closed  map[ConnID]bool
	timers  []uint64
	pending map[ConnID]int // what Pending reports
}

func newFakeEnv() *fakeEnv {
	return &fakeEnv{sent: map[ConnID][]byte{}, closed: map[ConnID]bool{}, pending: map[ConnID]int{}}
}

func (e *fakeEnv) Now() int64 { return e.now }
func (e *fakeEnv) Dial(ch Channel) ConnID {
	e.nextID++
	e.dialed = append(e.dialed, ch)
	return e.nextID
}
func (e *fakeEnv) Send(c ConnID, p []byte)     { e.sent[c] = append(e.sent[c], p...) }
func (e *fakeEnv) Close(c ConnID)              { e.closed[c] = true }
func (e *fakeEnv) SetTimer(_ int64, id uint64) { e.timers = append(e.timers, id) }
func (e *fakeEnv) Pending(c ConnID) int        { return e.pending[c] }

// frames decodes everything sent on c.
func (e *fakeEnv) frames(t *testing.T, c ConnID) []wire.Frame {
	t.Helper()
	f := wire.NewFramer(1 << 20)
	f.Feed(e.sent[c])
	var out []wire.Frame
	for {
		fr, ok, err := f.Next()
		if err != nil {
			t.Fatalf("conn %d: undecodable output: %v", c, err)
		}
		if !ok {
			return out
		}
		fr.Body = append([]byte(nil), fr.Body...)
		out = append(out, fr)
	}
}
