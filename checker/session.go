package checker

// session is what the second pass knows about one client session.
type session struct {
	id         int64
	node       string
	nodeAt     int // index of node in checker.nodes
	openAt     int // history index of the open
	mode       Mode
	reqSeq     int64
	ep         int     // the epoch the session is judged in (see epoch)
	pinned     bool    // ep is final: the session has made contact (see contacts)
	log        []entry // that epoch's log
	lastAtOpen int64   // seq of the last entry of log at the open, -1 if none
	ended      bool
	reported   uint16 // bit p set once property p was reported

	resume     bool  // a reopen after deliveries: its first delivery must follow resumeFrom
	resumeFrom int64 // the node's last delivered seq when the reopen began

	count int64 // deliveries so far
	last  int64 // seq of the latest delivery
	top   int64 // highest seq delivered
	// next is the log index of the first stored seq above the gap base (top, or Online.seq when
	// Online came before any delivery): the seq a healthy stream delivers next.
	next int

	// The delivered stored seqs, for telling a duplicate from a step back. A healthy session
	// delivers one run of log indices lo..hi; the bitset over the log is allocated only once a
	// session breaks that run, so memory stays proportional to the log only for buggy sessions.
	lo, hi   int
	bits     []uint64
	phantoms map[int64]struct{}

	online     bool // an Online was accepted (history modes)
	onlineSeq  int64
	blockBegun bool
	blockEnded bool

	// The session's latest events, for violation contexts: a ring of history indices.
	recent  [contextSide]int
	nrecent int
	pending []pendingContext
}

// pendingContext is a violation whose context still waits for left more session events.
type pendingContext struct {
	violation int // index in Result.Violations
	left      int
}

func (s *session) remember(i int) {
	s.recent[s.nrecent%contextSide] = i
	s.nrecent++
}

// seen reports whether seq, at log index j if stored, was delivered before.
func (s *session) seen(seq int64, j int, stored bool) bool {
	switch {
	case !stored:
		_, ok := s.phantoms[seq]
		return ok
	case s.bits != nil:
		return s.bits[j>>6]&(1<<(j&63)) != 0
	}
	return s.lo >= 0 && s.lo <= j && j <= s.hi
}

// mark records the delivery of log index j.
func (s *session) mark(j int) {
	switch {
	case s.bits != nil:
	case s.lo < 0:
		s.lo, s.hi = j, j
		return
	case j == s.hi+1:
		s.hi = j
		return
	case s.lo <= j && j <= s.hi:
		return
	default:
		s.bits = make([]uint64, (len(s.log)+63)/64)
		for k := s.lo; k <= s.hi; k++ {
			s.bits[k>>6] |= 1 << (k & 63)
		}
	}
	s.bits[j>>6] |= 1 << (j & 63)
}
