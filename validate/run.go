package validate

import (
	"cmp"
	"container/heap"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/netsim/proxy"
	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/reference/wire"
	"github.com/streamsim/streamsim/scenarios"
)

// Options say what to run and where.
type Options struct {
	// ServerCmd and ClientCmd are shell commands that start a driver (README, "The driver
	// protocol"); placeholders {online}, {request}, {storage} and {name} are replaced, and
	// the same values are in the environment (EnvOnline and the others).
	ServerCmd, ClientCmd string
	// Net is "tcp" (loopback ports, the default) or "unix" (socket files).
	Net string
	// Dir is where each run makes its scratch directory (sockets, the server's storage);
	// default os.TempDir().
	Dir string
}

const (
	// readyTimeout bounds a driver's start, up to its ready line.
	readyTimeout = 10 * time.Second
	// canaryTick is how often the run's loop wakes to measure how late its timer fires.
	canaryTick = 20 * time.Millisecond
	// drainTime is how long a run keeps reading after its end, for events that happened
	// before the end but were still in a pipe.
	drainTime = 100 * time.Millisecond
)

// Outcome is what one real run produced and what the checker made of it.
type Outcome struct {
	Verdict Verdict
	History checker.History
	Result  checker.Result // Check's verdict, then liveness and fresh violations
	Fresh   checker.LinResult
	Scale   float64  // real time per unit of plan time
	Notes   []string // what the plan asked for that the run could not do, sorted
	// Schedule is the faults the proxies applied, in order, with their real times.
	Schedule []string
	Wall     time.Duration
	// Canary is how late the machine ran; Bound the liveness bound, stretched by it.
	Canary  Canary
	Bound   time.Duration
	Latency Latency
	// Coverage is the boundary situations the run reached (scenarios.Situations).
	Coverage scenarios.Coverage
}

// Run plays plan p once in real time against the drivers of opt and judges the history. The
// seed drives the proxies' random choices. An error means the run could not be judged: a
// driver failed to start, died, or broke the driver protocol.
func Run(ctx context.Context, p scenarios.Plan, seed uint64, opt Options) (Outcome, error) {
	if err := opt.check(); err != nil {
		return Outcome{}, err
	}
	if err := p.Validate(); err != nil {
		return Outcome{}, err
	}
	start := time.Now()
	m := mapPlan(&p)
	dir, err := os.MkdirTemp(opt.Dir, "streamsim-validate-")
	if err != nil {
		return Outcome{}, err
	}
	defer os.RemoveAll(dir)
	r := &runner{p: p, m: m, opt: opt, dir: dir, lines: make(chan line, 256), stop: make(chan struct{}), lastAcked: -1}
	err = r.run(ctx, seed)
	r.shutdown()
	for _, c := range r.clients {
		for _, f := range c.triggers {
			r.m.note(fmt.Sprintf("%s aimed at %s's %s phase (never reported)", f.Kind, f.Client, f.Trigger))
		}
	}
	slices.Sort(r.m.notes)
	// The bound covers what the plan allows plus what the machine was measured to add. A run
	// that stopped on an error reports it too: its figures say how late the machine ran.
	out := Outcome{Verdict: Fail, Scale: m.scale, Notes: r.m.notes, Wall: time.Since(start), Canary: r.canary, Schedule: r.faultLog, Bound: m.bound + r.canary.Late()}
	if err != nil {
		// A command left unanswered is judged as a liveness violation is: on a machine
		// measured too slow it may be the machine's.
		if errors.Is(err, errUnanswered) {
			out.Verdict = judge(1, 1, r.canary)
		}
		return out, err
	}
	// Drivers in different processes report in their own order; one clock orders them.
	sort.SliceStable(r.hist, func(i, j int) bool { return r.hist[i].T < r.hist[j].T })
	out.History = r.hist
	// The same rules as a simulated run's, calm links included.
	res, fresh, err := checker.Judge(r.hist, checker.JudgeOptions{
		Liveness: checker.LivenessOptions{BoundNs: int64(out.Bound), EndNs: r.stopped, Calm: p.Calm()},
		Progress: checker.ProgressOptions{Calm: p.Calm(), HandshakeNs: m.handshakeNs(&p)},
	})
	if err != nil {
		return out, fmt.Errorf("the drivers' history cannot be judged: %w", err)
	}
	timed := 0
	for _, v := range res.Violations {
		if v.Property == checker.PropLiveness {
			timed++
		}
	}
	out.Result, out.Fresh = res, fresh
	out.Latency = measure(r.hist)
	out.Coverage = scenarios.Cover(r.hist)
	out.Verdict = judge(len(res.Violations), timed, r.canary)
	return out, nil
}

