package reports

import (
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"slices"
	"strconv"
	"strings"

	"github.com/streamsim/streamsim/checker"
)

// page is everything report.html shows, computed in Go so the template only places strings
// that html/template escapes.
type page struct {
	Scenario, Impl, Hash, Replay string
	Seed                         uint64
	Verdict, VerdictClass        string
	Err                          string
	Stats                        string
	Violations                   []violationView
	Window                       string
	Timeline                     timeline
	Rows                         []row
	Filters                      filters
	LeftOutAfter                 int // events after the last row
	Porcupine                    porcupineView
	RealTime                     *RealTime
}

type violationView struct {
	N        int
	Property string
	Node     string
	Session  int64
	Index    int
	Message  string
	Shown    bool // the offending event is in the window
}

// row is one event of the table; Gap > 0 says that many events were left out before it.
// Missing names the seqs a delivery skipped over.
type row struct {
	Gap                                         int
	Index                                       int
	T, Node, Session, Kind, Seq, Detail, Broken string
	Missing                                     string
	Class                                       string
}

// filters are the choices of the events table's filters: every node, session and kind in the
// kept events.
type filters struct {
	Nodes, Sessions, Kinds []string
}

func buildFilters(h checker.History, idx []int) filters {
	var f filters
	seen := map[string]bool{}
	add := func(list *[]string, prefix, v string) {
		if v != "" && !seen[prefix+v] {
			seen[prefix+v] = true
			*list = append(*list, v)
		}
	}
	for _, k := range idx {
		fl := Fields(h[k])
		add(&f.Nodes, "n", fl.Node)
		add(&f.Sessions, "s", fl.Session)
		add(&f.Kinds, "k", fl.Kind)
	}
	slices.Sort(f.Nodes)
	// Session ids sort as numbers: shorter first, then by digits.
	slices.SortFunc(f.Sessions, func(a, b string) int { return cmp.Or(cmp.Compare(len(a), len(b)), cmp.Compare(a, b)) })
	slices.Sort(f.Kinds)
	return f
}

// gap is the seqs a session's delivery skipped: stored seqs above the session's previous
// delivery and below this one.
type gap struct {
	first, last int64 // the missing seqs' range
	count       int
}

func (g gap) text() string {
	if g.count == 1 {
		return fmt.Sprintf("seq %d missing", g.first)
	}
	return fmt.Sprintf("%d seqs missing (%d..%d)", g.count, g.first, g.last)
}

// findGaps maps each delivery that skipped stored seqs to what it skipped. A seq counts as
// stored once its post_ok is in the history; sessions are followed separately.
func findGaps(h checker.History) map[int]gap {
	var stored []int64 // sorted
	last := map[int64]int64{}
	gaps := map[int]gap{}
	for i, e := range h {
		switch e.Kind {
		case checker.EvPostOK:
			if at, found := slices.BinarySearch(stored, e.Seq); !found {
				stored = slices.Insert(stored, at, e.Seq)
			}
		case checker.EvOpen:
			delete(last, e.Session)
		case checker.EvDeliver:
			prev, ok := last[e.Session]
			last[e.Session] = e.Seq
			if !ok || e.Seq <= prev+1 {
				continue
			}
			lo, _ := slices.BinarySearch(stored, prev+1)
			hi, _ := slices.BinarySearch(stored, e.Seq)
			if hi > lo {
				gaps[i] = gap{first: stored[lo], last: stored[hi-1], count: hi - lo}
			}
		}
	}
	return gaps
}

type porcupineView struct {
	Verdict, Class string
	Srcdoc         string // the visualization, embedded
	File           string // or the file beside the report holding it, when too large to embed
}

// porcupineInline is the largest escaped visualization report.html embeds; beyond it the
// page would break its 5 MB budget.
const porcupineInline = 2 << 20

