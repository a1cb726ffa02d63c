package reference

import (
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/streamsim/streamsim/reference/storage"
)

// A durable server on a file store whose disk fails: the post that met the failure is refused
// (never acknowledged as durable), and so is every later one until the store is reopened,
// which finds every post that was acknowledged.
func TestDurableServerStoreErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(*storage.SimFS)
	}{
		{"EIO on fsync", func(fs *storage.SimFS) { fs.FailSync(syscall.EIO) }},
		{"ENOSPC on write", func(fs *storage.SimFS) { fs.FailWrite(syscall.ENOSPC) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := storage.NewSimFS(rand.New(rand.NewPCG(1, 2)))
			opt := storage.FileOptions{FS: fsys, SegmentBytes: 256}
			st, err := storage.OpenFile("s", opt)
			if err != nil {
				t.Fatal(err)
			}
			s := NewServer(newFakeEnv(), ServerConfig{Store: st, Durable: true})
			for q := int64(1); q <= 10; q++ {
				if _, err := s.Post(q, 1, []byte("body")); err != nil {
					t.Fatal(err)
				}
			}
			if s.DurableSeq() != 10 {
				t.Fatalf("durable seq %d, want 10", s.DurableSeq())
			}
			tc.fail(fsys)
			if _, err := s.Post(11, 1, []byte("body")); err == nil {
				t.Fatal("a post over a failing disk was accepted")
			}
			if _, err := s.Post(12, 1, []byte("body")); err == nil {
				t.Fatal("a post after a disk failure was accepted")
			}
			if s.DurableSeq() != 10 {
				t.Fatalf("durable seq %d after the failure, want 10", s.DurableSeq())
			}
			fsys.Crash()
			again, err := storage.OpenFile("s", opt)
			if err != nil {
				t.Fatal(err)
			}
			defer again.Close()
			if again.Last() < 10 {
				t.Fatalf("reopened store ends at %d: acknowledged posts lost", again.Last())
			}
		})
	}
}
