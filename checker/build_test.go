package checker

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// script is a history written as text, one command per line or ';'-separated:
//
//	ok 10 20 30          post_ok events (post: post events; sync: post_ok events marked synced)
//	open c1 seq 20       open session 1 on node c1 (mode, then ReqSeq when the mode takes one);
//	                     a trailing "reopen" marks an automatic reopen
//	d c1 20 30           correct deliveries; dsum / dmsg deliver a wrong checksum / msgid
//	online c1 30         Online control; begin / end are BeginOfBlock / EndOfBlock
//	state c1 Error       state change
//	phase c1 reply 30    protocol phase
//	close c1             close
//	crash srv            a node crashes; restart srv 20 restarts it (Seq 20)
//	fault c1 reset       an injected fault
//	t 5                  the next event's time (otherwise time steps by 1)
//
// Sessions are named "c1" (node c1, session 1) or "c1.2" (node c1, session 2), so that one
// node can have several sessions.
//
// A token may carry markers: "30!no-gap" says the event that token makes must be reported for
// that property (several markers keep their order), "30!liveness@c2" that it must be reported
// for session 2; "!err" says Check must fail at that event.
// Markers keep expected indexes next to the events instead of in hand-counted numbers.
type script struct {
	h     History
	want  []string // "property cN @index", in the order Check must report them
	errAt int      // index of the expected HistoryError, -1 for none
	nodes map[int64]string
}

const testMsgID = 10

func testSum(seq int64) uint32 { return Checksum([]byte("m" + strconv.FormatInt(seq, 10))) }

func parseScript(t testing.TB, src string) script {
	t.Helper()
	s := script{errAt: -1, nodes: map[int64]string{0: "srv"}}
	var now int64
	add := func(e Event, marks []string) {
		now++
		e.T = now
		for _, m := range marks {
			if m == "err" {
				s.errAt = len(s.h)
				continue
			}
			session := e.Session
			if p, who, ok := strings.Cut(m, "@c"); ok {
				n, err := strconv.ParseInt(who, 10, 64)
				if err != nil {
					t.Fatalf("marker %q: %v", m, err)
				}
				m, session = p, n
			}
			s.want = append(s.want, fmt.Sprintf("%s c%d @%d", m, session, len(s.h)))
		}
		s.h = append(s.h, e)
	}
	for cmd := range strings.FieldsFuncSeq(src, func(r rune) bool { return r == ';' || r == '\n' }) {
		var words []string
		var marks [][]string
		for w := range strings.FieldsSeq(cmd) {
			parts := strings.Split(w, "!")
			words, marks = append(words, parts[0]), append(marks, parts[1:])
		}
		if len(words) == 0 {
			continue
		}
		all := func(from int) []string {
			var ms []string
			for _, m := range marks[from:] {
				ms = append(ms, m...)
			}
			return ms
		}
		num := func(k int) int64 {
			if k >= len(words) {
				t.Fatalf("%q: missing argument %d", cmd, k)
			}
			n, err := strconv.ParseInt(words[k], 10, 64)
			if err != nil {
				t.Fatalf("%q: %v", cmd, err)
			}
			return n
		}
		sess := func() (string, int64) {
			if len(words) < 2 || !strings.HasPrefix(words[1], "c") {
				t.Fatalf("%q: want a session like c1", cmd)
			}
			node, idText, ok := strings.Cut(words[1], ".")
			if !ok {
				idText = node[1:]
			}
			id, err := strconv.ParseInt(idText, 10, 64)
			if err != nil {
				t.Fatalf("%q: %v", cmd, err)
			}
			s.nodes[id] = node
			return node, id
		}
		switch verb := words[0]; verb {
		case "t":
			now = num(1) - 1
		case "ok", "post", "sync":
			if len(all(0)) != len(all(1)) {
				t.Fatalf("%q: markers go on the seqs", cmd)
			}
			kind, name := EvPostOK, ""
			switch verb {
			case "post":
				kind = EvPost
			case "sync":
				name = PostSynced
			}
			for k := 1; k < len(words); k++ {
				seq := num(k)
				add(Event{Node: "srv", Kind: kind, Seq: seq, MsgID: testMsgID, Sum: testSum(seq), Name: name}, marks[k])
			}
		case "d", "dsum", "dmsg":
			if len(all(0)) != len(all(2)) {
				t.Fatalf("%q: markers go on the seqs", cmd)
			}
			node, id := sess()
			for k := 2; k < len(words); k++ {
				seq := num(k)
				e := Event{Node: node, Session: id, Kind: EvDeliver, Seq: seq, MsgID: testMsgID, Sum: testSum(seq)}
				switch verb {
				case "dsum":
					e.Sum++
				case "dmsg":
					e.MsgID++
				}
				add(e, marks[k])
			}
		case "open":
			node, id := sess()
			mode, _ := ParseMode(words[2]) // an unknown name opens with no mode, for Check to refuse
			e := Event{Node: node, Session: id, Kind: EvOpen, Mode: mode}
			if words[len(words)-1] == OpenReopen {
				e.Name = OpenReopen
				words = words[:len(words)-1]
			}
			if len(words) > 3 {
				e.ReqSeq = num(3)
			}
			add(e, all(0))
		case "online", "begin", "end":
			node, id := sess()
			name := map[string]string{"online": CtlOnline, "begin": CtlBeginOfBlock, "end": CtlEndOfBlock}[verb]
			add(Event{Node: node, Session: id, Kind: EvControl, Name: name, Seq: num(2)}, all(0))
		case "state":
			node, id := sess()
			state, ok := ParseState(words[2])
			if !ok {
				t.Fatalf("%q: unknown state", cmd)
			}
			add(Event{Node: node, Session: id, Kind: EvState, State: state}, all(0))
		case "close":
			node, id := sess()
			add(Event{Node: node, Session: id, Kind: EvClose}, all(0))
		case "phase":
			node, id := sess()
			add(Event{Node: node, Session: id, Kind: EvPhase, Name: words[2], Seq: num(3)}, all(0))
		case "crash", "restart", "fault":
			if len(words) < 2 {
				t.Fatalf("%q: want a node", cmd)
			}
			e := Event{Node: words[1]}
			switch verb {
			case "crash":
				e.Kind = EvCrash
			case "restart":
				e.Kind, e.Seq = EvRestart, num(2)
			case "fault":
				e.Kind, e.Name = EvFault, words[2]
			}
			add(e, all(0))
		default:
			t.Fatalf("%q: unknown command %q", cmd, verb)
		}
	}
	return s
}

