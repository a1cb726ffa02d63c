package wire

import (
	"fmt"
	"strconv"
)

// Message ids of the protocol messages (spec 4.2, 4.3).
const (
	MsgRequestOld int32 = 11
	MsgRequest    int32 = 12
	MsgReply      int32 = 20
	MsgError      int32 = 30
	MsgClientDone int32 = 40
	MsgHello      int32 = 100
	MsgHelloReply int32 = 101
)

// ProtocolVersion is the only value of the Version enum; requests and Hello carrying anything
// else are rejected (pitfall P26).
const ProtocolVersion int16 = 1

// Fixed parts of the messages (spec 4.3). TLL's client sends RequestOld in a buffer sized for
// Request, so its body has one zero byte after the fixed part before the tail.
const (
	requestOldSize = 34
	requestSize    = 35
	replySize      = 32
	errorSize      = 16
	clientDoneSize = 8
	attributeSize  = 16
)

// Message is a protocol message that AppendMsg can frame.
type Message interface {
	MsgID() int32
	// AppendBody appends the message body, as TLL lays it out, to dst.
	AppendBody(dst []byte) []byte
}

// AppendMsg appends m as a complete std frame with seq 0, as every protocol message carries.
// Hello is not a Message, because its frame deliberately understates its size: use
// AppendHello.
func AppendMsg(dst []byte, m Message) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	dst = m.AppendBody(dst)
	putHeader(dst[start:], uint32(len(dst)-start-HeaderSize), m.MsgID(), 0)
	return dst
}

// Attribute is one element of a request's attributes list. TLL's server never reads them.
type Attribute struct {
	Attribute string
	Value     string
}

func appendAttributes(dst []byte, pos int, attrs []Attribute) []byte {
	if len(attrs) == 0 {
		return dst
	}
	first := len(dst)
	putPtr(dst[pos:], first-pos, len(attrs), attributeSize)
	dst = append(dst, make([]byte, len(attrs)*attributeSize)...)
	for i, a := range attrs {
		el := first + i*attributeSize
		dst = appendOptString(dst, el, a.Attribute)
		dst = appendOptString(dst, el+8, a.Value)
	}
	return dst
}

// decodeAttributes accepts elements larger than an Attribute (a writer with a newer scheme
// may append fields) and reads the first attributeSize bytes of each.
func decodeAttributes(body []byte, pos int, field string) ([]Attribute, error) {
	start, n, stride, err := span(body, pos, len(body))
	if err != nil {
		return nil, fmt.Errorf("wire: %s: %w", field, err)
	}
	if n == 0 {
		return nil, nil
	}
	if stride < attributeSize {
		return nil, fmt.Errorf("wire: %s: element size %d, want at least %d", field, stride, attributeSize)
	}
	attrs := make([]Attribute, n)
	for i := range attrs {
		el := start + i*stride
		if attrs[i].Attribute, err = decodeString(body, el); err != nil {
			return nil, fmt.Errorf("wire: %s[%d].attribute: %w", field, i, err)
		}
		if attrs[i].Value, err = decodeString(body, el+8); err != nil {
			return nil, fmt.Errorf("wire: %s[%d].value: %w", field, i, err)
		}
	}
	return attrs, nil
}

// checkFixed rejects a body shorter than its message's fixed part.
func checkFixed(body []byte, size int, msg string) error {
	if len(body) < size {
		return fmt.Errorf("wire: %s: body is %d bytes, fixed part needs %d", msg, len(body), size)
	}
	return nil
}

func checkVersion(v int16, msg string) error {
	if v != ProtocolVersion {
		return fmt.Errorf("wire: %s.version: %d, want %d", msg, v, ProtocolVersion)
	}
	return nil
}

func stringField(body []byte, pos int, field string) (string, error) {
	s, err := decodeString(body, pos)
	if err != nil {
		return "", fmt.Errorf("wire: %s: %w", field, err)
	}
	return s, nil
}

// RequestKind is the tag of Request's Data union: what the client wants history from.
type RequestKind int8

