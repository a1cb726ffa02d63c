//go:build unix

package reports

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/streamsim/streamsim/checker"
)

// chromiumBinary finds headless Chromium. A missing browser fails the test rather than
// skipping it, so a CI image without one cannot pass silently.
func chromiumBinary(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("these tests open report.html and index.html in headless Chromium, to check that the pages render in a browser " +
		"(timeline, charts, porcupine's labels apart), and neither chromium nor chromium-browser is in PATH. " +
		"`make deps` installs it with apt (`apt-get install -y chromium`); elsewhere install Chromium with your package manager. " +
		"The test fails rather than skips, so a machine without a browser cannot pass it silently")
	return ""
}

// browserPatience bounds a test's whole time in its browser. It judges no speed: a page
// that never loads or a probe that never answers must fail the test rather than hang it,
// and a loaded machine running the race detector can take many seconds to start Chromium.
const browserPatience = 3 * time.Minute

// chromium starts a headless Chromium of t's own, driven over the DevTools protocol, and
// returns the context of its first tab. Waiting on a condition in the page, not on a
// timer, is what lets a test hold on a busy machine: a one-shot `chromium --screenshot`
// can take its picture before a frame's script has drawn. chromedp gives the browser a
// fresh profile and ends it and its helpers when t ends; HOME is t's too, so the browser
// never writes into the user's.
func chromium(t *testing.T) context.Context {
	t.Helper()
	bin := chromiumBinary(t)
	home := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Env("HOME="+home))
	deadline, cancelDeadline := context.WithTimeout(context.Background(), browserPatience)
	alloc, cancelAlloc := chromedp.NewExecAllocator(deadline, opts...)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelTab(); cancelAlloc(); cancelDeadline() })
	return tab
}

// browse runs action in the tab and returns its value, or fails t naming what it was
// doing.
func browse[T any](t *testing.T, tab context.Context, doing string, action chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(tab, action)
	switch {
	case err != nil && tab.Err() != nil:
		t.Fatalf("%s: Chromium did not finish within %v (%v)", doing, browserPatience, err)
	case err != nil:
		t.Fatalf("%s: %v", doing, err)
	}
	return v
}

// open loads url in the tab with a viewport of width × height CSS pixels, after the actions
// before (a script to add to every new document, say). Navigate returns after the load
// event, so the report's own scripts, which run at the end of its body, have run.
func open(t *testing.T, tab context.Context, url string, width, height int64, before ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	steps := slices.Concat(before, []chromedp.Action[chromedp.Void]{chromedp.EmulateViewport(width, height), chromedp.Navigate(url)})
	browse(t, tab, "opening "+url, chromedp.Steps(steps...))
}

func readDOM(t *testing.T, tab context.Context) string {
	t.Helper()
	return browse(t, tab, "reading the DOM", chromedp.OuterHTML(chromedp.CSS("html")))
}

func screenshot(t *testing.T, tab context.Context) []byte {
	t.Helper()
	return browse(t, tab, "taking a screenshot", chromedp.CaptureScreenshot())
}

