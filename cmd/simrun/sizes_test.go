package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamsim/streamsim/checker"
)

// subscribed is a running simrun subscribe.
type subscribed struct {
	out  *syncBuffer
	done chan error
}

func startSubscribe(t *testing.T, args ...string) *subscribed {
	t.Helper()
	o, err := clientFlags("subscribe", args)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &subscribed{out: &syncBuffer{}, done: make(chan error, 1)}
	go func() {
		_, err := subscribe(ctx, o, s.out)
		s.done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(patience):
			t.Error("subscribe did not stop")
		}
	})
	return s
}

// wait waits for subscribe to return, and returns its error; the cleanup still sees it end.
func (s *subscribed) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(patience):
		t.Fatal("subscribe did not return")
		return nil
	}
}

// history waits for cond on the parsed history.
func (s *subscribed) history(t *testing.T, what string, cond func(checker.History) bool) checker.History {
	t.Helper()
	var h checker.History
	s.out.waitFor(t, what, func(out string) bool {
		var err error
		h, err = checker.ReadHistory(strings.NewReader(out))
		return err == nil && cond(h)
	})
	return h
}

func delivered(h checker.History, seq int64) (checker.Event, bool) {
	for _, e := range h {
		if e.Kind == checker.EvDeliver && e.Seq == seq {
			return e, true
		}
	}
	return checker.Event{}, false
}

// Bodies of TLL's sizes go through serve and subscribe, from history and live: 65,536 and
// 200,000 bytes with the default limits (a default TLL's), 1 MiB when both are configured
// for it.
func TestServeSubscribeLargeBodies(t *testing.T) {
	for _, c := range []struct {
		name  string
		sizes []int
		flags []string
	}{
		{"default", []int{65536, 200000}, nil},
		{"configured", []int{1 << 20}, []string{"--max-size", fmt.Sprint(1 << 20)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := startServe(t, mustServerOpts(t, c.flags...))
			body := func(seq, size int) string { return strings.Repeat(string(rune('a'+seq)), size) }
			var acks strings.Builder
			seq := 0
			for _, size := range c.sizes { // history: stored before the session opens
				seq++
				fmt.Fprintf(srv.stdin, "%d 5 %s\n", seq, body(seq, size))
				fmt.Fprintf(&acks, "%d\n", seq)
			}
			srv.stdout.waitFor(t, "the history posts' acknowledgements", func(out string) bool { return out == acks.String() })
			sub := startSubscribe(t, append([]string{"--online", srv.online, "--request", srv.request, "--mode", "seq", "--seq", "1"}, c.flags...)...)
			sub.history(t, "Online", func(h checker.History) bool {
				for _, e := range h {
					if e.Kind == checker.EvControl && e.Name == "Online" {
						return true
					}
				}
				return false
			})
			for _, size := range c.sizes { // live
				seq++
				fmt.Fprintf(srv.stdin, "%d 5 %s\n", seq, body(seq, size))
			}
			h := sub.history(t, "every message", func(h checker.History) bool { _, ok := delivered(h, int64(seq)); return ok })
			for i := 1; i <= seq; i++ {
				size := c.sizes[(i-1)%len(c.sizes)]
				e, ok := delivered(h, int64(i))
				if !ok || e.Sum != checker.Checksum([]byte(body(i, size))) {
					t.Fatalf("message %d (%d bytes): delivered %v, event %+v", i, size, ok, e)
				}
			}
		})
	}
}

// limitCases are the size limits the limit tests try: the default, and one set by --max-size.
var limitCases = []struct {
	name  string
	limit int
	flags []string
}{
	{"default", defaultMaxSize, nil},
	{"configured", 300000, []string{"--max-size", "300000"}},
}

// A post over serve's limit is refused, naming the size, the limit and the flag that sets it,
// and serve goes on; a post of exactly the limit is stored. Default and configured limits.
func TestServeRefusesOverItsLimit(t *testing.T) {
	for _, c := range limitCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := startServe(t, mustServerOpts(t, c.flags...))
			fmt.Fprintf(srv.stdin, "1 5 %s\n", strings.Repeat("x", c.limit+1))
			srv.stderr.waitFor(t, "the refusal", func(out string) bool {
				return strings.Contains(out, fmt.Sprintf("line 1: post 1 refused: message too large: %d bytes, limit %d (--max-size sets the limit)", c.limit+1, c.limit))
			})
			fmt.Fprintf(srv.stdin, "2 5 %s\n", strings.Repeat("y", c.limit))
			srv.stdout.waitFor(t, "the acknowledgement of 2", func(out string) bool { return out == "2\n" })
		})
	}
	if _, err := serverFlags("serve", []string{"--online", "a:1", "--request", "a:2", "--max-size", "0"}); err == nil || !strings.Contains(err.Error(), "--max-size must be between 1 and") {
		t.Fatalf("--max-size 0: %v", err)
	}
}

