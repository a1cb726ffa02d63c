package checker

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func runScript(t *testing.T, src string) {
	t.Helper()
	s := parseScript(t, src)
	res, err := Check(s.h)
	if s.errAt >= 0 {
		var he *HistoryError
		if !errors.As(err, &he) {
			t.Fatalf("Check: err = %v, want a *HistoryError at event %d", err, s.errAt)
		}
		if he.Index != s.errAt {
			t.Fatalf("Check: error at event %d (%v), want event %d", he.Index, err, s.errAt)
		}
		return
	}
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	var got []string
	for _, v := range res.Violations {
		got = append(got, fmt.Sprintf("%s c%d @%d", v.Property, v.Session, v.Index))
		if v.Node != s.nodes[v.Session] {
			t.Errorf("violation %s: node %q for session %d on node %q", v.Property, v.Node, v.Session, s.nodes[v.Session])
		}
		if v.Message == "" || strings.Contains(v.Message, "\n") {
			t.Errorf("violation %s: message %q is not one line", v.Property, v.Message)
		}
	}
	if !slices.Equal(got, s.want) {
		var msgs []string
		for _, v := range res.Violations {
			msgs = append(msgs, v.Property+": "+v.Message)
		}
		t.Fatalf("violations\n got %q\nwant %q\nmessages:\n  %s", got, s.want, strings.Join(msgs, "\n  "))
	}
}

type scriptCase struct{ name, src string }

func runCases(t *testing.T, cases []scriptCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runScript(t, tc.src) })
	}
}

func TestCorrectHistories(t *testing.T) {
	runCases(t, []scriptCase{
		{"seq from the first stored", "ok 10 20 30; open c1 seq 10; d c1 10 20 30; online c1 30; ok 40; d c1 40; close c1; state c1 Closed"},
		{"sparse seqs are no gap", "ok 10 20 30; open c1 seq 15; d c1 20 30; online c1 30; ok 50 70; d c1 50 70"},
		{"overlapped handover", "ok 10 20 30; open c1 seq 20; ok 40 50; d c1 20 30 40 50; online c1 50; ok 60; d c1 60"},
		{"acks recorded late", "open c1 online; post 10; d c1 10; ok 10; post 20; d c1 20; ok 20"},
		{"nothing to fetch", "ok 10 20; open c1 seq 21; online c1 20; ok 30; d c1 30"},
		{"seq-data", "ok 10 20 30; open c1 seq-data 10; d c1 20 30; online c1 30"},
		{"seq-data nothing to fetch", "ok 10 20; open c1 seq-data 20; online c1 20; ok 30; d c1 30"},
		{"initial", "ok 10 20; open c1 initial; d c1 10 20; online c1 20"},
		{"initial on an empty server", "open c1 initial; ok 10; d c1 10; online c1 10; ok 20; d c1 20"},
		{"last", "ok 10 20 30; open c1 last; d c1 30; online c1 30; ok 40; d c1 40"},
		{"online", "ok 10; open c1 online; ok 20 30; d c1 20 30"},
		{"online joining late", "ok 10; open c1 online; ok 20 30; d c1 30"},
		{"blocks", "ok 10 20; open c1 seq 10; begin c1 10; d c1 10; end c1 10; d c1 20; online c1 20"},
		{"error ends a session loudly", "ok 10 20; open c1 seq 10; d c1 10; state c1 Error"},
		{"no Online is not a violation", "ok 10 20; open c1 seq 10; d c1 10 20; close c1"},
		{"two sessions interleaved", "ok 10 20; open c1 seq 10; open c2 seq 20; d c1 10; d c2 20; d c1 20; online c2 20; online c1 20; ok 30; d c2 30; d c1 30"},
		{"unknown events ignored", "ok 10; open c1 seq 10; state c1 Active; d c1 10; online c1 10"},
	})
}

