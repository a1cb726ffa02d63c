package storage

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// damagedStore writes records over several small segments on real files and returns the
// directory, its segment paths and the records.
func damagedStore(t *testing.T) (string, []string, []Record) {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 12))
	recs := sparseRecords(rng, 3, 120, 40)
	dir := t.TempDir()
	f := openFile(t, dir, FileOptions{SegmentBytes: 1 << 10})
	appendAll(t, f, recs)
	closeFile(t, f)
	var paths []string
	for _, name := range segNames(t, dir) {
		paths = append(paths, filepath.Join(dir, name))
	}
	if len(paths) < 4 {
		t.Fatalf("%d segments, want at least 4", len(paths))
	}
	return dir, paths, recs
}

// recordOffsets returns the offsets of the records in a segment file, by walking its headers.
func recordOffsets(t *testing.T, path string) []int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for off := int64(segHdrLen); off+recHdrLen <= int64(len(b)); {
		h, ok := parseRecHeader(b[off:])
		if !ok || h.n == sealMark {
			break
		}
		offs = append(offs, off)
		off += recordLen(h.n)
	}
	return offs
}

func editFile(t *testing.T, path string, edit func(b []byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, edit(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFileDamageRefused: each damage below (a header field flipped, a sealed segment cut, the
// first, a middle or the newest segment deleted or emptied, ...) makes OpenFile fail with
// ErrCorrupt naming the file (and the offset where there is one) and leaves every byte of the
// directory as it was; Verify reports it as damage; Repair cuts back to an intact store that
// opens.
func TestFileDamageRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, paths []string) (file string, want string)
	}{
		{"length field flipped in the newest segment", func(t *testing.T, paths []string) (string, string) {
			p := paths[len(paths)-1]
			offs := recordOffsets(t, p)
			off := offs[len(offs)/2]
			editFile(t, p, func(b []byte) []byte { b[off+4+1] ^= 0x40; return b })
			return p, fmt.Sprintf("offset %d: record header checksum mismatch", off)
		}},
		{"length field of the newest record flipped", func(t *testing.T, paths []string) (string, string) {
			p := paths[len(paths)-1]
			offs := recordOffsets(t, p)
			off := offs[len(offs)-1]
			editFile(t, p, func(b []byte) []byte { b[off+4] ^= 0x01; return b })
			return p, fmt.Sprintf("offset %d: record header checksum mismatch", off)
		}},
		{"sealed segment cut at a record boundary", func(t *testing.T, paths []string) (string, string) {
			p := paths[1]
			offs := recordOffsets(t, p)
			if err := os.Truncate(p, offs[len(offs)-3]); err != nil {
				t.Fatal(err)
			}
			return p, "without its seal although"
		}},
		{"first segment deleted", func(t *testing.T, paths []string) (string, string) {
			remove(t, paths[0])
			return paths[1], "the segments before it are missing"
		}},
		{"middle segment deleted", func(t *testing.T, paths []string) (string, string) {
			remove(t, paths[2])
			return paths[3], "a segment is missing"
		}},
		{"newest segment deleted", func(t *testing.T, paths []string) (string, string) {
			remove(t, paths[len(paths)-1])
			return paths[len(paths)-2], "the segment after it is missing"
		}},
		{"newest segment emptied", func(t *testing.T, paths []string) (string, string) {
			p := paths[len(paths)-1]
			if err := os.Truncate(p, 0); err != nil {
				t.Fatal(err)
			}
			return p, "offset 0: segment header cut short"
		}},
		{"newest segment zeroed", func(t *testing.T, paths []string) (string, string) {
			p := paths[len(paths)-1]
			editFile(t, p, func(b []byte) []byte { clear(b); return b })
			return p, "offset 0: no segment header"
		}},
		{"segment duplicated under another name", func(t *testing.T, paths []string) (string, string) {
			b, err := os.ReadFile(paths[1])
			if err != nil {
				t.Fatal(err)
			}
			first, _ := parseSegName(filepath.Base(paths[1]))
			dup := filepath.Join(filepath.Dir(paths[1]), segName(first+1))
			if err := os.WriteFile(dup, b, 0o644); err != nil {
				t.Fatal(err)
			}
			return dup, "the segment header names first seq"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, paths, recs := damagedStore(t)
			file, want := tc.damage(t, paths)
			before := snapshot(t, dir)
			f, err := OpenFile(dir, FileOptions{})
			if err == nil {
				f.Close()
				t.Fatal("OpenFile accepted a damaged store")
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q: want ErrCorrupt naming %s and %q", err, file, want)
			}
			if after := snapshot(t, dir); after != before {
				t.Fatalf("a refused open changed the directory:\n%s\nwas\n%s", after, before)
			}
			r, err := Verify(OS{}, dir)
			if err != nil || r.Problem == nil || !strings.Contains(r.Problem.Error(), want) || len(r.Cuts) != 0 {
				t.Fatalf("Verify: %+v, %v: want the problem %q", r, err, want)
			}
			if after := snapshot(t, dir); after != before {
				t.Fatal("Verify changed the directory")
			}

			cuts, err := Repair(OS{}, dir)
			if err != nil || len(cuts) == 0 {
				t.Fatalf("Repair: %v, cuts %v", err, cuts)
			}
			g := openFile(t, dir, FileOptions{})
			defer closeFile(t, g)
			got := readAll(t, g)
			if len(got) == 0 {
				t.Fatal("nothing left after Repair")
			}
			k := 0
			for k < len(recs) && recs[k].Seq != got[0].Seq {
				k++
			}
			if k+len(got) > len(recs) {
				t.Fatalf("repaired store holds seqs %d..%d, not a run of what was written", got[0].Seq, got[len(got)-1].Seq)
			}
			if d := diffRecords(got, recs[k:k+len(got)]); d != "" {
				t.Fatalf("repaired store is not a contiguous run of what was written: %s", d)
			}
			if len(g.Recovered()) != 0 {
				t.Fatalf("a repaired store still needed recovery: %v", g.Recovered())
			}
		})
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// TestFileTornTailCutAndReported: a record the file ends inside is what a crash leaves; Verify
// says opening will cut it, OpenFile cuts it and says so in Recovered.
func TestFileTornTailCutAndReported(t *testing.T) {
	dir, paths, recs := damagedStore(t)
	p := paths[len(paths)-1]
	offs := recordOffsets(t, p)
	last := offs[len(offs)-1]
	if err := os.Truncate(p, last+7); err != nil {
		t.Fatal(err)
	}
	r, err := Verify(OS{}, dir)
	if err != nil || r.Problem != nil || len(r.Cuts) != 1 || r.Cuts[0].Path != p || r.Cuts[0].Offset != last {
		t.Fatalf("Verify: %+v, %v: want one cut of %s at %d", r, err, p, last)
	}
	f := openFile(t, dir, FileOptions{})
	defer closeFile(t, f)
	if cuts := f.Recovered(); len(cuts) != 1 || cuts[0].Offset != last || cuts[0].Bytes != 7 || !strings.Contains(cuts[0].Why, "torn") {
		t.Fatalf("Recovered() = %v, want the 7 torn bytes at %d", cuts, last)
	}
	if d := diffRecords(readAll(t, f), recs[:len(recs)-1]); d != "" {
		t.Fatal(d)
	}
}

// TestFileFormat1Refused: a store written before segment headers is refused by name.
func TestFileFormat1Refused(t *testing.T) {
	dir := t.TempDir()
	old := appendRecordHeaderV1(7)
	if err := os.WriteFile(filepath.Join(dir, segName(7)), old, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := OpenFile(dir, FileOptions{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "format 1") || !strings.Contains(err.Error(), "format 2 only") {
		t.Fatalf("OpenFile on a format-1 store: %v", err)
	}
}

// appendRecordHeaderV1 is a format-1 record with an empty body: length, msgid, seq, CRC.
func appendRecordHeaderV1(seq int64) []byte {
	b := le.AppendUint32(nil, 0)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint64(b, uint64(seq))
	return le.AppendUint32(b, crc32Of(b))
}

// faultFS is the real file system whose files' syncs or writes fail on demand (a nil switch
// never fails), or whose writes wait until stall is closed (a nil stall never waits): errors
// and stalls on real files. A write behind (WriteBehind) fails on the writer's goroutine,
// hence an atomic switch for writes.
type faultFS struct {
	OS
	failSync  *bool
	failWrite *atomic.Bool
	stall     chan struct{}
}

func (f faultFS) OpenRW(path string) (Handle, error) { return f.wrap(f.OS.OpenRW(path)) }
func (f faultFS) Create(path string) (Handle, error) { return f.wrap(f.OS.Create(path)) }

func (f faultFS) wrap(h Handle, err error) (Handle, error) {
	if err != nil {
		return nil, err
	}
	return faultHandle{h, f}, nil
}

type faultHandle struct {
	Handle
	fs faultFS
}

func (h faultHandle) WriteAt(p []byte, off int64) (int, error) {
	if h.fs.stall != nil {
		<-h.fs.stall
	}
	if h.fs.failWrite != nil && h.fs.failWrite.Load() {
		return 0, syscall.ENOSPC
	}
	return h.Handle.WriteAt(p, off)
}

func (h faultHandle) Sync() error {
	if h.fs.failSync != nil && *h.fs.failSync {
		return syscall.EIO
	}
	return h.Handle.Sync()
}

// TestFileWriteAndSyncErrors: a failed write or sync fails the append or sync that met it and
// every later write until the store is reopened; reads then see only what was synced, and a
// reopen finds every synced record.
func TestFileWriteAndSyncErrors(t *testing.T) {
	recs := sparseRecords(rand.New(rand.NewPCG(3, 4)), 1, 40, 100)
	check := func(t *testing.T, fsys FS, fail func(), crash func()) {
		opt := FileOptions{FS: fsys, SegmentBytes: 1 << 10}
		f, err := OpenFile("s", opt)
		if err != nil {
			t.Fatal(err)
		}
		appendAll(t, f, recs[:20])
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		appendAll(t, f, recs[20:25])
		fail()
		if err := f.Sync(); err == nil {
			t.Fatal("Sync succeeded over a failing disk")
		}
		if f.Synced() != recs[19].Seq {
			t.Fatalf("synced %d after a failed sync, want %d", f.Synced(), recs[19].Seq)
		}
		if err := f.Append(recs[25]); err == nil || !strings.Contains(err.Error(), "until it is reopened") {
			t.Fatalf("Append after a failed sync: %v", err)
		}
		if d := diffRecords(readAll(t, f), recs[:20]); d != "" {
			t.Fatalf("reads after a failed sync: %s", d)
		}
		f.Close()
		crash()
		g, err := OpenFile("s", opt)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		got := readAll(t, g)
		if len(got) < 20 || diffRecords(got, recs[:len(got)]) != "" {
			t.Fatalf("reopened after a failed sync: seqs %v, want at least the 20 synced", seqs(got))
		}
		appendAll(t, g, []Record{{Seq: recs[len(recs)-1].Seq + 1}})
	}
	t.Run("simulated EIO on fsync", func(t *testing.T) {
		fsys := NewSimFS(rand.New(rand.NewPCG(1, 2)))
		check(t, fsys, func() { fsys.FailSync(syscall.EIO) }, fsys.Crash)
	})
	t.Run("simulated ENOSPC on write", func(t *testing.T) {
		fsys := NewSimFS(rand.New(rand.NewPCG(1, 3)))
		check(t, fsys, func() { fsys.FailWrite(syscall.ENOSPC) }, fsys.Crash)
	})
	t.Run("real files, EIO on fsync", func(t *testing.T) {
		failing := false
		dir := t.TempDir()
		t.Chdir(dir)
		check(t, faultFS{failSync: &failing}, func() { failing = true }, func() { failing = false })
	})
}

// A failed sync right after a rotation forgets the new segment, whose records were never
// synced; reads of the segment before it must still come from that segment's own file.
func TestFileSyncErrorAfterRotation(t *testing.T) {
	fsys := NewSimFS(rand.New(rand.NewPCG(5, 6)))
	f, err := OpenFile("s", FileOptions{FS: fsys})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	first := []Record{{Seq: 1, Body: []byte("one")}, {Seq: 2, Body: []byte("two")}}
	appendAll(t, f, first)
	if err := f.Rotate(); err != nil {
		t.Fatal(err)
	}
	appendAll(t, f, []Record{{Seq: 3, Body: []byte("three, in a new segment")}})
	fsys.FailSync(syscall.EIO)
	if err := f.Sync(); err == nil {
		t.Fatal("Sync succeeded")
	}
	if f.Last() != 2 {
		t.Fatalf("last %d after the failed sync, want 2", f.Last())
	}
	if d := diffRecords(readAll(t, f), first); d != "" {
		t.Fatal(d)
	}
}
