package scenarios

import (
	"fmt"
	"math/rand"

	"github.com/leanovate/gopter"
)

// The generators draw whole plans, part by part, from gopter's parameters; each part has a
// shrinker, and PlanShrinker combines them. Campaigns (Random) and property tests use the same
// generators, so a plan that fails in one can be shrunk and replayed by the other.

// defaultParams are gopter's default generator parameters, built once: DefaultGenParameters
// seeds a source from the clock, which cost as much as the seeded one on every seed of a
// campaign.
var defaultParams = gopter.DefaultGenParameters()

// params returns gopter's default generator parameters with a random source seeded by seed
// alone.
func params(seed uint64) *gopter.GenParameters { return defaultParams.CloneWithSeed(int64(seed)) }

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
		autoseq := rng.Intn(6) == 0
		if autoseq {
			renumberPosts(p.Posts)
		}
		p.Clients = drawClients(rng, p.Posts, horizonUs)
		p.Faults = drawFaults(rng, p.Clients)
		if rng.Intn(4) == 0 {
			drawLaggard(rng, &p, horizonUs)
		}
		if rng.Intn(4) == 0 {
			drawEvictionProbe(rng, &p)
		}
		if autoseq {
			// The server numbers the posts itself; what they ask for is noise it must
			// ignore, online as in the store.
			p.Server.Autoseq = true
			for i := range p.Posts {
				p.Posts[i].Seq = rng.Int63n(1000)
			}
		}
		p.DurationUs = 2*horizonUs + 50_000
		for _, post := range p.Posts {
			p.DurationUs = max(p.DurationUs, post.AtUs+50_000)
		}
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

// renumberPosts makes the posted seqs contiguous from 0, as an autoseq server stores them.
func renumberPosts(posts []Post) {
	for i := range posts {
		posts[i].Seq = int64(i)
	}
}

// drawLaggard gives the clients different read speeds and the server a tight lag limit, with
// one client reading slower than the posts come and the others faster: the server must drop
// exactly that one and go on feeding the rest.
func drawLaggard(rng *rand.Rand, p *Plan, horizonUs int64) {
	var bytes int64
	for _, post := range p.Posts {
		bytes += int64(post.SizeBytes) + 16
	}
	rate := max(bytes*1_000_000/horizonUs, 1000) // bytes per second
	// The limit must hold what is in flight to a fast reader, or it would drop them too.
	inFlight := rate * 2 * (p.Net.Online.LatencyUs + p.Net.Online.JitterUs + 500) / 1_000_000
	p.Server.MaxLagBytes = int(2*inFlight) + 1024 + rng.Intn(3072)
	slow := rng.Intn(len(p.Clients))
	for i := range p.Clients {
		c := &p.Clients[i]
		switch {
		case i == slow:
			c.ReadBytesPerSec = max(rate/int64(2+rng.Intn(6)), 1000)
			c.Reopen = &ReopenPlan{BackoffUs: 100 + rng.Int63n(2000), MaxBackoffUs: 20_000, MaxReopens: 5}
			// A backlog under the limit is read at that speed: late, but not lost, and
			// liveness must allow for it.
			readAllUs := bytes * 1_000_000 / c.ReadBytesPerSec
			p.LivenessBoundUs = max(DefaultLivenessBoundUs, 2*readAllUs+50_000)
		case rng.Intn(2) == 0:
			c.ReadBytesPerSec = rate * int64(8+rng.Intn(8))
		}
	}
}

// drawEvictionProbe adds a burst of posts after the others and a client with a buffer that
// holds all but one to three of them, opening next to the burst's first seq while its Reply is
// held up: the buffer evicts just before, at or just after the requested seq, or on both sides
// of it, before or after the Reply.
func drawEvictionProbe(rng *rand.Rand, p *Plan) {
	last, at := int64(-1), int64(0)
	for _, post := range p.Posts {
		last, at = max(last, post.Seq), max(at, post.AtUs)
	}
	openAt := at + 1000
	// About when the request reaches the server: two round trips on the online channel
	// (connect, hello), then a connect and the request on the request channel.
	reach := 4*(p.Net.Online.LatencyUs+p.Net.Online.JitterUs) + 3*(p.Net.Request.LatencyUs+p.Net.Request.JitterUs)
	burstAt := openAt + rng.Int63n(2*reach+1)
	k, size := 4+rng.Intn(9), 32+rng.Intn(480)
	for i := range k {
		p.Posts = append(p.Posts, Post{AtUs: burstAt + int64(i), Seq: last + 1 + int64(i), MsgID: int32(rng.Uint32()), SizeBytes: size, Fill: rng.Uint64()})
	}
	keep := k - 1 - rng.Intn(3)
	c := ClientPlan{
		Name: fmt.Sprintf("c%d", len(p.Clients)+1), OpenAtUs: openAt, Mode: "seq",
		Seq:         max(0, last+rng.Int63n(4)),
		BufferBytes: keep*(size+16) + rng.Intn(16),
	}
	p.Clients = append(p.Clients, c)
	p.Faults = append(p.Faults, Fault{Trigger: "request", Kind: FaultStall, Client: c.Name, Channel: "request", DurationUs: 2*reach + 500 + rng.Int63n(3000)})
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
		q.Faults = keepFaults(q.Faults, func(f Fault) bool { return f.Client != name && f.On != name })
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
	if c.ReadBytesPerSec != 0 {
		with(func(d *ClientPlan) { d.ReadBytesPerSec = 0 })
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
	if s.MaxLagBytes != 0 {
		m := s
		m.MaxLagBytes = 0
		out = append(out, m)
		// A smaller limit keeps a lagging subscriber dropped with fewer posts, which
		// is what lets the posts shrink when the failure follows the drop.
		if s.MaxLagBytes > 1 {
			m.MaxLagBytes = s.MaxLagBytes / 2
			out = append(out, m)
		}
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
