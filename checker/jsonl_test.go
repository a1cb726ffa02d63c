package checker

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// everyKind is one event of each kind, with the awkward values each field can hold.
func everyKind() History {
	return History{
		{T: 0, Node: "srv", Kind: EvPost, Seq: 10, MsgID: 7, Sum: math.MaxUint32},
		{T: 1, Node: "srv", Kind: EvPostOK, Seq: 10, MsgID: math.MinInt32, Sum: 0},
		{T: 1, Node: "srv", Kind: EvPostOK, Seq: 11, MsgID: 1, Sum: 2, Name: PostSynced},
		{T: 2, Node: "srv", Kind: EvPostErr, Seq: 5, MsgID: math.MaxInt32, Reason: "seq 5 not after 10"},
		{T: 2, Node: "srv", Kind: EvPostErr, Seq: 6, MsgID: 1},
		{T: 3, Node: "c1", Session: 1, Kind: EvOpen, Mode: ModeSeq, ReqSeq: -1},
		{T: 3, Node: "c1", Session: 2, Kind: EvOpen, Mode: ModeSeqData, ReqSeq: 10, Name: OpenReopen},
		{T: 4, Node: "c1", Session: 1, Kind: EvDeliver, Seq: math.MinInt64, MsgID: -3, Sum: 1},
		{T: 5, Node: "c1", Session: 1, Kind: EvControl, Name: CtlOnline, Seq: -1},
		{T: 6, Node: "c1", Session: 1, Kind: EvState, State: StActive},
		{T: 7, Node: "c1", Session: 1, Kind: EvState, State: StError, Reason: "reset by \"peer\"\n\tat\\x \x01\x1f é 日本 🙂 \u2028"},
		{T: 8, Node: "c1", Session: 1, Kind: EvClose},
		{T: 9, Node: "c2", Kind: EvFault, Name: "reset", Reason: "online"},
		{T: 9, Node: "c2", Kind: EvFault, Name: "stall"},
		{T: 10, Node: "srv", Kind: EvCrash},
		{T: 11, Node: "srv", Kind: EvRestart, Seq: -1},
		{T: 11, Node: "c1", Kind: EvRestart},
		{T: math.MaxInt64, Node: "", Session: math.MaxInt64, Kind: EvPhase, Name: PhReply, Seq: 0},
	}
}

func roundTrip(t *testing.T, h History) History {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteHistory(&buf, h); err != nil {
		t.Fatalf("WriteHistory: %v", err)
	}
	got, err := ReadHistory(&buf)
	if err != nil {
		t.Fatalf("ReadHistory: %v", err)
	}
	return got
}

func TestHistoryRoundTrip(t *testing.T) {
	for name, h := range map[string]History{
		"every kind": everyKind(),
		"generated":  genHistory(3, 50, 500),
		"empty":      nil,
	} {
		t.Run(name, func(t *testing.T) {
			if got := roundTrip(t, h); !slices.Equal(got, h) {
				t.Fatalf("round trip changed the history:\n got %+v\nwant %+v", got, h)
			}
		})
	}
}

