package storage

import (
	"errors"
	"sync"
)

// WriteBehind wraps fs so that the files it opens for writing hand each write to a goroutine
// of their own and return once the bytes are copied: a File's appends then go on while the
// kernel takes the previous 64 KiB into its page cache, which was most of an append's cost.
// It is for real hosts that promise no durability before a sync (NoSyncOnRotate); the
// simulator never uses it, since its file system decides in the run's own order.
//
// Sync, ReadAt, Size, Truncate and Close first wait for the writes handed over, so the file
// behaves as if each WriteAt had been made at once, but for a killed process, which may lose
// the writes still queued: at most behindQueue of them. A write that fails is reported by the
// next WriteAt, Sync or Close, and by every one after it: the store then fails as it would
// have. Reads go on, since what was written before the failure is still there.
func WriteBehind(fs FS) FS { return behindFS{fs} }

type behindFS struct{ FS }

func (b behindFS) OpenRW(path string) (Handle, error) { return behind(b.FS.OpenRW(path)) }
func (b behindFS) Create(path string) (Handle, error) { return behind(b.FS.Create(path)) }

// behindQueue is how many writes a file may have handed over and not yet made.
const behindQueue = 2

type behindWrite struct {
	p    []byte
	off  int64
	seal int // p's records from here on are sealed before the write (see sealingWriter)
}

// sealingWriter is a Handle that can compute the checksums of the records it is to write
// (sealRecords) on a goroutine of its own, as WriteBehind's files do: those checksums were
// then the largest part of an append left on the server's path.
type sealingWriter interface {
	// WriteSealing is WriteAt of p, whole records, whose records from p[from:] on are
	// sealed first.
	WriteSealing(p []byte, off int64, from int) (int, error)
}

type behindHandle struct {
	Handle
	queue chan behindWrite // to the writer
	free  chan []byte      // buffers back from the writer
	done  chan struct{}    // closed when the writer has stopped
	mu    sync.Mutex
	busy  int        // writes handed over and not yet made
	idle  *sync.Cond // signalled when busy falls to zero
	err   error      // the first failed write
}

func behind(h Handle, err error) (Handle, error) {
	if err != nil {
		return nil, err
	}
	b := &behindHandle{Handle: h, queue: make(chan behindWrite, behindQueue), free: make(chan []byte, behindQueue), done: make(chan struct{})}
	b.idle = sync.NewCond(&b.mu)
	for range behindQueue {
		b.free <- nil
	}
	go b.write()
	return b, nil
}

func (b *behindHandle) write() {
	defer close(b.done)
	for w := range b.queue {
		sealRecords(w.p[w.seal:])
		_, err := b.Handle.WriteAt(w.p, w.off)
		if cap(w.p) > 2*writeBuf {
			w.p = nil // do not keep a huge record's buffer alive
		}
		b.free <- w.p[:0]
		b.mu.Lock()
		if err != nil && b.err == nil {
			b.err = err
		}
		if b.busy--; b.busy == 0 {
			b.idle.Broadcast()
		}
		b.mu.Unlock()
	}
}

// WriteAt copies p and hands it to the writer; it waits only when behindQueue writes are
// under way already.
func (b *behindHandle) WriteAt(p []byte, off int64) (int, error) {
	return b.WriteSealing(p, off, len(p))
}

func (b *behindHandle) WriteSealing(p []byte, off int64, from int) (int, error) {
	buf := <-b.free
	b.mu.Lock()
	err := b.err
	if err == nil {
		b.busy++
	}
	b.mu.Unlock()
	if err != nil {
		b.free <- buf
		return 0, err
	}
	b.queue <- behindWrite{append(buf, p...), off, from}
	return len(p), nil
}

// settle waits for every write handed over and returns the first that failed.
func (b *behindHandle) settle() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.busy > 0 {
		b.idle.Wait()
	}
	return b.err
}

func (b *behindHandle) ReadAt(p []byte, off int64) (int, error) {
	b.settle()
	return b.Handle.ReadAt(p, off)
}

func (b *behindHandle) Size() (int64, error) {
	b.settle()
	return b.Handle.Size()
}

func (b *behindHandle) Truncate(size int64) error {
	b.settle()
	return b.Handle.Truncate(size)
}

func (b *behindHandle) Sync() error {
	if err := b.settle(); err != nil {
		return err
	}
	return b.Handle.Sync()
}

// Close makes the writes handed over, stops the writer and closes the file; a failed write
// is its error if nothing reported it before.
func (b *behindHandle) Close() error {
	err := b.settle()
	close(b.queue)
	<-b.done
	return errors.Join(err, b.Handle.Close())
}
