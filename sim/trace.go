package sim

import (
	"io"
	"strconv"
)

// 64-bit FNV-1a parameters.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// Trace is the run's event log reduced to a running hash, optionally also written out as text.
// Two runs are the same run exactly when their hashes match, so the hash is printed with every
// result and compared on replay.
//
// Each record is hashed with 64-bit FNV-1a over a canonical encoding: the time, who, what, a
// and b in that order; integers as zigzag varints (as in encoding/binary, and mostly one or two
// bytes here, which matters because byte-serial FNV is the bulk of a record's cost), strings as
// their uvarint length then their bytes. The length prefixes keep ("ab","c") and ("a","bc")
// apart. The zero Trace is ready to use.
type Trace struct {
	// state holds the FNV-1a state xor the offset basis, so that the zero value is a fresh hash.
	state uint64
	n     int
	w     io.Writer
	line  []byte // reused text buffer; keeps Record free of fmt and allocation
	err   error
}

// Record appends one record: at time atNs, host who did or received what, with two numeric
// arguments (by convention a connection or timer id and a byte count).
func (t *Trace) Record(atNs int64, who, what string, a, b int64) {
	t.state = t.hashRecord(atNs, who, what, a, b) ^ fnvOffset64
	t.n++
	if t.w != nil && t.err == nil {
		t.writeLine(atNs, who, what, a, b, nil)
	}
}

// RecordMsg appends a record that carries a message: its msgid and body checksum are hashed
// after a and b, so two runs that differ only in what a message holds get different hashes.
func (t *Trace) RecordMsg(atNs int64, who, what string, a, b int64, msgid int32, sum uint32) {
	h := t.hashRecord(atNs, who, what, a, b)
	h = hashInt(h, int64(msgid))
	h = hashUvarint(h, uint64(sum))
	t.state = h ^ fnvOffset64
	t.n++
	if t.w != nil && t.err == nil {
		t.writeLine(atNs, who, what, a, b, &msgFields{msgid, sum})
	}
}

// msgFields are the message fields a text line shows after a and b.
type msgFields struct {
	msgid int32
	sum   uint32
}

func (t *Trace) hashRecord(atNs int64, who, what string, a, b int64) uint64 {
	h := t.state ^ fnvOffset64
	h = hashInt(h, atNs)
	h = hashString(h, who)
	h = hashString(h, what)
	h = hashInt(h, a)
	return hashInt(h, b)
}

// Hash returns the FNV-1a hash of every record so far.
func (t *Trace) Hash() uint64 { return t.state ^ fnvOffset64 }

// Len returns the number of records so far.
func (t *Trace) Len() int { return t.n }

// SetWriter makes every later record also be written to w as one text line; nil stops it. The
// hash does not depend on it.
func (t *Trace) SetWriter(w io.Writer) {
	t.w = w
	t.err = nil
}

// Err returns the first error from the writer. Writing stops at that error; hashing goes on.
func (t *Trace) Err() error { return t.err }

func hashInt(h uint64, v int64) uint64 {
	return hashUvarint(h, uint64(v<<1)^uint64(v>>63))
}

func hashUvarint(h, v uint64) uint64 {
	for v >= 0x80 {
		h ^= v&0x7f | 0x80
		h *= fnvPrime64
		v >>= 7
	}
	h ^= v
	h *= fnvPrime64
	return h
}

func hashString(h uint64, s string) uint64 {
	h = hashUvarint(h, uint64(len(s)))
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

// Column widths of a text line, e.g. "     1.250000ms client1    recv             30 64".
const (
	timeWidth = 13 // milliseconds with six decimals, before the "ms" unit
	whoWidth  = 10
	whatWidth = 8
	aWidth    = 8
)

func (t *Trace) writeLine(atNs int64, who, what string, a, b int64, m *msgFields) {
	var num [24]byte
	l := t.line[:0]

	mag := uint64(atNs)
	sign := ""
	if atNs < 0 {
		mag = -mag
		sign = "-"
	}
	ms := append(num[:0], sign...)
	ms = strconv.AppendUint(ms, mag/1e6, 10)
	ms = append(ms, '.')
	frac := mag % 1e6
	for div := uint64(1e5); div > 0; div /= 10 {
		ms = append(ms, byte('0'+frac/div%10))
	}
	l = pad(l, len(ms), timeWidth)
	l = append(l, ms...)
	l = append(l, "ms "...)

	l = append(l, who...)
	l = pad(l, len(who), whoWidth)
	l = append(l, ' ')
	l = append(l, what...)
	l = pad(l, len(what), whatWidth)
	l = append(l, ' ')

	n := strconv.AppendInt(num[:0], a, 10)
	l = pad(l, len(n), aWidth)
	l = append(l, n...)
	l = append(l, ' ')
	l = strconv.AppendInt(l, b, 10)
	if m != nil {
		l = append(l, " msgid="...)
		l = strconv.AppendInt(l, int64(m.msgid), 10)
		l = append(l, " sum="...)
		l = strconv.AppendUint(l, uint64(m.sum), 16)
	}
	l = append(l, '\n')

	t.line = l
	if _, err := t.w.Write(l); err != nil {
		t.err = err
	}
}

// pad appends the spaces that bring a field of have bytes up to width.
func pad(l []byte, have, width int) []byte {
	for ; have < width; have++ {
		l = append(l, ' ')
	}
	return l
}