// TestWriteHistoryLines pins the format: the lines adapters and the "History files" section of README.md promise.
func TestWriteHistoryLines(t *testing.T) {
	h := History{
		{T: 1, Node: "srv", Kind: EvPostOK, Seq: 10, MsgID: 7, Sum: 99, Name: PostSynced, Reason: "ignored"},
		{T: 2, Node: "c1", Session: 3, Kind: EvOpen, Mode: ModeSeq, ReqSeq: 10},
		{T: 3, Node: "c1", Session: 3, Kind: EvDeliver, Seq: 10, MsgID: 7, Sum: 99},
		{T: 4, Node: "c1", Session: 3, Kind: EvControl, Name: CtlOnline, Seq: 10},
		{T: 5, Node: "c1", Session: 3, Kind: EvState, State: StActive},
		{T: 6, Node: "c\"1", Session: 3, Kind: EvClose, Seq: 4},
		{T: 7, Node: "srv", Kind: EvPostOK, Seq: 11, MsgID: 8, Sum: 98},
		{T: 8, Node: "srv", Kind: EvCrash, Seq: 11},
		{T: 9, Node: "srv", Kind: EvRestart, Seq: 10, Name: "ignored"},
	}
	want := `{"t":1,"node":"srv","session":0,"ev":"post_ok","seq":10,"msgid":7,"sum":99,"name":"synced"}
{"t":2,"node":"c1","session":3,"ev":"open","mode":"seq","req_seq":10}
{"t":3,"node":"c1","session":3,"ev":"deliver","seq":10,"msgid":7,"sum":99}
{"t":4,"node":"c1","session":3,"ev":"control","name":"Online","seq":10}
{"t":5,"node":"c1","session":3,"ev":"state","state":"Active"}
{"t":6,"node":"c\"1","session":3,"ev":"close"}
{"t":7,"node":"srv","session":0,"ev":"post_ok","seq":11,"msgid":8,"sum":98}
{"t":8,"node":"srv","session":0,"ev":"crash"}
{"t":9,"node":"srv","session":0,"ev":"restart","seq":10}
`
	var buf bytes.Buffer
	if err := WriteHistory(&buf, h); err != nil {
		t.Fatal(err)
	}
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf.String(), want)
	}
	for line := range strings.Lines(buf.String()) {
		if !json.Valid([]byte(line)) {
			t.Errorf("not JSON: %s", line)
		}
	}
}

func TestWriteHistoryInvalidUTF8(t *testing.T) {
	h := History{{T: 1, Node: "c\xff1", Kind: EvCrash}}
	got := roundTrip(t, h)
	if got[0].Node != "c\uFFFD1" {
		t.Fatalf("node %q, want the invalid byte replaced by U+FFFD", got[0].Node)
	}
}

func TestWriteHistoryRefuses(t *testing.T) {
	for name, e := range map[string]Event{
		"unknown kind":     {T: 1, Kind: EvPhase + 1},
		"zero kind":        {T: 1},
		"negative session": {T: 1, Session: -1, Kind: EvClose},
	} {
		var buf bytes.Buffer
		err := WriteHistory(&buf, History{{Kind: EvCrash}, e})
		if err == nil || !strings.Contains(err.Error(), "event 1") {
			t.Errorf("%s: err = %v, want one naming event 1", name, err)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: wrote %q before failing", name, buf.String())
		}
	}
}