// judge gives the verdict of a run with n violations, of which timed are liveness's, on a
// machine that ran as late as c says.
func judge(n, timed int, c Canary) Verdict {
	switch {
	case n == 0:
		return Pass
	case timed == n && c.TooSlow():
		return Inconclusive
	}
	return Fail
}

// runner is one run in progress. Everything but the drivers' pipe goroutines and the proxies
// runs on the goroutine that called Run, so its state needs no locks.
type runner struct {
	p   scenarios.Plan
	m   mapping
	opt Options
	dir string

	lines chan line
	stop  chan struct{} // closed when the run stops reading the drivers

	server  *proc
	posts   []int // history indexes of the posts sent and not yet answered, oldest first
	clients []*client
	procs   []*proc
	proxies []*proxy.Proxy

	t0      time.Time // plan time 0
	q       actions
	hist    checker.History
	session int64
	err     error // the first reason the run cannot go on

	canary    Canary
	faultLog  []string // Outcome.Schedule
	lastAcked int64    // the highest seq the server acknowledged; -1 before any
	lastAckAt int64    // history time of the last acknowledgement
	stopped   int64    // history time the run stopped at
}

// client is a plan client's application, as the simulator's: it opens and closes as planned,
// reopens after errors, and records what its driver reports.
type client struct {
	r       *runner
	plan    scenarios.ClientPlan
	proc    *proc
	proxies [2]*proxy.Proxy // by reference.Channel

	// The application's view, as in the simulator.
	session              int64 // the last session it opened
	opened, live, closed bool
	delivered            bool
	last                 int64
	reopens              int
	backoff              time.Duration
	triggers             []scenarios.Fault

	// online: the session reported Online (Active in online mode); ackedLive is the highest
	// seq acknowledged by then, which history covered.
	online    bool
	ackedLive int64

	// The driver's stream: commands awaiting an answer, and the session its events belong
	// to (the one whose open was answered last).
	waiting []pendingCmd
	current int64
	ended   bool // the current session ended in the stream: Error, Closed, or a close
}

type pendingCmd struct {
	cmd     string
	session int64
	sent    int64 // history time
}

func (r *runner) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

// serverStarts is how many times a run starts a server that exits before it is ready: a
// loopback port found free may be taken by another process before the server binds it.
const serverStarts = 3

