package validate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/scenarios"
)

func refDrivers() Options {
	bin := ShellQuote(simrun)
	return Options{
		ServerCmd: bin + " driver server --online {online} --request {request}",
		ClientCmd: bin + " driver client --online {online} --request {request} --name {name}",
	}
}

func scenario(t *testing.T, name string) scenarios.Plan {
	t.Helper()
	s, ok := scenarios.Lookup(name)
	if !ok {
		t.Fatalf("no scenario %s", name)
	}
	return s.Build(1)
}

// In process, on Unix sockets: a stall through the proxy, a planned close, and the history
// the drivers report.
func TestRunOnUnixSockets(t *testing.T) {
	t.Parallel()
	opt := refDrivers()
	opt.Net, opt.Dir = "unix", t.TempDir()
	p := scenario(t, "test_slow_online")
	// A close well after the stall, which even a machine at load 20 has recovered from by then
	// (at 580 ms one such run had not yet had its Reply).
	p.DurationUs, p.Clients[0].CloseAtUs = 50000, 49000
	out, err := Run(context.Background(), p, 1, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Result.Violations) > 0 || out.Fresh.Verdict != checker.VerdictOK {
		t.Fatalf("violations %+v, fresh %s", out.Result.Violations, out.Fresh.Verdict)
	}
	var story []string
	for _, e := range out.History {
		switch e.Kind {
		case checker.EvDeliver:
			story = append(story, fmt.Sprint(e.Seq))
		case checker.EvFault:
			story = append(story, e.Name)
		case checker.EvState:
			story = append(story, e.State.String())
		case checker.EvOpen, checker.EvClose:
			story = append(story, e.Kind.String())
		}
	}
	// What TLL's test_slow_online expects (spec 5.1), where real timing allows: 70 comes
	// before or after the Online, and the stall starts wherever the handshake is by then.
	if !slices.Contains(story, "stall") {
		t.Fatalf("no stall fault recorded: %q", story)
	}
	got := strings.Join(slices.DeleteFunc(story, func(s string) bool { return s == "stall" }), " ")
	if want := "open Active 20 30 40 50 60 70 close"; got != want {
		t.Fatalf("history %q, want %q", got, want)
	}
	// On a loaded machine the client may connect after the stall's time: then the stall found
	// no connection, and the run says so.
	notes := slices.DeleteFunc(slices.Clone(out.Notes), func(n string) bool { return n == "stall on c1's online channel found no connection" })
	if out.Scale != maxScale || len(notes) != 0 {
		t.Fatalf("scale %v notes %q, want %d and none", out.Scale, out.Notes, maxScale)
	}
}

// shell writes a driver script that becomes ready and then runs rest.
func shell(rest string) string {
	return `printf '{"ev":"ready","t":%s}\n' "$(date +%s%N)"; ` + rest
}

