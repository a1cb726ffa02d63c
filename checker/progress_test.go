package checker

import "testing"

// runProgress checks a script's history with CheckProgress: its "!progress" markers are the
// violations expected.
func runProgress(t *testing.T, src string, opt ProgressOptions) {
	t.Helper()
	runMarked(t, src, func(h History) []Violation { return CheckProgress(h, opt) }, true)
}

func TestProgress(t *testing.T) {
	calm := ProgressOptions{Calm: true}
	for _, tc := range []struct{ name, src string }{
		// Failures with no cause.
		{"history open fails", "ok 10 20; open c1 seq 10; state c1 Active; state c1 Error!progress"},
		{"open at last+1 fails", "ok 10 20; open c1 seq 21; state c1 Error!progress"},
		{"seq-data open at last fails", "ok 10 20; open c1 seq-data 20; state c1 Error!progress"},
		{"online session fails", "open c1 online; state c1 Active; ok 10; d c1 10; state c1 Error!progress"},
		{"failure after Online", "ok 10; open c1 seq 10; d c1 10; online c1 10; state c1 Error!progress"},
		{"initial on an empty server fails", "open c1 initial; state c1 Error!progress"},
		{"Closed with no close", "ok 10; open c1 seq 10; state c1 Closed!progress"},
		{"each session once", "ok 10; open c1 seq 10; state c1 Error!progress; state c1 Error; open c1.2 seq 10; state c1.2 Error!progress"},
		{"a fault on another node", "ok 10; fault c2 reset; open c1 seq 10; state c1 Error!progress"},
		{"a server failpoint before the open", "ok 10; fault srv failpoint; open c1 seq 10; state c1 Error!progress"},
		{"a server restart before the open", "ok 10; crash srv; restart srv 10; open c1 seq 10; state c1 Error!progress"},
		{"beyond an earlier last does not excuse", "ok 10; ok 20; open c1 seq 15; state c1 Error!progress"},

		// Failures with a cause, and ends that are no failure.
		{"closed by the application", "ok 10; open c1 seq 10; close c1; state c1 Closed"},
		{"beyond last+1", "ok 10 20; open c1 seq 22; state c1 Error"},
		{"seq-data beyond last", "ok 10 20; open c1 seq-data 21; state c1 Error"},
		{"negative seq", "ok 10; open c1 seq -1; state c1 Error"},
		{"seq on an empty server", "open c1 seq 0; state c1 Error"},
		{"last on an empty server", "open c1 last; state c1 Error"},
		{"fault on the node before the open", "fault c1 stall; ok 10; open c1 seq 10; state c1 Error"},
		{"fault on the node while open", "ok 10; open c1 seq 10; fault c1 reset; state c1 Error"},
		{"client crash", "ok 10; open c1 online; crash c1; state c1 Error"},
		{"server fault before the open", "fault srv reset; ok 10; open c1 seq 10; state c1 Error"},
		{"server failpoint while open", "ok 10; open c1 seq 10; fault srv failpoint; state c1 Error"},
		{"server crash while open", "ok 10; open c1 seq 10; crash srv; state c1 Error"},
		{"server down at the open", "ok 10; crash srv; open c1 seq 10; state c1 Error; restart srv 10"},
		{"overflow", "ok 10; open c1 seq 10; phase c1 evict 11; state c1 Error"},
		{"last+1 of a restarted server", "ok 10 20; crash srv; restart srv 10; open c1 seq 11; state c1 Error!progress"},
		{"server restarted with less", "ok 10 20; crash srv; restart srv 10; open c1 seq 12; state c1 Error"},
	} {
		t.Run(tc.name, func(t *testing.T) { runProgress(t, tc.src, calm) })
	}
}

// Off calm links anything may end a connection: nothing is judged.
func TestProgressNotCalm(t *testing.T) {
	runProgress(t, "ok 10 20; open c1 seq 10; state c1 Error", ProgressOptions{})
}

// A client may give up a handshake that took its timeout; one that gives up sooner, or after
// it went Active, has no such excuse.
func TestProgressHandshakeTimeout(t *testing.T) {
	opt := ProgressOptions{Calm: true, HandshakeNs: 10}
	runProgress(t, "ok 10; open c1 seq 10; t 12; state c1 Error", opt)
	runProgress(t, "ok 10; open c1 seq 10; t 11; state c1 Error!progress", opt)
	runProgress(t, "ok 10; open c1 seq 10; state c1 Active; t 20; state c1 Error!progress", opt)
}
