package storage

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
)

// Problem is damage that no crash explains: OpenFile refuses the store and changes nothing.
type Problem struct {
	Path   string
	Offset int64 // -1 when it concerns the whole file
	Why    string

	seg  int   // the segment it is in
	fix  fixOp // what Repair does about it
	keep int64 // fixCut: bytes of the segment that are intact
}

func (p *Problem) Error() string {
	if p.Offset < 0 {
		return fmt.Sprintf("%s: %s", p.Path, p.Why)
	}
	return fmt.Sprintf("%s: offset %d: %s", p.Path, p.Offset, p.Why)
}

type fixOp int

const (
	fixCut    fixOp = iota // keep the segment's intact prefix, remove every later segment
	fixUnseal              // the newest segment is sealed: its successor is gone
	fixStart               // the first segment follows one that is gone: it becomes the first
)

// Cut is something recovery or Repair removed: bytes from Offset to the end of a file, or the
// whole file when Offset is -1.
type Cut struct {
	Path   string
	Offset int64
	Bytes  int64
	Why    string
}

func (c Cut) String() string {
	if c.Offset < 0 {
		return fmt.Sprintf("removed %s (%d bytes): %s", c.Path, c.Bytes, c.Why)
	}
	return fmt.Sprintf("cut %s at offset %d (%d bytes): %s", c.Path, c.Offset, c.Bytes, c.Why)
}

// SegmentInfo is what one intact segment holds.
type SegmentInfo struct {
	Path    string
	First   int64 // -1 when it holds no record
	Last    int64
	Records int64
	Bytes   int64 // the file's size
	Sealed  bool
}

// Report is what Verify found in a store.
type Report struct {
	Segments []SegmentInfo // checked, in order; the one with the problem is last
	Records  int64
	First    int64 // -1 when no record
	Last     int64
	// Problem is the first damage that no crash explains; nil when the store opens.
	Problem *Problem
	// Unchecked are the segments after Problem's, which Repair would remove.
	Unchecked []string
	// Cuts is what opening the store would cut: what a crash left half done. Only set when
	// Problem is nil.
	Cuts []Cut
}

// segScan is one segment as read from disk.
type segScan struct {
	seg      segment
	path     string
	fileSize int64
	prevLast int64
	sealed   bool
	bad      *badRecord // the first record of the newest segment that does not verify
}

// badRecord is a record that does not verify, at the end of the newest segment. A crash can
// leave one: cut short, or with zeros where data never reached the disk. It is a torn tail
// when the file ends inside it, or when every byte from before tornIf on is zero.
type badRecord struct {
	off    int64
	tornIf int64
	why    string
}

// inspection is a store directory as read from disk, checked up to its first problem.
type inspection struct {
	segs    []segScan
	tmps    []Cut // segments whose creation a crash interrupted
	names   []string
	problem *Problem
}

// inspect reads and checks every segment of dir, stopping at the first problem. It returns an
// error only for what is not damage: I/O errors, files that are not the store's.
func inspect(fsys FS, dir string, bug FileBug) (*inspection, error) {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	ins := &inspection{}
	for _, e := range entries {
		if tmp, ok := strings.CutSuffix(e.Name, tmpSuffix); ok && e.Regular {
			if _, ok := parseSegName(tmp); ok {
				path := filepath.Join(dir, e.Name)
				size, err := fileSize(fsys, path)
				if err != nil {
					return nil, err
				}
				ins.tmps = append(ins.tmps, Cut{path, -1, size, "a segment whose creation a crash interrupted"})
				continue
			}
		}
		if _, ok := parseSegName(e.Name); !ok || !e.Regular {
			return nil, fmt.Errorf("storage: %s is not a segment file (want <20-digit first seq>%s)",
				filepath.Join(dir, e.Name), segSuffix)
		}
		ins.names = append(ins.names, e.Name)
	}
	for i, name := range ins.names {
		first, _ := parseSegName(name)
		path := filepath.Join(dir, name)
		s, p, err := scanSegment(fsys, path, first, i == len(ins.names)-1, bug)
		if err != nil {
			return nil, err
		}
		if p != nil {
			p.seg = i
			ins.problem = p
			return ins, nil
		}
		ins.segs = append(ins.segs, s)
		if p := ins.link(i); p != nil {
			ins.problem = p
			return ins, nil
		}
	}
	return ins, nil
}

