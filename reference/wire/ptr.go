package wire

import (
	"errors"
	"fmt"
)

// Offset pointer (spec 4.5): uint32 offset | uint24 element count | uint8 element size, the
// offset counted from the pointer's own first byte.
const (
	ptrSize     = 8
	maxPtrCount = 1<<24 - 1
	// bigEntity says the element size did not fit a byte and sits as a uint32 at the data.
	bigEntity = 0xFF
)

// span resolves the pointer at body[pos:pos+ptrSize], which the caller has bounds-checked,
// to its elements' start, count and stride. The elements must end within limit bytes of
// body's start. Decoders pass len(body); ParseHello passes a larger limit because the rest of
// its stream may not have arrived, and gets ErrShort when span needs bytes not yet received.
// An empty pointer (count 0) yields count 0, and its offset and entity are not looked at. The
// arithmetic is done in uint64, where neither pos+offset nor count*stride can overflow, so a
// hostile pointer is always caught by the limit check.
func span(body []byte, pos, limit int) (start, count, stride int, err error) {
	off := le.Uint32(body[pos:])
	word := le.Uint32(body[pos+4:])
	n := uint64(word & maxPtrCount)
	if n == 0 {
		return 0, 0, 0, nil
	}
	entity := uint64(word >> 24)
	s := uint64(pos) + uint64(off)
	if entity == bigEntity {
		if s+4 > uint64(limit) {
			return 0, 0, 0, fmt.Errorf("pointer at %d: element size word at %d is past the %d-byte limit", pos, s, limit)
		}
		if s+4 > uint64(len(body)) {
			return 0, 0, 0, ErrShort
		}
		entity = uint64(le.Uint32(body[s:]))
		s += 4
	}
	if end := s + n*entity; end > uint64(limit) {
		return 0, 0, 0, fmt.Errorf("pointer at %d: %d elements of %d bytes at %d end at %d, past the %d-byte limit", pos, n, entity, s, end, limit)
	}
	return int(s), int(n), int(entity), nil
}

// decodeString reads the string pointer at pos. Its declared size counts the stored NUL, and
// the last byte it covers must be that NUL. A string without one is rejected rather than
// guessed at: TLL's reader would silently drop its last byte, and a C consumer looking for the
// NUL would run past the field. Bytes before the final
// NUL are returned verbatim, embedded NULs included, as TLL's reader takes size-1 bytes.
func decodeString(body []byte, pos int) (string, error) {
	start, n, stride, err := span(body, pos, len(body))
	if err != nil || n == 0 {
		return "", err
	}
	if stride != 1 {
		return "", fmt.Errorf("string pointer at %d has element size %d, want 1", pos, stride)
	}
	if body[start+n-1] != 0 {
		return "", errNoNUL
	}
	return string(body[start : start+n-1]), nil
}

var errNoNUL = errors.New("string does not end with NUL within its declared size")

func putPtr(b []byte, offset, count int, entity uint8) {
	if count > maxPtrCount {
		panic(fmt.Sprintf("wire: %d elements exceed the 24-bit pointer count", count))
	}
	le.PutUint32(b, uint32(offset))
	le.PutUint32(b[4:], uint32(count)|uint32(entity)<<24)
}

// appendString stores s in the tail and points the pointer at dst[pos:] to it. The empty
// string is stored too (size 1, a lone NUL), as TLL's binder does when a field is set to "".
func appendString(dst []byte, pos int, s string) []byte {
	putPtr(dst[pos:], len(dst)-pos, len(s)+1, 1)
	dst = append(dst, s...)
	return append(dst, 0)
}

// appendOptString leaves the pointer all zero for "" (the field was never set, which is what
// TLL's writers produce for unset strings) and stores anything else.
func appendOptString(dst []byte, pos int, s string) []byte {
	if s == "" {
		return dst
	}
	return appendString(dst, pos, s)
}
