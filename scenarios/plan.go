// Package scenarios turns plans into simulated runs: a Plan is plain data (topology, workload,
// clients, faults), Run plays it on the deterministic simulator against the reference and
// returns the history the checker judges. The named catalogue and the seeded random plans
// live here too.
package scenarios

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/streamsim/streamsim/netsim"
	"github.com/streamsim/streamsim/reference"
)

// Plan is one scenario, fully determined: the same plan and seed give the same run. Times are
// microseconds of virtual time from the start of the run.
type Plan struct {
	Name string `json:"name"`
	Doc  string `json:"doc,omitempty"`
	// Seed is the seed a saved plan was run with, so the file alone replays it.
	Seed uint64 `json:"seed,omitempty"`
	// Kills names planted bugs (mutants) this plan is known to catch: a regression corpus
	// entry keeps proving it.
	Kills      []string     `json:"kills,omitempty"`
	DurationUs int64        `json:"duration_us"`
	Server     ServerPlan   `json:"server"`
	Net        NetPlan      `json:"net"`
	Posts      []Post       `json:"posts"`
	Clients    []ClientPlan `json:"clients"`
	Faults     []Fault      `json:"faults,omitempty"`
	// LivenessBoundUs: after the last fault, every history session must reach Online or end,
	// and every post must reach every live session, within this bound (every run goes on
	// until a bound passed quietly after the plan). Default 100 ms plus the time the server's
	// history pacing (HistoryIntervalUs per batch) takes to stream every post.
	LivenessBoundUs int64 `json:"liveness_bound_us,omitempty"`
	// Failpoints arm named protocol points (simrun list failpoints); they fire only in
	// binaries built with failpoint-toolexec (make build, make test).
	Failpoints []FailpointPlan `json:"failpoints,omitempty"`
}

// FailpointPlan arms one failpoint: each time the protocol passes it, it fires with
// probability Prob, at most Max times in the run (0: no limit).
type FailpointPlan struct {
	Name string  `json:"name"`
	Prob float64 `json:"prob"`
	Max  int     `json:"max,omitempty"`
}

// ServerPlan configures the reference server.
type ServerPlan struct {
	// Durable syncs every post before acknowledging and publishing it; the store is then a
	// simulated disk that loses its unsynced tail at a crash. A plan that crashes the
	// server always runs on the simulated disk.
	Durable           bool  `json:"durable,omitempty"`
	Autoseq           bool  `json:"autoseq,omitempty"`
	HistoryBatchMsgs  int   `json:"history_batch_msgs,omitempty"`
	HistoryIntervalUs int64 `json:"history_interval_us,omitempty"`
	PubLastSeq        int64 `json:"pub_last_seq,omitempty"`
	// MaxLagBytes drops an online subscriber with that many bytes waiting unsent; default
	// 1 MiB.
	MaxLagBytes int `json:"max_lag_bytes,omitempty"`
}

// Post is one message the server application posts. Its body of SizeBytes is derived from Seq
// and Fill, so different messages have different checksums and plans can vary the contents.
type Post struct {
	AtUs      int64  `json:"at_us"`
	Seq       int64  `json:"seq"`
	MsgID     int32  `json:"msgid,omitempty"`
	SizeBytes int    `json:"size_bytes,omitempty"`
	Fill      uint64 `json:"fill,omitempty"`
}

// ClientPlan is one client application: it opens once and may close.
type ClientPlan struct {
	Name        string `json:"name"`
	OpenAtUs    int64  `json:"open_at_us"`
	Mode        string `json:"mode"`
	Seq         int64  `json:"seq,omitempty"`
	BufferBytes int    `json:"buffer_bytes,omitempty"`
	Protocol    string `json:"protocol,omitempty"` // "new" (default) or "old"
	CloseAtUs   int64  `json:"close_at_us,omitempty"`
	// CloseOnSeq closes the client from inside the data callback of this seq (TLL
	// test_close_on_last); nil means never.
	CloseOnSeq *int64 `json:"close_on_seq,omitempty"`
	// Reopen, when set, reopens the client after its session ends in Error.
	Reopen *ReopenPlan `json:"reopen,omitempty"`
	// Contiguous tells the client the stream has no seq gaps, so it can detect a message
	// lost on an unreliable online link and fail loudly.
	Contiguous bool `json:"contiguous,omitempty"`
	// HandshakeTimeoutUs bounds the wait for HelloReply and Reply; default 5 s.
	HandshakeTimeoutUs int64 `json:"handshake_timeout_us,omitempty"`
	// ReadBytesPerSec, when set, is how fast this client reads its online channel, in place
	// of net.online's recv_bytes_per_sec: one slow consumer among faster ones.
	ReadBytesPerSec int64 `json:"read_bytes_per_sec,omitempty"`
	// RequestVersion, when set, is the version the client writes into its requests instead of
	// 1, the only valid one: a malformed request, as from an incompatible peer, which the
	// server must answer with an Error (TLL answers nothing, P9). The reference client never
	// sends one on its own.
	RequestVersion int16 `json:"request_version,omitempty"`
}

