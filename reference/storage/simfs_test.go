package storage

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"syscall"
	"testing"
)

func simWrite(t *testing.T, h Handle, off int64, b []byte) {
	t.Helper()
	if _, err := h.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func simRead(t testing.TB, fsys FS, path string) []byte {
	t.Helper()
	h, err := fsys.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	size, err := h.Size()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, size)
	if _, err := h.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return b
}

// TestSimFSCrashKeepsSyncedAndTearsTheRest: across many crashes a file keeps exactly what was
// synced plus a prefix of the unsynced bytes (some with zeros in place of data), every length
// of that prefix occurs, and a file whose directory was never synced may vanish.
func TestSimFSCrashKeepsSyncedAndTearsTheRest(t *testing.T) {
	synced := bytes.Repeat([]byte{1}, 10)
	unsynced := bytes.Repeat([]byte{2}, 6)
	lengths := map[int]bool{}
	zeroed := false
	for seed := range uint64(300) {
		fsys := NewSimFS(rand.New(rand.NewPCG(seed, 1)))
		if err := fsys.MakeDir("d"); err != nil {
			t.Fatal(err)
		}
		h, err := fsys.Create("d/f")
		if err != nil {
			t.Fatal(err)
		}
		simWrite(t, h, 0, synced)
		if err := h.Sync(); err != nil {
			t.Fatal(err)
		}
		if err := fsys.SyncDir("d"); err != nil {
			t.Fatal(err)
		}
		simWrite(t, h, 10, unsynced)
		fsys.Crash()
		got := simRead(t, fsys, "d/f")
		if len(got) < 10 || len(got) > 16 || !bytes.Equal(got[:10], synced) {
			t.Fatalf("seed %d: after a crash the file is %v", seed, got)
		}
		for i, b := range got[10:] {
			if b == 0 {
				zeroed = true
				if !bytes.Equal(got[10+i:], make([]byte, len(got)-10-i)) {
					t.Fatalf("seed %d: zeros are not a tail: %v", seed, got)
				}
				break
			}
		}
		lengths[len(got)] = true
	}
	if len(lengths) != 7 || !zeroed {
		t.Fatalf("torn lengths seen %v, zeroed tails %v: want every length 10..16 and some zeros", lengths, zeroed)
	}

	vanished := false
	for seed := range uint64(50) {
		fsys := NewSimFS(rand.New(rand.NewPCG(seed, 2)))
		if err := fsys.MakeDir("d"); err != nil {
			t.Fatal(err)
		}
		h, err := fsys.Create("d/new")
		if err != nil {
			t.Fatal(err)
		}
		simWrite(t, h, 0, []byte("x"))
		if err := h.Sync(); err != nil { // data synced, the directory entry not
			t.Fatal(err)
		}
		fsys.Crash()
		entries, err := fsys.ReadDir("d")
		if err != nil {
			t.Fatal(err)
		}
		vanished = vanished || len(entries) == 0
	}
	if !vanished {
		t.Fatal("a file created without a directory sync survived every crash")
	}
}

func TestSimFSFailures(t *testing.T) {
	fsys := NewSimFS(rand.New(rand.NewPCG(1, 1)))
	if err := fsys.MakeDir("d"); err != nil {
		t.Fatal(err)
	}
	h, err := fsys.Create("d/f")
	if err != nil {
		t.Fatal(err)
	}
	simWrite(t, h, 0, []byte("synced"))
	if err := h.Sync(); err != nil {
		t.Fatal(err)
	}
	fsys.FailWrite(syscall.ENOSPC)
	if _, err := h.WriteAt([]byte("more"), 6); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write: %v, want ENOSPC", err)
	}
	if got := simRead(t, fsys, "d/f"); string(got) != "synced" {
		t.Fatalf("a failed write changed the file: %q", got)
	}
	simWrite(t, h, 6, []byte("lost"))
	fsys.FailSync(syscall.EIO)
	if err := h.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("sync: %v, want EIO", err)
	}
	if got := simRead(t, fsys, "d/f"); string(got) != "synced" {
		t.Fatalf("after a failed sync the page cache still shows %q", got)
	}
	if _, err := fsys.Create("d/f"); err == nil {
		t.Fatal("Create over an existing file succeeded")
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ReadAt(make([]byte, 1), 0); err == nil {
		t.Fatal("read through a closed handle succeeded")
	}
	ro, err := fsys.Open("d/f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.WriteAt([]byte("x"), 0); err == nil {
		t.Fatal("write through a read-only handle succeeded")
	}
}
