package scenarios

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/netsim"
	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/reference/wire"
	"github.com/streamsim/streamsim/sim"
)

// Options change how a plan is run, not what it is.
type Options struct {
	Bugs  reference.Bugs // planted bugs in the reference client and server
	Trace io.Writer      // when set, receives the event trace as text
	// MaxEvents bounds a run so a runaway plan cannot hang a campaign; default 50 million.
	MaxEvents uint64
	// NoFresh skips the check of the fresh property (benchmarks of the simulator).
	NoFresh bool
}

// Outcome is what one run produced and what the checker made of it.
type Outcome struct {
	Plan      string
	Seed      uint64
	History   checker.History
	Result    checker.Result
	Fresh     checker.LinResult // the verdict on fresh (zero with NoFresh)
	Hash      uint64            // trace hash: equal for equal plan and seed
	Events    uint64            // kernel events fired
	SimNs     int64             // virtual time simulated
	Delivered int64
}

// DefaultLivenessBoundUs is the liveness bound of plans that set none, and of simrun check.
const DefaultLivenessBoundUs int64 = 100_000

// ServerName is the server's node name in every history.
const ServerName = "server"

// runner is one run in progress: the applications on top of the reference nodes, and the
// recorder of their history.
type runner struct {
	p       Plan
	opt     Options
	k       *sim.Kernel
	net     *netsim.Network
	server  *reference.Server // nil while crashed
	host    *netsim.Host      // the server's
	store   *simStore         // the server's store when it can crash or is durable
	clients []*clientApp
	hist    checker.History
	session int64
	fired   []int // per plan failpoint: times fired
}

// clientApp is a client application: it opens and closes as planned, records what its client
// delivers, and keeps the last delivered seq as an application would persist it, to resume
// from after an error, a crash or a restart.
type clientApp struct {
	r         *runner
	plan      ClientPlan
	host      *netsim.Host
	c         *reference.Client
	session   int64
	opened    bool // a session exists (it may have ended)
	live      bool // the current session has not ended
	closed    bool // the application closed for good
	crashed   bool
	delivered bool
	last      int64
	reopens   int
	backoffUs int64
	triggers  []Fault // faults waiting for a phase of this client
}

func (r *runner) record(e checker.Event) {
	e.T = r.k.Now()
	r.hist = append(r.hist, e)
	r.trace(&r.hist[len(r.hist)-1])
}

// add appends an event of node at the current time, zero but for its kind, for the caller to
// fill in and then trace. Posts and deliveries are written in place this way: an Event built
// on the stack, field by field, and copied into the history was read back in 16-byte pieces
// of 8-byte writes, which stalls on store forwarding.
func (r *runner) add(node string, kind checker.Kind) *checker.Event {
	r.hist = append(r.hist, checker.Event{})
	e := &r.hist[len(r.hist)-1]
	e.T, e.Node, e.Kind = r.k.Now(), node, kind
	return e
}

