package reports

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/streamsim/streamsim/checker"
)

// writeJSONL stands in for checker.WriteHistory: one JSON object per event.
func writeJSONL(w io.Writer, h checker.History) error {
	enc := json.NewEncoder(w)
	for _, e := range h {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return nil
}

// client is one session of a generated history: it opens in seq mode from seq from when seq
// at is posted, reads history up to there, goes Online and follows live posts.
type client struct {
	at, from int64
}

// genHistory generates a history of n events: a server posting seqs 1, 2, 3, ... one per
// microsecond and clients opening as told. The session of client dupClient (1-based; 0 for
// none) delivers seq dupSeq twice, which the checker reports as no-dup.
func genHistory(n int, clients []client, dupClient int, dupSeq int64) checker.History {
	h := make(checker.History, 0, n+1000)
	t := int64(0)
	emit := func(e checker.Event) {
		e.T = t
		h = append(h, e)
	}
	sum := func(seq int64) uint32 { return uint32(seq * 2654435761) }
	deliver := func(c int, seq int64) {
		e := checker.Event{Node: fmt.Sprintf("c%d", c), Session: int64(c), Kind: checker.EvDeliver, Seq: seq, MsgID: int32(seq % 100), Sum: sum(seq)}
		emit(e)
		if c == dupClient && seq == dupSeq {
			emit(e)
		}
	}
	for seq := int64(1); len(h) < n; seq++ {
		t += 1000
		emit(checker.Event{Node: "server", Kind: checker.EvPost, Seq: seq, MsgID: int32(seq % 100), Sum: sum(seq)})
		emit(checker.Event{Node: "server", Kind: checker.EvPostOK, Seq: seq, MsgID: int32(seq % 100), Sum: sum(seq)})
		for i, cl := range clients {
			c, node := i+1, fmt.Sprintf("c%d", i+1)
			switch {
			case seq == cl.at:
				emit(checker.Event{Node: node, Session: int64(c), Kind: checker.EvOpen, Mode: checker.ModeSeq, ReqSeq: cl.from})
				emit(checker.Event{Node: node, Session: int64(c), Kind: checker.EvPhase, Name: checker.PhRequest, Seq: cl.from})
				emit(checker.Event{Node: node, Session: int64(c), Kind: checker.EvPhase, Name: checker.PhReply, Seq: seq})
				emit(checker.Event{Node: node, Session: int64(c), Kind: checker.EvState, State: checker.StActive})
				for s := cl.from; s <= seq; s++ {
					deliver(c, s)
				}
				emit(checker.Event{Node: node, Session: int64(c), Kind: checker.EvPhase, Name: checker.PhClientDone, Seq: seq})
				emit(checker.Event{Node: node, Session: int64(c), Kind: checker.EvControl, Name: checker.CtlOnline, Seq: seq})
			case seq > cl.at:
				deliver(c, seq)
			}
		}
	}
	return h[:n]
}

func checked(t testing.TB, h checker.History) checker.Result {
	t.Helper()
	res, err := checker.Check(h)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestSelectWindow(t *testing.T) {
	// c1 opens at seq 10 from 1; c2 opens at seq 300 from 250, late enough to be outside
	// a window around c1's early duplicate; c3 opens at seq 40 from 30.
	h := genHistory(3000, []client{{10, 1}, {300, 250}, {40, 30}}, 1, 60)
	res := checked(t, h)
	if len(res.Violations) != 1 || res.Violations[0].Property != checker.PropNoDup {
		t.Fatalf("generated history: %+v", res.Violations)
	}
	centre := res.Violations[0].Index
	w := selectWindow(h, centre, 50)
	if w.lo != centre-50 || w.hi != centre+50 || w.total != 3000 {
		t.Fatalf("window %d..%d of %d around %d", w.lo, w.hi, w.total, centre)
	}
	if !slices.IsSorted(w.idx) || len(w.idx) != 101+w.extra {
		t.Fatalf("kept %d indices for 101 + %d extra", len(w.idx), w.extra)
	}
	kept := map[int]bool{}
	for _, k := range w.idx {
		kept[k] = true
	}
	inWindow := func(k int) bool { return k >= w.lo && k <= w.hi }
	delivered := map[int64]bool{}
	for _, e := range h[w.lo : w.hi+1] {
		if e.Kind == checker.EvDeliver {
			delivered[e.Seq] = true
		}
	}
	for k, e := range h {
		if inWindow(k) {
			if !kept[k] {
				t.Fatalf("event %d in the window was not kept", k)
			}
			continue
		}
		var want bool
		switch e.Kind {
		case checker.EvOpen, checker.EvPhase, checker.EvControl, checker.EvState:
			want = e.Session == 1 || e.Session == 3 // c2 has no event in the window
		case checker.EvPost, checker.EvPostOK:
			want = delivered[e.Seq]
		}
		if kept[k] != want {
			t.Errorf("event %d (%s session %d seq %d): kept %v, want %v", k, e.Kind, e.Session, e.Seq, kept[k], want)
		}
	}
	if w.extra == 0 || w.dropped != 0 {
		t.Errorf("extra %d, dropped %d", w.extra, w.dropped)
	}

	// A cap smaller than what the sessions need keeps their structure first, then the
	// posts nearest the window.
	w = selectWindow(h, centre, 5)
	if w.extra != 5 || w.dropped == 0 {
		t.Fatalf("cap 5: extra %d, dropped %d", w.extra, w.dropped)
	}
	for _, k := range w.idx {
		if k < w.lo && h[k].Kind != checker.EvOpen && h[k].Kind != checker.EvPhase && h[k].Kind != checker.EvState && h[k].Kind != checker.EvControl {
			t.Errorf("cap 5 kept %s at %d before the session structure", h[k].Kind, k)
		}
	}

	if w := selectWindow(nil, -1, 10); len(w.idx) != 0 {
		t.Fatalf("empty history kept %v", w.idx)
	}
	if w := selectWindow(h[:20], 3, 10); w.lo != 0 || w.hi != 13 {
		t.Fatalf("window at the start: %d..%d", w.lo, w.hi)
	}
}

func TestWriteFailure(t *testing.T) {
	h := genHistory(400, []client{{10, 1}, {30, 20}}, 2, 40)
	h = slices.Insert(h, 100, checker.Event{T: h[100].T, Node: "c2", Kind: checker.EvFault, Name: "reset", Reason: "online"})
	f := Failure{
		Scenario: "gen", Seed: 42, Impl: "mutant:no-drain", Hash: 0xfeed,
		Plan:    map[string]any{"name": "gen", "duration_us": 1000},
		History: h, Result: checked(t, h), Window: 100,
		Porcupine: []byte(`<html><body>partitions "ok"</body></html>`), PorcupineVerdict: "illegal",
	}
	dir := t.TempDir()
	if err := WriteFailure(dir, f, writeJSONL); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "failures", "gen-42-mutant_no-drain")
	plan, err := os.ReadFile(filepath.Join(out, "plan.json"))
	if err != nil || string(plan) != "{\n  \"duration_us\": 1000,\n  \"name\": \"gen\"\n}\n" {
		t.Fatalf("plan.json: %q, %v", plan, err)
	}
	hist, err := os.Open(filepath.Join(out, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer hist.Close()
	var lines int
	var back checker.History
	for sc := bufio.NewScanner(hist); sc.Scan(); lines++ {
		var e checker.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		back = append(back, e)
	}
	w := selectWindow(h, f.Result.Violations[0].Index, 100)
	if lines != len(w.idx) {
		t.Fatalf("history.jsonl has %d events, the window %d", lines, len(w.idx))
	}
	// The window is a history in its own right: ordered in time, judgeable.
	if _, err := checker.Check(back); err != nil {
		t.Fatalf("the window is not a well-formed history: %v", err)
	}

	page, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	v := f.Result.Violations[0]
	for _, want := range []string{
		`<h1>gen seed 42</h1>`,
		`<dd class="fail">FAIL: 1 violation</dd>`,
		`<dd class="illegal">illegal</dd>`,
		`<code>simrun replay --scenario gen --seed 42 --impl mutant:no-drain</code>`,
		`<code>000000000000feed</code>`,
		fmt.Sprintf(`<li><b>no-dup</b> on c2 session 2 at <a href="#ev-%d">event %d</a> (<a href="#violation-0">timeline</a>): seq 40 delivered again</li>`, v.Index, v.Index),
		`<svg id="timeline"`,
		`<circle id="violation-0" class="violation"`,
		fmt.Sprintf(`<tr id="ev-%d" data-node="%s" data-session="%d" data-kind="%s" class="violation">`, v.Index, v.Node, v.Session, f.History[v.Index].Kind),
		`<text class="lanename" x="6" y="`, `>c2 session 2</text>`,
		`>Online 30</text>`, `>request 20</text>`, `>reply 30</text>`, `>client_done 30</text>`,
		`partitions \&#34;ok\&#34;`,
		`events left out</td></tr>`,
		`<line class="fault"`, `<text class="fault" x="`, `>reset c2 online</text>`,
		fmt.Sprintf("Kept in full: events %d..%d of %d.", w.lo, w.hi, len(h)),
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}

	// The same failure gives the same files.
	again := t.TempDir()
	if err := WriteFailure(again, f, writeJSONL); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"plan.json", "history.jsonl", "report.html"} {
		a, _ := os.ReadFile(filepath.Join(out, name))
		b, _ := os.ReadFile(filepath.Join(again, "failures", "gen-42-mutant_no-drain", name))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two writes of one failure", name)
		}
	}

	if err := WriteFailure(dir, f, nil); err == nil {
		t.Error("WriteFailure without a history writer succeeded")
	}
	failing := func(io.Writer, checker.History) error { return fmt.Errorf("disk full") }
	if err := WriteFailure(dir, f, failing); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("history writer error: %v", err)
	}
}

