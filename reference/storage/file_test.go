package storage

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func openFile(t *testing.T, dir string, opt FileOptions) *File {
	t.Helper()
	f, err := OpenFile(dir, opt)
	if err != nil {
		t.Fatalf("OpenFile(%s): %v", dir, err)
	}
	return f
}

func closeFile(t *testing.T, f *File) {
	t.Helper()
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func appendAll(t *testing.T, s Store, recs []Record) {
	t.Helper()
	for _, r := range recs {
		if err := s.Append(r); err != nil {
			t.Fatalf("Append(%d): %v", r.Seq, err)
		}
	}
}

// appendRecord encodes a record, sealed, as the store writes it.
func appendRecord(b []byte, seq int64, msgid int32, body []byte) []byte {
	start := len(b)
	b = appendUnsealed(b, seq, msgid, body)
	sealRecords(b[start:])
	return b
}

func readAll(t *testing.T, s Store) []Record {
	t.Helper()
	got, err := s.Read(nil, -1, 1<<30)
	if err != nil {
		t.Fatalf("Read all: %v", err)
	}
	return got
}

// sparseRecords returns n records from seq first on, with gaps of 1 to 4 and bodies of 0 to
// maxBody random bytes.
func sparseRecords(rng *rand.Rand, first int64, n, maxBody int) []Record {
	recs := make([]Record, n)
	seq := first
	for i := range recs {
		body := make([]byte, rng.IntN(maxBody+1))
		for j := range body {
			body[j] = byte(rng.Uint32())
		}
		recs[i] = Record{Seq: seq, MsgID: rng.Int32N(1000) - 500, Body: body}
		seq += 1 + rng.Int64N(4)
	}
	return recs
}

func diffRecords(got, want []Record) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d records %v, want %d %v", len(got), seqs(got), len(want), seqs(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Seq != w.Seq || g.MsgID != w.MsgID || !bytes.Equal(g.Body, w.Body) {
			return fmt.Sprintf("record %d: seq %d msgid %d body %d bytes, want seq %d msgid %d body %d bytes",
				i, g.Seq, g.MsgID, len(g.Body), w.Seq, w.MsgID, len(w.Body))
		}
	}
	return ""
}

// checkReads compares every Read from below First to past Last with the memory store holding
// the same records.
func checkReads(t *testing.T, f *File, want []Record) {
	t.Helper()
	oracle := NewMemory()
	appendAll(t, oracle, want)
	if f.First() != oracle.First() || f.Last() != oracle.Last() {
		t.Fatalf("first %d last %d, want %d %d", f.First(), f.Last(), oracle.First(), oracle.Last())
	}
	for from := oracle.First() - 3; from <= oracle.Last()+2; from++ {
		for _, max := range []int{0, 1, 3, 256} {
			got, err := f.Read(nil, from, max)
			if err != nil {
				t.Fatalf("Read(from %d, max %d): %v", from, max, err)
			}
			exp, _ := oracle.Read(nil, from, max)
			if d := diffRecords(got, exp); d != "" {
				t.Fatalf("Read(from %d, max %d): %s", from, max, d)
			}
		}
	}
}

func segNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	for _, name := range segNames(t, src) {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func sizeOnDisk(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestFileRoundTripSparseRotations(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	recs := sparseRecords(rng, 10, 600, 300)
	dir := t.TempDir()
	f := openFile(t, dir, FileOptions{SegmentBytes: 4 << 10})
	if f.First() != -1 || f.Last() != -1 || f.Synced() != -1 {
		t.Fatalf("empty store: first %d last %d synced %d", f.First(), f.Last(), f.Synced())
	}
	appendAll(t, f, recs[:300])
	for range 2 { // a second Rotate in a row must not create an empty segment
		if err := f.Rotate(); err != nil {
			t.Fatal(err)
		}
	}
	appendAll(t, f, recs[300:])
	checkReads(t, f, recs) // part of the newest segment is still only in the write buffer
	closeFile(t, f)

	names := segNames(t, dir)
	if len(names) < 10 {
		t.Fatalf("%d segments %v, want rotations at 4 KiB", len(names), names)
	}
	var rotatedAt bool
	for _, name := range names {
		first, ok := parseSegName(name)
		if !ok {
			t.Fatalf("unexpected file %s", name)
		}
		rotatedAt = rotatedAt || first == recs[300].Seq
	}
	if !rotatedAt {
		t.Fatalf("no segment starts at seq %d, where Rotate was called: %v", recs[300].Seq, names)
	}

	f = openFile(t, dir, FileOptions{SegmentBytes: 4 << 10})
	defer closeFile(t, f)
	if f.Synced() != f.Last() {
		t.Fatalf("after reopen synced %d, last %d", f.Synced(), f.Last())
	}
	checkReads(t, f, recs)
	more := sparseRecords(rng, f.Last()+1, 50, 300)
	appendAll(t, f, more)
	checkReads(t, f, append(recs, more...))
}

func TestFileIndexedSeeks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	recs := sparseRecords(rng, 0, 4000, 200) // about 500 KiB in one segment
	f := openFile(t, t.TempDir(), FileOptions{})
	defer closeFile(t, f)
	appendAll(t, f, recs[:3000])
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	appendAll(t, f, recs[3000:])
	if n := len(f.segs[0].index); n < 20 {
		t.Fatalf("sparse index has %d entries for %d bytes", n, f.segs[0].size)
	}
	checkReads(t, f, recs)
}

func TestFileReadsUnsyncedTailAndCopiesBodies(t *testing.T) {
	dir := t.TempDir()
	f := openFile(t, dir, FileOptions{})
	defer closeFile(t, f)
	appendAll(t, f, []Record{{Seq: 1, Body: []byte("abc")}, {Seq: 2, Body: nil}})
	path := filepath.Join(dir, segName(1))
	if n := sizeOnDisk(t, path); n != segHdrLen {
		t.Fatalf("segment holds %d bytes before any sync; the test needs buffered appends", n)
	}
	got, err := f.Read(nil, 0, 10)
	if err != nil || len(got) != 2 || string(got[0].Body) != "abc" || len(got[1].Body) != 0 {
		t.Fatalf("Read of the unsynced tail = %v, %v", got, err)
	}
	got[0].Body[0] = 'X'
	got[0].Body = append(got[0].Body, "more"...)
	kept := got[0].Body

	big := bytes.Repeat([]byte{7}, 3*readChunk+5) // larger than a read chunk and the write buffer
	appendAll(t, f, []Record{{Seq: 3, Body: big}, {Seq: 4, Body: []byte("d")}})
	again, err := f.Read(nil, 0, 10)
	if err != nil || len(again) != 4 {
		t.Fatalf("Read = %d records, %v", len(again), err)
	}
	if string(again[0].Body) != "abc" || !bytes.Equal(again[2].Body, big) || string(again[3].Body) != "d" {
		t.Fatalf("bodies changed: %q, %d bytes, %q", again[0].Body, len(again[2].Body), again[3].Body)
	}
	if string(kept) != "Xbcmore" {
		t.Fatalf("a body handed out earlier changed to %q", kept)
	}
	if n := sizeOnDisk(t, path); n == segHdrLen {
		t.Fatal("a record larger than the write buffer was not written out")
	}
}

func TestFileRejectsBadAppends(t *testing.T) {
	dir := t.TempDir()
	f := openFile(t, dir, FileOptions{})
	if err := f.Append(Record{Seq: -1}); !errors.Is(err, ErrNotIncreasing) {
		t.Fatalf("negative seq in an empty store: %v", err)
	}
	appendAll(t, f, []Record{{Seq: 5, Body: []byte("five")}})
	for _, s := range []int64{5, 4, -1} {
		if err := f.Append(Record{Seq: s, Body: []byte("x")}); !errors.Is(err, ErrNotIncreasing) {
			t.Errorf("Append(%d) after 5 = %v, want ErrNotIncreasing", s, err)
		}
	}
	if err := f.Append(Record{Seq: 6, Body: make([]byte, MaxFileBody+1)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized body: %v, want ErrTooLarge", err)
	}
	if f.Last() != 5 {
		t.Fatalf("a rejected append changed the store: last %d", f.Last())
	}
	closeFile(t, f)
	if n, want := sizeOnDisk(t, filepath.Join(dir, segName(5))), segHdrLen+recordLen(4); n != want {
		t.Fatalf("segment is %d bytes, want the one record's %d", n, want)
	}
	f = openFile(t, dir, FileOptions{})
	defer closeFile(t, f)
	if d := diffRecords(readAll(t, f), []Record{{Seq: 5, Body: []byte("five")}}); d != "" {
		t.Fatal(d)
	}
	appendAll(t, f, []Record{{Seq: 6, Body: make([]byte, MaxFileBody)}}) // the limit itself is fine
}

func TestFileClosed(t *testing.T) {
	f := openFile(t, t.TempDir(), FileOptions{})
	appendAll(t, f, []Record{{Seq: 1}})
	closeFile(t, f)
	if err := f.Append(Record{Seq: 2}); !errors.Is(err, ErrClosed) {
		t.Errorf("Append: %v", err)
	}
	if _, err := f.Read(nil, 0, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Read: %v", err)
	}
	if err := f.Sync(); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync: %v", err)
	}
	if err := f.Rotate(); !errors.Is(err, ErrClosed) {
		t.Errorf("Rotate: %v", err)
	}
	if err := f.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
}

func TestFileSyncEveryAndSynced(t *testing.T) {
	dir := t.TempDir()
	f := openFile(t, dir, FileOptions{SyncEvery: 3})
	defer closeFile(t, f)
	path := filepath.Join(dir, segName(1))
	for seq, want := range []int64{-1, -1, 3, 3, 3, 6} {
		appendAll(t, f, []Record{{Seq: int64(seq + 1), Body: []byte("body")}})
		if f.Synced() != want {
			t.Fatalf("after appending %d: synced %d, want %d", seq+1, f.Synced(), want)
		}
	}
	if n := sizeOnDisk(t, path); n != segHdrLen+6*recordLen(4) {
		t.Fatalf("synced segment holds %d bytes on disk, want %d", n, segHdrLen+6*recordLen(4))
	}
	appendAll(t, f, []Record{{Seq: 7}})
	if err := f.Rotate(); err != nil || f.Synced() != 7 {
		t.Fatalf("Rotate: %v, synced %d, want 7", err, f.Synced())
	}
	appendAll(t, f, []Record{{Seq: 8}})
	if err := f.Sync(); err != nil || f.Synced() != 8 {
		t.Fatalf("Sync: %v, synced %d, want 8", err, f.Synced())
	}
}

// buildTorn writes prefix, then final (after a Rotate when fresh), closes the store and
// returns its directory and the path of the segment holding final.
func buildTorn(t *testing.T, prefix []Record, final Record, fresh bool) (string, string) {
	t.Helper()
	dir := t.TempDir()
	f := openFile(t, dir, FileOptions{SegmentBytes: 1 << 10})
	appendAll(t, f, prefix)
	if fresh {
		if err := f.Rotate(); err != nil {
			t.Fatal(err)
		}
	}
	appendAll(t, f, []Record{final})
	closeFile(t, f)
	names := segNames(t, dir)
	return dir, filepath.Join(dir, names[len(names)-1])
}

// checkRecovered opens dir, expects exactly want, and checks that the store takes next.
func checkRecovered(t *testing.T, dir string, want []Record, next Record) {
	t.Helper()
	f, err := OpenFile(dir, FileOptions{SegmentBytes: 1 << 10})
	if err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	if d := diffRecords(readAll(t, f), want); d != "" {
		t.Fatalf("recovered: %s", d)
	}
	newest := f.segs[len(f.segs)-1]
	if onDisk := sizeOnDisk(t, f.path(newest.first)); onDisk != newest.size {
		t.Fatalf("recovered newest segment has %d bytes on disk, its records end at %d: the damaged tail was not cut", onDisk, newest.size)
	}
	if f.Synced() != f.Last() {
		t.Fatalf("recovered store: synced %d, last %d", f.Synced(), f.Last())
	}
	appendAll(t, f, []Record{next})
	closeFile(t, f)
	f = openFile(t, dir, FileOptions{})
	defer closeFile(t, f)
	if d := diffRecords(readAll(t, f), append(want[:len(want):len(want)], next)); d != "" {
		t.Fatalf("after appending to the recovered store and reopening: %s", d)
	}
}

func TestFileTornLastRecordEveryOffset(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	prefix := sparseRecords(rng, 100, 40, 60) // several segments of 1 KiB
	final := Record{Seq: prefix[len(prefix)-1].Seq + 3, MsgID: 9, Body: []byte("the final record, torn")}
	next := Record{Seq: final.Seq + 1, Body: []byte("next")}
	for _, fresh := range []bool{false, true} {
		t.Run(fmt.Sprintf("fresh segment %v", fresh), func(t *testing.T) {
			src, last := buildTorn(t, prefix, final, fresh)
			whole, err := os.ReadFile(last)
			if err != nil {
				t.Fatal(err)
			}
			recLen := int(recordLen(uint32(len(final.Body))))
			if fresh != (len(whole) == segHdrLen+recLen) {
				t.Fatalf("final segment is %d bytes, final record %d: fresh=%v not set up", len(whole), recLen, fresh)
			}
			for keep := range recLen {
				dir := copyDir(t, src)
				path := filepath.Join(dir, filepath.Base(last))
				if err := os.Truncate(path, int64(len(whole)-recLen+keep)); err != nil {
					t.Fatal(err)
				}
				t.Logf("keeping %d of %d bytes of the final record", keep, recLen)
				checkRecovered(t, dir, prefix, next)
				if _, err := os.Stat(path); fresh && !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("keep %d: a segment left without records was not removed: %v", keep, err)
				}
			}
		})
	}
}

