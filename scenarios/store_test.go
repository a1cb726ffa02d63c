package scenarios

import (
	"strings"
	"testing"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/reference"
)

// TestFileStoreInTheSimulator: a crashing durable server runs on the file store over the
// simulated file system, rotating segments and recovering torn writes; the same plan and seed
// give the same run; the reference keeps every synced post, and a store whose recovery cuts
// the last synced record is caught by durable.
func TestFileStoreInTheSimulator(t *testing.T) {
	s, ok := Lookup("server_crash_restart")
	if !ok {
		t.Fatal("no server_crash_restart scenario")
	}
	var restarts, rotated, torn int
	for seed := uint64(1); seed <= 30; seed++ {
		p := s.Build(seed)
		a, err := Run(p, seed, Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Run(p, seed, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if a.Hash != b.Hash || len(a.History) != len(b.History) {
			t.Fatalf("seed %d: two runs differ: %016x/%016x", seed, a.Hash, b.Hash)
		}
		if len(a.Result.Violations) != 0 {
			t.Fatalf("seed %d: the reference on the file store: %v", seed, a.Result.Violations[0])
		}
		for _, e := range a.History {
			if e.Kind != checker.EvRestart || e.Node != ServerName {
				continue
			}
			restarts++
			if !strings.HasPrefix(e.Reason, "store of 1 segments") {
				rotated++
			}
			if strings.Contains(e.Reason, "torn") {
				torn++
			}
		}
	}
	if restarts == 0 || rotated == 0 {
		t.Fatalf("%d server restarts, %d of them on a store of several segments: the file store is not exercised", restarts, rotated)
	}
	t.Logf("%d restarts, %d on several segments, %d after recovery cut a torn write", restarts, rotated, torn)

	killed := 0
	for seed := uint64(1); seed <= 30; seed++ {
		o, err := Run(s.Build(seed), seed, Options{Bugs: reference.BugStoreRecoverDropLast})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range o.Result.Violations {
			if v.Property == checker.PropDurable {
				killed++
				break
			}
		}
	}
	if killed == 0 {
		t.Fatal("store-recover-drop-last survived 30 seeds of server_crash_restart")
	}
}

// TestFileStoreSeekMutant: history served from the file store is judged too: a segment seek
// that skips a segment's last record is caught in chaos runs, whose durable servers rotate
// 512-byte segments under every history read.
func TestFileStoreSeekMutant(t *testing.T) {
	s, ok := Lookup("chaos")
	if !ok {
		t.Fatal("no chaos scenario")
	}
	for seed := uint64(1); seed <= 40; seed++ {
		o, err := Run(s.Build(seed), seed, Options{Bugs: reference.BugStoreSeekOffByOne, NoFresh: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(o.Result.Violations) > 0 {
			t.Logf("killed at seed %d: %v", seed, o.Result.Violations[0])
			return
		}
	}
	t.Fatal("store-seek-off-by-one survived 40 chaos seeds")
}