func buildPage(f Failure, w window) page {
	p := page{
		Scenario: f.Scenario, Impl: f.Impl, Seed: f.Seed, Err: f.Err, RealTime: f.RealTime,
		Hash:   fmt.Sprintf("%016x", f.Hash),
		Replay: cmp.Or(f.Replay, ReplayCommand(f.Scenario, f.Seed, f.Impl)),
		Stats: fmt.Sprintf("%d events, %d sessions, %d deliveries, %d posts stored",
			len(f.History), f.Result.Sessions, f.Result.Delivered, f.Result.Posts),
	}
	switch n := len(f.Result.Violations); {
	case f.RealTime != nil && f.RealTime.Verdict == VerdictInconclusive:
		// Timing violations, or a command left unanswered, on a machine too slow to judge
		// them: shown, not counted.
		p.Verdict, p.VerdictClass = "INCONCLUSIVE: the machine ran too late to judge the timing", "inconclusive"
	case n > 0:
		p.Verdict, p.VerdictClass = fmt.Sprintf("FAIL: %d violation%s", n, plural(n)), "fail"
	case f.Err != "":
		p.Verdict, p.VerdictClass = "ERROR: the run could not complete", "fail"
	default:
		p.Verdict, p.VerdictClass = "PASS", "pass"
	}
	pos := make(map[int]int, len(w.idx)) // history index → position in the window
	for i, k := range w.idx {
		pos[k] = i
	}
	broken := map[int][]string{}
	for i, v := range f.Result.Violations {
		_, shown := pos[v.Index]
		p.Violations = append(p.Violations, violationView{i, v.Property, v.Node, v.Session, v.Index, v.Message, shown})
		broken[v.Index] = append(broken[v.Index], v.Property)
	}
	p.Window = describeWindow(w)
	gaps := findGaps(f.History)
	p.Timeline = buildTimeline(f, w, pos, gaps)
	p.Filters = buildFilters(f.History, w.idx)
	prev := -1
	for _, k := range w.idx {
		fl := Fields(f.History[k])
		r := row{Gap: k - prev - 1, Index: k, T: fl.T, Node: fl.Node, Session: fl.Session, Kind: fl.Kind, Seq: fl.Seq, Detail: fl.Detail}
		prev = k
		if m, ok := gaps[k]; ok {
			r.Missing = m.text()
		}
		if k < w.lo || k > w.hi {
			r.Class = "extra"
		}
		if b := broken[k]; len(b) > 0 {
			r.Class, r.Broken = "violation", strings.Join(b, ", ")
		}
		p.Rows = append(p.Rows, r)
	}
	p.LeftOutAfter = len(f.History) - 1 - prev
	p.Porcupine = porcupineView{Verdict: f.PorcupineVerdict}
	switch f.PorcupineVerdict {
	case "ok", "illegal", "unknown":
		p.Porcupine.Class = f.PorcupineVerdict
	case "":
		p.Porcupine.Verdict = "not run"
	}
	if len(f.Porcupine) > 0 {
		if len(template.HTMLEscapeString(string(f.Porcupine))) <= porcupineInline {
			p.Porcupine.Srcdoc = deferredPage(f.Porcupine)
		} else {
			p.Porcupine.File = "porcupine.html"
		}
	}
	return p
}