// Resume is where a client application of plan c reopens after an error: seq-data from the
// last seq it delivered, so the sessions concatenate without a gap or a repeat (the checker's
// resume property), or the plan's own open while it has delivered nothing. The simulator's
// application and validate's both reopen here.
func (c ClientPlan) Resume(delivered bool, last int64) (reference.Mode, int64) {
	if !delivered {
		mode, _ := reference.ParseMode(c.Mode) // Validate checked it
		return mode, c.Seq
	}
	return reference.ModeSeqData, last
}

// ReopenPlan is a client application's recovery policy: after an error it waits, then opens
// again with seq-data = the last seq it was delivered (or its original request if it got
// nothing), doubling the wait after each failure up to MaxBackoffUs.
type ReopenPlan struct {
	BackoffUs    int64 `json:"backoff_us"`
	MaxBackoffUs int64 `json:"max_backoff_us,omitempty"`
	MaxReopens   int   `json:"max_reopens,omitempty"` // 0: no limit
}

// NetPlan sets the link behaviour of each channel; both directions share it.
type NetPlan struct {
	Online  Link `json:"online"`
	Request Link `json:"request"`
	// IdleTimeoutUs is how long a connection may get nothing through (blackhole, partition,
	// endless loss) before it resets, as TCP's timeouts would; default 2 s.
	IdleTimeoutUs int64 `json:"idle_timeout_us,omitempty"`
}

// Link is how a channel's connections behave, both directions alike (simrun list faults).
type Link struct {
	LatencyUs   int64   `json:"latency_us"`
	LatencyDist string  `json:"latency_dist,omitempty"` // uniform (default), fixed or exponential
	JitterUs    int64   `json:"jitter_us,omitempty"`    // uniform spread, or exponential mean
	SegmentProb float64 `json:"segment_prob,omitempty"`
	SegmentMax  int     `json:"segment_max,omitempty"`
	// BandwidthBytesPerSec serialises writes; 0 is unlimited.
	BandwidthBytesPerSec int64 `json:"bandwidth_bytes_per_sec,omitempty"`
	// LossProb loses TCP segments, seen as RetransmitUs delays with head-of-line blocking.
	LossProb     float64 `json:"loss_prob,omitempty"`
	RetransmitUs int64   `json:"retransmit_us,omitempty"`
	// RecvBytesPerSec is a slow receiver; SendBufferBytes the sender's buffer it fills.
	RecvBytesPerSec int64 `json:"recv_bytes_per_sec,omitempty"`
	SendBufferBytes int   `json:"send_buffer_bytes,omitempty"`
	// Unreliable makes the channel datagram-like: each write is a message that may be lost
	// (LossProb), duplicated or reordered. Stream+ needs a reliable online channel; only
	// contiguous streams can detect what this breaks.
	Unreliable   bool    `json:"unreliable,omitempty"`
	DupProb      float64 `json:"dup_prob,omitempty"`
	ReorderProb  float64 `json:"reorder_prob,omitempty"`
	ReorderMaxUs int64   `json:"reorder_max_us,omitempty"`
}

// Fault kinds.
const (
	FaultReset     = "reset"      // reset the client's connection on Channel; both ends see it
	FaultStall     = "stall"      // hold server→client data on Channel for DurationUs
	FaultBlackhole = "blackhole"  // drop server→client data on Channel; past the idle timeout it resets
	FaultSlowClose = "slow_close" // the connection on Channel delivers its close DurationUs late
	FaultPartition = "partition"  // hold traffic one way (Direction) between server and client
	FaultCrash     = "crash"      // crash Client (a client's name or "server"); restart after DurationUs
)

var faultKinds = []string{FaultReset, FaultStall, FaultBlackhole, FaultSlowClose, FaultPartition, FaultCrash}

