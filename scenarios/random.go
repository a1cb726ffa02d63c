package scenarios

import (
	"fmt"
	"math/rand/v2"
)

// Random draws a whole plan from seed. Choices lean towards the handover: clients open while
// posts are flowing, ask for seqs next to stored ones (inside gaps, at last, last+1), and get
// buffers small enough to overflow.
func Random(seed uint64) Plan {
	// A stream of its own, apart from the kernel's, so that the plan does not shift when the
	// simulator draws differently.
	rng := rand.New(rand.NewPCG(seed, 0x5eed_91a7))
	p := Plan{Name: "random"}

	link := func() Link {
		l := Link{LatencyUs: 5 + rng.Int64N(2000)}
		if rng.IntN(2) == 0 {
			l.JitterUs = rng.Int64N(l.LatencyUs + 1)
		}
		if rng.IntN(2) == 0 {
			l.SegmentProb, l.SegmentMax = rng.Float64(), 2+rng.IntN(6)
		}
		return l
	}
	p.Net = NetPlan{Online: link(), Request: link()}
	p.Server = ServerPlan{HistoryBatchMsgs: 1 + rng.IntN(32), HistoryIntervalUs: rng.Int64N(400)}

	// Posts: a preloaded log, then live traffic over the run. Half the plans have sparse seqs.
	stepMax := int64(1)
	if rng.IntN(2) == 0 {
		stepMax = 1 + rng.Int64N(10)
	}
	horizonUs := 5_000 + rng.Int64N(45_000)
	preload, live := rng.IntN(60), rng.IntN(300)
	seq := rng.Int64N(5) - 1
	var seqs []int64
	size := func() int {
		if rng.IntN(20) == 0 {
			return rng.IntN(4096)
		}
		return rng.IntN(256)
	}
	for range preload {
		seq += 1 + rng.Int64N(stepMax)
		seqs = append(seqs, seq)
		p.Posts = append(p.Posts, Post{AtUs: 0, Seq: seq, SizeBytes: size()})
	}
	t := int64(0)
	for range live {
		t += rng.Int64N(2*horizonUs/int64(live+1) + 1)
		seq += 1 + rng.Int64N(stepMax)
		if rng.IntN(50) == 0 {
			seq -= 1 + rng.Int64N(stepMax) // now and then a post the server must refuse
		}
		seqs = append(seqs, seq)
		p.Posts = append(p.Posts, Post{AtUs: t, Seq: seq, SizeBytes: size()})
	}

	// The seq a client asks for: near something stored by the time it opens, now and then
	// anything at all.
	pick := func(openAtUs int64) int64 {
		stored := 0
		for stored < len(p.Posts) && p.Posts[stored].AtUs <= openAtUs {
			stored++
		}
		if stored == 0 || rng.IntN(8) == 0 {
			return rng.Int64N(20)
		}
		s := seqs[rng.IntN(stored)]
		switch rng.IntN(4) {
		case 0:
			return max(0, s-1-rng.Int64N(stepMax))
		case 1:
			return s + 1
		}
		return s
	}
	modes := []string{"seq", "seq", "seq-data", "initial", "last", "online"}
	nclients := 1 + rng.IntN(6)
	for i := range nclients {
		c := ClientPlan{
			Name:     fmt.Sprintf("c%d", i+1),
			OpenAtUs: rng.Int64N(horizonUs),
			Mode:     modes[rng.IntN(len(modes))],
		}
		c.Seq = pick(c.OpenAtUs)
		if rng.IntN(3) == 0 {
			c.BufferBytes = 256 + rng.IntN(8192)
		}
		if (c.Mode == "seq" || c.Mode == "seq-data") && rng.IntN(3) == 0 {
			c.Protocol = "old"
		}
		if rng.IntN(4) == 0 {
			c.CloseAtUs = c.OpenAtUs + 1 + rng.Int64N(horizonUs)
		}
		if rng.IntN(3) == 0 {
			c.Reopen = &ReopenPlan{BackoffUs: 100 + rng.Int64N(2000), MaxBackoffUs: 20_000, MaxReopens: 5}
		}
		p.Clients = append(p.Clients, c)
		if rng.IntN(4) == 0 {
			ch := "online"
			if rng.IntN(2) == 0 {
				ch = "request"
			}
			p.Faults = append(p.Faults, Fault{AtUs: c.OpenAtUs + rng.Int64N(5000), Kind: FaultReset, Client: c.Name, Channel: ch})
		}
	}
	p.DurationUs = 2*horizonUs + 50_000
	return p
}
