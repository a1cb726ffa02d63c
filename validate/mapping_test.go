package validate

import (
	"slices"
	"testing"
	"time"

	"github.com/streamsim/streamsim/netsim/proxy"
	"github.com/streamsim/streamsim/scenarios"
)

func TestMapPlan(t *testing.T) {
	p := scenarios.Plan{
		DurationUs: 100_000, // 100 ms: stretched 10 times to a second
		Net: scenarios.NetPlan{
			Online:  scenarios.Link{LatencyUs: 100, LatencyDist: "exponential", JitterUs: 50, SegmentProb: 0.3, SegmentMax: 4, BandwidthBytesPerSec: 1_000_000, Unreliable: true, LossProb: 0.1},
			Request: scenarios.Link{LatencyUs: 200, JitterUs: 10, LossProb: 0.1, RecvBytesPerSec: 100},
		},
		Server:  scenarios.ServerPlan{HistoryIntervalUs: 300, HistoryBatchMsgs: 2, MaxLagBytes: 8192},
		Posts:   []scenarios.Post{{AtUs: 10_000}},
		Clients: []scenarios.ClientPlan{{Name: "c1", OpenAtUs: 1000, Mode: "seq", HandshakeTimeoutUs: 2000, ReadBytesPerSec: 1_000_000}},
		Faults: []scenarios.Fault{
			{AtUs: 20_000, Kind: scenarios.FaultStall, Client: "c1", Channel: "online", DurationUs: 30_000},
			{AtUs: 5000, Kind: scenarios.FaultCrash, Client: "server", DurationUs: 90_000},
			{AtUs: 5000, Kind: scenarios.FaultPartition, Client: "c1", Direction: "to_client", DurationUs: 90_000},
		},
		Failpoints: []scenarios.FailpointPlan{{Name: "server-after-store", Prob: 1}},
	}
	m := mapPlan(&p)
	if m.scale != 10 {
		t.Fatalf("scale %v, want 10", m.scale)
	}
	wantOnline := proxy.Link{LatencyNs: 1_000_000, JitterNs: 1_000_000, BandwidthBytesPerSec: 100_000}
	wantRequest := proxy.Link{LatencyNs: 2_000_000, JitterNs: 100_000}
	if m.links[0] != wantOnline || m.links[1] != wantRequest {
		t.Errorf("links %+v, want %+v and %+v", m.links, wantOnline, wantRequest)
	}
	wantNotes := []string{"crash faults", "datagram online link", "failpoints", "partition faults", "slow receiver on the request link", "slow-reading clients", "tcp loss on the request link", "the server's lag limit"}
	if !slices.Equal(m.notes, wantNotes) {
		t.Errorf("notes %q, want %q", m.notes, wantNotes)
	}
	// The stall (300 ms real) is the longest fault the run applies; it ends at 500 ms.
	if m.bound != livenessFloor+300*time.Millisecond || m.end != 500*time.Millisecond+m.bound {
		t.Errorf("bound %v end %v", m.bound, m.end)
	}
	if m.server.HistoryIntervalUs != 3000 || m.server.HistoryBatchMsgs != 2 || m.client(p.Clients[0]).HandshakeTimeoutUs != 20_000 {
		t.Errorf("server %+v client %+v: times not scaled", m.server, m.client(p.Clients[0]))
	}
	if m.idle != 20*time.Second {
		t.Errorf("idle timeout %v, want the default 2 s stretched 10 times", m.idle)
	}
	if m.setup != [2]time.Duration{2 * time.Millisecond, 4 * time.Millisecond} {
		t.Errorf("setup %v, want a round trip of each link", m.setup)
	}
	// A plan's own bound, stretched, replaces the floor when it is longer.
	p.LivenessBoundUs = 80_000
	if b := mapPlan(&p).bound; b != 800*time.Millisecond+300*time.Millisecond {
		t.Errorf("bound %v with the plan's 80 ms bound, want 800 ms plus the stall", b)
	}

	long := scenarios.Plan{DurationUs: 5_000_000}
	short := scenarios.Plan{DurationUs: 10}
	if s := mapPlan(&long).scale; s != 1 {
		t.Errorf("a 5 s plan is scaled by %v, want 1", s)
	}
	if s := mapPlan(&short).scale; s != maxScale {
		t.Errorf("a 10 µs plan is scaled by %v, want %d", s, maxScale)
	}
}
