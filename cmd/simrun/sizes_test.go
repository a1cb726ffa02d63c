package main

import (
	"context"
	"fmt"
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

// Over the limit, the same clear errors as at 64 KiB: serve refuses the post and goes on,
// subscribe fails naming the size and its limit.
func TestServeSubscribeOverTheLimit(t *testing.T) {
	t.Parallel()
	srv := startServe(t, mustServerOpts(t, "--max-size", "300000"))
	fmt.Fprintf(srv.stdin, "1 5 %s\n", strings.Repeat("x", 300001))
	srv.stderr.waitFor(t, "the refusal", func(out string) bool {
		return strings.Contains(out, "line 1: post 1 refused: message too large: 300001 bytes, limit 300000")
	})
	fmt.Fprintf(srv.stdin, "2 5 %s\n", strings.Repeat("y", 300000))
	srv.stdout.waitFor(t, "the acknowledgement of 2", func(out string) bool { return out == "2\n" })
	sub := startSubscribe(t, "--online", srv.online, "--request", srv.request, "--mode", "seq", "--seq", "0")
	sub.history(t, "the failure", func(h checker.History) bool {
		for _, e := range h {
			if e.Kind == checker.EvState && e.State == checker.StError {
				return strings.Contains(e.Reason, "declares a 300000-byte body, limit is 262128")
			}
		}
		return false
	})
	if _, err := serverFlags("serve", []string{"--online", "a:1", "--request", "a:2", "--max-size", "0"}); err == nil || !strings.Contains(err.Error(), "--max-size must be between 1 and") {
		t.Fatalf("--max-size 0: %v", err)
	}
}

func mustServerOpts(t *testing.T, flags ...string) serverOpts {
	t.Helper()
	o, err := serverFlags("serve", append([]string{"--online", "127.0.0.1:0", "--request", "127.0.0.1:0"}, flags...))
	if err != nil {
		t.Fatal(err)
	}
	return o
}