// deferredPage wraps a page for a frame so that it is written only once the frame can lay
// text out. Porcupine sizes its boxes by measuring its labels as its page loads; a sandboxed
// frame can load before the report around it has given it a size, and then every label
// measures nothing and lands on its neighbours. A size alone is not enough: on a busy machine
// Chromium gives the frame its width some tens of milliseconds before SVG text measures
// anything, so the wrapper measures a word itself and waits until it has a width. Ten seconds
// after the wrapper started it writes the page anyway, however seldom a throttled frame's
// timers ran: overlapping labels tell more than an empty frame. The JSON string cannot end
// the script early: json.Marshal writes < and > as escapes.
func deferredPage(page []byte) string {
	js, _ := json.Marshal(string(page))
	return `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><script>
var page = ` + string(js) + `, since = Date.now();
function measures() {
  var ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg"), text = document.createElementNS(ns, "text");
  text.textContent = "seq";
  svg.appendChild(text);
  document.body.appendChild(svg);
  var width = text.getBBox().width;
  document.body.removeChild(svg);
  return width > 0;
}
function show() {
  if ((document.documentElement.clientWidth === 0 || !measures()) && Date.now() - since < 10000) { setTimeout(show, 50); return; }
  document.open(); document.write(page); document.close();
}
window.addEventListener("load", show);
</script></body></html>`
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func describeWindow(w window) string {
	if len(w.idx) == 0 {
		return "The history is empty."
	}
	s := fmt.Sprintf("Kept in full: events %d..%d of %d.", w.lo, w.hi, w.total)
	if w.extra > 0 || w.dropped > 0 {
		s += fmt.Sprintf(" Kept from elsewhere: %d events the sessions there need (their opens, phases, controls and states, earlier faults of their nodes, the posts of the seqs they deliver)", w.extra)
		if w.dropped > 0 {
			s += fmt.Sprintf("; %d more were cut by the cap of %d", w.dropped, w.limit)
		}
		s += "."
	}
	if cut := w.total - len(w.idx); cut > 0 {
		s += fmt.Sprintf(" Left out: %d events. history.jsonl holds the same events, so checking it alone can report violations the cut causes; the replay command reproduces the whole run.", cut)
	}
	return s
}

func hasSeq(k checker.Kind) bool {
	switch k {
	case checker.EvPost, checker.EvPostOK, checker.EvDeliver, checker.EvControl, checker.EvPhase:
		return true
	}
	return false
}

// detail lists the fields of e that its kind gives a meaning, besides those with columns.
func detail(e checker.Event) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	switch e.Kind {
	case checker.EvPost, checker.EvPostOK, checker.EvDeliver:
		add("msgid", strconv.FormatInt(int64(e.MsgID), 10))
		add("sum", fmt.Sprintf("%08x", e.Sum))
	case checker.EvOpen:
		add("mode", e.Mode.String())
		if e.Mode == checker.ModeSeq || e.Mode == checker.ModeSeqData {
			add("seq", strconv.FormatInt(e.ReqSeq, 10))
		}
	case checker.EvControl, checker.EvPhase, checker.EvFault:
		add("name", e.Name)
	case checker.EvState:
		add("state", e.State.String())
	}
	add("reason", e.Reason)
	return strings.Join(parts, " ")
}

// formatT shows a history time in milliseconds, with as many decimals as it needs down to the
// nanosecond (1.8 ms, 36.558 ms, 0.000125 ms): a timestamp keeps its precision, unlike a
// Duration, and the unit is spelt as people write it.
func formatT(ns int64) string {
	sign := ""
	u := uint64(ns)
	if ns < 0 {
		sign, u = "-", -u
	}
	frac := strings.TrimRight(fmt.Sprintf("%06d", u%1e6), "0")
	if frac == "" {
		return fmt.Sprintf("%s%d ms", sign, u/1e6)
	}
	return fmt.Sprintf("%s%d.%s ms", sign, u/1e6, frac)
}

// EventFields is one history event as the report's events table and simrun replay print it,
// so the two read alike and number events the same way.
type EventFields struct {
	T, Node, Session, Kind, Seq, Detail string
}

// Fields formats e for a table.
func Fields(e checker.Event) EventFields {
	f := EventFields{T: formatT(e.T), Node: e.Node, Kind: e.Kind.String(), Detail: detail(e)}
	if e.Session != 0 {
		f.Session = strconv.FormatInt(e.Session, 10)
	}
	if hasSeq(e.Kind) {
		f.Seq = strconv.FormatInt(e.Seq, 10)
	}
	return f
}

// timeline is the SVG drawn around the handover. Its x axis is the order of the kept events,
// not their time: in a simulation many events share one instant, and a duplicate delivery
// drawn on time alone would sit exactly on the original. Ticks give the times.
type timeline struct {
	Width, Height, NamesWidth string
	Lanes                     []svgRect
	Names                     []svgText
	Lines                     []svgLine
	Dots                      []svgDot
	Shapes                    []svgPoly
	Texts                     []svgText
	Marks                     []svgMark
}

type svgRect struct {
	X, Y, W, H, Class string
}

type svgLine struct {
	X1, Y1, X2, Y2, Class string
}

type svgDot struct {
	X, Y, R, Class, Title string
}

type svgPoly struct {
	Points, Class, Title string
}

type svgText struct {
	X, Y, Class, Text string
}

// svgMark rings the offending event of violation N.
type svgMark struct {
	N          int
	X, Y       string
	Title      string
	BandX      string
	BandY      string
	BandW      string
	BandHeight string
}

