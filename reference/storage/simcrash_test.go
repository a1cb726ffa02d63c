package storage

import (
	"errors"
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

// TestNoSyncOnRotateCrashes is TestFileCrashesOnSimFS for a store that does not sync when it
// rotates. A crash may then leave damage that OpenFile refuses; Repair must bring back every
// record synced before the crash and nothing but a prefix of what was appended. Both outcomes
// must occur, or the test does not reach what the option changes.
func TestNoSyncOnRotateCrashes(t *testing.T) {
	opened, repaired := 0, 0
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 78))
		fsys := NewSimFS(rng)
		opt := FileOptions{FS: fsys, SegmentBytes: 200, NoSyncOnRotate: true}
		f, err := OpenFile("s", opt)
		if err != nil {
			t.Fatal(err)
		}
		var appended []Record
		seq := int64(0)
		for step := range 600 {
			switch x := rng.IntN(100); {
			case x < 4:
				if err := f.Sync(); err != nil {
					t.Fatal(err)
				}
				continue
			case x < 97:
				seq += 1 + rng.Int64N(3)
				r := Record{Seq: seq, MsgID: int32(step), Body: make([]byte, rng.IntN(60))}
				for i := range r.Body {
					r.Body[i] = byte(rng.Uint32())
				}
				if err := f.Append(r); err != nil {
					t.Fatal(err)
				}
				appended = append(appended, r)
				continue
			}
			synced := f.Synced()
			fsys.Crash()
			if f, err = OpenFile("s", opt); err == nil {
				opened++
			} else {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("seed %d step %d: a crashed store refused with %v, not as damage", seed, step, err)
				}
				if _, err := Repair(fsys, "s"); err != nil {
					t.Fatalf("seed %d step %d: repair: %v", seed, step, err)
				}
				if f, err = OpenFile("s", opt); err != nil {
					t.Fatalf("seed %d step %d: the repaired store does not open: %v", seed, step, err)
				}
				repaired++
			}
			got := readAll(t, f)
			if len(got) > len(appended) || diffRecords(got, appended[:len(got)]) != "" {
				t.Fatalf("seed %d step %d: recovered records are not a prefix of those appended", seed, step)
			}
			if f.Last() < synced {
				t.Fatalf("seed %d step %d: recovered up to %d, synced %d", seed, step, f.Last(), synced)
			}
			appended = appended[:len(got)]
			if f.Last() >= 0 {
				seq = f.Last()
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if opened == 0 || repaired == 0 {
		t.Fatalf("%d crashes opened as they were and %d needed a repair: both must occur", opened, repaired)
	}
	t.Logf("%d crashes opened as they were, %d needed a repair", opened, repaired)
}

// TestNoSyncOnRotateSyncCoversEverySegment checks that a store rotating without syncs makes
// every segment durable at Sync and at OpenFile: a crash right after either loses nothing.
func TestNoSyncOnRotateSyncCoversEverySegment(t *testing.T) {
	for _, reopen := range []bool{false, true} {
		for seed := range uint64(20) {
			fsys := NewSimFS(rand.New(rand.NewPCG(seed, 79)))
			opt := FileOptions{FS: fsys, SegmentBytes: 200, NoSyncOnRotate: true}
			f, err := OpenFile("s", opt)
			if err != nil {
				t.Fatal(err)
			}
			recs := sparseRecords(rand.New(rand.NewPCG(seed, 80)), 1, 60, 40)
			for _, r := range recs {
				if err := f.Append(r); err != nil {
					t.Fatal(err)
				}
			}
			if len(f.segs) < 4 {
				t.Fatalf("%d segments: the test needs rotations", len(f.segs))
			}
			if reopen {
				// A killed process: its writes are in the page cache, and OpenFile claims them.
				if err := f.flush(); err != nil {
					t.Fatal(err)
				}
				if f, err = OpenFile("s", opt); err != nil {
					t.Fatal(err)
				}
			} else if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			fsys.Crash()
			if f, err = OpenFile("s", opt); err != nil {
				t.Fatalf("reopen %v seed %d: %v", reopen, seed, err)
			}
			if d := diffRecords(readAll(t, f), recs); d != "" {
				t.Fatalf("reopen %v seed %d: after a crash: %s", reopen, seed, d)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}
