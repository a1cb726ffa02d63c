package wire

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// hx reads bytes in the spec's notation: hex pairs, "|" as a visual separator, and "xN"
// repeating the previous byte until it appears N times, so "00 x8" is eight zero bytes.
func hx(t testing.TB, s string) []byte {
	t.Helper()
	var out []byte
	for _, tok := range strings.Fields(s) {
		switch {
		case tok == "|":
		case tok[0] == 'x':
			n, err := strconv.Atoi(tok[1:])
			if err != nil || len(out) == 0 {
				t.Fatalf("hx: bad repeat %q", tok)
			}
			for range n - 1 {
				out = append(out, out[len(out)-1])
			}
		default:
			b, err := hex.DecodeString(tok)
			if err != nil {
				t.Fatalf("hx: %v", err)
			}
			out = append(out, b...)
		}
	}
	return out
}

// decodeMsg picks the decoder for a request-channel or pub protocol message.
func decodeMsg(msgid int32, body []byte) (Message, error) {
	switch msgid {
	case MsgRequestOld:
		return DecodeRequestOld(body)
	case MsgRequest:
		return DecodeRequest(body)
	case MsgReply:
		return DecodeReply(body)
	case MsgError:
		return DecodeError(body)
	case MsgClientDone:
		return DecodeClientDone(body)
	case MsgHelloReply:
		return DecodeHelloReply(body)
	}
	panic("decodeMsg: no decoder for msgid " + strconv.Itoa(int(msgid)))
}
