package scenarios

import (
	"sort"

	"github.com/streamsim/streamsim/checker"
)

// Situation is a boundary case a campaign should reach: a campaign that never reaches one has
// never tested it, however many seeds it ran.
type Situation struct {
	Name string
	Doc  string
}

// situations is the coverage matrix's rows, in a fixed order. Each is detected from a history
// alone (opens, phases, faults, the stored log), so socket runs can be measured the same way.
var situations = []Situation{
	{"empty-history", "a history open finds the server empty (Reply with last seq -1)"},
	{"wait-online", "initial on an empty server, started by the first live message"},
	{"seq-beyond-last", "a seq open asks for more than the server's last seq + 1"},
	{"seq-in-gap", "a seq open asks for a seq inside a gap of a sparse log"},
	{"nothing-to-fetch", "a history open goes Online without fetching anything"},
	{"live-overtakes-reply", "live data arrives before the Reply on the nothing-to-fetch path"},
	{"exact-match", "history reaches the target seq with nothing buffered"},
	{"overlap", "history reaches buffered live data"},
	{"overlap-one", "history and the live buffer share exactly one message at the switch"},
	{"buffer-overflow", "the live buffer overflows while history is read"},
	{"request-error-before-reply", "a session fails after sending its Request, before the Reply"},
	{"disconnect-during-history", "a connection fault hits a session between Reply and Online"},
	{"disconnect-after-online", "a connection fault hits a session after Online"},
	{"server-restart-during-history", "the server crashes and restarts while a session is between Reply and Online"},
	{"seq-data", "a seq-data open goes Online"},
	{"last", "a last open goes Online"},
	{"online-reconnect-stale-seq", "a reopen resumes from a seq the server has moved past"},
}

// Situations lists the coverage matrix's rows.
func Situations() []Situation { return append([]Situation(nil), situations...) }

// Coverage counts, per situation (indexed as Situations), how many times it was reached.
type Coverage []int

func situationIndex(name string) int {
	for i, s := range situations {
		if s.Name == name {
			return i
		}
	}
	panic("unknown situation " + name)
}

// Add sums o into c.
func (c *Coverage) Add(o Coverage) {
	if *c == nil {
		*c = make(Coverage, len(situations))
	}
	for i, n := range o {
		(*c)[i] += n
	}
}

// Cover finds the situations a history reached.
func Cover(h checker.History) Coverage {
	cov := make(Coverage, len(situations))
	hit := func(name string) { cov[situationIndex(name)]++ }

	var log []int64 // stored seqs so far, increasing
	stored := func(s int64) bool {
		i := sort.Search(len(log), func(i int) bool { return log[i] >= s })
		return i < len(log) && log[i] == s
	}
	type sess struct {
		mode, why            string
		req                  int64
		requested, replied   bool
		reply                int64
		online, failed       bool
		delivered, bufferHit bool
		last                 int64
	}
	all := map[int64]*sess{}
	current := map[string]*sess{} // by node: the session faults hit
	var nodes []string            // the keys of current, in order of appearance
	for _, e := range h {
		if e.Kind == checker.EvPostOK {
			log = append(log, e.Seq)
			continue
		}
		s := all[e.Session]
		if e.Kind == checker.EvOpen {
			s = &sess{mode: e.Mode, why: e.Name, req: e.ReqSeq}
			all[e.Session] = s
			if current[e.Node] == nil {
				nodes = append(nodes, e.Node)
			}
			current[e.Node] = s
			if e.Name == checker.OpenReopen && len(log) > 0 && e.ReqSeq < log[len(log)-1] {
				hit("online-reconnect-stale-seq")
			}
			continue
		}
		if e.Kind == checker.EvCrash && e.Node == ServerName {
			for _, n := range nodes {
				if s := current[n]; s.replied && !s.online && !s.failed {
					hit("server-restart-during-history")
					break
				}
			}
			continue
		}
		if e.Kind == checker.EvFault {
			if s := current[e.Node]; s != nil && !s.failed {
				switch {
				case s.online:
					hit("disconnect-after-online")
				case s.replied:
					hit("disconnect-during-history")
				}
			}
			continue
		}
		if s == nil {
			continue
		}
		switch e.Kind {
		case checker.EvPhase:
			switch e.Name {
			case checker.PhRequest:
				s.requested = true
			case checker.PhReply:
				s.replied, s.reply = true, e.Seq
				if e.Seq == -1 {
					hit("empty-history")
				}
				start := s.req
				if s.mode == checker.ModeSeqData {
					start++
				}
				if s.mode == checker.ModeSeq || s.mode == checker.ModeSeqData {
					if e.Seq >= 0 && start > e.Seq+1 {
						hit("seq-beyond-last")
					}
					if len(log) > 0 && start > log[0] && start < log[len(log)-1] && !stored(start) {
						hit("seq-in-gap")
					}
				}
			case checker.PhOverlap:
				hit("overlap")
				if s.delivered && s.last == e.Seq {
					hit("overlap-one")
				}
			case checker.PhClientDone:
				if !s.bufferHit {
					hit("exact-match")
				}
			case checker.PhEvict:
				hit("buffer-overflow")
			}
			if e.Name == checker.PhOverlap {
				s.bufferHit = true
			}
		case checker.EvDeliver:
			if s.replied && s.reply == -1 && !s.delivered && s.mode == checker.ModeInitial {
				hit("wait-online")
			}
			s.delivered, s.last = true, e.Seq
		case checker.EvControl:
			if e.Name != checker.CtlOnline || s.online {
				continue
			}
			s.online = true
			switch {
			case s.mode == checker.ModeSeqData:
				hit("seq-data")
			case s.mode == checker.ModeLast:
				hit("last")
			}
			if s.replied && s.reply >= 0 && (s.mode == checker.ModeSeq || s.mode == checker.ModeSeqData) {
				start := s.req
				if s.mode == checker.ModeSeqData {
					start++
				}
				if start == s.reply+1 {
					hit("nothing-to-fetch")
					if s.delivered {
						hit("live-overtakes-reply")
					}
				}
			}
		case checker.EvState:
			if e.State == checker.StError {
				if s.requested && !s.replied {
					hit("request-error-before-reply")
				}
				s.failed = true
			}
		}
	}
	return cov
}
