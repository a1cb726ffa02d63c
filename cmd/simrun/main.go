// Command simrun runs stream+ simulation campaigns against the reference implementation,
// replays single runs bit for bit, and lists what the harness knows.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/reports"
	"github.com/streamsim/streamsim/scenarios"
)

// commands are simrun's verbs in the order help lists them. Each carries its own help text, so
// adding a command is one entry here: `simrun help NAME` and `simrun NAME -h` print that text
// and the command's flags, and `simrun help` lists the summaries.
var commands = []command{
	{name: "run", summary: "play scenarios over many seeds and check every history", help: `Usage:
  simrun run (--scenario NAME | --all) [--seeds N] [--seed S] [--parallel P] [--impl IMPL]
             [--shard I/N] [--no-shrink] [--out DIR]
  simrun run --corpus DIR [--impl IMPL]

Plays each scenario over seeds S..S+N-1 (defaults: S=1, N=100; --seed S alone runs that one
seed) and checks every history. It prints, per scenario, the seeds run and how many failed,
the violations found, messages delivered, wall time, simulated messages delivered per
wall-clock second and a campaign hash, then the failures grouped by scenario, property and
message, each group with its count and its first seed's replay command. The first failing
seeds of each scenario are shrunk to a minimal plan (size before and after shown) unless
--no-shrink. On a terminal a status line shows progress and the time left; Ctrl-C stops after
the seeds in flight and still prints (and with --out writes, marked partial) what finished.

--shard I/N runs the I-th of N deterministic shares of the seeds (seed index mod N = I-1), so
N machines running shards 1/N..N/N together run the whole campaign.

With --out DIR each run makes its own directory DIR/<UTC time>-<impl>/, and DIR/latest
points at the newest. It holds index.html (open it in a browser, or simrun browse DIR):
the scenario table, which boundary situations each scenario reached, latency distributions
and links to every failure report; summary.md; results.json (mergeable across shards with
simrun merge); for the first failing seeds of each failure group a directory
failures/<scenario>-<seed>-<impl>/ with plan.json (replayable: simrun replay --plan),
history.jsonl (a window around the violation) and report.html; and each shrunk failure as
corpus/<scenario>-<seed>.json, ready for a regression corpus.

With --corpus DIR it replays every saved plan in DIR with its own seed instead; a plan naming
mutants in "kills" must also fail against them.

Seeds are streamed to the workers, so memory does not grow with N; each scenario keeps its 100
lowest failing seeds (every one is counted).
`, run: func(args []string, _ io.Reader, stdout, stderr io.Writer) (int, error) {
		return cmdRun(args, stdout, stderr)
	}},

	{name: "replay", summary: "play one seed or plan file and print its event trace", help: `Usage:
  simrun replay (--scenario NAME --seed S | --plan PLAN.json [--seed S]) [--impl IMPL]
                [--history FILE] [--trace]

Runs one scenario (or a saved plan file) with one seed and prints its history, one numbered
event a line, numbered as report.html numbers them; then each violation with the number of
its event, and a final line with the counts and the trace hash. The same arguments always
print the same output. --trace prints the simulator's own trace instead, network steps
(dial, accept, recv) included. --history FILE also writes the run's history as JSON Lines
(simrun check reads it).
`, run: func(args []string, _ io.Reader, stdout, _ io.Writer) (int, error) { return cmdReplay(args, stdout) }},

	{name: "shrink", summary: "minimise a failing plan", help: `Usage:
  simrun shrink PLAN.json [--seed S] [--impl IMPL] [--max-runs N] [--out FILE]

Minimises a failing plan, keeping the property it violates: fewer posts, clients and faults,
shorter delays, smaller seqs. Prints the size (posts + opens + faults) before and after and
the violation that remains, and writes the minimal plan to FILE (default: PLAN.min.json).
Deterministic: bounded by --max-runs, not by time.
`, run: func(args []string, _ io.Reader, stdout, _ io.Writer) (int, error) { return cmdShrink(args, stdout) }},

	{name: "check", summary: "judge a recorded history file", help: `Usage:
  simrun check HISTORY.jsonl [--bound-us N] [--handshake-us N] [--lossy]

Judges any recorded history (JSON Lines, format in README) with the same checker as a run,
liveness and progress included: exit 0 when it holds, 1 with the violations listed, 2 when the
file is malformed (the line is named). Liveness uses --bound-us (default 100000, as plans do);
progress excuses an Error that came --handshake-us or more after its open with no Active
(default 5000000, the reference client's handshake timeout). --lossy says the links could lose
data or drop a connection by themselves: then only the duty to reach Online or end is judged,
and no Error needs a cause.
`, run: func(args []string, _ io.Reader, stdout, _ io.Writer) (int, error) { return cmdCheck(args, stdout) }},

	{name: "report", summary: "write report.html for a plan file or any history file", help: `Usage:
  simrun report PLAN.json [--seed S] [--impl IMPL] [--out DIR]
  simrun report HISTORY.jsonl [--impl NAME] [--out DIR] [--bound-us N] [--handshake-us N] [--lossy]

Writes the report a campaign writes for a failing seed (plan.json, history.jsonl and
report.html with porcupine's view) to DIR/failures/<name>-<seed>-<impl>/: for a plan file,
such as a shrunk failure or a fuzz finding, by running it; for a history file (one ending in
.jsonl), such as another implementation's recording, by judging it as simrun check does
(with check's flags).
Exit 0 when nothing is violated, 1 when something is, 2 for bad input.
`, run: func(args []string, _ io.Reader, stdout, _ io.Writer) (int, error) { return cmdReport(args, stdout) }},

	{name: "merge", summary: "combine the results of several campaigns or shards", help: `Usage:
  simrun merge DIR|results.json ... [--out DIR]

Combines the results.json of several campaigns or shards into one summary, refusing
overlapping seeds; with --out it writes the merged summary.md and results.json.
`, run: func(args []string, _ io.Reader, stdout, _ io.Writer) (int, error) { return cmdMerge(args, stdout) }},

	{name: "list", summary: "name scenarios, mutants, properties, faults, failpoints, situations", help: `Usage:
  simrun list scenarios | mutants | properties | faults | failpoints | situations

Names the catalogue scenarios, planted bugs (mutants), checked properties, faults, protocol
failpoints plans may arm, or the boundary situations run counts.
`, run: func(args []string, _ io.Reader, stdout, _ io.Writer) (int, error) { return cmdList(args, stdout) }},

	{name: "mutants", summary: "run the kill matrix: every planted bug must be caught", help: `Usage:
  simrun mutants [--seeds N] [--parallel P] [--no-shrink] [--out DIR]

Runs the kill matrix: the catalogue, seed by seed (run i plays scenario i mod S of the S in
catalogue order, with seed 1 + i div S), against the reference and every mutant, at most N
runs each (default 10000), each mutant until its first kill. Prints per mutant the property
violated, the runs until the kill, the wall time and the shrunk counterexample's size; --out
DIR writes DIR/mutants.md and the counterexamples in DIR/corpus. Exit 0 only if every mutant
dies and the reference passes every run.
`, run: func(args []string, _ io.Reader, stdout, stderr io.Writer) (int, error) {
		return cmdMutants(args, stdout, stderr)
	}},

	{name: "serve", summary: "the reference server on real sockets", help: `Usage:
  simrun serve --online ADDR --request ADDR [--storage DIR [--durable]] [--max-size B]
               [--feed N [--rate R] [--size B]]

The reference server on real sockets, posting "seq msgid payload" lines from standard input,
or a generated feed. ADDR is HOST:PORT or a Unix socket path. --storage DIR keeps messages in
files (recovery logs what it cut); --durable syncs them before each post is acknowledged, else
they are synced at exit only, as TLL's file storage does. --max-size B is the largest message
body (default 262128, what a default TLL client takes; at most 64 MiB).
`, run: cmdServe},

	{name: "subscribe", summary: "one reference client session on real sockets", help: `Usage:
  simrun subscribe --online ADDR --request ADDR --mode MODE [--seq S] [--name N]
                   [--protocol new|old] [--max-size B] [--buffer B]

The reference client on real sockets, writing its history (JSON Lines) to standard output.
ADDR is HOST:PORT or a Unix socket path. --max-size B is the largest body it takes (default
262128); it buffers 4 x that of live data during history unless --buffer says otherwise.
`, run: func(args []string, _ io.Reader, stdout, _ io.Writer) (int, error) { return cmdSubscribe(args, stdout) }},

	{name: "driver", summary: "the reference behind the driver protocol", help: `Usage:
  simrun driver client|server --online ADDR --request ADDR [--storage DIR [--durable]]
                [--max-size B] [--impl IMPL]

The reference client or server behind the driver protocol (README, "The driver protocol"), as
simrun validate starts them. 'simrun driver client -h' and 'simrun driver server -h' list the
flags of each. The server driver syncs before acknowledging when the plan's server is durable
(or with --durable).
`, run: func(args []string, stdin io.Reader, stdout, _ io.Writer) (int, error) {
		return cmdDriver(args, stdin, stdout)
	}},

	{name: "validate", summary: "play scenarios in real time against other implementations", help: `Usage:
  simrun validate --server-cmd CMD --client-cmd CMD (--scenario NAME,... | --all | --plan FILE)
                  [--seeds N] [--seed S] [--parallel P] [--net tcp|unix] [--impl NAME] [--out DIR]

Plays scenarios (or a failure report's plan.json) in real time against driver commands, every
connection through a fault proxy, and judges them as run does (README, "The driver protocol").
A run whose only violations rest on timing, on a machine measured running late, is
inconclusive rather than failed. It prints latency figures (open to Online, post to delivery:
p50, p99, max), the coverage matrix beside the simulator's, and per failing run its fault
schedule and rerun command. Exit 0 all passed, 1 a run failed, 2 bad usage, 3 none failed
but some were inconclusive.
`, run: func(args []string, _ io.Reader, stdout, stderr io.Writer) (int, error) {
		return cmdValidate(args, stdout, stderr)
	}},

	{name: "store", summary: "verify or repair a file store directory", help: `Usage:
  simrun store verify DIR
  simrun store repair DIR

verify says what the file store in DIR holds, segment by segment, and whether it is intact:
exit 0 when the server opens it (naming what a crash left that opening cuts), 1 when it is
damaged (the file, offset and what is wrong; the server refuses it). repair is the one way to
cut a damaged store back to its last intact record: it prints what it removed, then verifies.
`, run: func(args []string, _ io.Reader, stdout, _ io.Writer) (int, error) { return cmdStore(args, stdout) }},

	{name: "browse", summary: "serve a results directory to a browser on localhost", help: `Usage:
  simrun browse DIR [--addr HOST:PORT]

Serves DIR (what run --out or mutants --out wrote) read-only over HTTP on localhost, for
people who prefer a browser to files; / opens the latest run's index.html. Prints the URL
and serves until Ctrl-C.
`, run: func(args []string, _ io.Reader, stdout, _ io.Writer) (int, error) { return cmdBrowse(args, stdout) }},

	{name: "version", summary: "print simrun's version and the Go version it was built with", help: `Usage:
  simrun version      (or simrun --version)

Prints the module version and VCS revision simrun was built from, the Go version and
platform, and whether protocol failpoints are compiled in.
`, run: func(args []string, _ io.Reader, stdout, _ io.Writer) (int, error) { return cmdVersion(args, stdout) }},
}

