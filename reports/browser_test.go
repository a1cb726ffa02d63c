//go:build unix

package reports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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

// runChromium runs one headless Chromium on args and returns what it wrote to stdout. The
// browser gets its own process group, so a timeout kills its helpers too, and its own
// profile and home, so it never touches the user's.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1200,900",
		"--user-data-dir=" + filepath.Join(tmp, "profile"),
	}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	// Files rather than pipes: a helper that outlives the browser would hold a pipe open
	// and keep Wait waiting.
	stdout, err := os.Create(filepath.Join(tmp, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(tmp, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err = cmd.Run()
	if cmd.Process != nil {
		// Helpers still running after the browser exited are ours to end.
		if kerr := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
			t.Logf("killing the browser's process group: %v", kerr)
		}
	}
	logs, _ := os.ReadFile(stderr.Name())
	if ctx.Err() != nil {
		t.Fatalf("chromium did not finish within 30s; stderr:\n%s", tail(logs))
	}
	if err != nil {
		t.Fatalf("chromium %s: %v; stderr:\n%s", strings.Join(args, " "), err, tail(logs))
	}
	out, err := os.ReadFile(stdout.Name())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tail(b []byte) []byte {
	if len(b) > 2000 {
		return b[len(b)-2000:]
	}
	return b
}

// TestReportInChromium opens a report in headless Chromium: the DOM it builds holds the
// timeline and the highlighted violation, and a screenshot shows the violation's colour.
func TestReportInChromium(t *testing.T) {
	bin := chromiumBinary(t)
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

	t.Run("dom", func(t *testing.T) {
		t.Parallel()
		dom := string(runChromium(t, bin, "--dump-dom", url))
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
	})

	t.Run("screenshot", func(t *testing.T) {
		t.Parallel()
		shot := filepath.Join(t.TempDir(), "report.png")
		runChromium(t, bin, "--screenshot="+shot, url)
		b, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
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
	})
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

// porcupineProbe runs inside porcupine's frame right after porcupine's own script has drawn
// (synchronously, at the end of its body): it compares the bounding boxes of the labels
// porcupine drew, and of their operations' boxes, and paints its answer as a block of
// colour in the frame's corner: green when there are labels and none overlaps another it
// should stand apart from, red when some do, blue when too few labels are laid out to tell. The frame is sandboxed, so neither the report's
// scripts nor Chromium's DOM dump can see into it; a screenshot can.
const porcupineProbe = `<script>
(function () {
  var labels = Array.prototype.map.call(document.querySelectorAll("text.history-text"), function (t) {
    return { box: t.getBoundingClientRect(), rect: t.parentNode.querySelector("rect").getBoundingClientRect() };
  }).filter(function (l) { return l.box.width > 0 && l.box.height > 0; });
  function meet(a, b) { return a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1; }
  // Porcupine sizes each operation's box to its label and stacks operations of the same
  // instant on one another by design; labels squashed by a bad embedding spill out of their
  // boxes onto their neighbours' labels.
  var overlaps = 0;
  for (var i = 0; i < labels.length; i++) {
    for (var j = i + 1; j < labels.length; j++) {
      if (meet(labels[i].box, labels[j].box) && !meet(labels[i].rect, labels[j].rect)) overlaps++;
    }
  }
  // Fewer than ten labels laid out means the page was not drawn yet (a loaded machine can
  // run this before layout settles): blue, which the test does not count as an answer.
  var colour = labels.length < 10 ? "#2962ff" : overlaps === 0 ? "#00c853" : "#ff1744";
  var d = document.createElement("div");
  d.style.cssText = "position:fixed;left:0;top:0;width:160px;height:160px;z-index:1000;background:" + colour;
  document.body.appendChild(d);
})();
</script>`

// probeColours counts the screenshot's pixels of the probe's two answers.
func probeColours(t *testing.T, shot string) (green, red int) {
	t.Helper()
	return countColours(t, shot, [3]uint32{0x00, 0xc8, 0x53}, [3]uint32{0xff, 0x17, 0x44})
}

// countColours counts the pixels of a PNG screenshot near colour a and near colour b.
func countColours(t *testing.T, shot string, a, b [3]uint32) (na, nb int) {
	t.Helper()
	raw, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
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
	bin := chromiumBinary(t)
	h := genHistory(150, []client{{10, 1}, {30, 20}, {60, 50}}, 2, 40)
	var vis bytes.Buffer
	if err := checker.CheckFresh(h).Visualize(&vis); err != nil {
		t.Fatal(err)
	}
	page := func(t *testing.T, extraHead string) string {
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
	for _, tc := range []struct {
		name, head string
		ok         bool
	}{
		{"report", "", true},
		{"broken-measurement", "<style>#calc{display:none}</style>", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := page(t, tc.head)
			// The frame writes porcupine's page once it has a size, which can be after the
			// report's load event: --virtual-time-budget lets its timers run before the
			// picture, and on a loaded machine the picture may still come early, so look
			// again a few times.
			var green, red, attempt int
			for ; attempt < 15 && green+red == 0; attempt++ {
				shot := filepath.Join(t.TempDir(), "report.png")
				runChromium(t, bin, "--window-size=1200,1800", "--virtual-time-budget=10000", "--screenshot="+shot, url)
				green, red = probeColours(t, shot)
			}
			t.Logf("probe: %d green, %d red pixels, after %d screenshots", green, red, attempt)
			switch {
			case green+red < 10000:
				t.Errorf("the probe's answer is not on the screenshot (%d green, %d red pixels): the porcupine view did not load", green, red)
			case tc.ok && red > 0:
				t.Errorf("porcupine's labels overlap in the report")
			case !tc.ok && green > 0:
				t.Errorf("the probe missed labels drawn over each other")
			}
		})
	}
}

// TestReportFiltersAndGaps: report.html?kind=deliver shows only deliveries, and the seq a
// delivery skipped is marked on the timeline and in the events table.
func TestReportFiltersAndGaps(t *testing.T) {
	bin := chromiumBinary(t)
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
	dom := string(runChromium(t, bin, "--dump-dom", "file://"+filepath.Join(FailureDir(dir, f), "report.html")+"?kind=deliver"))
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
	bin := chromiumBinary(t)
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
	dom := string(runChromium(t, bin, "--dump-dom", url))
	for _, want := range []string{`<table id="scenarios">`, `<svg id="heatmap"`, `<svg id="kills"`, `10000, survived</text>`,
		"open → Online", "post → delivery", `href="failures/test_overlapped-1-mutant_no-drain/report.html"`, "seq N delivered again"} {
		if !strings.Contains(dom, want) {
			t.Errorf("index.html's DOM lacks %q", want)
		}
	}
	shot := filepath.Join(t.TempDir(), "index.png")
	runChromium(t, bin, "--window-size=1200,1600", "--screenshot="+shot, url)
	bars, survivors := countColours(t, shot, [3]uint32{0x1f, 0x6f, 0xd1}, [3]uint32{0xb0, 0x00, 0x20})
	t.Logf("index screenshot: %d bar pixels, %d survivor pixels", bars, survivors)
	if bars < 2000 || survivors < 1000 {
		t.Errorf("the charts are not visible: %d blue bar pixels, %d red survivor pixels", bars, survivors)
	}
}