// link checks segment i against the one before it, and the previous one's seal.
func (ins *inspection) link(i int) *Problem {
	s := &ins.segs[i]
	if i == 0 {
		if s.prevLast != -1 {
			return &Problem{Path: s.path, Offset: -1, seg: i, fix: fixStart, Why: fmt.Sprintf(
				"the first segment follows one that ended at seq %d: the segments before it are missing", s.prevLast)}
		}
	} else if p := &ins.segs[i-1]; !p.sealed && (s.seg.last >= 0 || i < len(ins.names)-1) {
		// Unsealed with a successor is a crash during rotation only while the successor has
		// no record yet; anything else was cut.
		return &Problem{Path: p.path, Offset: p.fileSize, seg: i - 1, fix: fixCut, keep: p.fileSize, Why: fmt.Sprintf(
			"ends at seq %d without its seal although %s follows it: the segment was cut", p.seg.last, filepath.Base(s.path))}
	} else if s.prevLast != p.seg.last {
		return &Problem{Path: s.path, Offset: -1, seg: i, fix: fixCut, Why: fmt.Sprintf(
			"its header says the previous segment ends at seq %d, but %s ends at seq %d: a segment is missing",
			s.prevLast, filepath.Base(p.path), p.seg.last)}
	}
	if i == len(ins.names)-1 && s.sealed {
		return &Problem{Path: s.path, Offset: -1, seg: i, fix: fixUnseal, Why: fmt.Sprintf(
			"sealed at seq %d, but the segment after it is missing", s.seg.last)}
	}
	return nil
}

func fileSize(fsys FS, path string) (int64, error) {
	h, err := fsys.Open(path)
	if err != nil {
		return 0, fmt.Errorf("storage: %w", err)
	}
	defer h.Close() // read-only: closing cannot lose data
	size, err := h.Size()
	if err != nil {
		return 0, fmt.Errorf("storage: %w", err)
	}
	return size, nil
}

// scanSegment reads one segment, checking every record. Damage is a Problem; a record that
// does not verify in the newest segment is left in bad for the caller to judge.
func scanSegment(fsys FS, path string, first int64, newest bool, bug FileBug) (segScan, *Problem, error) {
	s := segScan{path: path, seg: segment{first: first, last: -1}}
	h, err := fsys.Open(path)
	if err != nil {
		return s, nil, fmt.Errorf("storage: %w", err)
	}
	defer h.Close() // read-only: closing cannot lose data
	if s.fileSize, err = h.Size(); err != nil {
		return s, nil, fmt.Errorf("storage: %w", err)
	}
	size := s.fileSize
	damage := func(off int64, keep int64, format string, args ...any) (segScan, *Problem, error) {
		return s, &Problem{Path: path, Offset: off, fix: fixCut, keep: keep, Why: fmt.Sprintf(format, args...)}, nil
	}
	// A segment smaller than the buffer needs no more: stores of many small segments open fast.
	br := bufio.NewReaderSize(io.NewSectionReader(h, 0, size), int(min(size, scanBuf)))
	var hdr [segHdrLen]byte
	n, err := io.ReadFull(br, hdr[:min(size, segHdrLen)])
	if err != nil {
		return s, nil, fmt.Errorf("storage: reading %s: %w", path, err)
	}
	hFirst, prevLast, why := parseSegHeader(hdr[:n])
	if why != "" {
		return damage(0, 0, "%s", why)
	}
	if hFirst != first {
		return damage(0, 0, "the segment header names first seq %d, the file name %d", hFirst, first)
	}
	if prevLast >= first {
		return damage(0, 0, "the segment header says the previous segment ends at seq %d, not below its first %d", prevLast, first)
	}
	s.prevLast, s.seg.size = prevLast, segHdrLen
	var rest []byte
	for s.seg.size < size {
		off := s.seg.size
		if size-off < recHdrLen {
			s.bad = &badRecord{off, math.MaxInt64, "record header cut short"}
			break
		}
		if _, err := io.ReadFull(br, hdr[:recHdrLen]); err != nil {
			return s, nil, fmt.Errorf("storage: reading %s: %w", path, err)
		}
		rh, ok := parseRecHeader(hdr[:])
		if !ok {
			s.bad = &badRecord{off, off + recHdrLen, "record header checksum mismatch"}
			break
		}
		if rh.n == sealMark {
			if rh.seq != s.seg.last || s.seg.last < 0 {
				return damage(off, off, "a seal naming seq %d after a last record of seq %d", rh.seq, s.seg.last)
			}
			if end := off + recHdrLen; end != size {
				return damage(end, off, "%d bytes after the segment's seal", size-end)
			}
			s.sealed = true
			break
		}
		if rh.n > MaxFileBody {
			return damage(off, off, "body length %d above the limit %d in a record header that verifies", rh.n, MaxFileBody)
		}
		end := off + recordLen(rh.n)
		if end > size || (bug == BugRecoverDropLast && newest && end == size) {
			s.bad = &badRecord{off, math.MaxInt64, "record cut short"}
			break
		}
		if need := int(rh.n) + crcLen; cap(rest) < need {
			rest = make([]byte, need)
		} else {
			rest = rest[:need]
		}
		if _, err := io.ReadFull(br, rest); err != nil {
			return s, nil, fmt.Errorf("storage: reading %s: %w", path, err)
		}
		if !rh.bodyOK(rest) {
			s.bad = &badRecord{off, end, "body checksum mismatch"}
			break
		}
		if off == segHdrLen && rh.seq != first {
			return damage(off, off, "first record has seq %d, the name says %d", rh.seq, first)
		}
		if off > segHdrLen && rh.seq <= s.seg.last {
			return damage(off, off, "seq %d after %d", rh.seq, s.seg.last)
		}
		s.seg.add(rh.seq, off, end)
	}
	if s.bad == nil {
		return s, nil, nil
	}
	if !newest {
		return damage(s.bad.off, s.bad.off, "%s (only the newest segment may have a torn tail)", s.bad.why)
	}
	zero, err := zeroFrom(h, path, s.bad.off, size)
	if err != nil {
		return s, nil, err
	}
	if s.bad.tornIf != math.MaxInt64 && zero >= s.bad.tornIf {
		return damage(s.bad.off, s.bad.off, "%s, with %d bytes after it that are not a torn write", s.bad.why, size-s.bad.off)
	}
	return s, nil, nil
}