func TestDeliveryProperties(t *testing.T) {
	runCases(t, []scriptCase{
		{"gap in history", "ok 10 20 30; open c1 seq 10; d c1 10 30!no-gap"},
		{"gap reported once", "ok 10 20 30 40 50; open c1 seq 10; d c1 10 30!no-gap 50"},
		{"skip at the switch", "ok 10 20 30; open c1 seq 10; d c1 10 20 30; online c1 30; ok 40 50; d c1 50!no-gap"},
		{"skip of the first live message after an empty history", "ok 10 20; open c1 seq 21; online c1 20; ok 30 40; d c1 40!start!no-gap"},
		{"re-delivery from the buffer", "ok 10 20 30; open c1 seq 20; ok 40 50; d c1 20 30 40 40!no-dup 50; online c1 50"},
		{"duplicate after the run broke", "ok 10 20 30 40; open c1 seq 10; d c1 10 30!no-gap 20!in-order 30!no-dup"},
		{"duplicate of the run's end after the run broke", "ok 10 20 30 40; open c1 seq 10; d c1 10 20 40!no-gap 20!no-dup"},
		{"duplicate of a phantom", "ok 10; open c1 seq 10; d c1 10 15!no-phantom 15!no-dup"},
		{"step back", "ok 10 20 30; open c1 initial; d c1 10 30!no-gap 20!in-order"},
		{"wrong checksum", "ok 10 20; open c1 seq 10; d c1 10; dsum c1 20!no-phantom"},
		{"wrong msgid", "ok 10 20; open c1 seq 10; dmsg c1 10!no-phantom; d c1 20"},
		{"unknown seq", "ok 10 20; open c1 seq 10; d c1 10 15!no-phantom 20"},
		{"delivery after close", "ok 10 20 30; open c1 seq 10; d c1 10; close c1; d c1 20!after-end 30"},
		{"control after error", "ok 10; open c1 seq 10; d c1 10; state c1 Error; online c1 10!after-end"},
		{"delivery after Closed", "ok 10 20; open c1 seq 10; d c1 10; state c1 Closed; d c1 20!after-end"},
		{"violation before error still counts", "ok 10 20 30; open c1 seq 10; d c1 10 30!no-gap; state c1 Error"},
		{"violations in history order across sessions", "ok 10 20 30; open c1 seq 10; open c2 seq 10; d c2 10; d c1 10; d c1 30!no-gap; d c2 20 20!no-dup; d c2 30; d c1 20!in-order"},
	})
}

func TestStart(t *testing.T) {
	runCases(t, []scriptCase{
		{"seq", "ok 10 20 30; open c1 seq 20; d c1 30!start"},
		{"seq inside a gap", "ok 10 20 30; open c1 seq 15; d c1 30!start"},
		{"seq with nothing stored at or above", "ok 10; open c1 seq 20; d c1 10!start"},
		{"seq-data", "ok 10 20 30; open c1 seq-data 20; d c1 20!start"},
		{"initial", "ok 10 20; open c1 initial; d c1 20!start"},
		{"last", "ok 10 20 30; open c1 last; d c1 20!start"},
		{"last with a phantom", "ok 10 20 30; open c1 last; d c1 35!no-phantom!start"},
		{"online", "ok 10 20; open c1 online; d c1 20!start"},
	})
}

func TestHandover(t *testing.T) {
	runCases(t, []scriptCase{
		{"wrong seq", "ok 10 20 30; open c1 seq 10; d c1 10 20 30; online c1 20!handover"},
		{"twice", "ok 10 20 30; open c1 seq 10; d c1 10 20 30; online c1 30; online c1 30!handover"},
		{"in online mode", "ok 10; open c1 online; ok 20; d c1 20; online c1 20!handover"},
		{"nothing delivered while data was due", "ok 10 20; open c1 seq 10; online c1 20!handover"},
		{"nothing delivered, below the server's last", "ok 10 20; open c1 seq 21; online c1 10!handover"},
		{"initial with nothing delivered", "ok 10; open c1 initial; online c1 10!handover"},
		{"last with nothing delivered", "ok 10; open c1 last; online c1 10!handover"},
		{"history after Online", "ok 10 20 30; open c1 seq 10; d c1 10 20 30; online c1 30; d c1 20!handover!no-dup"},
		{"Online's own seq again after Online", "ok 10 20 30; open c1 seq 10; d c1 10 20 30; online c1 30; d c1 30!handover!no-dup"},
		{"Online before EndOfBlock", "ok 10 20; open c1 seq 10; begin c1 10; d c1 10 20; online c1 20!handover"},
	})
}