func TestFileDamagedLastRecordTruncated(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	prefix := sparseRecords(rng, 1, 30, 60)
	final := Record{Seq: 1000, MsgID: 3, Body: []byte("damaged")}
	next := Record{Seq: 1001}
	src, last := buildTorn(t, prefix, final, false)
	whole, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	recLen := int(recordLen(uint32(len(final.Body))))
	start := len(whole) - recLen
	damageKeeping := func(name string, want []Record, edit func(b []byte) []byte) {
		t.Run(name, func(t *testing.T) {
			dir := copyDir(t, src)
			b := edit(bytes.Clone(whole))
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(last)), b, 0o644); err != nil {
				t.Fatal(err)
			}
			checkRecovered(t, dir, want, next)
		})
	}
	damage := func(name string, edit func(b []byte) []byte) { damageKeeping(name, prefix, edit) }
	// A torn write keeps a prefix of what was written, so a complete last record that does
	// not verify was damaged after it was written: refused, the directory unchanged.
	refused := func(name, want string, edit func(b []byte) []byte) {
		t.Run(name, func(t *testing.T) {
			dir := copyDir(t, src)
			path := filepath.Join(dir, filepath.Base(last))
			if err := os.WriteFile(path, edit(bytes.Clone(whole)), 0o644); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			f, err := OpenFile(dir, FileOptions{})
			if err == nil {
				f.Close()
				t.Fatal("OpenFile accepted a damaged last record")
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprintf("%s: offset %d: %s", path, start, want)) {
				t.Fatalf("error %q: want ErrCorrupt naming %s, offset %d and %q", err, path, start, want)
			}
			if after := snapshot(t, dir); after != before {
				t.Fatalf("a refused open changed the directory:\n%s\nwas\n%s", after, before)
			}
		})
	}
	for i := range recLen {
		want := "record header checksum mismatch"
		if i >= recHdrLen {
			want = "body checksum mismatch"
		}
		refused(fmt.Sprintf("flip byte %d", i), want, func(b []byte) []byte { b[start+i] ^= 1; return b })
	}
	refused("length beyond the file", "record header checksum mismatch", func(b []byte) []byte { b[start+7] ^= 0x80; return b })
	damage("zeroed sector inside the record", func(b []byte) []byte {
		clear(b[start+10:])
		return b
	})
	damageKeeping("zero tail after the record", append(prefix[:len(prefix):len(prefix)], final), func(b []byte) []byte {
		return append(b, make([]byte, 300)...)
	})
	damage("torn and zero-extended", func(b []byte) []byte {
		return append(b[:start+5], make([]byte, 4000)...)
	})
}

