package netsim

import (
	"testing"

	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/sim"
)

// fanServer sends one shared frame to every accepted connection on each tick, as a stream+
// server does for its online subscribers.
type fanServer struct {
	env     reference.Env
	conns   []reference.ConnID
	frame   []byte
	tickNs  int64
	clients int
}

func (s *fanServer) Accepted(c reference.ConnID, _ reference.Channel) {
	s.conns = append(s.conns, c)
	if len(s.conns) == s.clients {
		s.env.SetTimer(0, 0)
	}
}
func (s *fanServer) Connected(reference.ConnID)        {}
func (s *fanServer) Received(reference.ConnID, []byte) {}
func (s *fanServer) Closed(reference.ConnID, error)    {}
func (s *fanServer) Timer(uint64) {
	for _, c := range s.conns {
		s.env.Send(c, s.frame)
	}
	s.env.SetTimer(s.tickNs, 0)
}

// sink counts what it receives and nothing else, so the network is what gets measured.
type sink struct {
	deliveries *int
	bytes      int
}

func (s *sink) Accepted(reference.ConnID, reference.Channel) {}
func (s *sink) Connected(reference.ConnID)                   {}
func (s *sink) Received(_ reference.ConnID, p []byte)        { *s.deliveries++; s.bytes += len(p) }
func (s *sink) Closed(reference.ConnID, error)               {}
func (s *sink) Timer(uint64)                                 {}

// fanout builds one server fanning 64-byte frames out to clients, every tickNs, over a
// jittery online link, and runs it until all clients are connected.
func fanout(clients int, tickNs int64) (k *sim.Kernel, deliveries *int) {
	k = sim.New(1)
	n := New(k)
	symmetric(n, reference.ChanOnline, LinkConfig{LatencyNs: 50_000, JitterNs: 10_000})
	srvHost := n.AddServer("server")
	srvHost.Attach(&fanServer{env: srvHost, frame: make([]byte, 64), tickNs: tickNs, clients: clients})
	deliveries = new(int)
	for i := range clients {
		h := n.AddClient("client" + string(rune('a'+i)))
		h.Attach(&sink{deliveries: deliveries})
		h.Dial(reference.ChanOnline)
	}
	k.Run(ms)
	return k, deliveries
}

func TestDeliverDoesNotAllocate(t *testing.T) {
	k, deliveries := fanout(8, 1000)
	k.Run(k.Now() + 10*ms) // let rings and the heap reach their steady size
	before := *deliveries
	allocs := testing.AllocsPerRun(100, func() { k.Run(k.Now() + 100_000) })
	if *deliveries == before {
		t.Fatal("nothing delivered")
	}
	if allocs != 0 {
		t.Fatalf("%.1f allocations per 100µs of fan-out", allocs)
	}
}

func BenchmarkDeliver(b *testing.B) {
	k, deliveries := fanout(8, 1000)
	start := *deliveries
	b.ReportAllocs()
	b.ResetTimer()
	for *deliveries-start < b.N {
		k.Run(k.Now() + 100_000)
	}
	b.StopTimer()
	b.ReportMetric(float64(*deliveries-start)/b.Elapsed().Seconds(), "deliveries/s")
}