// Timeline geometry, in pixels.
const (
	tlAxisH    = 28.0 // time ticks on top
	tlLabelRow = 11.0 // one row of mark labels
	tlLabelRws = 4    // label rows above a lane's data
	tlDataH    = 60.0 // where seqs are plotted
	tlLaneGap  = 6.0
	tlFootH    = 26.0 // fault labels below the lanes
	tlCharW    = 6.0  // estimated width of a 10px label character
	tlNameW    = 7.0  // estimated width of a 12px lane name character
)

// laneH is one lane: its label rows, then the data.
const laneH = tlLabelRws*tlLabelRow + 4 + tlDataH + 4

func px(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// buildTimeline lays out one lane for the server's posts and one per client session, in the
// order they first appear, with seqs on the y axis of each lane on one shared scale. The lane
// names go in a separate column so they stay in view while the timeline scrolls.
func buildTimeline(f Failure, w window, pos map[int]int, gaps map[int]gap) timeline {
	h := f.History
	n := len(w.idx)
	step := min(24, max(2, 1200/float64(max(n, 1))))
	x := func(p int) float64 { return 12 + float64(p)*step }

	lane := map[int64]int{0: 0}
	names := []string{"server posts"}
	var lo, hi int64
	seen := false
	for _, k := range w.idx {
		e := h[k]
		if e.Session != 0 {
			if _, ok := lane[e.Session]; !ok {
				lane[e.Session] = len(names)
				names = append(names, fmt.Sprintf("%s session %d", e.Node, e.Session))
			}
		}
		// The seq scale fits the events kept in full: an Online long after them would
		// squash them into a line.
		if k < w.lo || k > w.hi {
			continue
		}
		if e.Kind == checker.EvPostOK || e.Kind == checker.EvDeliver || e.Kind == checker.EvControl {
			if !seen || e.Seq < lo {
				lo = e.Seq
			}
			if !seen || e.Seq > hi {
				hi = e.Seq
			}
			seen = true
		}
	}
	laneTop := func(l int) float64 { return tlAxisH + float64(l)*(laneH+tlLaneGap) }
	dataTop := func(l int) float64 { return laneTop(l) + tlLabelRws*tlLabelRow + 4 }
	y := func(l int, seq int64) float64 {
		if hi == lo {
			return dataTop(l) + tlDataH/2
		}
		seq = min(hi, max(lo, seq))
		return dataTop(l) + tlDataH - float64(seq-lo)/float64(hi-lo)*tlDataH
	}
	lanesH := laneTop(len(names)) - tlLaneGap
	longest := 0
	for _, name := range names {
		longest = max(longest, len(name))
	}
	namesW := min(280, max(140, float64(longest)*tlNameW+16))
	t := timeline{
		Width:      px(x(n) + 12),
		Height:     px(lanesH + tlFootH),
		NamesWidth: px(namesW),
	}
	for l, name := range names {
		t.Lanes = append(t.Lanes, svgRect{X: "0", Y: px(laneTop(l)), W: t.Width, H: px(laneH), Class: "lane"})
		t.Names = append(t.Names, svgText{X: "6", Y: px(laneTop(l) + laneH/2 + 4), Class: "lanename", Text: name})
		if seen {
			t.Names = append(t.Names,
				svgText{X: px(namesW - 4), Y: px(dataTop(l) + 8), Class: "seq", Text: strconv.FormatInt(hi, 10)},
				svgText{X: px(namesW - 4), Y: px(dataTop(l) + tlDataH), Class: "seq", Text: strconv.FormatInt(lo, 10)})
		}
	}
	tickEvery := max(1, int(120/step))
	for p := 0; p < n; p += tickEvery {
		t.Lines = append(t.Lines, svgLine{px(x(p)), px(tlAxisH - 6), px(x(p)), px(lanesH), "tick"})
		t.Texts = append(t.Texts, svgText{X: px(x(p) + 2), Y: px(tlAxisH - 10), Class: "time", Text: formatT(h[w.idx[p]].T)})
	}

	// Labels of neighbouring marks would overprint each other: each goes to the first of a
	// lane's label rows that is free at its x, or the row that frees up first.
	ends := make([][tlLabelRws]float64, len(names))
	label := func(l int, xv float64, class, s string) {
		r := 0
		for i := range tlLabelRws {
			if ends[l][i] <= xv {
				r = i
				break
			}
			if ends[l][i] < ends[l][r] {
				r = i
			}
		}
		ends[l][r] = xv + float64(len(s))*tlCharW + 4
		t.Texts = append(t.Texts, svgText{X: px(xv + 2), Y: px(laneTop(l) + float64(r+1)*tlLabelRow), Class: class, Text: s})
	}
	footEnd := 0.0
	across := func(xv float64, class, s string) {
		t.Lines = append(t.Lines, svgLine{px(xv), px(tlAxisH), px(xv), px(lanesH + 4), class})
		ty := lanesH + 14
		if xv < footEnd {
			ty += tlLabelRow
		}
		footEnd = xv + float64(len(s))*tlCharW + 4
		t.Texts = append(t.Texts, svgText{X: px(xv + 2), Y: px(ty), Class: class, Text: s})
	}
	vline := func(l int, xv float64, class string) {
		t.Lines = append(t.Lines, svgLine{px(xv), px(laneTop(l) + 2), px(xv), px(dataTop(l) + tlDataH), class})
	}
	at := make([]float64, n) // y of each event's mark, where the violation ring goes
	for p, k := range w.idx {
		e := h[k]
		xv := x(p)
		l := lane[e.Session]
		at[p] = dataTop(l) + tlDataH/2
		title := fmt.Sprintf("#%d %s %s %s", k, formatT(e.T), e.Node, e.Kind)
		if hasSeq(e.Kind) {
			at[p] = y(l, e.Seq)
			title += " seq " + strconv.FormatInt(e.Seq, 10)
		}
		if g, ok := gaps[k]; ok {
			// The hole goes where the first missing seq would have been delivered.
			t.Dots = append(t.Dots, svgDot{X: px(xv - step/2), Y: px(y(l, g.first)), R: "4", Class: "missing", Title: g.text()})
			label(l, xv-step/2, "missing", g.text())
		}
		switch e.Kind {
		case checker.EvPost, checker.EvPostOK, checker.EvPostErr, checker.EvDeliver:
			t.Dots = append(t.Dots, svgDot{X: px(xv), Y: px(at[p]), R: "2.5", Class: strings.ReplaceAll(e.Kind.String(), "_", ""), Title: title})
		case checker.EvControl:
			class := "ctl"
			if e.Name == checker.CtlOnline {
				class = "online"
				vline(l, xv, "online")
			}
			t.Shapes = append(t.Shapes, svgPoly{Points: diamond(xv, at[p], 5), Class: class, Title: title + " " + e.Name})
			label(l, xv, class, fmt.Sprintf("%s %d", e.Name, e.Seq))
		case checker.EvPhase:
			vline(l, xv, "phase")
			label(l, xv, "phase", fmt.Sprintf("%s %d", e.Name, e.Seq))
		case checker.EvState:
			class := "state-" + strings.ToLower(e.State.String())
			if e.State != checker.StActive && e.State != checker.StError && e.State != checker.StClosed {
				class = "state-other"
			}
			vline(l, xv, class)
			s := e.State.String()
			if e.Reason != "" {
				s += ": " + e.Reason
			}
			label(l, xv, class, s)
		case checker.EvOpen:
			vline(l, xv, "open")
			s := "open " + e.Mode.String()
			if e.Mode == checker.ModeSeq || e.Mode == checker.ModeSeqData {
				s += " " + strconv.FormatInt(e.ReqSeq, 10)
			}
			label(l, xv, "open", s)
		case checker.EvClose:
			vline(l, xv, "open")
			label(l, xv, "open", "close")
		case checker.EvFault:
			across(xv, "fault", strings.TrimSpace(fmt.Sprintf("%s %s %s", e.Name, e.Node, e.Reason)))
		case checker.EvCrash, checker.EvRestart:
			across(xv, e.Kind.String(), e.Kind.String()+" "+e.Node)
		}
	}
	for i, v := range f.Result.Violations {
		p, ok := pos[v.Index]
		if !ok {
			continue
		}
		l := lane[h[v.Index].Session]
		t.Marks = append(t.Marks, svgMark{
			N: i, X: px(x(p)), Y: px(at[p]),
			Title: fmt.Sprintf("violation %d: %s: %s", i, v.Property, v.Message),
			BandX: px(x(p) - 6), BandY: px(laneTop(l)), BandW: "12", BandHeight: px(laneH),
		})
	}
	return t
}

func diamond(x, y, r float64) string {
	return fmt.Sprintf("%s,%s %s,%s %s,%s %s,%s", px(x), px(y-r), px(x+r), px(y), px(x), px(y+r), px(x-r), px(y))
}

var pageTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>streamsim: {{.Scenario}} seed {{.Seed}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222;background:#fff}
h1{font-size:20px;margin:0 0 8px}
h2{font-size:16px;margin:20px 0 6px}
h3{font-size:14px;margin:12px 0 4px}
code{font:13px ui-monospace,monospace;background:#f2f2f2;padding:1px 4px}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px;margin:0}
dt{color:#666}
dd{margin:0}
.fail{color:#b00020;font-weight:bold}
.pass,.ok{color:#087a2b;font-weight:bold}
.illegal{color:#b00020;font-weight:bold}
.unknown,.inconclusive{color:#a06000;font-weight:bold}
ol.schedule{margin:4px 0;padding-left:24px}
ol.violations{margin:4px 0;padding-left:24px}
.note{color:#555;max-width:70em}
.tl{display:flex;border:1px solid #ddd}
#timeline-box{overflow-x:auto;flex:1}
#timeline,#timeline-names{display:block;flex:none;font:10px ui-monospace,monospace}
.tl .lane{fill:#f5f6f8}
.tl .lanename{font:12px system-ui,sans-serif;fill:#222}
.tl .seq{fill:#777;text-anchor:end}
#timeline .time{fill:#777}
#timeline .tick{stroke:#e2e2e2}
#timeline .post{fill:#fff;stroke:#777}
#timeline .postok{fill:#555}
#timeline .posterr{fill:#e00}
#timeline .deliver{fill:#1f6fd1}
#timeline polygon.ctl{fill:#888}
#timeline polygon.online{fill:#0a0;stroke:#050}
#timeline line.online{stroke:#0a0;stroke-width:2}
#timeline line.phase{stroke:#7c4ddb;stroke-dasharray:3 2}
#timeline line.open{stroke:#333}
#timeline line.state-active{stroke:#1f6fd1}
#timeline line.state-error{stroke:#e00;stroke-width:2}
#timeline line.state-closed,#timeline line.state-other{stroke:#555}
#timeline line.fault{stroke:#e07000;stroke-dasharray:6 3;stroke-width:1.5}
#timeline line.crash{stroke:#e00;stroke-width:2}
#timeline line.restart{stroke:#0a0;stroke-width:2}
#timeline text.online{fill:#070}
#timeline text.phase{fill:#7c4ddb}
#timeline text.state-error,#timeline text.crash{fill:#c00}
#timeline text.fault{fill:#c05a00}
#timeline .band{fill:#d6007e;fill-opacity:.12}
#timeline circle.violation{fill:none;stroke:#d6007e;stroke-width:3}
#timeline circle.missing{fill:#fff;stroke:#e00;stroke-width:2;stroke-dasharray:2 2}
#timeline text.missing{fill:#c00;font-weight:bold}
td.missing{color:#c00;font-weight:bold}
.filters label{margin-right:14px}
tr.hidden{display:none}
.legend span{margin-right:14px;white-space:nowrap}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:-1px}
table{border-collapse:collapse;font:12px ui-monospace,monospace}
th,td{padding:1px 8px;text-align:left;border-bottom:1px solid #eee}
th{position:sticky;top:0;background:#fafafa}
td.n{text-align:right}
tr.extra td{color:#777}
tr.gap td{color:#777;font-style:italic;text-align:center;background:#fafafa}
tr.violation td{background:#ffd3e8;font-weight:bold}
iframe{width:100%;height:70vh;min-height:420px;border:1px solid #ddd}
</style>
</head>
<body>
<h1>{{.Scenario}} seed {{.Seed}}</h1>
<dl>
<dt>verdict</dt><dd class="{{.VerdictClass}}">{{.Verdict}}</dd>
<dt>impl</dt><dd>{{.Impl}}</dd>
<dt>trace hash</dt><dd><code>{{.Hash}}</code></dd>
<dt>run</dt><dd>{{.Stats}}</dd>
{{- if .Err}}
<dt>error</dt><dd class="fail">{{.Err}}</dd>
{{- end}}
<dt>replay</dt><dd><code>{{.Replay}}</code></dd>
<dt>porcupine</dt><dd class="{{.Porcupine.Class}}">{{.Porcupine.Verdict}}</dd>
</dl>
{{- if .Violations}}
<ol class="violations" start="0">
{{- range .Violations}}
<li><b>{{.Property}}</b> on {{.Node}} session {{.Session}} at <a href="#ev-{{.Index}}">event {{.Index}}</a>{{if .Shown}} (<a href="#violation-{{.N}}">timeline</a>){{else}} (outside the window){{end}}: {{.Message}}</li>
{{- end}}
</ol>
{{- end}}
<p class="note">{{.Window}}</p>
{{- with .RealTime}}

<h2 id="real-time">Real time</h2>
<dl>
<dt>machine</dt><dd>{{.Figures}}</dd>
<dt>implementation</dt><dd>{{.Latency}}</dd>
</dl>
<h3 id="schedule">Fault schedule</h3>
{{- if .Schedule}}
<p class="note">What the fault proxies did, in order; times from the start of the plan.</p>
<ol class="schedule">
{{- range .Schedule}}
<li><code>{{.}}</code></li>
{{- end}}
</ol>
{{- else}}
<p class="note">The proxies applied no fault.</p>
{{- end}}
{{- if .NotReproduced}}
<h3>Not reproduced</h3>
<ul>
{{- range .NotReproduced}}
<li>{{.}}</li>
{{- end}}
</ul>
{{- end}}
{{- end}}

<h2>Timeline</h2>
<p class="legend"><span><i style="background:#555"></i>post acknowledged</span><span><i style="background:#1f6fd1"></i>delivery (height: seq)</span><span><i style="background:#0a0"></i>Online</span><span><i style="background:#7c4ddb"></i>phase</span><span><i style="background:#e07000"></i>fault</span><span><i style="background:#e00"></i>error, crash</span><span><i style="border:3px solid #e4007f;border-radius:50%;width:6px;height:6px"></i>violation</span><span><i style="border:2px dashed #e00;border-radius:50%;width:6px;height:6px"></i>seq missing at a gap</span> x is event order; times on top.</p>
<div class="tl">
<svg id="timeline-names" xmlns="http://www.w3.org/2000/svg" width="{{.Timeline.NamesWidth}}" height="{{.Timeline.Height}}">
{{- range .Timeline.Lanes}}
<rect class="{{.Class}}" x="{{.X}}" y="{{.Y}}" width="100%" height="{{.H}}"/>
{{- end}}
{{- range .Timeline.Names}}
<text class="{{.Class}}" x="{{.X}}" y="{{.Y}}">{{.Text}}</text>
{{- end}}
</svg>
<div id="timeline-box">
<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="{{.Timeline.Width}}" height="{{.Timeline.Height}}" viewBox="0 0 {{.Timeline.Width}} {{.Timeline.Height}}">
{{- range .Timeline.Lanes}}
<rect class="{{.Class}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}"/>
{{- end}}
{{- range .Timeline.Marks}}
<rect class="band" x="{{.BandX}}" y="{{.BandY}}" width="{{.BandW}}" height="{{.BandHeight}}"/>
{{- end}}
{{- range .Timeline.Lines}}
<line class="{{.Class}}" x1="{{.X1}}" y1="{{.Y1}}" x2="{{.X2}}" y2="{{.Y2}}"/>
{{- end}}
{{- range .Timeline.Dots}}
<circle class="{{.Class}}" cx="{{.X}}" cy="{{.Y}}" r="{{.R}}"><title>{{.Title}}</title></circle>
{{- end}}
{{- range .Timeline.Shapes}}
<polygon class="{{.Class}}" points="{{.Points}}"><title>{{.Title}}</title></polygon>
{{- end}}
{{- range .Timeline.Texts}}
<text class="{{.Class}}" x="{{.X}}" y="{{.Y}}">{{.Text}}</text>
{{- end}}
{{- range .Timeline.Marks}}
<circle id="violation-{{.N}}" class="violation" cx="{{.X}}" cy="{{.Y}}" r="8"><title>{{.Title}}</title></circle>
{{- end}}
</svg>
</div>
</div>

<h2 id="porcupine">Porcupine</h2>
{{- if .Porcupine.Srcdoc}}
<iframe sandbox="allow-scripts" title="porcupine visualization" srcdoc="{{.Porcupine.Srcdoc}}"></iframe>
{{- else if .Porcupine.File}}
<p>The visualization is too large to embed: open <a href="{{.Porcupine.File}}">{{.Porcupine.File}}</a> beside this report.</p>
{{- else}}
<p>No visualization.</p>
{{- end}}

<h2>Events</h2>
<p class="filters" id="filters">Show only
<label>node <select data-col="node"><option value="">any</option>{{range .Filters.Nodes}}<option>{{.}}</option>{{end}}</select></label>
<label>session <select data-col="session"><option value="">any</option>{{range .Filters.Sessions}}<option>{{.}}</option>{{end}}</select></label>
<label>kind <select data-col="kind"><option value="">any</option>{{range .Filters.Kinds}}<option>{{.}}</option>{{end}}</select></label>
<span id="shown"></span></p>
<table id="events">
<thead><tr><th>#</th><th>t</th><th>node</th><th>session</th><th>kind</th><th>seq</th><th>details</th><th>violation</th></tr></thead>
<tbody>
{{- range .Rows}}
{{- if .Gap}}
<tr class="gap"><td colspan="8">{{.Gap}} events left out</td></tr>
{{- end}}
<tr id="ev-{{.Index}}" data-node="{{.Node}}" data-session="{{.Session}}" data-kind="{{.Kind}}"{{if .Class}} class="{{.Class}}"{{end}}><td class="n">{{.Index}}</td><td class="n">{{.T}}</td><td>{{.Node}}</td><td class="n">{{.Session}}</td><td>{{.Kind}}</td><td class="n">{{.Seq}}</td><td>{{.Detail}}{{if .Missing}} <span class="missing">gap: {{.Missing}}</span>{{end}}</td><td>{{.Broken}}</td></tr>
{{- end}}
{{- if .LeftOutAfter}}
<tr class="gap"><td colspan="8">{{.LeftOutAfter}} events left out</td></tr>
{{- end}}
</tbody>
</table>

<script>
// The filters hide the rows that do not match every chosen value; the gap rows of events
// left out go too while a filter is on, since they no longer sit between shown rows.
(function () {
  var selects = document.querySelectorAll("#filters select"), shown = document.getElementById("shown");
  var rows = document.querySelectorAll("#events tbody tr");
  function apply() {
    var want = {}, on = false, n = 0;
    selects.forEach(function (s) { want[s.dataset.col] = s.value; on = on || s.value !== ""; });
    rows.forEach(function (r) {
      var ok = r.classList.contains("gap") ? !on : ["node", "session", "kind"].every(function (c) { return !want[c] || r.dataset[c] === want[c]; });
      r.classList.toggle("hidden", !ok);
      if (ok && !r.classList.contains("gap")) n++;
    });
    shown.textContent = on ? n + " events shown" : "";
  }
  selects.forEach(function (s) { s.addEventListener("change", apply); });
  // report.html?node=c1&kind=deliver opens filtered, so a filtered view can be linked.
  var q = new URLSearchParams(location.search);
  selects.forEach(function (s) { if (q.get(s.dataset.col)) s.value = q.get(s.dataset.col); });
  apply();
})();
// A long timeline scrolls; bring the first violation into view.
(function () {
  var v = document.getElementById("violation-0"), box = document.getElementById("timeline-box");
  if (!v || !box) return;
  var r = v.getBoundingClientRect(), b = box.getBoundingClientRect();
  box.scrollLeft += r.left - b.left - b.width / 2;
})();
</script>
</body>
</html>
`))
