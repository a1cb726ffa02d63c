package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/streamsim/streamsim/reports"
	"github.com/streamsim/streamsim/scenarios"
)

// cmdMutants runs the kill matrix: the default campaign against every planted bug.
func cmdMutants(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flags("mutants")
	seeds := fs.Int("seeds", 10000, "runs per implementation, across the catalogue")
	parallel := fs.Int("parallel", 0, "runs at once (default: one per CPU)")
	noShrink := fs.Bool("no-shrink", false, "do not shrink the counterexamples")
	outDir := fs.String("out", "", "write mutants.md and the shrunk counterexamples here")
	if err := parse(fs, args); err != nil {
		return 2, err
	}
	switch {
	case *seeds < 1:
		return 2, usagef("--seeds must be at least 1, got %d", *seeds)
	case *parallel < 0:
		return 2, usagef("--parallel must not be negative, got %d", *parallel)
	}
	start := time.Now()
	opt := scenarios.KillOptions{Seeds: *seeds, Parallel: *parallel, NoShrink: *noShrink}
	if isTerminal(stderr) {
		opt.Progress = func(done, total int) { fmt.Fprintf(stderr, "\r\033[Kimplementations hunted: %d/%d", done, total) }
	}
	m := scenarios.Kill(opt)
	if opt.Progress != nil {
		fmt.Fprint(stderr, "\r\033[K")
	}

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "mutant\tkilled\tproperty\tseeds to kill\tscenario\tseed\twall\tshrunk\n")
	for _, r := range m.Mutants {
		if r.Killed {
			fmt.Fprintf(tw, "%s\tyes\t%s\t%d\t%s\t%d\t%s\t%s\n", r.Name, r.Property, r.Runs, r.Scenario, r.Seed, reports.Duration(r.Wall), r.ShrunkSize())
		} else {
			fmt.Fprintf(tw, "%s\tNO\t\t%d\t\t\t%s\t\n", r.Name, r.Runs, reports.Duration(r.Wall))
		}
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%s\n", m.Reference.Verdict())
	if median, worst := m.SeedsToKill(); median > 0 {
		fmt.Fprintf(stdout, "seeds to kill: median %d, worst %d\n", median, worst)
	}
	if *outDir != "" {
		dir, err := reports.NewRunDir(*outDir, "mutants", start)
		if err != nil {
			return 1, err
		}
		if err := writeKillMatrix(dir, m); err != nil {
			return 1, err
		}
		if err := reports.WriteIndex(dir, killIndex(m, start)); err != nil {
			return 1, err
		}
		fmt.Fprintf(stdout, "wrote %s: index.html (simrun browse %s), mutants.md and the shrunk counterexamples in corpus/\n", dir, *outDir)
	}
	fmt.Fprintf(stdout, "\n%s\n", mutantsVerdict(m, time.Since(start)))
	if !m.Passed() {
		return 1, nil
	}
	return 0, nil
}

// mutantsVerdict is the kill matrix's last line: PASS only if every mutant died and the
// reference passed every run.
func mutantsVerdict(m scenarios.KillMatrix, wall time.Duration) string {
	var survivors []string
	for _, r := range m.Mutants {
		if !r.Killed {
			survivors = append(survivors, r.Name)
		}
	}
	var v string
	switch {
	case m.Reference.Killed:
		v = fmt.Sprintf("FAIL: the reference itself failed run %d (%s seed %d)", m.Reference.Runs, m.Reference.Scenario, m.Reference.Seed)
	case len(survivors) > 0:
		names := strings.Join(survivors[:min(3, len(survivors))], ", ")
		if len(survivors) > 3 {
			names += fmt.Sprintf(" and %d more", len(survivors)-3)
		}
		v = fmt.Sprintf("FAIL: %d of %d mutants survived %d runs (%s)", len(survivors), len(m.Mutants), m.Seeds, names)
	default:
		median, worst := m.SeedsToKill()
		v = fmt.Sprintf("PASS: all %d mutants killed (seeds to kill: median %d, worst %d), the reference passed all %d runs", len(m.Mutants), median, worst, m.Reference.Runs)
	}
	return v + " in " + reports.Duration(wall)
}

// killIndex is the kill matrix as index.html shows it: a chart of seeds to kill per mutant.
func killIndex(m scenarios.KillMatrix, start time.Time) reports.Index {
	ix := reports.Index{Title: "simrun mutants", Impl: fmt.Sprintf("the reference and %d mutants", len(m.Mutants)), Started: start.UTC(),
		Verdict: mutantsVerdict(m, time.Since(start))}
	for _, r := range m.Mutants {
		ix.Mutants = append(ix.Mutants, reports.MutantKill{Name: r.Name, Property: r.Property, Scenario: r.Scenario, Seed: r.Seed, Runs: r.Runs, Killed: r.Killed})
	}
	return ix
}

// writeKillMatrix writes DIR/mutants.md and each shrunk counterexample into DIR/corpus, named
// for the mutant it kills, ready for a regression corpus.
func writeKillMatrix(dir string, m scenarios.KillMatrix) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "mutants.md"))
	if err != nil {
		return err
	}
	if err := m.Markdown(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, r := range m.Mutants {
		if r.Shrunk.Runs == 0 {
			continue
		}
		p := r.Shrunk.Plan
		p.Kills = []string{r.Name}
		if _, err := scenarios.SaveToCorpus(filepath.Join(dir, "corpus"), p, r.Seed); err != nil {
			return err
		}
	}
	return nil
}
