package wire

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// randStream returns count frames with bodies of 0..maxBody bytes, and the frames themselves.
func randStream(r *rand.Rand, count, maxBody int) ([]byte, []Frame) {
	var stream []byte
	var frames []Frame
	for range count {
		f := Frame{MsgID: int32(r.Uint32()), Seq: r.Int64(), Body: make([]byte, r.IntN(maxBody+1))}
		for i := range f.Body {
			f.Body[i] = byte(r.UintN(256))
		}
		stream = AppendFrame(stream, f.MsgID, f.Seq, f.Body)
		frames = append(frames, f)
	}
	return stream, frames
}

// feedSplit feeds stream in pieces whose lengths cut() picks, drains after every piece, and
// returns copies of the frames seen and the first error.
func feedSplit(f *Framer, stream []byte, cut func(rest int) int) ([]Frame, error) {
	var out []Frame
	for len(stream) > 0 {
		k := cut(len(stream))
		// A fresh copy, overwritten after the drain, catches a Framer that keeps p.
		piece := bytes.Clone(stream[:k])
		stream = stream[k:]
		f.Feed(piece)
		for {
			fr, ok, err := f.Next()
			if err != nil {
				return out, err
			}
			if !ok {
				break
			}
			fr.Body = bytes.Clone(fr.Body)
			out = append(out, fr)
		}
		for i := range piece {
			piece[i] = 0xA5
		}
	}
	return out, nil
}

func TestFramerEverySplit(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	stream, want := randStream(r, 200, 300)
	check := func(name string, cut func(int) int) {
		t.Helper()
		f := NewFramer(300)
		got, err := feedSplit(f, stream, cut)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %d frames, want %d (or contents differ)", name, len(got), len(want))
		}
		if f.Buffered() != 0 {
			t.Fatalf("%s: %d bytes still buffered", name, f.Buffered())
		}
	}
	check("whole", func(rest int) int { return rest })
	check("byte by byte", func(rest int) int { return min(rest, 1) })
	for _, size := range []int{2, 15, 16, 17, 79, 1000} {
		check("chunks", func(rest int) int { return min(rest, size) })
	}
	for range 50 {
		check("random", func(rest int) int { return 1 + r.IntN(min(rest, 700)) })
	}
	// Every two-piece split of a short stream.
	short := stream[:2000]
	wantShort, _ := feedSplit(NewFramer(300), short, func(rest int) int { return rest })
	for k := 1; k < len(short); k++ {
		first := true
		got, err := feedSplit(NewFramer(300), short, func(rest int) int {
			if first {
				first = false
				return k
			}
			return rest
		})
		if err != nil || !reflect.DeepEqual(got, wantShort) {
			t.Fatalf("split at %d: %d frames, err %v", k, len(got), err)
		}
	}
}