func main() {
	tuneGC()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// A campaign's live heap is a few MB, so at the default GOGC the collector runs at its floor,
// hundreds of times a second, for about 30% of the time; 400 makes a campaign 2 to 2.6 times
// faster for tens of MB. A single huge run's heap is what it records, so there the soft limit
// takes over and collects well before 5 times it. GOGC and GOMEMLIMIT in the environment win.
const (
	gcPercent   = 400
	gcSoftLimit = 2 << 30
)

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(gcSoftLimit)
	}
}

// errUsage marks errors that are the caller's to fix; they exit 2.
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

func usagef(format string, args ...any) error { return errUsage{fmt.Sprintf(format, args...)} }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printCommands(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) == 1 || name != "help" {
			printCommands(stdout)
			return 0
		}
		if len(args) > 2 {
			fmt.Fprintf(stderr, "simrun: help takes one command, got %q\n", strings.Join(args[1:], " "))
			return 2
		}
		// Help on a command is its own -h, so both print the same thing.
		return run([]string{args[1], "-h"}, stdout, stderr)
	case "-version", "--version":
		name = "version"
	}
	i := slices.IndexFunc(commands, func(c command) bool { return c.name == name })
	if i < 0 {
		fmt.Fprintf(stderr, "simrun: unknown command %q (see 'simrun help')\n", name)
		return 2
	}
	c := commands[i]
	code, err := c.run(args[1:], os.Stdin, stdout, stderr)
	var h helpRequest
	switch {
	case errors.As(err, &h):
		c.printHelp(stdout, h.fs)
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "simrun: %v\n", err)
		var u errUsage
		if errors.As(err, &u) {
			return 2
		}
		return 1
	}
	return code
}