// Fault is one injected failure, at AtUs, or, with Trigger, DelayUs after Client (or On)
// first reaches that protocol phase (request, reply, overlap, client_done, evict, online) in a
// session: faults aimed at the handover.
type Fault struct {
	AtUs       int64  `json:"at_us"`
	Kind       string `json:"kind"`
	Client     string `json:"client"`
	Channel    string `json:"channel,omitempty"`   // "online" or "request"
	Direction  string `json:"direction,omitempty"` // partition: "to_client" or "to_server"
	DurationUs int64  `json:"duration_us,omitempty"`
	Trigger    string `json:"trigger,omitempty"`
	DelayUs    int64  `json:"delay_us,omitempty"`
	// On names the client whose phase Trigger waits for, where that is not Client: a server
	// crash aimed at a client's handover.
	On string `json:"on,omitempty"`
}

// Watched is the client whose phases trigger f.
func (f Fault) Watched() string { return cmp.Or(f.On, f.Client) }

// calm reports whether the link never ends a connection on its own: no datagram semantics,
// and nothing that queues bytes until the server drops a lagging subscriber.
func (l Link) calm() bool {
	return !l.Unreliable && l.BandwidthBytesPerSec == 0 && l.RecvBytesPerSec == 0 && l.LossProb == 0
}

// Calm reports whether nothing in the plan ends a connection on its own: calm links, and no
// slow reader or tight lag limit that makes the server drop a subscriber.
func (p *Plan) Calm() bool {
	if !p.Net.Online.calm() || !p.Net.Request.calm() || p.Server.MaxLagBytes != 0 {
		return false
	}
	for _, c := range p.Clients {
		if c.ReadBytesPerSec != 0 {
			return false
		}
	}
	return true
}

// config translates a link for netsim and checks it. netsim panics on a bad configuration,
// which is right for its callers' bugs but wrong for a plan read from a file.
func (l Link) config() (netsim.LinkConfig, error) {
	dist, err := netsim.ParseLatencyDist(cmp.Or(l.LatencyDist, "uniform"))
	if err != nil {
		return netsim.LinkConfig{}, err
	}
	c := netsim.LinkConfig{
		LatencyDist: dist, LatencyNs: l.LatencyUs * 1000, JitterNs: l.JitterUs * 1000,
		SegmentProb: l.SegmentProb, SegmentMax: l.SegmentMax,
		BandwidthBytesPerSec: l.BandwidthBytesPerSec,
		LossProb:             l.LossProb, RetransmitNs: l.RetransmitUs * 1000,
		RecvBytesPerSec: l.RecvBytesPerSec, SendBufferBytes: l.SendBufferBytes,
		Unreliable: l.Unreliable, DupProb: l.DupProb, ReorderProb: l.ReorderProb, ReorderMaxNs: l.ReorderMaxUs * 1000,
	}
	if err := c.Validate(); err != nil {
		return netsim.LinkConfig{}, fmt.Errorf("link %+v: %w", l, err)
	}
	return c, nil
}

func parseChannel(s string) (reference.Channel, error) {
	switch s {
	case "online":
		return reference.ChanOnline, nil
	case "request":
		return reference.ChanRequest, nil
	}
	return 0, fmt.Errorf("unknown channel %q (want online or request)", s)
}

// Limits of a plan's numbers. They are far beyond any useful plan and keep every derived
// quantity (nanoseconds, seq + 1, buffers) from overflowing or from sizing memory by a number
// a user typed.
const (
	maxTimeUs    = 3_600_000_000 // one hour of virtual time
	maxSeq       = 1 << 62
	maxSizeBytes = 1 << 20 // a body; the server refuses those over its 64 KiB limit
	maxBytes     = 1 << 30 // buffers
	maxRate      = 1 << 40 // bytes per second
	maxCount     = 1 << 20 // batch sizes, segment counts, reopens, failpoint firings
)

// ranges checks numbers against their limits and keeps the first failure, named by its path in
// the plan file. The path of the part being checked is kept in pieces and put together only for
// a failure: building it for every post of a large plan was a tenth of a run.
type ranges struct {
	err   error
	part  string // the part of the plan the fields belong to ("net.online", "posts"); "" for the top
	index int    // the part's index in its list, -1 when it is no list
}

// in makes the next fields those of part, the index-th of its list (index -1: not a list).
func (r *ranges) in(part string, index int) { r.part, r.index = part, index }

