package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamsim/streamsim/reference/storage"
)

// Every post serve acknowledged is on disk once it stops, and a restart continues from it.
func TestServeStopsLosingNothingAcknowledged(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "store")
	s := startServe(t, serverOpts{online: "127.0.0.1:0", request: "127.0.0.1:0", storage: dir})
	var want bytes.Buffer
	for seq := 1; seq <= 50; seq++ {
		fmt.Fprintf(s.stdin, "%d 3 body %d\r\n", seq*2, seq)
		fmt.Fprintf(&want, "%d\n", seq*2)
	}
	fmt.Fprintf(s.stdin, "7 3 too late\n")
	s.stdout.waitFor(t, "50 acknowledgements", func(out string) bool { return out == want.String() })
	s.stderr.waitFor(t, "the refusal of seq 7", func(out string) bool { return strings.Contains(out, "line 51: post 7 refused: non monotonic seq") })
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	s = startServe(t, serverOpts{online: "127.0.0.1:0", request: "127.0.0.1:0", storage: dir})
	fmt.Fprintf(s.stdin, "101 3 after the restart\n")
	s.stdout.waitFor(t, "the acknowledgement of 101", func(out string) bool { return out == "101\n" })
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	st, err := storage.OpenFile(dir, storage.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs, err := st.Read(nil, 0, 100)
	if err != nil || len(recs) != 51 {
		t.Fatalf("%d records (%v), want 51", len(recs), err)
	}
	if r := recs[49]; r.Seq != 100 || r.MsgID != 3 || string(r.Body) != "body 50" {
		t.Fatalf("record 49 is %d %d %q, want 100 3 \"body 50\"", r.Seq, r.MsgID, r.Body)
	}
	if r := recs[50]; r.Seq != 101 || string(r.Body) != "after the restart" {
		t.Fatalf("record 50 is %d %q", r.Seq, r.Body)
	}
}

func TestServeFeed(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "store")
	s := startServe(t, serverOpts{online: "127.0.0.1:0", request: "127.0.0.1:0", storage: dir, feed: 300, rate: 20000, size: 64})
	s.stderr.waitFor(t, "the end of the feed", func(out string) bool { return strings.Contains(out, "fed 300 messages in") })
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	st, err := storage.OpenFile(dir, storage.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs, err := st.Read(nil, 0, 1000)
	if err != nil || len(recs) != 300 || recs[0].Seq != 0 || recs[299].Seq != 299 || len(recs[299].Body) != 64 {
		t.Fatalf("%d records (%v), want seqs 0..299 of 64 bytes", len(recs), err)
	}
}

func TestServeBadInputExits2(t *testing.T) {
	var out, errb bytes.Buffer
	code, err := cmdServe([]string{"--online", "127.0.0.1:0", "--request", "127.0.0.1:0"}, strings.NewReader("1 2 fine\nten 2 x\n"), &out, &errb)
	if code != 2 || err == nil || !strings.Contains(err.Error(), `standard input line 2: want "seq msgid payload"`) {
		t.Fatalf("exit %d, %v", code, err)
	}
	if out.String() != "1\n" {
		t.Fatalf("acknowledged %q, want the first line only", out.String())
	}
}
