package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/streamsim/streamsim/reports"
	"github.com/streamsim/streamsim/scenarios"
	"github.com/streamsim/streamsim/validate"
)

// cmdValidate plays scenarios in real time against driver processes, through fault proxies.
func cmdValidate(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flags("validate")
	serverCmd := fs.String("server-cmd", "", "shell command that starts the server driver")
	clientCmd := fs.String("client-cmd", "", "shell command that starts one client driver")
	name := fs.String("scenario", "", "scenarios to run, separated by commas")
	all := fs.Bool("all", false, "run every catalogue scenario")
	seeds := fs.Int("seeds", 1, "seeds per scenario")
	seed := fs.Int64("seed", 1, "first seed")
	parallel := fs.Int("parallel", 1, "runs at once")
	impl := fs.String("impl", "external", "name of the implementation under test, for the results")
	netw := fs.String("net", "tcp", "addresses: tcp (loopback ports) or unix (socket files)")
	outDir := fs.String("out", "", "directory for summary.md, results.json and failure reports")
	if err := parse(fs, args); err != nil {
		return 2, err
	}
	// A real-time run cannot be replayed bit for bit; its report names the command that
	// runs the same scenario and seed again.
	rerun := func(scenario string, seed uint64) string {
		return fmt.Sprintf("simrun validate --server-cmd %q --client-cmd %q --scenario %s --seed %d (real time: not bit-exact)", *serverCmd, *clientCmd, scenario, seed)
	}
	switch {
	case strings.TrimSpace(*serverCmd) == "" || strings.TrimSpace(*clientCmd) == "":
		return 2, usagef("validate: --server-cmd and --client-cmd are required")
	case *all == (*name != ""):
		return 2, usagef("give exactly one of --scenario NAME or --all")
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
	if !*all {
		list = nil
		for _, n := range strings.Split(*name, ",") {
			s, err := lookup(n)
			if err != nil {
				return 2, err
			}
			list = append(list, s)
		}
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
	fmt.Fprintf(tw, "scenario\truns\tviolations\tfailed\tdelivered\twall\tnot reproduced\n")
	var summary reports.Summary
	violations, failed, runs := 0, 0, 0
	for _, rep := range reps {
		notes := "-"
		if len(rep.Notes) > 0 {
			notes = strings.Join(rep.Notes, ", ")
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\n", rep.Scenario, rep.Runs, rep.Violations, len(rep.Failures), rep.Delivered, rep.Wall.Round(time.Millisecond), notes)
		violations += rep.Violations
		failed += len(rep.Failures)
		runs += rep.Runs
		row, fails := validateResults(rep, c, *impl, func(seed uint64) string { return rerun(rep.Scenario, seed) })
		summary.Scenarios = append(summary.Scenarios, row)
		summary.Failures = append(summary.Failures, fails...)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%d runs, %d violations, %d failed runs, %s\n", runs, violations, failed, time.Since(start).Round(time.Millisecond))
	for _, rep := range reps {
		if len(rep.Notes) > 0 {
			fmt.Fprintf(stdout, "note: %s ran without %s: the proxies cannot produce it, so the run tests less than the scenario says\n", rep.Scenario, strings.Join(rep.Notes, ", "))
		}
	}
	shown := 0
	for _, rep := range reps {
		for i, f := range rep.Failures {
			if shown == 20 {
				break
			}
			shown++
			fmt.Fprintf(stdout, "FAIL %s seed %d: ", rep.Scenario, f.Seed)
			if f.Err != nil {
				fmt.Fprintf(stdout, "%v\n", f.Err)
			} else {
				v := f.Violations[0]
				fmt.Fprintf(stdout, "%s on %s session %d: %s", v.Property, v.Node, v.Session, v.Message)
				if len(f.Violations) > 1 {
					fmt.Fprintf(stdout, " (+%d more)", len(f.Violations)-1)
				}
				fmt.Fprintln(stdout)
			}
			if *outDir != "" && i < reportsPerScenario {
				if path, err := writeValidateFailure(*outDir, rep.Scenario, f, *impl, rerun(rep.Scenario, f.Seed)); err != nil {
					fmt.Fprintf(stdout, "  report: %v\n", err)
				} else {
					fmt.Fprintf(stdout, "  report: %s/report.html\n", path)
				}
			}
		}
	}
	if *outDir != "" {
		if err := reports.WriteSummary(*outDir, summary); err != nil {
			return 1, err
		}
		fmt.Fprintf(stdout, "wrote %s/summary.md and %s/results.json\n", *outDir, *outDir)
	}
	if failed > 0 {
		return 1, nil
	}
	return 0, nil
}

// validateResults converts a scenario's report for results.json. Real runs have no trace
// hash: their timing is the machine's.
func validateResults(rep validate.Report, c validate.Campaign, impl string, rerun func(uint64) string) (reports.ScenarioResult, []reports.FailureResult) {
	row := reports.ScenarioResult{
		Scenario: rep.Scenario, Impl: impl, Ranges: []reports.SeedRange{{FirstSeed: c.FirstSeed, Seeds: c.Seeds, Hash: "real-time"}},
		Violations: rep.Violations, Delivered: rep.Delivered, WallNs: int64(rep.Wall),
	}
	var fails []reports.FailureResult
	for _, f := range rep.Failures {
		fr := failureResult(rep.Scenario, impl, f.Seed, f.Err, f.Violations)
		fr.Replay = rerun(f.Seed)
		fails = append(fails, fr)
	}
	return row, fails
}

func writeValidateFailure(dir, scenario string, f validate.Failure, impl, replay string) (string, error) {
	rf := reports.Failure{Scenario: scenario, Seed: f.Seed, Impl: impl, Plan: f.Plan, History: f.Outcome.History, Result: f.Outcome.Result, Replay: replay}
	if f.Err != nil {
		rf.Err = f.Err.Error()
	}
	return writeFailure(dir, rf, f.Outcome.Fresh)
}
