package scenarios

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/streamsim/streamsim/reference"
)

// KillOptions configure a kill matrix: the default campaign, every catalogue scenario, run
// against each planted bug until the first run that catches it.
//
// The campaign's runs are taken in one fixed order, seed by seed across the catalogue: run i
// (from 0) plays scenario i mod S of the catalogue's S, in catalogue order, with seed
// 1 + i div S. Every hand-made plan thus gets its turn in the first S runs, and the
// generated ones get a new seed every S runs. A mutant's seeds to kill is the number of runs in
// that order up to and including the first that violates a property.
type KillOptions struct {
	Seeds    int  // runs per implementation, across the catalogue: the budget
	Parallel int  // runs at once; default GOMAXPROCS. Never changes a result.
	NoShrink bool // leave the counterexamples as found
	// Progress, when set, is called on the caller's goroutine after each implementation's
	// hunt, with the number of implementations done and their total.
	Progress func(done, total int)
}

// KillRow is one implementation's line of the matrix: a mutant, or the reference.
type KillRow struct {
	Name   string
	Origin string // empty for the reference
	Bugs   reference.Bugs
	// Killed: a run violated a property, or could not complete. For the reference that is a
	// failure of the harness, not a success.
	Killed   bool
	Runs     int // runs made: up to and including the first failing one, else the budget
	Scenario string
	Seed     uint64
	Property string // the failing run's first violated property; "error" if it did not complete
	Message  string
	Wall     time.Duration // of the hunt, shrinking excluded
	// Shrunk is the failing run's plan minimised against the same implementation (zero when
	// not shrunk); ShrinkErr says why shrinking failed.
	Shrunk    Shrunk
	ShrinkErr error
}

// KillMatrix is every mutant's row, in registry order, and the reference's over the same runs.
type KillMatrix struct {
	Seeds     int
	Reference KillRow
	Mutants   []KillRow
}

// Passed reports whether every mutant was killed and the reference failed no run.
func (m KillMatrix) Passed() bool {
	if m.Reference.Killed {
		return false
	}
	for _, r := range m.Mutants {
		if !r.Killed {
			return false
		}
	}
	return true
}

// SeedsToKill returns the median and the largest seeds to kill of the killed mutants (the
// lower middle one for an even count), or zeros when none was killed.
func (m KillMatrix) SeedsToKill() (median, worst int) {
	var runs []int
	for _, r := range m.Mutants {
		if r.Killed {
			runs = append(runs, r.Runs)
		}
	}
	if len(runs) == 0 {
		return 0, 0
	}
	slices.Sort(runs)
	return runs[(len(runs)-1)/2], runs[len(runs)-1]
}

// Kill runs the kill matrix: the reference first, then every mutant. Runs are deterministic,
// so the matrix is the same on every machine apart from wall times (and the failpoints plan,
// whose failpoints fire only in builds that compile them in).
func Kill(opt KillOptions) KillMatrix {
	if opt.Parallel <= 0 {
		opt.Parallel = runtime.GOMAXPROCS(0)
	}
	mutants := reference.Mutants()
	m := KillMatrix{Seeds: opt.Seeds}
	m.Reference = hunt(KillRow{Name: "reference"}, opt)
	if opt.Progress != nil {
		opt.Progress(1, len(mutants)+1)
	}
	for i, mu := range mutants {
		m.Mutants = append(m.Mutants, hunt(KillRow{Name: mu.Name, Origin: mu.Origin, Bugs: mu.Bug}, opt))
		if opt.Progress != nil {
			opt.Progress(i+2, len(mutants)+1)
		}
	}
	if !opt.NoShrink {
		shrinkAll(m.Mutants, opt)
	}
	return m
}