func (r *runner) run(ctx context.Context, seed uint64) error {
	var addrs [2]string
	for attempt := 1; ; attempt++ {
		var err error
		if addrs, err = r.serverAddrs(); err != nil {
			return err
		}
		storage := filepath.Join(r.dir, fmt.Sprint("storage-", attempt))
		if err := os.Mkdir(storage, 0o755); err != nil {
			return err
		}
		serverJS, _ := json.Marshal(r.m.server)
		vars := map[string]string{"online": addrs[0], "request": addrs[1], "storage": storage}
		env := []string{EnvOnline + "=" + addrs[0], EnvRequest + "=" + addrs[1], EnvStorage + "=" + storage, EnvServer + "=" + string(serverJS)}
		if r.server, err = r.start(scenarios.ServerName, expand(r.opt.ServerCmd, vars), env); err != nil {
			return err
		}
		err = r.ready(ctx, 1)
		var ended errEnded
		if err == nil {
			break
		}
		if !errors.As(err, &ended) || r.opt.Net == "unix" || attempt == serverStarts {
			return err
		}
		r.server.stop()
		r.procs = r.procs[:0]
	}
	for i, cp := range r.p.Clients {
		c := &client{r: r, plan: cp, last: -1}
		for ch := range c.proxies {
			listen := "127.0.0.1:0"
			if r.opt.Net == "unix" {
				listen = filepath.Join(r.dir, fmt.Sprintf("p%d-%d.sock", i, ch))
			}
			cfg := proxy.Config{
				Listen: listen, Target: addrs[ch], Seed: seed*1_000_003 + uint64(2*i+ch),
				Up: r.m.links[ch], Down: r.m.links[ch], SetupNs: int64(r.m.setup[ch]),
			}
			if v := cp.RequestVersion; v != 0 && ch == int(reference.ChanRequest) {
				// The request is the first frame on a request connection; its version is the
				// first field of its body.
				cfg.Corrupt = []proxy.Corruption{{Dir: proxy.Up, Offset: wire.HeaderSize, Bytes: binary.LittleEndian.AppendUint16(nil, uint16(v))}}
			}
			px, err := proxy.Start(cfg)
			if err != nil {
				return err
			}
			r.proxies = append(r.proxies, px)
			c.proxies[ch] = px
		}
		on, rq := c.proxies[reference.ChanOnline].Addr(), c.proxies[reference.ChanRequest].Addr()
		settings, _ := json.Marshal(r.m.client(cp))
		vars := map[string]string{"online": on, "request": rq, "name": cp.Name}
		env := []string{EnvOnline + "=" + on, EnvRequest + "=" + rq, EnvName + "=" + cp.Name, EnvClient + "=" + string(settings)}
		var err error
		if c.proc, err = r.start(cp.Name, expand(r.opt.ClientCmd, vars), env); err != nil {
			return err
		}
		r.clients = append(r.clients, c)
	}
	if err := r.ready(ctx, len(r.clients)); err != nil {
		return err
	}
	r.schedule()
	return r.loop(ctx)
}

// serverAddrs picks the server's listening addresses. A loopback port is found free by
// binding it; the server binds it again a moment later, which another process could win,
// but the kernel hands out ports from a wide range and rarely the one just released.
func (r *runner) serverAddrs() ([2]string, error) {
	if r.opt.Net == "unix" {
		return [2]string{filepath.Join(r.dir, "online.sock"), filepath.Join(r.dir, "request.sock")}, nil
	}
	var addrs [2]string
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return addrs, err
		}
		addrs[i] = l.Addr().String()
		defer l.Close()
	}
	return addrs, nil
}

func (r *runner) start(name, cmdline string, env []string) (*proc, error) {
	p, err := startProc(name, cmdline, env, r.lines, r.stop)
	if err != nil {
		return nil, err
	}
	r.procs = append(r.procs, p)
	return p, nil
}