// trace adds e, just recorded, to the run's trace.
func (r *runner) trace(e *checker.Event) {
	switch e.Kind {
	case checker.EvPost, checker.EvPostOK, checker.EvDeliver:
		r.k.Trace().RecordMsg(e.T, e.Node, e.Kind.String(), e.Seq, e.Session, e.MsgID, e.Sum)
	default:
		r.k.Trace().Record(e.T, e.Node, e.Kind.String(), e.Seq, e.Session)
	}
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
	r := &runner{p: p, opt: opt, k: k, net: netsim.New(k), fired: make([]int, len(p.Failpoints))}
	// Each post is recorded twice and delivered to about every client; sizing the history
	// for that up front saves copying it as it grows, a third of a large run's time.
	r.hist = newHistory(len(p.Posts)*(2+len(p.Clients)) + 16*len(p.Clients) + len(p.Faults))
	if len(p.Failpoints) > 0 {
		armFailpoints.Do(func() { armErr = reference.EnableFailpoints() })
		if armErr != nil {
			return Outcome{}, armErr
		}
	}
	for ch, l := range []Link{reference.ChanOnline: p.Net.Online, reference.ChanRequest: p.Net.Request} {
		cfg, _ := l.config() // Validate checked it
		r.net.SetLink(reference.Channel(ch), netsim.ClientToServer, cfg)
		r.net.SetLink(reference.Channel(ch), netsim.ServerToClient, cfg)
	}
	if p.Net.IdleTimeoutUs > 0 {
		r.net.SetIdleTimeout(p.Net.IdleTimeoutUs * 1000)
	}
	if p.Server.Durable || p.crashes(ServerName) {
		var err error
		if r.store, err = newSimStore(r); err != nil {
			return Outcome{}, err
		}
	}
	r.host = r.net.AddServer(ServerName)
	r.server = r.newServer()
	r.host.Attach(r.server)
	k.Reserve(len(p.Posts) + 2*len(p.Clients) + len(p.Faults))
	for _, cp := range p.Clients {
		a := &clientApp{r: r, plan: cp, host: r.net.AddClient(cp.Name)}
		if cp.ReadBytesPerSec > 0 {
			cfg, _ := p.Net.Online.config()
			cfg.RecvBytesPerSec = cp.ReadBytesPerSec
			r.net.SetClientLink(cp.Name, reference.ChanOnline, netsim.ServerToClient, cfg)
		}
		a.c = r.newClient(a)
		a.host.Attach(a.c)
		r.clients = append(r.clients, a)
		k.Schedule(cp.OpenAtUs*1000, sim.Func(a.open))
		if cp.CloseAtUs > 0 {
			k.Schedule(cp.CloseAtUs*1000, sim.Func(a.close))
		}
	}
	// One handler per post, all in one array: a closure each was an allocation per post.
	posts := make([]postEvent, len(p.Posts))
	for i, post := range p.Posts {
		posts[i] = postEvent{r, i}
		k.Schedule(post.AtUs*1000, &posts[i])
	}
	for _, f := range p.Faults {
		if f.Trigger != "" {
			a := r.app(f.Watched())
			a.triggers = append(a.triggers, f)
			continue
		}
		k.Schedule(f.AtUs*1000, sim.Func(func() { r.inject(f) }))
	}
	bound := p.LivenessBoundUs
	if bound == 0 {
		// A history-mode session must read the log at the pace the plan sets the server's
		// history to before it can go Online; the default bound is on top of that.
		bound = DefaultLivenessBoundUs + p.historyPaceUs()
	}
	k.Run(max(p.DurationUs, p.lastEventUs()) * 1000)
	r.settle(bound * 1000)
	if k.Exhausted() {
		return Outcome{}, fmt.Errorf("plan %s seed %d: stopped after %d events without finishing", p.Name, seed, opt.MaxEvents)
	}
	// A datagram online link loses messages for the whole run, and a lost last message is
	// undetectable without heartbeats: there only the sessions' duty to settle is checked.
	// The linear validators' violations go first; fresh adds what they cannot see: whether
	// Online and deliveries fit the server's state at the time.
	calm := p.Calm()
	res, lin, err := checker.Judge(r.hist, checker.JudgeOptions{
		Liveness: checker.LivenessOptions{BoundNs: bound * 1000, EndNs: k.Now(), SessionsOnly: p.Net.Online.Unreliable, Calm: calm},
		Progress: checker.ProgressOptions{Calm: calm, HandshakeNs: p.handshakeNs()},
		NoFresh:  opt.NoFresh,
	})
	if err != nil {
		return Outcome{}, fmt.Errorf("plan %s seed %d: history: %w", p.Name, seed, err)
	}
	return Outcome{
		Plan: p.Name, Seed: seed, History: r.hist, Result: res, Fresh: lin,
		Hash: k.Trace().Hash(), Events: k.Fired(), SimNs: k.Now(), Delivered: res.Delivered,
	}, nil
}

// histories holds the history arrays of finished runs (recycle) for later runs to record
// into. A fresh array of a large run is tens of MB, which the runtime zeroes and the kernel
// then faults in page by page, before the run writes every byte of it again. The pool lets
// the collector drop arrays nobody asks for.
var histories sync.Pool // of *checker.History

// newHistory is an empty history with room for n events: a recycled array if one fits
// without keeping much more memory than asked for alive, else a new one.
func newHistory(n int) checker.History {
	if h, ok := histories.Get().(*checker.History); ok && cap(*h) >= n && cap(*h) <= 2*n+1024 {
		return (*h)[:0]
	}
	return make(checker.History, 0, n)
}

// recycle hands the array of a history nobody reads any more to later runs.
func recycle(h checker.History) {
	if cap(h) > 0 {
		h = h[:0]
		histories.Put(&h)
	}
}

// maxSettleWindows bounds how long a run goes on after its plan: a network that never quiets
// (a server streaming a long history to a slow reader) still stops, maxSettleWindows liveness
// bounds after the plan's end.
const maxSettleWindows = 16