// TestReportInChromium opens a report in headless Chromium: the DOM it builds holds the
// timeline and the highlighted violation, and a screenshot shows the violation's colour.
func TestReportInChromium(t *testing.T) {
	h := genHistory(600, []client{{10, 1}, {30, 20}, {60, 50}}, 2, 40)
	f := Failure{
		Scenario: "browser", Seed: 9, Impl: "mutant:no-drain", Plan: struct{}{},
		History: h, Result: checked(t, h), Window: 150,
		Porcupine: []byte(`<!DOCTYPE html><p id="porcupine-stand-in">linearizability</p>`), PorcupineVerdict: "illegal",
	}
	dir := t.TempDir()
	if err := WriteFailure(dir, f, writeJSONL); err != nil {
		t.Fatal(err)
	}
	url := "file://" + filepath.Join(dir, "failures", "browser-9-mutant_no-drain", "report.html")
	row := fmt.Sprintf(`<tr id="ev-%d" data-node="%s" data-session="%d" data-kind="%s" class="violation">`, f.Result.Violations[0].Index, f.Result.Violations[0].Node, f.Result.Violations[0].Session, f.History[f.Result.Violations[0].Index].Kind)

	tab := chromium(t)
	open(t, tab, url, 1200, 900)
	dom := readDOM(t, tab)
	for _, want := range []string{
		`<svg id="timeline"`,
		`<circle id="violation-0" class="violation"`,
		`<polygon class="online"`,
		`<circle class="deliver"`,
		row,
		`<iframe sandbox="allow-scripts"`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the DOM Chromium built lacks %q", want)
		}
	}

	b := screenshot(t, tab)
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if sz := img.Bounds().Size(); sz.X < 800 || sz.Y < 600 {
		t.Fatalf("screenshot is %v", sz)
	}
	colours := map[[3]uint32]bool{}
	var ring, deliveries int
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			c := [3]uint32{r >> 8, g >> 8, b >> 8}
			colours[c] = true
			switch {
			case near(c, [3]uint32{0xd6, 0x00, 0x7e}): // the violation ring, and nothing else
				ring++
			case near(c, [3]uint32{0x1f, 0x6f, 0xd1}):
				deliveries++
			}
		}
	}
	t.Logf("screenshot: %d bytes, %d colours, %d ring pixels, %d delivery pixels", len(b), len(colours), ring, deliveries)
	if len(colours) < 50 || len(b) < 20_000 {
		t.Errorf("screenshot looks blank: %d bytes, %d colours", len(b), len(colours))
	}
	if ring < 20 {
		t.Errorf("the violation ring is not visible: %d pixels of its colour", ring)
	}
	if deliveries < 50 {
		t.Errorf("the timeline's deliveries are not visible: %d pixels of their colour", deliveries)
	}
}

// near reports whether two 8-bit colours are within a small distance: anti-aliasing moves
// edge pixels, but not the middle of a stroke.
func near(a, b [3]uint32) bool {
	for i := range a {
		if a[i]+8 < b[i] || b[i]+8 < a[i] {
			return false
		}
	}
	return true
}

// porcupineProbe runs inside porcupine's frame after porcupine's own script has drawn (at
// the end of its body): it compares the bounding boxes of the labels porcupine drew, and of
// their operations' boxes, and posts what it counted to the report around the frame. The
// frame is sandboxed, so the report's scripts cannot look into it, but a message crosses;
// probeListener keeps it where the test can read it.
//
// The probe judges the picture a user gets, so it looks until the labels are laid out (every
// 50 ms, for up to 20 s, then it answers with what it saw) rather than once: a page drawn
// before its frame could measure text has its labels laid out only later, squashed. It does
// not wait for the load event, which the frame's rewritten document does not always fire.
const porcupineProbe = `<script>
(function () {
  var looks = 0;
  function look() {
    looks++;
    var labels = Array.prototype.map.call(document.querySelectorAll("text.history-text"), function (t) {
      return { box: t.getBoundingClientRect(), rect: t.parentNode.querySelector("rect").getBoundingClientRect() };
    }).filter(function (l) { return l.box.width > 0 && l.box.height > 0; });
    if (labels.length < 10 && looks < 400) { setTimeout(look, 50); return; }
    function meet(a, b) { return a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1; }
    // Porcupine sizes each operation's box to its label and stacks operations of the same
    // instant on one another by design; labels squashed by a bad embedding spill out of
    // their boxes onto their neighbours' labels.
    var overlaps = 0;
    for (var i = 0; i < labels.length; i++) {
      for (var j = i + 1; j < labels.length; j++) {
        if (meet(labels[i].box, labels[j].box) && !meet(labels[i].rect, labels[j].rect)) overlaps++;
      }
    }
    parent.postMessage({ porcupineProbe: { labels: labels.length, overlaps: overlaps, looks: looks } }, "*");
  }
  look();
})();
</script>`

// probeListener is added to the report before it loads, so that no answer can come before
// someone listens.
const probeListener = `window.addEventListener("message", function (e) {
  if (e.data && e.data.porcupineProbe) window.porcupineProbe = e.data.porcupineProbe;
});`

// probeAnswer is what porcupineProbe counted.
type probeAnswer struct {
	Labels   int `json:"labels"`
	Overlaps int `json:"overlaps"`
	Looks    int `json:"looks"`
}

// countColours counts the pixels of a PNG screenshot near colour a and near colour b.
func countColours(t *testing.T, shot []byte, a, b [3]uint32) (na, nb int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			c := [3]uint32{r >> 8, g >> 8, bl >> 8}
			switch {
			case near(c, a):
				na++
			case near(c, b):
				nb++
			}
		}
	}
	return na, nb
}

