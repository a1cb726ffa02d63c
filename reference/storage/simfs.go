package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"sort"
	"syscall"
)

// Rand is the random source a SimFS draws its crash outcomes from: the simulator's seeded
// one, so a crash loses the same bytes every time a run is replayed.
type Rand interface{ IntN(n int) int }

// SimFS is a file system in memory with the durability of a real one, for the simulator and
// for tests: what was written but not synced may be lost at a Crash, the last unsynced write
// may be torn at any byte or leave zeros where its data should be, directory changes are lost
// unless the directory was synced, and writes and syncs fail on demand. It reads no clock,
// starts no goroutines and never lets map order decide anything. Paths are slash-separated.
type SimFS struct {
	rng     Rand
	dirs    map[string]bool
	names   map[string]*simFile // what the directories hold now
	durable map[string]*simFile // what they hold on disk, as of each directory's last sync
	dirty   map[string]bool     // names created, renamed or removed since their directory's sync
	// failWrite and failSync are errors the next writes or syncs return, in order.
	failWrite, failSync []error
}

// simFile is one file's data: cur is what reads see, the page cache; the disk holds durLen
// bytes of it, or dur when cur was changed below durLen since the last sync.
type simFile struct {
	cur    []byte
	dur    []byte
	durLen int
	own    bool // dur holds the durable bytes, not cur[:durLen]
}

// NewSimFS returns an empty simulated file system drawing crash outcomes from rng.
func NewSimFS(rng Rand) *SimFS {
	return &SimFS{rng: rng, dirs: map[string]bool{}, names: map[string]*simFile{}, durable: map[string]*simFile{}, dirty: map[string]bool{}}
}

// FailWrite makes the next write return err (ENOSPC, say) without writing anything.
func (s *SimFS) FailWrite(err error) { s.failWrite = append(s.failWrite, err) }

// FailSync makes the next file sync return err (EIO, say). As on Linux, the pages it was to
// write are then dropped: unsynced data is gone, whatever the page cache showed before.
func (s *SimFS) FailSync(err error) { s.failSync = append(s.failSync, err) }

// Crash is a power loss: every file keeps what was synced, and of the unsynced bytes past it
// a prefix of random length, possibly with zeros in place of the last part of it (the size
// reached the disk, the data did not). Unsynced directory changes are all kept or all lost.
// Handles opened before the crash must not be used after it, and failures asked for and not
// yet met are dropped with the run that crashed.
func (s *SimFS) Crash() {
	s.failWrite, s.failSync = nil, nil
	if s.rng.IntN(2) == 0 {
		s.names = cloneNames(s.durable)
	} else {
		s.durable = cloneNames(s.names)
	}
	clear(s.dirty)
	for _, name := range sortedNames(s.names) {
		s.names[name].crash(s.rng)
	}
	// A file whose entry was lost is unreachable; its data goes with it.
}

