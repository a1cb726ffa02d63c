package storage

import (
	"math/rand/v2"
	"syscall"
	"testing"
)

// TestFileCrashesOnSimFS appends, syncs and rotates at random over small segments of the
// simulated file system, fails writes and syncs now and then (also in the middle of a
// rotation), and crashes: recovery must always open, keep every synced record, hold a prefix
// of what was appended, and say what it cut whenever it cut something.
func TestFileCrashesOnSimFS(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 77))
		fsys := NewSimFS(rng)
		opt := FileOptions{FS: fsys, SegmentBytes: 200, SyncEvery: 5}
		f, err := OpenFile("s", opt)
		if err != nil {
			t.Fatal(err)
		}
		var appended []Record
		seq := int64(0)
		crashes, cuts := 0, 0
		for step := range 800 {
			failed := false
			switch x := rng.IntN(100); {
			case x < 3:
				fsys.FailWrite(syscall.ENOSPC)
			case x < 6:
				fsys.FailSync(syscall.EIO)
			case x < 10:
				failed = f.Sync() != nil
			case x < 13:
				failed = f.Rotate() != nil
			case x < 17:
				failed = true // a crash out of the blue
			default:
				seq += 1 + rng.Int64N(3)
				r := Record{Seq: seq, MsgID: int32(step), Body: make([]byte, rng.IntN(60))}
				for i := range r.Body {
					r.Body[i] = byte(rng.Uint32())
				}
				if f.Append(r) != nil {
					failed = true
				} else {
					appended = append(appended, r)
				}
			}
			if !failed {
				continue
			}
			synced := f.Synced()
			crashes++
			fsys.Crash()
			if f, err = OpenFile("s", opt); err != nil {
				t.Fatalf("seed %d step %d: recovery refused a crashed store: %v", seed, step, err)
			}
			got := readAll(t, f)
			if len(got) > len(appended) || diffRecords(got, appended[:len(got)]) != "" {
				t.Fatalf("seed %d step %d: recovered records are not a prefix of those appended", seed, step)
			}
			if f.Last() < synced {
				t.Fatalf("seed %d step %d: recovered up to %d, synced %d", seed, step, f.Last(), synced)
			}
			if len(f.Recovered()) > 0 {
				cuts++
			}
			appended = appended[:len(got)]
			if f.Last() >= 0 {
				seq = f.Last()
			}
		}
		if crashes < 20 || cuts == 0 {
			t.Fatalf("seed %d: %d crashes, %d with something cut: the test does not reach recovery", seed, crashes, cuts)
		}
		if err := f.Close(); err != nil && f.err == nil { // a store that failed says so again
			t.Fatal(err)
		}
	}
}