func parseShard(s string) (shard, shards int, err error) {
	if s == "" {
		return 0, 0, nil
	}
	if _, err := fmt.Sscanf(s, "%d/%d", &shard, &shards); err != nil || shards < 1 || shard < 1 || shard > shards || fmt.Sprintf("%d/%d", shard, shards) != s {
		return 0, 0, usagef("--shard wants I/N with 1 ≤ I ≤ N, got %q", s)
	}
	return shard, shards, nil
}

func parseImpl(s string) (reference.Bugs, error) {
	if s == "reference" {
		return 0, nil
	}
	if name, ok := strings.CutPrefix(s, "mutant:"); ok {
		if m, ok := reference.MutantByName(name); ok {
			return m.Bug, nil
		}
		return 0, usagef("unknown mutant %q (see 'simrun list mutants')", name)
	}
	return 0, usagef("unknown --impl %q (want reference or mutant:NAME)", s)
}

func lookup(name string) (scenarios.Scenario, error) {
	if name == "" {
		return scenarios.Scenario{}, usagef("--scenario is required")
	}
	s, ok := scenarios.Lookup(name)
	if !ok {
		return s, usagef("unknown scenario %q (see 'simrun list scenarios')", name)
	}
	return s, nil
}

func cmdRun(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flags("run")
	name := fs.String("scenario", "", "scenario to run")
	all := fs.Bool("all", false, "run every catalogue scenario")
	seeds := fs.Int("seeds", 100, "seeds per scenario")
	seed := fs.Int64("seed", 1, "first seed")
	parallel := fs.Int("parallel", 0, "seeds run at once (default: one per CPU)")
	impl := fs.String("impl", "reference", "implementation: reference or mutant:NAME")
	noShrink := fs.Bool("no-shrink", false, "do not shrink failing seeds")
	corpus := fs.String("corpus", "", "replay the saved plans in this directory")
	outDir := fs.String("out", "", "directory for saved failing plans")
	shardFlag := fs.String("shard", "", "I/N: run the I-th of N shares of the seeds")
	if err := parse(fs, args); err != nil {
		return 2, err
	}
	if *corpus != "" {
		if *all || *name != "" {
			return 2, usagef("--corpus replaces --scenario and --all")
		}
		return runCorpus(*corpus, *impl, stdout)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["seed"] && !set["seeds"] {
		*seeds = 1
	}
	switch {
	case *seeds < 1:
		return 2, usagef("--seeds must be at least 1, got %d", *seeds)
	case *seed < 0:
		return 2, usagef("--seed must not be negative, got %d", *seed)
	case *parallel < 0:
		return 2, usagef("--parallel must not be negative, got %d", *parallel)
	case *all == (*name != ""):
		return 2, usagef("give exactly one of --scenario NAME or --all")
	}
	bugs, err := parseImpl(*impl)
	if err != nil {
		return 2, err
	}
	shard, shards, err := parseShard(*shardFlag)
	if err != nil {
		return 2, err
	}
	list := scenarios.Catalogue()
	if !*all {
		s, err := lookup(*name)
		if err != nil {
			return 2, err
		}
		list = []scenarios.Scenario{s}
	}
	start := time.Now()
	runDir := ""
	if *outDir != "" {
		if runDir, err = reports.NewRunDir(*outDir, *impl, start); err != nil {
			return 1, err
		}
	}
	stop, release := interruptible()
	defer release()

	totalSeeds := 0
	for range list {
		totalSeeds += reports.SeedRange{Seeds: *seeds, Shard: shard, Shards: shards}.Count()
	}
	st := newStatus(stderr, start, len(list), totalSeeds)
	tbl := newRunTable(stdout, list)
	var lat latencies
	var total scenarios.Report
	var summary reports.Summary
	var covs []scenarios.Coverage
	byName := map[string]scenarios.Scenario{}
	for i, s := range list {
		c := scenarios.Campaign{Scenario: s, FirstSeed: uint64(*seed), Seeds: *seeds, Parallel: *parallel, Shard: shard, Shards: shards,
			Options: scenarios.Options{Bugs: bugs}, Stop: stop, Observe: lat.observe}
		c.Progress = func(done, failed int) { st.show(i, s.Name, done, failed) }
		rep := c.Run()
		st.finish(rep)
		if rep.Seeds == 0 {
			break // stopped before this scenario ran a seed
		}
		tbl.row(rep)
		total.Coverage.Add(rep.Coverage)
		total.Seeds += rep.Seeds
		total.Violations += rep.Violations
		total.Delivered += rep.Delivered
		total.Wall += rep.Wall
		total.Failed += rep.Failed
		total.SimNs += rep.SimNs
		total.Stopped = total.Stopped || rep.Stopped
		byName[s.Name] = s
		row, fails := results(rep, c, *impl)
		summary.Scenarios = append(summary.Scenarios, row)
		summary.Failures = append(summary.Failures, fails...)
		covs = append(covs, rep.Coverage)
		if rep.Stopped {
			break
		}
	}
	summary.Partial = total.Stopped || len(summary.Scenarios) < len(list)
	tbl.total(total)
	fmt.Fprintln(stdout)
	coverageMatrix(stdout, total.Coverage, nil)

	groups := reports.Group(summary.Failures)
	links := map[string]string{} // failure → its report directory, relative to the run directory
	if len(groups) > 0 {
		fmt.Fprintf(stdout, "\nfailures: %d failing seeds in %d groups (same scenario, property and message; N is any number)\n", len(summary.Failures), len(groups))
	}
	shrunk := map[string]int{}
	for _, g := range groups {
		s := byName[g.Scenario]
		fmt.Fprintf(stdout, "  %s  %s  %d seeds  %q\n", g.Scenario, g.Property, g.Seeds, g.Pattern)
		fmt.Fprintf(stdout, "    seed %d: %s\n", g.First.Seed, g.Example())
		fmt.Fprintf(stdout, "    %s\n", g.Replay())
		if !*noShrink && !summary.Partial && g.First.Error == "" && shrunk[g.Scenario] < shrinkPerScenario {
			shrunk[g.Scenario]++
			fmt.Fprint(stdout, shrinkLine(s, g.First.Seed, *impl, scenarios.Options{Bugs: bugs}, runDir))
		}
	}
	last := verdict(summary, time.Since(start))
	if runDir != "" {
		// Reports for the first seed of every group, then more failing seeds per scenario
		// up to the bound, so a page opens on each kind of failure.
		perScenario := map[string]int{}
		var want []reports.FailureResult
		for _, g := range groups {
			want = append(want, g.First)
		}
		want = append(want, summary.Failures...)
		for _, f := range want {
			key := reports.LinkKey(f.Scenario, f.Seed)
			if _, done := links[key]; done || perScenario[f.Scenario] >= reportsPerScenario {
				continue
			}
			perScenario[f.Scenario]++
			path, err := writeFailureReport(runDir, byName[f.Scenario], f.Seed, *impl, scenarios.Options{Bugs: bugs})
			if err != nil {
				fmt.Fprintf(stdout, "  report of %s seed %d: %v\n", f.Scenario, f.Seed, err)
				continue
			}
			links[key], _ = filepath.Rel(runDir, path)
		}
		if err := reports.WriteSummary(runDir, summary); err != nil {
			return 1, err
		}
		idx := reports.Index{Title: "simrun run", Impl: *impl, Started: start.UTC(), Verdict: last, Summary: summary, Groups: groups, Links: links,
			Latency: lat.total(), Situations: situationNames()}
		for i, row := range summary.Scenarios {
			idx.Coverage = append(idx.Coverage, reports.CoverageRow{Scenario: row.Scenario, Runs: row.Seeds(), Counts: covs[i]})
		}
		if err := reports.WriteIndex(runDir, idx); err != nil {
			return 1, err
		}
		fmt.Fprintf(stdout, "\nwrote %s: index.html (open it in a browser, or simrun browse %s), summary.md, results.json, %d failure reports\n", runDir, *outDir, len(links))
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, last)
	switch {
	case total.Violations > 0:
		return 1, nil
	case summary.Partial:
		return exitInterrupted, nil
	}
	return 0, nil
}

func runCorpus(dir, impl string, stdout io.Writer) (int, error) {
	bugs, err := parseImpl(impl)
	if err != nil {
		return 2, err
	}
	entries, err := scenarios.LoadCorpus(dir)
	if err != nil {
		return 2, usagef("corpus: %v", err)
	}
	start := time.Now()
	failed, delivered := 0, int64(0)
	for _, e := range entries {
		out, err := scenarios.RunSafely(e.Plan, e.Plan.Seed, scenarios.Options{Bugs: bugs})
		switch {
		case err != nil:
			failed++
			fmt.Fprintf(stdout, "FAIL %s: %v\n", e.Path, err)
		case len(out.Result.Violations) > 0:
			failed++
			v := out.Result.Violations[0]
			fmt.Fprintf(stdout, "FAIL %s: %s on %s session %d: %s\n", e.Path, v.Property, v.Node, v.Session, v.Message)
		}
		delivered += out.Delivered
	}
	fmt.Fprintf(stdout, "corpus %s: %d plans, %d failing, %d delivered, %s, impl %s\n", dir, len(entries), failed, delivered, time.Since(start).Round(time.Millisecond), impl)
	if failed > 0 {
		return 1, nil
	}
	return 0, nil
}

// loadPlan reads a plan file for replay, shrink and report; a negative seed (none given)
// becomes the plan's own.
func loadPlan(path string, seed *int64) (scenarios.Plan, error) {
	plan, err := scenarios.Load(path)
	if err == nil && *seed < 0 {
		*seed = int64(plan.Seed)
	}
	return plan, err
}

// shrinkPerScenario is how many failing seeds of a scenario a campaign shrinks: the first few
// show the bug; the rest are usually the same bug again.
const shrinkPerScenario = 3

// shrinkLine shrinks one failing seed and, with an output directory, saves the minimal plan
// into its corpus, noting the mutant it kills.
func shrinkLine(s scenarios.Scenario, seed uint64, impl string, opt scenarios.Options, outDir string) string {
	res, err := scenarios.Shrink(s.Build(seed), seed, opt, 0)
	if err != nil {
		return fmt.Sprintf("    shrink: %v\n", err)
	}
	line := fmt.Sprintf("    shrunk: %d → %d events (posts + opens + faults) in %d runs, still %s", res.BeforeSize, res.AfterSize, res.Runs, res.Violation.Property)
	if outDir == "" {
		return line + "\n"
	}
	if m, ok := strings.CutPrefix(impl, "mutant:"); ok {
		res.Plan.Kills = []string{m}
	}
	path, err := scenarios.SaveToCorpus(filepath.Join(outDir, "corpus"), res.Plan, seed)
	if err != nil {
		return line + fmt.Sprintf("; save: %v\n", err)
	}
	return line + ": " + path + "\n"
}

func cmdReplay(args []string, stdout io.Writer) (int, error) {
	fs := flags("replay")
	name := fs.String("scenario", "", "scenario to replay")
	planFile := fs.String("plan", "", "plan file to replay")
	histFile := fs.String("history", "", "write the run's history (JSON Lines) here")
	seed := fs.Int64("seed", -1, "seed to replay")
	impl := fs.String("impl", "reference", "implementation: reference or mutant:NAME")
	trace := fs.Bool("trace", false, "print the simulator's trace, network steps included, instead of the history")
	if err := parse(fs, args); err != nil {
		return 2, err
	}
	bugs, err := parseImpl(*impl)
	if err != nil {
		return 2, err
	}
	var plan scenarios.Plan
	switch {
	case (*name == "") == (*planFile == ""):
		return 2, usagef("give exactly one of --scenario NAME or --plan FILE")
	case *planFile != "":
		if plan, err = loadPlan(*planFile, seed); err != nil {
			return 2, usagef("%v", err)
		}
	case *seed < 0:
		return 2, usagef("--seed S is required with --scenario (S ≥ 0)")
	default:
		s, err := lookup(*name)
		if err != nil {
			return 2, err
		}
		plan = s.Build(uint64(*seed))
	}
	opt := scenarios.Options{Bugs: bugs}
	if *trace {
		opt.Trace = stdout
	}
	out, err := scenarios.RunSafely(plan, uint64(*seed), opt)
	if err != nil {
		return 1, err
	}
	if !*trace {
		printHistory(stdout, plan.Name, uint64(*seed), *impl, out.History)
	}
	if *histFile != "" {
		if err := writeHistory(*histFile, out.History); err != nil {
			return 1, err
		}
	}
	for _, v := range out.Result.Violations {
		fmt.Fprintf(stdout, "violation %s on %s session %d at event %d: %s\n", v.Property, v.Node, v.Session, v.Index, v.Message)
	}
	fmt.Fprintf(stdout, "scenario %s seed %d: %d events, %d simulator steps, %d delivered, %d violations, hash %016x\n",
		plan.Name, *seed, len(out.History), out.Events, out.Delivered, len(out.Result.Violations), out.Hash)
	if len(out.Result.Violations) > 0 {
		return 1, nil
	}
	return 0, nil
}

// printHistory prints a run's history numbered and laid out as report.html's events table,
// so a violation's "event N" is the same line in both.
func printHistory(w io.Writer, name string, seed uint64, impl string, h checker.History) {
	fmt.Fprintf(w, "scenario %s seed %d, %s: %d events (report.html numbers them alike; --trace shows network steps too)\n", name, seed, impl, len(h))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "#\tt\tnode\tsession\tkind\tseq\tdetails\n")
	for i, e := range h {
		f := reports.Fields(e)
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", i, f.T, f.Node, f.Session, f.Kind, f.Seq, f.Detail)
	}
	tw.Flush()
}

