package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"
)

// The on-disk format, version 2. All integers are little-endian.
//
// A segment file starts with a header of segHdrLen bytes:
//
//	"SSEG" | uint16 version (2) | uint16 0 | int64 first seq | int64 prev last seq | uint32 0 |
//	uint32 CRC-32C of the 28 bytes before it
//
// prev last seq is the last seq of the segment before it, -1 for the first segment of a store.
//
// A record is a header of recHdrLen bytes, the body, and a CRC of both:
//
//	uint32 CRC-32C of the next 16 bytes | uint32 body length | int32 msgid | int64 seq |
//	body | uint32 CRC-32C of the 16 bytes and the body
//
// The header's own CRC is what tells a damaged length from a torn write; the CRC at the end
// covers length, msgid, seq and body in one contiguous run, so a replay checks a record with
// one CRC call, as format 1 did.
//
// A seal is a record header alone whose body length is sealMark and whose seq is the last seq
// of the segment it ends; it is the last thing in every segment but the newest.
const (
	formatVersion = 2
	segHdrLen     = 32
	recHdrLen     = 20
	crcLen        = 4
	sealMark      = ^uint32(0)
	segMagic      = "SSEG"
	segSuffix     = ".seg"
	tmpSuffix     = ".tmp"
	segDigits     = 20 // enough for any non-negative int64, so names sort by seq
)

var (
	le         = binary.LittleEndian
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

func recordLen(bodyLen uint32) int64 { return recHdrLen + int64(bodyLen) + crcLen }

func segName(first int64) string { return fmt.Sprintf("%0*d%s", segDigits, first, segSuffix) }

func parseSegName(name string) (int64, bool) {
	digits, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(digits) != segDigits {
		return 0, false
	}
	first, err := strconv.ParseInt(digits, 10, 64)
	// The round trip rejects signs and anything else ParseInt tolerates.
	return first, err == nil && first >= 0 && segName(first) == name
}

func appendSegHeader(b []byte, first, prevLast int64) []byte {
	start := len(b)
	b = append(b, segMagic...)
	b = le.AppendUint16(b, formatVersion)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint64(b, uint64(first))
	b = le.AppendUint64(b, uint64(prevLast))
	b = le.AppendUint32(b, 0)
	return le.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// parseSegHeader returns the first and previous last seqs a segment header names, or why it
// is not a header this version reads.
func parseSegHeader(b []byte) (first, prevLast int64, why string) {
	if len(b) >= len(segMagic) && string(b[:4]) != segMagic {
		return 0, 0, fmt.Sprintf("no segment header (the file starts %x, not %q): a store of format 1, "+
			"written before segment headers, or not a store at all; this version reads format %d only",
			b[:4], segMagic, formatVersion)
	}
	if len(b) < segHdrLen {
		return 0, 0, fmt.Sprintf("segment header cut short: the file has %d bytes, a header %d", len(b), segHdrLen)
	}
	if crc32.Checksum(b[:segHdrLen-crcLen], castagnoli) != le.Uint32(b[segHdrLen-crcLen:]) {
		return 0, 0, "segment header checksum mismatch"
	}
	if v := le.Uint16(b[4:]); v != formatVersion {
		return 0, 0, fmt.Sprintf("segment of format version %d; this version reads format %d only", v, formatVersion)
	}
	return int64(le.Uint64(b[8:])), int64(le.Uint64(b[16:])), ""
}

// appendUnsealed encodes a record without its two checksums, which sealRecords fills in
// later: computing them was the largest part of an append, and a store writing behind has
// its writer's goroutine do it. It is on every post's path, so it grows b once and writes
// the fields in place.
func appendUnsealed(b []byte, seq int64, msgid int32, body []byte) []byte {
	start := len(b)
	end := start + recHdrLen + len(body) + crcLen
	b = slices.Grow(b, end-start)[:end]
	putRecordFields(b[start:], uint32(len(body)), msgid, seq)
	copy(b[start+recHdrLen:], body)
	return b
}

// sealRecordsGo fills in the checksums of the records appendUnsealed put in b, which holds
// whole records only; sealRecords is it, or the same in assembly where there is one.
func sealRecordsGo(b []byte) {
	for len(b) > 0 {
		end := int(recordLen(le.Uint32(b[crcLen:])))
		hcrc := sealHeader(b)
		le.PutUint32(b[end-crcLen:], crc32.Update(hcrc, castagnoli, b[recHdrLen:end-crcLen]))
		b = b[end:]
	}
}

// appendRecordHeader encodes a record header alone, sealed; a seal is
// appendRecordHeader(b, sealMark, 0, last).
func appendRecordHeader(b []byte, n uint32, msgid int32, seq int64) ([]byte, uint32) {
	start := len(b)
	b = slices.Grow(b, recHdrLen)[:start+recHdrLen]
	return b, putRecordHeader(b[start:], n, msgid, seq)
}

// putRecordHeader writes a record header at the start of b and returns its CRC.
func putRecordHeader(b []byte, n uint32, msgid int32, seq int64) uint32 {
	putRecordFields(b, n, msgid, seq)
	return sealHeader(b)
}

// sealHeader writes the CRC of the record header at the start of b, over its fields, and
// returns it.
func sealHeader(b []byte) uint32 {
	hcrc := crc32.Checksum(b[crcLen:recHdrLen], castagnoli)
	le.PutUint32(b, hcrc)
	return hcrc
}

// putRecordFields writes a record header's fields after its CRC.
func putRecordFields(b []byte, n uint32, msgid int32, seq int64) {
	le.PutUint32(b[crcLen:], n)
	le.PutUint32(b[crcLen+4:], uint32(msgid))
	le.PutUint64(b[crcLen+8:], uint64(seq))
}

// recHeader is a decoded record header.
type recHeader struct {
	crc   uint32
	n     uint32
	msgid int32
	seq   int64
}

// parseRecHeader decodes the first recHdrLen bytes of b and checks their CRC.
func parseRecHeader(b []byte) (recHeader, bool) {
	h := recHeader{crc: le.Uint32(b), n: le.Uint32(b[4:]), msgid: int32(le.Uint32(b[8:])), seq: int64(le.Uint64(b[12:]))}
	return h, crc32.Checksum(b[crcLen:recHdrLen], castagnoli) == h.crc
}

// bodyOK checks a body and the CRC that follows it, continuing from the header's CRC (which
// parseRecHeader verified), so the header is not read twice.
func (h recHeader) bodyOK(bodyAndCRC []byte) bool {
	body := bodyAndCRC[:h.n]
	return crc32.Update(h.crc, castagnoli, body) == le.Uint32(bodyAndCRC[h.n:])
}
