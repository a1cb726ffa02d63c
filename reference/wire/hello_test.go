package wire

import (
	"errors"
	"testing"
)

// goodHellos are valid handshakes, with what ParseHello must return and how many bytes it
// consumes: TLL's layout, and layouts a fixed or foreign client might send.
func goodHellos(t testing.TB) []struct {
	name   string
	stream []byte
	want   Hello
	n      int
} {
	tll := AppendHello(nil, "peer-1")
	return []struct {
		name   string
		stream []byte
		want   Hello
		n      int
	}{
		{"TLL empty", hx(t, helloVectors[0].wire), Hello{1, ""}, 27},
		{"TLL c0", hx(t, helloVectors[1].wire), Hello{1, "c0"}, 29},
		// The pub data that follows the handshake must not be consumed.
		{"TLL then data", AppendFrame(tll, 7, 1, []byte("data")), Hello{1, "peer-1"}, len(tll)},
		// A client that declares the true size.
		{"honest size", hx(t, `0d 00 00 00 | 64 00 00 00 | 00 x8 | 01 00 | 08 00 00 00 03 00 00 01 | 63 30 00`), Hello{1, "c0"}, 29},
		// Declared frame longer than the name's end.
		{"padded frame", hx(t, `10 00 00 00 | 64 00 00 00 | 00 x8 | 01 00 | 08 00 00 00 02 00 00 01 | 61 00 | ee x4`), Hello{1, "a"}, 32},
		// Empty name with no tail at all.
		{"unset name", hx(t, `0a 00 00 00 | 64 00 00 00 | 00 x8 | 01 00 | 00 x8`), Hello{1, ""}, 26},
		// Name through the 0xFF entity, past a gap.
		{"big entity", hx(t, `0a 00 00 00 | 64 00 00 00 | 00 x8 | 01 00 | 0a 00 00 00 02 00 00 ff | ee ee | 01 00 00 00 | 7a 00`), Hello{1, "z"}, 34},
	}
}

// TestParseHelloEveryPrefix: a caller that accumulates segments sees ErrShort until the
// whole Hello is in, then the same result whatever the cut points were.
func TestParseHelloEveryPrefix(t *testing.T) {
	for _, c := range goodHellos(t) {
		t.Run(c.name, func(t *testing.T) {
			for k := 0; k <= len(c.stream); k++ {
				h, n, err := ParseHello(c.stream[:k])
				if k < c.n {
					if err != ErrShort || n != 0 {
						t.Fatalf("prefix %d of %d: %+v n=%d err=%v, want ErrShort", k, c.n, h, n, err)
					}
					continue
				}
				if err != nil || h != c.want || n != c.n {
					t.Fatalf("prefix %d: %+v n=%d err=%v, want %+v n=%d", k, h, n, err, c.want, c.n)
				}
			}
		})
	}
}

// TestParseHelloMalformedPrefixes: a prefix of a bad Hello yields ErrShort or the very error
// of the whole stream, so the verdict never depends on segmentation.
func TestParseHelloMalformedPrefixes(t *testing.T) {
	for _, c := range badHellos {
		_, _, whole := ParseHello(c.stream)
		for k := range len(c.stream) {
			_, _, err := ParseHello(c.stream[:k])
			if err == nil || !errors.Is(err, ErrShort) && err.Error() != whole.Error() {
				t.Fatalf("%s: prefix %d: %v, whole stream: %v", c.name, k, err, whole)
			}
		}
	}
}