func cmdShrink(args []string, stdout io.Writer) (int, error) {
	pos, args := leading(args)
	fs := flags("shrink")
	seed := fs.Int64("seed", -1, "seed (default: the plan's own)")
	impl := fs.String("impl", "reference", "implementation: reference or mutant:NAME")
	maxRuns := fs.Int("max-runs", scenarios.DefaultShrinkRuns, "simulations at most")
	out := fs.String("out", "", "where to write the minimal plan (default PLAN.min.json)")
	if err := parse(fs, args); err != nil {
		return 2, err
	}
	if len(pos) != 1 {
		return 2, usagef("shrink takes one plan file first: simrun shrink PLAN.json [flags]")
	}
	path := pos[0]
	bugs, err := parseImpl(*impl)
	if err != nil {
		return 2, err
	}
	plan, err := loadPlan(path, seed)
	if err != nil {
		return 2, usagef("%v", err)
	}
	if *out == "" {
		*out = strings.TrimSuffix(path, ".json") + ".min.json"
	}
	res, err := scenarios.Shrink(plan, uint64(*seed), scenarios.Options{Bugs: bugs}, *maxRuns)
	if err != nil {
		return 1, err
	}
	res.Plan.Seed = uint64(*seed)
	if err := res.Plan.Save(*out); err != nil {
		return 1, err
	}
	v := res.Violation
	fmt.Fprintf(stdout, "size %d → %d (posts + opens + faults) in %d runs\n", res.BeforeSize, res.AfterSize, res.Runs)
	fmt.Fprintf(stdout, "still violates %s on %s session %d: %s\n", v.Property, v.Node, v.Session, v.Message)
	fmt.Fprintf(stdout, "minimal plan: %s (simrun replay --plan %s", *out, *out)
	if *impl != "reference" {
		fmt.Fprintf(stdout, " --impl %s", *impl)
	}
	fmt.Fprintln(stdout, ")")
	return 1, nil
}