// zeroFrom returns where the run of zero bytes that ends h begins, looking no earlier than
// from: what a file system leaves when a crash kept a file's new size but not its data.
func zeroFrom(h Handle, path string, from, size int64) (int64, error) {
	buf := make([]byte, min(size-from, scanBuf))
	zero := from
	for off := from; off < size; {
		chunk := buf[:min(int64(len(buf)), size-off)]
		if _, err := h.ReadAt(chunk, off); err != nil {
			return 0, fmt.Errorf("storage: reading %s: %w", path, err)
		}
		for i := len(chunk) - 1; i >= 0; i-- {
			if chunk[i] != 0 {
				zero = off + int64(i) + 1
				break
			}
		}
		off += int64(len(chunk))
	}
	return zero, nil
}

// recovery is what a crash left half done, as cuts to make; it assumes no problem.
func (ins *inspection) recovery() []Cut {
	cuts := append([]Cut(nil), ins.tmps...)
	n := len(ins.segs)
	if n == 0 {
		return cuts
	}
	s := &ins.segs[n-1]
	switch why := "the newest segment holds no record"; {
	case s.seg.last < 0:
		if s.bad != nil {
			why += " but a torn write: " + s.bad.why
		}
		cuts = append(cuts, Cut{s.path, -1, s.fileSize, why})
		if n > 1 && ins.segs[n-2].sealed {
			p := &ins.segs[n-2]
			cuts = append(cuts, Cut{p.path, p.seg.size, recHdrLen, "its seal: the segment after it held no record"})
		}
	case s.bad != nil:
		cuts = append(cuts, Cut{s.path, s.bad.off, s.fileSize - s.bad.off, "a torn write: " + s.bad.why})
	}
	return cuts
}

// report turns an inspection into what Verify says.
func (ins *inspection) report() *Report {
	r := &Report{First: -1, Last: -1, Problem: ins.problem}
	for _, s := range ins.segs {
		info := SegmentInfo{Path: s.path, First: -1, Last: s.seg.last, Records: s.seg.records, Bytes: s.fileSize, Sealed: s.sealed}
		if s.seg.last >= 0 {
			info.First = s.seg.first
			if r.First < 0 {
				r.First = s.seg.first
			}
			r.Last = s.seg.last
		}
		r.Records += s.seg.records
		r.Segments = append(r.Segments, info)
	}
	if ins.problem != nil {
		for _, name := range ins.names[min(ins.problem.seg+1, len(ins.names)):] {
			r.Unchecked = append(r.Unchecked, name)
		}
		return r
	}
	r.Cuts = ins.recovery()
	return r
}