// TestWriteFailureWithoutHistory covers a run that stopped with an error before recording.
func TestWriteFailureWithoutHistory(t *testing.T) {
	dir := t.TempDir()
	f := Failure{Scenario: "../../etc", Seed: 3, Impl: "reference", Err: "seed 3 panicked: <nil map>"}
	if err := WriteFailure(dir, f, writeJSONL); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "failures", "_.._etc-3-reference", "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ERROR: the run could not complete", "seed 3 panicked: &lt;nil map&gt;", "The history is empty.", "not run"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
}

// TestReportSize writes the report of a 100,000-event history whose failing session reads a
// long history at the violation, so the cap on extra events binds, with a porcupine
// visualization too large to embed.
func TestReportSize(t *testing.T) {
	const n = 100_000
	h := genHistory(n, []client{{100, 50}, {500, 400}, {9000, 1}, {12000, 11990}}, 3, 5)
	res := checked(t, h)
	if len(res.Violations) != 1 {
		t.Fatalf("violations: %+v", res.Violations)
	}
	big := bytes.Repeat([]byte(`<div class="op" data-x="1">"</div>`), 100_000) // 3.4 MB, more escaped
	dir := t.TempDir()
	f := Failure{Scenario: "big", Seed: 1, Impl: "reference", Plan: struct{}{}, History: h, Result: res,
		Porcupine: big, PorcupineVerdict: "unknown"}
	if err := WriteFailure(dir, f, writeJSONL); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "failures", "big-1-reference")
	page, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report.html: %d bytes", len(page))
	if len(page) > 5<<20 {
		t.Errorf("report.html is %d bytes, over 5 MB", len(page))
	}
	if !strings.Contains(string(page), `<a href="porcupine.html">porcupine.html</a>`) {
		t.Error("the oversized visualization is not linked")
	}
	if p, err := os.ReadFile(filepath.Join(out, "porcupine.html")); err != nil || !bytes.Equal(p, big) {
		t.Errorf("porcupine.html: %d bytes, %v", len(p), err)
	}
	rows := len(regexp.MustCompile(`<tr id="ev-`).FindAllIndex(page, -1))
	if max := 3*DefaultWindow + 1; rows > max {
		t.Errorf("%d event rows, more than the window and cap allow (%d)", rows, max)
	}
	if !regexp.MustCompile(`Kept from elsewhere: \d+ events .*; \d+ more were cut by the cap of 2000\.`).Match(page) {
		t.Error("the report does not say what the cap cut")
	}
	if st, err := os.Stat(filepath.Join(out, "history.jsonl")); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("history.jsonl: %d bytes", st.Size())
	}

	// Embedded, a visualization as large as the page allows still keeps it under 5 MB.
	f.Porcupine = bytes.Repeat([]byte("x"), porcupineInline)
	if err := WriteFailure(dir, f, writeJSONL); err != nil {
		t.Fatal(err)
	}
	page, _ = os.ReadFile(filepath.Join(out, "report.html"))
	t.Logf("report.html with %d bytes of porcupine embedded: %d bytes", porcupineInline, len(page))
	if len(page) > 5<<20 || !strings.Contains(string(page), "<iframe") {
		t.Errorf("report.html with the largest embedded visualization: %d bytes", len(page))
	}
}