// hunt plays the campaign's runs in order against row's implementation until one fails or
// the budget is spent. Runs go in batches of parallel work; a batch's earliest failing run
// is the first of the whole order, since every earlier batch passed.
func hunt(row KillRow, opt KillOptions) KillRow {
	start := time.Now()
	cat := Catalogue()
	batch := 4 * opt.Parallel
	type result struct {
		out Outcome
		err error
	}
	for from := 0; from < opt.Seeds && !row.Killed; from += batch {
		n := min(batch, opt.Seeds-from)
		results := make([]result, n)
		next := make(chan int)
		var wg sync.WaitGroup
		for range min(opt.Parallel, n) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range next {
					s, seed := runAt(cat, from+j)
					out, err := runSafely(s, seed, Options{Bugs: row.Bugs})
					out.History = nil
					results[j] = result{out, err}
				}
			}()
		}
		for j := range n {
			next <- j
		}
		close(next)
		wg.Wait()
		row.Runs = from + n
		for j, r := range results {
			if r.err == nil && len(r.out.Result.Violations) == 0 {
				continue
			}
			s, seed := runAt(cat, from+j)
			row.Killed, row.Runs, row.Scenario, row.Seed = true, from+j+1, s.Name, seed
			if r.err != nil {
				row.Property, row.Message = "error", r.err.Error()
			} else {
				v := r.out.Result.Violations[0]
				row.Property, row.Message = v.Property, fmt.Sprintf("on %s session %d: %s", v.Node, v.Session, v.Message)
			}
			break
		}
	}
	row.Wall = time.Since(start)
	return row
}

// runAt is run i of the campaign's order.
func runAt(cat []Scenario, i int) (Scenario, uint64) {
	return cat[i%len(cat)], 1 + uint64(i/len(cat))
}

// shrinkAll minimises the counterexample of every killed mutant, several at once: each shrink
// is deterministic and alone on its plan, so the order they finish in changes nothing.
func shrinkAll(rows []KillRow, opt KillOptions) {
	sem := make(chan struct{}, opt.Parallel)
	var wg sync.WaitGroup
	for i := range rows {
		r := &rows[i]
		if !r.Killed || r.Property == "error" {
			continue
		}
		s, _ := Lookup(r.Scenario)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r.Shrunk, r.ShrinkErr = Shrink(s.Build(r.Seed), r.Seed, Options{Bugs: r.Bugs}, 0)
		}()
	}
	wg.Wait()
}

// Markdown writes the matrix as a Markdown table, then the reference's line and the seeds to
// kill.
func (m KillMatrix) Markdown(w io.Writer) error {
	p := &errWriter{w: w}
	p.printf("# Kill matrix\n\n")
	p.printf("The default campaign (every catalogue scenario, seed by seed: run i, from 0, plays scenario i mod S of the S in catalogue order with seed 1 + i div S) against every planted bug, at most %d runs each, stopping at the first kill. Seeds to kill counts the runs up to and including the first that violated a property.\n\n", m.Seeds)
	p.printf("| mutant | killed | property | seeds to kill | scenario | seed | wall | shrunk | origin |\n")
	p.printf("|---|---|---|---:|---|---:|---:|---|---|\n")
	for _, r := range m.Mutants {
		killed, prop, scen, seed := "no", "", "", ""
		if r.Killed {
			killed, prop, scen, seed = "yes", "`"+r.Property+"`", r.Scenario, fmt.Sprint(r.Seed)
		}
		p.printf("| `%s` | %s | %s | %d | %s | %s | %s | %s | %s |\n", r.Name, killed, prop, r.Runs, scen, seed, r.Wall.Round(time.Microsecond), r.ShrunkSize(), r.Origin)
	}
	p.printf("\n%s\n", m.Reference.Verdict())
	if median, worst := m.SeedsToKill(); median > 0 {
		p.printf("\nSeeds to kill: median %d, worst %d.\n", median, worst)
	}
	return p.err
}

// ShrunkSize is the counterexample's size (posts + opens + faults) before and after
// shrinking, or why there is none.
func (r KillRow) ShrunkSize() string {
	switch {
	case r.ShrinkErr != nil:
		return "shrink failed: " + r.ShrinkErr.Error()
	case r.Shrunk.Runs == 0:
		return "-"
	}
	return fmt.Sprintf("%d → %d", r.Shrunk.BeforeSize, r.Shrunk.AfterSize)
}

// Verdict is the reference row in a sentence.
func (r KillRow) Verdict() string {
	if !r.Killed {
		return fmt.Sprintf("The reference passed all %d runs (%s).", r.Runs, r.Wall.Round(time.Millisecond))
	}
	return fmt.Sprintf("The reference FAILED run %d (%s seed %d): %s %s", r.Runs, r.Scenario, r.Seed, r.Property, r.Message)
}

// errWriter keeps the first write error, so a long report needs one check.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
