package wire

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
)

// The decoder targets check that nothing panics and that whatever decodes survives
// encode-then-decode unchanged as a value. The bytes themselves need not round-trip: a
// decoder accepts any layout (tail order, Python-style empty pointers, oversized list
// elements, trailing garbage, the ignored bytes of a union member) while the encoder writes
// only TLL's.

func addBodySeeds(f *testing.F, msgid int32) {
	for _, v := range specVectors {
		if v.msg.MsgID() == msgid {
			f.Add(hx(f, v.wire)[HeaderSize:])
		}
	}
}

func fuzzDecoder[M Message](f *testing.F, msgid int32, decode func([]byte) (M, error)) {
	addBodySeeds(f, msgid)
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := decode(body)
		if err != nil {
			return
		}
		again, err := decode(m.AppendBody(nil))
		if err != nil {
			t.Fatalf("re-encoded %+v does not decode: %v", m, err)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip changed %+v into %+v", m, again)
		}
	})
}

func FuzzDecodeRequest(f *testing.F)    { fuzzDecoder(f, MsgRequest, DecodeRequest) }
func FuzzDecodeRequestOld(f *testing.F) { fuzzDecoder(f, MsgRequestOld, DecodeRequestOld) }
func FuzzDecodeReply(f *testing.F)      { fuzzDecoder(f, MsgReply, DecodeReply) }
func FuzzDecodeError(f *testing.F)      { fuzzDecoder(f, MsgError, DecodeError) }

// FuzzParseHello also checks the segmentation guarantee on one cut per input: a prefix
// yields ErrShort or exactly the whole stream's verdict.
func FuzzParseHello(f *testing.F) {
	for _, c := range goodHellos(f) {
		f.Add(c.stream, uint16(c.n/2))
	}
	for _, c := range badHellos {
		f.Add(c.stream, uint16(20))
	}
	f.Fuzz(func(t *testing.T, stream []byte, cut uint16) {
		h, n, err := ParseHello(stream)
		k := int(cut) % (len(stream) + 1)
		ph, pn, perr := ParseHello(stream[:k])
		switch {
		case errors.Is(perr, ErrShort):
		case perr == nil && err == nil:
			if ph != h || pn != n {
				t.Fatalf("prefix %d parsed %+v n=%d, whole stream %+v n=%d", k, ph, pn, h, n)
			}
		case perr == nil || err == nil || perr.Error() != err.Error():
			t.Fatalf("prefix %d: %v, whole stream: %v", k, perr, err)
		}
		if err != nil {
			return
		}
		if n > len(stream) || n > MaxHelloSize {
			t.Fatalf("consumed %d of %d bytes", n, len(stream))
		}
		enc := AppendHello(nil, h.Name)
		again, an, err := ParseHello(enc)
		if err != nil || again != h || an != len(enc) {
			t.Fatalf("re-encoded %+v: %+v n=%d err=%v", h, again, an, err)
		}
	})
}

// FuzzFramer feeds the same bytes whole and in pieces cut by a seeded source; both must yield
// the same frames and the same error, and the frames must re-encode to the bytes consumed.
func FuzzFramer(f *testing.F) {
	var all []byte
	for _, v := range specVectors {
		all = append(all, hx(f, v.wire)...)
	}
	f.Add(all, uint64(1))
	f.Add(hx(f, "ff ff ff ff | 0c 00 00 00 | 00 x8"), uint64(2))
	f.Add(hx(f, "64 00 00 00 | 0c 00 00 00 | 00 x8 | 00 00"), uint64(3))
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64) {
		const maxBody = 200
		whole, werr := feedSplit(NewFramer(maxBody), stream, func(rest int) int { return rest })
		r := rand.New(rand.NewPCG(seed, seed))
		split, serr := feedSplit(NewFramer(maxBody), stream, func(rest int) int { return 1 + r.IntN(rest) })
		if !reflect.DeepEqual(whole, split) || (werr == nil) != (serr == nil) || werr != nil && werr.Error() != serr.Error() {
			t.Fatalf("whole: %d frames, %v; split: %d frames, %v", len(whole), werr, len(split), serr)
		}
		var enc []byte
		for _, fr := range whole {
			if len(fr.Body) > maxBody {
				t.Fatalf("frame of %d bytes passed a %d limit", len(fr.Body), maxBody)
			}
			enc = AppendFrame(enc, fr.MsgID, fr.Seq, fr.Body)
		}
		if !bytes.HasPrefix(stream, enc) {
			t.Fatal("frames do not re-encode to the stream they came from")
		}
	})
}