func TestHTMLEscaping(t *testing.T) {
	const evil = `<script>alert("node")</script>`
	h := checker.History{
		{T: 0, Node: "server", Kind: checker.EvPost, Seq: 1},
		{T: 0, Node: "server", Kind: checker.EvPostOK, Seq: 1},
		{T: 1, Node: evil, Session: 1, Kind: checker.EvOpen, Mode: checker.ModeSeq, ReqSeq: 1},
		{T: 2, Node: evil, Session: 1, Kind: checker.EvDeliver, Seq: 1},
		{T: 2, Node: evil, Session: 1, Kind: checker.EvDeliver, Seq: 1},
		{T: 3, Node: evil, Session: 1, Kind: checker.EvState, State: checker.StError, Reason: `"><img src=x onerror=alert(1)>`},
		{T: 4, Node: evil, Kind: checker.EvFault, Name: "</svg><script>alert(2)</script>", Reason: "online"},
	}
	f := Failure{
		Scenario: `"><script>alert(3)</script>`, Seed: 1, Impl: `mutant:<b>x</b>`,
		History: h, Result: checked(t, h),
		Porcupine: []byte(`</iframe><script>alert(4)</script>`), PorcupineVerdict: `<i>ok</i>`,
	}
	if len(f.Result.Violations) == 0 {
		t.Fatal("no violation to show")
	}
	dir := t.TempDir()
	if err := WriteFailure(dir, f, writeJSONL); err != nil {
		t.Fatal(err)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "failures", "*", "report.html"))
	if len(matches) != 1 {
		t.Fatalf("report files: %v", matches)
	}
	page, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	if n := strings.Count(s, "<script"); n != 1 {
		t.Errorf("%d script elements, want only the page's own", n)
	}
	for _, bad := range []string{"<img", "<b>x", "<i>ok", "</iframe><"} {
		if strings.Contains(s, bad) {
			t.Errorf("report.html contains %q unescaped", bad)
		}
	}
	if !strings.Contains(s, "&lt;script&gt;alert(&#34;node&#34;)&lt;/script&gt; session 1") {
		t.Error("the node name is not shown escaped")
	}
}

