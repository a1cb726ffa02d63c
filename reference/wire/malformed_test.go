package wire

import (
	"strings"
	"testing"
)

// body returns the body of the spec vector called name.
func body(t testing.TB, name string) []byte {
	t.Helper()
	for _, v := range specVectors {
		if v.name == name {
			return hx(t, v.wire)[HeaderSize:]
		}
	}
	t.Fatalf("no spec vector %q", name)
	return nil
}

// patch returns a copy of b with the given bytes written at off.
func patch(b []byte, off int, p ...byte) []byte {
	c := append([]byte(nil), b...)
	copy(c[off:], p)
	return c
}

func TestMalformed(t *testing.T) {
	reqSeq := body(t, "Request seq client c0")
	reqOld := body(t, "RequestOld as TLL sends it")
	reqAttr := body(t, "Request one attribute")
	reqBlock := body(t, "Request block")
	reply := body(t, "Reply server s")
	errMsg := body(t, "Error no data")
	decoders := map[int32]func([]byte) (Message, error){}
	for _, id := range []int32{MsgRequest, MsgRequestOld, MsgReply, MsgError, MsgClientDone, MsgHelloReply} {
		decoders[id] = func(b []byte) (Message, error) { return decodeMsg(id, b) }
	}
	cases := []struct {
		name  string
		msgid int32
		body  []byte
		want  string
	}{
		{"Request empty", MsgRequest, nil, "Request: body is 0 bytes"},
		{"Request short", MsgRequest, reqSeq[:34], "Request: body is 34 bytes, fixed part needs 35"},
		{"RequestOld short", MsgRequestOld, reqOld[:33], "RequestOld: body is 33 bytes"},
		{"Reply short", MsgReply, reply[:31], "Reply: body is 31 bytes"},
		{"Error short", MsgError, errMsg[:15], "Error: body is 15 bytes"},
		{"ClientDone short", MsgClientDone, make([]byte, 7), "ClientDone: body is 7 bytes"},
		{"HelloReply short", MsgHelloReply, []byte{1}, "HelloReply: body is 1 bytes"},
		{"HelloReply partial seq", MsgHelloReply, []byte{1, 0, 5, 0, 0}, "HelloReply.seq: body is 5 bytes"},

		{"Request version 2", MsgRequest, patch(reqSeq, 0, 2), "Request.version: 2, want 1"},
		{"Request version 0", MsgRequest, patch(reqSeq, 0, 0), "Request.version: 0"},
		{"RequestOld version 0", MsgRequestOld, patch(reqOld, 0, 0), "RequestOld.version: 0"},
		{"Request tag 4", MsgRequest, patch(reqSeq, 18, 4), "Request.data: unknown union tag 4"},
		{"Request tag -1", MsgRequest, patch(reqSeq, 18, 0xff), "Request.data: unknown union tag -1"},

		{"Request client cut off", MsgRequest, reqSeq[:37], "Request.client: pointer at 2: 3 elements of 1 bytes at 35 end at 38, past the 37-byte limit"},
		{"Request client past end", MsgRequest, patch(reqSeq, 2, 0x22), "Request.client: pointer at 2"},
		{"RequestOld client past end", MsgRequestOld, patch(reqOld, 10, 0x1a), "RequestOld.client: pointer at 10"},
		{"Reply server offset 0xFFFFFFFF", MsgReply, patch(reply, 24, 0xff, 0xff, 0xff, 0xff), "Reply.server: pointer at 24: 2 elements of 1 bytes at 4294967319"},
		{"Error offset 0xFFFFFFFF", MsgError, patch(errMsg, 0, 0xff, 0xff, 0xff, 0xff), "Error.error: pointer at 0"},
		{"Request block past end", MsgRequest, patch(reqBlock, 19, 0x16), "Request.data.block.block: pointer at 19"},
		{"Request attributes count*entity overflow", MsgRequest,
			append(patch(reqSeq, 10, 0x1c, 0, 0, 0, 0xff, 0xff, 0xff, 0xff), 0xff, 0xff, 0xff, 0xff),
			"Request.attributes: pointer at 10: 16777215 elements of 4294967295 bytes"},
		{"Request attributes huge count", MsgRequest, patch(reqAttr, 14, 0xff, 0xff, 0xff), "Request.attributes: pointer at 10: 16777215 elements of 16 bytes"},
		{"Request attributes size word past end", MsgRequest, patch(reqSeq, 10, 0x1a, 0, 0, 0, 1, 0, 0, 0xff), "Request.attributes: pointer at 10: element size word at 36 is past the 38-byte limit"},
		{"Request attributes entity 8", MsgRequest, patch(reqAttr, 17, 8), "Request.attributes: element size 8, want at least 16"},
		{"Request attribute value past end", MsgRequest, patch(reqAttr, 43, 0x0b), "Request.attributes[0].value: pointer at 43"},
		{"Request attribute name entity 2", MsgRequest, patch(reqAttr, 42, 2), "Request.attributes[0].attribute: string pointer at 35 has element size 2, want 1"},
		{"string entity 0", MsgError, patch(errMsg, 7, 0), "Error.error: string pointer at 0 has element size 0, want 1"},

		{"Error string without NUL", MsgError, patch(errMsg, 23, 'x'), "Error.error: string does not end with NUL"},
		{"Reply server without NUL", MsgReply, patch(reply, 33, 'x'), "Reply.server: string does not end with NUL"},
		{"Request client without NUL", MsgRequest, patch(reqSeq, 37, 1), "Request.client: string does not end"},
		{"RequestOld client without NUL", MsgRequestOld, patch(reqOld, 37, 1), "RequestOld.client: string does not end"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := decoders[c.msgid](c.body)
			if err == nil {
				t.Fatalf("decoded %+v, want error %q", m, c.want)
			}
			if !strings.Contains(err.Error(), "wire: "+c.want) {
				t.Fatalf("error %q, want it to contain %q", err, c.want)
			}
		})
	}
}