func writeHistory(path string, h checker.History) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := checker.WriteHistory(f, h); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func cmdCheck(args []string, stdout io.Writer) (int, error) {
	pos, args := leading(args)
	fs := flags("check")
	rules := historyFlags(fs)
	if err := parse(fs, args); err != nil {
		return 2, err
	}
	if len(pos) != 1 {
		return 2, usagef("check takes one history file: simrun check HISTORY.jsonl [flags]")
	}
	if err := rules.check("check"); err != nil {
		return 2, err
	}
	path := pos[0]
	h, res, lin, err := judgeFile(path, rules)
	if err != nil {
		return 2, err
	}
	for _, v := range res.Violations {
		fmt.Fprintf(stdout, "violation %s on %s session %d at event %d: %s\n", v.Property, v.Node, v.Session, v.Index, v.Message)
	}
	fmt.Fprintf(stdout, "%s: %d events, %d sessions, %d posts, %d delivered, %d violations, fresh: %s\n",
		path, len(h), res.Sessions, res.Posts, res.Delivered, len(res.Violations), lin.Verdict)
	if len(res.Violations) > 0 {
		return 1, nil
	}
	return 0, nil
}

func cmdMerge(args []string, stdout io.Writer) (int, error) {
	inputs, args := leading(args)
	fs := flags("merge")
	outDir := fs.String("out", "", "write the merged summary.md and results.json here")
	if err := parse(fs, args); err != nil {
		return 2, err
	}
	if len(inputs) == 0 {
		return 2, usagef("merge takes directories or results.json files: simrun merge DIR... [--out DIR]")
	}
	var parts []reports.Summary
	for _, in := range inputs {
		if st, err := os.Stat(in); err == nil && st.IsDir() {
			in = resultsIn(in)
		}
		s, err := reports.ReadResults(in)
		if err != nil {
			return 2, usagef("%v", err)
		}
		parts = append(parts, s)
	}
	merged, err := reports.Merge(parts...)
	if err != nil {
		return 2, usagef("merge: %v", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "scenario\timpl\tseeds\tviolations\tdelivered\tsim msgs/s\t\n")
	violations := 0
	for _, r := range merged.Scenarios {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.0f\t\n", r.Scenario, r.Impl, r.Seeds(), r.Violations, r.Delivered, r.MsgsPerSec())
		violations += r.Violations
	}
	tw.Flush()
	if *outDir != "" {
		if err := reports.WriteSummary(*outDir, merged); err != nil {
			return 1, err
		}
		fmt.Fprintf(stdout, "wrote %s/summary.md and %s/results.json\n", *outDir, *outDir)
	}
	if violations > 0 {
		return 1, nil
	}
	return 0, nil
}

// resultsIn is the results.json of a run directory, or of the latest run in a directory
// that run --out made.
func resultsIn(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, "results.json")); err != nil {
		if _, err := os.Stat(filepath.Join(dir, reports.Latest, "results.json")); err == nil {
			return filepath.Join(dir, reports.Latest, "results.json")
		}
	}
	return filepath.Join(dir, "results.json")
}

