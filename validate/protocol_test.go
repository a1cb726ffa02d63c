package validate

import (
	"bytes"
	"strings"
	"testing"

	"github.com/streamsim/streamsim/checker"
)

func TestParseEvent(t *testing.T) {
	for _, c := range []struct{ line, err string }{
		{`{"ev":"ready","t":1}`, ""},
		{`{"ev":"ok","t":1,"seq":0,"synced":true,"start":1}`, ""},
		{`{"ev":"data","t":1,"seq":0,"msgid":0,"sum":0}`, ""},
		{`{"ev":"data","t":1,"seq":7,"msgid":1,"payload":"aGVsbG8="}`, ""},
		{`{"ev":"control","t":1,"name":"Online","seq":-1}`, ""},
		{`{"ev":"state","t":1,"state":"Error","reason":"x","extra":{"a":1}}`, ""},
		{`{"ev":"ready"}`, `"t"`},
		{`{"ev":"data","t":1,"seq":7}`, `data needs`},
		{`{"ev":"control","t":1,"seq":7}`, `control needs`},
		{`{"ev":"state","t":1,"state":"Opening"}`, `state "Opening"`},
		{`{"ev":"bye","t":1}`, `unknown event "bye"`},
		{`{"ev":"data","t":1,"seq":"7"}`, `not a JSON object`},
		{`[1]`, `not a JSON object`},
	} {
		_, err := ParseEvent([]byte(c.line))
		if (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("ParseEvent(%s): %v, want %q", c.line, err, c.err)
		}
	}
	e, _ := ParseEvent([]byte(`{"ev":"data","t":1,"seq":7,"msgid":1,"payload":"aGVsbG8="}`))
	if *e.Sum != checker.Checksum([]byte("hello")) {
		t.Errorf("sum %08x, want the checksum of the payload", *e.Sum)
	}
}

func TestCommandsRoundTrip(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	for _, c := range []Command{Open("seq-data", 0), Close(), Post(10, 7, []byte{0, 1, 255})} {
		if err := w.Write(c); err != nil {
			t.Fatal(err)
		}
	}
	want := `{"cmd":"open","mode":"seq-data","seq":0}
{"cmd":"close"}
{"cmd":"post","seq":10,"msgid":7,"payload":"AAH/"}
`
	if b.String() != want {
		t.Fatalf("got\n%swant\n%s", b.String(), want)
	}
	for _, line := range strings.Split(strings.TrimSpace(want), "\n") {
		if _, err := ParseCommand([]byte(line)); err != nil {
			t.Errorf("ParseCommand(%s): %v", line, err)
		}
	}
	for _, bad := range []string{`{"cmd":"open"}`, `{"cmd":"post","seq":1}`, `{"cmd":"quit"}`, `nope`} {
		if _, err := ParseCommand([]byte(bad)); err == nil {
			t.Errorf("ParseCommand(%s): no error", bad)
		}
	}
}

func TestExpand(t *testing.T) {
	got := expand("drv --on {online} --dir {storage} {other}", map[string]string{"online": "127.0.0.1:5", "storage": "/tmp/a b/it's"})
	if want := `drv --on 127.0.0.1:5 --dir '/tmp/a b/it'\''s' {other}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
