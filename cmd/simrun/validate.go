package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/streamsim/streamsim/reports"
	"github.com/streamsim/streamsim/scenarios"
	"github.com/streamsim/streamsim/validate"
)

// exitInconclusive is validate's exit status when no run failed but some could not be judged
// because the machine ran too late.
const exitInconclusive = 3

// cmdValidate plays scenarios in real time against driver processes, through fault proxies.
func cmdValidate(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flags("validate")
	serverCmd := fs.String("server-cmd", "", "shell command that starts the server driver")
	clientCmd := fs.String("client-cmd", "", "shell command that starts one client driver")
	name := fs.String("scenario", "", "scenarios to run, separated by commas")
	all := fs.Bool("all", false, "run every catalogue scenario")
	planFile := fs.String("plan", "", "run this plan file (a failure report's plan.json) instead of scenarios")
	seeds := fs.Int("seeds", 1, "seeds per scenario")
	seed := fs.Int64("seed", 1, "first seed")
	parallel := fs.Int("parallel", 1, "runs at once")
	impl := fs.String("impl", "external", "name of the implementation under test, for the results")
	netw := fs.String("net", "tcp", "addresses: tcp (loopback ports) or unix (socket files)")
	outDir := fs.String("out", "", "make a run directory here (DIR/<time>-<impl>/, DIR/latest) for summary.md, results.json and failure reports")
	if err := parse(fs, args); err != nil {
		return 2, err
	}
	given := 0
	for _, b := range []bool{*all, *name != "", *planFile != ""} {
		if b {
			given++
		}
	}
	switch {
	case strings.TrimSpace(*serverCmd) == "" || strings.TrimSpace(*clientCmd) == "":
		return 2, usagef("validate: --server-cmd and --client-cmd are required")
	case given != 1:
		return 2, usagef("give exactly one of --scenario NAME, --all or --plan FILE")
	case *seeds < 1:
		return 2, usagef("--seeds must be at least 1, got %d", *seeds)
	case *seed < 0:
		return 2, usagef("--seed must not be negative, got %d", *seed)
	case *parallel < 1:
		return 2, usagef("--parallel must be at least 1, got %d", *parallel)
	case *netw != "tcp" && *netw != "unix":
		return 2, usagef("--net wants tcp or unix, got %q", *netw)
	case *impl == "" || strings.ContainsAny(*impl, " \t\n"):
		return 2, usagef("--impl wants a name without spaces, got %q", *impl)
	}
	list := scenarios.Catalogue()
	switch {
	case *planFile != "":
		p, err := scenarios.Load(*planFile)
		if err != nil {
			return 2, usagef("%v", err)
		}
		list = []scenarios.Scenario{{Name: planName(p, *planFile), Doc: p.Doc, Build: func(uint64) scenarios.Plan { return p }}}
	case !*all:
		list = nil
		for _, n := range strings.Split(*name, ",") {
			s, err := lookup(n)
			if err != nil {
				return 2, err
			}
			list = append(list, s)
		}
	}
	// Like run's, each validate run gets its own directory under --out, named by time and
	// implementation, so runs against different implementations never mix.
	if *outDir != "" {
		dir, err := reports.NewRunDir(*outDir, *impl, time.Now())
		if err != nil {
			return 2, usagef("--out: %v", err)
		}
		*outDir = dir
	}
	// A real-time run cannot be replayed bit for bit; its report names the command that runs
	// the same plan and seed again, through the same kind of sockets.
	rerun := func(scenario string, seed uint64, plan string) string {
		what := "--scenario " + scenario
		if plan != "" {
			what = "--plan " + validate.ShellQuote(plan)
		}
		return fmt.Sprintf("simrun validate --server-cmd %s --client-cmd %s %s --seed %d --net %s (real time: not bit-exact)",
			validate.ShellQuote(*serverCmd), validate.ShellQuote(*clientCmd), what, seed, *netw)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := validate.Campaign{
		Scenarios: list, FirstSeed: uint64(*seed), Seeds: *seeds, Parallel: *parallel, Keep: reportsPerScenario,
		Options: validate.Options{ServerCmd: *serverCmd, ClientCmd: *clientCmd, Net: *netw},
	}
	start := time.Now()
	reps := c.Run(ctx)
	if ctx.Err() != nil {
		return 1, fmt.Errorf("validate: interrupted after %v", time.Since(start).Round(time.Millisecond))
	}

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\truns\tviolations\tfailed\tinconclusive\tdelivered\twall\tnot reproduced\n")
	var summary reports.Summary
	var total validate.Report
	violations, failed, inconclusive := 0, 0, 0
	for _, rep := range reps {
		notes := "-"
		if len(rep.Notes) > 0 {
			var ns []string
			for _, n := range rep.Notes {
				ns = append(ns, fmt.Sprintf("%s (%d of %d runs)", n.Text, n.Runs, rep.Runs))
			}
			notes = strings.Join(ns, "; ")
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", rep.Scenario, rep.Runs, rep.Violations, len(rep.Failures), len(rep.Inconclusive), rep.Delivered, rep.Wall.Round(time.Millisecond), notes)
		violations += rep.Violations
		failed += len(rep.Failures)
		inconclusive += len(rep.Inconclusive)
		total.Runs += rep.Runs
		total.Canary.Add(rep.Canary)
		total.Latency.Add(&rep.Latency)
		total.Coverage.Add(rep.Coverage)
		total.SimCoverage.Add(rep.SimCoverage)
		row, fails := validateResults(rep, c, *impl)
		summary.Scenarios = append(summary.Scenarios, row)
		summary.Failures = append(summary.Failures, fails...)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%d runs, %d violations, %d failed runs, %d inconclusive runs, %s\n", total.Runs, violations, failed, inconclusive, time.Since(start).Round(time.Millisecond))
	latencyTable(stdout, reps, total)
	fmt.Fprintln(stdout)
	coverageMatrix(stdout, total.Coverage, total.SimCoverage)
	shortOfSimulation(stdout, reps)

	shown := 0
	for _, rep := range reps {
		for _, kind := range []struct {
			label string
			runs  []validate.Failure
		}{{"FAIL", rep.Failures}, {"INCONCLUSIVE", rep.Inconclusive}} {
			for i, f := range kind.runs {
				if shown == 20 {
					break
				}
				shown++
				fmt.Fprintf(stdout, "%s %s seed %d: %s\n", kind.label, rep.Scenario, f.Seed, firstProblem(f))
				if f.Verdict == validate.Inconclusive {
					fmt.Fprintf(stdout, "  %s\n", figures(f.Outcome))
				}
				if f.Err == nil {
					fmt.Fprintf(stdout, "  %s\n", runLatency(f.Outcome))
				}
				for _, s := range f.Outcome.Schedule {
					fmt.Fprintf(stdout, "  fault %s\n", s)
				}
				plan := ""
				if *planFile != "" {
					plan = *planFile
				}
				if *outDir != "" && i < reportsPerScenario {
					path, err := writeValidateFailure(*outDir, rep.Scenario, f, *impl, func(dir string) string {
						if plan == "" {
							plan = filepath.Join(dir, "plan.json")
						}
						return rerun(rep.Scenario, f.Seed, plan)
					})
					if err != nil {
						fmt.Fprintf(stdout, "  report: %v\n", err)
					} else {
						fmt.Fprintf(stdout, "  report: %s/report.html\n", path)
					}
				}
				fmt.Fprintf(stdout, "  rerun: %s\n", rerun(rep.Scenario, f.Seed, plan))
			}
		}
	}
	if *outDir != "" {
		if err := reports.WriteSummary(*outDir, summary); err != nil {
			return 1, err
		}
		fmt.Fprintf(stdout, "wrote %s/summary.md and %s/results.json\n", *outDir, *outDir)
	}
	switch {
	case failed > 0:
		return 1, nil
	case inconclusive > 0:
		return exitInconclusive, nil
	}
	return 0, nil
}

// planName names a plan file's runs: its own name, else the file's.
func planName(p scenarios.Plan, path string) string {
	if p.Name != "" {
		return p.Name
	}
	return strings.TrimSuffix(filepath.Base(path), ".json")
}

func firstProblem(f validate.Failure) string {
	if f.Err != nil {
		return f.Err.Error()
	}
	v := f.Violations[0]
	s := fmt.Sprintf("%s on %s session %d: %s", v.Property, v.Node, v.Session, v.Message)
	if len(f.Violations) > 1 {
		s += fmt.Sprintf(" (+%d more)", len(f.Violations)-1)
	}
	return s
}

// figures says why a run was inconclusive.
func figures(o validate.Outcome) string {
	return fmt.Sprintf("the machine ran late: %v; liveness bound stretched to %v", o.Canary, o.Bound.Round(time.Millisecond))
}

// runLatency is one run's latency figures.
func runLatency(o validate.Outcome) string {
	return fmt.Sprintf("latency: open -> Online %s; post -> delivery %s", o.Latency.Online.String(), o.Latency.Delivery.String())
}

// latencyTable prints, per scenario and over the campaign, the latency figures and how late
// the machine itself ran.
func latencyTable(w io.Writer, reps []validate.Report, total validate.Report) {
	fmt.Fprintf(w, "\nlatency (real time):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  scenario\topen -> Online\tpost -> delivery\tmachine late up to\n")
	row := func(name string, r validate.Report) {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%v\n", name, r.Latency.Online.String(), r.Latency.Delivery.String(), r.Canary.Late().Round(time.Microsecond))
	}
	for _, r := range reps {
		row(r.Scenario, r)
	}
	if len(reps) > 1 {
		row("total", total)
	}
	tw.Flush()
}

// shortOfSimulation lists, per scenario, the boundary situations its real runs reached less
// often than the simulator does with the same plans and seeds: there the scenario tested less
// than it is named for.
func shortOfSimulation(w io.Writer, reps []validate.Report) {
	sits := scenarios.Situations()
	header := false
	for _, r := range reps {
		for i, sit := range sits {
			if r.Coverage[i] >= r.SimCoverage[i] {
				continue
			}
			if !header {
				fmt.Fprintf(w, "situations reached less often in real time than in simulation (real/simulated):\n")
				header = true
			}
			fmt.Fprintf(w, "  %s: %s %d/%d\n", r.Scenario, sit.Name, r.Coverage[i], r.SimCoverage[i])
		}
	}
	if header {
		fmt.Fprintln(w)
	}
}

// validateResults converts a scenario's report for results.json. Real runs have no trace
// hash: their timing is the machine's.
func validateResults(rep validate.Report, c validate.Campaign, impl string) (reports.ScenarioResult, []reports.FailureResult) {
	row := reports.ScenarioResult{
		Scenario: rep.Scenario, Impl: impl, Ranges: []reports.SeedRange{{FirstSeed: c.FirstSeed, Seeds: c.Seeds, Hash: "real-time"}},
		Violations: rep.Violations, Inconclusive: len(rep.Inconclusive), Delivered: rep.Delivered, WallNs: int64(rep.Wall),
	}
	var fails []reports.FailureResult
	for _, f := range append(append([]validate.Failure(nil), rep.Failures...), rep.Inconclusive...) {
		fr := failureResult(rep.Scenario, impl, f.Seed, f.Err, f.Violations)
		if f.Verdict == validate.Inconclusive {
			fr.Verdict, fr.Figures = f.Verdict.String(), figures(f.Outcome)
		}
		fails = append(fails, fr)
	}
	slices.SortFunc(fails, func(a, b reports.FailureResult) int { return cmp.Compare(a.Seed, b.Seed) })
	return row, fails
}

// writeValidateFailure writes a failure's directory, with the fault schedule the proxies
// applied in report.html and in schedule.txt; replay gets the directory and returns the
// command that reruns it.
func writeValidateFailure(dir, scenario string, f validate.Failure, impl string, replay func(dir string) string) (string, error) {
	rt := &reports.RealTime{
		Verdict: f.Verdict.String(), Figures: figures(f.Outcome), Latency: runLatency(f.Outcome),
		Schedule: f.Outcome.Schedule, NotReproduced: f.Outcome.Notes,
	}
	rf := reports.Failure{Scenario: scenario, Seed: f.Seed, Impl: impl, Plan: f.Plan, History: f.Outcome.History, Result: f.Outcome.Result, RealTime: rt}
	if f.Err != nil {
		rf.Err = f.Err.Error()
	}
	rf.Replay = replay(reports.FailureDir(dir, rf))
	path, err := writeFailure(dir, rf, f.Outcome.Fresh)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "verdict: %s\n%s\n%s\n", rt.Verdict, rt.Figures, rt.Latency)
	for _, s := range rt.Schedule {
		fmt.Fprintf(&b, "fault %s\n", s)
	}
	for _, n := range rt.NotReproduced {
		fmt.Fprintf(&b, "not reproduced: %s\n", n)
	}
	return path, os.WriteFile(filepath.Join(path, "schedule.txt"), []byte(b.String()), 0o644)
}