func cmdList(args []string, stdout io.Writer) (int, error) {
	args, flagArgs := leading(args)
	if err := parse(flags("list"), flagArgs); err != nil {
		return 2, err
	}
	if len(args) != 1 {
		return 2, usagef("list takes one of: scenarios, mutants, properties, faults, failpoints, situations")
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	defer tw.Flush()
	switch args[0] {
	case "scenarios":
		for _, s := range scenarios.Catalogue() {
			fmt.Fprintf(tw, "%s\t%s\n", s.Name, s.Doc)
		}
	case "mutants":
		for _, m := range reference.Mutants() {
			fmt.Fprintf(tw, "%s\t%s\t(%s)\n", m.Name, m.Doc, m.Origin)
		}
	case "properties":
		for _, p := range checker.Properties() {
			fmt.Fprintf(tw, "%s\t%s\n", p.Name, p.Doc)
		}
	case "failpoints":
		compiled := reference.EnableFailpoints() == nil && reference.FailpointsCompiled()
		for _, n := range reference.FailpointNames() {
			fmt.Fprintf(tw, "%s\n", n)
		}
		if !compiled {
			fmt.Fprintf(tw, "(this binary was built without failpoint-toolexec: armed failpoints never fire; use make build)\n")
		}
	case "situations":
		for _, s := range scenarios.Situations() {
			fmt.Fprintf(tw, "%s\t%s\n", s.Name, s.Doc)
		}
	case "faults":
		fmt.Fprintf(tw, "fault\tin the plan\tparameters\twhat it does\n")
		for _, f := range scenarios.FaultCatalogue() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Name, f.Where, f.Params, f.Doc)
		}
	default:
		return 2, usagef("unknown list %q (want scenarios, mutants, properties, faults, failpoints or situations)", args[0])
	}
	return 0, nil
}