// A message over subscribe's limit fails the session, from history or live, with the default
// limit or one set by --max-size, naming the size, the limit and the flag that sets it; the
// message of exactly the limit before it is delivered.
func TestSubscribeFailsOverItsLimit(t *testing.T) {
	for _, c := range limitCases {
		for _, live := range []bool{false, true} {
			t.Run(c.name+map[bool]string{false: "/history", true: "/live"}[live], func(t *testing.T) {
				t.Parallel()
				srv := startServe(t, mustServerOpts(t, "--max-size", "400000"))
				fits := strings.Repeat("x", c.limit)
				post := func() {
					fmt.Fprintf(srv.stdin, "1 5 %s\n2 5 %s\n", fits, strings.Repeat("y", c.limit+1))
					srv.stdout.waitFor(t, "the acknowledgements", func(out string) bool { return out == "1\n2\n" })
				}
				if !live {
					post()
				}
				mode := []string{"--mode", "seq", "--seq", "1"}
				if live { // an open from a seq needs a stored message
					mode = []string{"--mode", "online"}
				}
				sub := startSubscribe(t, slices.Concat([]string{"--online", srv.online, "--request", srv.request}, mode, c.flags)...)
				if live {
					sub.history(t, "Active", func(h checker.History) bool { return slices.ContainsFunc(h, isState("Active")) })
					post()
				}
				h := sub.history(t, "the failure", func(h checker.History) bool { return slices.ContainsFunc(h, isState("Error")) })
				if e, ok := delivered(h, 1); !ok || e.Sum != checker.Checksum([]byte(fits)) {
					t.Fatalf("the message of exactly the limit: delivered %v, %+v", ok, e)
				}
				want := fmt.Sprintf("declares a %d-byte body, limit is %d", c.limit+1, c.limit)
				if e := h[slices.IndexFunc(h, isState("Error"))]; !strings.Contains(e.Reason, want) {
					t.Fatalf("the Error says %q, want %q", e.Reason, want)
				}
				if err := sub.wait(t); err == nil || !strings.Contains(err.Error(), want+" (--max-size sets the limit)") {
					t.Fatalf("subscribe returned %v", err)
				}
			})
		}
	}
}

// During history, live messages wait in subscribe's buffer, 4 × --max-size unless --buffer
// says otherwise: a 1 MiB message fits the default buffer of --max-size 1 MiB and is
// delivered in order; with --buffer 1 MiB it does not fit (the buffer also counts a header per
// message), and the session fails naming the buffer and its flag.
func TestSubscribeBufferDuringHistory(t *testing.T) {
	for _, c := range []struct {
		name  string
		flags []string
		fits  bool
	}{
		{"default", nil, true},
		{"buffer 1MiB", []string{"--buffer", fmt.Sprint(1 << 20)}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := mustServerOpts(t, "--max-size", fmt.Sprint(1<<20))
			// One history message every 300 ms: the live message comes while history is read.
			o.cfg.HistoryBatchMsgs, o.cfg.HistoryIntervalNs = 1, 300e6
			srv := startServe(t, o)
			fmt.Fprintf(srv.stdin, "1 5 a\n2 5 b\n3 5 c\n4 5 d\n")
			srv.stdout.waitFor(t, "the history's acknowledgements", func(out string) bool { return out == "1\n2\n3\n4\n" })
			sub := startSubscribe(t, append([]string{"--online", srv.online, "--request", srv.request, "--mode", "seq", "--seq", "1", "--max-size", fmt.Sprint(1 << 20)}, c.flags...)...)
			sub.history(t, "the Reply", func(h checker.History) bool {
				return slices.ContainsFunc(h, func(e checker.Event) bool { return e.Kind == checker.EvPhase && e.Name == "reply" })
			})
			body := strings.Repeat("L", 1<<20)
			fmt.Fprintf(srv.stdin, "5 5 %s\n", body)
			if !c.fits {
				h := sub.history(t, "the failure", func(h checker.History) bool { return slices.ContainsFunc(h, isState("Error")) })
				want := fmt.Sprintf("online message 5 of %d bytes does not fit the %d-byte buffer", 1<<20, 1<<20)
				if e := h[slices.IndexFunc(h, isState("Error"))]; !strings.Contains(e.Reason, want) {
					t.Fatalf("the Error says %q, want %q", e.Reason, want)
				}
				if _, ok := delivered(h, 4); ok {
					t.Fatal("history was not over when the live message came: the test did not test the buffer")
				}
				if err := sub.wait(t); err == nil || !strings.Contains(err.Error(), want+" (--buffer sets its size)") {
					t.Fatalf("subscribe returned %v", err)
				}
				return
			}
			h := sub.history(t, "Online", func(h checker.History) bool {
				return slices.ContainsFunc(h, func(e checker.Event) bool { return e.Kind == checker.EvControl && e.Name == "Online" })
			})
			var seqs []int64
			for _, e := range h {
				if e.Kind == checker.EvDeliver {
					seqs = append(seqs, e.Seq)
				}
			}
			if e, _ := delivered(h, 5); !slices.Equal(seqs, []int64{1, 2, 3, 4, 5}) || e.Sum != checker.Checksum([]byte(body)) {
				t.Fatalf("delivered %v, the last %+v", seqs, e)
			}
			if !slices.ContainsFunc(h, func(e checker.Event) bool { return e.Kind == checker.EvPhase && e.Name == "overlap" }) {
				t.Fatalf("no overlap phase: the live message did not wait in the buffer\n%v", h)
			}
		})
	}
}

func isState(st string) func(checker.Event) bool {
	return func(e checker.Event) bool { return e.Kind == checker.EvState && e.State.String() == st }
}

func mustServerOpts(t *testing.T, flags ...string) serverOpts {
	t.Helper()
	o, err := serverFlags("serve", append([]string{"--online", "127.0.0.1:0", "--request", "127.0.0.1:0"}, flags...))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// Only a failure on a limit gets a flag named after it.
func TestLimitHint(t *testing.T) {
	for why, want := range map[string]string{
		"online channel: wire: frame msgid 10 declares a 300000-byte body, limit is 262128": " (--max-size sets the limit)",
		"online message 5 of 1048576 bytes does not fit the 1048576-byte buffer":            " (--buffer sets its size)",
		"online channel: connection refused":                                                "",
	} {
		if got := limitHint(why); got != want {
			t.Errorf("limitHint(%q) = %q, want %q", why, got, want)
		}
	}
}
