package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// MaxFileBody is the largest body File stores. Recovery uses it to tell a plausible record
// header from garbage, so it is a constant rather than an option that could differ between
// the run that wrote a segment and the run that reopens it.
const MaxFileBody = 16 << 20

// DefaultSegmentBytes is the rotation size used when FileOptions.SegmentBytes is not set.
const DefaultSegmentBytes = 64 << 20

var (
	// ErrClosed is returned by every File method called after Close.
	ErrClosed = errors.New("storage: store is closed")
	// ErrCorrupt wraps every error about segment contents that recovery may not repair.
	ErrCorrupt = errors.New("storage: corrupt segment")
	// ErrTooLarge is returned by File.Append for a body above MaxFileBody.
	ErrTooLarge = errors.New("storage: body too large")
)

const (
	headerLen   = 16 // uint32 body length | int32 msgid | int64 seq
	crcLen      = 4
	segSuffix   = ".seg"
	segDigits   = 20       // enough for any non-negative int64, so names sort by seq
	indexStride = 16 << 10 // a seek scans at most this much of a segment past its index entry
	writeBuf    = 64 << 10
	readChunk   = 64 << 10
	scanBuf     = 1 << 20
)

var (
	le         = binary.LittleEndian
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// FileOptions configures OpenFile; the zero value is usable.
type FileOptions struct {
	// SegmentBytes is the size at which the current segment is closed: the next Append starts
	// a new one. Default DefaultSegmentBytes.
	SegmentBytes int64
	// SyncEvery makes Append call Sync itself once SyncEvery appends have accumulated since
	// the last sync. Zero or less leaves syncing to the caller alone.
	SyncEvery int
}

// File is a Store kept in a directory of segment files, the analogue of TLL's rotate+file://.
//
// Every segment is named by the seq of its first record, zero-padded to 20 digits
// (00000000000000000010.seg), and the newest one is the one appended to. There are no
// renames: a segment file is created together with its first record, and the previous one is
// fsynced (with the directory) before that, so only the newest file can ever hold bytes that
// were not synced. Recovery therefore forgives a damaged tail in the newest segment only, and
// treats damage anywhere else as corruption.
//
// A record is, little-endian, uint32 body length | int32 msgid | int64 seq | body | uint32
// CRC-32C (Castagnoli) of everything before it.
//
// Appends are buffered in memory and written when the buffer fills, on Sync, on Rotate and on
// Close; Read sees them before that. A File is not safe for concurrent use.
type File struct {
	dir string
	opt FileOptions

	segs []segment
	// w is the newest segment's file while it takes appends, nil after Rotate or when the
	// store is empty, in which case the next Append creates a segment.
	w    *os.File
	wOff int64  // bytes of the newest segment already handed to the OS
	buf  []byte // the newest segment's bytes past wOff
	// pending counts appends since the last sync, for SyncEvery.
	pending  int
	dirDirty bool // a segment was created since the directory was last synced
	synced   int64

	// rd is the last older segment read from, kept open because history replay reads one
	// segment for many calls in a row.
	rd      *os.File
	rdFirst int64
	scratch []byte

	closed bool
	// err is the first write or sync failure; afterwards what the files hold is unknown, so
	// writes are refused while reads of what was appended keep working.
	err error
}

type segment struct {
	first int64
	last  int64 // -1 until a record is added
	size  int64 // bytes of complete records, including those still in File.buf
	// index holds (seq, offset) of a record about every indexStride bytes, starting with the
	// first record, so a seek reads little more than what it returns.
	index []indexEntry
}

type indexEntry struct{ seq, off int64 }

func (s *segment) add(seq, off, end int64) {
	if n := len(s.index); n == 0 || off-s.index[n-1].off >= indexStride {
		s.index = append(s.index, indexEntry{seq, off})
	}
	s.last, s.size = seq, end
}

// seek returns the offset of an indexed record at or before the first one with seq ≥ from.
func (s *segment) seek(from int64) int64 {
	i := sort.Search(len(s.index), func(i int) bool { return s.index[i].seq > from })
	if i == 0 {
		return 0
	}
	return s.index[i-1].off
}

func recordLen(bodyLen uint32) int64 { return headerLen + int64(bodyLen) + crcLen }

func segName(first int64) string { return fmt.Sprintf("%0*d%s", segDigits, first, segSuffix) }

func parseSegName(name string) (int64, bool) {
	digits, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(digits) != segDigits {
		return 0, false
	}
	first, err := strconv.ParseInt(digits, 10, 64)
	// The round trip rejects signs and anything else ParseInt tolerates.
	return first, err == nil && first >= 0 && segName(first) == name
}

// OpenFile opens the store in dir, creating dir itself (not its parents) when missing, and
// recovers from a crash: a torn or unwritten tail of the newest segment is truncated away,
// and a newest segment left without records is removed. Everything found is synced before
// OpenFile returns, so Synced equals Last. Damage that a crash cannot explain, files that
// are not segments, and seqs that do not increase across segments are errors wrapping
// ErrCorrupt or the os error.
func OpenFile(dir string, opt FileOptions) (*File, error) {
	if opt.SegmentBytes <= 0 {
		opt.SegmentBytes = DefaultSegmentBytes
	}
	if err := makeDir(dir); err != nil {
		return nil, err
	}
	f := &File{dir: dir, opt: opt}
	if err := f.load(); err != nil {
		if f.w != nil {
			err = errors.Join(err, f.w.Close())
		}
		return nil, err
	}
	f.synced = f.Last()
	return f, nil
}

func makeDir(dir string) error {
	err := os.Mkdir(dir, 0o755)
	if err == nil {
		// Records synced later are only as durable as the directory's own entry.
		return syncDir(filepath.Dir(dir))
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("storage: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("storage: %s is not a directory", dir)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("storage: syncing directory %s: %w", dir, err)
	}
	return nil
}

func (f *File) path(first int64) string { return filepath.Join(f.dir, segName(first)) }

func (f *File) load() error {
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	for _, e := range entries {
		first, ok := parseSegName(e.Name())
		if !ok || !e.Type().IsRegular() {
			return fmt.Errorf("storage: %s is not a segment file (want <20-digit first seq>%s)",
				filepath.Join(f.dir, e.Name()), segSuffix)
		}
		f.segs = append(f.segs, segment{first: first, last: -1})
	}
	for i := range f.segs {
		if i > 0 && f.segs[i].first <= f.segs[i-1].last {
			return fmt.Errorf("%w: seqs do not increase across segments: %s ends at seq %d, %s starts at %d",
				ErrCorrupt, f.path(f.segs[i-1].first), f.segs[i-1].last, f.path(f.segs[i].first), f.segs[i].first)
		}
		if i < len(f.segs)-1 {
			if err := f.loadOlder(&f.segs[i]); err != nil {
				return err
			}
		} else if err := f.loadNewest(); err != nil {
			return err
		}
	}
	// A previous run may have crashed before syncing the directory after creating the newest
	// segment, or this run removed one; either way Synced is about to claim it all.
	return syncDir(f.dir)
}

func (f *File) loadOlder(s *segment) error {
	path := f.path(s.first)
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	defer fh.Close() // read-only: closing cannot lose data
	fi, err := fh.Stat()
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	bad, err := scan(fh, path, s, fi.Size())
	if err != nil {
		return err
	}
	if bad != nil {
		return fmt.Errorf("%w: %s: offset %d: %s (only the newest segment may have a torn tail)",
			ErrCorrupt, path, bad.off, bad.why)
	}
	if s.last < 0 {
		return fmt.Errorf("%w: %s holds no records but is not the newest segment", ErrCorrupt, path)
	}
	return nil
}

// loadNewest scans the newest segment, cuts a tail a crash can explain, and keeps the file
// open for appends, or removes it when no record is left.
func (f *File) loadNewest() error {
	s := &f.segs[len(f.segs)-1]
	path := f.path(s.first)
	fh, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	f.w = fh
	fi, err := fh.Stat()
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	size := fi.Size()
	bad, err := scan(fh, path, s, size)
	if err != nil {
		return err
	}
	if bad != nil {
		torn := bad.end >= size
		if !torn {
			if torn, err = allZero(fh, path, bad.end, size); err != nil {
				return err
			}
		}
		if !torn {
			return fmt.Errorf("%w: %s: offset %d: %s, followed by %d bytes that are not a torn tail",
				ErrCorrupt, path, bad.off, bad.why, size-bad.end)
		}
		if err := fh.Truncate(bad.off); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
	}
	if s.last < 0 {
		f.w = nil
		if err := fh.Close(); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		f.segs = f.segs[:len(f.segs)-1]
		return nil
	}
	// The tail may sit in the page cache of a process that crashed, and new records are about
	// to be written where a cut one was: both must reach the disk first.
	if err := fh.Sync(); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	f.wOff = s.size
	return nil
}

// badRecord is the first record of a segment that fails its checks; end is where it would
// end according to its length field.
type badRecord struct {
	off, end int64
	why      string
}

// scan reads a segment from its start, checking every record and filling s. It stops at the
// first record that is incomplete or fails its CRC and describes it; records with a good CRC
// but impossible seqs are reported as errors, since no crash produces them.
func scan(fh *os.File, path string, s *segment, size int64) (*badRecord, error) {
	br := bufio.NewReaderSize(fh, scanBuf)
	var hdr [headerLen]byte
	var rest []byte
	for s.size < size {
		off := s.size
		if size-off < headerLen {
			return &badRecord{off, size, "record header cut short"}, nil
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return nil, fmt.Errorf("storage: reading %s: %w", path, err)
		}
		n := le.Uint32(hdr[0:])
		end := off + recordLen(n)
		if n > MaxFileBody {
			return &badRecord{off, end, fmt.Sprintf("body length %d above the limit %d", n, MaxFileBody)}, nil
		}
		if end > size {
			return &badRecord{off, end, "record cut short"}, nil
		}
		if need := int(n) + crcLen; cap(rest) < need {
			rest = make([]byte, need)
		} else {
			rest = rest[:need]
		}
		if _, err := io.ReadFull(br, rest); err != nil {
			return nil, fmt.Errorf("storage: reading %s: %w", path, err)
		}
		crc := crc32.Update(crc32.Checksum(hdr[:], castagnoli), castagnoli, rest[:n])
		if crc != le.Uint32(rest[n:]) {
			return &badRecord{off, end, "CRC mismatch"}, nil
		}
		seq := int64(le.Uint64(hdr[8:]))
		if off == 0 && seq != s.first {
			return nil, fmt.Errorf("%w: %s: first record has seq %d, the name says %d", ErrCorrupt, path, seq, s.first)
		}
		if off > 0 && seq <= s.last {
			return nil, fmt.Errorf("%w: %s: offset %d: seq %d after %d", ErrCorrupt, path, off, seq, s.last)
		}
		s.add(seq, off, end)
	}
	return nil, nil
}

// allZero reports whether [from, to) of fh holds only zero bytes: what a file system leaves
// when a crash kept a file's new size but not the data written into it.
func allZero(fh *os.File, path string, from, to int64) (bool, error) {
	buf := make([]byte, min(to-from, scanBuf))
	for off := from; off < to; {
		chunk := buf[:min(int64(len(buf)), to-off)]
		if _, err := fh.ReadAt(chunk, off); err != nil {
			return false, fmt.Errorf("storage: reading %s: %w", path, err)
		}
		for _, c := range chunk {
			if c != 0 {
				return false, nil
			}
		}
		off += int64(len(chunk))
	}
	return true, nil
}

func (f *File) usable() error {
	if f.closed {
		return ErrClosed
	}
	return f.err
}

func (f *File) fail(err error) error {
	f.err = fmt.Errorf("storage: %w (the store accepts no more writes)", err)
	return f.err
}

// Append stores r at the end of the newest segment, starting a new segment first when the
// current one has reached SegmentBytes or was rotated. The record is durable only after a
// sync (Sync, SyncEvery, Rotate or Close).
func (f *File) Append(r Record) error {
	if err := f.usable(); err != nil {
		return err
	}
	if last := f.Last(); r.Seq <= last || r.Seq < 0 {
		return notIncreasing(r.Seq, last)
	}
	if len(r.Body) > MaxFileBody {
		return fmt.Errorf("%w: %d bytes at seq %d, limit %d", ErrTooLarge, len(r.Body), r.Seq, MaxFileBody)
	}
	if f.w == nil || f.segs[len(f.segs)-1].size >= f.opt.SegmentBytes {
		if err := f.startSegment(r.Seq); err != nil {
			return err
		}
	}
	s := &f.segs[len(f.segs)-1]
	start := len(f.buf)
	f.buf = le.AppendUint32(f.buf, uint32(len(r.Body)))
	f.buf = le.AppendUint32(f.buf, uint32(r.MsgID))
	f.buf = le.AppendUint64(f.buf, uint64(r.Seq))
	f.buf = append(f.buf, r.Body...)
	f.buf = le.AppendUint32(f.buf, crc32.Checksum(f.buf[start:], castagnoli))
	s.add(r.Seq, s.size, s.size+int64(len(f.buf)-start))
	if len(f.buf) >= writeBuf {
		if err := f.flush(); err != nil {
			return err
		}
	}
	f.pending++
	if f.opt.SyncEvery > 0 && f.pending >= f.opt.SyncEvery {
		return f.sync()
	}
	return nil
}

// startSegment seals the current segment and creates the next one, named by seq.
func (f *File) startSegment(seq int64) error {
	if f.w != nil {
		if err := f.seal(); err != nil {
			return err
		}
	}
	// O_EXCL: a file already there under this name was not written by this store.
	fh, err := os.OpenFile(f.path(seq), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	f.w, f.wOff, f.dirDirty = fh, 0, true
	f.segs = append(f.segs, segment{first: seq, last: -1})
	return nil
}

func (f *File) flush() error {
	if len(f.buf) == 0 {
		return nil
	}
	if _, err := f.w.WriteAt(f.buf, f.wOff); err != nil {
		return f.fail(err)
	}
	f.wOff += int64(len(f.buf))
	if cap(f.buf) > 2*writeBuf {
		f.buf = nil // do not keep a huge record's buffer alive
	} else {
		f.buf = f.buf[:0]
	}
	return nil
}

func (f *File) sync() error {
	if f.w != nil {
		if err := f.flush(); err != nil {
			return err
		}
		if err := f.w.Sync(); err != nil {
			return f.fail(err)
		}
	}
	if f.dirDirty {
		if err := syncDir(f.dir); err != nil {
			return f.fail(err)
		}
		f.dirDirty = false
	}
	f.synced, f.pending = f.Last(), 0
	return nil
}

// seal makes the current segment durable and closes it for appends; it is what lets recovery
// assume every segment but the newest is complete.
func (f *File) seal() error {
	if err := f.sync(); err != nil {
		return err
	}
	err := f.w.Close()
	f.w = nil
	if err != nil {
		return f.fail(err)
	}
	return nil
}

// Sync makes every record appended so far durable: it writes out the buffer, fsyncs the
// newest segment, and fsyncs the directory if a segment was created since the last sync.
func (f *File) Sync() error {
	if err := f.usable(); err != nil {
		return err
	}
	return f.sync()
}

// Rotate closes the current segment (synced) so that the next Append starts a new one, like
// TLL's Rotate control. It does nothing when no segment takes appends. A rotation that no
// append follows is not remembered by a reopen.
func (f *File) Rotate() error {
	if err := f.usable(); err != nil {
		return err
	}
	if f.w == nil {
		return nil
	}
	return f.seal()
}

// Synced is the last seq known durable, -1 when none is.
func (f *File) Synced() int64 { return f.synced }

// Close syncs and closes the store; every later call returns ErrClosed.
func (f *File) Close() error {
	if f.closed {
		return ErrClosed
	}
	f.closed = true
	err := f.err
	if err == nil {
		err = f.sync()
	}
	if f.w != nil {
		err = errors.Join(err, f.w.Close())
		f.w = nil
	}
	if f.rd != nil {
		err = errors.Join(err, f.rd.Close())
		f.rd = nil
	}
	return err
}

// First is the lowest stored seq, -1 when empty.
func (f *File) First() int64 {
	if len(f.segs) == 0 {
		return -1
	}
	return f.segs[0].first
}

// Last is the highest stored seq, synced or not, -1 when empty.
func (f *File) Last() int64 {
	if len(f.segs) == 0 {
		return -1
	}
	return f.segs[len(f.segs)-1].last
}

// Read appends up to max records with seq ≥ from to dst. Their bodies are copies the caller
// may keep and modify: one allocation holds the bodies of each chunk read from a segment.
// Every returned record's CRC is checked again, so damage done after OpenFile is an error
// rather than bad data.
func (f *File) Read(dst []Record, from int64, max int) ([]Record, error) {
	if f.closed {
		return dst, ErrClosed
	}
	if max <= 0 || len(f.segs) == 0 || from > f.Last() {
		return dst, nil
	}
	i := sort.Search(len(f.segs), func(i int) bool { return f.segs[i].first > from })
	if i > 0 {
		i--
	}
	var err error
	for off := f.segs[i].seek(from); i < len(f.segs) && max > 0; i, off = i+1, 0 {
		if dst, max, err = f.readSegment(dst, i, off, from, max); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// readSegment reads segment i from off, a record boundary, in chunks, and returns dst and
// how many records may still be added.
func (f *File) readSegment(dst []Record, i int, off, from int64, max int) ([]Record, int, error) {
	s := &f.segs[i]
	want := int64(readChunk)
	for off < s.size && max > 0 {
		n := min(want, s.size-off)
		var buf []byte
		if n <= readChunk {
			if f.scratch == nil {
				f.scratch = make([]byte, readChunk)
			}
			buf = f.scratch[:n]
		} else {
			buf = make([]byte, n)
		}
		if err := f.readAt(i, buf, off); err != nil {
			return dst, max, err
		}
		start, bodies, p := len(dst), 0, 0
		var bad error
		for max > 0 && len(buf)-p >= headerLen {
			bodyLen := le.Uint32(buf[p:])
			recLen := recordLen(bodyLen)
			if bodyLen > MaxFileBody || off+int64(p)+recLen > s.size {
				bad = f.corruptAt(s, off+int64(p), "record length does not fit the segment")
				break
			}
			if recLen > int64(len(buf)-p) {
				break
			}
			end := p + int(recLen)
			seq := int64(le.Uint64(buf[p+8:]))
			if seq >= from {
				if crc32.Checksum(buf[p:end-crcLen], castagnoli) != le.Uint32(buf[end-crcLen:]) {
					bad = f.corruptAt(s, off+int64(p), "CRC mismatch")
					break
				}
				body := buf[p+headerLen : end-crcLen]
				dst = append(dst, Record{Seq: seq, MsgID: int32(le.Uint32(buf[p+4:])), Body: body})
				bodies += len(body)
				max--
			}
			p = end
		}
		if p == 0 && bad == nil {
			if len(buf) < headerLen {
				return dst, max, f.corruptAt(s, off, "segment ends inside a record header")
			}
			want = recordLen(le.Uint32(buf)) // a record larger than a chunk: read it whole
			continue
		}
		// The bodies point into the scratch buffer, which the next chunk overwrites; the records
		// before a damaged one are still handed out.
		arena := make([]byte, bodies)
		for k := start; k < len(dst); k++ {
			n := copy(arena, dst[k].Body)
			dst[k].Body, arena = arena[:n:n], arena[n:]
		}
		if bad != nil {
			return dst, max, bad
		}
		off += int64(p)
		want = readChunk
	}
	return dst, max, nil
}

func (f *File) corruptAt(s *segment, off int64, why string) error {
	return fmt.Errorf("%w: %s: offset %d: %s", ErrCorrupt, f.path(s.first), off, why)
}

// readAt fills buf from segment i at off. The newest segment's tail may still be in f.buf,
// so its reads are served from the file up to wOff and from memory past it.
func (f *File) readAt(i int, buf []byte, off int64) error {
	s := &f.segs[i]
	if f.w != nil && i == len(f.segs)-1 {
		k := 0
		if off < f.wOff {
			k = int(min(int64(len(buf)), f.wOff-off))
			if _, err := f.w.ReadAt(buf[:k], off); err != nil {
				return fmt.Errorf("storage: reading %s: %w", f.path(s.first), err)
			}
		}
		if k < len(buf) {
			copy(buf[k:], f.buf[off+int64(k)-f.wOff:])
		}
		return nil
	}
	if f.rd == nil || f.rdFirst != s.first {
		if f.rd != nil {
			err := f.rd.Close()
			f.rd = nil
			if err != nil {
				return fmt.Errorf("storage: %w", err)
			}
		}
		fh, err := os.Open(f.path(s.first))
		if err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		f.rd, f.rdFirst = fh, s.first
	}
	if _, err := f.rd.ReadAt(buf, off); err != nil {
		return fmt.Errorf("storage: reading %s: %w", f.path(s.first), err)
	}
	return nil
}
