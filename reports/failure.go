package reports

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/streamsim/streamsim/checker"
)

// HistoryWriter writes a history as JSON Lines; checker.WriteHistory is one.
type HistoryWriter func(io.Writer, checker.History) error

// DefaultWindow is how many events a failure report keeps on each side of the first
// violation when Failure.Window is zero: enough to hold a handover under steady traffic,
// small enough that report.html stays well under 5 MB.
const DefaultWindow = 2000

// Failure is one failing run, with everything its report shows.
type Failure struct {
	Scenario string
	Seed     uint64
	Impl     string // "reference" or "mutant:NAME"
	Hash     uint64 // the run's trace hash
	// Plan is written to plan.json as indented JSON; a scenarios.Plan makes the failure
	// replayable from that file alone.
	Plan    any
	History checker.History
	Result  checker.Result
	Err     string // set when the run could not complete; History may then be empty
	// Porcupine is porcupine's HTML visualization, nil when porcupine did not run, and
	// PorcupineVerdict its answer: "ok", "illegal" or "unknown".
	Porcupine        []byte
	PorcupineVerdict string
	// Replay overrides the replay command shown, for runs simrun replay cannot redo.
	Replay string
	// Window is how many events to keep on each side of the first violation, and the cap
	// on events kept from elsewhere; 0 means DefaultWindow. Beyond it the 5 MB budget of
	// report.html no longer holds.
	Window int
	// RealTime is set for a run played in real time (simrun validate), whose history does
	// not say what the machine and the fault proxies did.
	RealTime *RealTime
}

// VerdictInconclusive is how results.json, schedule.txt and RealTime spell the verdict of a
// real-time run whose only violations rest on timing, on a machine measured too slow to
// judge them. report.html shows such a run as inconclusive, never as a failure.
const VerdictInconclusive = "inconclusive"

// RealTime is what a run on real processes adds to its report: it cannot be replayed bit for
// bit, so the report keeps what shaped it.
type RealTime struct {
	// Verdict is "fail" or VerdictInconclusive.
	Verdict string
	// Figures say how late the machine ran and the liveness bound that followed; Latency is
	// the implementation's own.
	Figures, Latency string
	// Schedule is the faults the proxies applied, in order, with their real times.
	Schedule []string
	// NotReproduced is what the plan asked for that the run could not do.
	NotReproduced []string
}

// FailureDir is the directory WriteFailure writes f's files to under dir. It names the
// implementation, so failures of runs against different ones never share a directory.
func FailureDir(dir string, f Failure) string {
	return filepath.Join(dir, "failures", fmt.Sprintf("%s-%d-%s", safeName(f.Scenario), f.Seed, safeName(cmp.Or(f.Impl, "reference"))))
}

