package storage

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path"
	"testing"
)

// fuzzStore writes 60 records with sparse seqs over 300-byte segments of a simulated file
// system and closes the store, so every record is synced. It returns the segment files'
// bytes, written once and laid out afresh for every input by fuzzFS.
func fuzzStore(t testing.TB) ([]Record, []string, [][]byte) {
	fsys := NewSimFS(rand.New(rand.NewPCG(1, 1)))
	recs := sparseRecords(rand.New(rand.NewPCG(2, 2)), 5, 60, 30)
	f, err := OpenFile("s", FileOptions{FS: fsys, SegmentBytes: 300})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := f.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := fsys.ReadDir("s")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var files [][]byte
	for _, e := range entries {
		names = append(names, path.Join("s", e.Name))
		files = append(files, simRead(t, fsys, names[len(names)-1]))
	}
	return recs, names, files
}

func fuzzFS(t *testing.T, names []string, files [][]byte) *SimFS {
	fsys := NewSimFS(rand.New(rand.NewPCG(1, 1)))
	if err := fsys.MakeDir("s"); err != nil {
		t.Fatal(err)
	}
	for i, name := range names {
		h, err := fsys.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		simWrite(t, h, 0, files[i])
		h.Close()
	}
	return fsys
}

func simSnapshot(t *testing.T, fsys *SimFS) string {
	entries, err := fsys.ReadDir("s")
	if err != nil {
		t.Fatal(err)
	}
	s := ""
	for _, e := range entries {
		b := simRead(t, fsys, path.Join("s", e.Name))
		s += fmt.Sprintf("%s %d %08x\n", e.Name, len(b), crc32Of(b))
	}
	return s
}

func simRewrite(t *testing.T, fsys *SimFS, name string, b []byte) {
	if err := fsys.Remove(name); err != nil {
		t.Fatal(err)
	}
	h, err := fsys.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	simWrite(t, h, 0, b)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
}

// FuzzOpenDamaged damages a store of synced records (a byte flipped, the file truncated, a
// range zeroed, a segment removed or duplicated) and opens it. It must never panic; a refused
// store must be left unchanged and be what Verify calls damaged, and Repair must bring it
// back; an opened store must hold only records that were written, and lose a synced one only
// with Recovered saying what was cut. The one silent loss the format cannot see, the newest
// segment cut exactly at a record boundary (see the package doc), is the exception.
func FuzzOpenDamaged(f *testing.F) {
	for op := range byte(6) {
		f.Add(op, byte(0), uint16(40), byte(1), uint16(8))
		f.Add(op, byte(255), uint16(100), byte(0x80), uint16(300))
	}
	recs, names, files := fuzzStore(f)
	f.Fuzz(func(t *testing.T, op, segPick byte, off uint16, val byte, n uint16) {
		fsys := fuzzFS(t, names, files)
		name := names[int(segPick)%len(names)]
		newest := name == names[len(names)-1]
		b := simRead(t, fsys, name)
		atBoundary := false
		switch op % 6 {
		case 0: // flip
			i := int(off) % len(b)
			b[i] ^= max(val, 1)
			simRewrite(t, fsys, name, b)
		case 1: // truncate
			cut := int(off) % (len(b) + 1)
			for _, o := range recordEnds(b) {
				atBoundary = atBoundary || (cut == o && cut > segHdrLen)
			}
			simRewrite(t, fsys, name, b[:cut])
		case 2: // zero a range
			i := int(off) % len(b)
			clear(b[i:min(len(b), i+int(n))])
			simRewrite(t, fsys, name, b)
		case 3: // remove
			if err := fsys.Remove(name); err != nil {
				t.Fatal(err)
			}
		case 4, 5: // duplicate under another name
			first, _ := parseSegName(path.Base(name))
			dup := path.Join("s", segName(first+int64(off%64)-32))
			if first+int64(off%64)-32 < 0 || dup == name {
				return
			}
			if _, err := fsys.Open(dup); err == nil {
				if err := fsys.Remove(dup); err != nil {
					t.Fatal(err)
				}
			}
			h, err := fsys.Create(dup)
			if err != nil {
				t.Fatal(err)
			}
			simWrite(t, h, 0, b)
			h.Close()
		}
		before := simSnapshot(t, fsys)
		report, verr := Verify(fsys, "s")
		st, err := OpenFile("s", FileOptions{FS: fsys})
		if err != nil {
			if after := simSnapshot(t, fsys); after != before {
				t.Fatalf("a refused open changed the store: %v", err)
			}
			if !errors.Is(err, ErrCorrupt) {
				if verr == nil {
					t.Fatalf("OpenFile failed (%v) where Verify did not", err)
				}
				return // not the store's files: nothing to repair
			}
			if verr != nil || report.Problem == nil {
				t.Fatalf("OpenFile refused the store (%v), Verify did not: %+v %v", err, report, verr)
			}
			if _, err := Repair(fsys, "s"); err != nil {
				t.Fatalf("Repair: %v", err)
			}
			if st, err = OpenFile("s", FileOptions{FS: fsys}); err != nil {
				t.Fatalf("the repaired store does not open: %v", err)
			}
			checkSubset(t, st, recs)
			st.Close()
			return
		}
		defer st.Close()
		if verr != nil || report.Problem != nil {
			t.Fatalf("OpenFile accepted what Verify refused: %v %v", report.Problem, verr)
		}
		got := checkSubset(t, st, recs)
		if len(got) < len(recs) && len(st.Recovered()) == 0 && !(op%6 == 1 && newest && atBoundary) {
			t.Fatalf("%d synced records lost silently (op %d on %s)", len(recs)-len(got), op%6, name)
		}
	})
}

// recordEnds returns the offsets at which records end in a segment's bytes.
func recordEnds(b []byte) []int {
	var ends []int
	for off := segHdrLen; off+recHdrLen <= len(b); {
		h, ok := parseRecHeader(b[off:])
		if !ok || h.n == sealMark || off+int(recordLen(h.n)) > len(b) {
			break
		}
		off += int(recordLen(h.n))
		ends = append(ends, off)
	}
	return ends
}

// checkSubset reads the whole store and checks that it holds only records that were written,
// unchanged and in order.
func checkSubset(t *testing.T, st *File, recs []Record) []Record {
	got, err := st.Read(nil, -1, 1<<20)
	if err != nil {
		t.Fatalf("Read of an opened store: %v", err)
	}
	k := 0
	for _, g := range got {
		for k < len(recs) && recs[k].Seq != g.Seq {
			k++
		}
		if k == len(recs) || diffRecords([]Record{g}, recs[k:k+1]) != "" {
			t.Fatalf("the store holds a record that was not written, or changed: seq %d", g.Seq)
		}
	}
	return got
}