// genHistory is a healthy run: pre messages stored, then sessions opening at seq 0, reading
// the history and going online, then live posts delivered to every session round robin until
// each session got perSession deliveries. Seqs step by 2, so the log is sparse.
func genHistory(sessions, pre, perSession int) History {
	h := make(History, 0, 2*perSession+sessions*(perSession+3))
	var now int64
	add := func(e Event) {
		now++
		e.T = now
		h = append(h, e)
	}
	seqOf := func(k int) int64 { return int64(2 * k) }
	post := func(k int) Event {
		seq := seqOf(k)
		return Event{Node: "srv", Seq: seq, MsgID: testMsgID, Sum: testSum(seq)}
	}
	for k := range pre {
		e := post(k)
		e.Kind = EvPost
		add(e)
		e.Kind = EvPostOK
		add(e)
	}
	nodes := make([]string, sessions)
	for c := range sessions {
		nodes[c] = fmt.Sprintf("c%d", c+1)
		add(Event{Node: nodes[c], Session: int64(c + 1), Kind: EvOpen, Mode: ModeSeq})
	}
	for c := range sessions {
		for k := range pre {
			e := post(k)
			e.Node, e.Session, e.Kind = nodes[c], int64(c+1), EvDeliver
			add(e)
		}
		add(Event{Node: nodes[c], Session: int64(c + 1), Kind: EvControl, Name: CtlOnline, Seq: seqOf(pre - 1)})
	}
	for k := pre; k < perSession; k++ {
		e := post(k)
		e.Kind = EvPost
		add(e)
		e.Kind = EvPostOK
		add(e)
		e.Kind = EvDeliver
		for c := range sessions {
			e.Node, e.Session = nodes[c], int64(c+1)
			add(e)
		}
	}
	for c := range sessions {
		add(Event{Node: nodes[c], Session: int64(c + 1), Kind: EvClose})
		add(Event{Node: nodes[c], Session: int64(c + 1), Kind: EvState, State: StClosed})
	}
	return h
}
