package storage

import (
	"errors"
	"sync"
)

// WriteBehind wraps fs so that the files it opens for writing hand each write to a goroutine
// of their own and return at once (a File's write buffer itself changes hands, other writes
// are copied): a File's appends then go on while the kernel takes the previous 64 KiB into
// its page cache, which was most of an append's cost.
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
	seal int // p's records from here on are sealed before the write (see handOverer)
}

// handOverer is a Handle that takes a buffer of records to write without copying it, and
// can compute their checksums (sealRecords) on a goroutine of its own, as WriteBehind's files
// do: copying and sealing were then most of what an append left on the server's path.
type handOverer interface {
	// handOver is WriteAt of p, whole records, whose records from p[from:] on are sealed
	// first. p is the handle's from then on; the caller appends its next records to the
	// empty buffer returned.
	handOver(p []byte, off int64, from int) ([]byte, error)
}

// behindHandle owns behindQueue buffers: each is either free or holds a write under way, so
// having them all back is having every write made. A buffer handed over takes the place of
// the free one the caller gets back.
type behindHandle struct {
	Handle
	queue chan behindWrite // to the writer
	free  chan []byte      // buffers back from the writer
	done  chan struct{}    // closed when the writer has stopped
	mu    sync.Mutex
	err   error // the first failed write, set before its buffer is back
}

func behind(h Handle, err error) (Handle, error) {
	if err != nil {
		return nil, err
	}
	b := &behindHandle{Handle: h, queue: make(chan behindWrite, behindQueue), free: make(chan []byte, behindQueue), done: make(chan struct{})}
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
		if _, err := b.Handle.WriteAt(w.p, w.off); err != nil {
			b.mu.Lock()
			if b.err == nil {
				b.err = err
			}
			b.mu.Unlock()
		}
		b.free <- reuse(w.p)
	}
}

func (b *behindHandle) failure() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// WriteAt copies p and hands it to the writer; it waits only when behindQueue writes are
// under way already.
func (b *behindHandle) WriteAt(p []byte, off int64) (int, error) {
	buf := <-b.free
	if err := b.failure(); err != nil {
		b.free <- buf
		return 0, err
	}
	b.queue <- behindWrite{append(buf, p...), off, len(p)}
	return len(p), nil
}

// handOver waits only when behindQueue writes are under way already, and then seals p
// itself first: the writer, which is then the slower of the two, is left only the write,
// and the caller does what it would otherwise have waited idle for.
func (b *behindHandle) handOver(p []byte, off int64, from int) ([]byte, error) {
	var next []byte
	select {
	case next = <-b.free:
	default:
		sealRecords(p[from:])
		from = len(p)
		next = <-b.free
	}
	if err := b.failure(); err != nil {
		b.free <- next
		return nil, err
	}
	b.queue <- behindWrite{p, off, from}
	return next, nil
}

// settle waits for every write handed over, by taking back every buffer, and returns the
// first write that failed.
func (b *behindHandle) settle() error {
	var bufs [behindQueue][]byte
	for i := range bufs {
		bufs[i] = <-b.free
	}
	for _, p := range bufs {
		b.free <- p
	}
	return b.failure()
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
