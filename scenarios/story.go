package scenarios

import (
	"fmt"
	"strings"

	"github.com/streamsim/streamsim/checker"
)

// Story renders what the applications saw in a history, one line per happening, with runs of
// deliveries to one session folded into one line. It leaves out timing and the server's
// accepted posts, so it is stable across seeds wherever a plan's outcome does not depend on
// them: that is what the catalogue's acceptance files compare.
func Story(h checker.History) string {
	var b strings.Builder
	var run int64 = -1 // session of the open data line
	for _, e := range h {
		if run >= 0 && e.Kind != checker.EvDeliver && rendered(e.Kind) {
			b.WriteByte('\n')
			run = -1
		}
		switch e.Kind {
		case checker.EvDeliver:
			if run != e.Session {
				if run >= 0 {
					b.WriteByte('\n')
				}
				fmt.Fprintf(&b, "%s data", e.Node)
				run = e.Session
			}
			fmt.Fprintf(&b, " %d", e.Seq)
		case checker.EvPostErr:
			fmt.Fprintf(&b, "%s refused %d\n", e.Node, e.Seq)
		case checker.EvOpen:
			fmt.Fprintf(&b, "%s open %s %d\n", e.Node, e.Mode, e.ReqSeq)
		case checker.EvControl:
			fmt.Fprintf(&b, "%s %s %d\n", e.Node, e.Name, e.Seq)
		case checker.EvState:
			if e.Reason != "" {
				fmt.Fprintf(&b, "%s %s: %s\n", e.Node, e.State, e.Reason)
			} else {
				fmt.Fprintf(&b, "%s %s\n", e.Node, e.State)
			}
		case checker.EvClose:
			fmt.Fprintf(&b, "%s close\n", e.Node)
		case checker.EvFault:
			fmt.Fprintf(&b, "%s fault %s %s\n", e.Node, e.Name, e.Reason)
		}
	}
	if run >= 0 {
		b.WriteByte('\n')
	}
	return b.String()
}

// rendered says whether Story prints a line for events of kind k.
func rendered(k checker.Kind) bool {
	switch k {
	case checker.EvPost, checker.EvPostOK, checker.EvPhase:
		return false
	}
	return true
}

// Summary renders one line per session: what it asked for, how much it got, where it went
// online and how it ended. It is the readable form for plans too large for a Story.
func Summary(h checker.History) string {
	type sess struct {
		node, mode    string
		req           int64
		n             int
		first, last   int64
		online        []int64
		state, reason string
	}
	var order []int64
	all := map[int64]*sess{}
	for _, e := range h {
		if e.Session == 0 {
			continue
		}
		s := all[e.Session]
		if s == nil {
			s = &sess{node: e.Node, first: -1, last: -1}
			all[e.Session] = s
			order = append(order, e.Session)
		}
		switch e.Kind {
		case checker.EvOpen:
			s.mode, s.req = e.Mode.String(), e.ReqSeq
		case checker.EvDeliver:
			if s.n == 0 {
				s.first = e.Seq
			}
			s.n++
			s.last = e.Seq
		case checker.EvControl:
			if e.Name == checker.CtlOnline {
				s.online = append(s.online, e.Seq)
			}
		case checker.EvState:
			s.state, s.reason = e.State.String(), e.Reason
		}
	}
	var b strings.Builder
	for _, id := range order {
		s := all[id]
		fmt.Fprintf(&b, "%s open %s %d: %d delivered", s.node, s.mode, s.req, s.n)
		if s.n > 0 {
			fmt.Fprintf(&b, " (%d..%d)", s.first, s.last)
		}
		for _, o := range s.online {
			fmt.Fprintf(&b, ", Online %d", o)
		}
		fmt.Fprintf(&b, ", ends %s", s.state)
		if s.reason != "" {
			fmt.Fprintf(&b, ": %s", s.reason)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
