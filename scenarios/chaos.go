package scenarios

import (
	"math/rand"

	"github.com/leanovate/gopter"
)

// ChaosGen generates plans with every fault the simulator has: links drawn from the whole
// catalogue (latency distributions, bandwidth, TCP loss, slow receivers, and an unreliable
// online link when the stream is contiguous and the clients know it), resets, stalls,
// blackholes, slow closes, partitions, and crashes of the server and the clients with restarts.
// The server is durable and every client reopens, so the reference must come through with no
// violation. With targeted, each fault is aimed at a protocol phase of its client (reply,
// overlap, client_done, online) instead of a uniform time, which is what puts faults at the
// handover.
func ChaosGen(targeted bool) gopter.Gen {
	return func(gp *gopter.GenParameters) *gopter.GenResult {
		rng := gp.Rng
		p, _ := PlanGen()(gp).Retrieve()
		plan := p.(Plan)
		plan.Name = "chaos"
		if targeted {
			plan.Name = "chaos_targeted"
		}
		plan.Server.Durable = true
		contiguous := rng.Intn(2) == 0
		if contiguous {
			renumber(&plan)
		}
		plan.Net = NetPlan{Online: chaosLink(rng, contiguous), Request: chaosLink(rng, false), IdleTimeoutUs: 5_000 + rng.Int63n(20_000)}
		horizonUs := int64(0)
		for _, post := range plan.Posts {
			horizonUs = max(horizonUs, post.AtUs)
		}
		horizonUs = max(horizonUs, 5_000)
		for i := range plan.Clients {
			c := &plan.Clients[i]
			c.Contiguous = contiguous
			c.HandshakeTimeoutUs = 10_000 + rng.Int63n(20_000)
			c.Reopen = &ReopenPlan{BackoffUs: 100 + rng.Int63n(1000), MaxBackoffUs: 5_000}
			c.CloseAtUs = 0
		}
		plan.Faults = nil
		for range 2 + rng.Intn(8) {
			plan.Faults = append(plan.Faults, chaosFault(rng, plan.Clients, horizonUs, targeted))
		}
		// After the last fault the system must settle: time for idle timeouts, handshake
		// timeouts and reopen backoff, then for the liveness bound.
		plan.DurationUs = 2*horizonUs + 400_000
		plan.LivenessBoundUs = 200_000
		return gopter.NewGenResult(plan, PlanShrinker)
	}
}

// renumber makes the posted seqs contiguous from 0, keeping their times.
func renumber(p *Plan) {
	next := int64(0)
	for i := range p.Posts {
		p.Posts[i].Seq = next
		next++
	}
	for i := range p.Clients {
		p.Clients[i].Seq = min(p.Clients[i].Seq, next)
	}
}

func chaosLink(rng *rand.Rand, unreliableOK bool) Link {
	l := drawLink(rng)
	switch rng.Intn(3) {
	case 0:
		l.LatencyDist, l.JitterUs = "fixed", 0
	case 1:
		l.LatencyDist = "exponential"
		l.JitterUs = 1 + rng.Int63n(l.LatencyUs+1)
	}
	if rng.Intn(3) == 0 {
		l.BandwidthBytesPerSec = 1_000_000 + rng.Int63n(100_000_000)
	}
	if rng.Intn(3) == 0 {
		l.RecvBytesPerSec = 500_000 + rng.Int63n(50_000_000)
		l.SendBufferBytes = 16_384 + rng.Intn(1<<20)
	}
	if unreliableOK && rng.Intn(3) == 0 {
		l.Unreliable, l.SegmentProb, l.SegmentMax = true, 0, 0
		l.LossProb, l.DupProb = rng.Float64()*0.05, rng.Float64()*0.05
		l.ReorderProb, l.ReorderMaxUs = rng.Float64()*0.05, 1+rng.Int63n(500)
	} else if rng.Intn(3) == 0 {
		l.LossProb, l.RetransmitUs = rng.Float64()*0.1, 50+rng.Int63n(1000)
	}
	return l
}

var chaosTriggers = []string{"reply", "overlap", "client_done", "online"}

func chaosFault(rng *rand.Rand, clients []ClientPlan, horizonUs int64, targeted bool) Fault {
	c := clients[rng.Intn(len(clients))]
	f := Fault{Client: c.Name, Channel: "online", AtUs: c.OpenAtUs + rng.Int63n(horizonUs)}
	if rng.Intn(2) == 0 {
		f.Channel = "request"
	}
	switch rng.Intn(7) {
	case 0:
		f.Kind = FaultReset
	case 1:
		f.Kind, f.DurationUs = FaultStall, 1+rng.Int63n(5_000)
	case 2:
		f.Kind, f.DurationUs = FaultBlackhole, 1+rng.Int63n(30_000)
	case 3:
		f.Kind, f.DurationUs = FaultSlowClose, 1+rng.Int63n(5_000)
	case 4:
		f.Kind, f.Direction, f.DurationUs = FaultPartition, "to_client", 1+rng.Int63n(30_000)
		if rng.Intn(2) == 0 {
			f.Direction = "to_server"
		}
		f.Channel = ""
	case 5:
		f.Kind, f.DurationUs, f.Channel = FaultCrash, 100+rng.Int63n(5_000), ""
	case 6:
		f.Kind, f.DurationUs, f.Channel, f.Client = FaultCrash, 100+rng.Int63n(5_000), "", ServerName
	}
	if targeted {
		f.Trigger, f.DelayUs, f.AtUs = chaosTriggers[rng.Intn(len(chaosTriggers))], rng.Int63n(300), 0
		if f.Client == ServerName {
			// A server crash aims at the handover of the client drawn: it crashes the
			// server, not that client, while the client reads history.
			f.On = c.Name
		}
	}
	return f
}