func TestMalformed(t *testing.T) {
	runCases(t, []scriptCase{
		{"time goes back", "ok 10; t 100; ok 20; t 50; ok 30!err"},
		{"post_ok seq repeats", "ok 10 10!err"},
		{"post_ok seq decreases", "ok 20 10!err"},
		{"deliver without open", "ok 10; d c1 10!err"},
		{"control without open", "open c2 online; online c1!err 10"},
		{"state without open", "state c1!err Active"},
		{"close without open", "open c1 online; close c2!err"},
		{"session reopened", "open c1 seq 0; close c1; open c1!err seq 0"},
		{"unknown mode", "open c1 block!err 3"},
		{"first error wins", "ok 10; d c2 10!err; ok 5"},
		{"first error wins over later session errors", "ok 20 10!err; d c1 10"},
	})
}

func TestContext(t *testing.T) {
	s := parseScript(t, `ok 10 20 30 40 50 60 70
		open c1 seq 10; open c2 seq 10
		d c1 10; d c2 10; d c1 20; d c2 20
		d c1 40!no-gap
		d c2 30; d c1 50; d c1 60; d c2 40; d c1 70; d c1 70!no-dup`)
	res, err := Check(s.h)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Violations) != 2 {
		t.Fatalf("got %d violations, want 2: %+v", len(res.Violations), res.Violations)
	}
	seqs := func(v Violation) string {
		var b strings.Builder
		for _, e := range v.Context {
			fmt.Fprintf(&b, "%s:%d ", e.Kind, e.Seq)
		}
		return b.String()
	}
	if got, want := seqs(res.Violations[0]), "open:0 deliver:10 deliver:20 deliver:40 deliver:50 deliver:60 deliver:70 "; got != want {
		t.Errorf("gap context %q, want %q", got, want)
	}
	if got, want := seqs(res.Violations[1]), "deliver:50 deliver:60 deliver:70 deliver:70 "; got != want {
		t.Errorf("dup context %q, want %q", got, want)
	}
	if !strings.Contains(res.Violations[0].Message, "40") || !strings.Contains(res.Violations[0].Message, "30") {
		t.Errorf("gap message %q does not name the delivered and the skipped seq", res.Violations[0].Message)
	}
	if res.Sessions != 2 || res.Delivered != 11 || res.Posts != 7 {
		t.Errorf("counts: sessions %d, delivered %d, posts %d; want 2, 11, 7", res.Sessions, res.Delivered, res.Posts)
	}
}

func TestProperties(t *testing.T) {
	var names []string
	for _, p := range Properties() {
		if p.Doc == "" || strings.Contains(p.Doc, "\n") {
			t.Errorf("%s: doc %q is not one line", p.Name, p.Doc)
		}
		names = append(names, p.Name)
	}
	want := []string{PropNoGap, PropNoDup, PropInOrder, PropNoPhantom, PropStart, PropHandover, PropAfterEnd, PropResume, PropDurable, PropFresh, PropLiveness, PropProgress}
	if !slices.Equal(names, want) {
		t.Errorf("Properties() = %q, want %q", names, want)
	}
}

func TestGeneratedHistoryIsClean(t *testing.T) {
	h := genHistory(3, 50, 500)
	res, err := Check(h)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Violations) != 0 {
		t.Fatalf("violations in a healthy history: %+v", res.Violations[0])
	}
	if res.Delivered != 1500 || res.Posts != 500 || res.Sessions != 3 {
		t.Fatalf("counts: %+v", res)
	}
}

// TestAllocationsDoNotGrowWithDeliveries holds the no-per-event-allocation rule: quadrupling the
// deliveries (24,000 more) may only add the few allocations of slice growth, which is
// logarithmic; the race detector adds a few of its own.
func TestAllocationsDoNotGrowWithDeliveries(t *testing.T) {
	allocs := func(perSession int) float64 {
		h := genHistory(4, 100, perSession)
		return testing.AllocsPerRun(5, func() {
			if _, err := Check(h); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := allocs(2000), allocs(8000)
	if large > small+16 {
		t.Fatalf("%v allocations for 8000 deliveries per session, %v for 2000", large, small)
	}
}
