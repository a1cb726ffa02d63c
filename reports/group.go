package reports

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// FailureGroup is the failing seeds of one scenario and implementation that broke the same
// property with the same message up to its numbers: a mutant campaign fails thousands of
// seeds with one bug, and people want to see it once, with a count.
type FailureGroup struct {
	Scenario, Impl string
	Property       string // "error" for runs that could not complete
	Pattern        string // the message with every number replaced by N
	Seeds          int    // failing seeds in the group
	First          FailureResult
}

// Replay is the command that reruns the group's first seed.
func (g FailureGroup) Replay() string {
	return cmp.Or(g.First.Replay, ReplayCommand(g.First.Scenario, g.First.Seed, g.First.Impl))
}

// Example is the first seed's own message, numbers included.
func (g FailureGroup) Example() string {
	if g.First.Error != "" {
		return g.First.Error
	}
	return g.First.Violations[0].Message
}

// Group groups failures by scenario, implementation, first violated property and message
// pattern, in that order; within a group the first seed is the lowest.
func Group(fs []FailureResult) []FailureGroup {
	type key struct{ scenario, impl, property, pattern string }
	at := map[key]int{}
	var gs []FailureGroup
	for _, f := range fs {
		prop, msg := "error", f.Error
		if f.Error == "" {
			prop, msg = f.Violations[0].Property, f.Violations[0].Message
		}
		if f.Verdict != "" {
			prop = f.Verdict + ": " + prop // an inconclusive run is never grouped with a failure
		}
		k := key{f.Scenario, f.Impl, prop, Pattern(msg)}
		i, ok := at[k]
		if !ok {
			i = len(gs)
			at[k] = i
			gs = append(gs, FailureGroup{Scenario: k.scenario, Impl: k.impl, Property: k.property, Pattern: k.pattern, First: f})
		}
		gs[i].Seeds++
		if f.Seed < gs[i].First.Seed {
			gs[i].First = f
		}
	}
	slices.SortStableFunc(gs, func(a, b FailureGroup) int {
		return cmp.Or(cmp.Compare(a.Scenario, b.Scenario), cmp.Compare(a.Impl, b.Impl), cmp.Compare(a.Property, b.Property), cmp.Compare(a.Pattern, b.Pattern))
	})
	return gs
}

// Pattern replaces each run of digits in msg by N, so "seq 40 delivered twice" and "seq 7
// delivered twice" read as one kind of failure.
func Pattern(msg string) string {
	var b strings.Builder
	inNumber := false
	for _, r := range msg {
		if r >= '0' && r <= '9' {
			if !inNumber {
				b.WriteByte('N')
			}
			inNumber = true
			continue
		}
		inNumber = false
		b.WriteRune(r)
	}
	return b.String()
}

// Duration prints d in the unit people read it in, with two or three significant digits:
// 850 ns, 4.2 µs, 4.2 ms, 500 ms, 12.3 s, 2 min 05 s, 1 h 02 min.
func Duration(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + Duration(-d)
	case d < time.Microsecond:
		return fmt.Sprintf("%d ns", d.Nanoseconds())
	case d < time.Millisecond:
		return scaled(float64(d)/float64(time.Microsecond), "µs")
	case d < time.Second:
		return scaled(float64(d)/float64(time.Millisecond), "ms")
	case d < time.Minute:
		return scaled(d.Seconds(), "s")
	case d < time.Hour:
		s := d.Round(time.Second)
		return fmt.Sprintf("%d min %02d s", int(s.Minutes()), int(s.Seconds())%60)
	}
	m := d.Round(time.Minute)
	return fmt.Sprintf("%d h %02d min", int(m.Hours()), int(m.Minutes())%60)
}

// scaled prints v (at least 1) with one decimal below 10 and none from there.
func scaled(v float64, unit string) string {
	if v < 9.95 {
		return fmt.Sprintf("%.1f %s", v, unit)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}
