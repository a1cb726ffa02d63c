// Command simrun runs stream+ simulation campaigns against the reference implementation,
// replays single runs bit for bit, and lists what the harness knows.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/reports"
	"github.com/streamsim/streamsim/scenarios"
)

const usage = `simrun: find delivery bugs in stream+ implementations by deterministic simulation.

Usage:
  simrun run    (--scenario NAME | --all) [--seeds N] [--seed S] [--parallel P] [--impl IMPL]
                [--shard I/N] [--no-shrink] [--out DIR]
  simrun run    --corpus DIR [--impl IMPL]
  simrun replay (--scenario NAME --seed S | --plan PLAN.json [--seed S]) [--impl IMPL]
                [--history FILE]
  simrun shrink PLAN.json [--seed S] [--impl IMPL] [--max-runs N] [--out FILE]
  simrun check  HISTORY.jsonl [--bound-us N] [--handshake-us N] [--lossy]
  simrun merge  DIR|results.json ... [--out DIR]
  simrun list   scenarios | mutants | properties | faults | failpoints | situations
  simrun mutants [--seeds N] [--parallel P] [--no-shrink] [--out DIR]
  simrun serve  --online ADDR --request ADDR [--storage DIR] [--feed N [--rate R] [--size B]]
  simrun subscribe --online ADDR --request ADDR --mode MODE [--seq S] [--name N]
                [--protocol new|old]
  simrun driver client|server --online ADDR --request ADDR [--storage DIR] [--impl IMPL]
  simrun validate --server-cmd CMD --client-cmd CMD (--scenario NAME,... | --all | --plan FILE)
                [--seeds N] [--seed S] [--parallel P] [--net tcp|unix] [--impl NAME] [--out DIR]
  simrun help

run     plays each scenario over seeds S..S+N-1 (defaults: S=1, N=100; --seed S alone runs
        that one seed) and checks every history. It prints, per scenario, the seeds run,
        violations, messages delivered, wall time, simulated messages delivered per
        wall-clock second and a campaign hash, then each failing seed with its first
        violation and replay command. The first failing seeds of each scenario are shrunk
        to a minimal plan (size before and after shown) unless --no-shrink.
        --shard I/N runs the I-th of N deterministic shares of the seeds (seed index mod N
        = I-1), so N machines running shards 1/N..N/N together run the whole campaign.
        With --out DIR it writes DIR/summary.md, DIR/results.json (mergeable across shards
        with simrun merge), for the first failing seeds of each scenario a directory
        DIR/failures/<scenario>-<seed>/ with plan.json (replayable: simrun replay --plan),
        history.jsonl (a window around the violation) and report.html, and each shrunk
        failure as DIR/corpus/<scenario>-<seed>.json, ready for a regression corpus.
        With --corpus DIR it replays every saved plan in DIR with its own seed instead;
        a plan naming mutants in "kills" must also fail against them.
replay  runs one scenario (or a saved plan file) with one seed, printing the event trace and
        a final line with its hash; the same arguments always print the same output.
        --history FILE also writes the run's history as JSON Lines (simrun check reads it).
shrink  minimises a failing plan, keeping the property it violates: fewer posts, clients and
        faults, shorter delays, smaller seqs. Prints the size (posts + opens + faults) before
        and after and the violation that remains, and writes the minimal plan to FILE
        (default: PLAN.min.json). Deterministic: bounded by --max-runs, not by time.
check   judges any recorded history (JSON Lines, format in README) with the same checker:
        exit 0 when it holds, 1 with the violations listed, 2 when the file is malformed
        (the line is named). Liveness uses --bound-us (default 100000, as plans do);
        progress excuses an Error that came --handshake-us or more after its open with no
        Active (default 5000000, the reference client's handshake timeout). --lossy says the
        links could lose data or drop a connection by themselves: then only the duty to
        reach Online or end is judged, and no Error needs a cause.
merge   combines the results.json of several campaigns or shards into one summary,
        refusing overlapping seeds; with --out it writes the merged summary.md and
        results.json.
list    names the catalogue scenarios, planted bugs (mutants), checked properties, faults,
        protocol failpoints plans may arm, or the boundary situations run counts.
mutants runs the kill matrix: the catalogue, seed by seed (run i plays scenario i mod S of
        the S in catalogue order, with seed 1 + i div S), against the reference and every
        mutant, at most N runs each (default 10000), each mutant until its first kill. Prints
        per mutant the property violated, the runs until the kill, the wall time and the
        shrunk counterexample's size; --out DIR writes DIR/mutants.md and the
        counterexamples in DIR/corpus. Exit 0 only if every mutant dies and the reference
        passes every run.
serve, subscribe: the reference server (posting "seq msgid payload" lines from standard
        input, or a feed) and client (writing its history) on real sockets; ADDR is
        HOST:PORT or a Unix socket path. driver: the reference behind the driver protocol.
validate plays scenarios (or a failure report's plan.json) in real time against driver
        commands, every connection through a fault proxy, and judges them as run does
        (README, "The driver protocol"). A run whose only violations rest on timing, on a
        machine measured running late, is inconclusive rather than failed. It prints latency
        figures (open to Online, post to delivery: p50, p99, max), the coverage matrix beside
        the simulator's, and per failing run its fault schedule and rerun command. Exit 0
        all passed, 1 a run failed, 3 none failed but some were inconclusive.

IMPL is "reference" (default) or "mutant:NAME", the reference with one planted bug.
Exit status: 0 no violation, 1 violations found, 2 bad usage (validate: 3 inconclusive).
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// errUsage marks errors that are the caller's to fix; they exit 2.
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

func usagef(format string, args ...any) error { return errUsage{fmt.Sprintf(format, args...)} }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var code int
	var err error
	switch args[0] {
	case "run":
		code, err = cmdRun(args[1:], stdout, stderr)
	case "replay":
		code, err = cmdReplay(args[1:], stdout)
	case "shrink":
		code, err = cmdShrink(args[1:], stdout)
	case "check":
		code, err = cmdCheck(args[1:], stdout)
	case "merge":
		code, err = cmdMerge(args[1:], stdout)
	case "list":
		code, err = cmdList(args[1:], stdout)
	case "mutants":
		code, err = cmdMutants(args[1:], stdout, stderr)
	case "serve":
		code, err = cmdServe(args[1:], os.Stdin, stdout, stderr)
	case "subscribe":
		code, err = cmdSubscribe(args[1:], stdout)
	case "driver":
		code, err = cmdDriver(args[1:], os.Stdin, stdout)
	case "validate":
		code, err = cmdValidate(args[1:], stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = usagef("unknown command %q (see 'simrun help')", args[0])
	}
	if err != nil {
		fmt.Fprintf(stderr, "simrun: %v\n", err)
		var u errUsage
		if errors.As(err, &u) {
			return 2
		}
		return 1
	}
	return code
}

// flags returns a flag set whose errors come back as usage errors instead of being printed.
func flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return usagef("see 'simrun help'")
		}
		return usagef("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
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

	progress := isTerminal(stderr)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "scenario\tseeds\tviolations\tdelivered\twall\tsim msgs/s\thash\t\n")
	var total scenarios.Report
	var failures []string
	var summary reports.Summary
	for _, s := range list {
		c := scenarios.Campaign{Scenario: s, FirstSeed: uint64(*seed), Seeds: *seeds, Parallel: *parallel, Shard: shard, Shards: shards, Options: scenarios.Options{Bugs: bugs}}
		if progress {
			c.Progress = func(done int) {
				if done%50 == 0 {
					fmt.Fprintf(stderr, "\r\033[K%s %d seeds", s.Name, done)
				}
			}
		}
		rep := c.Run()
		if progress {
			fmt.Fprint(stderr, "\r\033[K")
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%.0f\t%016x\t\n", s.Name, rep.Seeds, rep.Violations, rep.Delivered, rep.Wall.Round(time.Millisecond), rep.MsgsPerSec(), rep.Hash)
		total.Coverage.Add(rep.Coverage)
		total.Seeds += rep.Seeds
		total.Violations += rep.Violations
		total.Delivered += rep.Delivered
		total.Wall += rep.Wall
		for i, f := range rep.Failures {
			d := describe(s.Name, *impl, f)
			if i < shrinkPerScenario && !*noShrink && f.Err == nil {
				d += shrinkLine(s, f.Seed, *impl, c.Options, *outDir)
			}
			if i < reportsPerScenario && *outDir != "" {
				if path, err := writeFailureReport(*outDir, s, f.Seed, *impl, c.Options); err != nil {
					d += fmt.Sprintf("  report: %v\n", err)
				} else {
					d += fmt.Sprintf("  report: %s/report.html\n", path)
				}
			}
			failures = append(failures, d)
		}
		row, fails := results(rep, c, *impl)
		summary.Scenarios = append(summary.Scenarios, row)
		summary.Failures = append(summary.Failures, fails...)
	}
	if len(list) > 1 {
		fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%s\t%.0f\t\t\n", total.Seeds, total.Violations, total.Delivered, total.Wall.Round(time.Millisecond), total.MsgsPerSec())
	}
	tw.Flush()
	fmt.Fprintln(stdout)
	coverageMatrix(stdout, total.Coverage, nil)
	if *outDir != "" {
		if err := reports.WriteSummary(*outDir, summary); err != nil {
			return 1, err
		}
		fmt.Fprintf(stdout, "wrote %s/summary.md and %s/results.json\n", *outDir, *outDir)
	}
	const shown = 20
	for i, f := range failures {
		if i == shown {
			fmt.Fprintf(stdout, "... and %d more failing seeds\n", len(failures)-shown)
			break
		}
		fmt.Fprint(stdout, f)
	}
	if total.Violations > 0 {
		return 1, nil
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
		out, err := scenarios.Run(e.Plan, e.Plan.Seed, scenarios.Options{Bugs: bugs})
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

// shrinkPerScenario is how many failing seeds of a scenario a campaign shrinks: the first few
// show the bug; the rest are usually the same bug again.
const shrinkPerScenario = 3

// shrinkLine shrinks one failing seed and, with an output directory, saves the minimal plan
// into its corpus, noting the mutant it kills.
func shrinkLine(s scenarios.Scenario, seed uint64, impl string, opt scenarios.Options, outDir string) string {
	res, err := scenarios.Shrink(s.Build(seed), seed, opt, 0)
	if err != nil {
		return fmt.Sprintf("  shrink: %v\n", err)
	}
	line := fmt.Sprintf("  shrunk: %d → %d events (posts + opens + faults) in %d runs, still %s\n", res.BeforeSize, res.AfterSize, res.Runs, res.Violation.Property)
	if outDir == "" {
		return line
	}
	if m, ok := strings.CutPrefix(impl, "mutant:"); ok {
		res.Plan.Kills = []string{m}
	}
	path, err := scenarios.SaveToCorpus(filepath.Join(outDir, "corpus"), res.Plan, seed)
	if err != nil {
		return line + fmt.Sprintf("  save: %v\n", err)
	}
	return line + fmt.Sprintf("  saved: %s\n", path)
}

func describe(scenario, impl string, f scenarios.Failure) string {
	var b strings.Builder
	fmt.Fprintf(&b, "FAIL %s seed %d", scenario, f.Seed)
	if f.Err != nil {
		fmt.Fprintf(&b, ": %v\n", f.Err)
	} else {
		v := f.Outcome.Result.Violations[0]
		fmt.Fprintf(&b, ": %s on %s session %d: %s", v.Property, v.Node, v.Session, v.Message)
		if n := len(f.Outcome.Result.Violations); n > 1 {
			fmt.Fprintf(&b, " (+%d more)", n-1)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "  replay: %s\n", reports.ReplayCommand(scenario, f.Seed, impl))
	return b.String()
}

func cmdReplay(args []string, stdout io.Writer) (int, error) {
	fs := flags("replay")
	name := fs.String("scenario", "", "scenario to replay")
	planFile := fs.String("plan", "", "plan file to replay")
	histFile := fs.String("history", "", "write the run's history (JSON Lines) here")
	seed := fs.Int64("seed", -1, "seed to replay")
	impl := fs.String("impl", "reference", "implementation: reference or mutant:NAME")
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
		if plan, err = scenarios.Load(*planFile); err != nil {
			return 2, usagef("%v", err)
		}
		if *seed < 0 {
			*seed = int64(plan.Seed)
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
	out, err := scenarios.Run(plan, uint64(*seed), scenarios.Options{Bugs: bugs, Trace: stdout})
	if err != nil {
		return 1, err
	}
	if *histFile != "" {
		if err := writeHistory(*histFile, out.History); err != nil {
			return 1, err
		}
	}
	for _, v := range out.Result.Violations {
		fmt.Fprintf(stdout, "violation %s on %s session %d at event %d: %s\n", v.Property, v.Node, v.Session, v.Index, v.Message)
	}
	fmt.Fprintf(stdout, "scenario %s seed %d: %d events, %d delivered, %d violations, hash %016x\n",
		plan.Name, *seed, out.Events, out.Delivered, len(out.Result.Violations), out.Hash)
	if len(out.Result.Violations) > 0 {
		return 1, nil
	}
	return 0, nil
}

func cmdShrink(args []string, stdout io.Writer) (int, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return 2, usagef("shrink takes a plan file first: simrun shrink PLAN.json [flags]")
	}
	path := args[0]
	fs := flags("shrink")
	seed := fs.Int64("seed", -1, "seed (default: the plan's own)")
	impl := fs.String("impl", "reference", "implementation: reference or mutant:NAME")
	maxRuns := fs.Int("max-runs", scenarios.DefaultShrinkRuns, "simulations at most")
	out := fs.String("out", "", "where to write the minimal plan (default PLAN.min.json)")
	if err := parse(fs, args[1:]); err != nil {
		return 2, err
	}
	bugs, err := parseImpl(*impl)
	if err != nil {
		return 2, err
	}
	plan, err := scenarios.Load(path)
	if err != nil {
		return 2, usagef("%v", err)
	}
	if *seed < 0 {
		*seed = int64(plan.Seed)
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
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return 2, usagef("check takes a history file first: simrun check HISTORY.jsonl [flags]")
	}
	path := args[0]
	fs := flags("check")
	boundUs := fs.Int64("bound-us", scenarios.DefaultLivenessBoundUs, "liveness bound, µs")
	handshakeUs := fs.Int64("handshake-us", reference.DefaultHandshakeTimeoutNs/1000, "the client's handshake timeout, µs")
	lossy := fs.Bool("lossy", false, "the links may lose data or drop connections by themselves")
	if err := parse(fs, args[1:]); err != nil {
		return 2, err
	}
	// A bound in µs is stored in ns; past this the product would wrap.
	const maxUs = math.MaxInt64 / 1000
	if *boundUs < 0 || *boundUs > maxUs {
		return 2, usagef("check: --bound-us %d is out of range 0..%d", *boundUs, int64(maxUs))
	}
	if *handshakeUs < 0 || *handshakeUs > maxUs {
		return 2, usagef("check: --handshake-us %d is out of range 0..%d", *handshakeUs, int64(maxUs))
	}
	f, err := os.Open(path)
	if err != nil {
		return 2, usagef("%v", err)
	}
	defer f.Close()
	h, err := checker.ReadHistory(f)
	if err != nil {
		return 2, usagef("%s: %v", path, err)
	}
	res, err := checker.Check(h)
	if err != nil {
		return 2, usagef("%s: %v", path, err)
	}
	vs := append(res.Violations, checker.CheckLiveness(h, checker.LivenessOptions{
		BoundNs: *boundUs * 1000, SessionsOnly: *lossy, Calm: !*lossy,
	})...)
	vs = append(vs, checker.CheckProgress(h, checker.ProgressOptions{Calm: !*lossy, HandshakeNs: *handshakeUs * 1000})...)
	lin := checker.CheckFresh(h, freshTimeout)
	vs = append(vs, lin.Violations(h)...)
	for _, v := range vs {
		fmt.Fprintf(stdout, "violation %s on %s session %d at event %d: %s\n", v.Property, v.Node, v.Session, v.Index, v.Message)
	}
	fmt.Fprintf(stdout, "%s: %d events, %d sessions, %d posts, %d delivered, %d violations, fresh (porcupine): %s\n",
		path, len(h), res.Sessions, res.Posts, res.Delivered, len(vs), lin.Verdict)
	if len(vs) > 0 {
		return 1, nil
	}
	return 0, nil
}

func cmdMerge(args []string, stdout io.Writer) (int, error) {
	var inputs []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		inputs, args = append(inputs, args[0]), args[1:]
	}
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
			in = filepath.Join(in, "results.json")
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

func cmdList(args []string, stdout io.Writer) (int, error) {
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