// TestPorcupineLabelsDoNotOverlap opens a report with porcupine's view of a run with many
// operations, where it used to be drawn with every label on top of the next, and checks in
// the browser that no two labels overlap. The same view with porcupine's text
// measurement broken (its scratch area hidden, so every label measures zero wide, the
// failure seen before) must be caught.
func TestPorcupineLabelsDoNotOverlap(t *testing.T) {
	h := genHistory(150, []client{{10, 1}, {30, 20}, {60, 50}}, 2, 40)
	var vis bytes.Buffer
	if err := checker.CheckFresh(h).Visualize(&vis); err != nil {
		t.Fatal(err)
	}
	report := func(t *testing.T, extraHead string) string {
		html := strings.Replace(vis.String(), "</head>", extraHead+"</head>", 1)
		html = strings.Replace(html, "</body>", porcupineProbe+"</body>", 1)
		f := Failure{Scenario: "porcupine", Seed: 1, Impl: "reference", Plan: struct{}{}, History: h, Result: checked(t, h),
			Window: 150, Porcupine: []byte(html), PorcupineVerdict: "illegal"}
		dir := t.TempDir()
		if err := WriteFailure(dir, f, writeJSONL); err != nil {
			t.Fatal(err)
		}
		return "file://" + filepath.Join(FailureDir(dir, f), "report.html")
	}
	if !strings.Contains(vis.String(), "</head>") || !strings.Contains(vis.String(), "history-text") {
		t.Fatal("porcupine's page no longer has the head and the label class this test relies on")
	}
	listen := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: probeListener})
		return err
	})
	for _, tc := range []struct {
		name, head string
		ok         bool
	}{
		{"report", "", true},
		{"broken-measurement", "<style>#calc{display:none}</style>", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tab := chromium(t)
			open(t, tab, report(t, tc.head), 1200, 1800, listen)
			// The frame writes porcupine's page once it has a size, which can be after the
			// report's load event, so the answer is waited for.
			got := browse(t, tab, "waiting for the probe in porcupine's frame",
				chromedp.Poll[probeAnswer]("window.porcupineProbe",
					chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(browserPatience)))
			t.Logf("probe: %d labels laid out, %d overlapping pairs, at look %d", got.Labels, got.Overlaps, got.Looks)
			switch {
			case got.Labels < 10:
				t.Errorf("porcupine's view laid out %d labels; the run has dozens", got.Labels)
			case tc.ok && got.Overlaps > 0:
				t.Errorf("porcupine's labels overlap in the report: %d pairs", got.Overlaps)
			case !tc.ok && got.Overlaps == 0:
				t.Errorf("the probe missed labels drawn over each other")
			}
		})
	}
}

// TestReportFiltersAndGaps: report.html?kind=deliver shows only deliveries, and the seq a
// delivery skipped is marked on the timeline and in the events table.
func TestReportFiltersAndGaps(t *testing.T) {
	h := checker.History{
		{T: 0, Node: "server", Kind: checker.EvPost, Seq: 1}, {T: 0, Node: "server", Kind: checker.EvPostOK, Seq: 1},
		{T: 1, Node: "server", Kind: checker.EvPost, Seq: 2}, {T: 1, Node: "server", Kind: checker.EvPostOK, Seq: 2},
		{T: 2, Node: "server", Kind: checker.EvPost, Seq: 3}, {T: 2, Node: "server", Kind: checker.EvPostOK, Seq: 3},
		{T: 3, Node: "c1", Session: 1, Kind: checker.EvOpen, Mode: checker.ModeSeq, ReqSeq: 1},
		{T: 4, Node: "c1", Session: 1, Kind: checker.EvDeliver, Seq: 1},
		{T: 5, Node: "c1", Session: 1, Kind: checker.EvDeliver, Seq: 3},
		{T: 6, Node: "c1", Session: 1, Kind: checker.EvControl, Name: checker.CtlOnline, Seq: 3},
	}
	f := Failure{Scenario: "gap", Seed: 1, Impl: "reference", Plan: struct{}{}, History: h, Result: checked(t, h)}
	dir := t.TempDir()
	if err := WriteFailure(dir, f, writeJSONL); err != nil {
		t.Fatal(err)
	}
	tab := chromium(t)
	open(t, tab, "file://"+filepath.Join(FailureDir(dir, f), "report.html")+"?kind=deliver", 1200, 900)
	dom := readDOM(t, tab)
	for _, want := range []string{
		`<circle class="missing"`, `<text class="missing"`, `>seq 2 missing</text>`,
		`<span class="missing">gap: seq 2 missing</span>`,
		`data-kind="deliver">`, `2 events shown`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the DOM lacks %q", want)
		}
	}
	if n := strings.Count(dom, `class="hidden"`); n != len(h)-2 {
		t.Errorf("%d rows hidden by kind=deliver, want %d", n, len(h)-2)
	}
}

