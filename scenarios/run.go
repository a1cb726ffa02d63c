package scenarios

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/pingcap/failpoint"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/netsim"
	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/sim"
)

// Options change how a plan is run, not what it is.
type Options struct {
	Bugs  reference.Bugs // planted bugs in the reference client and server
	Trace io.Writer      // when set, receives the event trace as text
	// MaxEvents bounds a run so a runaway plan cannot hang a campaign; default 50 million.
	MaxEvents uint64
	// NoFresh skips the porcupine check of the fresh property (benchmarks of the simulator).
	NoFresh bool
}

// freshTimeout bounds porcupine per run; past it the verdict is unknown, which a run reports
// as an error rather than a pass.
const freshTimeout = 30 * time.Second

// Outcome is what one run produced and what the checker made of it.
type Outcome struct {
	Plan      string
	Seed      uint64
	History   checker.History
	Result    checker.Result
	Hash      uint64 // trace hash: equal for equal plan and seed
	Events    uint64 // kernel events fired
	SimNs     int64  // virtual time simulated
	Delivered int64
}

// ServerName is the server's node name in every history.
const ServerName = "server"

// runner is one run in progress: the applications on top of the reference nodes, and the
// recorder of their history.
type runner struct {
	fired   []int // per plan failpoint: times fired
	k       *sim.Kernel
	net     *netsim.Network
	server  *reference.Server
	clients []*clientApp
	hist    checker.History
	session int64
}

// clientApp is a client application: it opens and closes as planned and records what its
// client delivers.
type clientApp struct {
	r       *runner
	plan    ClientPlan
	c       *reference.Client
	session int64
	closed  bool
	// delivered is whether any session of this client got data, and last the seq it got
	// last: what a reopen resumes from.
	delivered bool
	last      int64
	reopens   int
	backoffUs int64
}

func (r *runner) record(e checker.Event) {
	e.T = r.k.Now()
	r.hist = append(r.hist, e)
	r.k.Trace().Record(e.T, e.Node, e.Kind.String(), e.Seq, e.Session)
}

// Run plays p with seed against the reference and checks the history.
func Run(p Plan, seed uint64, opt Options) (Outcome, error) {
	if err := p.Validate(); err != nil {
		return Outcome{}, err
	}
	k := sim.New(seed)
	if opt.Trace != nil {
		k.Trace().SetWriter(opt.Trace)
	}
	if opt.MaxEvents == 0 {
		opt.MaxEvents = 50_000_000
	}
	k.SetMaxEvents(opt.MaxEvents)
	r := &runner{k: k, net: netsim.New(k), fired: make([]int, len(p.Failpoints))}
	if len(p.Failpoints) > 0 {
		armFailpoints.Do(func() { armErr = reference.EnableFailpoints() })
		if armErr != nil {
			return Outcome{}, armErr
		}
	}
	for _, ch := range []reference.Channel{reference.ChanOnline, reference.ChanRequest} {
		l := p.Net.Online
		if ch == reference.ChanRequest {
			l = p.Net.Request
		}
		cfg := netsim.LinkConfig{LatencyNs: l.LatencyUs * 1000, JitterNs: l.JitterUs * 1000, SegmentProb: l.SegmentProb, SegmentMax: l.SegmentMax}
		r.net.SetLink(ch, netsim.ClientToServer, cfg)
		r.net.SetLink(ch, netsim.ServerToClient, cfg)
	}
	sh := r.net.AddServer(ServerName)
	r.server = reference.NewServer(sh, reference.ServerConfig{
		Autoseq:           p.Server.Autoseq,
		HistoryBatchMsgs:  p.Server.HistoryBatchMsgs,
		HistoryIntervalNs: p.Server.HistoryIntervalUs * 1000,
		PubLastSeq:        p.Server.PubLastSeq,
		Bugs:              opt.Bugs,
		Failpoints:        r.failpoints(p, ServerName),
	})
	sh.Attach(r.server)
	for _, cp := range p.Clients {
		a := &clientApp{r: r, plan: cp}
		h := r.net.AddClient(cp.Name)
		proto := reference.ProtoNew
		if cp.Protocol == "old" {
			proto = reference.ProtoOld
		}
		a.c = reference.NewClient(h, a, reference.ClientConfig{
			BufferBytes: cp.BufferBytes, Protocol: proto, Peer: cp.Name, Bugs: opt.Bugs,
			Failpoints: r.failpoints(p, cp.Name),
		})
		h.Attach(a.c)
		r.clients = append(r.clients, a)
		k.Schedule(cp.OpenAtUs*1000, sim.Func(a.open))
		if cp.CloseAtUs > 0 {
			k.Schedule(cp.CloseAtUs*1000, sim.Func(a.close))
		}
	}
	for _, post := range p.Posts {
		k.Schedule(post.AtUs*1000, sim.Func(func() { r.post(post) }))
	}
	for _, f := range p.Faults {
		r.schedule(f)
	}
	k.Run(p.DurationUs * 1000)
	if k.Exhausted() {
		return Outcome{}, fmt.Errorf("plan %s seed %d: stopped after %d events without finishing", p.Name, seed, opt.MaxEvents)
	}
	res, err := checker.Check(r.hist)
	if err != nil {
		return Outcome{}, fmt.Errorf("plan %s seed %d: history: %w", p.Name, seed, err)
	}
	if !opt.NoFresh {
		// The linear validators go first; porcupine adds what they cannot see: whether
		// Online and deliveries fit the server's state at the time.
		lin := checker.CheckFresh(r.hist, freshTimeout)
		res.Violations = append(res.Violations, lin.Violations(r.hist)...)
		if lin.Verdict == checker.VerdictUnknown {
			return Outcome{}, fmt.Errorf("plan %s seed %d: porcupine timed out after %v: fresh is unknown", p.Name, seed, freshTimeout)
		}
	}
	return Outcome{
		Plan: p.Name, Seed: seed, History: r.hist, Result: res,
		Hash: k.Trace().Hash(), Events: k.Fired(), SimNs: k.Now(), Delivered: res.Delivered,
	}, nil
}

