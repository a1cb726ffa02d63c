package reports

import (
	"cmp"
	"fmt"
	"html/template"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Index is what a run directory's index.html shows: the campaign at a glance, with links to
// every failure report in the directory.
type Index struct {
	Title   string // the command that made the directory
	Impl    string
	Started time.Time
	Verdict string // the run's last line
	Summary Summary
	Groups  []FailureGroup
	// Links maps "scenario/seed" to the failure's report directory, relative to the run
	// directory.
	Links map[string]string
	// Coverage is, per scenario, how many runs reached each of Situations.
	Situations []string
	Coverage   []CoverageRow
	Latency    Latency
	// Mutants is the kill matrix's rows, for simrun mutants.
	Mutants []MutantKill
}

// CoverageRow is one scenario's line of the heatmap.
type CoverageRow struct {
	Scenario string
	Runs     int
	Counts   []int // per situation, in Index.Situations order
}

// MutantKill is one planted bug's hunt: the runs it took to catch it.
type MutantKill struct {
	Name, Property, Scenario string
	Seed                     uint64
	Runs                     int
	Killed                   bool
}

// LinkKey is the key of Index.Links for one failing seed.
func LinkKey(scenario string, seed uint64) string { return fmt.Sprintf("%s/%d", scenario, seed) }

// WriteIndex writes dir/index.html: one file, no network, no script needed to read it.
func WriteIndex(dir string, ix Index) error {
	v := buildIndex(ix)
	return writeFile(filepath.Join(dir, "index.html"), func(w io.Writer) error { return indexTemplate.Execute(w, v) })
}

type indexView struct {
	Index
	VerdictClass string
	Rows         []indexRow
	Heat         heatmap
	Latencies    []histView
	Kills        barChart
	Groups       []groupView
	Reports      []reportLink
}

type indexRow struct {
	Scenario, Impl, Wall, Rate string
	Seeds, Failed, Violations  int
	Delivered                  int64
	Class                      string
}

type groupView struct {
	FailureGroup
	Link string
}

type reportLink struct{ Name, Href string }

type heatmap struct {
	Width, Height int
	Cols          []svgText // column labels, turned to read upwards
	Cells         []heatCell
	Names         []svgText
}

type heatCell struct {
	X, Y, W, H float64
	Fill       string
	Title      string
}

type histView struct {
	Title, Note   string
	Width, Height int
	Bars          []heatCell
	Labels        []svgText
	Empty         bool
}

type barChart struct {
	Width, Height int
	Bars          []heatCell
	Labels        []svgText
}

func buildIndex(ix Index) indexView {
	v := indexView{Index: ix, VerdictClass: "pass"}
	if !strings.HasPrefix(ix.Verdict, "PASS") {
		v.VerdictClass = "fail"
	}
	failed := map[string]int{}
	for _, f := range ix.Summary.Failures {
		failed[f.Scenario+"\x00"+f.Impl]++
	}
	for _, r := range ix.Summary.Scenarios {
		row := indexRow{Scenario: r.Scenario, Impl: r.Impl, Seeds: r.Seeds(), Failed: failed[r.Scenario+"\x00"+r.Impl],
			Violations: r.Violations, Delivered: r.Delivered, Wall: Duration(time.Duration(r.WallNs)), Rate: fmt.Sprintf("%.0f", r.MsgsPerSec())}
		if row.Failed > 0 {
			row.Class = "fail"
		}
		v.Rows = append(v.Rows, row)
	}
	for _, g := range ix.Groups {
		v.Groups = append(v.Groups, groupView{g, ix.Links[LinkKey(g.First.Scenario, g.First.Seed)]})
	}
	for k, href := range ix.Links {
		v.Reports = append(v.Reports, reportLink{k, href + "/report.html"})
	}
	slices.SortFunc(v.Reports, func(a, b reportLink) int { return cmp.Compare(a.Href, b.Href) })
	v.Heat = buildHeatmap(ix.Situations, ix.Coverage)
	if ix.Latency.OpenOnline.Total()+ix.Latency.PostDelivery.Total() > 0 {
		v.Latencies = []histView{
			buildHist("open → Online", "from a session's open to its Online control (the handover)", ix.Latency.OpenOnline),
			buildHist("post → delivery", "from a post's acceptance to its delivery, sessions already open", ix.Latency.PostDelivery),
		}
	}
	v.Kills = buildKills(ix.Mutants)
	return v
}

// buildHeatmap draws scenarios (rows) against boundary situations (columns), each cell the
// share of the scenario's runs that reached the situation; white is never.
func buildHeatmap(sits []string, rows []CoverageRow) heatmap {
	const cell, nameW, head = 18.0, 190.0, 150.0
	h := heatmap{Width: int(nameW + cell*float64(len(sits)) + 90), Height: int(head + cell*float64(len(rows)) + 4)}
	for j, s := range sits {
		x := nameW + cell*float64(j) + cell/2 + 4
		h.Cols = append(h.Cols, svgText{X: px(x), Y: px(head - 4), Text: s})
	}
	for i, r := range rows {
		y := head + cell*float64(i)
		h.Names = append(h.Names, svgText{X: px(nameW - 6), Y: px(y + cell*0.7), Text: r.Scenario})
		for j := range sits {
			n := 0
			if j < len(r.Counts) {
				n = r.Counts[j]
			}
			share := 0.0
			if r.Runs > 0 {
				share = float64(n) / float64(r.Runs)
			}
			fill := "#ffffff"
			if n > 0 {
				// Never-reached stays white; any reach is visibly blue, deeper with the share.
				l := 88 - 58*math.Sqrt(min(share, 1))
				fill = fmt.Sprintf("hsl(215,70%%,%.0f%%)", l)
			}
			h.Cells = append(h.Cells, heatCell{X: nameW + cell*float64(j), Y: y, W: cell - 1, H: cell - 1, Fill: fill,
				Title: fmt.Sprintf("%s × %s: %d of %d runs", r.Scenario, sits[j], n, r.Runs)})
		}
	}
	return h
}

func buildHist(title, note string, h Histogram) histView {
	v := histView{Title: title, Note: note, Width: 560, Height: 190}
	total := h.Total()
	if total == 0 {
		v.Empty = true
		return v
	}
	lo, hi := len(h.Counts), 0
	var peak int64
	for i, c := range h.Counts {
		if c > 0 {
			lo, hi = min(lo, i), max(hi, i)
			peak = max(peak, c)
		}
	}
	n := hi - lo + 1
	w := 520.0 / float64(n)
	for i := lo; i <= hi; i++ {
		bh := 140 * float64(h.Counts[i]) / float64(peak)
		x := 30 + w*float64(i-lo)
		a, b := h.Bounds(i)
		v.Bars = append(v.Bars, heatCell{X: x, Y: 150 - bh, W: w - 2, H: bh, Fill: "#1f6fd1",
			Title: fmt.Sprintf("%s – %s: %d (%.1f%%)", Duration(a), Duration(b), h.Counts[i], 100*float64(h.Counts[i])/float64(total))})
		if (i-lo)%max(1, n/6) == 0 {
			v.Labels = append(v.Labels, svgText{X: px(x), Y: "168", Text: Duration(a)})
		}
	}
	v.Note += fmt.Sprintf("; %d measured, median ≤ %s, p99 ≤ %s", total, Duration(h.Quantile(0.5)), Duration(h.Quantile(0.99)))
	return v
}

// buildKills draws seeds-to-kill per mutant as bars on a log scale: kills in one run and in
// thousands must both show.
func buildKills(ms []MutantKill) barChart {
	if len(ms) == 0 {
		return barChart{}
	}
	const rowH, nameW, barW = 20.0, 200.0, 460.0
	c := barChart{Width: int(nameW + barW + 120), Height: int(rowH*float64(len(ms)) + 10)}
	top := 1
	for _, m := range ms {
		top = max(top, m.Runs)
	}
	scale := barW / math.Log10(float64(top)+1)
	for i, m := range ms {
		y := rowH * float64(i)
		w := max(2, scale*math.Log10(float64(m.Runs)+1))
		fill, label := "#1f6fd1", fmt.Sprintf("%d", m.Runs)
		if !m.Killed {
			fill, label = "#b00020", fmt.Sprintf("%d, survived", m.Runs)
		}
		c.Labels = append(c.Labels, svgText{X: px(nameW - 6), Y: px(y + 14), Text: m.Name, Class: "name"})
		c.Bars = append(c.Bars, heatCell{X: nameW, Y: y + 3, W: w, H: rowH - 6, Fill: fill,
			Title: fmt.Sprintf("%s: %s by %s on %s seed %d", m.Name, label, m.Property, m.Scenario, m.Seed)})
		c.Labels = append(c.Labels, svgText{X: px(nameW + w + 6), Y: px(y + 14), Text: label, Class: "runs"})
	}
	return c
}

var indexTemplate = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>streamsim: {{.Title}} {{.Impl}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222;background:#fff}
h1{font-size:20px;margin:0 0 8px}
h2{font-size:16px;margin:22px 0 6px}
code{font:13px ui-monospace,monospace;background:#f2f2f2;padding:1px 4px}
.verdict{font-size:16px;font-weight:bold}
.fail{color:#b00020}
.pass{color:#087a2b}
.partial{background:#fff3cd;padding:4px 8px;display:inline-block}
table{border-collapse:collapse;font:13px ui-monospace,monospace}
th,td{padding:2px 10px;border-bottom:1px solid #eee;text-align:left}
td.n,th.n{text-align:right}
tr.fail td{background:#fff0f3}
#failures td:nth-child(-n+3),#failures code{white-space:nowrap}
.note{color:#555;max-width:70em}
svg text{font:11px system-ui,sans-serif;fill:#333}
svg text.name,#heatmap text.row{text-anchor:end}
.charts{display:flex;flex-wrap:wrap;gap:24px}
</style>
</head>
<body>
<h1>{{.Title}} against {{.Impl}}</h1>
<p>Started {{.Started.Format "2006-01-02 15:04:05 UTC"}}.{{if .Summary.Partial}} <span class="partial">Partial: stopped before its end; these are the seeds that finished.</span>{{end}}</p>
{{- if .Verdict}}
<p class="verdict {{.VerdictClass}}" id="verdict">{{.Verdict}}</p>
{{- end}}

{{- if .Rows}}
<h2>Scenarios</h2>
<table id="scenarios">
<thead><tr><th>scenario</th><th>impl</th><th class="n">seeds</th><th class="n">failed seeds</th><th class="n">violations</th><th class="n">delivered</th><th class="n">wall</th><th class="n">sim msgs/s</th></tr></thead>
<tbody>
{{- range .Rows}}
<tr{{if .Class}} class="{{.Class}}"{{end}}><td>{{.Scenario}}</td><td>{{.Impl}}</td><td class="n">{{.Seeds}}</td><td class="n">{{.Failed}}</td><td class="n">{{.Violations}}</td><td class="n">{{.Delivered}}</td><td class="n">{{.Wall}}</td><td class="n">{{.Rate}}</td></tr>
{{- end}}
</tbody>
</table>
{{- end}}

{{- if .Kills.Bars}}
<h2>Seeds to kill, per mutant</h2>
<p class="note">Runs of the campaign's order until the first that caught the planted bug (log scale); red: the bug survived every run.</p>
<svg id="kills" xmlns="http://www.w3.org/2000/svg" width="{{.Kills.Width}}" height="{{.Kills.Height}}">
{{- range .Kills.Bars}}
<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="{{.Fill}}"><title>{{.Title}}</title></rect>
{{- end}}
{{- range .Kills.Labels}}
<text class="{{.Class}}" x="{{.X}}" y="{{.Y}}">{{.Text}}</text>
{{- end}}
</svg>
{{- end}}

{{- if .Heat.Cells}}
<h2>Boundary situations reached</h2>
<p class="note">Share of each scenario's runs that reached each boundary situation: white never, deeper blue more often. Hover a cell for the count.</p>
<svg id="heatmap" xmlns="http://www.w3.org/2000/svg" width="{{.Heat.Width}}" height="{{.Heat.Height}}">
{{- range .Heat.Cols}}
<text x="{{.X}}" y="{{.Y}}" transform="rotate(-60 {{.X}} {{.Y}})">{{.Text}}</text>
{{- end}}
{{- range .Heat.Names}}
<text class="row" x="{{.X}}" y="{{.Y}}">{{.Text}}</text>
{{- end}}
{{- range .Heat.Cells}}
<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="{{.Fill}}" stroke="#ddd"><title>{{.Title}}</title></rect>
{{- end}}
</svg>
{{- end}}

{{- if .Latencies}}
<h2>Latency (simulated time)</h2>
<div class="charts">
{{- range .Latencies}}
<figure class="latency">
<figcaption><b>{{.Title}}</b><br><span class="note">{{.Note}}</span></figcaption>
{{- if .Empty}}
<p>Nothing measured.</p>
{{- else}}
<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}">
<line x1="28" y1="150" x2="552" y2="150" stroke="#999"/>
{{- range .Bars}}
<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="{{.Fill}}"><title>{{.Title}}</title></rect>
{{- end}}
{{- range .Labels}}
<text x="{{.X}}" y="{{.Y}}">{{.Text}}</text>
{{- end}}
</svg>
{{- end}}
</figure>
{{- end}}
</div>
{{- end}}

{{- if .Rows}}
<h2>Failures</h2>
{{- if .Groups}}
<table id="failures">
<thead><tr><th>scenario</th><th>impl</th><th>property</th><th class="n">failed seeds</th><th>message (N: any number)</th><th class="n">first seed</th><th>replay</th></tr></thead>
<tbody>
{{- range .Groups}}
<tr><td>{{.Scenario}}</td><td>{{.Impl}}</td><td>{{.Property}}</td><td class="n">{{.Seeds}}</td><td>{{.Pattern}}</td><td class="n">{{if .Link}}<a href="{{.Link}}/report.html">{{.First.Seed}}</a>{{else}}{{.First.Seed}}{{end}}</td><td><code>{{.Replay}}</code></td></tr>
{{- end}}
</tbody>
</table>
{{- else}}
<p>None.</p>
{{- end}}
{{- end}}

{{- if .Reports}}
<h2>Failure reports</h2>
<ul id="reports">
{{- range .Reports}}
<li><a href="{{.Href}}">{{.Name}}</a></li>
{{- end}}
</ul>
{{- end}}
{{- if .Rows}}
<p class="note">summary.md and results.json beside this page hold the same results; results.json lists every failing seed.</p>
{{- else if .Kills.Bars}}
<p class="note">mutants.md beside this page holds the kill matrix; corpus/ the shrunk counterexamples.</p>
{{- end}}
</body>
</html>
`))
