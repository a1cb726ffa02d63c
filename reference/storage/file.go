package storage

import (
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"sort"
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
	indexStride = 16 << 10 // a seek scans at most this much of a segment past its index entry
	writeBuf    = 64 << 10
	readChunk   = 64 << 10
	scanBuf     = 1 << 20
)

// FileOptions configures OpenFile; the zero value is usable.
type FileOptions struct {
	// SegmentBytes is the size at which the current segment is closed: the next Append starts
	// a new one. Default DefaultSegmentBytes.
	SegmentBytes int64
	// SyncEvery makes Append call Sync itself once SyncEvery appends have accumulated since
	// the last sync. Zero or less leaves syncing to the caller alone.
	SyncEvery int
	// NoSyncOnRotate is for a server that promises no durability, as TLL's file storage
	// does not: a rotation by size then syncs neither the segment it closes nor the one it
	// starts. Sustained appends otherwise wait at every rotation for the disk to take the
	// whole segment. The price is in what a machine crash (not a killed process, whose writes
	// the page cache keeps) may leave: a closed segment missing its tail behind a newer one,
	// which OpenFile refuses as damage and Repair cuts back to the last intact record. Sync,
	// Rotate and Close still sync.
	NoSyncOnRotate bool
	// FS is the file system; default the real one (OS).
	FS FS
	// Bug plants a bug in the store, for mutation testing; zero is the correct store.
	Bug FileBug
}

// FileBug is a bug planted in the file store, for mutation testing.
type FileBug int

const (
	// BugRecoverDropLast: recovery's torn-tail test reads end >= size for end > size, so
	// the newest segment's last record, complete and synced, is cut as if torn.
	BugRecoverDropLast FileBug = 1 + iota
	// BugSeekOffByOne: Read picks the segment to start in by first seq > from+1, so a read
	// from a segment's last seq starts in the next segment and skips that record.
	BugSeekOffByOne
)

// File is a Store kept in a directory of segment files, the analogue of TLL's rotate+file://.
// The package doc describes the format decisions and what recovery does; format.go the bytes.
//
// Appends are buffered in memory and written when the buffer fills, on Sync, on Rotate and on
// Close; Read sees them before that. A File is not safe for concurrent use.
type File struct {
	dir  string
	opt  FileOptions
	fsys FS

	segs []segment
	// w is the newest segment's file, nil when the store is empty, in which case the next
	// Append creates a segment.
	w    Handle
	wOff int64  // bytes of the newest segment already handed to the file system
	buf  []byte // the newest segment's bytes past wOff, whole records
	// sealed is how much of buf has its checksums: Append leaves them to sealRecords, which a
	// read of buf or the write of it runs, or, writing behind, the writer's goroutine.
	sealed int
	rotate bool // the next Append starts a new segment
	// pending counts appends since the last sync, for SyncEvery.
	pending int
	// unsynced is the index in segs of the first segment that a NoSyncOnRotate rotation
	// closed without syncing, or created without syncing its name, -1 when none: the next
	// sync syncs the closed ones and the directory first.
	unsynced int
	synced   int64
	// syncedSize is the newest segment's size at the last sync; after a failure the store
	// forgets what lies past it.
	syncedSize int64
	cuts       []Cut // what recovery cut when the store was opened

	// rd is the last older segment read from, kept open because history replay reads one
	// segment for many calls in a row.
	rd      Handle
	rdFirst int64
	scratch []byte

	closed bool
	// err is the first write or sync failure; afterwards what the files hold is unknown, so
	// writes are refused and reads see only what was synced.
	err error
}

type segment struct {
	first   int64
	last    int64 // -1 until a record is added
	size    int64 // bytes of the header and complete records, including those still in File.buf
	records int64
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
	s.records++
}

// seek returns the offset of an indexed record at or before the first one with seq ≥ from.
func (s *segment) seek(from int64) int64 {
	i := sort.Search(len(s.index), func(i int) bool { return s.index[i].seq > from })
	if i == 0 {
		return segHdrLen
	}
	return s.index[i-1].off
}

// OpenFile opens the store in dir, creating dir itself (not its parents) when missing, and
// recovers from a crash (see the package doc); Recovered says what it cut. Everything found
// is synced before OpenFile returns, so Synced equals Last. Damage that a crash cannot
// explain is an error wrapping ErrCorrupt that names the file, the offset and what is wrong,
// and nothing on disk is changed; files that are not segments are errors too.
func OpenFile(dir string, opt FileOptions) (*File, error) {
	if opt.SegmentBytes <= 0 {
		opt.SegmentBytes = DefaultSegmentBytes
	}
	if opt.FS == nil {
		opt.FS = OS{}
	}
	fsys := opt.FS
	if err := fsys.MakeDir(dir); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	ins, err := inspect(fsys, dir, opt.Bug)
	if err != nil {
		return nil, err
	}
	if ins.problem != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, ins.problem)
	}
	f := &File{dir: dir, opt: opt, fsys: fsys}
	if f.cuts, err = applyCuts(fsys, dir, ins.recovery()); err != nil {
		return nil, err
	}
	for _, s := range ins.segs {
		if s.seg.last >= 0 {
			f.segs = append(f.segs, s.seg)
		}
	}
	f.unsynced = -1
	if n := len(f.segs); n > 0 {
		if f.w, err = fsys.OpenRW(f.path(f.segs[n-1].first)); err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		f.wOff = f.segs[n-1].size
		// What a crashed process wrote may still sit in the page cache only, in any segment
		// when it rotated with NoSyncOnRotate, and Synced is about to claim it all.
		f.unsynced = 0
		if err := f.syncClosed(); err != nil {
			return nil, errors.Join(fmt.Errorf("storage: %w", err), f.w.Close())
		}
		if err := f.w.Sync(); err != nil {
			return nil, errors.Join(fmt.Errorf("storage: %w", err), f.w.Close())
		}
	}
	f.synced = f.Last()
	if n := len(f.segs); n > 0 {
		f.syncedSize = f.segs[n-1].size
	}
	return f, nil
}