const (
	ReqSeq     RequestKind = 0 // from Request.Seq
	ReqBlock   RequestKind = 1 // from block Request.Block, Request.Index points back
	ReqInitial RequestKind = 2 // from the first stored message
	ReqLast    RequestKind = 3 // the last stored message
)

func (k RequestKind) String() string {
	switch k {
	case ReqSeq:
		return "seq"
	case ReqBlock:
		return "block"
	case ReqInitial:
		return "initial"
	case ReqLast:
		return "last"
	}
	return "RequestKind(" + strconv.Itoa(int(k)) + ")"
}

// Request is the new-protocol request (msgid 12). Only the fields of Kind are encoded.
type Request struct {
	// Version is written as given, so a harness can send a bad one; decoding requires
	// ProtocolVersion.
	Version    int16
	Client     string
	Attributes []Attribute
	// Kind is written as given, so a harness can send an unknown tag; decoding rejects one.
	Kind  RequestKind
	Seq   uint64
	Block string
	Index int64
}

// MsgID reports MsgRequest.
func (Request) MsgID() int32 { return MsgRequest }

// AppendBody writes the 35-byte fixed part, then the tail in the order TLL's client sets the
// fields: client, then block name. Attributes, which TLL never sends, go between the two. An
// empty Client or Block leaves its pointer unset.
func (m Request) AppendBody(dst []byte) []byte {
	b := len(dst)
	dst = append(dst, make([]byte, requestSize)...)
	le.PutUint16(dst[b:], uint16(m.Version))
	dst[b+18] = byte(m.Kind)
	switch m.Kind {
	case ReqSeq:
		le.PutUint64(dst[b+19:], m.Seq)
	case ReqBlock:
		le.PutUint64(dst[b+27:], uint64(m.Index))
	}
	dst = appendOptString(dst, b+2, m.Client)
	dst = appendAttributes(dst, b+10, m.Attributes)
	if m.Kind == ReqBlock {
		dst = appendOptString(dst, b+19, m.Block)
	}
	return dst
}

// DecodeRequest decodes a Request body.
func DecodeRequest(body []byte) (Request, error) {
	var m Request
	var err error
	if err = checkFixed(body, requestSize, "Request"); err != nil {
		return Request{}, err
	}
	m.Version = int16(le.Uint16(body))
	if err = checkVersion(m.Version, "Request"); err != nil {
		return Request{}, err
	}
	if m.Client, err = stringField(body, 2, "Request.client"); err != nil {
		return Request{}, err
	}
	if m.Attributes, err = decodeAttributes(body, 10, "Request.attributes"); err != nil {
		return Request{}, err
	}
	m.Kind = RequestKind(body[18])
	switch m.Kind {
	case ReqSeq:
		m.Seq = le.Uint64(body[19:])
	case ReqBlock:
		if m.Block, err = stringField(body, 19, "Request.data.block.block"); err != nil {
			return Request{}, err
		}
		m.Index = int64(le.Uint64(body[27:]))
	case ReqInitial, ReqLast:
	default:
		return Request{}, fmt.Errorf("wire: Request.data: unknown union tag %d", int8(m.Kind))
	}
	return m, nil
}

// RequestOld is the old-protocol request (msgid 11). TLL's server turns a negative Seq into
// an error; that is a semantic check left to the server, not a decoding failure.
type RequestOld struct {
	// Version is written as given; decoding requires ProtocolVersion.
	Version    int16
	Seq        int64
	Client     string
	Block      string
	Attributes []Attribute
}

// MsgID reports MsgRequestOld.
func (RequestOld) MsgID() int32 { return MsgRequestOld }

// AppendBody writes the body as TLL's client does: 34 fixed bytes plus a zero pad byte, then
// client, block name and attributes. Empty strings leave their pointers unset.
func (m RequestOld) AppendBody(dst []byte) []byte {
	b := len(dst)
	dst = append(dst, make([]byte, requestSize)...)
	le.PutUint16(dst[b:], uint16(m.Version))
	le.PutUint64(dst[b+2:], uint64(m.Seq))
	dst = appendOptString(dst, b+10, m.Client)
	dst = appendOptString(dst, b+18, m.Block)
	return appendAttributes(dst, b+26, m.Attributes)
}

