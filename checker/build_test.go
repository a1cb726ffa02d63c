package checker

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// script is a history written as text, one command per line or ';'-separated:
//
//	ok 10 20 30          post_ok events (post: post events)
//	open c1 seq 20       open session 1 on node c1 (mode, then ReqSeq when the mode takes one)
//	d c1 20 30           correct deliveries; dsum / dmsg deliver a wrong checksum / msgid
//	online c1 30         Online control; begin / end are BeginOfBlock / EndOfBlock
//	state c1 Error       state change
//	close c1             close
//	t 5                  the next event's time (otherwise time steps by 1)
//
// A token may carry markers: "30!no-gap" says the event that token makes must be reported for
// that property (several markers keep their order); "!err" says Check must fail at that event.
// Markers keep expected indexes next to the events instead of in hand-counted numbers.
type script struct {
	h     History
	want  []string // "property cN @index", in the order Check must report them
	errAt int      // index of the expected HistoryError, -1 for none
}

const testMsgID = 10

func testSum(seq int64) uint32 { return Checksum([]byte("m" + strconv.FormatInt(seq, 10))) }

func parseScript(t testing.TB, src string) script {
	t.Helper()
	s := script{errAt: -1}
	var now int64
	add := func(e Event, marks []string) {
		now++
		e.T = now
		for _, m := range marks {
			if m == "err" {
				s.errAt = len(s.h)
				continue
			}
			s.want = append(s.want, fmt.Sprintf("%s c%d @%d", m, e.Session, len(s.h)))
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
			id, err := strconv.ParseInt(words[1][1:], 10, 64)
			if err != nil {
				t.Fatalf("%q: %v", cmd, err)
			}
			return words[1], id
		}
		switch verb := words[0]; verb {
		case "t":
			now = num(1) - 1
		case "ok", "post":
			if len(all(0)) != len(all(1)) {
				t.Fatalf("%q: markers go on the seqs", cmd)
			}
			kind := EvPostOK
			if verb == "post" {
				kind = EvPost
			}
			for k := 1; k < len(words); k++ {
				seq := num(k)
				add(Event{Node: "srv", Kind: kind, Seq: seq, MsgID: testMsgID, Sum: testSum(seq)}, marks[k])
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
			e := Event{Node: node, Session: id, Kind: EvOpen, Mode: words[2]}
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
			add(Event{Node: node, Session: id, Kind: EvState, State: words[2]}, all(0))
		case "close":
			node, id := sess()
			add(Event{Node: node, Session: id, Kind: EvClose}, all(0))
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