// safeName keeps a scenario name from escaping the failures directory or from being
// awkward in a shell.
func safeName(s string) string {
	s = strings.Trim(s, ".")
	if s == "" {
		return "unnamed"
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

// WriteFailure writes FailureDir(dir, f) with plan.json, history.jsonl (the window of the
// history around the first violation, written by writeHistory) and report.html. A porcupine
// visualization too large to embed goes to porcupine.html beside the report.
func WriteFailure(dir string, f Failure, writeHistory HistoryWriter) error {
	if writeHistory == nil {
		return errors.New("reports: WriteFailure needs a HistoryWriter")
	}
	if f.Window <= 0 {
		f.Window = DefaultWindow
	}
	out := FailureDir(dir, f)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	plan, err := json.MarshalIndent(f.Plan, "", "  ")
	if err != nil {
		return fmt.Errorf("plan.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "plan.json"), append(plan, '\n'), 0o644); err != nil {
		return err
	}
	w := selectWindow(f.History, firstViolation(f), f.Window)
	sub := make(checker.History, len(w.idx))
	for i, k := range w.idx {
		sub[i] = f.History[k]
	}
	if err := writeFile(filepath.Join(out, "history.jsonl"), func(wr io.Writer) error { return writeHistory(wr, sub) }); err != nil {
		return fmt.Errorf("history.jsonl: %w", err)
	}
	p := buildPage(f, w)
	if p.Porcupine.File != "" {
		if err := os.WriteFile(filepath.Join(out, p.Porcupine.File), f.Porcupine, 0o644); err != nil {
			return err
		}
	}
	return writeFile(filepath.Join(out, "report.html"), func(wr io.Writer) error { return pageTemplate.Execute(wr, p) })
}

// writeFile creates path and fills it through a buffer, reporting the first error of
// writing, flushing or closing.
func writeFile(path string, fill func(io.Writer) error) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(fh)
	err = fill(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return err
}

// firstViolation is the history index the window centres on: the earliest offending event,
// or the last event when there is no violation (a run that stopped with an error), or -1 for
// an empty history.
func firstViolation(f Failure) int {
	c := -1
	for _, v := range f.Result.Violations {
		if v.Index >= 0 && v.Index < len(f.History) && (c < 0 || v.Index < c) {
			c = v.Index
		}
	}
	if c < 0 {
		c = len(f.History) - 1
	}
	return c
}

// window is the part of a history a failure report keeps.
type window struct {
	total   int   // events in the whole history
	lo, hi  int   // indices kept in full, inclusive; hi < lo when nothing is kept
	idx     []int // every kept index, ascending
	extra   int   // kept indices outside lo..hi
	dropped int   // events the window's sessions need that the cap left out
	limit   int   // the cap on extra events
}

// selectWindow keeps the events within n of centre, and from the rest of the history what
// the sessions in that range need to be understood: their opens, phases, controls, states
// and closes, the faults, crashes and restarts of their nodes and of the posting server
// since the first of them opened, and the posts and post acknowledgements of the seqs they
// deliver there. Those extra events are capped at n, nearest to the range first, the
// session structure before the posts.
func selectWindow(h checker.History, centre, n int) window {
	w := window{total: len(h), lo: 0, hi: -1, limit: n}
	if centre < 0 {
		return w
	}
	w.lo, w.hi = max(0, centre-n), min(len(h)-1, centre+n)
	sessions := map[int64]bool{}
	nodes := map[string]bool{}
	seqs := map[int64]bool{}
	for _, e := range h[w.lo : w.hi+1] {
		switch {
		case e.Session != 0:
			sessions[e.Session] = true
			nodes[e.Node] = true
			if e.Kind == checker.EvDeliver || e.Kind == checker.EvControl {
				seqs[e.Seq] = true
			}
		case e.Kind == checker.EvPost || e.Kind == checker.EvPostOK:
			nodes[e.Node] = true
		}
	}
	firstOpen := w.lo
	for i, e := range h[:w.lo] {
		if e.Kind == checker.EvOpen && sessions[e.Session] {
			firstOpen = i
			break
		}
	}
	type cand struct {
		class, dist, i int
	}
	var cands []cand
	add := func(class, i int) {
		d := w.lo - i
		if i > w.hi {
			d = i - w.hi
		}
		cands = append(cands, cand{class, d, i})
	}
	inside := func(i int) bool { return i >= w.lo && i <= w.hi }
	for i := range h {
		e := &h[i]
		switch e.Kind {
		case checker.EvPostOK:
			// A post_ok inside the range may still have its post outside.
			if seqs[e.Seq] {
				if !inside(i) {
					add(1, i)
				}
				if k := postOf(h, i); k >= 0 && !inside(k) {
					add(1, k)
				}
			}
		case checker.EvOpen, checker.EvControl, checker.EvState, checker.EvClose, checker.EvPhase:
			if sessions[e.Session] && !inside(i) {
				add(0, i)
			}
		case checker.EvFault, checker.EvCrash, checker.EvRestart:
			if nodes[e.Node] && i >= firstOpen && i < w.lo {
				add(0, i)
			}
		}
	}
	slices.SortFunc(cands, func(a, b cand) int {
		return cmp.Or(cmp.Compare(a.class, b.class), cmp.Compare(a.dist, b.dist), cmp.Compare(a.i, b.i))
	})
	if len(cands) > n {
		w.dropped = len(cands) - n
		cands = cands[:n]
	}
	w.extra = len(cands)
	w.idx = make([]int, 0, w.hi-w.lo+1+len(cands))
	for i := w.lo; i <= w.hi; i++ {
		w.idx = append(w.idx, i)
	}
	for _, c := range cands {
		w.idx = append(w.idx, c.i)
	}
	slices.Sort(w.idx)
	return w
}

// postOf is the index of the post that the post_ok at i acknowledges, or -1: the node's last
// post before it, since a server application posts one message at a time.
func postOf(h checker.History, i int) int {
	for k := i - 1; k >= 0; k-- {
		p := &h[k]
		if p.Node != h[i].Node {
			continue
		}
		switch p.Kind {
		case checker.EvPost:
			return k
		case checker.EvPostOK, checker.EvPostErr:
			return -1
		}
	}
	return -1
}
