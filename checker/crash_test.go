package checker

import (
	"fmt"
	"strings"
	"testing"
)

func TestEpochs(t *testing.T) {
	runCases(t, []scriptCase{
		{"post_ok seqs restart below the old last after a restart", "ok 10 20 30; crash srv; restart srv 10; ok 15 20 25"},
		{"restart of an empty store", "ok 10; crash srv; restart srv -1; ok 5; open c1 initial; d c1 5; online c1 5"},
		{"restart before the first post", "crash srv; restart srv -1; ok 1 2; open c1 initial; d c1 1 2; online c1 2"},
		{"epoch 1 session reads epoch 1's log", "ok 10 20 30; crash srv; restart srv 20; ok 25; open c1 seq 10; d c1 10 20 25; online c1 25"},
		{"lost seq delivered in epoch 1 is a phantom", "ok 10 20 30; crash srv; restart srv 20; ok 25; open c1 seq 10; d c1 10 20 30!no-phantom!no-gap"},
		{"lost seq delivered in epoch 0 is fine", "ok 10 20 30; open c1 seq 10; d c1 10 20 30; online c1 30; crash srv; state c1 Error; restart srv 20; ok 25"},
		{"last seq at the open is epoch 1's", "ok 10 20 30; crash srv; restart srv 10; open c1 online; ok 20; d c1 20"},
		{"last mode after a lossy restart", "ok 10 20 30; crash srv; restart srv 10; open c1 last; d c1 10; online c1 10"},
		{"online mode after a restart starts above the recovered", "ok 10 20 30; crash srv; restart srv 20; open c1 online; d c1 20!start"},
		{"last mode after a restart starts at the recovered", "ok 10 20 30; crash srv; restart srv 20; open c1 last; d c1 10!start"},
		// The entries epoch 1 appends must not overwrite, or extend, the log epoch 0's session reads.
		{"session spanning a lossy restart keeps its epoch's log", "ok 10 20 30; open c1 seq 10; d c1 10; crash srv; restart srv 10; ok 15; d c1 20 30"},
		{"session spanning a lossless restart keeps its epoch's log", "ok 10 20; open c1 seq 10; d c1 10; crash srv; restart srv 20; ok 30; d c1 20 30!no-phantom"},
		{"opened before a crash, first reached the restarted server", "ok 10 20 30; open c1 seq-data 20; crash srv; restart srv 20; ok 25; d c1 25"},
		{"client restart starts no epoch", "ok 10 20; open c1 seq 10; crash c1; restart c1 0; d c1 10 20"},
		{"restart without a crash", "ok 10 20; restart srv 10; ok 15; open c1 initial; d c1 10 15"},
		{"a session opened while the server is down reads the next epoch", "ok 10 20 30; crash srv; open c1 seq-data 20; restart srv 20; ok 25; d c1 25; online c1 25"},
		{"an open while the server is down sees what it recovers", "ok 10 20 30; crash srv; open c1 online; restart srv 10; ok 15; d c1 15"},
		{"an open while the server is down for good", "ok 10; crash srv; open c1 seq 10; d c1 10"},
		{"three epochs", "ok 10 20 30; crash srv; restart srv 20; ok 25; crash srv; restart srv 10; ok 12; open c1 initial; d c1 10 12; online c1 12"},
	})
}

func TestGeneratedHistoryAfterARestartIsClean(t *testing.T) {
	h := append(History{{Node: "srv", Kind: EvCrash}, {Node: "srv", Kind: EvRestart, Seq: -1}}, genHistory(3, 50, 500)...)
	res, err := Check(h)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Violations) != 0 || res.Delivered != 1500 || res.Posts != 500 {
		t.Fatalf("%d violations (%+v), %d delivered, %d posts", len(res.Violations), res.Violations, res.Delivered, res.Posts)
	}
}

func TestEpochsMalformed(t *testing.T) {
	runCases(t, []scriptCase{
		{"post_ok below the old last without a restart", "ok 10 20 30 15!err"},
		{"a crash alone does not reset the seqs", "ok 10 20 30; crash srv; ok 15!err"},
		{"a client restart does not reset the seqs", "ok 10 20 30; crash c1; restart c1 -1; ok 15!err"},
		{"post_ok at the recovered seq", "ok 10 20 30; crash srv; restart srv 20; ok 20!err"},
		{"post_ok below the recovered seq", "ok 10 20 30; crash srv; restart srv 20; ok 15!err"},
		{"post_ok at or below a recovered seq above the log", "ok 10; crash srv; restart srv 20; ok 20!err"},
	})
}

func TestDurable(t *testing.T) {
	runCases(t, []scriptCase{
		{"unsynced posts may be lost", "ok 10 20 30; crash srv; restart srv 10; ok 15"},
		{"synced posts that survive", "sync 10 20; ok 30; crash srv; restart srv 20"},
		{"synced post lost", "sync 10 20; ok 30; crash srv; restart srv 10!durable; ok 15"},
		{"every synced post lost", "sync 10 20; crash srv; restart srv -1!durable"},
		{"synced post lost at a later crash", "sync 10; ok 20; crash srv; restart srv 10; crash srv; restart srv -1!durable"},
		{"one violation per lossy restart", "sync 10 20; crash srv; restart srv 10!durable; sync 15; crash srv; restart srv 10!durable"},
		{"durable goes in history order", "sync 10 20; open c1 seq 10; d c1 10 30!no-phantom!no-gap; crash srv; restart srv 10!durable; open c2 seq 10; d c2 20!no-phantom!start"},
	})
}

