package main

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pipeSize is the size of f's pipe buffer.
func pipeSize(t *testing.T, f *os.File) int {
	t.Helper()
	n, err := unix.FcntlInt(f.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatalf("F_GETPIPE_SZ: %v", err)
	}
	return n
}

// subscribe enlarges an output pipe before the session's first line reaches it; a pipe it is
// not given keeps the system's default, smaller.
func TestSubscribeGrowsItsOutputPipe(t *testing.T) {
	t.Parallel()
	srv := startServe(t, mustServerOpts(t))
	r, w := testPipe(t)
	if n := pipeSize(t, w); n >= subscribePipeBytes {
		t.Fatalf("a new pipe already holds %d bytes", n)
	}
	defer subscribeOnline(t, srv, w)()
	r.SetReadDeadline(time.Now().Add(patience))
	l, err := bufio.NewReader(r).ReadString('\n')
	if err != nil || !strings.Contains(l, `"ev":"open"`) {
		t.Fatalf("first line %q, %v", l, err)
	}
	if n := pipeSize(t, w); n != subscribePipeBytes {
		t.Fatalf("subscribe's output pipe holds %d bytes, want %d", n, subscribePipeBytes)
	}
}

// growPipe grows a smaller pipe and leaves a larger one as it is.
func TestGrowPipeNeverShrinks(t *testing.T) {
	_, w := testPipe(t)
	small := pipeSize(t, w)
	growPipe(w, 4*small)
	if n := pipeSize(t, w); n != 4*small {
		t.Fatalf("a pipe of %d bytes grown to %d holds %d", small, 4*small, n)
	}
	growPipe(w, small)
	if n := pipeSize(t, w); n != 4*small {
		t.Fatalf("a pipe of %d bytes asked for %d holds %d", 4*small, small, n)
	}
}

// Output that is not a pipe refuses the size quietly and stays usable.
func TestGrowPipeLeavesAFileAlone(t *testing.T) {
	f, err := os.Create(t.TempDir() + "/history")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	growPipe(f, subscribePipeBytes)
	if _, err := f.WriteString("line\n"); err != nil {
		t.Fatalf("after growPipe: %v", err)
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_GETPIPE_SZ, 0); err == nil {
		t.Fatal("a regular file reports a pipe size: this test does not test a non-pipe")
	}
}
