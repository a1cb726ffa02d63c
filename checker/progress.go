package checker

import "fmt"

// ProgressOptions say what the run's links may do on their own.
type ProgressOptions struct {
	// Calm says the run's links never end a connection on their own: no datagram links,
	// bandwidth or receiver limits, or segment loss (LivenessOptions.Calm). On other links a
	// server may drop a lagging subscriber or a client may see a gap in a datagram stream,
	// and the history shows neither, so progress judges calm runs only.
	Calm bool
	// HandshakeNs is how long a client waits for its handshake before it gives up: an Error
	// that long or longer after the open, with no Active before it, is the client's own
	// timeout. 0: clients never time out.
	HandshakeNs int64
}

// CheckProgress judges progress: a session that ends in Error (or Closed with no close of
// its own) must have had a cause the history shows. The causes are
//   - a fault, failpoint or crash event of the session's node, at any time before the end
//     (a fault event marks where a fault starts, and its effect may outlast it);
//   - a fault event of the server before the end, except a failpoint, which strikes at once
//     and so touches only the sessions open when it fires;
//   - a crash or restart of the server while the session was open, or the server being down
//     at the open;
//   - an overflow of the session's buffer (its evict phase);
//   - a handshake that took HandshakeNs or longer: no Active that long after the open;
//   - a documented loud failure, decided from the server's last seq at the open: a seq mode
//     asking for a seq beyond last+1 (or a negative one), or any of seq, seq-data and last
//     on an empty server.
//
// A session with none of them that fails is reported once, with its Error's reason. It
// assumes a history Check accepted, runs in time linear in the history and returns the
// violations in history order.
func CheckProgress(h History, opt ProgressOptions) []Violation {
	if !opt.Calm || len(h) == 0 {
		return nil
	}
	p := newProgress(serverOf(h), opt)
	for i := range h {
		p.event(h, i)
	}
	return p.vs
}

func newProgress(server string, opt ProgressOptions) *progress {
	return &progress{
		server: server, last: -1, sessions: NewSessionIndex(), handshake: opt.HandshakeNs,
		nodeFault: make(map[string]bool), serverFaultAt: -1, serverUpAt: -1,
	}
}

type progress struct {
	server    string
	handshake int64
	last      int64 // the server's last seq now, -1 if none
	down      bool  // the server crashed and has not restarted
	ss        []progressSession
	sessions  SessionIndex
	nodeFault map[string]bool // client nodes with a fault, failpoint, crash or restart so far
	// serverFaultAt is the history index of the server's latest fault event other than a
	// failpoint, -1 if none; serverUpAt that of its latest crash or restart, or failpoint.
	serverFaultAt int
	serverUpAt    int
	vs            []Violation // found so far, in history order
}

// progressSession is what progress knows about one session.
type progressSession struct {
	openAt  int
	openT   int64
	active  bool
	node    string
	excused string // the cause found so far, "" if none
	closed  bool   // its application closed it
	ended   bool
}

// event takes event i, adding a violation to p.vs if it is a groundless end. It returns
// nothing: a violation returned per event was a copy of an empty one on every delivery.
func (p *progress) event(h History, i int) {
	e := &h[i]
	switch e.Kind {
	case EvPostOK:
		p.last = e.Seq
		return
	case EvFault, EvCrash, EvRestart:
		p.disturb(i, e)
		return
	case EvOpen:
		if p.sessions.Add(e.Session, len(p.ss)) {
			p.ss = append(p.ss, progressSession{openAt: i, openT: e.T, node: e.Node, excused: p.documented(e)})
		}
		return
	case EvClose, EvState, EvPhase:
	default:
		return
	}
	k, ok := p.sessions.Find(e.Session)
	if !ok {
		return
	}
	s := &p.ss[k]
	switch {
	case s.ended:
	case e.Kind == EvClose:
		s.closed = true
	case e.Kind == EvPhase && e.Name == PhEvict && s.excused == "":
		s.excused = "its buffer overflowed"
	case e.Kind == EvState && e.State == StActive:
		s.active = true
	case e.Kind == EvState && (e.State == StError || e.State == StClosed):
		s.ended = true
		if s.closed || p.caused(s) || p.handshake > 0 && !s.active && e.T-s.openT >= p.handshake {
			return
		}
		msg := fmt.Sprintf("session %d ended in %s (%q) with nothing in the history to cause it: no fault, crash or restart touching it, no overflow, and not a documented failure of its open", e.Session, e.State, e.Reason)
		if e.State == StClosed {
			msg = fmt.Sprintf("session %d reported Closed without being closed, with nothing in the history to cause it: no fault, crash or restart touching it, and no overflow", e.Session)
		}
		p.vs = append(p.vs, Violation{
			Property: PropProgress, Session: e.Session, Node: e.Node, Index: i, Message: msg,
			Context: sessionContext(h, e.Session, i, true),
		})
	}
}

// disturb records a fault, crash or restart event.
func (p *progress) disturb(i int, e *Event) {
	if e.Node != p.server {
		p.nodeFault[e.Node] = true
		return
	}
	switch e.Kind {
	case EvCrash:
		p.down, p.serverUpAt = true, i
	case EvRestart:
		p.down, p.serverUpAt, p.last = false, i, e.Seq
	case EvFault:
		if e.Name == "failpoint" {
			p.serverUpAt = i
		} else {
			p.serverFaultAt = i
		}
	}
}

// documented names the documented loud failure an open asks for, "" if none, and the
// server being down at the open.
func (p *progress) documented(e *Event) string {
	if p.down {
		return "the server was down at the open"
	}
	switch m := e.Mode; {
	case !m.known() || m == ModeOnline || m == ModeInitial: // an unknown mode is Check's to report
		return ""
	case p.last < 0:
		return "the server was empty at the open"
	case m == ModeLast:
		return ""
	case e.ReqSeq < 0:
		return "the open asked for a negative seq"
	case m == ModeSeq && e.ReqSeq > p.last+1, m == ModeSeqData && e.ReqSeq > p.last:
		return fmt.Sprintf("the open asked for seq beyond %d, the server's last seq + 1", p.last+1)
	}
	return ""
}

// caused reports whether the history shows a cause for s to fail now.
func (p *progress) caused(s *progressSession) bool {
	return s.excused != "" || p.nodeFault[s.node] || p.serverFaultAt >= 0 || p.serverUpAt > s.openAt
}
