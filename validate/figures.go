package validate

import (
	"fmt"
	"math"
	"time"

	"github.com/streamsim/streamsim/checker"
)

// Verdict is what a run says about the implementation.
type Verdict uint8

const (
	// Pass: every property held.
	Pass Verdict = iota
	// Fail: a property was violated, or the run could not be judged because a driver broke
	// the driver protocol, died, or left a command unanswered.
	Fail
	// Inconclusive: the only violations rest on timing, and the canary showed the machine
	// itself running late by a large part of the bound, so they may be the machine's.
	Inconclusive
)

func (v Verdict) String() string {
	switch v {
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	}
	return "inconclusive"
}

// Canary is how late the machine ran during a run, measured on the harness itself rather than
// on the implementation: a verdict that rests on timing is only as good as these.
type Canary struct {
	// Timer is the latest the harness ran a planned action (a post, an open, a fault) after
	// its time.
	Timer time.Duration
	// Answer is the longest a client driver took to answer an open or a close, which a
	// driver does at once: the time from the harness sending the command to the answer's
	// stamp.
	Answer time.Duration
	// Read is the longest from a driver stamping a line to the harness reading it.
	Read time.Duration
	// CPUStall is the share of the run's time in which some task on the machine waited for a
	// CPU (Linux's pressure stall information; 0 where the kernel does not give it): the
	// drivers' own lateness, which the harness cannot time.
	CPUStall float64
	// IOStall is the same for I/O: a store's write or sync waits on a disk the whole machine
	// shares, and an fsync behind other processes' writes can take seconds.
	IOStall float64
}

// TooSlow reports whether the machine ran too late to judge timing: by a quarter of the least
// liveness bound, or with tasks waiting for a CPU, or for I/O, half of the time. A machine
// that late in the moments measured may have been later still in others.
func (c Canary) TooSlow() bool {
	return c.Late() >= livenessFloor/4 || c.CPUStall >= 0.5 || c.IOStall >= 0.5
}

// Late is the most the machine was measured to run late.
func (c Canary) Late() time.Duration { return max(c.Timer, c.Answer, c.Read) }

// Add keeps the larger of each figure.
func (c *Canary) Add(o Canary) {
	c.Timer, c.Answer, c.Read = max(c.Timer, o.Timer), max(c.Answer, o.Answer), max(c.Read, o.Read)
	c.CPUStall, c.IOStall = max(c.CPUStall, o.CPUStall), max(c.IOStall, o.IOStall)
}

func (c Canary) String() string {
	return fmt.Sprintf("timers late up to %v, driver answers %v, reads %v, CPU stalled %.0f%% and I/O %.0f%% of the time",
		c.Timer.Round(time.Microsecond), c.Answer.Round(time.Microsecond), c.Read.Round(time.Microsecond), 100*c.CPUStall, 100*c.IOStall)
}

// Latency holds the figures a real run measures in place of a pass/fail guess on speed.
type Latency struct {
	// Online is open to Online (or Active, in online mode), per session that got there.
	Online Hist
	// Delivery is post to delivery, per live session and post posted while it was live.
	Delivery Hist
}

// Add merges o's samples into l.
func (l *Latency) Add(o *Latency) {
	l.Online.add(&o.Online)
	l.Delivery.add(&o.Delivery)
}

// measure takes the latency figures from a judged history.
func measure(h checker.History) Latency {
	var l Latency
	type session struct {
		open, live int64 // live: when it reported Online (or Active in online mode); 0 before
		online     bool  // opened in online mode
	}
	ss := map[int64]*session{}
	posted := map[int64]int64{} // seq stored -> when its post began
	// The server answers posts in order, so each answer is the oldest post's; its seq is the
	// one stored, which autoseq chooses.
	var began []int64
	for i := range h {
		e := &h[i]
		switch e.Kind {
		case checker.EvPost:
			began = append(began, e.T)
		case checker.EvPostOK, checker.EvPostErr:
			if len(began) == 0 {
				continue
			}
			if e.Kind == checker.EvPostOK {
				posted[e.Seq] = began[0]
			}
			began = began[1:]
		case checker.EvOpen:
			ss[e.Session] = &session{open: e.T, online: e.Mode == checker.ModeOnline}
		case checker.EvControl, checker.EvState:
			s := ss[e.Session]
			if s == nil || s.live != 0 {
				continue
			}
			if e.Kind == checker.EvControl && e.Name == checker.CtlOnline || e.Kind == checker.EvState && e.State == checker.StActive && s.online {
				s.live = e.T
				l.Online.Record(time.Duration(e.T - s.open))
			}
		case checker.EvDeliver:
			s := ss[e.Session]
			if t, ok := posted[e.Seq]; ok && s != nil && s.live != 0 && s.live <= t {
				l.Delivery.Record(time.Duration(e.T - t))
			}
		}
	}
	return l
}

// Hist is a latency histogram of fixed size, whatever the number of samples: buckets grow by
// histGrowth from 1 µs, so a percentile is exact to within that factor; the maximum is exact.
type Hist struct {
	N       int64
	Max     time.Duration
	buckets [histBuckets]int64
}

const (
	histGrowth  = 1.05
	histBuckets = 520 // 1 µs * 1.05^520 is past 100 s
)

func bucket(d time.Duration) int {
	if d < time.Microsecond {
		return 0
	}
	return min(histBuckets-1, 1+int(math.Log(float64(d)/float64(time.Microsecond))/math.Log(histGrowth)))
}

// upper is the longest latency bucket b holds.
func upper(b int) time.Duration {
	return time.Duration(float64(time.Microsecond) * math.Pow(histGrowth, float64(b)))
}

// Record adds one sample; a negative one (clocks of two processes) counts as zero.
func (h *Hist) Record(d time.Duration) {
	d = max(d, 0)
	h.N++
	h.Max = max(h.Max, d)
	h.buckets[bucket(d)]++
}

func (h *Hist) add(o *Hist) {
	h.N += o.N
	h.Max = max(h.Max, o.Max)
	for i, n := range o.buckets {
		h.buckets[i] += n
	}
}

// Quantile is the q-quantile (0 < q <= 1), as its bucket's upper end but never above Max;
// 0 without samples.
func (h *Hist) Quantile(q float64) time.Duration {
	if h.N == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.N)))
	var seen int64
	for b, n := range h.buckets {
		if seen += n; seen >= rank {
			return min(upper(b), h.Max)
		}
	}
	return h.Max
}

// String is "p50 X p99 Y max Z (n N)", or "-" without samples.
func (h *Hist) String() string {
	if h.N == 0 {
		return "-"
	}
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
	return fmt.Sprintf("p50 %v p99 %v max %v (n %d)", r(h.Quantile(0.5)), r(h.Quantile(0.99)), r(h.Max), h.N)
}