// TestFramerZeroCopy: whole frames in one Feed are returned in place, without allocating.
func TestFramerZeroCopy(t *testing.T) {
	stream, _ := randStream(rand.New(rand.NewPCG(7, 8)), 64, 64)
	f := NewFramer(64)
	lo, hi := uintptr(unsafe.Pointer(&stream[0])), uintptr(unsafe.Pointer(&stream[len(stream)-1]))
	allocs := testing.AllocsPerRun(100, func() {
		f.Feed(stream)
		for {
			fr, ok, err := f.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if len(fr.Body) > 0 {
				if p := uintptr(unsafe.Pointer(&fr.Body[0])); p < lo || p > hi {
					t.Fatal("body was copied out of the fed slice")
				}
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per Feed", allocs)
	}
}

// TestFramerBoundedBuffer: the assembly buffer never holds more than the frame in progress.
func TestFramerBoundedBuffer(t *testing.T) {
	stream, _ := randStream(rand.New(rand.NewPCG(9, 10)), 2000, 100)
	f := NewFramer(100)
	if _, err := feedSplit(f, stream, func(rest int) int { return min(rest, 333) }); err != nil {
		t.Fatal(err)
	}
	if c := cap(f.buf); c > 2*(HeaderSize+100) {
		t.Fatalf("assembly buffer grew to %d bytes", c)
	}
}

func TestFramerLimits(t *testing.T) {
	exact := AppendFrame(nil, 1, 2, make([]byte, 50))
	t.Run("body of exactly maxBody", func(t *testing.T) {
		got, err := feedSplit(NewFramer(50), exact, func(rest int) int { return min(rest, 7) })
		if err != nil || len(got) != 1 {
			t.Fatalf("%d frames, err %v", len(got), err)
		}
	})
	t.Run("one byte over maxBody", func(t *testing.T) {
		f := NewFramer(49)
		got, err := feedSplit(f, exact, func(rest int) int { return min(rest, 5) })
		if err == nil || !strings.Contains(err.Error(), "wire: frame msgid 1 declares a 50-byte body, limit is 49") {
			t.Fatalf("%d frames, err %v", len(got), err)
		}
		// The header alone decides: nothing of the body was buffered, and the error sticks.
		if f.Buffered() != 0 {
			t.Fatalf("%d bytes buffered", f.Buffered())
		}
		f.Feed(AppendFrame(nil, 1, 2, nil))
		if _, ok, err2 := f.Next(); ok || err2 != err {
			t.Fatalf("after the error: ok=%v err=%v", ok, err2)
		}
	})
	t.Run("huge declared size", func(t *testing.T) {
		f := NewFramer(1 << 16)
		f.Feed(hx(t, "ff ff ff ff | 0c 00 00 00 | 00 x8"))
		if _, ok, err := f.Next(); ok || err == nil || !strings.Contains(err.Error(), "4294967295-byte body") {
			t.Fatalf("ok=%v err=%v", ok, err)
		}
	})
	t.Run("lying size", func(t *testing.T) {
		// The header promises 100 bytes and the peer sends 20: no frame, the bytes wait,
		// and Buffered tells the owner the stream stopped mid-frame.
		f := NewFramer(1 << 16)
		got, err := feedSplit(f, append(hx(t, "64 00 00 00 | 0c 00 00 00 | 00 x8"), make([]byte, 20)...), func(rest int) int { return min(rest, 9) })
		if err != nil || len(got) != 0 || f.Buffered() != 36 {
			t.Fatalf("%d frames, err %v, %d buffered", len(got), err, f.Buffered())
		}
	})
	t.Run("negative maxBody", func(t *testing.T) {
		f := NewFramer(-1)
		f.Feed(AppendFrame(nil, 1, 2, nil))
		if _, _, err := f.Next(); err == nil {
			t.Fatal("empty frame accepted with a negative limit")
		}
	})
}

func TestFramerFeedBeforeDrainPanics(t *testing.T) {
	f := NewFramer(100)
	stream := AppendFrame(AppendFrame(nil, 1, 1, nil), 2, 2, nil)
	f.Feed(stream)
	if _, ok, _ := f.Next(); !ok {
		t.Fatal("no first frame")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Feed over undrained input did not panic")
		}
	}()
	f.Feed(stream)
}

// benchStream is 1024 frames with 64-byte bodies, as the simulator's data path carries.
func benchStream() []byte {
	var stream []byte
	body := make([]byte, 64)
	for i := range 1024 {
		stream = AppendFrame(stream, 10, int64(i), body)
	}
	return stream
}

func BenchmarkFramer(b *testing.B) {
	stream := benchStream()
	for _, bc := range []struct {
		name  string
		chunk int
	}{{"whole-frames", len(stream)}, {"tcp-segments-1460", 1460}, {"tiny-7", 7}} {
		b.Run(bc.name, func(b *testing.B) {
			f := NewFramer(1 << 16)
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			frames := 0
			for b.Loop() {
				for p := stream; len(p) > 0; {
					k := min(len(p), bc.chunk)
					f.Feed(p[:k])
					p = p[k:]
					for {
						_, ok, err := f.Next()
						if err != nil {
							b.Fatal(err)
						}
						if !ok {
							break
						}
						frames++
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(frames), "ns/frame")
		})
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	body := make([]byte, 64)
	dst := make([]byte, 0, HeaderSize+len(body))
	b.ReportAllocs()
	var seq int64
	for b.Loop() {
		seq++
		dst = AppendFrame(dst[:0], 10, seq, body)
	}
}