// Verify reads the store in dir without changing anything and says what it holds, whether
// it opens, and what opening it would cut. Errors are for what is not damage: I/O errors and
// files that are not the store's.
func Verify(fsys FS, dir string) (*Report, error) {
	if fsys == nil {
		fsys = OS{}
	}
	ins, err := inspect(fsys, dir, 0)
	if err != nil {
		return nil, err
	}
	return ins.report(), nil
}

// Repair cuts the store in dir back to its last intact record: the damaged segment is cut
// before its first bad record and every later segment is removed; a store whose first
// segments are gone starts where the first one left begins. Then it recovers as OpenFile does.
// It returns everything it removed, in order. Only the operator calls this: OpenFile never
// removes a record that a crash cannot explain.
func Repair(fsys FS, dir string) ([]Cut, error) {
	if fsys == nil {
		fsys = OS{}
	}
	var cuts []Cut
	// Each round fixes one problem. A cut removes every later segment, and at most one
	// unsealing and one new start follow it, so a store of n segments takes n+3 rounds.
	limit := -1
	for round := 0; limit < 0 || round <= limit; round++ {
		ins, err := inspect(fsys, dir, 0)
		if err != nil {
			return cuts, err
		}
		if limit < 0 {
			limit = len(ins.names) + 3
		}
		p := ins.problem
		if p == nil {
			done, err := applyCuts(fsys, dir, ins.recovery())
			return append(cuts, done...), err
		}
		var plan []Cut
		switch p.fix {
		case fixStart:
			if err := rewriteHeader(fsys, p.Path, ins.segs[0].seg.first, -1); err != nil {
				return cuts, err
			}
			cuts = append(cuts, Cut{p.Path, 0, 0, "header now starts the store: " + p.Why})
			continue
		case fixUnseal:
			s := &ins.segs[p.seg]
			plan = append(plan, Cut{s.path, s.seg.size, recHdrLen, "its seal: " + p.Why})
		case fixCut:
			size, err := fileSize(fsys, p.Path)
			if err != nil {
				return cuts, err
			}
			if p.keep <= segHdrLen || (p.seg < len(ins.segs) && ins.segs[p.seg].seg.last < 0) {
				plan = append(plan, Cut{p.Path, -1, size, "damaged: " + p.Error()})
			} else if p.keep < size {
				plan = append(plan, Cut{p.Path, p.keep, size - p.keep, "damaged: " + p.Error()})
			}
			for _, name := range ins.names[p.seg+1:] {
				path := filepath.Join(dir, name)
				size, err := fileSize(fsys, path)
				if err != nil {
					return cuts, err
				}
				plan = append(plan, Cut{path, -1, size, "after the damage in " + filepath.Base(p.Path)})
			}
		}
		done, err := applyCuts(fsys, dir, plan)
		cuts = append(cuts, done...)
		if err != nil {
			return cuts, err
		}
	}
	return cuts, errors.New("storage: repair did not converge")
}

func rewriteHeader(fsys FS, path string, first, prevLast int64) error {
	h, err := fsys.OpenRW(path)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	_, err = h.WriteAt(appendSegHeader(nil, first, prevLast), 0)
	if err == nil {
		err = h.Sync()
	}
	return errors.Join(err, h.Close())
}

// applyCuts carries out cuts, each synced, and syncs dir after removals, returning those done.
func applyCuts(fsys FS, dir string, cuts []Cut) ([]Cut, error) {
	for i, c := range cuts {
		var err error
		if c.Offset < 0 {
			err = fsys.Remove(c.Path)
		} else {
			err = truncateSync(fsys, c.Path, c.Offset)
		}
		if err != nil {
			return cuts[:i], fmt.Errorf("storage: %w", err)
		}
	}
	if len(cuts) > 0 {
		if err := fsys.SyncDir(dir); err != nil {
			return cuts, fmt.Errorf("storage: syncing directory %s: %w", dir, err)
		}
	}
	return cuts, nil
}

func truncateSync(fsys FS, path string, size int64) error {
	h, err := fsys.OpenRW(path)
	if err != nil {
		return err
	}
	err = h.Truncate(size)
	if err == nil {
		err = h.Sync()
	}
	return errors.Join(err, h.Close())
}
