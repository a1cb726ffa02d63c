// Package storage holds the server's append-only log of messages. The reference server stores
// every message before it publishes it (TLL invariant I3), and serves history from here.
//
// # The file store
//
// File keeps the log in a directory of segment files over an FS: the real one (OS), or SimFS,
// whose crashes lose what was not synced, under the simulator. Format version 2 is described
// in format.go; its decisions:
//
// Every segment is named by the seq of its first record, zero-padded to 20 digits
// (00000000000000000010.seg), and starts with a header that carries a magic, the format
// version, its first seq, and the last seq of the segment before it (-1 for the first).
// Every segment but the newest ends with a seal naming its own last seq. That chain is how
// the store knows what it should hold, with no manifest to keep in step: a missing first
// segment shows in the header of the one now first, a missing middle one in the header after
// it, a missing newest one in the seal of the one before, and a segment cut, even exactly at
// a record boundary, by its missing seal or the next header. Seqs may be sparse; the chain
// names seqs, not counts.
//
// A new segment is written under a temporary name, its header synced, then renamed and the
// directory synced, so a segment under its real name always has a whole header: one that is
// empty, zeroed or cut short was damaged, not torn. The current segment is synced before the
// next one is created, and sealed after, so a crash in between leaves an unsealed segment
// followed by one with no record, which recovery tells apart from a cut one. A store that
// promises no durability may skip those syncs (FileOptions.NoSyncOnRotate), as TLL's file
// storage never syncs: a killed process still leaves what recovery reads exactly, but a
// machine crash may leave an older segment cut behind a newer one, which OpenFile refuses
// and Repair cuts back.
//
// Every record header has its own checksum, over its length, msgid and seq, and the body's
// checksum continues from it. A damaged length is therefore a header that does not verify,
// never read as a record running past the end of the file.
//
// Recovery (OpenFile) cuts only what a crash explains: in the newest segment, a record the
// file ends inside, or one that does not verify where everything from inside it to the end of
// the file is zero (the size reached the disk, the data did not); a leftover temporary segment;
// and a newest segment with no record left, with the seal before it. Anything else that does
// not verify is refused with the file, the offset and what was wrong, and nothing on disk is
// changed. What recovery cut is in File.Recovered, for the server to log. Repair is the one
// explicit way to cut a damaged store back to its last intact record; Verify says what a store
// holds without changing it.
//
// What the format cannot see: the newest segment cut exactly at a record boundary, or to its
// header alone, looks like a crash before the records after the cut were synced, since the
// store keeps no record of how far it synced outside the segment (that would cost a second
// fsync per sync).
//
// Stores of format 1 (no segment headers, written before this version) are refused with a
// message naming the format; there is no silent upgrade.
package storage

import (
	"errors"
	"fmt"
)

// Record is one stored message.
type Record struct {
	Seq   int64
	MsgID int32
	Body  []byte
}

// Store is an append-only log keyed by strictly increasing, possibly sparse, seqs.
type Store interface {
	// Append stores r. r.Seq must be greater than Last(); the store keeps its own copy of
	// the body.
	Append(r Record) error
	// Read appends to dst up to max records with seq ≥ from, in seq order, and returns dst.
	// Bodies may alias the store's memory and must not be modified.
	Read(dst []Record, from int64, max int) ([]Record, error)
	// First and Last are the lowest and highest stored seqs, -1 when empty.
	First() int64
	Last() int64
}

// ErrNotIncreasing is returned by Append for a seq not above the last stored one.
var ErrNotIncreasing = errors.New("non monotonic seq")

func notIncreasing(seq, last int64) error {
	return fmt.Errorf("%w: %d after %d", ErrNotIncreasing, seq, last)
}

// Syncer is a Store that can make what it holds durable. The server syncs before it
// acknowledges a post as durable.
type Syncer interface {
	Sync() error
}
