// Package storage holds the server's append-only log of messages. The reference server stores
// every message before it publishes it (TLL invariant I3), and serves history from here.
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
