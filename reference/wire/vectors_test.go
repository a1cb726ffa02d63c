package wire

import (
	"bytes"
	"reflect"
	"testing"
)

// specVectors are the worked examples of spec 4.7, header included, transcribed in the
// spec's own notation.
var specVectors = []struct {
	name string
	msg  Message
	wire string
}{
	{"Request seq client c0", Request{Version: 1, Client: "c0", Kind: ReqSeq, Seq: 100}, `
		26 00 00 00 | 0c 00 00 00 | 00 x8
		01 00 | 21 00 00 00 03 00 00 01 | 00 x8 | 00 | 64 00 00 00 00 00 00 00 | 00 x8 | 63 30 00`},
	{"Reply server s", Reply{LastSeq: 130, RequestedSeq: 100, BlockSeq: -1, Server: "s"}, `
		22 00 00 00 | 14 00 00 00 | 00 x8
		82 00 00 00 00 00 00 00 | 64 00 00 00 00 00 00 00 | ff x8 | 08 00 00 00 02 00 00 01 | 73 00`},
	{"Reply as TLL sends it", Reply{LastSeq: 130, RequestedSeq: 100, BlockSeq: -1}, `
		20 00 00 00 | 14 00 00 00 | 00 x8
		82 00 00 00 00 00 00 00 | 64 00 00 00 00 00 00 00 | ff x8 | 00 x8`},
	{"RequestOld as TLL sends it", RequestOld{Version: 1, Seq: 100, Client: "c0"}, `
		26 00 00 00 | 0b 00 00 00 | 00 x8
		01 00 | 64 00 00 00 00 00 00 00 | 19 00 00 00 03 00 00 01 | 00 x8 | 00 x8 | 00 | 63 30 00`},
	{"Request block", Request{Version: 1, Client: "test", Kind: ReqBlock, Block: "default", Index: 0}, `
		30 00 00 00 | 0c 00 00 00 | 00 x8
		01 00 | 21 00 00 00 05 00 00 01 | 00 x8 | 01 | 15 00 00 00 08 00 00 01 | 00 x8
		74 65 73 74 00 | 64 65 66 61 75 6c 74 00`},
	{"Request initial", Request{Version: 1, Kind: ReqInitial}, `
		23 00 00 00 | 0c 00 00 00 | 00 x8
		01 00 | 00 x16 | 02 | 00 x16`},
	{"Request last", Request{Version: 1, Kind: ReqLast}, `
		23 00 00 00 | 0c 00 00 00 | 00 x8
		01 00 | 00 x16 | 03 | 00 x16`},
	{"Request one attribute", Request{Version: 1, Attributes: []Attribute{{"k", "v"}}, Kind: ReqSeq, Seq: 5}, `
		37 00 00 00 | 0c 00 00 00 | 00 x8
		01 00 | 00 x8 | 19 00 00 00 01 00 00 10
		00 | 05 00 00 00 00 00 00 00 | 00 x8
		10 00 00 00 02 00 00 01 | 0a 00 00 00 02 00 00 01
		6b 00 76 00`},
	{"Error no data", Error{Text: "no data"}, `
		18 00 00 00 | 1e 00 00 00 | 00 x8
		10 00 00 00 08 00 00 01 | 00 x8 | 6e 6f 20 64 61 74 61 00`},
	{"ClientDone 130", ClientDone{Seq: 130}, `
		08 00 00 00 | 28 00 00 00 | 00 x8 | 82 00 00 00 00 00 00 00`},
	{"HelloReply 130", HelloReply{Version: 1, Seq: 130}, `
		0a 00 00 00 | 65 00 00 00 | 00 x8 | 01 00 | 82 00 00 00 00 00 00 00`},
	{"HelloReply empty ring", HelloReply{Version: 1, Seq: -1}, `
		0a 00 00 00 | 65 00 00 00 | 00 x8 | 01 00 | ff x8`},
}

// helloVectors are the pub Hello examples of spec 4.7: the frame says 10 either way.
var helloVectors = []struct {
	name string
	peer string
	wire string
}{
	{"empty peer", "", `0a 00 00 00 | 64 00 00 00 | 00 x8 | 01 00 | 08 00 00 00 01 00 00 01 | 00`},
	{"peer c0", "c0", `0a 00 00 00 | 64 00 00 00 | 00 x8 | 01 00 | 08 00 00 00 03 00 00 01 | 63 30 00`},
}

func TestSpecVectors(t *testing.T) {
	for _, v := range specVectors {
		t.Run(v.name, func(t *testing.T) {
			want := hx(t, v.wire)
			got := AppendMsg(nil, v.msg)
			if !bytes.Equal(got, want) {
				t.Fatalf("encoded\n got % x\nwant % x", got, want)
			}
			size, msgid, seq := header(want)
			if int(size) != len(want)-HeaderSize || msgid != v.msg.MsgID() || seq != 0 {
				t.Fatalf("header size=%d msgid=%d seq=%d", size, msgid, seq)
			}
			m, err := decodeMsg(msgid, want[HeaderSize:])
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m, v.msg) {
				t.Fatalf("decoded %+v, want %+v", m, v.msg)
			}
		})
	}
}

func TestHelloVectors(t *testing.T) {
	for _, v := range helloVectors {
		t.Run(v.name, func(t *testing.T) {
			want := hx(t, v.wire)
			if got := AppendHello(nil, v.peer); !bytes.Equal(got, want) {
				t.Fatalf("encoded\n got % x\nwant % x", got, want)
			}
			h, n, err := ParseHello(want)
			if err != nil {
				t.Fatal(err)
			}
			if h != (Hello{Version: 1, Name: v.peer}) || n != len(want) {
				t.Fatalf("parsed %+v n=%d, want name %q n=%d", h, n, v.peer, len(want))
			}
		})
	}
}

// TestHelloReplyWithoutSeq covers the 2-byte reply TLL's client accepts.
func TestHelloReplyWithoutSeq(t *testing.T) {
	m, err := DecodeHelloReply([]byte{1, 0})
	if err != nil {
		t.Fatal(err)
	}
	if m != (HelloReply{Version: 1, Seq: -1}) {
		t.Fatalf("got %+v", m)
	}
}

// TestAppendAfterExistingBytes checks that pointers are relative to the body, not to dst.
func TestAppendAfterExistingBytes(t *testing.T) {
	for _, v := range specVectors {
		prefix := []byte("prefix")
		got := AppendMsg(bytes.Clone(prefix), v.msg)
		if want := append(prefix, hx(t, v.wire)...); !bytes.Equal(got, want) {
			t.Errorf("%s: got % x, want % x", v.name, got, want)
		}
	}
	for _, v := range helloVectors {
		got := AppendHello([]byte{9}, v.peer)
		if want := append([]byte{9}, hx(t, v.wire)...); !bytes.Equal(got, want) {
			t.Errorf("Hello %s: got % x, want % x", v.name, got, want)
		}
	}
}

func TestAppendFrame(t *testing.T) {
	got := AppendFrame([]byte{0xAA}, -2, 0x0102030405060708, []byte{7, 8})
	want := hx(t, "aa | 02 00 00 00 | fe ff ff ff | 08 07 06 05 04 03 02 01 | 07 08")
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x, want % x", got, want)
	}
}