func TestFileCorruptionIsAnError(t *testing.T) {
	// Fixed 40-byte bodies make record offsets easy to state: record k starts at 32+64k.
	recs := make([]Record, 60)
	for i := range recs {
		recs[i] = Record{Seq: int64(10 + 2*i), Body: bytes.Repeat([]byte{byte(i)}, 40)}
	}
	src := t.TempDir()
	f := openFile(t, src, FileOptions{SegmentBytes: segHdrLen + 20*64}) // 20 records per segment
	appendAll(t, f, recs)
	closeFile(t, f)
	names := segNames(t, src)
	if len(names) != 3 {
		t.Fatalf("segments %v, want 3", names)
	}
	corrupt := func(name, file string, wantMsg string, edit func(b []byte) []byte) {
		t.Run(name, func(t *testing.T) {
			dir := copyDir(t, src)
			path := filepath.Join(dir, file)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, edit(b), 0o644); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			f, err := OpenFile(dir, FileOptions{})
			if err == nil {
				f.Close()
				t.Fatal("OpenFile accepted a corrupt store")
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), wantMsg) {
				t.Fatalf("error %q: want ErrCorrupt naming %s and %q", err, path, wantMsg)
			}
			if after := snapshot(t, dir); after != before {
				t.Fatal("a refused open changed the directory")
			}
		})
	}
	corrupt("older segment middle", names[0], "offset 224: body checksum mismatch", func(b []byte) []byte {
		b[32+3*64+25] ^= 0xff
		return b
	})
	corrupt("older segment torn tail", names[1], "offset 1312: record header cut short", func(b []byte) []byte {
		return b[:len(b)-1]
	})
	corrupt("newest segment middle", names[2], "offset 352: body checksum mismatch, with", func(b []byte) []byte {
		b[32+5*64+30] ^= 1
		return b
	})
	corrupt("newest segment length shrunk", names[2], "offset 1248: record header checksum mismatch, with", func(b []byte) []byte {
		b[32+19*64+4] = 20 // the last record's body length: 40 becomes 20
		return b
	})
	corrupt("seq out of order", names[1], "seq 10 after", func(b []byte) []byte {
		copy(b[32+64:], appendRecord(nil, 10, 0, b[32+recHdrLen:32+recHdrLen+40])) // a valid record, out of order
		return b
	})

	t.Run("detected by Read after open", func(t *testing.T) {
		dir := copyDir(t, src)
		f := openFile(t, dir, FileOptions{})
		defer closeFile(t, f)
		path := filepath.Join(dir, names[0])
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[32+7*64+30] ^= 1
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := f.Read(nil, 0, 100)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "offset 480") {
			t.Fatalf("Read over a damaged record: %v", err)
		}
		if len(got) != 7 {
			t.Fatalf("Read returned %d records before the damaged one, want 7", len(got))
		}
	})
}

