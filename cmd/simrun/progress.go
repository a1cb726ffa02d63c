package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/reports"
	"github.com/streamsim/streamsim/scenarios"
)

// exitInterrupted is the exit status of a campaign stopped by Ctrl-C before finding a
// violation: it did not pass, it was cut short (128 + SIGINT, as shells report it).
const exitInterrupted = 130

// interruptible returns a channel closed on the first Ctrl-C (or SIGTERM), and a release
// that stops listening. After the first signal the default behaviour is back, so a second
// Ctrl-C kills at once.
func interruptible() (stop <-chan struct{}, release func()) {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ch := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		cancel()
		close(ch)
	}()
	return ch, func() { cancel(); <-done }
}

// status is the line a person watching a terminal sees while a campaign runs; it is nil
// (and prints nothing) when stderr is not a terminal, as in CI.
type status struct {
	w                io.Writer
	start, shown     time.Time
	scenarios, seeds int
	doneSeeds        int // of finished scenarios
	failed           int // of finished scenarios
}

func newStatus(w io.Writer, start time.Time, scenarios, seeds int) *status {
	if !isTerminal(w) {
		return nil
	}
	return &status{w: w, start: start, scenarios: scenarios, seeds: seeds}
}

// show redraws the line at most ten times a second: a campaign finishes thousands of seeds
// a second and the terminal need not see each.
func (s *status) show(i int, name string, done, failed int) {
	if s == nil {
		return
	}
	now := time.Now()
	if now.Sub(s.shown) < 100*time.Millisecond {
		return
	}
	s.shown = now
	all := s.doneSeeds + done
	elapsed := now.Sub(s.start)
	left := "estimating"
	if all > 0 {
		left = "~" + clock(time.Duration(float64(elapsed)/float64(all)*float64(s.seeds-all))) + " left"
	}
	fmt.Fprintf(s.w, "\r\033[K%d/%d scenarios, %d/%d seeds, %d failing | %s (%d seeds) | %s elapsed, %s",
		i, s.scenarios, all, s.seeds, s.failed+failed, name, done, clock(elapsed), left)
}

// finish counts a finished scenario and clears the line for its row.
func (s *status) finish(rep scenarios.Report) {
	if s == nil {
		return
	}
	s.doneSeeds += rep.Seeds
	s.failed += len(rep.Failures)
	s.shown = time.Time{}
	fmt.Fprint(s.w, "\r\033[K")
}

// clock prints a duration as a stopwatch does: 0:42, 12:05, 1:02:03.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// runTable prints one row per scenario as soon as the scenario finishes, so its columns
// have fixed widths instead of being aligned at the end.
type runTable struct {
	w    io.Writer
	name int
	rows int
}

const rowFormat = "%-*s %7s %7s %10s %11s %10s %11s %9s  %s\n"

func newRunTable(w io.Writer, list []scenarios.Scenario) *runTable {
	t := &runTable{w: w, name: len("scenario")}
	for _, s := range list {
		t.name = max(t.name, len(s.Name))
	}
	fmt.Fprintf(w, rowFormat, t.name, "scenario", "seeds", "failed", "violations", "delivered", "wall", "sim msgs/s", "sim/wall", "hash")
	return t
}

func (t *runTable) row(r scenarios.Report) {
	t.rows++
	fmt.Fprintf(t.w, rowFormat, t.name, r.Scenario, fmt.Sprint(r.Seeds), fmt.Sprint(r.Failed), fmt.Sprint(r.Violations),
		fmt.Sprint(r.Delivered), reports.Duration(r.Wall), fmt.Sprintf("%.0f", r.MsgsPerSec()), fmt.Sprintf("%.0fx", r.Compression()), fmt.Sprintf("%016x", r.Hash))
}

func (t *runTable) total(r scenarios.Report) {
	if t.rows < 2 {
		return
	}
	fmt.Fprintf(t.w, rowFormat, t.name, "total", fmt.Sprint(r.Seeds), fmt.Sprint(r.Failed), fmt.Sprint(r.Violations),
		fmt.Sprint(r.Delivered), reports.Duration(r.Wall), fmt.Sprintf("%.0f", r.MsgsPerSec()), fmt.Sprintf("%.0fx", r.Compression()), "")
}

func situationNames() []string {
	var names []string
	for _, s := range scenarios.Situations() {
		names = append(names, s.Name)
	}
	return names
}

// latencies gathers the campaign's latency histograms from the workers' histories.
type latencies struct {
	mu  sync.Mutex
	sum reports.Latency
}

func (l *latencies) observe(h checker.History) {
	m := reports.MeasureLatency(h)
	l.mu.Lock()
	l.sum.Merge(m)
	l.mu.Unlock()
}

func (l *latencies) total() reports.Latency {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sum
}

// verdict is the campaign's last line, readable at a glance: PASS, FAIL or STOPPED first.
func verdict(s reports.Summary, wall time.Duration) string {
	seeds, violations := 0, 0
	var failingScenarios []string
	for _, r := range s.Scenarios {
		seeds += r.Seeds()
		violations += r.Violations
	}
	for _, f := range s.Failures {
		if len(failingScenarios) == 0 || failingScenarios[len(failingScenarios)-1] != f.Scenario {
			failingScenarios = append(failingScenarios, f.Scenario)
		}
	}
	var b strings.Builder
	switch {
	case violations > 0:
		names := strings.Join(failingScenarios[:min(3, len(failingScenarios))], ", ")
		if len(failingScenarios) > 3 {
			names += fmt.Sprintf(" and %d more", len(failingScenarios)-3)
		}
		fmt.Fprintf(&b, "FAIL: %d of %d seeds failed (%d violations) in %d of %d scenarios (%s)",
			len(s.Failures), seeds, violations, len(failingScenarios), len(s.Scenarios), names)
	case s.Partial:
		fmt.Fprintf(&b, "STOPPED: no violation in the %d seeds of %d scenarios that finished", seeds, len(s.Scenarios))
	default:
		fmt.Fprintf(&b, "PASS: %d seeds of %d scenarios, no violation", seeds, len(s.Scenarios))
	}
	if s.Partial && violations > 0 {
		b.WriteString(" (stopped early)")
	}
	fmt.Fprintf(&b, " in %s", reports.Duration(wall))
	return b.String()
}