// isTerminal reports whether w is a terminal a person watches; progress goes there only, and
// never in CI.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("CI") != "" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// coverageMatrix prints how many runs reached each boundary situation, for run and validate.
// With sim, the counts of simulations of the same plans and seeds, a situation they reach and
// the real runs never do is marked as not reached in real time.
func coverageMatrix(w io.Writer, cov, sim scenarios.Coverage) {
	fmt.Fprintf(w, "boundary coverage (runs reaching each situation):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if sim != nil {
		fmt.Fprintf(tw, "  \treal\tsimulated\t\n")
	}
	unreached, notReal := 0, 0
	for i, sit := range scenarios.Situations() {
		mark, counts := "", fmt.Sprint(cov[i])
		if sim != nil {
			counts += fmt.Sprintf("\t%d", sim[i])
		}
		switch {
		case cov[i] == 0 && (sim == nil || sim[i] == 0):
			mark, unreached = "  UNREACHED", unreached+1
		case cov[i] == 0:
			mark, notReal = "  NOT REACHED IN REAL TIME", notReal+1
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s%s\n", sit.Name, counts, sit.Doc, mark)
	}
	tw.Flush()
	if unreached > 0 {
		fmt.Fprintf(w, "%d situations unreached: this campaign never tested them\n", unreached)
	}
	if notReal > 0 {
		fmt.Fprintf(w, "%d situations reached only in simulation: the real runs did not test them\n", notReal)
	}
	fmt.Fprintln(w)
}
