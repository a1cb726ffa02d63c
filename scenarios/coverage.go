package scenarios

import (
	"sort"
	"strings"

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
	{"autoseq-live", "an autoseq server numbers a post itself and a live session receives it"},
	{"lag-one-of-many", "the server drops one lagging subscriber while another stays live"},
	{"evict-one-before-start", "a history open's buffer first evicts the stored message just before the requested one"},
	{"evict-at-start", "a history open's buffer first evicts the first message it needs"},
	{"evict-one-after-start", "a history open's buffer first evicts the message after the first one it needs"},
	{"evict-both-sides", "a history open's buffer evicts messages before the requested seq and ones it needs"},
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
	// index is where seq s is or would be in the stored log.
	index := func(s int64) int { return sort.Search(len(log), func(i int) bool { return log[i] >= s }) }
	type sess struct {
		mode                 checker.Mode
		why                  string
		req                  int64
		requested, replied   bool
		reply                int64
		online, failed       bool
		active               bool // online mode: Active is its handover
		delivered, bufferHit bool
		last                 int64
		faulted              bool // a fault or crash hit its node while it was current
		evictedBelow         bool // its buffer first evicted a message before its start
		autoseqLive          bool
	}
	live := func(s *sess) bool { return !s.failed && (s.online || s.mode == checker.ModeOnline && s.active) }
	// start is the first seq a seq or seq-data session needs.
	start := func(s *sess) int64 {
		if s.mode == checker.ModeSeqData {
			return s.req + 1
		}
		return s.req
	}
	var requested int64    // the seq the last post asked for
	autoseq := false       // a post was stored under another seq than it asked for
	serverTouched := false // the server crashed or fired a failpoint: it may drop anyone
	// Sessions by id, found through an index, since a map lookup per delivery was the bulk of
	// this pass.
	var all []*sess
	idx := checker.NewSessionIndex()
	find := func(id int64) *sess {
		if k, ok := idx.Find(id); ok {
			return all[k]
		}
		return nil
	}
	current := map[string]*sess{} // by node: the session faults hit
	var nodes []string            // the keys of current, in order of appearance
	for i := range h {
		e := &h[i] // not a copy: an event is 96 bytes and most of them are deliveries
		switch e.Kind {
		case checker.EvPost:
			requested = e.Seq
			continue
		case checker.EvPostOK:
			log = append(log, e.Seq)
			autoseq = autoseq || e.Seq != requested
			continue
		}
		s := find(e.Session)
		if e.Kind == checker.EvOpen {
			s = &sess{mode: e.Mode, why: e.Name, req: e.ReqSeq}
			if idx.Add(e.Session, len(all)) {
				all = append(all, s)
			} else {
				k, _ := idx.Find(e.Session)
				all[k] = s // Check refuses an id opened twice; here the later open counts
			}
			if current[e.Node] == nil {
				nodes = append(nodes, e.Node)
			}
			current[e.Node] = s
			if e.Name == checker.OpenReopen && len(log) > 0 && e.ReqSeq < log[len(log)-1] {
				hit("online-reconnect-stale-seq")
			}
			continue
		}
		if e.Kind == checker.EvCrash || e.Kind == checker.EvFault {
			if e.Node == ServerName {
				serverTouched = true
			} else if s := current[e.Node]; s != nil {
				s.faulted = true
			}
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
				if i := index(start(s)); s.evictedBelow && i < len(log) && e.Seq > log[i] {
					hit("evict-both-sides")
				}
				if s.delivered && s.last == e.Seq {
					hit("overlap-one")
				}
			case checker.PhClientDone:
				if !s.bufferHit {
					hit("exact-match")
				}
			case checker.PhEvict:
				hit("buffer-overflow")
				if s.mode == checker.ModeSeq || s.mode == checker.ModeSeqData {
					due, j := index(start(s)), index(e.Seq)
					switch {
					case j == len(log) || log[j] != e.Seq:
						// not a stored seq: nothing to measure it against
					case j == due-1:
						hit("evict-one-before-start")
					case j == due:
						hit("evict-at-start")
					case j == due+1:
						hit("evict-one-after-start")
					}
					s.evictedBelow = e.Seq < start(s)
				}
			}
			if e.Name == checker.PhOverlap {
				s.bufferHit = true
			}
		case checker.EvDeliver:
			if s.replied && s.reply == -1 && !s.delivered && s.mode == checker.ModeInitial {
				hit("wait-online")
			}
			if autoseq && live(s) && !s.autoseqLive {
				s.autoseqLive = true
				hit("autoseq-live")
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
			if e.State == checker.StActive {
				s.active = true
			}
			if e.State == checker.StError {
				if s.requested && !s.replied {
					hit("request-error-before-reply")
				}
				// A live session whose online channel closes with nothing in the history
				// to close it was dropped by the server for lagging.
				if live(s) && !s.faulted && !serverTouched && strings.HasPrefix(e.Reason, "online channel:") {
					for _, n := range nodes {
						if o := current[n]; o != s && live(o) {
							hit("lag-one-of-many")
							break
						}
					}
				}
				s.failed = true
			}
		}
	}
	return cov
}