// DecodeRequestOld decodes a RequestOld body; only the 34-byte fixed part is required.
func DecodeRequestOld(body []byte) (RequestOld, error) {
	var m RequestOld
	var err error
	if err = checkFixed(body, requestOldSize, "RequestOld"); err != nil {
		return RequestOld{}, err
	}
	m.Version = int16(le.Uint16(body))
	if err = checkVersion(m.Version, "RequestOld"); err != nil {
		return RequestOld{}, err
	}
	m.Seq = int64(le.Uint64(body[2:]))
	if m.Client, err = stringField(body, 10, "RequestOld.client"); err != nil {
		return RequestOld{}, err
	}
	if m.Block, err = stringField(body, 18, "RequestOld.block"); err != nil {
		return RequestOld{}, err
	}
	if m.Attributes, err = decodeAttributes(body, 26, "RequestOld.attributes"); err != nil {
		return RequestOld{}, err
	}
	return m, nil
}

// Reply accepts a request (msgid 20).
type Reply struct {
	LastSeq      int64
	RequestedSeq int64
	BlockSeq     int64
	// Server is never set by TLL; left empty, the body is exactly 32 bytes.
	Server string
}

// MsgID reports MsgReply.
func (Reply) MsgID() int32 { return MsgReply }

// AppendBody writes the Reply body.
func (m Reply) AppendBody(dst []byte) []byte {
	b := len(dst)
	dst = le.AppendUint64(dst, uint64(m.LastSeq))
	dst = le.AppendUint64(dst, uint64(m.RequestedSeq))
	dst = le.AppendUint64(dst, uint64(m.BlockSeq))
	dst = append(dst, make([]byte, ptrSize)...)
	return appendOptString(dst, b+24, m.Server)
}

// DecodeReply decodes a Reply body.
func DecodeReply(body []byte) (Reply, error) {
	if err := checkFixed(body, replySize, "Reply"); err != nil {
		return Reply{}, err
	}
	server, err := stringField(body, 24, "Reply.server")
	if err != nil {
		return Reply{}, err
	}
	return Reply{
		LastSeq:      int64(le.Uint64(body)),
		RequestedSeq: int64(le.Uint64(body[8:])),
		BlockSeq:     int64(le.Uint64(body[16:])),
		Server:       server,
	}, nil
}

// Error rejects a request (msgid 30); the server closes the connection after it.
type Error struct {
	Text   string // the scheme's "error" field
	Server string // never set by TLL
}

// MsgID reports MsgError.
func (Error) MsgID() int32 { return MsgError }

// AppendBody writes the Error body: error text first in the tail, then server.
func (m Error) AppendBody(dst []byte) []byte {
	b := len(dst)
	dst = append(dst, make([]byte, errorSize)...)
	dst = appendOptString(dst, b, m.Text)
	return appendOptString(dst, b+8, m.Server)
}

// DecodeError decodes an Error body.
func DecodeError(body []byte) (Error, error) {
	var m Error
	var err error
	if err = checkFixed(body, errorSize, "Error"); err != nil {
		return Error{}, err
	}
	if m.Text, err = stringField(body, 0, "Error.error"); err != nil {
		return Error{}, err
	}
	if m.Server, err = stringField(body, 8, "Error.server"); err != nil {
		return Error{}, err
	}
	return m, nil
}

// ClientDone tells the server the client has caught up (msgid 40). TLL's server ignores Seq.
type ClientDone struct {
	Seq int64
}

// MsgID reports MsgClientDone.
func (ClientDone) MsgID() int32 { return MsgClientDone }

// AppendBody writes the ClientDone body.
func (m ClientDone) AppendBody(dst []byte) []byte {
	return le.AppendUint64(dst, uint64(m.Seq))
}

// DecodeClientDone decodes a ClientDone body.
func DecodeClientDone(body []byte) (ClientDone, error) {
	if err := checkFixed(body, clientDoneSize, "ClientDone"); err != nil {
		return ClientDone{}, err
	}
	return ClientDone{Seq: int64(le.Uint64(body))}, nil
}