// snapshot is every file of dir with its bytes' checksum, to show a directory unchanged.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for _, name := range segNames(t, dir) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d %08x\n", name, len(data), crc32Of(data))
	}
	return b.String()
}

func crc32Of(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// TestFileSyncedSurviveCrash appends, syncs and rotates at random, and now and then copies the
// directory the way a crash could leave it: older segments whole (they were synced before the
// next one was created), the newest one cut anywhere at or past its synced length, possibly
// possibly zero-extended. Recovery must keep every synced
// record and return a prefix of what was appended.
func TestFileSyncedSurviveCrash(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	dir := t.TempDir()
	opt := FileOptions{SegmentBytes: 8 << 10, SyncEvery: 7}
	f := openFile(t, dir, opt)
	var appended []Record
	seq := int64(0)
	crashes := 0
	for step := range 3000 {
		switch x := rng.IntN(100); {
		case x < 4:
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
		case x < 6:
			if err := f.Rotate(); err != nil {
				t.Fatal(err)
			}
		case x < 8 && len(appended) > 0:
			crashes++
			crashCopy(t, rng, f, dir, appended, step)
		default:
			seq += 1 + rng.Int64N(3)
			r := sparseRecords(rng, seq, 1, 150)[0]
			appendAll(t, f, []Record{r})
			appended = append(appended, r)
		}
	}
	if crashes < 40 {
		t.Fatalf("only %d crashes simulated", crashes)
	}
	closeFile(t, f)
	f = openFile(t, dir, opt)
	defer closeFile(t, f)
	if d := diffRecords(readAll(t, f), appended); d != "" {
		t.Fatalf("after a clean close: %s", d)
	}
}

func crashCopy(t *testing.T, rng *rand.Rand, f *File, dir string, appended []Record, step int) {
	t.Helper()
	synced := f.Synced()
	newest := f.segs[len(f.segs)-1].first
	syncedLen := int64(segHdrLen)
	for _, r := range appended {
		if r.Seq >= newest && r.Seq <= synced {
			syncedLen += recordLen(uint32(len(r.Body)))
		}
	}
	crashed := copyDir(t, dir)
	path := filepath.Join(crashed, segName(newest))
	onDisk := sizeOnDisk(t, path)
	cut := syncedLen + rng.Int64N(onDisk-syncedLen+1)
	if err := os.Truncate(path, cut); err != nil {
		t.Fatal(err)
	}
	if rng.IntN(4) == 0 {
		if err := os.Truncate(path, cut+rng.Int64N(500)); err != nil {
			t.Fatal(err)
		}
	}
	g, err := OpenFile(crashed, FileOptions{SegmentBytes: 8 << 10})
	if err != nil {
		t.Fatalf("step %d: recovery: %v", step, err)
	}
	defer closeFile(t, g)
	got := readAll(t, g)
	if len(got) > len(appended) || (len(got) > 0 && got[len(got)-1].Seq < synced) || (len(got) == 0 && synced >= 0) {
		t.Fatalf("step %d: recovered up to seq %d of %d records, synced %d", step, g.Last(), len(appended), synced)
	}
	if d := diffRecords(got, appended[:len(got)]); d != "" {
		t.Fatalf("step %d: recovered records are not a prefix of those appended: %s", step, d)
	}
	next := Record{Seq: appended[len(appended)-1].Seq + 1, Body: []byte("after recovery")}
	appendAll(t, g, []Record{next})
}

func TestFileOpenErrors(t *testing.T) {
	base := t.TempDir()
	if _, err := OpenFile(filepath.Join(base, "missing", "leaf"), FileOptions{}); err == nil {
		t.Error("OpenFile created a directory whose parent is missing")
	}
	leaf := filepath.Join(base, "leaf")
	f := openFile(t, leaf, FileOptions{})
	closeFile(t, f)
	if fi, err := os.Stat(leaf); err != nil || !fi.IsDir() {
		t.Fatalf("leaf directory not created: %v", err)
	}

	regular := filepath.Join(base, "regular")
	if err := os.WriteFile(regular, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(regular, FileOptions{}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("OpenFile on a regular file: %v", err)
	}

	// good holds seqs 10, 20, 30 in segment 10.
	good := t.TempDir()
	f = openFile(t, good, FileOptions{})
	appendAll(t, f, []Record{{Seq: 10}, {Seq: 20}, {Seq: 30}})
	closeFile(t, f)
	seg10, err := os.ReadFile(filepath.Join(good, segName(10)))
	if err != nil {
		t.Fatal(err)
	}
	// seg25 is a valid segment holding only seq 25.
	other := t.TempDir()
	f = openFile(t, other, FileOptions{})
	appendAll(t, f, []Record{{Seq: 25}})
	closeFile(t, f)
	seg25, err := os.ReadFile(filepath.Join(other, segName(25)))
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		files   map[string][]byte
		subdir  string
		corrupt bool
		want    string
	}{
		{name: "stray file", files: map[string][]byte{segName(10): seg10, "notes.txt": nil}, want: "notes.txt is not a segment file"},
		{name: "unpadded name", files: map[string][]byte{"10.seg": seg10}, want: "10.seg is not a segment file"},
		{name: "signed name", files: map[string][]byte{"+0000000000000000010.seg": seg10}, want: "is not a segment file"},
		{name: "directory named like a segment", subdir: segName(40), files: map[string][]byte{segName(10): seg10}, want: "is not a segment file"},
		{name: "name disagrees with first record", files: map[string][]byte{segName(11): seg10}, corrupt: true, want: "the segment header names first seq 10, the file name 11"},
		{name: "seqs overlap across segments", files: map[string][]byte{segName(10): seg10, segName(25): seg25}, corrupt: true, want: "ends at seq 30 without its seal although 00000000000000000025.seg follows it"},
		{name: "empty older segment", files: map[string][]byte{segName(5): nil, segName(10): seg10}, corrupt: true, want: "segment header cut short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, b := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.subdir != "" {
				if err := os.Mkdir(filepath.Join(dir, tc.subdir), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			f, err := OpenFile(dir, FileOptions{})
			if err == nil {
				f.Close()
				t.Fatal("OpenFile succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrCorrupt) != tc.corrupt {
				t.Fatalf("error %q: want %q, ErrCorrupt %v", err, tc.want, tc.corrupt)
			}
		})
	}

	t.Run("permission denied", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root ignores permissions")
		}
		dir := t.TempDir()
		if err := os.Chmod(dir, 0); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(dir, 0o755)
		if _, err := OpenFile(dir, FileOptions{}); !errors.Is(err, os.ErrPermission) {
			t.Fatalf("OpenFile on an unreadable directory: %v", err)
		}
	})
}
