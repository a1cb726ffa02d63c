package main

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/reference/wire"
)

// The load test, sized by the environment: SIMRUN_LOAD_IDLE clients that send a
// Request and never read (default 64; `make loadtest` runs 1,024) and
// SIMRUN_LOAD_HONEST subscribers (default 2; 4), with 64 KiB messages.
func loadSize(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 4096 {
		t.Fatalf("%s=%q: want a number of clients from 1 to 4096", name, v)
	}
	return n
}

// A server under clients that send a Request and never read keeps serving honest
// subscribers: gap-free (the checker agrees), never refused, in bounded memory. serve runs as
// its own process, so its peak RSS and CPU time are its own.
func TestServeUnderClientsThatDoNotRead(t *testing.T) {
	idle, honest := loadSize(t, "SIMRUN_LOAD_IDLE", 64), loadSize(t, "SIMRUN_LOAD_HONEST", 2)
	const (
		size     = 64 << 10
		history  = 200 // stored before anyone connects: 12.5 MiB, more than a socket buffers
		live     = 200 // posted while everyone is connected
		rssLimit = 256 << 20
	)
	deadline := time.Now().Add(3 * time.Minute)
	cmd := exec.Command(os.Args[0], "serve", "--online", "127.0.0.1:0", "--request", "127.0.0.1:0", "--storage", filepath.Join(t.TempDir(), "store"))
	cmd.Env = append(os.Environ(), asMain+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	errs := bufio.NewScanner(stderr)
	if !errs.Scan() {
		t.Fatal("serve said nothing")
	}
	var on, rq string
	if _, err := fmt.Sscanf(errs.Text(), "simrun serve: online %s request %s", &on, &rq); err != nil {
		t.Fatalf("serve's first line %q: %v", errs.Text(), err)
	}
	on, rq = strings.TrimSuffix(on, ","), strings.TrimSuffix(rq, ",")
	var serveErr syncBuffer
	go io.Copy(&serveErr, stderr)
	defer func() {
		if t.Failed() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			t.Logf("serve's stderr:\n%s", serveErr.String())
		}
	}()
	acks := make(chan int64, history+live)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			n, _ := strconv.ParseInt(sc.Text(), 10, 64)
			acks <- n
		}
		close(acks)
	}()
	body := strings.Repeat("p", size)
	sum := checker.Checksum([]byte(body))
	// The server's side of the history, as the checker wants it beside the subscribers'.
	var posts checker.History
	postN := func(from, n int) {
		for seq := from; seq < from+n; seq++ {
			posts = append(posts, checker.Event{T: time.Now().UnixNano(), Node: "server", Kind: checker.EvPost, Seq: int64(seq), MsgID: 1, Sum: sum})
		}
		w := bufio.NewWriter(stdin)
		for seq := from; seq < from+n; seq++ {
			fmt.Fprintf(w, "%d 1 %s\n", seq, body)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		for range n {
			select {
			case seq := <-acks:
				posts = append(posts, checker.Event{T: time.Now().UnixNano(), Node: "server", Kind: checker.EvPostOK, Seq: seq, MsgID: 1, Sum: sum})
			case <-time.After(time.Until(deadline)):
				t.Fatal("serve stopped acknowledging")
			}
		}
	}
	postN(0, history)

	for range idle {
		nc, err := net.Dial("tcp", rq)
		if err != nil {
			t.Fatalf("idle client: %v", err)
		}
		defer nc.Close()
		// A Request for everything, then nothing: never a read.
		nc.Write(wire.AppendMsg(nil, wire.Request{Version: 1, Kind: wire.ReqSeq, Seq: 0, Client: "idle"}))
	}

	subs := make([]*subscribed, honest)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range subs {
		o := clientOpts{online: on, request: rq, mode: reference.ModeSeq, seq: 0}
		o.cfg = reference.ClientConfig{Peer: fmt.Sprintf("honest%d", i), MaxFrameBytes: defaultMaxSize, BufferBytes: 4 * defaultMaxSize}
		s := &subscribed{out: &syncBuffer{}, done: make(chan error, 1)}
		go func() {
			_, err := subscribe(ctx, o, s.out)
			s.done <- err
		}()
		subs[i] = s
	}
	// Live posts go in small steps, so that they interleave with everyone's history.
	for seq := history; seq < history+live; seq += 10 {
		postN(seq, 10)
	}
	last := int64(history + live - 1)
	for i, s := range subs {
		for {
			out := s.out.String()
			if strings.Contains(out, fmt.Sprintf(`"seq":%d,`, last)) {
				break
			}
			select {
			case err := <-s.done:
				t.Fatalf("honest subscriber %d ended: %v\n%s", i, err, lastBytes(out))
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("honest subscriber %d did not get %d in time:\n%s", i, last, lastBytes(out))
			}
		}
	}
	rss, cpu := procFigures(t, cmd.Process.Pid)
	t.Logf("%d idle clients, %d honest subscribers, %d messages of %d bytes: serve peak RSS %d MiB, CPU %v", idle, honest, history+live, size, rss>>20, cpu)
	if rss >= rssLimit {
		t.Errorf("serve's peak RSS %d MiB, limit %d MiB", rss>>20, rssLimit>>20)
	}
	cancel()
	for i, s := range subs {
		<-s.done
		h, err := checker.ReadHistory(strings.NewReader(s.out.String()))
		if err != nil {
			t.Fatalf("honest subscriber %d: %v", i, err)
		}
		h = append(h, posts...)
		slices.SortStableFunc(h, func(a, b checker.Event) int { return cmp.Compare(a.T, b.T) })
		res, err := checker.Check(h)
		if err != nil || len(res.Violations) > 0 {
			t.Fatalf("honest subscriber %d: %v %v", i, err, res.Violations)
		}
		next := int64(0)
		for _, e := range h {
			switch {
			case e.Kind == checker.EvState && e.State == checker.StError:
				t.Fatalf("honest subscriber %d failed: %s", i, e.Reason)
			case e.Kind == checker.EvDeliver:
				if e.Seq != next {
					t.Fatalf("honest subscriber %d got %d after %d", i, e.Seq, next-1)
				}
				next++
			}
		}
		if next != last+1 {
			t.Fatalf("honest subscriber %d got %d messages, want %d", i, next, last+1)
		}
	}
}

func lastBytes(s string) string { return s[max(0, len(s)-2000):] }

// procFigures reads a process's peak resident set and the CPU time it used so far.
func procFigures(t *testing.T, pid int) (rss int64, cpu time.Duration) {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			rss = kb << 10
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which is in parentheses: utime and stime are the 12th
	// and 13th, in clock ticks (100 per second on Linux).
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return rss, time.Duration(ut+st) * 10 * time.Millisecond
}
