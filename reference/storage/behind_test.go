package storage

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
)

// A store writing behind holds, reads and reopens exactly what one writing at once does,
// through rotations, reads of the newest segment while writes are under way, and records
// larger than a write buffer.
func TestWriteBehindStoreRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	recs := sparseRecords(rng, 1, 300, 300)
	recs = append(recs, Record{Seq: recs[len(recs)-1].Seq + 1, MsgID: 7, Body: make([]byte, 3*writeBuf)})
	recs = append(recs, sparseRecords(rng, recs[len(recs)-1].Seq+1, 100, 300)...)
	dir := t.TempDir()
	opt := FileOptions{SegmentBytes: 16 << 10, NoSyncOnRotate: true, FS: WriteBehind(OS{})}
	f := openFile(t, dir, opt)
	for i, r := range recs {
		if err := f.Append(r); err != nil {
			t.Fatal(err)
		}
		// The newest record is read back at once, wherever its bytes are.
		got, err := f.Read(nil, r.Seq, 1)
		if err != nil || len(got) != 1 || got[0].Seq != r.Seq || !bytes.Equal(got[0].Body, r.Body) {
			t.Fatalf("record %d read back as %+v, %v", i, got, err)
		}
	}
	checkReads(t, f, recs)
	closeFile(t, f)
	if len(segNames(t, dir)) < 5 {
		t.Fatalf("segments %v: want rotations", segNames(t, dir))
	}
	f = openFile(t, dir, opt)
	defer closeFile(t, f)
	if cuts := f.Recovered(); len(cuts) > 0 {
		t.Fatalf("a clean close left %+v to cut", cuts)
	}
	checkReads(t, f, recs)
}

// A write that fails behind the store's back is not lost in silence: the store's next append
// or sync fails with it, every later write is refused, and reads see only what was synced.
func TestWriteBehindFailureIsReported(t *testing.T) {
	for _, next := range []string{"append", "sync"} {
		t.Run(next, func(t *testing.T) {
			var fail atomic.Bool
			f := openFile(t, t.TempDir(), FileOptions{NoSyncOnRotate: true, FS: WriteBehind(faultFS{failWrite: &fail})})
			recs := sparseRecords(rand.New(rand.NewPCG(7, 8)), 1, 200, 100)
			appendAll(t, f, recs[:100])
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			fail.Store(true)
			// Enough to fill the write buffer: its write is handed over and fails behind.
			big := Record{Seq: recs[99].Seq + 1, Body: make([]byte, writeBuf)}
			if err := f.Append(big); err != nil {
				t.Fatalf("the append that hands the failing write over: %v, want it accepted", err)
			}
			var err error
			if next == "append" {
				// The write buffer's write waits for a free buffer, then finds the failure.
				for _, r := range recs[100:] {
					r.Seq += big.Seq
					if err = f.Append(Record{Seq: r.Seq, Body: make([]byte, writeBuf)}); err != nil {
						break
					}
				}
			} else {
				err = f.Sync()
			}
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("%s after a failed write: %v, want ENOSPC", next, err)
			}
			if err := f.Append(Record{Seq: 1 << 40}); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("a later append: %v, want the failure again", err)
			}
			checkReads(t, f, recs[:100])
			if err := f.Close(); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Close: %v, want the failure", err)
			}
		})
	}
}

// A store whose writer is stalled seals its write buffer itself while it waits, and what it
// hands over that way is written whole and verifies, read back at once and after a reopen.
func TestWriteBehindSealsWhileWaiting(t *testing.T) {
	dir := t.TempDir()
	// Three write buffers and a bit: the segment header's write takes one of the writer's
	// two free buffers and stalls, the first write buffer the other, so the second finds
	// none free and is sealed by the store while it waits.
	recs := sparseRecords(rand.New(rand.NewPCG(9, 10)), 1, 3*writeBuf/150, 300)
	synctest.Test(t, func(t *testing.T) {
		stall := make(chan struct{})
		f := openFile(t, dir, FileOptions{NoSyncOnRotate: true, FS: WriteBehind(faultFS{stall: stall})})
		defer f.Close() // on a failure: the bubble must not end with the writer running
		go func() {
			// Every goroutine of the bubble is blocked: the writer on the stall, the store
			// waiting for a free buffer.
			synctest.Wait()
			close(stall)
		}()
		appendAll(t, f, recs)
		checkReads(t, f, recs)
		closeFile(t, f)
	})
	f := openFile(t, dir, FileOptions{})
	defer closeFile(t, f)
	if cuts := f.Recovered(); len(cuts) > 0 {
		t.Fatalf("a clean close left %+v to cut", cuts)
	}
	checkReads(t, f, recs)
}