func TestDriverFailuresAreErrors(t *testing.T) {
	t.Parallel()
	ref := refDrivers()
	for _, c := range []struct {
		name, server, client, want string
	}{
		{"server exits", shell("echo boom >&2; exit 3"), ref.ClientCmd, "server driver ended"},
		{"server never starts", "exec /no/such/driver", ref.ClientCmd, "server driver ended while the run started: exit status 127"},
		{"bad line", ref.ServerCmd, shell(`printf '{"ev":"data","t":5}\n'; exec cat >/dev/null`), `c1 driver: data needs "seq"`},
		{"not JSON", ref.ServerCmd, shell(`echo hello; exec cat >/dev/null`), "c1 driver: not a JSON object"},
		{"answer to nothing", ref.ServerCmd, shell(`printf '{"ev":"ok","t":5}\n'; exec cat >/dev/null`), "c1 driver: an answer to no command"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Run(context.Background(), scenario(t, "test_open_seq"), 1, Options{ServerCmd: c.server, ClientCmd: c.client})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// A driver that ignores the end of its input and SIGTERM, and has started a process of its
// own, is killed with everything it started.
func TestStubbornDriverIsKilled(t *testing.T) {
	t.Parallel()
	pids := filepath.Join(t.TempDir(), "pids")
	server := fmt.Sprintf(`trap '' TERM; sleep 60 & echo $! > %s; echo $$ >> %s; %s`, pids, pids, shell("wait; wait"))
	start := time.Now()
	// It never answers the posts either, which fails the run.
	if _, err := Run(context.Background(), scenario(t, "test_open_seq"), 1, Options{ServerCmd: server, ClientCmd: refDrivers().ClientCmd}); err == nil || !strings.Contains(err.Error(), "unanswered") {
		t.Fatalf("error %v, want the unanswered posts", err)
	}
	if d := time.Since(start); d > 3*exitGrace+5*time.Second {
		t.Errorf("the run took %v", d)
	}
	b, err := os.ReadFile(pids)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		if alive(pid) {
			t.Errorf("process %d is still running", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// alive reports whether pid runs: a zombie waiting for a parent that does not reap it does not.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || !strings.HasPrefix(string(stat[i+1:]), " Z")
}

func TestBadOptions(t *testing.T) {
	p := scenario(t, "test_open_seq")
	for _, o := range []Options{{}, {ServerCmd: "x"}, {ServerCmd: "x", ClientCmd: "y", Net: "ipx"}} {
		if _, err := Run(context.Background(), p, 1, o); err == nil {
			t.Errorf("Run with %+v: no error", o)
		}
	}
	p.DurationUs = 0
	if _, err := Run(context.Background(), p, 1, refDrivers()); err == nil {
		t.Error("Run with an invalid plan: no error")
	}
}

func TestCampaignReportsPerScenario(t *testing.T) {
	t.Parallel()
	c := Campaign{Scenarios: []scenarios.Scenario{mustLookup(t, "test_open_last"), mustLookup(t, "seq_on_empty")}, FirstSeed: 3, Seeds: 2, Parallel: 2, Options: refDrivers(), Keep: 1}
	reps := c.Run(context.Background())
	if len(reps) != 2 {
		t.Fatalf("%d reports, want 2", len(reps))
	}
	for i, r := range reps {
		if r.Scenario != c.Scenarios[i].Name || r.Runs != 2 || r.Violations != 0 || len(r.Failures) != 0 || r.Wall <= 0 {
			t.Errorf("report %+v, want 2 clean runs of %s", r, c.Scenarios[i].Name)
		}
	}
	if reps[0].Delivered < 2 {
		t.Errorf("%s delivered %d, want at least the last message in each run", reps[0].Scenario, reps[0].Delivered)
	}
}

func mustLookup(t *testing.T, name string) scenarios.Scenario {
	s, ok := scenarios.Lookup(name)
	if !ok {
		t.Fatalf("no scenario %s", name)
	}
	return s
}

// A server that exits before it is ready, as one whose port was taken would, is started
// again on new ports.
func TestServerStartedAgain(t *testing.T) {
	t.Parallel()
	flag := filepath.Join(t.TempDir(), "tried")
	opt := refDrivers()
	opt.ServerCmd = fmt.Sprintf(`if [ -e %s ]; then exec %s; fi; touch %s; echo "address already in use" >&2; exit 1`, flag, opt.ServerCmd, flag)
	out, err := Run(context.Background(), scenario(t, "test_open_last"), 1, opt)
	if err != nil || len(out.Result.Violations) > 0 || out.Result.Delivered < 1 {
		t.Fatalf("error %v, violations %+v, %d delivered", err, out.Result.Violations, out.Result.Delivered)
	}
}

// A server driver that becomes ready and then never answers must not pass with nothing
// delivered and nothing violated: the post it left unanswered fails the run by name.
func TestSleepingServerDriverFails(t *testing.T) {
	t.Parallel()
	_, err := Run(context.Background(), scenario(t, "test_open_seq"), 1, Options{ServerCmd: shell("while read -r l; do :; done"), ClientCmd: refDrivers().ClientCmd})
	if err == nil || !strings.Contains(err.Error(), "server driver left post seq 10 unanswered") {
		t.Fatalf("error %v, want the server driver's unanswered post", err)
	}
}

// A client driver that answers its commands but stops delivering halfway, behind a server slow
// enough that the last posts are acknowledged after the plan's end, is judged: the run waits
// for what is owed instead of stopping at the end with nothing due yet.
func TestClientStoppingHalfwayFails(t *testing.T) {
	t.Parallel()
	opt := refDrivers()
	opt.ServerCmd = `{ while IFS= read -r l; do case $l in *'"seq":'[4-7]0,*) sleep 0.3 ;; esac; printf '%s\n' "$l"; done; } | ` + opt.ServerCmd
	// Nothing after the delivery of 50 gets through but the commands' answers.
	opt.ClientCmd += ` | { stuck=; while IFS= read -r l; do
		case $l in *'"ev":"ok"'*|*'"ev":"error"'*|*'"ev":"ready"'*) ;; *) [ -n "$stuck" ] && continue ;; esac
		printf '%s\n' "$l"; case $l in *'"ev":"data"'*'"seq":50,'*) stuck=1 ;; esac
	done; }`
	out, err := Run(context.Background(), scenario(t, "test_overlapped"), 1, opt)
	if err != nil {
		t.Fatal(err)
	}
	if out.Verdict == Pass || !hasProperty(out.Result.Violations, checker.PropLiveness) {
		t.Fatalf("verdict %v, violations %+v; want a liveness violation", out.Verdict, out.Result.Violations)
	}
}

func hasProperty(vs []checker.Violation, prop string) bool {
	return slices.ContainsFunc(vs, func(v checker.Violation) bool { return v.Property == prop })
}

// A client that fails with no cause after Online, on calm links, as TLL's does on a late online
// copy (P3), owes the posts after its failure: on calm links an Error with no fault before it
// does not end that duty, and progress wants a cause for it.
func TestClientFailingAfterOnlineOnCalmLinksFails(t *testing.T) {
	t.Parallel()
	opt := refDrivers()
	// The driver's Online is followed by an Error, and nothing of the session after it.
	opt.ClientCmd += ` | { failed=; while IFS= read -r l; do
		case $l in *'"ev":"ok"'*|*'"ev":"error"'*|*'"ev":"ready"'*) ;; *) [ -n "$failed" ] && continue ;; esac
		printf '%s\n' "$l"
		case $l in *'"name":"Online"'*) failed=1; printf '{"ev":"state","t":%s,"state":"Error","reason":"seq in the past"}\n' "$(date +%s%N)" ;; esac
	done; }`
	// A post long after the Online, which a loaded machine's shell has written its Error by.
	p := scenario(t, "test_overlapped")
	p.DurationUs = 50000
	p.Posts = append(p.Posts, scenarios.Post{AtUs: 40000, Seq: 80, SizeBytes: 16})
	out, err := Run(context.Background(), p, 1, opt)
	if err != nil {
		t.Fatal(err)
	}
	// A machine slow enough to post after the open can make the open's failure one the history
	// documents (a seq beyond the server's last), and leaves liveness alone, which such a
	// machine cannot judge: inconclusive, and only with figures that show it too slow.
	if out.Verdict == Inconclusive && out.Canary.TooSlow() && hasProperty(out.Result.Violations, checker.PropLiveness) {
		t.Logf("inconclusive on a machine that ran late: %v", out.Canary)
		return
	}
	if out.Verdict != Fail || !hasProperty(out.Result.Violations, checker.PropLiveness) || !hasProperty(out.Result.Violations, checker.PropProgress) {
		t.Fatalf("verdict %v, violations %+v, machine %v; want liveness and progress", out.Verdict, out.Result.Violations, out.Canary)
	}
}

// evictionRace is reply_race_overflow with room for real time: the request reaches the server
// (at 31.4 ms of plan time: a 1 ms open, two round trips of the online link, one of the request
// link to connect and its latency) 6 ms before a burst of posts whose online copies reach the
// client 4 ms before the Reply, and overflow its 1 KiB buffer on the nothing-to-fetch path. At
// the run's scale of 20 the request may come 120 ms late, where the catalogue's allows 2 ms.
func evictionRace() scenarios.Plan {
	// Its handshake takes 41 ms of plan time, 820 ms of real time.
	p := scenarios.Plan{Name: "eviction_race", DurationUs: 50000, LivenessBoundUs: 60000}
	p.Net.Online = scenarios.Link{LatencyUs: 100}
	p.Net.Request = scenarios.Link{LatencyUs: 10000}
	for s := range int64(10) {
		p.Posts = append(p.Posts, scenarios.Post{Seq: s, SizeBytes: 16})
	}
	for s := int64(10); s < 30; s++ {
		p.Posts = append(p.Posts, scenarios.Post{AtUs: 37400 + s, Seq: s, SizeBytes: 100})
	}
	p.Posts = append(p.Posts, scenarios.Post{AtUs: 45000, Seq: 30, SizeBytes: 16})
	p.Clients = []scenarios.ClientPlan{{Name: "c1", OpenAtUs: 1000, Mode: "seq", Seq: 10, BufferBytes: 1024}}
	return p
}

// A client that goes live on the nothing-to-fetch path though its buffer evicted messages
// (TLL P4) is caught in real time once the proxies make the handshake as slow as the plan
// says; the reference passes the same plan. A machine too slow for even this window gets up to
// five runs to reach the race; one that misses it every time must have been measured too slow.
func TestSilentEvictionIsCaught(t *testing.T) {
	t.Parallel()
	race := slices.IndexFunc(scenarios.Situations(), func(s scenarios.Situation) bool { return s.Name == "live-overtakes-reply" })
	for _, impl := range []string{"reference", "mutant:silent-eviction"} {
		t.Run(impl, func(t *testing.T) {
			t.Parallel()
			opt := refDrivers()
			opt.ClientCmd += " --impl " + impl
			for seed := range uint64(5) {
				out, err := Run(context.Background(), evictionRace(), seed, opt)
				if err != nil {
					t.Fatal(err)
				}
				if out.Verdict == Fail && impl == "reference" {
					t.Fatalf("seed %d: the reference failed: %+v", seed, out.Result.Violations)
				}
				if out.Coverage[race] == 0 {
					if !out.Canary.TooSlow() {
						t.Fatalf("seed %d did not reach the race on a machine that kept time (%v)", seed, out.Canary)
					}
					t.Logf("seed %d did not reach the race: the machine ran late (%v)", seed, out.Canary)
					continue
				}
				if impl == "reference" && out.Verdict != Pass || impl != "reference" && out.Verdict != Fail {
					t.Fatalf("verdict %v, violations %+v", out.Verdict, out.Result.Violations)
				}
				return
			}
			t.Log("no run reached live-overtakes-reply: the machine was too slow every time")
		})
	}
}

// An initial open over the old protocol, which cannot express it, is the plan's malformed
// input: the reference refuses it loudly, and progress finds the cause in the history.
func TestOldProtocolInitialIsMalformedInput(t *testing.T) {
	t.Parallel()
	p := scenario(t, "test_open_initial")
	p.Clients[0].Protocol = "old"
	out, err := Run(context.Background(), p, 1, refDrivers())
	if err != nil {
		t.Fatal(err)
	}
	if out.Verdict == Fail || !slices.ContainsFunc(out.History, func(e checker.Event) bool { return e.Kind == checker.EvState && e.State == checker.StError }) {
		t.Fatalf("verdict %v, violations %+v; want the refusal judged as caused", out.Verdict, out.Result.Violations)
	}
}
