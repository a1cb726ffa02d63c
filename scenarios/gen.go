package scenarios

import (
	"fmt"
	"math/rand"

	"github.com/leanovate/gopter"
)

// The generators draw whole plans, part by part, from gopter's parameters; each part has a
// shrinker, and PlanShrinker combines them. Campaigns (Random) and property tests use the same
// generators, so a plan that fails in one can be shrunk and replayed by the other.

// params returns generator parameters whose random source is seeded by seed alone.
func params(seed uint64) *gopter.GenParameters {
	p := gopter.DefaultGenParameters()
	return p.CloneWithSeed(int64(seed))
}

// Random draws a plan from seed: the `random` scenario.
func Random(seed uint64) Plan {
	p, _ := PlanGen()(params(seed)).Retrieve()
	return p.(Plan)
}

// PlanGen generates plans that lean towards the handover: clients open while posts flow, ask
// for seqs next to stored ones (inside gaps, at last, last+1), get buffers small enough to
// overflow, and meet resets on either channel.
func PlanGen() gopter.Gen {
	return func(gp *gopter.GenParameters) *gopter.GenResult {
		rng := gp.Rng
		p := Plan{Name: "random"}
		p.Net = NetPlan{Online: drawLink(rng), Request: drawLink(rng)}
		p.Server = drawServer(rng)
		horizonUs := 5_000 + rng.Int63n(45_000)
		p.Posts = drawPosts(rng, horizonUs)
		p.Clients = drawClients(rng, p.Posts, horizonUs)
		p.Faults = drawFaults(rng, p.Clients)
		p.DurationUs = 2*horizonUs + 50_000
		return gopter.NewGenResult(p, PlanShrinker)
	}
}

// LinkGen, ServerGen, PostsGen, ClientsGen and FaultsGen generate one part each, for property
// tests that vary one part and fix the rest.
func LinkGen() gopter.Gen {
	return partGen(func(r *rand.Rand) any { return drawLink(r) }, shrinkLinkValue)
}

func ServerGen() gopter.Gen {
	return partGen(func(r *rand.Rand) any { return drawServer(r) }, shrinkServerValue)
}

func PostsGen() gopter.Gen {
	return partGen(func(r *rand.Rand) any { return drawPosts(r, 5_000+r.Int63n(45_000)) }, shrinkPostsValue)
}

// ClientsGen draws clients and their opens against posts.
func ClientsGen(posts []Post) gopter.Gen {
	return partGen(func(r *rand.Rand) any { return drawClients(r, posts, 50_000) }, shrinkClientsValue)
}

// FaultsGen draws a fault schedule for clients.
func FaultsGen(clients []ClientPlan) gopter.Gen {
	return partGen(func(r *rand.Rand) any { return drawFaults(r, clients) }, shrinkFaultsValue)
}

func partGen(draw func(*rand.Rand) any, shrink gopter.Shrinker) gopter.Gen {
	return func(gp *gopter.GenParameters) *gopter.GenResult {
		return gopter.NewGenResult(draw(gp.Rng), shrink)
	}
}

func drawLink(rng *rand.Rand) Link {
	l := Link{LatencyUs: 5 + rng.Int63n(2000)}
	if rng.Intn(2) == 0 {
		l.JitterUs = rng.Int63n(l.LatencyUs + 1)
	}
	if rng.Intn(2) == 0 {
		l.SegmentProb, l.SegmentMax = rng.Float64(), 2+rng.Intn(6)
	}
	return l
}

func drawServer(rng *rand.Rand) ServerPlan {
	return ServerPlan{HistoryBatchMsgs: 1 + rng.Intn(32), HistoryIntervalUs: rng.Int63n(400)}
}

// drawPosts draws a preloaded log and live traffic over horizonUs; half the plans get sparse
// seqs, and now and then a post goes backwards so the server must refuse it. Every post gets
// its own msgid, body contents and size, so losing or mixing up any of them shows.
func drawPosts(rng *rand.Rand, horizonUs int64) []Post {
	stepMax := int64(1)
	if rng.Intn(2) == 0 {
		stepMax = 1 + rng.Int63n(10)
	}
	size := func() int {
		if rng.Intn(20) == 0 {
			return rng.Intn(4096)
		}
		return rng.Intn(256)
	}
	preload, live := rng.Intn(60), rng.Intn(300)
	seq := rng.Int63n(5) - 1
	var posts []Post
	for range preload {
		seq += 1 + rng.Int63n(stepMax)
		posts = append(posts, Post{AtUs: 0, Seq: seq, MsgID: int32(rng.Uint32()), SizeBytes: size(), Fill: rng.Uint64()})
	}
	t := int64(0)
	for range live {
		t += rng.Int63n(2*horizonUs/int64(live+1) + 1)
		seq += 1 + rng.Int63n(stepMax)
		if rng.Intn(50) == 0 {
			seq -= 1 + rng.Int63n(stepMax)
		}
		posts = append(posts, Post{AtUs: t, Seq: seq, MsgID: int32(rng.Uint32()), SizeBytes: size(), Fill: rng.Uint64()})
	}
	return posts
}

