// Package wire encodes and decodes what stream+ puts on the wire: TLL's 16-byte "std" frame,
// the request-channel messages (Request, RequestOld, Reply, Error, ClientDone) and the pub+tcp
// handshake (Hello, HelloReply), byte-exact with section 4 of spec/stream-protocol.md.
//
// Decoders treat every input as hostile: they accept any layout a conforming writer may
// produce (tail in any order, Python-style empty pointers), check every offset pointer
// against the body, and report malformed input as a descriptive error, never a panic.
// Encoders write exactly what TLL writes, so the reference interoperates with it.
package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// HeaderSize is the length of the std frame header: uint32 size | int32 msgid | int64 seq.
const HeaderSize = 16

var le = binary.LittleEndian

// AppendFrame appends a std frame carrying body to dst. It panics if body does not fit the
// 32-bit size field, since no receiver could accept such a frame.
func AppendFrame(dst []byte, msgid int32, seq int64, body []byte) []byte {
	if uint64(len(body)) > math.MaxUint32 {
		panic(fmt.Sprintf("wire: frame body of %d bytes exceeds the 32-bit size field", len(body)))
	}
	// One allocation for a nil dst, where growing it field by field made three: the server
	// frames every post this way.
	dst = slices.Grow(dst, HeaderSize+len(body))
	dst = le.AppendUint32(dst, uint32(len(body)))
	dst = le.AppendUint32(dst, uint32(msgid))
	dst = le.AppendUint64(dst, uint64(seq))
	return append(dst, body...)
}

func putHeader(b []byte, size uint32, msgid int32, seq int64) {
	le.PutUint32(b, size)
	le.PutUint32(b[4:], uint32(msgid))
	le.PutUint64(b[8:], uint64(seq))
}

// header reads the std header at the start of b, which must hold HeaderSize bytes.
func header(b []byte) (size uint32, msgid int32, seq int64) {
	return le.Uint32(b), int32(le.Uint32(b[4:])), int64(le.Uint64(b[8:]))
}

// Frame is one std frame. Body aliases either the Framer's buffer or the caller's input.
type Frame struct {
	MsgID int32
	Seq   int64
	Body  []byte
}

// Framer splits a byte stream that arrives in arbitrary pieces into frames.
//
// It is built for the hot path: when a Feed holds whole frames and nothing is pending, Next
// returns bodies that point straight into the fed slice, with no copy. Only a frame split
// across Feeds is assembled in an internal buffer, and that buffer never holds more than one
// frame, so its size is bounded by HeaderSize plus maxBody.
//
// The price of not copying is one rule: after Feed(p), call Next until it returns ok == false
// or an error before p becomes invalid (typically before returning from the receive callback
// that owns p). By the time Next returns ok == false it has copied the incomplete frame at the
// end of p, if any, and p is no longer needed. Feed panics if the previous input was not drained, because the bytes it would need are
// already gone.
type Framer struct {
	maxBody int
	buf     []byte // one frame being assembled across Feeds; buf[0] is a frame's first byte
	done    bool   // buf holds a frame Next has returned; it is discarded on the next call
	in      []byte // part of the last Feed not yet consumed; borrowed from the caller
	err     error  // sticky: a stream that has lost framing cannot be resynchronised
}

// NewFramer returns a Framer that rejects any frame whose declared body exceeds maxBody bytes,
// the analogue of TLL's receive-buffer limit (EMSGSIZE).
func NewFramer(maxBody int) *Framer {
	return &Framer{maxBody: maxBody}
}

// Feed hands the Framer the next piece of the stream. p is only borrowed: see the type's
// documentation for how long it must stay valid. After Next has reported an error, Feed
// discards its input.
func (f *Framer) Feed(p []byte) {
	f.release()
	if len(f.in) > 0 {
		panic("wire: Framer.Feed called before Next drained the previous input")
	}
	if f.err == nil {
		f.in = p
	}
}

// Next returns the next complete frame. ok is false when more input is needed. A frame that
// declares a body larger than maxBody is an error, reported as soon as its header is seen and
// on every later call. The returned Body stays valid until the next call to Feed, Next or
// NextInto, and no longer than the fed slice it may point into.
func (f *Framer) Next() (fr Frame, ok bool, err error) {
	ok, err = f.NextInto(&fr)
	return fr, ok, err
}

// NextInto is Next for hot loops: it writes the frame to *fr, only when ok. A Frame is too
// large for the compiler to keep in registers, and the copy of one returned by value stalls
// on store forwarding, which was a third of a client's time per frame.
func (f *Framer) NextInto(fr *Frame) (ok bool, err error) {
	f.release()
	if f.err != nil {
		return false, f.err
	}
	// The zero-copy path is kept here rather than in assemble, a call deeper. Bodies are
	// capped so that a caller appending to one cannot overwrite the next frame.
	if len(f.buf) == 0 {
		if len(f.in) >= HeaderSize {
			size, msgid, seq := header(f.in)
			if int64(size) <= int64(f.maxBody) && len(f.in) >= HeaderSize+int(size) {
				need := HeaderSize + int(size)
				fr.MsgID, fr.Seq, fr.Body = msgid, seq, f.in[HeaderSize:need:need]
				f.in = f.in[need:]
				return true, nil
			}
		} else if len(f.in) == 0 {
			// Drained: the call that ends every Feed, so it skips assemble.
			return false, nil
		}
	}
	return f.assemble(fr)
}

// assemble handles everything but a whole frame at the front of unbuffered input: it moves
// input into the buffer until one frame is complete, and rejects an oversized frame before
// any of its body is buffered.
func (f *Framer) assemble(fr *Frame) (bool, error) {
	if len(f.buf) < HeaderSize {
		f.take(HeaderSize - len(f.buf))
		if len(f.buf) < HeaderSize {
			return false, nil
		}
	}
	size, msgid, seq := header(f.buf)
	if int64(size) > int64(f.maxBody) {
		f.err = fmt.Errorf("wire: frame msgid %d declares a %d-byte body, limit is %d", msgid, size, f.maxBody)
		f.in = nil
		f.buf = f.buf[:0]
		return false, f.err
	}
	need := HeaderSize + int(size)
	f.buf = slices.Grow(f.buf, need-len(f.buf))
	f.take(need - len(f.buf))
	if len(f.buf) < need {
		return false, nil
	}
	f.done = true
	fr.MsgID, fr.Seq, fr.Body = msgid, seq, f.buf[HeaderSize:need:need]
	return true, nil
}

// take moves up to n bytes from the input into the assembly buffer.
func (f *Framer) take(n int) {
	n = min(n, len(f.in))
	f.buf = append(f.buf, f.in[:n]...)
	f.in = f.in[n:]
}

// release drops the frame returned by the previous Next from the assembly buffer.
func (f *Framer) release() {
	if f.done {
		f.buf = f.buf[:0]
		f.done = false
	}
}

// Buffered reports how many bytes have been fed but not yet returned as frames. A non-zero
// value when the connection closes means the peer stopped in the middle of a frame.
func (f *Framer) Buffered() int {
	n := len(f.in)
	if !f.done {
		n += len(f.buf)
	}
	return n
}