func TestReadHistoryLenient(t *testing.T) {
	src := "\n" +
		`  {"ev":"deliver","sum":3,"msgid":2,"seq":1,"session":4,"node":"c1","t":5}  ` + "\r\n" +
		"\t\r\n" +
		`{"t":6,"node":"c1","session":4,"ev":"control","name":"Online","seq":1,"adapter":{"x":[1,2.5e-3,{"y":null}],"z":true},"w":"\u00e9\ud83d\ude42"}` + "\n" +
		`{"t":7,"node":"c1","session":4,"ev":"close","seq":9,"reason":"gone","mode":"seq"}` + "\n" +
		`{"\u0074":8,"node":"srv","session":0,"ev":"crash","extra":-0}`
	want := History{
		{T: 5, Node: "c1", Session: 4, Kind: EvDeliver, Seq: 1, MsgID: 2, Sum: 3},
		{T: 6, Node: "c1", Session: 4, Kind: EvControl, Name: CtlOnline, Seq: 1},
		{T: 7, Node: "c1", Session: 4, Kind: EvClose},
		{T: 8, Node: "srv", Kind: EvCrash},
	}
	got, err := ReadHistory(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestReadHistoryMalformed(t *testing.T) {
	const good = `{"t":1,"node":"srv","session":0,"ev":"post_ok","seq":1,"msgid":1,"sum":1}`
	for _, tc := range []struct {
		name, line, msg string
	}{
		{"not an object", `[1]`, `bad JSON at column 1: expected '{', got '['`},
		{"truncated", `{"t":1,"node":"c1"`, `bad JSON at column 19: expected '}', got the end of the line`},
		{"trailing comma", `{"t":1,}`, `bad JSON at column 8: expected a field name`},
		{"garbage after", `{"t":1} x`, `unexpected 'x' after the object`},
		{"two objects", `{"t":1}{"t":2}`, `unexpected '{' after the object`},
		{"bad literal", `{"t":1,"x":nul,"node":"a","session":0,"ev":"crash"}`, `expected null`},
		{"leading zero", `{"t":01,"node":"a","session":0,"ev":"crash"}`, `leading zero`},
		{"bad escape", `{"t":1,"node":"\q","session":0,"ev":"crash"}`, `invalid escape`},
		{"raw control character", "{\"t\":1,\"node\":\"a\tb\",\"session\":0,\"ev\":\"crash\"}", `control character`},
		{"invalid UTF-8", "{\"t\":1,\"node\":\"\xff\",\"session\":0,\"ev\":\"crash\"}", `invalid UTF-8`},
		{"unterminated string", `{"t":1,"node":"abc`, `unterminated string`},
		{"too deep", `{"x":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`, `nested deeper than 1000`},
		{"unknown kind", `{"t":1,"node":"a","session":0,"ev":"posted"}`, `unknown event kind "posted"`},
		{"missing t", `{"node":"a","session":0,"ev":"crash"}`, `missing field "t"`},
		{"missing session", `{"t":1,"node":"a","ev":"crash"}`, `missing field "session"`},
		{"missing ev", `{"t":1,"node":"a","session":0}`, `missing field "ev"`},
		{"deliver without sum", `{"t":1,"node":"c","session":1,"ev":"deliver","seq":1,"msgid":1}`, `deliver needs field "sum"`},
		{"deliver without seq", `{"t":1,"node":"c","session":1,"ev":"deliver","msgid":1,"sum":1}`, `deliver needs field "seq"`},
		{"open without req_seq", `{"t":1,"node":"c","session":1,"ev":"open","mode":"seq"}`, `open needs field "req_seq"`},
		{"restart without seq", `{"t":1,"node":"srv","session":0,"ev":"restart"}`, `restart needs field "seq"`},
		{"control without name", `{"t":1,"node":"c","session":1,"ev":"control","seq":1}`, `control needs field "name"`},
		{"state without state", `{"t":1,"node":"c","session":1,"ev":"state","reason":"x"}`, `state needs field "state"`},
		{"string seq", `{"t":1,"node":"c","session":1,"ev":"deliver","seq":"1","msgid":1,"sum":1}`, `field "seq": want an integer, got a string`},
		{"fractional t", `{"t":1.5,"node":"c","session":1,"ev":"close"}`, `field "t": want an integer, got 1.5`},
		{"exponent t", `{"t":1e3,"node":"c","session":1,"ev":"close"}`, `field "t": want an integer, got 1e3`},
		{"null node", `{"t":1,"node":null,"session":1,"ev":"close"}`, `field "node": want a string, got null`},
		{"numeric ev", `{"t":1,"node":"c","session":1,"ev":3}`, `field "ev": want a string, got a number`},
		{"t out of range", `{"t":9223372036854775808,"node":"c","session":1,"ev":"close"}`, `field "t": 9223372036854775808 is out of the int64 range`},
		{"msgid out of range", `{"t":1,"node":"c","session":1,"ev":"deliver","seq":1,"msgid":2147483648,"sum":1}`, `field "msgid": 2147483648 is out of the int32 range`},
		{"negative sum", `{"t":1,"node":"c","session":1,"ev":"deliver","seq":1,"msgid":1,"sum":-1}`, `field "sum": -1 is out of the uint32 range`},
		{"negative session", `{"t":1,"node":"c","session":-2,"ev":"close"}`, `field "session": negative session -2`},
		{"duplicate field", `{"t":1,"t":2,"node":"c","session":1,"ev":"close"}`, `field "t" appears twice`},
		{"mistyped field of another kind", `{"t":1,"node":"c","session":1,"ev":"close","state":5}`, `field "state": want a string, got a number`},
		{"keys are case-sensitive", `{"T":1,"node":"c","session":1,"ev":"close"}`, `missing field "t"`},
		{"unknown mode", `{"t":1,"node":"c","session":1,"ev":"open","mode":"block","req_seq":0}`, `field "mode": unknown mode "block"`},
		{"unknown state", `{"t":1,"node":"c","session":1,"ev":"state","state":"Opening"}`, `field "state": unknown state "Opening"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The bad line comes third, after a blank one, so the number counts every line.
			src := good + "\n\n" + tc.line + "\n" + good + "\n"
			h, err := ReadHistory(strings.NewReader(src))
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FormatError", err)
			}
			if fe.Line != 3 || !strings.Contains(fe.Msg, tc.msg) {
				t.Fatalf("got %q, want line 3 with %q", err, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "line 3: ") {
				t.Errorf("Error() = %q, want it to start with the line", err)
			}
			if h != nil {
				t.Errorf("got %d events along with the error", len(h))
			}
		})
	}
}

func TestReadHistoryLongLine(t *testing.T) {
	h := History{{T: 1, Node: "c1", Session: 1, Kind: EvState, State: StError, Reason: strings.Repeat("é\"", 100_000)}}
	if got := roundTrip(t, h); !slices.Equal(got, h) {
		t.Fatal("a line longer than the read buffer did not round-trip")
	}
}

func TestReadHistoryReaderError(t *testing.T) {
	boom := errors.New("boom")
	_, err := ReadHistory(&failingReader{data: []byte(`{"t":1,"node":"a","session":0,"ev":"crash"}` + "\n"), err: boom})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the reader's error", err)
	}
}

type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func FuzzReadHistory(f *testing.F) {
	var buf bytes.Buffer
	if err := WriteHistory(&buf, everyKind()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	for line := range strings.Lines(buf.String()) {
		f.Add([]byte(line))
	}
	f.Add([]byte(`{"t":1,"node":"\u00e9\ud800x","session":0,"ev":"crash","x":[{"a":-0.5E+2}]}` + "\r\n\n"))
	f.Add([]byte(`{"t":-1,"node":"","session":0,"ev":"state","state":"","reason":"\\\/\b\f"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHistory(bytes.NewReader(data))
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FormatError", err)
			}
			if lines := bytes.Count(data, []byte("\n")) + 1; fe.Line < 1 || fe.Line > lines {
				t.Fatalf("line %d of a %d-line input", fe.Line, lines)
			}
			return
		}
		// Stricter than JSON, never looser.
		for line := range bytes.Lines(data) {
			if len(bytes.TrimSpace(line)) > 0 && !json.Valid(line) {
				t.Fatalf("accepted a line that is not JSON: %q", line)
			}
		}
		if got := roundTrip(t, h); !slices.Equal(got, h) {
			t.Fatalf("read %+v, wrote and read back %+v", h, got)
		}
	})
}

// BenchmarkHistoryJSONL writes and reads back a history of about 100,000 events.
func BenchmarkHistoryJSONL(b *testing.B) {
	h := genHistory(8, 1000, 11_000)[:100_000]
	var buf bytes.Buffer
	if err := WriteHistory(&buf, h); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := WriteHistory(&buf, h); err != nil {
			b.Fatal(err)
		}
		got, err := ReadHistory(&buf)
		if err != nil || len(got) != len(h) {
			b.Fatalf("read %d events, err %v", len(got), err)
		}
	}
}

// A history holds an event per delivery, so the size of Event is most of what a run keeps:
// the one-byte fields must stay packed together.
func TestEventSize(t *testing.T) {
	if n := unsafe.Sizeof(Event{}); n > 96 {
		t.Fatalf("Event is %d bytes, want at most 96", n)
	}
}
