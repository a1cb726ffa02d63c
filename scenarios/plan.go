// Package scenarios turns plans into simulated runs: a Plan is plain data (topology, workload,
// clients, faults), Run plays it on the deterministic simulator against the reference and
// returns the history the checker judges. The named catalogue and the seeded random plans
// live here too.
package scenarios

import (
	"cmp"
	"encoding/json"
	"fmt"
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
}

// Post is one message the server application posts. Its body is derived from Seq and SizeBytes,
// so different messages have different checksums.
type Post struct {
	AtUs      int64 `json:"at_us"`
	Seq       int64 `json:"seq"`
	MsgID     int32 `json:"msgid,omitempty"`
	SizeBytes int   `json:"size_bytes,omitempty"`
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
	// RequestVersion, when set, is the version the client writes into its requests instead of
	// 1, the only valid one: a malformed request, as from an incompatible peer, which the
	// server must answer with an Error (TLL answers nothing, P9). The reference client never
	// sends one on its own.
	RequestVersion int16 `json:"request_version,omitempty"`
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

// Fault is one injected failure, at AtUs, or, with Trigger, DelayUs after Client first
// reaches that protocol phase (request, reply, overlap, client_done, evict, online) in a
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
}

// CalmLinks reports whether neither channel's link ends a connection on its own, so that a
// session that fails with no fault before it failed for nothing (checker.LivenessOptions.Calm).
func (p *Plan) CalmLinks() bool { return p.Net.Online.calm() && p.Net.Request.calm() }

// calm reports whether the link never ends a connection on its own: no datagram semantics,
// and nothing that queues bytes until the server drops a lagging subscriber.
func (l Link) calm() bool {
	return !l.Unreliable && l.BandwidthBytesPerSec == 0 && l.RecvBytesPerSec == 0 && l.LossProb == 0
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

// Validate reports the first thing in p that cannot be run.
func (p *Plan) Validate() error {
	if p.DurationUs <= 0 {
		return fmt.Errorf("plan %s: duration_us must be positive", p.Name)
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
		if r := c.Reopen; r != nil && (r.BackoffUs <= 0 || r.MaxBackoffUs < 0 || r.MaxReopens < 0) {
			return fmt.Errorf("plan %s: client %s: reopen needs a positive backoff_us", p.Name, c.Name)
		}
	}
	for i, f := range p.Faults {
		if err := f.validate(names); err != nil {
			return fmt.Errorf("plan %s: fault %d: %w", p.Name, i, err)
		}
	}
	for i, f := range p.Failpoints {
		if !slices.Contains(reference.FailpointNames(), f.Name) || f.Prob < 0 || f.Prob > 1 || f.Max < 0 {
			return fmt.Errorf("plan %s: failpoint %d: unknown name %q or values out of range (see simrun list failpoints)", p.Name, i, f.Name)
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
	if f.AtUs < 0 || f.DurationUs < 0 || f.DelayUs < 0 {
		return fmt.Errorf("%s: negative time", f.Kind)
	}
	if f.Trigger != "" && !slices.Contains(triggers, f.Trigger) {
		return fmt.Errorf("unknown trigger %q (want one of %v)", f.Trigger, triggers)
	}
	return nil
}

// triggers are the phases a fault can be aimed at.
var triggers = []string{"request", "reply", "overlap", "client_done", "evict", "online"}

// Load reads a plan file written by Save.
func Load(path string) (Plan, error) {
	var p Plan
	b, err := os.ReadFile(path)
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	return p, p.Validate()
}

// Save writes p as indented JSON.
func (p *Plan) Save(path string) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// body is the deterministic content of a posted message.
func body(seq int64, size int) []byte {
	b := make([]byte, size)
	x := uint64(seq)*0x9e3779b97f4a7c15 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}