// helloStream returns TLL's Hello for name with the given bytes written at off.
func helloStream(name string, off int, p ...byte) []byte {
	return patch(AppendHello(nil, name), off, p...)
}

var badHellos = []struct {
	name   string
	stream []byte
	want   string
}{
	{"wrong msgid", helloStream("c0", 4, 12), "Hello: msgid 12, want 100"},
	{"size 9", helloStream("c0", 0, 9), "Hello: frame size 9, want at least 10"},
	{"size past limit", helloStream("c0", 0, 0xf9, 3), "Hello: frame size 1017 exceeds the 1024-byte handshake limit"},
	{"size 0xFFFFFFFF", helloStream("c0", 0, 0xff, 0xff, 0xff, 0xff), "Hello: frame size 4294967295"},
	{"version 2", helloStream("c0", 16, 2), "Hello.version: 2, want 1"},
	{"version 0", helloStream("c0", 16, 0), "Hello.version: 0, want 1"},
	{"name past limit", helloStream("c0", 18, 0xf7, 3), "Hello.name: pointer at 2: 3 elements of 1 bytes at 1017 end at 1020, past the 1008-byte limit"},
	{"name offset 0xFFFFFFFF", helloStream("c0", 18, 0xff, 0xff, 0xff, 0xff), "Hello.name: pointer at 2"},
	{"name entity 2", helloStream("c0", 25, 2), "Hello.name: element size 2, want 1"},
	{"name entity 0", helloStream("c0", 25, 0), "Hello.name: element size 0, want 1"},
	{"name entity 0xFF overflow", append(helloStream("", 18, 9, 0, 0, 0, 1, 0, 0, 0xff), 0xff, 0xff, 0xff, 0xff), "Hello.name: pointer at 2: 1 elements of 4294967295 bytes"},
	{"name without NUL", helloStream("c0", 28, 'x'), "Hello.name: string does not end with NUL"},
}

func TestParseHelloMalformed(t *testing.T) {
	for _, c := range badHellos {
		t.Run(c.name, func(t *testing.T) {
			h, n, err := ParseHello(c.stream)
			if err == nil || err == ErrShort {
				t.Fatalf("parsed %+v n=%d err=%v, want error %q", h, n, err, c.want)
			}
			if !strings.Contains(err.Error(), "wire: "+c.want) {
				t.Fatalf("error %q, want it to contain %q", err, c.want)
			}
			if n != 0 {
				t.Fatalf("n=%d with an error", n)
			}
		})
	}
}
