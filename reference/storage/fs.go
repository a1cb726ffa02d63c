package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// FS is the file system the segmented store runs on: the real one (OS) for serve and the
// drivers, a simulated one (SimFS) under the simulator, where crashes lose what was not synced.
// It has only what the store needs, so that a simulation models exactly that.
type FS interface {
	// MakeDir creates dir (not its parents) when missing and makes the new entry durable;
	// an existing directory is fine, anything else there is an error.
	MakeDir(dir string) error
	// ReadDir lists dir's entries in name order.
	ReadDir(dir string) ([]DirEntry, error)
	// Open opens an existing file for reading, OpenRW for reading and writing.
	Open(path string) (Handle, error)
	OpenRW(path string) (Handle, error)
	// Create creates a new file for reading and writing; a file already there is an error.
	Create(path string) (Handle, error)
	Rename(from, to string) error
	Remove(path string) error
	// SyncDir makes the directory's entries (files created, renamed, removed) durable.
	SyncDir(dir string) error
}

// DirEntry is a name in a directory; Regular is false for directories and anything else
// that is not a plain file.
type DirEntry struct {
	Name    string
	Regular bool
}

// Handle is an open file. Writes are durable only after Sync.
type Handle interface {
	io.ReaderAt
	io.WriterAt
	Size() (int64, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

// OS is the real file system.
type OS struct{}

func (OS) MakeDir(dir string) error {
	err := os.Mkdir(dir, 0o755)
	if err == nil {
		// Records synced later are only as durable as the directory's own entry.
		return OS{}.SyncDir(filepath.Dir(dir))
	}
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

func (OS) ReadDir(dir string) ([]DirEntry, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make([]DirEntry, len(entries))
	for i, e := range entries {
		out[i] = DirEntry{Name: e.Name(), Regular: e.Type().IsRegular()}
	}
	return out, nil
}

func (OS) Open(path string) (Handle, error) { return osOpen(os.Open(path)) }

func (OS) OpenRW(path string) (Handle, error) { return osOpen(os.OpenFile(path, os.O_RDWR, 0)) }

func (OS) Create(path string) (Handle, error) {
	return osOpen(os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644))
}

func (OS) Rename(from, to string) error { return os.Rename(from, to) }

func (OS) Remove(path string) error { return os.Remove(path) }

func (OS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func osOpen(f *os.File, err error) (Handle, error) {
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

type osFile struct{ *os.File }

func (f osFile) Size() (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
