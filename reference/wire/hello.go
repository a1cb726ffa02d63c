package wire

import (
	"errors"
	"fmt"
)

// MaxHelloSize bounds the whole Hello (header, body and name) as TLL's pub server does: it
// reads the handshake into a 1024-byte buffer.
const MaxHelloSize = 1024

// helloSize is Hello's fixed part and the frame size TLL's client declares: int16 version
// and the name pointer.
const helloSize = 10

// ErrShort reports that ParseHello needs more of the stream before it can decide.
var ErrShort = errors.New("wire: incomplete message, need more bytes")

// Hello opens a pub+tcp subscription (msgid 100).
type Hello struct {
	Version int16
	Name    string // the client's peer parameter, used only for logging
}

// AppendHello appends the Hello frame exactly as TLL's pub client writes it (pitfall P15):
// the header declares a 10-byte body, and the name, always written even when empty, follows
// past that declared end.
func AppendHello(dst []byte, name string) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize+helloSize)...)
	putHeader(dst[start:], helloSize, MsgHello, 0)
	le.PutUint16(dst[start+HeaderSize:], uint16(ProtocolVersion))
	return appendString(dst, start+HeaderSize+2, name)
}

// ParseHello reads the Hello at the start of a connection's stream. Because the name may lie
// past the declared frame, the Hello ends at whichever is further: the declared frame or the
// name's last byte; n is that length. ParseHello returns ErrShort while the stream holds less
// than that, whatever the segmentation. Each check runs as soon as the bytes it needs are
// present, so a malformed Hello is reported without waiting for the rest, and a prefix of a
// stream never yields an error the whole stream would not.
func ParseHello(stream []byte) (h Hello, n int, err error) {
	if len(stream) < HeaderSize {
		return Hello{}, 0, ErrShort
	}
	size, msgid, _ := header(stream)
	if msgid != MsgHello {
		return Hello{}, 0, fmt.Errorf("wire: Hello: msgid %d, want %d", msgid, MsgHello)
	}
	if size < helloSize {
		return Hello{}, 0, fmt.Errorf("wire: Hello: frame size %d, want at least %d", size, helloSize)
	}
	if uint64(size) > MaxHelloSize-HeaderSize {
		return Hello{}, 0, fmt.Errorf("wire: Hello: frame size %d exceeds the %d-byte handshake limit", size, MaxHelloSize)
	}
	if len(stream) < HeaderSize+2 {
		return Hello{}, 0, ErrShort
	}
	h.Version = int16(le.Uint16(stream[HeaderSize:]))
	if err := checkVersion(h.Version, "Hello"); err != nil {
		return Hello{}, 0, err
	}
	if len(stream) < HeaderSize+helloSize {
		return Hello{}, 0, ErrShort
	}
	body := stream[HeaderSize:min(len(stream), MaxHelloSize)]
	start, count, stride, err := span(body, 2, MaxHelloSize-HeaderSize)
	if errors.Is(err, ErrShort) {
		return Hello{}, 0, err
	}
	if err != nil {
		return Hello{}, 0, fmt.Errorf("wire: Hello.name: %w", err)
	}
	if count > 0 && stride != 1 {
		return Hello{}, 0, fmt.Errorf("wire: Hello.name: element size %d, want 1", stride)
	}
	n = HeaderSize + max(int(size), start+count)
	if len(stream) < n {
		return Hello{}, 0, ErrShort
	}
	if h.Name, err = stringField(stream[HeaderSize:n], 2, "Hello.name"); err != nil {
		return Hello{}, 0, err
	}
	return h, n, nil
}

// HelloReply completes the pub+tcp handshake (msgid 101).
type HelloReply struct {
	// Version is written as given. Decoding does not check it, as TLL's client does not.
	Version int16
	// Seq is the newest seq in the server's ring, -1 when the ring is empty or when the reply
	// carries no seq at all.
	Seq int64
}

// MsgID reports MsgHelloReply.
func (HelloReply) MsgID() int32 { return MsgHelloReply }

// AppendBody writes the 10-byte HelloReply body.
func (m HelloReply) AppendBody(dst []byte) []byte {
	dst = le.AppendUint16(dst, uint16(m.Version))
	return le.AppendUint64(dst, uint64(m.Seq))
}

// DecodeHelloReply decodes a HelloReply body. Like TLL's client it accepts a body of just the
// version; a seq that is present only in part is malformed.
func DecodeHelloReply(body []byte) (HelloReply, error) {
	if err := checkFixed(body, 2, "HelloReply"); err != nil {
		return HelloReply{}, err
	}
	m := HelloReply{Version: int16(le.Uint16(body)), Seq: -1}
	switch {
	case len(body) == 2:
	case len(body) < helloSize:
		return HelloReply{}, fmt.Errorf("wire: HelloReply.seq: body is %d bytes, seq needs %d", len(body), helloSize)
	default:
		m.Seq = int64(le.Uint64(body[2:]))
	}
	return m, nil
}
