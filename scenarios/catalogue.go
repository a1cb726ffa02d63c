package scenarios

import (
	"fmt"

	"github.com/streamsim/streamsim/reference"
)

// Scenario is a named way to build a plan. Hand-made scenarios ignore the seed (it then only
// drives network randomness such as segmentation); `random` draws its whole plan from it.
type Scenario struct {
	Name  string
	Doc   string
	Build func(seed uint64) Plan
	// Generated scenarios draw their whole plan from the seed; the others are hand-made
	// and have expected stories in testdata/catalogue.txt.
	Generated bool
}

// Default links: 100 µs each way, with writes split at random points often enough that every
// catalogue case also proves the framing copes with segmentation.
var catalogueNet = NetPlan{
	Online:  Link{LatencyUs: 100, SegmentProb: 0.3, SegmentMax: 4},
	Request: Link{LatencyUs: 100, SegmentProb: 0.3, SegmentMax: 4},
}

// slowRequest makes the request channel ten times slower than the online one, which is how
// live data gets ahead of history.
func slowRequest(p Plan) Plan {
	p.Net = catalogueNet
	p.Net.Request.LatencyUs = 1000
	return p
}

// at posts seqs one microsecond apart starting at atUs.
func at(atUs int64, seqs ...int64) []Post {
	out := make([]Post, len(seqs))
	for i, s := range seqs {
		out[i] = Post{AtUs: atUs + int64(i), Seq: s, SizeBytes: 16}
	}
	return out
}

// span lists from, from+step, ... up to to inclusive.
func span(from, to, step int64) []int64 {
	var out []int64
	for s := from; s <= to; s += step {
		out = append(out, s)
	}
	return out
}

// steady posts n consecutive seqs from first, one every everyUs, starting at everyUs.
func steady(first int64, n int, everyUs int64) []Post {
	out := make([]Post, n)
	for i := range out {
		out[i] = Post{AtUs: int64(i+1) * everyUs, Seq: first + int64(i), SizeBytes: 32}
	}
	return out
}

