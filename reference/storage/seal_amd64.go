//go:build !purego

package storage

import (
	"fmt"

	"golang.org/x/sys/cpu"
)

// sealRecords is sealRecordsGo in one assembly loop over the buffer where the CPU has
// SSE4.2's CRC32 instruction. The library's CRC-32C costs two calls a record, one for the
// header's 16 bytes and one for the body, and for records of 64-byte bodies their setup was
// most of the cost: sealing was a quarter of all the CPU a post on the file store took.
func sealRecords(b []byte) {
	if !cpu.X86.HasSSE42 {
		sealRecordsGo(b)
		return
	}
	if n := sealSSE42(b); n != len(b) {
		// The loop stops rather than read past b on a record whose length does not fit.
		panic(fmt.Sprintf("storage: sealing %d bytes that are not whole records: the record at %d does not fit", len(b), n))
	}
}

// sealSSE42 seals the whole records at the start of b and returns how many bytes they take:
// len(b) unless a record's length runs past the end.
//
//go:noescape
func sealSSE42(b []byte) int
