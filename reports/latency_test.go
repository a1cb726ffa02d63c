package reports

import (
	"testing"
	"time"

	"github.com/streamsim/streamsim/checker"
)

func TestMeasureLatency(t *testing.T) {
	ms := int64(time.Millisecond)
	h := checker.History{
		{T: 0, Kind: checker.EvPostOK, Seq: 1},
		{T: 1 * ms, Session: 1, Kind: checker.EvOpen},
		{T: 2 * ms, Session: 1, Kind: checker.EvDeliver, Seq: 1}, // history, posted before the open: not live
		{T: 5 * ms, Session: 1, Kind: checker.EvControl, Name: checker.CtlOnline},
		{T: 6 * ms, Kind: checker.EvPostOK, Seq: 2},
		{T: 9 * ms, Session: 1, Kind: checker.EvDeliver, Seq: 2},
		{T: 9 * ms, Session: 1, Kind: checker.EvControl, Name: checker.CtlOnline}, // a second Online: not a new handover
		{T: 10 * ms, Session: 2, Kind: checker.EvOpen},
		{T: 10 * ms, Session: 2, Kind: checker.EvDeliver, Seq: 2}, // opened after the post
	}
	l := MeasureLatency(h)
	if l.OpenOnline.Total() != 1 || l.PostDelivery.Total() != 1 {
		t.Fatalf("measured %d handovers and %d live deliveries, want 1 and 1", l.OpenOnline.Total(), l.PostDelivery.Total())
	}
	// 4 ms and 3 ms both fall in the bucket [2048, 4096) µs.
	if q := l.OpenOnline.Quantile(0.5); q != 4096*time.Microsecond {
		t.Errorf("open → Online median bound %v", q)
	}
	if q := l.PostDelivery.Quantile(0.5); q != 4096*time.Microsecond {
		t.Errorf("post → delivery median bound %v", q)
	}
	var sum Latency
	sum.Merge(l)
	sum.Merge(l)
	if sum.OpenOnline.Total() != 2 {
		t.Errorf("merge: %d", sum.OpenOnline.Total())
	}
}

func TestHistogramBoundsEveryDuration(t *testing.T) {
	var h Histogram
	for _, d := range []time.Duration{-1, 0, time.Microsecond, time.Second, 1000 * time.Hour} {
		h.Add(d)
	}
	if h.Total() != 5 || h.Counts[0] != 2 || h.Counts[len(h.Counts)-1] != 1 {
		t.Errorf("counts %v", h.Counts)
	}
	if h.Quantile(0) != time.Microsecond {
		t.Errorf("lowest quantile %v", h.Quantile(0))
	}
}