// settle goes on past the plan's end until a whole liveness bound passes with nothing in the
// trace: no byte sent or received, no timer, no history event. Then every duty liveness and
// progress judge had its bound to be met, even in plans that end soon after their last post.
// A write still crossing a slow link shows too: the server polls its backed-up channel.
func (r *runner) settle(boundNs int64) {
	activity := func() int { return r.k.Trace().Len() }
	for range maxSettleWindows {
		before := activity()
		r.k.Run(r.k.Now() + boundNs)
		if activity() == before || r.k.Exhausted() {
			return
		}
	}
}

// lastEventUs is when the plan's last timed event happens: a post, an open or close, a fault
// or its end, or a crashed node's restart. Faults aimed at a phase happen when it comes.
func (p *Plan) lastEventUs() int64 {
	var t int64
	for _, post := range p.Posts {
		t = max(t, post.AtUs)
	}
	for _, c := range p.Clients {
		t = max(t, c.OpenAtUs, c.CloseAtUs)
	}
	for _, f := range p.Faults {
		if f.Trigger == "" {
			t = max(t, f.AtUs+f.DurationUs)
		}
	}
	return t
}

// historyPaceUs is how long the server's history pacing takes to stream every post of the
// plan: one interval per batch.
func (p *Plan) historyPaceUs() int64 {
	batch := cmp.Or(p.Server.HistoryBatchMsgs, reference.DefaultHistoryBatchMsgs)
	batches := (len(p.Posts) + batch - 1) / batch
	return int64(batches) * p.Server.HistoryIntervalUs
}

// handshakeNs is the shortest handshake timeout of the plan's clients.
func (p *Plan) handshakeNs() int64 {
	ns := reference.DefaultHandshakeTimeoutNs
	for _, c := range p.Clients {
		if c.HandshakeTimeoutUs > 0 {
			ns = min(ns, c.HandshakeTimeoutUs*1000)
		}
	}
	return ns
}

// crashes reports whether the plan crashes node.
func (p *Plan) crashes(node string) bool {
	for _, f := range p.Faults {
		if f.Kind == FaultCrash && f.Client == node {
			return true
		}
	}
	return false
}

func (r *runner) newServer() *reference.Server {
	cfg := reference.ServerConfig{
		Autoseq:               r.p.Server.Autoseq,
		HistoryBatchMsgs:      r.p.Server.HistoryBatchMsgs,
		HistoryIntervalNs:     r.p.Server.HistoryIntervalUs * 1000,
		PubLastSeq:            r.p.Server.PubLastSeq,
		SubscriberMaxLagBytes: r.p.Server.MaxLagBytes,
		Durable:               r.p.Server.Durable,
		Bugs:                  r.opt.Bugs,
		Failpoints:            r.failpoints(ServerName),
	}
	if r.store != nil && r.store.file != nil {
		cfg.Store = r.store.file
	}
	return reference.NewServer(r.host, cfg)
}

func (r *runner) newClient(a *clientApp) *reference.Client {
	proto := reference.ProtoNew
	if a.plan.Protocol == "old" {
		proto = reference.ProtoOld
	}
	var env reference.Env = a.host
	if a.plan.RequestVersion != 0 {
		env = &versionEnv{Host: a.host, app: a, version: a.plan.RequestVersion}
	}
	return reference.NewClient(env, a, reference.ClientConfig{
		BufferBytes: a.plan.BufferBytes, Protocol: proto, Peer: a.plan.Name, Bugs: r.opt.Bugs,
		Contiguous: a.plan.Contiguous, HandshakeTimeoutNs: a.plan.HandshakeTimeoutUs * 1000,
		Failpoints: r.failpoints(a.plan.Name),
	})
}

// The names of the fault events of malformed input, which no plan fault kind asks for: a
// malformed request (ClientPlan.RequestVersion) and an open the client refuses. validate
// records them under the same names, so a history reads alike from either.
const (
	FaultMalformed = "malformed_request"
	FaultBadOpen   = "bad_open"
)

// versionEnv is the environment of a client that sends a malformed request
// (ClientPlan.RequestVersion): it rewrites the version field of the first write on each
// request channel, which is the request. It records each one as a fault of the client, so the
// loud failure that follows has a cause in the history.
type versionEnv struct {
	*netsim.Host
	app     *clientApp
	version int16
	request reference.ConnID // the request channel whose request has not gone out yet
}

func (e *versionEnv) Dial(ch reference.Channel) reference.ConnID {
	id := e.Host.Dial(ch)
	if ch == reference.ChanRequest {
		e.request = id
	}
	return id
}