// path is field's path in the plan file.
func (r *ranges) path(field string) string {
	switch {
	case r.part == "":
		return field
	case r.index < 0:
		return r.part + "." + field
	}
	return fmt.Sprintf("%s[%d].%s", r.part, r.index, field)
}

func (r *ranges) int(field string, x, lo, hi int64) {
	if r.err == nil && (x < lo || x > hi) {
		r.err = fmt.Errorf("%s = %d is out of range [%d, %d]", r.path(field), x, lo, hi)
	}
}

func (r *ranges) prob(field string, x float64) {
	if r.err == nil && !(x >= 0 && x <= 1) {
		r.err = fmt.Errorf("%s = %v is not a probability in [0, 1]", r.path(field), x)
	}
}

func (r *ranges) time(field string, x int64) { r.int(field, x, 0, maxTimeUs) }
func (r *ranges) seq(field string, x int64)  { r.int(field, x, -maxSeq, maxSeq) }

// numbers range-checks every number of the plan.
func (p *Plan) numbers() error {
	var r ranges
	r.int("duration_us", p.DurationUs, 1, maxTimeUs)
	r.time("liveness_bound_us", p.LivenessBoundUs)
	r.int("server.history_batch_msgs", int64(p.Server.HistoryBatchMsgs), 0, maxCount)
	r.time("server.history_interval_us", p.Server.HistoryIntervalUs)
	r.seq("server.pub_last_seq", p.Server.PubLastSeq)
	r.int("server.max_lag_bytes", int64(p.Server.MaxLagBytes), 0, maxBytes)
	r.time("net.idle_timeout_us", p.Net.IdleTimeoutUs)
	for _, nl := range []struct {
		name string
		l    Link
	}{{"net.online", p.Net.Online}, {"net.request", p.Net.Request}} {
		l := nl.l
		r.in(nl.name, -1)
		r.time("latency_us", l.LatencyUs)
		r.time("jitter_us", l.JitterUs)
		r.prob("segment_prob", l.SegmentProb)
		r.int("segment_max", int64(l.SegmentMax), 0, maxCount)
		r.int("bandwidth_bytes_per_sec", l.BandwidthBytesPerSec, 0, maxRate)
		r.prob("loss_prob", l.LossProb)
		r.time("retransmit_us", l.RetransmitUs)
		r.int("recv_bytes_per_sec", l.RecvBytesPerSec, 0, maxRate)
		r.int("send_buffer_bytes", int64(l.SendBufferBytes), 0, maxBytes)
		r.prob("dup_prob", l.DupProb)
		r.prob("reorder_prob", l.ReorderProb)
		r.time("reorder_max_us", l.ReorderMaxUs)
	}
	for i, post := range p.Posts {
		r.in("posts", i)
		r.time("at_us", post.AtUs)
		r.seq("seq", post.Seq)
		r.int("size_bytes", int64(post.SizeBytes), 0, maxSizeBytes)
	}
	for i, c := range p.Clients {
		r.in("clients", i)
		r.time("open_at_us", c.OpenAtUs)
		r.seq("seq", c.Seq)
		r.int("buffer_bytes", int64(c.BufferBytes), 0, maxBytes)
		r.time("close_at_us", c.CloseAtUs)
		if c.CloseOnSeq != nil {
			r.seq("close_on_seq", *c.CloseOnSeq)
		}
		r.time("handshake_timeout_us", c.HandshakeTimeoutUs)
		r.int("read_bytes_per_sec", c.ReadBytesPerSec, 0, maxRate)
		if o := c.Reopen; o != nil {
			r.int("reopen.backoff_us", o.BackoffUs, 1, maxTimeUs)
			r.time("reopen.max_backoff_us", o.MaxBackoffUs)
			r.int("reopen.max_reopens", int64(o.MaxReopens), 0, maxCount)
		}
	}
	for i, fl := range p.Faults {
		r.in("faults", i)
		r.time("at_us", fl.AtUs)
		r.time("duration_us", fl.DurationUs)
		r.time("delay_us", fl.DelayUs)
	}
	for i, fp := range p.Failpoints {
		r.in("failpoints", i)
		r.prob("prob", fp.Prob)
		r.int("max", int64(fp.Max), 0, maxCount)
	}
	return r.err
}