// TestIndexInChromium opens a mutant campaign's index.html: the table, the heatmap, the
// seeds-to-kill chart and the latency histograms are all drawn.
func TestIndexInChromium(t *testing.T) {
	ix := Index{Title: "simrun mutants", Impl: "every mutant", Verdict: "PASS: all 3 mutants killed",
		Summary:    campaign(),
		Groups:     Group(campaign().Failures),
		Links:      map[string]string{LinkKey("test_overlapped", 1): "failures/test_overlapped-1-mutant_no-drain"},
		Situations: []string{"overlap", "exact-match", "buffer-overflow"},
		Coverage:   []CoverageRow{{"test_new", 100, []int{0, 100, 0}}, {"test_overlapped", 100, []int{100, 3, 0}}},
		Mutants:    []MutantKill{{Name: "no-drain", Runs: 1, Killed: true}, {Name: "skip-history", Runs: 40, Killed: true}, {Name: "slow", Runs: 10000}},
	}
	for i := range 200 {
		ix.Latency.OpenOnline.Add(time.Duration(i) * 50 * time.Microsecond)
		ix.Latency.PostDelivery.Add(time.Duration(i%20) * time.Millisecond)
	}
	dir := t.TempDir()
	if err := WriteIndex(dir, ix); err != nil {
		t.Fatal(err)
	}
	url := "file://" + filepath.Join(dir, "index.html")
	tab := chromium(t)
	open(t, tab, url, 1200, 1600)
	dom := readDOM(t, tab)
	for _, want := range []string{`<table id="scenarios">`, `<svg id="heatmap"`, `<svg id="kills"`, `10000, survived</text>`,
		"open → Online", "post → delivery", `href="failures/test_overlapped-1-mutant_no-drain/report.html"`, "seq N delivered again"} {
		if !strings.Contains(dom, want) {
			t.Errorf("index.html's DOM lacks %q", want)
		}
	}
	bars, survivors := countColours(t, screenshot(t, tab), [3]uint32{0x1f, 0x6f, 0xd1}, [3]uint32{0xb0, 0x00, 0x20})
	t.Logf("index screenshot: %d bar pixels, %d survivor pixels", bars, survivors)
	if bars < 2000 || survivors < 1000 {
		t.Errorf("the charts are not visible: %d blue bar pixels, %d red survivor pixels", bars, survivors)
	}
}

// A frame that can never measure text, here one of no size, still gets its page, ten seconds
// after its wrapper started rather than never.
func TestDeferredPageGivesUpWaiting(t *testing.T) {
	t.Parallel()
	page := `<!DOCTYPE html><script>parent.postMessage({ written: document.documentElement.clientWidth }, "*");</script>`
	host := `<!DOCTYPE html><html><body><script>
window.addEventListener("message", function (e) { window.written = { width: e.data.written, at: performance.now() }; });
</script><iframe sandbox="allow-scripts" style="width:0;height:0;border:0" srcdoc="` + html.EscapeString(deferredPage([]byte(page))) + `"></iframe></body></html>`
	path := filepath.Join(t.TempDir(), "host.html")
	if err := os.WriteFile(path, []byte(host), 0o644); err != nil {
		t.Fatal(err)
	}
	tab := chromium(t)
	open(t, tab, "file://"+path, 1200, 900)
	type written struct {
		Width int     `json:"width"`
		At    float64 `json:"at"` // ms since the host page began to load
	}
	got := browse(t, tab, "waiting for the frame's page",
		chromedp.Poll[written]("window.written", chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(browserPatience)))
	t.Logf("written into a frame %d wide, %.0f ms after the host began to load", got.Width, got.At)
	if got.Width != 0 {
		t.Fatalf("the frame is %d wide: this test does not test a frame that cannot measure", got.Width)
	}
	if got.At < 10_000 {
		t.Errorf("the page was written after %.0f ms, before the wrapper's ten seconds", got.At)
	}
}
