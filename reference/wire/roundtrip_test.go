package wire

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// randString draws any bytes, NUL included: decoders return everything before the final NUL.
func randString(r *rand.Rand, maxLen int) string {
	b := make([]byte, r.IntN(maxLen+1))
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return string(b)
}

func randAttributes(r *rand.Rand) []Attribute {
	n := r.IntN(4)
	if n == 0 {
		return nil
	}
	attrs := make([]Attribute, n)
	for i := range attrs {
		attrs[i] = Attribute{randString(r, 6), randString(r, 6)}
	}
	return attrs
}

func randMessage(r *rand.Rand) Message {
	switch r.IntN(6) {
	case 0:
		m := Request{Version: ProtocolVersion, Client: randString(r, 12), Attributes: randAttributes(r), Kind: RequestKind(r.IntN(4))}
		switch m.Kind {
		case ReqSeq:
			m.Seq = r.Uint64()
		case ReqBlock:
			m.Block, m.Index = randString(r, 12), r.Int64()-r.Int64()
		}
		return m
	case 1:
		return RequestOld{Version: ProtocolVersion, Seq: r.Int64() - r.Int64(), Client: randString(r, 12), Block: randString(r, 12), Attributes: randAttributes(r)}
	case 2:
		return Reply{LastSeq: r.Int64() - r.Int64(), RequestedSeq: r.Int64(), BlockSeq: -r.Int64(), Server: randString(r, 12)}
	case 3:
		return Error{Text: randString(r, 40), Server: randString(r, 12)}
	case 4:
		return ClientDone{Seq: r.Int64() - r.Int64()}
	default:
		return HelloReply{Version: int16(r.UintN(1 << 16)), Seq: r.Int64() - r.Int64()}
	}
}

func TestRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		m := randMessage(r)
		frame := AppendMsg(nil, m)
		size, msgid, seq := header(frame)
		if int(size) != len(frame)-HeaderSize || msgid != m.MsgID() || seq != 0 {
			t.Fatalf("#%d %T: header size=%d msgid=%d seq=%d, frame %d bytes", i, m, size, msgid, seq, len(frame))
		}
		got, err := decodeMsg(msgid, frame[HeaderSize:])
		if err != nil {
			t.Fatalf("#%d %+v: %v", i, m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("#%d: decoded %+v, want %+v", i, got, m)
		}
	}
}

func TestHelloRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		name := randString(r, MaxHelloSize-HeaderSize-helloSize-1)
		stream := AppendHello(nil, name)
		h, n, err := ParseHello(stream)
		if err != nil || n != len(stream) || h != (Hello{Version: 1, Name: name}) {
			t.Fatalf("name of %d bytes: %+v n=%d err=%v", len(name), h, n, err)
		}
	}
}

// TestDecodeForeignLayout feeds layouts TLL's C++ writer never produces but a conforming
// writer may: tail in reverse order, Python-style empty pointers that carry an offset and an
// entity, and list elements announced through the 0xFF entity, larger than an Attribute.
func TestDecodeForeignLayout(t *testing.T) {
	req := hx(t, `
		01 00
		56 00 00 00 00 00 00 01
		1c 00 00 00 02 00 00 ff
		01 | 10 00 00 00 03 00 00 01 | 07 00 00 00 00 00 00 00
		62 30 00
		14 00 00 00
		2c 00 00 00 02 00 00 01 | 20 00 00 00 00 00 00 01 | ee ee ee ee
		16 00 00 00 02 00 00 01 | 0c 00 00 00 02 00 00 01 | ee ee ee ee
		79 00 | 78 00 | 6b 00`)
	// client (at 2): empty, Python style. attributes (at 10) -> 38: element size 20, elements
	// at 42 and 62. block (at 19) -> 35 "b0". Element 0: attribute (42) -> 86 "k", value
	// (50) empty with an offset. Element 1: attribute (62) -> 84 "x", value (70) -> 82 "y".
	m, err := DecodeRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	want := Request{Version: 1, Attributes: []Attribute{{"k", ""}, {"x", "y"}}, Kind: ReqBlock, Block: "b0", Index: 7}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("Request: got %+v, want %+v", m, want)
	}

	// Error with server stored before error.
	e, err := DecodeError(hx(t, `12 00 00 00 02 00 00 01 | 08 00 00 00 02 00 00 01 | 73 00 | 65 00`))
	if err != nil {
		t.Fatal(err)
	}
	if e != (Error{Text: "e", Server: "s"}) {
		t.Fatalf("Error: got %+v", e)
	}
}

// TestEncodeEmptyStrings pins down when an empty string is written: Hello always stores its
// name (the lone NUL of the spec example), other messages leave an empty field unset.
func TestEncodeEmptyStrings(t *testing.T) {
	body := Request{Version: 1, Kind: ReqBlock, Attributes: []Attribute{{}}}.AppendBody(nil)
	if want := requestSize + attributeSize; len(body) != want {
		t.Fatalf("Request with empty strings: %d bytes, want %d: % x", len(body), want, body)
	}
	if body := (Error{}).AppendBody(nil); len(body) != errorSize {
		t.Fatalf("empty Error: % x", body)
	}
}

func TestEncodeOversizedStringPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a string beyond the 24-bit pointer size")
		}
	}()
	Error{Text: string(make([]byte, maxPtrCount))}.AppendBody(nil)
}

func TestRequestKindString(t *testing.T) {
	for k, want := range map[RequestKind]string{ReqSeq: "seq", ReqBlock: "block", ReqInitial: "initial", ReqLast: "last", -1: "RequestKind(-1)"} {
		if got := k.String(); got != want {
			t.Errorf("%d: %q, want %q", int8(k), got, want)
		}
	}
}