var genModes = []string{"seq", "seq", "seq-data", "initial", "last", "online"}

// drawClients draws clients that ask for seqs near what is stored when they open.
func drawClients(rng *rand.Rand, posts []Post, horizonUs int64) []ClientPlan {
	pick := func(openAtUs int64) int64 {
		stored := 0
		for stored < len(posts) && posts[stored].AtUs <= openAtUs {
			stored++
		}
		if stored == 0 || rng.Intn(8) == 0 {
			return rng.Int63n(20)
		}
		s := posts[rng.Intn(stored)].Seq
		switch rng.Intn(4) {
		case 0:
			return max(0, s-1-rng.Int63n(3))
		case 1:
			return s + 1
		}
		return max(0, s)
	}
	var out []ClientPlan
	for i := range 1 + rng.Intn(6) {
		c := ClientPlan{
			Name:     fmt.Sprintf("c%d", i+1),
			OpenAtUs: rng.Int63n(horizonUs),
			Mode:     genModes[rng.Intn(len(genModes))],
		}
		c.Seq = pick(c.OpenAtUs)
		if rng.Intn(3) == 0 {
			c.BufferBytes = 256 + rng.Intn(8192)
		}
		if (c.Mode == "seq" || c.Mode == "seq-data") && rng.Intn(3) == 0 {
			c.Protocol = "old"
		}
		if rng.Intn(4) == 0 {
			c.CloseAtUs = c.OpenAtUs + 1 + rng.Int63n(horizonUs)
		}
		if rng.Intn(3) == 0 {
			c.Reopen = &ReopenPlan{BackoffUs: 100 + rng.Int63n(2000), MaxBackoffUs: 20_000, MaxReopens: 5}
		}
		out = append(out, c)
	}
	return out
}

func drawFaults(rng *rand.Rand, clients []ClientPlan) []Fault {
	var out []Fault
	for _, c := range clients {
		if rng.Intn(4) != 0 {
			continue
		}
		ch := "online"
		if rng.Intn(2) == 0 {
			ch = "request"
		}
		out = append(out, Fault{AtUs: c.OpenAtUs + rng.Int63n(5000), Kind: FaultReset, Client: c.Name, Channel: ch})
	}
	return out
}

// Size is what shrinking minimises: posts, opens and faults.
func (p *Plan) Size() int { return len(p.Posts) + len(p.Clients) + len(p.Faults) }

// PlanShrinker proposes smaller plans, the biggest cuts first: fewer clients (with their
// faults), fewer faults, fewer posts, then simpler clients, shorter faults, calmer links, a
// plainer server and smaller seqs. Every candidate is a valid plan.
func PlanShrinker(v any) gopter.Shrink {
	p := v.(Plan)
	var cands []Plan
	add := func(q Plan) { cands = append(cands, q) }

	for i := range p.Clients {
		q := p.clone()
		name := q.Clients[i].Name
		q.Clients = append(q.Clients[:i:i], q.Clients[i+1:]...)
		q.Faults = keepFaults(q.Faults, func(f Fault) bool { return f.Client != name })
		add(q)
	}
	for i := range p.Faults {
		q := p.clone()
		q.Faults = append(q.Faults[:i:i], q.Faults[i+1:]...)
		add(q)
	}
	for _, posts := range shrinkPosts(p.Posts) {
		q := p.clone()
		q.Posts = posts
		add(q)
	}
	for i := range p.Clients {
		for _, c := range shrinkClient(p.Clients[i]) {
			q := p.clone()
			q.Clients[i] = c
			add(q)
		}
	}
	for i, f := range p.Faults {
		if f.DurationUs > 1 {
			q := p.clone()
			q.Faults[i].DurationUs = f.DurationUs / 2
			add(q)
		}
	}
	for _, l := range shrinkLink(p.Net.Online) {
		q := p.clone()
		q.Net.Online = l
		add(q)
	}
	for _, l := range shrinkLink(p.Net.Request) {
		q := p.clone()
		q.Net.Request = l
		add(q)
	}
	for _, s := range shrinkServer(p.Server) {
		q := p.clone()
		q.Server = s
		add(q)
	}
	if q, ok := lowerSeqs(p); ok {
		add(q)
	}
	return sliceShrink(cands)
}

func (p Plan) clone() Plan {
	q := p
	q.Posts = append([]Post(nil), p.Posts...)
	q.Clients = append([]ClientPlan(nil), p.Clients...)
	q.Faults = append([]Fault(nil), p.Faults...)
	return q
}