// Recovered is what OpenFile cut: leftovers of a crash, such as a torn last record.
func (f *File) Recovered() []Cut { return f.cuts }

func (f *File) path(first int64) string { return filepath.Join(f.dir, segName(first)) }

func (f *File) usable() error {
	if f.closed {
		return ErrClosed
	}
	return f.err
}

// fail refuses every later write and forgets what was not synced: after a failed write or
// fsync the page cache may hold bytes the disk never got (Linux marks them clean), so only a
// reopen, which reads the disk, may say more.
func (f *File) fail(err error) error {
	f.err = fmt.Errorf("storage: %w (the store accepts no more writes until it is reopened)", err)
	for len(f.segs) > 0 && f.segs[len(f.segs)-1].first > f.synced {
		f.segs = f.segs[:len(f.segs)-1]
		if f.w != nil {
			// f.w is the segment just forgotten: reads of the one now newest must not use it.
			f.err = errors.Join(f.err, f.w.Close())
			f.w = nil
		}
	}
	if n := len(f.segs); n > 0 && f.segs[n-1].last > f.synced {
		s := &f.segs[n-1]
		s.last, s.size = f.synced, f.syncedSize
		for len(s.index) > 0 && s.index[len(s.index)-1].off >= s.size {
			s.index = s.index[:len(s.index)-1]
		}
	}
	f.buf, f.sealed = f.buf[:0], 0
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
	if f.w == nil || f.rotate || f.segs[len(f.segs)-1].size >= f.opt.SegmentBytes {
		if err := f.startSegment(r.Seq); err != nil {
			return err
		}
	}
	s := &f.segs[len(f.segs)-1]
	start := len(f.buf)
	f.buf = appendUnsealed(f.buf, r.Seq, r.MsgID, r.Body)
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

// startSegment creates the next segment, named by seq, and then seals the current one. In
// that order, a crash between the two leaves an unsealed segment followed by one without
// records, which recovery can tell from a cut one; the new segment appears under its name
// only once its header is synced, so a named segment without a header is damage. With
// NoSyncOnRotate the order holds for a killed process only (see FileOptions).
func (f *File) startSegment(seq int64) error {
	prevLast := int64(-1)
	durable := !f.opt.NoSyncOnRotate
	if f.w != nil {
		write := f.flush
		if durable {
			write = f.sync
		}
		if err := write(); err != nil {
			return err
		}
		prevLast = f.Last()
	}
	final := f.path(seq)
	tmp := final + tmpSuffix
	h, err := f.fsys.Create(tmp)
	if err != nil {
		return f.fail(err)
	}
	_, err = h.WriteAt(appendSegHeader(nil, seq, prevLast), 0)
	if err == nil && durable {
		err = h.Sync()
	}
	if err == nil {
		err = f.fsys.Rename(tmp, final)
	}
	if err == nil && durable {
		err = f.fsys.SyncDir(f.dir)
	}
	if err != nil {
		return f.fail(errors.Join(err, h.Close()))
	}
	if f.w != nil {
		seal, _ := appendRecordHeader(nil, sealMark, 0, prevLast)
		_, err := f.w.WriteAt(seal, f.wOff)
		if err == nil && durable {
			err = f.w.Sync()
		}
		if err = errors.Join(err, f.w.Close()); err != nil {
			f.w = nil
			return f.fail(errors.Join(err, h.Close()))
		}
	}
	if !durable && f.unsynced < 0 {
		f.unsynced = max(len(f.segs)-1, 0) // the segment just closed, or the first one
	}
	f.w, f.wOff, f.rotate = h, segHdrLen, false
	f.segs = append(f.segs, segment{first: seq, last: -1, size: segHdrLen})
	return nil
}

func (f *File) flush() error {
	if len(f.buf) == 0 {
		return nil
	}
	n := int64(len(f.buf))
	if h, ok := f.w.(handOverer); ok {
		next, err := h.handOver(f.buf, f.wOff, f.sealed)
		if err != nil {
			return f.fail(err)
		}
		f.buf = next
	} else {
		f.seal()
		if _, err := f.w.WriteAt(f.buf, f.wOff); err != nil {
			return f.fail(err)
		}
		f.buf = reuse(f.buf)
	}
	f.wOff += n
	f.sealed = 0
	return nil
}

// reuse empties a write buffer that was written for the next records, or drops it if a huge
// record grew it: such a buffer is not kept alive for records that fit in writeBuf.
func reuse(p []byte) []byte {
	if cap(p) > 2*writeBuf {
		return nil
	}
	return p[:0]
}

// seal computes the checksums of the records in buf that have none yet.
func (f *File) seal() {
	sealRecords(f.buf[f.sealed:])
	f.sealed = len(f.buf)
}

func (f *File) sync() error {
	if f.w != nil {
		if err := f.flush(); err != nil {
			return err
		}
		if err := f.syncClosed(); err != nil {
			return f.fail(err)
		}
		if err := f.w.Sync(); err != nil {
			return f.fail(err)
		}
	}
	f.synced, f.pending = f.Last(), 0
	if n := len(f.segs); n > 0 {
		f.syncedSize = f.segs[n-1].size
	}
	return nil
}

// syncClosed syncs the segments before the newest from f.unsynced on, then the directory,
// which names them: afterwards only the newest segment may hold unsynced data.
func (f *File) syncClosed() error {
	if f.unsynced < 0 {
		return nil
	}
	for _, s := range f.segs[f.unsynced : len(f.segs)-1] {
		h, err := f.fsys.OpenRW(f.path(s.first))
		if err != nil {
			return err
		}
		if err := errors.Join(h.Sync(), h.Close()); err != nil {
			return err
		}
	}
	if err := f.fsys.SyncDir(f.dir); err != nil {
		return err
	}
	f.unsynced = -1
	return nil
}

// Sync makes every record appended so far durable: it writes out the buffer and fsyncs the
// newest segment, and first the segments a NoSyncOnRotate rotation closed and the directory.
func (f *File) Sync() error {
	if err := f.usable(); err != nil {
		return err
	}
	return f.sync()
}

// Rotate syncs the current segment so that the next Append starts a new one, like TLL's
// Rotate control. A rotation that no append follows is not remembered by a reopen.
func (f *File) Rotate() error {
	if err := f.usable(); err != nil {
		return err
	}
	if f.w == nil {
		return nil
	}
	if err := f.sync(); err != nil {
		return err
	}
	f.rotate = true
	return nil
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
// Every record read is checked again, header and body, so damage done after OpenFile is an
// error rather than bad data. After a failed write or sync only what was synced is read: the
// page cache may hold data the disk never got.
func (f *File) Read(dst []Record, from int64, max int) ([]Record, error) {
	if f.closed {
		return dst, ErrClosed
	}
	limit := f.Last()
	if f.err != nil {
		limit = f.synced
	}
	if max <= 0 || len(f.segs) == 0 || from > limit {
		return dst, nil
	}
	key := from
	if f.opt.Bug == BugSeekOffByOne {
		key++
	}
	i := sort.Search(len(f.segs), func(i int) bool { return f.segs[i].first > key })
	if i > 0 {
		i--
	}
	var err error
	for off := f.segs[i].seek(from); i < len(f.segs) && max > 0; i, off = i+1, segHdrLen {
		if dst, max, err = f.readSegment(dst, i, off, from, limit, max); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// readSegment reads segment i from off, a record boundary, in chunks, and returns dst and
// how many records may still be added.
func (f *File) readSegment(dst []Record, i int, off, from, limit int64, max int) ([]Record, int, error) {
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
		for max > 0 && len(buf)-p >= recHdrLen {
			// The header's own CRC is checked only when the record's fails, to say which part
			// is damaged: one CRC call per record, as before headers had their own.
			bodyLen := le.Uint32(buf[p+4:])
			recLen := recordLen(bodyLen)
			if bodyLen > MaxFileBody || off+int64(p)+recLen > s.size {
				bad = f.corruptAt(s, off+int64(p), "record header does not verify")
				break
			}
			seq := int64(le.Uint64(buf[p+12:]))
			if seq > limit {
				max = 0
				break
			}
			if recLen > int64(len(buf)-p) {
				break
			}
			end := p + int(recLen)
			if seq >= from {
				if crc32.Checksum(buf[p+crcLen:end-crcLen], castagnoli) != le.Uint32(buf[end-crcLen:]) {
					why := "body checksum mismatch"
					if _, ok := parseRecHeader(buf[p:]); !ok {
						why = "record header does not verify"
					}
					bad = f.corruptAt(s, off+int64(p), why)
					break
				}
				body := buf[p+recHdrLen : end-crcLen]
				dst = append(dst, Record{Seq: seq, MsgID: int32(le.Uint32(buf[p+8:])), Body: body})
				bodies += len(body)
				max--
			}
			p = end
		}
		if p == 0 && bad == nil {
			if len(buf) < recHdrLen {
				return dst, max, f.corruptAt(s, off, "segment ends inside a record header")
			}
			want = recordLen(le.Uint32(buf[4:])) // a record larger than a chunk: read it whole
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
			f.seal()
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
		fh, err := f.fsys.Open(f.path(s.first))
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