// A real-time run's report shows what its history cannot: the proxies' fault schedule, how
// late the machine ran, and what was not reproduced; a simulated run's shows none of it.
func TestWriteFailureRealTime(t *testing.T) {
	h := genHistory(400, []client{{10, 1}, {30, 20}}, 2, 40)
	f := Failure{
		Scenario: "gen", Seed: 7, Impl: "mutant:no-drain", Plan: map[string]any{"name": "gen"},
		History: h, Result: checked(t, h), Replay: "simrun validate --plan plan.json --seed 7",
		RealTime: &RealTime{
			Verdict:       "fail",
			Figures:       "the machine ran late: timers late up to 3ms, driver answers 1ms, reads 2ms, CPU stalled 4% of the time; liveness bound stretched to 803ms",
			Latency:       "latency: open -> Online p50 2ms",
			Schedule:      []string{"   12.500ms reset on c1 online: 1 connections", "   40.000ms stall on c1 request: 0 connections, for 20ms <late>"},
			NotReproduced: []string{"crash of server (1 of 1 runs)"},
		},
	}
	read := func(f Failure) string {
		dir := t.TempDir()
		if err := WriteFailure(dir, f, writeJSONL); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(FailureDir(dir, f), "report.html"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	page := read(f)
	for _, want := range []string{
		`<h3 id="schedule">Fault schedule</h3>`,
		`<li><code>   12.500ms reset on c1 online: 1 connections</code></li>`,
		`<li><code>   40.000ms stall on c1 request: 0 connections, for 20ms &lt;late&gt;</code></li>`,
		`<dd>the machine ran late: timers late up to 3ms`,
		`<li>crash of server (1 of 1 runs)</li>`,
		`<dd class="fail">FAIL: 1 violation</dd>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}

	f.RealTime.Verdict, f.RealTime.Schedule, f.RealTime.NotReproduced = VerdictInconclusive, nil, nil
	page = read(f)
	for _, want := range []string{`<dd class="inconclusive">INCONCLUSIVE: the machine ran too late to judge the timing</dd>`, `The proxies applied no fault.`} {
		if !strings.Contains(page, want) {
			t.Errorf("inconclusive report.html lacks %q", want)
		}
	}
	if strings.Contains(page, "Not reproduced") {
		t.Error("report.html has a not-reproduced list with nothing in it")
	}

	f.RealTime = nil
	if page = read(f); strings.Contains(page, "Fault schedule") || strings.Contains(page, "Real time") {
		t.Error("a simulated run's report.html has a real-time section")
	}
}