var (
	armFailpoints sync.Once
	armErr        error
)

// failpoints returns the context a node consults at its failpoints, or nil when the plan arms
// none. Its hook decides from the run's seeded source, so a run stays deterministic and
// parallel runs, each with their own hooks, never interfere.
func (r *runner) failpoints(p Plan, node string) context.Context {
	if len(p.Failpoints) == 0 {
		return nil
	}
	return failpoint.WithHook(context.Background(), func(_ context.Context, path string) bool {
		for i, f := range p.Failpoints {
			if reference.FailpointPath(f.Name) != path || (f.Max > 0 && r.fired[i] >= f.Max) {
				continue
			}
			if r.k.Rand().Float64() >= f.Prob {
				return false
			}
			r.fired[i]++
			r.record(checker.Event{Node: node, Kind: checker.EvFault, Name: "failpoint", Reason: f.Name})
			return true
		}
		return false
	})
}

func (r *runner) post(p Post) {
	b := body(p.Seq, p.SizeBytes)
	sum := checker.Checksum(b)
	r.record(checker.Event{Node: ServerName, Kind: checker.EvPost, Seq: p.Seq, MsgID: p.MsgID, Sum: sum})
	seq, err := r.server.Post(p.Seq, p.MsgID, b)
	if err != nil {
		r.record(checker.Event{Node: ServerName, Kind: checker.EvPostErr, Seq: p.Seq, MsgID: p.MsgID, Reason: err.Error()})
		return
	}
	r.record(checker.Event{Node: ServerName, Kind: checker.EvPostOK, Seq: seq, MsgID: p.MsgID, Sum: sum})
}

func (r *runner) schedule(f Fault) {
	ch, _ := parseChannel(f.Channel) // Validate checked it
	at := f.AtUs * 1000
	r.k.Schedule(at, sim.Func(func() {
		r.record(checker.Event{Node: f.Client, Kind: checker.EvFault, Name: f.Kind, Reason: f.Channel})
		switch f.Kind {
		case FaultReset:
			r.net.Reset(f.Client, ch)
		case FaultStall:
			r.net.Stall(f.Client, ch, netsim.ServerToClient, at+f.DurationUs*1000)
		}
	}))
}

func (a *clientApp) open() {
	mode, _ := reference.ParseMode(a.plan.Mode) // Validate checked it
	a.start(mode, a.plan.Seq, "")
}

// reopen resumes after an error: seq-data from the last delivered seq, so the sessions
// concatenate without a gap or a repeat (the checker's resume property).
func (a *clientApp) reopen() {
	if a.closed {
		return
	}
	mode, seq := reference.ModeSeqData, a.last
	if !a.delivered {
		mode, _ = reference.ParseMode(a.plan.Mode)
		seq = a.plan.Seq
	}
	a.start(mode, seq, checker.OpenReopen)
}

func (a *clientApp) start(mode reference.Mode, seq int64, why string) {
	a.r.session++
	a.session = a.r.session
	a.record(checker.Event{Kind: checker.EvOpen, Mode: mode.String(), ReqSeq: seq, Name: why})
	if err := a.c.Open(mode, seq); err != nil {
		a.record(checker.Event{Kind: checker.EvState, State: checker.StError, Reason: err.Error()})
	}
}

func (a *clientApp) close() {
	if a.session == 0 || a.closed {
		return
	}
	a.closed = true
	a.record(checker.Event{Kind: checker.EvClose})
	a.c.Close()
}

func (a *clientApp) record(e checker.Event) {
	e.Node, e.Session = a.plan.Name, a.session
	a.r.record(e)
}

func (a *clientApp) Data(seq int64, msgid int32, body []byte) {
	a.delivered, a.last = true, seq
	a.record(checker.Event{Kind: checker.EvDeliver, Seq: seq, MsgID: msgid, Sum: checker.Checksum(body)})
	if a.plan.CloseOnSeq != nil && *a.plan.CloseOnSeq == seq {
		a.close()
	}
}

func (a *clientApp) Control(c reference.Control, seq int64) {
	a.record(checker.Event{Kind: checker.EvControl, Name: c.String(), Seq: seq})
	if c == reference.CtlOnline {
		a.backoffUs = 0
	}
}

func (a *clientApp) Phase(p reference.Phase, seq int64) {
	a.record(checker.Event{Kind: checker.EvPhase, Name: p.String(), Seq: seq})
}

func (a *clientApp) State(s reference.State, reason string) {
	if s == reference.StateOpening {
		return
	}
	a.record(checker.Event{Kind: checker.EvState, State: s.String(), Reason: reason})
	switch r := a.plan.Reopen; {
	case s == reference.StateActive && a.plan.Mode == checker.ModeOnline:
		a.backoffUs = 0 // online mode never reports Online: Active is its handover
	case s == reference.StateError && r != nil && !a.closed && (r.MaxReopens == 0 || a.reopens < r.MaxReopens):
		a.reopens++
		a.backoffUs = max(r.BackoffUs, 2*a.backoffUs)
		if r.MaxBackoffUs > 0 {
			a.backoffUs = min(a.backoffUs, r.MaxBackoffUs)
		}
		a.r.k.After(a.backoffUs*1000, sim.Func(a.reopen))
	}
}