func TestDurableMessage(t *testing.T) {
	s := parseScript(t, "sync 10 20 30; ok 40; crash srv; restart srv 10")
	res, err := Check(s.h)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Violations) != 1 {
		t.Fatalf("got %d violations, want 1: %+v", len(res.Violations), res.Violations)
	}
	v := res.Violations[0]
	if v.Property != PropDurable || v.Session != 0 || v.Node != "srv" || v.Index != 5 {
		t.Fatalf("got %s session %d node %q at %d, want durable of srv at the restart, 5", v.Property, v.Session, v.Node, v.Index)
	}
	for _, want := range []string{"seq 20", "seq 10", "2 synced posts", "seq 30"} {
		if !strings.Contains(v.Message, want) {
			t.Errorf("message %q lacks %q", v.Message, want)
		}
	}
	var ctx []string
	for _, e := range v.Context {
		ctx = append(ctx, fmt.Sprintf("%s:%d", e.Kind, e.Seq))
	}
	if got, want := strings.Join(ctx, " "), "post_ok:20 crash:0 restart:10"; got != want {
		t.Errorf("context %q, want %q", got, want)
	}
	if res.Posts != 4 {
		t.Errorf("posts %d, want 4", res.Posts)
	}
}

func TestResume(t *testing.T) {
	const before = "ok 10 20 30 40; open c1 seq 10; d c1 10 20; state c1 Error; "
	runCases(t, []scriptCase{
		{"reopen from the last delivered", before + "open c1.2 seq-data 20 reopen; d c1.2 30 40; online c1.2 40"},
		{"reopen repeating the last delivered", before + "open c1.2 seq 20 reopen; d c1.2 20!resume 30 40; online c1.2 40"},
		{"reopen skipping one", before + "open c1.2 seq-data 30 reopen; d c1.2 40!resume; online c1.2 40"},
		{"reopen skipping at the switch", before + "open c1.2 seq-data 40 reopen; online c1.2 40; ok 50; d c1.2 50!resume"},
		{"reopen after nothing delivered", "ok 10 20 30; open c1 seq 10; state c1 Error; open c1.2 seq 20 reopen; d c1.2 20 30; online c1.2 30"},
		{"a plain open is free to start anywhere", before + "open c1.2 seq 10; d c1.2 10 20 30 40; online c1.2 40"},
		{"the latest of several earlier sessions", before + "open c1.2 seq-data 20 reopen; d c1.2 30; state c1.2 Error; open c1.3 seq-data 30 reopen; d c1.3 40"},
		{"the latest of several earlier sessions, repeated", before + "open c1.2 seq-data 20 reopen; d c1.2 30; state c1.2 Error; open c1.3 seq-data 20 reopen; d c1.3 30!resume 40"},
		{"other nodes' deliveries do not count", "ok 10 20 30; open c1 seq 10; open c2 seq 10; d c1 10; d c2 10 20 30; state c1 Error; open c1.3 seq-data 10 reopen; d c1.3 20 30"},
		{"nothing stored above the last delivered", "ok 10 20; open c1 seq 10; d c1 10 20; state c1 Error; open c1.2 seq 10 reopen; d c1.2 10!resume"},
		{"successor in the epoch log after a crash", "ok 10 20 30; open c1 seq 10; d c1 10 20 30; crash srv; state c1 Error; restart srv 20; ok 25 35; open c1.2 seq-data 30 reopen; d c1.2 35; online c1.2 35"},
		{"a seq below the last delivered after a crash", "ok 10 20 30; open c1 seq 10; d c1 10 20 30; crash srv; state c1 Error; restart srv 20; ok 25 35; open c1.2 seq-data 20 reopen; d c1.2 25!resume 35; online c1.2 35"},
	})
}

func TestFreshAcrossRestarts(t *testing.T) {
	runFreshCases(t, []scriptCase{
		{"epoch 1 starts from the recovered seq", "ok 10 20 30; crash srv; restart srv 10; ok 15; open c1 seq 10; d c1 10 15; online c1 15; ok 20; d c1 20"},
		{"Online at the recovered seq", "ok 10 20 30; crash srv; restart srv 10; open c1 last; d c1 10; online c1 10"},
		{"epoch 0 session keeps epoch 0's posts", "ok 10 20 30; open c1 seq 10; d c1 10 20 30; online c1 30; crash srv; restart srv 10; ok 15"},
		{"a session opened while the server is down observes the next epoch", "ok 10 20 30; crash srv; open c1 last; restart srv 10; d c1 10; online c1 10"},
		{"a session opened while the server is down for good", "ok 10; crash srv; open c1 seq 10; d c1 10; online c1 10"},
		{"Online older than epoch 1's last", "ok 10 20 30; crash srv; restart srv 20; ok 25; open c1 seq 10; d c1 10 20; online c1!fresh 20"},
		// Opened before a crash, first contact after the restart: judged in the new life, as
		// Check judges it (see contacts). In the old life seq 25 was never posted.
		{"opened before a crash, reached the restarted server", "ok 10 20 30; open c1 seq-data 20; crash srv; restart srv 20; ok 25; d c1 25; online c1 25"},
		{"a post under way at the crash answers nothing", "ok 10; post 40; crash srv; restart srv 10; open c1 online; d c1 35!fresh; post 35; ok 35"},
		// Seq 15 is acknowledged by the time it arrives, but in a life the session never
		// talked to: a delivery is left out of the sweep only when its own epoch holds its post.
		{"epoch 0 session given a seq of epoch 1", "ok 10; open c1 seq 10; d c1 10; online c1 10; crash srv; restart srv 10; ok 15; d c1 15!fresh"},
		{"a delivery in epoch 1 shows its post took effect", "ok 10 20 30; crash srv; restart srv 20; post 25; open c1 online; d c1 25; open c2 seq 10; d c2 10 20; online c2 20!fresh; ok 25"},
	})
}