func (e *versionEnv) Send(id reference.ConnID, p []byte) {
	if id == e.request && len(p) >= wire.HeaderSize+2 {
		e.request = 0
		p = bytes.Clone(p)
		binary.LittleEndian.PutUint16(p[wire.HeaderSize:], uint16(e.version))
		e.app.r.record(checker.Event{Node: e.app.plan.Name, Kind: checker.EvFault, Name: FaultMalformed, Reason: fmt.Sprintf("request version %d", e.version)})
	}
	e.Host.Send(id, p)
}

func (r *runner) app(name string) *clientApp {
	for _, a := range r.clients {
		if a.plan.Name == name {
			return a
		}
	}
	panic("no client " + name) // Validate checked every name
}

var (
	armFailpoints sync.Once
	armErr        error
)

// failpoints returns the context a node consults at its failpoints, or nil when the plan arms
// none. Its hook decides from the run's seeded source, so a run stays deterministic and
// parallel runs, each with their own hooks, never interfere.
func (r *runner) failpoints(node string) context.Context {
	if len(r.p.Failpoints) == 0 {
		return nil
	}
	// decide runs at every armed marker a node passes; building the paths there was an
	// allocation per plan failpoint each time.
	paths := make([]string, len(r.p.Failpoints))
	for i, f := range r.p.Failpoints {
		paths[i] = reference.FailpointPath(f.Name)
	}
	return reference.FailpointContext(func(path string) bool {
		for i, f := range r.p.Failpoints {
			if paths[i] != path || (f.Max > 0 && r.fired[i] >= f.Max) {
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

// postEvent fires the plan's i-th post.
type postEvent struct {
	r *runner
	i int
}

func (e *postEvent) Fire() { e.r.post(e.r.p.Posts[e.i]) }

func (r *runner) post(p Post) {
	b := p.Body()
	sum := checker.Checksum(b)
	e := r.add(ServerName, checker.EvPost)
	e.Seq, e.MsgID, e.Sum = p.Seq, p.MsgID, sum
	r.trace(e)
	if r.server == nil {
		r.record(checker.Event{Node: ServerName, Kind: checker.EvPostErr, Seq: p.Seq, MsgID: p.MsgID, Reason: "server down"})
		return
	}
	seq, err := r.server.Post(p.Seq, p.MsgID, b)
	if err != nil {
		r.record(checker.Event{Node: ServerName, Kind: checker.EvPostErr, Seq: p.Seq, MsgID: p.MsgID, Reason: err.Error()})
		return
	}
	e = r.add(ServerName, checker.EvPostOK)
	e.Seq, e.MsgID, e.Sum = seq, p.MsgID, sum
	if r.server.DurableSeq() >= seq {
		e.Name = checker.PostSynced
	}
	r.trace(e)
}

// inject applies one fault now.
func (r *runner) inject(f Fault) {
	ch, _ := parseChannel(f.Channel) // Validate checked it where it matters
	untilNs := r.k.Now() + f.DurationUs*1000
	if f.Kind == FaultCrash {
		r.crash(f.Client, f.DurationUs*1000)
		return
	}
	r.record(checker.Event{Node: f.Client, Kind: checker.EvFault, Name: f.Kind, Reason: f.Channel + f.Direction})
	switch f.Kind {
	case FaultReset:
		r.net.Reset(f.Client, ch)
	case FaultStall:
		r.net.Stall(f.Client, ch, netsim.ServerToClient, untilNs)
	case FaultBlackhole:
		r.net.Blackhole(f.Client, ch, netsim.ServerToClient, untilNs)
	case FaultSlowClose:
		r.net.SlowClose(f.Client, ch, f.DurationUs*1000)
	case FaultPartition:
		from, to := []string{ServerName}, []string{f.Client}
		if f.Direction == "to_server" {
			from, to = to, from
		}
		r.net.Partition(from, to, untilNs)
	}
}

// crash takes node down for downNs, then restarts it. The server recovers what its disk kept;
// a client comes back as its application would, resuming from its last delivered seq.
func (r *runner) crash(node string, downNs int64) {
	if node == ServerName {
		if r.server == nil {
			return
		}
		r.net.Crash(ServerName)
		r.record(checker.Event{Node: ServerName, Kind: checker.EvCrash})
		r.server = nil
		r.store.crash()
		r.k.After(downNs, sim.Func(func() {
			why := r.store.recover()
			r.server = r.newServer()
			r.net.Restart(ServerName, r.server)
			r.record(checker.Event{Node: ServerName, Kind: checker.EvRestart, Seq: r.store.last(), Reason: why})
		}))
		return
	}
	a := r.app(node)
	if a.crashed {
		return
	}
	r.net.Crash(node)
	a.crashed = true
	r.record(checker.Event{Node: node, Kind: checker.EvCrash})
	if a.live {
		a.end(checker.StError, "crashed")
	}
	r.k.After(downNs, sim.Func(func() {
		a.crashed = false
		a.c = r.newClient(a)
		r.net.Restart(node, a.c)
		r.record(checker.Event{Node: node, Kind: checker.EvRestart})
		if a.opened && !a.closed {
			a.reopen()
		}
	}))
}

func (a *clientApp) open() {
	if a.crashed {
		return
	}
	mode, _ := reference.ParseMode(a.plan.Mode) // Validate checked it
	a.start(mode, a.plan.Seq, "")
}

func (a *clientApp) reopen() {
	if a.closed || a.crashed || a.live {
		return // closed for good, down, or already reopened by a restart
	}
	mode, seq := a.plan.Resume(a.delivered, a.last)
	if a.delivered && a.r.opt.Bugs&reference.BugReopenInclusive != 0 {
		mode = reference.ModeSeq
	}
	a.start(mode, seq, checker.OpenReopen)
}

func (a *clientApp) start(mode reference.Mode, seq int64, why string) {
	if a.live {
		// The reference closes a live session on Open; record that under its own id.
		a.record(checker.Event{Kind: checker.EvClose})
		a.c.Close()
	}
	a.r.session++
	a.session, a.opened, a.live = a.r.session, true, true
	hm, _ := checker.ParseMode(mode.String()) // the reference's modes and the history's have the same names
	a.record(checker.Event{Kind: checker.EvOpen, Mode: hm, ReqSeq: seq, Name: why})
	if err := a.c.Open(mode, seq); err != nil {
		// An open the client cannot make (initial or last over the old protocol) is the
		// plan's malformed input: the history must show it as the cause of the failure.
		a.record(checker.Event{Kind: checker.EvFault, Name: FaultBadOpen, Reason: err.Error()})
		a.end(checker.StError, err.Error())
	}
}

func (a *clientApp) close() {
	if !a.opened || a.closed {
		return
	}
	a.closed = true
	if a.crashed || !a.live {
		return
	}
	a.record(checker.Event{Kind: checker.EvClose})
	a.c.Close()
}

// end records that the current session ended without its client saying so (an open refused,
// a crash).
func (a *clientApp) end(state checker.State, reason string) {
	a.live = false
	a.record(checker.Event{Kind: checker.EvState, State: state, Reason: reason})
}

func (a *clientApp) record(e checker.Event) {
	e.Node, e.Session = a.plan.Name, a.session
	a.r.record(e)
}

// fire injects the faults aimed at phase, once each.
func (a *clientApp) fire(phase string) {
	kept := a.triggers[:0]
	for _, f := range a.triggers {
		if f.Trigger != phase {
			kept = append(kept, f)
			continue
		}
		a.r.k.After(f.DelayUs*1000, sim.Func(func() { a.r.inject(f) }))
	}
	a.triggers = kept
}

func (a *clientApp) Data(seq int64, msgid int32, body []byte) {
	a.delivered, a.last = true, seq
	e := a.r.add(a.plan.Name, checker.EvDeliver)
	e.Session, e.Seq, e.MsgID, e.Sum = a.session, seq, msgid, checker.Checksum(body)
	a.r.trace(e)
	if a.plan.CloseOnSeq != nil && *a.plan.CloseOnSeq == seq {
		a.close()
	}
}

func (a *clientApp) Control(c reference.Control, seq int64) {
	a.record(checker.Event{Kind: checker.EvControl, Name: c.String(), Seq: seq})
	if c == reference.CtlOnline {
		a.backoffUs = 0
		a.fire("online")
	}
}

func (a *clientApp) Phase(p reference.Phase, seq int64) {
	a.record(checker.Event{Kind: checker.EvPhase, Name: p.String(), Seq: seq})
	a.fire(p.String())
}

func (a *clientApp) State(s reference.State, reason string) {
	if s == reference.StateOpening {
		return
	}
	if s != reference.StateActive {
		a.live = false
	}
	st, _ := checker.ParseState(s.String()) // Active, Error and Closed, named alike in both
	a.record(checker.Event{Kind: checker.EvState, State: st, Reason: reason})
	switch r := a.plan.Reopen; {
	case s == reference.StateActive && a.plan.Mode == checker.ModeOnline.String():
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