func join(lists ...[]Post) []Post {
	var out []Post
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func one(name, mode string, seq int64, openAtUs int64) []ClientPlan {
	return []ClientPlan{{Name: name, OpenAtUs: openAtUs, Mode: mode, Seq: seq}}
}

func fixed(name, doc string, build func() Plan) Scenario {
	return Scenario{Name: name, Doc: doc, Build: func(uint64) Plan {
		p := build()
		p.Name, p.Doc = name, doc
		if p.Net == (NetPlan{}) {
			p.Net = catalogueNet
		}
		return p
	}}
}

func tllTest(protocol string) func() Plan {
	return func() Plan {
		c := one("c1", "seq", 20, 1000)
		c[0].Protocol, c[0].CloseAtUs = protocol, 8000
		return Plan{
			DurationUs: 10000,
			// 25 and 30 come after 30 and must be rejected as non-monotonic.
			Posts:   join(at(0, 10, 20, 30, 25, 30), at(5000, 40)),
			Clients: c,
		}
	}
}

func tllOpen(mode string, seq int64) func() Plan {
	return func() Plan {
		return Plan{DurationUs: 5000, Posts: at(0, 10, 20, 30), Clients: one("c1", mode, seq, 1000)}
	}
}

func catalogue() []Scenario {
	closeOn9 := int64(9)
	return []Scenario{
		fixed("test_new", "TLL test[new]: seq=20 over 10,20,30 gives 20, 30, Online(30), then live 40; posts of 25 and 30 are refused", tllTest("new")),
		fixed("test_old", "TLL test[old]: the same through RequestOld", tllTest("old")),
		fixed("test_open_seq_data", "TLL test_open: seq-data=20 gives 30, Online(30)", tllOpen("seq-data", 20)),
		fixed("test_open_seq", "TLL test_open: seq=20 gives 20, 30, Online(30)", tllOpen("seq", 20)),
		fixed("test_open_last", "TLL test_open: last gives 30, Online(30)", tllOpen("last", 0)),
		fixed("test_open_initial", "TLL test_open: initial gives 10, 20, 30, Online(30)", tllOpen("initial", 0)),
		fixed("test_overlapped", "TLL test_overlapped: live 40, 50, 60 are buffered while history is read; each arrives once, then Online(60), then 70", func() Plan {
			return slowRequest(Plan{
				DurationUs: 12000,
				Posts:      join(at(0, 10, 20, 30), at(4500, 40, 50, 60), at(9000, 70)),
				Clients:    one("c1", "seq", 20, 1000),
			})
		}),
		fixed("test_slow_online", "TLL test_slow_online: the online connection stalls, so 20..60 all come from history; the stale online copies are drained and only 70 follows Online(60)", func() Plan {
			return slowRequest(Plan{
				DurationUs: 15000,
				Posts:      join(at(0, 10, 20, 30), at(1600, 40, 50, 60), at(8000, 70)),
				Clients:    one("c1", "seq", 20, 1000),
				Faults:     []Fault{{AtUs: 1500, Kind: FaultStall, Client: "c1", Channel: "online", DurationUs: 8500}},
			})
		}),
		fixed("test_recent", "TLL test_recent: seq=31 over 10,20,30 is nothing to fetch: Online(30) at once, no data", tllOpen("seq", 31)),
		fixed("test_ring", "TLL test_ring: history streams slowly while 10..19 are buffered; the client delivers 0..19, Online(19), then live 20..29", func() Plan {
			return Plan{
				DurationUs: 12000,
				Server:     ServerPlan{HistoryBatchMsgs: 1, HistoryIntervalUs: 300},
				Posts:      join(at(0, span(0, 9, 1)...), at(2500, span(10, 19, 1)...), at(8000, span(20, 29, 1)...)),
				Clients:    one("c1", "seq", 0, 1000),
			}
		}),
		fixed("test_online_gap", "TLL test_online_gap: the handshake reports 10 while the store ends at 4; the client waits for 10 to be stored, then 10, Online(10)", func() Plan {
			return Plan{
				DurationUs: 8000,
				Server:     ServerPlan{PubLastSeq: 10},
				Posts:      join(at(0, span(0, 4, 1)...), at(5000, 10)),
				Clients:    one("c1", "seq", 0, 1000),
			}
		}),
		fixed("test_autoseq", "TLL test_autoseq: ten posts all asking seq 100 are stored as 0..9; seq=0 gives 0..9, Online(9)", func() Plan {
			posts := at(0, span(0, 9, 1)...)
			for i := range posts {
				posts[i].Seq = 100
			}
			return Plan{DurationUs: 5000, Server: ServerPlan{Autoseq: true}, Posts: posts, Clients: one("c1", "seq", 0, 1000)}
		}),
		fixed("test_request_close", "TLL test_request_close[request-only]: the request channel dies after history 10..14; the client fails loudly", func() Plan {
			return Plan{
				DurationUs: 8000,
				Server:     ServerPlan{HistoryBatchMsgs: 1, HistoryIntervalUs: 300},
				Posts:      at(0, span(10, 24, 1)...),
				Clients:    one("c1", "seq", 10, 1000),
				Faults:     []Fault{{AtUs: 3100, Kind: FaultReset, Client: "c1", Channel: "request"}},
			}
		}),
		fixed("test_request_close_online", "TLL test_request_close[request+online]: the same with live 30 buffered; no switch happens and the client fails loudly", func() Plan {
			return Plan{
				DurationUs: 8000,
				Server:     ServerPlan{HistoryBatchMsgs: 1, HistoryIntervalUs: 300},
				Posts:      join(at(0, span(10, 24, 1)...), at(2000, 30)),
				Clients:    one("c1", "seq", 10, 1000),
				Faults:     []Fault{{AtUs: 3100, Kind: FaultReset, Client: "c1", Channel: "request"}},
			}
		}),
		fixed("test_close_on_last", "TLL test_close_on_last: initial over 0..9, closing inside the callback of 9: no Online, no error", func() Plan {
			c := one("c1", "initial", 0, 1000)
			c[0].CloseOnSeq = &closeOn9
			return Plan{DurationUs: 5000, Posts: at(0, span(0, 9, 1)...), Clients: c}
		}),
		fixed("initial_empty", "initial on an empty server waits; the first post starts the stream: 5, Online(5), 6", func() Plan {
			return Plan{DurationUs: 8000, Posts: join(at(5000, 5), at(6000, 6)), Clients: one("c1", "initial", 0, 1000)}
		}),
		fixed("seq_on_empty", "seq=0 on an empty server fails loudly (TLL P12)", func() Plan {
			return Plan{DurationUs: 5000, Posts: at(4000, 1), Clients: one("c1", "seq", 0, 1000)}
		}),
		fixed("seq_beyond_last", "seq=40 over 10,20,30 is beyond the server's last seq + 1 and fails loudly (TLL P12)", tllOpen("seq", 40)),
		fixed("seq_in_gap", "seq=15 over sparse 10,20,30 starts at 20, the first stored seq after it", tllOpen("seq", 15)),
		fixed("reply_race", "seq=last+1 while live posts overtake the slow Reply: the buffered 10, 11 go out right before Online(11), none lost", func() Plan {
			return slowRequest(Plan{
				DurationUs: 12000,
				Posts:      join(at(0, span(0, 9, 1)...), at(4500, 10, 11), at(9000, 12)),
				Clients:    one("c1", "seq", 10, 1000),
			})
		}),
		fixed("buffer_overflow", "a 2 KiB buffer overflows while history crawls: evicted messages come from history and the stream stays gap-free", func() Plan {
			c := one("c1", "seq", 0, 1000)
			c[0].BufferBytes = 2048
			posts := at(0, span(0, 49, 1)...)
			for i := int64(50); i < 150; i++ {
				posts = append(posts, Post{AtUs: 2000 + (i-50)*40, Seq: i, SizeBytes: 200})
			}
			return Plan{DurationUs: 20000, Server: ServerPlan{HistoryBatchMsgs: 2, HistoryIntervalUs: 100}, Posts: posts, Clients: c}
		}),
		fixed("huge_message", "a live message larger than the client's whole buffer cannot be handed over and fails the client loudly", func() Plan {
			c := one("c1", "seq", 0, 1000)
			c[0].BufferBytes = 1024
			return Plan{
				DurationUs: 8000,
				Server:     ServerPlan{HistoryBatchMsgs: 1, HistoryIntervalUs: 500},
				Posts:      append(at(0, span(0, 9, 1)...), Post{AtUs: 2500, Seq: 10, SizeBytes: 4096}),
				Clients:    c,
			}
		}),
		fixed("online_mode", "mode=online sees only what is posted after it subscribed, and never an Online control", func() Plan {
			return Plan{DurationUs: 8000, Posts: join(at(0, span(0, 4, 1)...), at(5000, span(5, 9, 1)...)), Clients: one("c1", "online", 0, 1000)}
		}),
		fixed("many_clients", "eight clients in every mode open at staggered times under steady live traffic", func() Plan {
			modes := []string{"seq", "seq-data", "initial", "last", "online", "seq", "seq-data", "initial"}
			var cs []ClientPlan
			for i, m := range modes {
				cs = append(cs, ClientPlan{Name: fmt.Sprintf("c%d", i+1), OpenAtUs: 500 + int64(i)*700, Mode: m, Seq: int64(i * 7), BufferBytes: 1024 << i})
			}
			var posts []Post
			for i := int64(0); i < 400; i++ {
				posts = append(posts, Post{AtUs: i * 25, Seq: i * 3, SizeBytes: 64})
			}
			return Plan{DurationUs: 20000, Server: ServerPlan{HistoryBatchMsgs: 4, HistoryIntervalUs: 50}, Posts: posts, Clients: cs}
		}),
		fixed("reopen_after_reset", "the online channel resets mid-stream; the client reopens with seq-data = last delivered and continues with no gap and no repeat", func() Plan {
			c := one("c1", "seq", 0, 1000)
			c[0].Reopen = &ReopenPlan{BackoffUs: 500, MaxBackoffUs: 4000}
			var posts []Post
			for i := int64(0); i < 40; i++ {
				posts = append(posts, Post{AtUs: i * 200, Seq: i, SizeBytes: 32})
			}
			return Plan{
				DurationUs: 15000,
				Posts:      posts,
				Clients:    c,
				Faults:     []Fault{{AtUs: 4000, Kind: FaultReset, Client: "c1", Channel: "online"}},
			}
		}),
		fixed("failpoints", "every failpoint armed while five reopening clients hand over under live traffic: each strike ends in a loud failure or a dropped connection, and the reopened sessions continue with no gap or repeat", func() Plan {
			var cs []ClientPlan
			for i, m := range []string{"seq", "seq-data", "initial", "seq", "initial"} {
				cs = append(cs, ClientPlan{
					Name: fmt.Sprintf("c%d", i+1), OpenAtUs: 300 + int64(i)*900, Mode: m, Seq: int64(i * 5),
					BufferBytes: 2048, Reopen: &ReopenPlan{BackoffUs: 300, MaxBackoffUs: 3000},
				})
			}
			// The last client opens after the posts stop, so its history always reaches
			// the end of the store.
			cs[4].OpenAtUs = 20000
			var posts []Post
			for i := int64(0); i < 300; i++ {
				posts = append(posts, Post{AtUs: i * 40, Seq: i * 2, SizeBytes: 48})
			}
			var fps []FailpointPlan
			for _, n := range reference.FailpointNames() {
				fps = append(fps, FailpointPlan{Name: n, Prob: 0.5, Max: 2})
			}
			return Plan{
				DurationUs: 40000,
				Server:     ServerPlan{HistoryBatchMsgs: 3, HistoryIntervalUs: 60},
				Posts:      posts, Clients: cs, Failpoints: fps,
			}
		}),
		fixed("server_crash_restart", "a durable server crashes mid-stream and restarts on what its disk kept; the client reopens from its last delivered seq and continues with no gap or repeat", func() Plan {
			c := one("c1", "seq", 0, 500)
			c[0].Reopen = &ReopenPlan{BackoffUs: 500, MaxBackoffUs: 2000}
			return Plan{
				DurationUs: 20000, Server: ServerPlan{Durable: true},
				Posts:   steady(0, 60, 150),
				Clients: c,
				Faults:  []Fault{{AtUs: 3000, Kind: FaultCrash, Client: ServerName, DurationUs: 2000}},
			}
		}),
		fixed("client_crash_restart", "the client crashes during history and restarts; its application resumes from the last seq it delivered", func() Plan {
			c := one("c1", "seq", 0, 500)
			return Plan{
				DurationUs: 15000,
				Server:     ServerPlan{HistoryBatchMsgs: 2, HistoryIntervalUs: 200},
				Posts:      join(at(0, span(0, 29, 1)...), steady(30, 40, 200)),
				Clients:    c,
				Faults:     []Fault{{AtUs: 1500, Kind: FaultCrash, Client: "c1", DurationUs: 1000}},
			}
		}),
		fixed("blackhole_online", "live data to the client vanishes; the connection resets at the idle timeout and the client reopens", func() Plan {
			c := one("c1", "seq", 0, 500)
			c[0].Reopen = &ReopenPlan{BackoffUs: 500}
			p := Plan{
				DurationUs: 20000,
				Posts:      steady(0, 60, 150),
				Clients:    c,
				Faults:     []Fault{{AtUs: 2500, Kind: FaultBlackhole, Client: "c1", Channel: "online", DurationUs: 10000}},
			}
			p.Net = catalogueNet
			p.Net.IdleTimeoutUs = 3000
			return p
		}),
		fixed("partition_handover", "a one-way partition to the client strikes as its handover begins; the connections time out, the client reopens and the stream continues", func() Plan {
			c := one("c1", "seq", 0, 500)
			c[0].Reopen = &ReopenPlan{BackoffUs: 500}
			c[0].HandshakeTimeoutUs = 3000
			p := Plan{
				DurationUs: 30000,
				Posts:      steady(0, 80, 150),
				Clients:    c,
				Faults:     []Fault{{Trigger: "reply", Kind: FaultPartition, Client: "c1", Direction: "to_client", DurationUs: 5000}},
			}
			p.Net = catalogueNet
			p.Net.IdleTimeoutUs = 2000
			return p
		}),
		fixed("slow_receiver", "a client reads live data slower than it is posted; the server drops it once 1 MiB waits unsent, and the client recovers through history", func() Plan {
			c := one("c1", "seq", 0, 200)
			c[0].Reopen = &ReopenPlan{BackoffUs: 1000}
			var posts []Post
			for i := int64(0); i < 600; i++ {
				posts = append(posts, Post{AtUs: 1000 + i*10, Seq: i, SizeBytes: 4000})
			}
			p := Plan{DurationUs: 400000, Posts: posts, Clients: c}
			p.Net = catalogueNet
			p.Net.Online.RecvBytesPerSec = 20_000_000
			return p
		}),
		fixed("unreliable_contiguous", "the online link loses, duplicates and reorders messages; a client that knows its stream is contiguous fails loudly at the first gap and reopens, delivering nothing wrong", func() Plan {
			c := one("c1", "seq", 0, 200)
			c[0].Contiguous = true
			c[0].HandshakeTimeoutUs = 2000
			c[0].Reopen = &ReopenPlan{BackoffUs: 300, MaxBackoffUs: 2000}
			p := Plan{DurationUs: 40000, Posts: steady(0, 100, 100), Clients: c}
			p.Net = catalogueNet
			p.Net.Online = Link{LatencyUs: 100, Unreliable: true, LossProb: 0.05, DupProb: 0.05, ReorderProb: 0.05, ReorderMaxUs: 300}
			return p
		}),
		fixed("lossy_links", "TCP segments are lost on both channels: retransmission delays with head-of-line blocking, no missing bytes, no violation", func() Plan {
			p := Plan{DurationUs: 30000, Posts: steady(0, 150, 80), Clients: one("c1", "seq", 0, 2000)}
			p.Net = catalogueNet
			p.Net.Online.LossProb, p.Net.Online.RetransmitUs = 0.2, 300
			p.Net.Request.LossProb, p.Net.Request.RetransmitUs = 0.2, 300
			return p
		}),
		fixed("seq_large", "TLL test_open_initial_seq_large: seqs past 2^32 keep their high bits: seq=4294967296 gives 4294967296, 4294967297, Online, live 4294967298, and a reopen after a reset resumes at 4294967299", func() Plan {
			c := one("c1", "seq", 1<<32, 1000)
			c[0].Reopen = &ReopenPlan{BackoffUs: 500}
			return Plan{
				DurationUs: 10000,
				Posts:      join(at(0, 1<<32-1, 1<<32, 1<<32+1), at(3000, 1<<32+2), at(6000, 1<<32+3)),
				Clients:    c,
				Faults:     []Fault{{AtUs: 4000, Kind: FaultReset, Client: "c1", Channel: "online"}},
			}
		}),
		fixed("online_gap_stall", "TLL test_online_gap with the online link stalled: the handshake reports 10 while the store ends at 4, so the client keeps reading history and gets 10 from it in time, although its live copy is held up", func() Plan {
			return Plan{
				DurationUs:      15000,
				LivenessBoundUs: 4000,
				Server:          ServerPlan{PubLastSeq: 10},
				Posts:           join(at(0, span(0, 4, 1)...), at(5000, 10)),
				Clients:         one("c1", "seq", 0, 1000),
				Faults:          []Fault{{AtUs: 1500, Kind: FaultStall, Client: "c1", Channel: "online", DurationUs: 8000}},
			}
		}),
		fixed("reply_race_overflow", "seq=last+1 while a burst of live posts overtakes the slow Reply and overflows a 1 KiB buffer: the evicted messages must come from history, so the client reads it instead of going Online at once", func() Plan {
			c := one("c1", "seq", 10, 1000)
			c[0].BufferBytes = 1024
			burst := at(4500, span(10, 29, 1)...)
			for i := range burst {
				burst[i].SizeBytes = 100
			}
			return slowRequest(Plan{DurationUs: 14000, Posts: join(at(0, span(0, 9, 1)...), burst, at(12000, 30)), Clients: c})
		}),
		fixed("request_refused", "the request channel's dial is refused while the online subscription is up: the open fails loudly at once, and the reopen goes Online", func() Plan {
			c := one("c1", "seq", 0, 1000)
			c[0].Reopen = &ReopenPlan{BackoffUs: 1000}
			return slowRequest(Plan{
				DurationUs:      30000,
				LivenessBoundUs: 10000,
				Posts:           join(at(0, span(0, 4, 1)...), at(15000, 5)),
				Clients:         c,
				Faults:          []Fault{{AtUs: 2000, Kind: FaultReset, Client: "c1", Channel: "request"}},
			})
		}),
		fixed("post_before_subscribe", "a post lands just before the client subscribes: it never comes online, so the Reply counts it and history delivers it: 0..5, Online(5), then live 6..9", func() Plan {
			return Plan{DurationUs: 12000, Posts: steady(0, 10, 1000), Clients: one("c1", "seq", 0, 5750)}
		}),
		fixed("malformed_request", "a client sends a Request with version 2, as an incompatible peer would: the server answers with an Error and a disconnect, and the client fails loudly instead of waiting (TLL P9)", func() Plan {
			c := one("c1", "seq", 20, 1000)
			c[0].RequestVersion = 2
			return Plan{DurationUs: 30000, LivenessBoundUs: 10000, Posts: at(0, 10, 20, 30), Clients: c}
		}),
		fixed("online_lags_history", "the online link is twenty times slower than the request link: history delivers 5..7 before their live copies arrive, and those copies are drained silently: 0..7, Online(7), then live 8, 9", func() Plan {
			p := Plan{
				DurationUs:      30000,
				LivenessBoundUs: 10000,
				Posts:           join(at(0, span(0, 4, 1)...), at(8000, 5), at(8500, 6), at(9000, 7), at(14000, 8), at(15000, 9)),
				Clients:         one("c1", "seq", 0, 1000),
			}
			p.Net = catalogueNet
			p.Net.Online.LatencyUs = 2000
			return p
		}),
		fixed("same_instant", "links with no delay (the request channel segments writes), so opens, handshakes and posts share instants: an online open and a seq open at last+1 each start at the instant of a post, which the history lists first", func() Plan {
			c := append(one("c1", "online", 0, 1000), one("c2", "seq", 19, 2000)...)
			p := Plan{DurationUs: 3000, Posts: steady(0, 25, 100), Clients: c}
			p.Net = NetPlan{Online: Link{LatencyDist: "fixed"}, Request: Link{LatencyDist: "fixed", SegmentProb: 0.3, SegmentMax: 4}}
			return p
		}),
		{Name: "chaos", Generated: true, Doc: "every fault at uniform times: link faults from the whole catalogue, resets, stalls, blackholes, slow closes, partitions, server and client crashes with restarts; durable server, reopening clients", Build: func(seed uint64) Plan {
			p, _ := ChaosGen(false)(params(seed)).Retrieve()
			return p.(Plan)
		}},
		{Name: "chaos_targeted", Generated: true, Doc: "chaos with every fault aimed at a protocol phase of its client (reply, overlap, client_done, online): faults at the handover", Build: func(seed uint64) Plan {
			p, _ := ChaosGen(true)(params(seed)).Retrieve()
			return p.(Plan)
		}},
		{Name: "random", Generated: true, Doc: "drawn from the seed: sparse or contiguous seqs, random post times and sizes, several clients in random modes and buffer sizes, random latency, jitter, segmentation and resets", Build: Random},
	}
}

var scenarios = catalogue()

// Catalogue lists every named scenario, in a fixed order.
func Catalogue() []Scenario { return append([]Scenario(nil), scenarios...) }

// Lookup finds a scenario by name.
func Lookup(name string) (Scenario, bool) {
	for _, s := range scenarios {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}