func keepFaults(fs []Fault, keep func(Fault) bool) []Fault {
	var out []Fault
	for _, f := range fs {
		if keep(f) {
			out = append(out, f)
		}
	}
	return out
}

// shrinkPosts halves the posts from either end, then, once few are left, drops them one by one.
func shrinkPosts(ps []Post) [][]Post {
	var out [][]Post
	if n := len(ps); n >= 2 {
		out = append(out, append([]Post(nil), ps[:n/2]...), append([]Post(nil), ps[n/2:]...))
	}
	if len(ps) <= 32 {
		for i := range ps {
			out = append(out, append(append([]Post(nil), ps[:i]...), ps[i+1:]...))
		}
	}
	return out
}

func shrinkPostsValue(v any) gopter.Shrink { return sliceShrink(shrinkPosts(v.([]Post))) }

// shrinkClientsValue drops one client at a time, then simplifies one at a time.
func shrinkClientsValue(v any) gopter.Shrink {
	cs := v.([]ClientPlan)
	var out [][]ClientPlan
	for i := range cs {
		if len(cs) > 1 {
			out = append(out, append(append([]ClientPlan(nil), cs[:i]...), cs[i+1:]...))
		}
		for _, c := range shrinkClient(cs[i]) {
			d := append([]ClientPlan(nil), cs...)
			d[i] = c
			out = append(out, d)
		}
	}
	return sliceShrink(out)
}

// shrinkFaultsValue drops one fault at a time.
func shrinkFaultsValue(v any) gopter.Shrink {
	fs := v.([]Fault)
	var out [][]Fault
	for i := range fs {
		out = append(out, append(append([]Fault(nil), fs[:i]...), fs[i+1:]...))
	}
	return sliceShrink(out)
}

func shrinkClient(c ClientPlan) []ClientPlan {
	var out []ClientPlan
	with := func(f func(*ClientPlan)) {
		d := c
		f(&d)
		out = append(out, d)
	}
	if c.Reopen != nil {
		with(func(d *ClientPlan) { d.Reopen = nil })
	}
	if c.CloseAtUs != 0 {
		with(func(d *ClientPlan) { d.CloseAtUs = 0 })
	}
	if c.Protocol == "old" {
		with(func(d *ClientPlan) { d.Protocol = "" })
	}
	if c.BufferBytes != 0 {
		with(func(d *ClientPlan) { d.BufferBytes = 0 })
	}
	if c.OpenAtUs > 0 {
		with(func(d *ClientPlan) { d.OpenAtUs /= 2 })
	}
	if c.RequestVersion != 0 {
		with(func(d *ClientPlan) { d.RequestVersion = 0 })
	}
	return out
}

func shrinkLink(l Link) []Link {
	var out []Link
	if l.SegmentProb != 0 {
		m := l
		m.SegmentProb, m.SegmentMax = 0, 0
		out = append(out, m)
	}
	if l.JitterUs != 0 {
		m := l
		m.JitterUs = 0
		out = append(out, m)
	}
	if l.LatencyUs > 1 {
		m := l
		m.LatencyUs /= 2
		out = append(out, m)
	}
	return out
}

func shrinkLinkValue(v any) gopter.Shrink { return sliceShrink(shrinkLink(v.(Link))) }

func shrinkServer(s ServerPlan) []ServerPlan {
	var out []ServerPlan
	if s.HistoryIntervalUs != 0 {
		m := s
		m.HistoryIntervalUs = 0
		out = append(out, m)
	}
	if s.HistoryBatchMsgs != 0 {
		m := s
		m.HistoryBatchMsgs = 0
		out = append(out, m)
	}
	return out
}

func shrinkServerValue(v any) gopter.Shrink { return sliceShrink(shrinkServer(v.(ServerPlan))) }

// lowerSeqs shifts every seq down so the smallest posted one is 0: the same story with
// smaller numbers.
func lowerSeqs(p Plan) (Plan, bool) {
	if len(p.Posts) == 0 {
		return p, false
	}
	low := p.Posts[0].Seq
	for _, post := range p.Posts {
		low = min(low, post.Seq)
	}
	if low <= 0 {
		return p, false
	}
	q := p.clone()
	for i := range q.Posts {
		q.Posts[i].Seq -= low
	}
	for i := range q.Clients {
		q.Clients[i].Seq = max(0, q.Clients[i].Seq-low)
	}
	q.Server.PubLastSeq = max(0, q.Server.PubLastSeq-low)
	return q, true
}

func sliceShrink[T any](xs []T) gopter.Shrink {
	i := 0
	return func() (any, bool) {
		if i == len(xs) {
			return nil, false
		}
		i++
		return xs[i-1], true
	}
}
