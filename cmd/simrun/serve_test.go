package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// dirBytes is the size of every file in dir: what the store has handed to the OS.
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

// With --durable an acknowledged post is on disk when its acknowledgement is written; without
// it the store keeps small posts buffered, as TLL's file storage does, until it closes.
func TestServeDurableIsAChoice(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("x", 200)
	for _, durable := range []bool{true, false} {
		dir := filepath.Join(t.TempDir(), "store")
		s := startServe(t, serverOpts{online: "127.0.0.1:0", request: "127.0.0.1:0", storage: dir, durable: durable})
		for seq := 1; seq <= 3; seq++ {
			fmt.Fprintf(s.stdin, "%d 3 %s\n", seq, body)
		}
		s.stdout.waitFor(t, "3 acknowledgements", func(out string) bool { return out == "1\n2\n3\n" })
		onDisk := dirBytes(t, dir)
		if durable && onDisk < 3*int64(len(body)) {
			t.Fatalf("durable: %d bytes on disk after 3 acknowledged %d-byte posts", onDisk, len(body))
		}
		if !durable && onDisk >= int64(len(body)) {
			t.Fatalf("not durable: %d bytes on disk after 3 acknowledged posts: the store was synced per post", onDisk)
		}
		if err := s.stop(); err != nil {
			t.Fatal(err)
		}
		if got := dirBytes(t, dir); got < 3*int64(len(body)) {
			t.Fatalf("durable=%v: %d bytes on disk after a clean stop", durable, got)
		}
	}
}

func TestServeDurableFlags(t *testing.T) {
	t.Setenv("STREAMSIM_SERVER", "")
	_, err := serverFlags("serve", []string{"--online", "a:1", "--request", "a:2", "--durable"})
	if err == nil || !strings.Contains(err.Error(), "--durable needs --storage") {
		t.Fatalf("--durable without --storage: %v", err)
	}
	o, err := serverFlags("serve", []string{"--online", "a:1", "--request", "a:2", "--storage", "d"})
	if err != nil || o.durable {
		t.Fatalf("serve --storage: durable %v (%v), want false", o.durable, err)
	}
	o, err = serverFlags("serve", []string{"--online", "a:1", "--request", "a:2", "--storage", "d", "--durable"})
	if err != nil || !o.durable {
		t.Fatalf("serve --storage --durable: durable %v (%v), want true", o.durable, err)
	}
	// A driver takes the plan's durable where it has a store, and ignores it where it has none.
	t.Setenv("STREAMSIM_SERVER", `{"durable":true}`)
	o, err = serverFlags("driver server", []string{"--online", "a:1", "--request", "a:2", "--storage", "d"})
	if err != nil || !o.durable {
		t.Fatalf("driver server, plan durable: durable %v (%v), want true", o.durable, err)
	}
	o, err = serverFlags("driver server", []string{"--online", "a:1", "--request", "a:2"})
	if err != nil || o.durable {
		t.Fatalf("driver server, plan durable, no storage: durable %v (%v), want false", o.durable, err)
	}
	t.Setenv("STREAMSIM_SERVER", `{"durable":false}`)
	o, err = serverFlags("driver server", []string{"--online", "a:1", "--request", "a:2", "--storage", "d"})
	if err != nil || o.durable {
		t.Fatalf("driver server, plan not durable: durable %v (%v), want false", o.durable, err)
	}
}

// A line longer than any post the server accepts is refused by its number, after the lines
// before it are acknowledged; a line just within the limit is posted.
func TestServeLongLineNamesItsNumber(t *testing.T) {
	limit := maxLineBytes(defaultMaxSize)
	fits := "1 2 " + strings.Repeat("y", 64<<10-16)
	over := "2 2 " + strings.Repeat("z", limit)
	var out, errb bytes.Buffer
	code, err := cmdServe([]string{"--online", "127.0.0.1:0", "--request", "127.0.0.1:0"}, strings.NewReader(fits+"\n"+over+"\n3 2 never\n"), &out, &errb)
	if code != 2 || err == nil || !strings.Contains(err.Error(), fmt.Sprintf("standard input line 2: longer than %d bytes, a body over the %d-byte message size limit (--max-size sets it)", limit, defaultMaxSize)) {
		t.Fatalf("exit %d, %v", code, err)
	}
	if out.String() != "1\n" {
		t.Fatalf("acknowledged %q, want the first line only", out.String())
	}
}

// When whoever reads serve's acknowledgements goes away, serve stops in order (exit 0, the
// store closed) instead of dying of SIGPIPE (exit 141 in a shell).
func TestServeAckReaderGoneExitsCleanly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	cmd := exec.Command(os.Args[0], "serve", "--online", "127.0.0.1:0", "--request", "127.0.0.1:0", "--storage", dir)
	cmd.Env = append(os.Environ(), asMain+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(stdin, "1 2 first")
	ack := make([]byte, 2)
	if _, err := io.ReadFull(stdout, ack); err != nil || string(ack) != "1\n" {
		t.Fatalf("first acknowledgement %q, %v", ack, err)
	}
	stdout.Close() // the reader goes away
	fmt.Fprintln(stdin, "2 2 second")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve ended with %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(patience):
		cmd.Process.Kill()
		<-done
		t.Fatal("serve did not stop after its acknowledgements' reader went away")
	}
	if !strings.Contains(stderr.String(), "the reader of the acknowledgements went away") {
		t.Fatalf("stderr:\n%s", stderr.String())
	}
	st, err := storage.OpenFile(dir, storage.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Last() < 1 {
		t.Fatalf("the store ends at %d, want the first post at least", st.Last())
	}
}