// Validate reports the first thing in p that cannot be run.
func (p *Plan) Validate() error {
	if err := p.numbers(); err != nil {
		return fmt.Errorf("plan %s: %w", p.Name, err)
	}
	names := map[string]bool{}
	for i, c := range p.Clients {
		if c.Name == "" || names[c.Name] {
			return fmt.Errorf("plan %s: client %d: empty or repeated name %q", p.Name, i, c.Name)
		}
		names[c.Name] = true
		if _, err := reference.ParseMode(c.Mode); err != nil {
			return fmt.Errorf("plan %s: client %s: %w", p.Name, c.Name, err)
		}
		if c.Protocol != "" && c.Protocol != "new" && c.Protocol != "old" {
			return fmt.Errorf("plan %s: client %s: unknown protocol %q", p.Name, c.Name, c.Protocol)
		}
	}
	for i, f := range p.Faults {
		if err := f.validate(names); err != nil {
			return fmt.Errorf("plan %s: fault %d: %w", p.Name, i, err)
		}
	}
	for i, f := range p.Failpoints {
		if !slices.Contains(reference.FailpointNames(), f.Name) {
			return fmt.Errorf("plan %s: failpoint %d: unknown name %q (see simrun list failpoints)", p.Name, i, f.Name)
		}
	}
	for _, l := range []Link{p.Net.Online, p.Net.Request} {
		if _, err := l.config(); err != nil {
			return fmt.Errorf("plan %s: %w", p.Name, err)
		}
	}
	if p.Net.Request.Unreliable {
		return fmt.Errorf("plan %s: the request channel carries history and must stay reliable", p.Name)
	}
	return nil
}

func (f Fault) validate(clients map[string]bool) error {
	if !slices.Contains(faultKinds, f.Kind) {
		return fmt.Errorf("unknown kind %q (want one of %v)", f.Kind, faultKinds)
	}
	if !clients[f.Client] && !(f.Kind == FaultCrash && f.Client == ServerName) {
		return fmt.Errorf("%s: unknown client %q", f.Kind, f.Client)
	}
	switch f.Kind {
	case FaultReset, FaultStall, FaultBlackhole, FaultSlowClose:
		if _, err := parseChannel(f.Channel); err != nil {
			return err
		}
	case FaultPartition:
		if f.Direction != "to_client" && f.Direction != "to_server" {
			return fmt.Errorf("partition direction %q (want to_client or to_server)", f.Direction)
		}
	}
	if f.Trigger != "" && !slices.Contains(triggers, f.Trigger) {
		return fmt.Errorf("unknown trigger %q (want one of %v)", f.Trigger, triggers)
	}
	switch {
	case f.On != "" && (f.Trigger == "" || !clients[f.On]):
		return fmt.Errorf("%s: on %q must name a client, with a trigger", f.Kind, f.On)
	case f.Trigger != "" && !clients[f.Watched()]:
		return fmt.Errorf("%s: trigger %s needs on: the client whose phase it waits for", f.Kind, f.Trigger)
	}
	return nil
}

// triggers are the phases a fault can be aimed at.
var triggers = []string{"request", "reply", "overlap", "client_done", "evict", "online"}

// Load reads a plan file written by Save. A field the Plan does not have is refused, so a typo
// is not silently ignored, and so is anything after the plan.
func Load(path string) (Plan, error) {
	var p Plan
	b, err := os.ReadFile(path)
	if err != nil {
		return p, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return p, fmt.Errorf("%s: data after the plan", path)
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Save writes p as indented JSON.
func (p *Plan) Save(path string) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Body is the deterministic content of the post, the same in the simulator and in validate.
func (p Post) Body() []byte { return body(p.Seq, p.Fill, p.SizeBytes) }

// body is the deterministic content of a posted message, drawn from its seq and fill so that
// plans can vary contents without varying seqs. It is written 8 bytes per random step: one byte
// per step was most of a run with 60 KiB bodies.
func body(seq int64, fill uint64, size int) []byte {
	b := make([]byte, size)
	// Mixing seq and fill with different odd multipliers keeps (seq, fill) and (fill, seq)
	// apart; xorshift needs a nonzero state.
	x := uint64(seq)*0x9e3779b97f4a7c15 ^ fill*0xbf58476d1ce4e5b9 | 1
	i := 0
	for ; i+8 <= size; i += 8 {
		x = xorshift(x)
		binary.LittleEndian.PutUint64(b[i:], x)
	}
	if i < size {
		x = xorshift(x)
		for ; i < size; i++ {
			b[i] = byte(x)
			x >>= 8
		}
	}
	return b
}

func xorshift(x uint64) uint64 {
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	return x
}
