package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

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
			fmt.Fprintf(tw, "%s\tyes\t%s\t%d\t%s\t%d\t%s\t%s\n", r.Name, r.Property, r.Runs, r.Scenario, r.Seed, r.Wall.Round(time.Microsecond), r.ShrunkSize())
		} else {
			fmt.Fprintf(tw, "%s\tNO\t\t%d\t\t\t%s\t\n", r.Name, r.Runs, r.Wall.Round(time.Microsecond))
		}
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%s\n", m.Reference.Verdict())
	if median, worst := m.SeedsToKill(); median > 0 {
		fmt.Fprintf(stdout, "seeds to kill: median %d, worst %d\n", median, worst)
	}
	if *outDir != "" {
		if err := writeKillMatrix(*outDir, m); err != nil {
			return 1, err
		}
		fmt.Fprintf(stdout, "wrote %s/mutants.md and the shrunk counterexamples in %s/corpus\n", *outDir, *outDir)
	}
	if !m.Passed() {
		return 1, nil
	}
	return 0, nil
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
