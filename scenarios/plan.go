// Package scenarios turns plans into simulated runs: a Plan is plain data (topology, workload,
// clients, faults), Run plays it on the deterministic simulator against the reference and
// returns the history the checker judges. The named catalogue and the seeded random plans
// live here too.
package scenarios

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"

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
}

// Link is a channel's latency and segmentation.
type Link struct {
	LatencyUs   int64   `json:"latency_us"`
	JitterUs    int64   `json:"jitter_us,omitempty"`
	SegmentProb float64 `json:"segment_prob,omitempty"`
	SegmentMax  int     `json:"segment_max,omitempty"`
}

// Fault kinds.
const (
	FaultReset = "reset" // reset one client's connection on a channel; both ends see it
	FaultStall = "stall" // hold server→client data on a channel for DurationUs
)

// Fault is one injected failure.
type Fault struct {
	AtUs       int64  `json:"at_us"`
	Kind       string `json:"kind"`
	Client     string `json:"client"`
	Channel    string `json:"channel"` // "online" or "request"
	DurationUs int64  `json:"duration_us,omitempty"`
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
		if f.Kind != FaultReset && f.Kind != FaultStall {
			return fmt.Errorf("plan %s: fault %d: unknown kind %q", p.Name, i, f.Kind)
		}
		if !names[f.Client] {
			return fmt.Errorf("plan %s: fault %d: unknown client %q", p.Name, i, f.Client)
		}
		if _, err := parseChannel(f.Channel); err != nil {
			return fmt.Errorf("plan %s: fault %d: %w", p.Name, i, err)
		}
	}
	for i, f := range p.Failpoints {
		if !slices.Contains(reference.FailpointNames(), f.Name) || f.Prob < 0 || f.Prob > 1 || f.Max < 0 {
			return fmt.Errorf("plan %s: failpoint %d: unknown name %q or values out of range (see simrun list failpoints)", p.Name, i, f.Name)
		}
	}
	for _, l := range []Link{p.Net.Online, p.Net.Request} {
		if l.LatencyUs < 0 || l.JitterUs < 0 || l.SegmentProb < 0 || l.SegmentProb > 1 {
			return fmt.Errorf("plan %s: link values out of range: %+v", p.Name, l)
		}
	}
	return nil
}

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
