package scenarios

import (
	"fmt"

	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/reference/storage"
)

// storeSegmentBytes is small so that plans of a few dozen posts rotate segments many times
// and crashes land near rotations.
const storeSegmentBytes = 512

// simStore is the server's store in plans where it can crash or must be durable: the real
// segmented file store over a simulated file system, whose crashes lose what was not synced
// and may tear the last write at any byte, all drawn from the run's seed.
type simStore struct {
	fs   *storage.SimFS
	opt  storage.FileOptions
	dir  string
	gen  int // directories used: a store recovery refused is left behind, a new one started
	file *storage.File
}

func newSimStore(r *runner) (*simStore, error) {
	st := &simStore{fs: storage.NewSimFS(r.k.Rand()), opt: storage.FileOptions{SegmentBytes: storeSegmentBytes}}
	st.opt.FS = st.fs
	switch {
	case r.opt.Bugs&reference.BugStoreRecoverDropLast != 0:
		st.opt.Bug = storage.BugRecoverDropLast
	case r.opt.Bugs&reference.BugStoreSeekOffByOne != 0:
		st.opt.Bug = storage.BugSeekOffByOne
	}
	if err := st.open(); err != nil {
		return nil, fmt.Errorf("opening the simulated file store: %w", err)
	}
	return st, nil
}

func (st *simStore) open() error {
	st.gen++
	st.dir = fmt.Sprintf("store%d", st.gen)
	f, err := storage.OpenFile(st.dir, st.opt)
	st.file = f
	return err
}

// crash is a power loss: the open store is dropped unsynced, as the process that held it.
func (st *simStore) crash() {
	st.fs.Crash()
	st.file = nil
}

// recover reopens the store after a crash and says what recovery found, for the restart
// event. A store that recovery refuses means the file store lost or damaged what it had
// synced: the server starts over on an empty store, so the restart's last seq shows the loss
// to the durable property.
func (st *simStore) recover() (reason string) {
	f, err := storage.OpenFile(st.dir, st.opt)
	if err == nil {
		st.file = f
		entries, _ := st.fs.ReadDir(st.dir) // it was just read: it exists
		reason = fmt.Sprintf("store of %d segments", len(entries))
		for _, c := range f.Recovered() {
			reason += "; recovery " + c.Why
		}
		return reason
	}
	reason = "store recovery failed: " + err.Error()
	if err := st.open(); err != nil {
		return reason + "; a new store failed too: " + err.Error()
	}
	return reason
}

// last is the store's last seq, -1 when there is no store to hold any.
func (st *simStore) last() int64 {
	if st.file == nil {
		return -1
	}
	return st.file.Last()
}
