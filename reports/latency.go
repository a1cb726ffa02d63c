package reports

import (
	"math/bits"
	"time"

	"github.com/streamsim/streamsim/checker"
)

// Histogram counts durations in buckets that double: bucket 0 holds [0, 1 µs), bucket i > 0
// holds [2^(i-1), 2^i) µs, and the last bucket everything longer. Fixed size, so a campaign
// of any length keeps the same few bytes.
type Histogram struct {
	Counts [32]int64 `json:"counts"`
}

// Add counts one duration.
func (h *Histogram) Add(d time.Duration) {
	us := uint64(max(d, 0) / time.Microsecond)
	h.Counts[min(bits.Len64(us), len(h.Counts)-1)]++
}

// Merge adds o's counts.
func (h *Histogram) Merge(o Histogram) {
	for i, n := range o.Counts {
		h.Counts[i] += n
	}
}

// Total is the number of durations counted.
func (h Histogram) Total() int64 {
	var n int64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Bounds is bucket i's lower and upper bound (the last bucket's upper bound is open).
func (h Histogram) Bounds(i int) (lo, hi time.Duration) {
	if i == 0 {
		return 0, time.Microsecond
	}
	return time.Microsecond << (i - 1), time.Microsecond << i
}

// Quantile is the upper bound of the bucket holding the q-th quantile: an upper estimate
// within a factor of two.
func (h Histogram) Quantile(q float64) time.Duration {
	total := h.Total()
	if total == 0 {
		return 0
	}
	want := int64(q*float64(total) + 0.5)
	var seen int64
	for i, c := range h.Counts {
		seen += c
		if seen >= max(want, 1) {
			_, hi := h.Bounds(i)
			return hi
		}
	}
	_, hi := h.Bounds(len(h.Counts) - 1)
	return hi
}

// Latency is how long a run's clients waited, in the run's own time (virtual in simulation).
type Latency struct {
	// OpenOnline is from a session's open to its Online control: the handover's length.
	OpenOnline Histogram `json:"open_online"`
	// PostDelivery is from a post's acceptance to its delivery, counted for sessions already
	// open when the post was made: live traffic, not history replayed to a late reader.
	PostDelivery Histogram `json:"post_delivery"`
}

// Merge adds o's counts.
func (l *Latency) Merge(o Latency) {
	l.OpenOnline.Merge(o.OpenOnline)
	l.PostDelivery.Merge(o.PostDelivery)
}

// MeasureLatency reads both latencies off a history.
func MeasureLatency(h checker.History) Latency {
	var l Latency
	opened := map[int64]int64{} // session → open time, until its Online
	openAt := map[int64]int64{} // session → open time
	posted := map[int64]int64{} // seq → time of its latest acceptance
	for _, e := range h {
		switch e.Kind {
		case checker.EvOpen:
			opened[e.Session], openAt[e.Session] = e.T, e.T
		case checker.EvControl:
			if t, ok := opened[e.Session]; ok && e.Name == checker.CtlOnline {
				l.OpenOnline.Add(time.Duration(e.T - t))
				delete(opened, e.Session)
			}
		case checker.EvPostOK:
			posted[e.Seq] = e.T
		case checker.EvDeliver:
			t, ok := posted[e.Seq]
			if o, open := openAt[e.Session]; ok && open && o <= t {
				l.PostDelivery.Add(time.Duration(e.T - t))
			}
		}
	}
	return l
}
