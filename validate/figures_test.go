package validate

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamsim/streamsim/checker"
)

func TestJudge(t *testing.T) {
	calm, late, stalled := Canary{Timer: time.Millisecond, CPUStall: 0.2, IOStall: 0.4}, Canary{Answer: livenessFloor / 4}, Canary{CPUStall: 0.5}
	diskBound := Canary{Timer: time.Millisecond, IOStall: 0.5}
	for _, c := range []struct {
		n, timed int
		canary   Canary
		want     Verdict
	}{
		{0, 0, late, Pass},
		{1, 1, calm, Fail},         // a liveness violation on a machine that kept time
		{1, 1, late, Inconclusive}, // the same on one that ran late
		{1, 1, stalled, Inconclusive},
		{1, 1, diskBound, Inconclusive}, // a store's sync may have waited behind other writers
		{2, 1, diskBound, Fail},
		{2, 1, late, Fail}, // a safety violation is never the machine's
	} {
		if got := judge(c.n, c.timed, c.canary); got != c.want {
			t.Errorf("judge(%d, %d, %v) = %v, want %v", c.n, c.timed, c.canary, got, c.want)
		}
	}
}

func TestHistQuantiles(t *testing.T) {
	var h Hist
	if h.String() != "-" || h.Quantile(0.5) != 0 {
		t.Fatalf("empty histogram: %q", h.String())
	}
	for i := 1; i <= 100; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	h.Record(-time.Second) // clocks of two processes: counted as zero
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}} {
		got := h.Quantile(c.q)
		if got < c.want || float64(got) > float64(c.want)*histGrowth {
			t.Errorf("quantile %v = %v, want %v to within %v", c.q, got, c.want, histGrowth)
		}
	}
	if h.N != 101 || h.Max != 100*time.Millisecond {
		t.Errorf("n %d max %v", h.N, h.Max)
	}
	var sum Hist
	sum.add(&h)
	sum.add(&h)
	if sum.N != 202 || sum.Quantile(0.5) != h.Quantile(0.5) {
		t.Errorf("merged: n %d p50 %v, want 202 and %v", sum.N, sum.Quantile(0.5), h.Quantile(0.5))
	}
}

// The figures count a session's open to its Online, and a post to its delivery only in a
// session live when it was posted: a history delivery is catch-up, not latency.
func TestMeasure(t *testing.T) {
	ms := int64(time.Millisecond)
	h := checker.History{
		{T: 0, Node: "server", Kind: checker.EvPost, Seq: 1},
		{T: 1 * ms, Node: "server", Kind: checker.EvPostOK, Seq: 1},
		{T: 2 * ms, Node: "c1", Session: 1, Kind: checker.EvOpen, Mode: checker.ModeSeq, ReqSeq: 1},
		{T: 5 * ms, Node: "c1", Session: 1, Kind: checker.EvDeliver, Seq: 1},
		{T: 6 * ms, Node: "c1", Session: 1, Kind: checker.EvControl, Name: checker.CtlOnline, Seq: 1},
		{T: 10 * ms, Node: "server", Kind: checker.EvPost, Seq: 2},
		{T: 11 * ms, Node: "server", Kind: checker.EvPostOK, Seq: 2},
		{T: 13 * ms, Node: "c1", Session: 1, Kind: checker.EvDeliver, Seq: 2},
	}
	l := measure(h)
	if l.Online.N != 1 || l.Online.Max != 4*time.Millisecond {
		t.Errorf("open to Online: %s, want one of 4ms", l.Online.String())
	}
	if l.Delivery.N != 1 || l.Delivery.Max != 3*time.Millisecond {
		t.Errorf("post to delivery: %s, want one of 3ms", l.Delivery.String())
	}
}

// The stall figure is the "some" line's total, in microseconds; anything else is no figure.
func TestReadStall(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		text string
		want time.Duration
		ok   bool
	}{
		{"some avg10=97.41 avg60=96.58 avg300=96.20 total=1499964380\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", 1499964380 * time.Microsecond, true},
		{"full avg10=0.00 total=5\n", 0, false},
		{"some avg10=1 total=x\n", 0, false},
	} {
		path := filepath.Join(dir, "cpu")
		if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, ok := readStall(path); got != c.want || ok != c.ok {
			t.Errorf("readStall(%q) = %v, %v; want %v, %v", c.text, got, ok, c.want, c.ok)
		}
	}
	if _, ok := readStall(filepath.Join(dir, "none")); ok {
		t.Error("a missing file gave a figure")
	}
}