// ready waits for n ready lines from the drivers started last.
func (r *runner) ready(ctx context.Context, n int) error {
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	for n > 0 {
		select {
		case l := <-r.lines:
			switch {
			case l.eof:
				return errEnded{l.p.name, l.p.describe()}
			case l.err != nil:
				return fmt.Errorf("%s driver: %v", l.p.name, l.err)
			case l.ev.Ev != EvReady:
				return fmt.Errorf("%s driver: %q before ready", l.p.name, l.ev.Ev)
			}
			n--
		case <-deadline.C:
			return fmt.Errorf("the drivers were not ready within %v", readyTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// errEnded is a driver that exited before it was ready.
type errEnded struct{ name, how string }

func (e errEnded) Error() string {
	return fmt.Sprintf("%s driver ended while the run started: %s", e.name, e.how)
}

// shutdown stops every driver and proxy the run started and waits for them.
func (r *runner) shutdown() {
	close(r.stop)
	var wg sync.WaitGroup
	for _, p := range r.procs {
		wg.Go(p.stop)
	}
	wg.Wait()
	for _, px := range r.proxies {
		px.Close()
	}
}

// now is the current time in history time: nanoseconds since plan time 0, on the real-time
// clock the drivers stamp their events with (not the monotonic one), so that all stamps
// compare.
func (r *runner) now() int64 { return r.at(Now()) }

// at converts a driver's Unix time to history time.
func (r *runner) at(t int64) int64 { return t - r.t0.UnixNano() }

func (r *runner) record(e checker.Event) { r.hist = append(r.hist, e) }

func (r *runner) schedule() {
	r.t0 = time.Now()
	for _, post := range r.p.Posts {
		r.after(r.m.d(post.AtUs), func() { r.post(post) })
	}
	for _, c := range r.clients {
		r.after(r.m.d(c.plan.OpenAtUs), c.open)
		if c.plan.CloseAtUs > 0 {
			r.after(r.m.d(c.plan.CloseAtUs), c.close)
		}
	}
	for _, f := range r.p.Faults {
		if f.Trigger != "" {
			c := r.client(f.Watched())
			c.triggers = append(c.triggers, f)
			continue
		}
		r.after(r.m.d(f.AtUs), func() { r.inject(f) })
	}
}

// after schedules fn d after plan time 0.
func (r *runner) after(d time.Duration, fn func()) {
	r.q.next++
	heap.Push(&r.q, action{at: d, n: r.q.next, fn: fn})
}

// in schedules fn d from now.
func (r *runner) in(d time.Duration, fn func()) { r.after(time.Since(r.t0)+d, fn) }

func (r *runner) loop(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	cpu, io := startStall(cpuPressure), startStall(ioPressure)
	defer func() { r.canary.CPUStall, r.canary.IOStall = cpu.share(), io.share() }()
	end := r.m.end
	tick := canaryTick
	for r.err == nil {
		now := time.Since(r.t0)
		// The canary's own timer samples how late timers run all through the run, also
		// where nothing is planned.
		if now >= tick {
			r.canary.Timer = max(r.canary.Timer, now-tick)
			tick = now + canaryTick
		}
		// Nothing planned runs past the end, as in a simulation: a reopen due then is not owed.
		for len(r.q.all) > 0 && r.q.all[0].at <= min(now, end) && r.err == nil {
			a := heap.Pop(&r.q).(action)
			r.canary.Timer = max(r.canary.Timer, now-a.at)
			a.fn()
		}
		// Every acknowledged post is judged: the run goes on until its bound has passed.
		// A slow implementation must not pass by not finishing either: past that, the run
		// waits for every answer and every delivery owed, up to one more bound.
		judged := max(end, time.Duration(r.lastAckAt)+r.m.bound+r.canary.Late())
		if now >= judged && r.settled() {
			break
		}
		deadline := judged + r.m.bound
		if now >= deadline {
			break
		}
		next := deadline
		if now < judged {
			next = judged
		}
		if now < end {
			next = end
			if len(r.q.all) > 0 {
				next = min(next, r.q.all[0].at)
			}
		}
		next = min(next, tick)
		// Since Go 1.23 a reset timer never delivers a stale tick.
		timer.Reset(next - now)
		select {
		case l := <-r.lines:
			r.handle(l)
		case <-timer.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if r.err != nil {
		return r.err
	}
	r.stopped = r.now()
	// Events stamped before the stop may still be in the pipes.
	drain := time.NewTimer(drainTime)
	defer drain.Stop()
	for {
		select {
		case l := <-r.lines:
			if l.eof || (l.err == nil && r.at(l.ev.T) > r.stopped) {
				continue
			}
			r.handle(l)
			if r.err != nil {
				return r.err
			}
		case <-drain.C:
			return r.unanswered()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// settled reports whether nothing is owed any more: every command answered, and every live
// session has delivered every acknowledged post.
func (r *runner) settled() bool {
	if len(r.posts) > 0 {
		return false
	}
	for _, c := range r.clients {
		if len(c.waiting) > 0 {
			return false
		}
		// With nothing acknowledged a session may wait for the first post without Online.
		if c.live && r.lastAcked >= 0 && !(c.online && (c.last >= r.lastAcked || c.ackedLive >= r.lastAcked)) {
			return false
		}
	}
	return true
}

// unanswered fails the run if a driver left a command unanswered: one that sleeps through its
// commands would otherwise pass with nothing delivered and nothing violated.
func (r *runner) unanswered() error {
	if len(r.posts) > 0 {
		p := r.hist[r.posts[0]]
		r.fail("server driver left post seq %d %w (%d posts in all), sent %v before the run stopped",
			p.Seq, errUnanswered, len(r.posts), time.Duration(r.stopped-p.T).Round(time.Millisecond))
	}
	for _, c := range r.clients {
		if len(c.waiting) > 0 {
			w := c.waiting[0]
			r.fail("%s driver left %s %w (session %d), sent %v before the run stopped",
				c.plan.Name, w.cmd, errUnanswered, w.session, time.Duration(r.stopped-w.sent).Round(time.Millisecond))
		}
	}
	return r.err
}

var errUnanswered = errors.New("unanswered")

func (r *runner) client(name string) *client {
	for _, c := range r.clients {
		if c.plan.Name == name {
			return c
		}
	}
	panic("validate: no client " + name) // Validate checked every name
}

// handle takes one line from a driver.
func (r *runner) handle(l line) {
	switch {
	case l.eof:
		r.fail("%s driver ended during the run: %s", l.p.name, l.p.describe())
		return
	case l.err != nil:
		r.fail("%s driver: %v", l.p.name, l.err)
		return
	}
	r.canary.Read = max(r.canary.Read, time.Duration(r.now()-r.at(l.ev.T)))
	if l.p == r.server {
		r.answerPost(l.ev)
		return
	}
	for _, c := range r.clients {
		if c.proc == l.p {
			c.handle(l.ev)
			return
		}
	}
}

// post sends one planned post; its answer comes back in order.
func (r *runner) post(p scenarios.Post) {
	b := p.Body()
	r.posts = append(r.posts, len(r.hist))
	r.record(checker.Event{T: r.now(), Node: scenarios.ServerName, Kind: checker.EvPost, Seq: p.Seq, MsgID: p.MsgID, Sum: checker.Checksum(b)})
	r.server.send(Post(p.Seq, p.MsgID, b))
}

func (r *runner) answerPost(ev Event) {
	if ev.Ev != EvOK && ev.Ev != EvError {
		r.fail("server driver: %q is not an answer to a post", ev.Ev)
		return
	}
	if len(r.posts) == 0 {
		r.fail("server driver: an answer to no post")
		return
	}
	p := &r.hist[r.posts[0]]
	r.posts = r.posts[1:]
	if ev.Start > 0 {
		// The post began when the driver called it, not when it was sent: a tight interval
		// lets fresh tell more when a slow server lets posts queue.
		p.T = min(max(p.T, r.at(ev.Start)), r.at(ev.T))
	}
	e := checker.Event{T: r.at(ev.T), Node: p.Node, Seq: p.Seq, MsgID: p.MsgID}
	switch {
	case ev.Ev == EvError:
		e.Kind, e.Reason = checker.EvPostErr, ev.Reason
	case ev.Seq == nil:
		r.fail(`server driver: a post's ok needs "seq", the seq stored`)
		return
	default:
		e.Kind, e.Seq, e.Sum = checker.EvPostOK, *ev.Seq, p.Sum
		r.lastAcked, r.lastAckAt = max(r.lastAcked, e.Seq), e.T
		if ev.Synced {
			e.Name = checker.PostSynced
		}
	}
	r.record(e)
}

// inject applies one fault now, or leaves it out when the proxies cannot produce it.
func (r *runner) inject(f scenarios.Fault) {
	if f.Kind == scenarios.FaultCrash || f.Kind == scenarios.FaultPartition {
		return // noted in the outcome
	}
	c := r.client(f.Watched())
	ch := reference.ChanOnline
	if f.Channel == "request" {
		ch = reference.ChanRequest
	}
	px := c.proxies[ch]
	d := r.m.d(f.DurationUs)
	// The fault's time is taken before it starts: the client may react before Reset returns.
	t := r.now()
	before := px.Stats()
	n := 0
	switch f.Kind {
	case scenarios.FaultReset:
		n = px.Reset()
	case scenarios.FaultStall:
		n = px.Stall(proxy.Down, d)
	case scenarios.FaultSlowClose:
		// The proxy delays every later close rather than the current connection's only.
		px.SlowClose(d)
		n = -1
	case scenarios.FaultBlackhole:
		// A blackhole holds the data; one that outlasts the idle timeout resets there, as
		// TCP's timeouts would (netsim.Network.Blackhole).
		n = px.Stall(proxy.Down, d)
		if d >= r.m.idle {
			r.in(r.m.idle, func() { r.log("reset (blackhole past the idle timeout)", f, px.Reset(), 0) })
		}
	}
	r.record(checker.Event{T: t, Node: f.Client, Kind: checker.EvFault, Name: f.Kind, Reason: f.Channel})
	r.log(f.Kind, f, n, d)
	if n == 0 {
		// As in a simulation, a fault on a channel with no connection does nothing; it is
		// listed because a real run's timing, not the plan, may be why.
		r.m.note(fmt.Sprintf("%s on %s's %s channel found no connection", f.Kind, f.Client, cmp.Or(f.Channel, "online")))
	}
	if px.Stats().Refused > before.Refused {
		r.faultLog[len(r.faultLog)-1] += " (refused during setup)"
	}
}

// log adds a fault to the run's schedule: n connections hit, -1 for every later one.
func (r *runner) log(what string, f scenarios.Fault, n int, d time.Duration) {
	hit := "every later connection"
	if n >= 0 {
		hit = fmt.Sprintf("%d connections", n)
	}
	s := fmt.Sprintf("%9.3fms %s on %s %s: %s", float64(time.Since(r.t0))/1e6, what, f.Client, cmp.Or(f.Channel, "online"), hit)
	if d > 0 {
		s += fmt.Sprintf(", for %v", d.Round(time.Microsecond))
	}
	r.faultLog = append(r.faultLog, s)
}

func (c *client) send(cmd Command, session int64) {
	c.waiting = append(c.waiting, pendingCmd{cmd.Cmd, session, c.r.now()})
	c.proc.send(cmd)
}

func (c *client) record(e checker.Event, session int64) {
	e.Node, e.Session = c.plan.Name, session
	c.r.record(e)
}

func (c *client) open() {
	mode, _ := reference.ParseMode(c.plan.Mode) // Validate checked it
	c.start(mode, c.plan.Seq, "")
}

// reopen resumes after an error where the simulator's application does (ClientPlan.Resume).
func (c *client) reopen() {
	if c.closed || c.live {
		return
	}
	mode, seq := c.plan.Resume(c.delivered, c.last)
	c.start(mode, seq, checker.OpenReopen)
}

func (c *client) start(mode reference.Mode, seq int64, why string) {
	c.r.session++
	c.session, c.opened, c.live, c.online = c.r.session, true, true, false
	t := c.r.now()
	if v := c.plan.RequestVersion; v != 0 {
		// The proxy corrupts every request of this client: the cause of the failure that
		// should follow, shown as the simulator shows it.
		c.r.record(checker.Event{T: t, Node: c.plan.Name, Kind: checker.EvFault, Name: scenarios.FaultMalformed, Reason: fmt.Sprintf("request version %d", v)})
	}
	if c.plan.Protocol == "old" && (mode == reference.ModeInitial || mode == reference.ModeLast) {
		// The old protocol cannot ask for initial or last: the plan's malformed input, which
		// the client refuses, shown as the simulator shows it.
		c.r.record(checker.Event{T: t, Node: c.plan.Name, Kind: checker.EvFault, Name: scenarios.FaultBadOpen, Reason: "mode " + mode.String() + " over the old protocol"})
	}
	hm, _ := checker.ParseMode(mode.String()) // the reference's modes and the history's have the same names
	c.record(checker.Event{T: t, Kind: checker.EvOpen, Mode: hm, ReqSeq: seq, Name: why}, c.session)
	c.send(Open(mode.String(), seq), c.session)
}

func (c *client) close() {
	if !c.opened || c.closed {
		return
	}
	c.closed = true
	if c.live {
		c.send(Close(), c.session)
	}
}

// handle takes one line of the client's driver.
func (c *client) handle(ev Event) {
	t := c.r.at(ev.T)
	switch ev.Ev {
	case EvOK, EvError:
		c.answer(ev, t)
		return
	case EvReady:
		c.r.fail("%s driver: ready twice", c.plan.Name)
		return
	}
	if c.current == 0 {
		c.r.fail("%s driver: %s before any open was answered", c.plan.Name, ev.Ev)
		return
	}
	switch ev.Ev {
	case EvData:
		c.delivered, c.last = true, *ev.Seq
		c.record(checker.Event{T: t, Kind: checker.EvDeliver, Seq: *ev.Seq, MsgID: *ev.MsgID, Sum: *ev.Sum}, c.current)
		if s := c.plan.CloseOnSeq; s != nil && *s == *ev.Seq {
			c.close()
		}
	case EvControl:
		c.record(checker.Event{T: t, Kind: checker.EvControl, Name: ev.Name, Seq: *ev.Seq}, c.current)
		if ev.Name == checker.CtlOnline {
			c.online, c.ackedLive = true, c.r.lastAcked
			c.backoff = 0
			c.fire("online")
		}
	case EvPhase:
		c.record(checker.Event{T: t, Kind: checker.EvPhase, Name: ev.Name, Seq: *ev.Seq}, c.current)
		c.fire(ev.Name)
	case EvState:
		st, _ := checker.ParseState(ev.State) // the driver protocol refuses any other state
		c.record(checker.Event{T: t, Kind: checker.EvState, State: st, Reason: ev.Reason}, c.current)
		c.state(st)
	}
}

// answer matches an ok or error with the oldest command awaiting one.
func (c *client) answer(ev Event, t int64) {
	if len(c.waiting) == 0 {
		c.r.fail("%s driver: an answer to no command", c.plan.Name)
		return
	}
	w := c.waiting[0]
	c.waiting = c.waiting[1:]
	c.r.canary.Answer = max(c.r.canary.Answer, time.Duration(t-w.sent))
	switch {
	case w.cmd == CmdOpen && ev.Ev == EvOK:
		c.current, c.ended = w.session, false
	case w.cmd == CmdOpen:
		// Refused: the session ends at once, as when the simulator's Open returns an error.
		c.current, c.ended, c.live = w.session, true, false
		c.record(checker.Event{T: t, Kind: checker.EvState, State: checker.StError, Reason: ev.Reason}, w.session)
	case ev.Ev == EvOK && !c.ended:
		// The ok's time is the moment the application closed.
		c.ended, c.live = true, false
		c.record(checker.Event{T: t, Kind: checker.EvClose}, w.session)
	}
}

func (c *client) state(s checker.State) {
	if s == checker.StActive {
		if c.plan.Mode == checker.ModeOnline.String() {
			c.backoff = 0 // online mode never reports Online: Active is its handover
			c.online, c.ackedLive = true, c.r.lastAcked
		}
		return
	}
	c.ended, c.live = true, false
	rp := c.plan.Reopen
	if s != checker.StError || rp == nil || c.closed || (rp.MaxReopens > 0 && c.reopens >= rp.MaxReopens) {
		return
	}
	c.reopens++
	c.backoff = max(c.r.m.d(rp.BackoffUs), 2*c.backoff)
	if rp.MaxBackoffUs > 0 {
		c.backoff = min(c.backoff, c.r.m.d(rp.MaxBackoffUs))
	}
	c.r.in(c.backoff, c.reopen)
}

// fire injects the faults aimed at phase, once each. Only drivers that report phases can
// have faults aimed at them.
func (c *client) fire(phase string) {
	kept := c.triggers[:0]
	for _, f := range c.triggers {
		if f.Trigger != phase {
			kept = append(kept, f)
			continue
		}
		c.r.in(c.r.m.d(f.DelayUs), func() { c.r.inject(f) })
	}
	c.triggers = kept
}

// action is something the run does at a time from plan time 0; n keeps actions due at the
// same time in the order they were scheduled.
type action struct {
	at time.Duration
	n  int
	fn func()
}

// actions is a min-heap of actions by time.
type actions struct {
	all  []action
	next int
}

func (q *actions) Len() int { return len(q.all) }
func (q *actions) Less(i, j int) bool {
	a, b := q.all[i], q.all[j]
	return a.at < b.at || a.at == b.at && a.n < b.n
}
func (q *actions) Swap(i, j int) { q.all[i], q.all[j] = q.all[j], q.all[i] }
func (q *actions) Push(x any)    { q.all = append(q.all, x.(action)) }
func (q *actions) Pop() any {
	a := q.all[len(q.all)-1]
	q.all = q.all[:len(q.all)-1]
	return a
}

func (o Options) check() error {
	if strings.TrimSpace(o.ServerCmd) == "" || strings.TrimSpace(o.ClientCmd) == "" {
		return errors.New("validate: a server command and a client command are both required")
	}
	if o.Net != "" && o.Net != "tcp" && o.Net != "unix" {
		return fmt.Errorf("validate: unknown net %q (want tcp or unix)", o.Net)
	}
	return nil
}