func cloneNames(m map[string]*simFile) map[string]*simFile {
	out := make(map[string]*simFile, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedNames(m map[string]*simFile) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func (f *simFile) crash(rng Rand) {
	if f.own {
		f.cur, f.own, f.dur = f.dur, false, nil
		f.durLen = len(f.cur)
		return
	}
	extra := len(f.cur) - f.durLen
	keep := f.durLen + rng.IntN(extra+1)
	if keep > f.durLen && rng.IntN(4) == 0 {
		clear(f.cur[f.durLen+rng.IntN(keep-f.durLen) : keep])
	}
	f.cur = f.cur[:keep:keep]
	f.durLen = keep
}

// preserve keeps the durable bytes aside before cur changes below durLen.
func (f *simFile) preserve(off int) {
	if !f.own && off < f.durLen {
		f.dur, f.own = slices.Clone(f.cur[:f.durLen]), true
	}
}

func (f *simFile) sync() {
	f.dur, f.own, f.durLen = nil, false, len(f.cur)
}

func simErr(op, name string, err error) error { return &fs.PathError{Op: op, Path: name, Err: err} }

func (s *SimFS) MakeDir(dir string) error {
	dir = path.Clean(dir)
	if s.dirs[dir] {
		return nil
	}
	if _, ok := s.names[dir]; ok {
		return fmt.Errorf("%s is not a directory", dir)
	}
	s.dirs[dir] = true
	return nil
}

func (s *SimFS) ReadDir(dir string) ([]DirEntry, error) {
	dir = path.Clean(dir)
	if !s.dirs[dir] {
		return nil, simErr("open", dir, fs.ErrNotExist)
	}
	var out []DirEntry
	for _, name := range sortedNames(s.names) {
		if path.Dir(name) == dir {
			out = append(out, DirEntry{Name: path.Base(name), Regular: true})
		}
	}
	return out, nil
}

func (s *SimFS) lookup(op, name string) (*simFile, error) {
	f, ok := s.names[path.Clean(name)]
	if !ok {
		return nil, simErr(op, name, fs.ErrNotExist)
	}
	return f, nil
}

func (s *SimFS) Open(name string) (Handle, error) {
	f, err := s.lookup("open", name)
	if err != nil {
		return nil, err
	}
	return &simHandle{s: s, f: f, name: name, ro: true}, nil
}

func (s *SimFS) OpenRW(name string) (Handle, error) {
	f, err := s.lookup("open", name)
	if err != nil {
		return nil, err
	}
	return &simHandle{s: s, f: f, name: name}, nil
}

func (s *SimFS) Create(name string) (Handle, error) {
	name = path.Clean(name)
	if _, ok := s.names[name]; ok {
		return nil, simErr("open", name, fs.ErrExist)
	}
	if !s.dirs[path.Dir(name)] {
		return nil, simErr("open", name, fs.ErrNotExist)
	}
	f := &simFile{}
	s.names[name] = f
	s.dirty[name] = true
	return &simHandle{s: s, f: f, name: name}, nil
}

func (s *SimFS) Rename(from, to string) error {
	f, err := s.lookup("rename", from)
	if err != nil {
		return err
	}
	from, to = path.Clean(from), path.Clean(to)
	delete(s.names, from)
	s.names[to] = f
	s.dirty[from], s.dirty[to] = true, true
	return nil
}

func (s *SimFS) Remove(name string) error {
	if _, err := s.lookup("remove", name); err != nil {
		return err
	}
	delete(s.names, path.Clean(name))
	s.dirty[path.Clean(name)] = true
	return nil
}

// SyncDir makes the directory's current entries durable. Only the names changed since are
// visited (in whatever order: each is set independently), so a directory of many segments
// costs a rotation no more than a few.
func (s *SimFS) SyncDir(dir string) error {
	dir = path.Clean(dir)
	for name := range s.dirty {
		if path.Dir(name) != dir {
			continue
		}
		if f, ok := s.names[name]; ok {
			s.durable[name] = f
		} else {
			delete(s.durable, name)
		}
		delete(s.dirty, name)
	}
	return nil
}

type simHandle struct {
	s      *SimFS
	f      *simFile
	name   string
	ro     bool
	closed bool
}

var errHandleClosed = errors.New("file already closed")

func (h *simHandle) check(op string, write bool) error {
	switch {
	case h.closed:
		return simErr(op, h.name, errHandleClosed)
	case write && h.ro:
		return simErr(op, h.name, syscall.EBADF)
	}
	return nil
}

func (h *simHandle) ReadAt(p []byte, off int64) (int, error) {
	if err := h.check("read", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, simErr("read", h.name, fs.ErrInvalid)
	}
	if off >= int64(len(h.f.cur)) {
		return 0, io.EOF
	}
	n := copy(p, h.f.cur[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (h *simHandle) WriteAt(p []byte, off int64) (int, error) {
	if err := h.check("write", true); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, simErr("write", h.name, fs.ErrInvalid)
	}
	if len(h.s.failWrite) > 0 {
		err := h.s.failWrite[0]
		h.s.failWrite = h.s.failWrite[1:]
		return 0, simErr("write", h.name, err)
	}
	f := h.f
	f.preserve(int(off))
	if end := int(off) + len(p); end > len(f.cur) {
		f.cur = slices.Grow(f.cur, end-len(f.cur))[:end]
	}
	copy(f.cur[off:], p)
	return len(p), nil
}

func (h *simHandle) Size() (int64, error) {
	if err := h.check("stat", false); err != nil {
		return 0, err
	}
	return int64(len(h.f.cur)), nil
}

func (h *simHandle) Truncate(size int64) error {
	if err := h.check("truncate", true); err != nil {
		return err
	}
	f := h.f
	if size < 0 {
		return simErr("truncate", h.name, fs.ErrInvalid)
	}
	if int(size) < len(f.cur) {
		f.preserve(int(size))
		clear(f.cur[size:])
		f.cur = f.cur[:size]
	} else {
		f.cur = slices.Grow(f.cur, int(size)-len(f.cur))[:size]
	}
	return nil
}

func (h *simHandle) Sync() error {
	if err := h.check("sync", false); err != nil {
		return err
	}
	if len(h.s.failSync) > 0 {
		err := h.s.failSync[0]
		h.s.failSync = h.s.failSync[1:]
		// The kernel marks the pages it failed to write clean: they are gone.
		h.f.crash(dropAll{})
		return simErr("sync", h.name, err)
	}
	h.f.sync()
	return nil
}

// dropAll is the outcome of a failed sync: none of the unsynced bytes survive.
type dropAll struct{}

func (dropAll) IntN(int) int { return 0 }

func (h *simHandle) Close() error {
	if h.closed {
		return simErr("close", h.name, errHandleClosed)
	}
	h.closed = true
	return nil
}
