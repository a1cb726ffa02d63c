package storage

// Syncer is a Store that can make what it holds durable. The server syncs before it
// acknowledges a post as durable.
type Syncer interface {
	Sync() error
}

// Disk is a memory Store with a durability model, for simulations: records are volatile until
// Sync, and Crash loses unsynced records the way a machine losing power does. Real files are
// the File store's job; this one is cheap enough to run millions of simulated crashes.
type Disk struct {
	Memory
	synced int // records [0, synced) are durable
}

// NewDisk returns an empty simulated disk.
func NewDisk() *Disk { return &Disk{} }

// Sync makes every record appended so far durable.
func (d *Disk) Sync() error {
	d.synced = len(d.recs)
	return nil
}

// Synced is the last durable seq, -1 when none is.
func (d *Disk) Synced() int64 {
	if d.synced == 0 {
		return -1
	}
	return d.recs[d.synced-1].Seq
}

// Unsynced is how many records a crash could lose.
func (d *Disk) Unsynced() int { return len(d.recs) - d.synced }

// Crash keeps the durable records and the first keep of the unsynced ones (writes reach the
// platter in order, and the one being written when power went is torn and discarded on
// recovery). keep is clamped to what is there.
func (d *Disk) Crash(keep int) {
	n := min(d.synced+max(keep, 0), len(d.recs))
	clear(d.recs[n:])
	d.recs = d.recs[:n]
	d.synced = n
}
