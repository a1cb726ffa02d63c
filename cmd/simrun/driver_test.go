package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/validate"
)

// driven is a reference driver running in this process, as cmdDriver runs it.
type driven struct {
	cmds   *validate.Writer
	events chan validate.Event
	stop   func() error
}

func startDriver(t *testing.T, run func(context.Context, io.Reader, io.Writer) error) *driven {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	d := &driven{cmds: validate.NewWriter(inW), events: make(chan validate.Event, 100)}
	done := make(chan error, 1)
	go func() {
		err := run(context.Background(), inR, outW)
		outW.Close()
		done <- err
	}()
	go func() {
		defer close(d.events)
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			ev, err := validate.ParseEvent(sc.Bytes())
			if err != nil {
				ev = validate.Event{Ev: "bad line: " + err.Error()}
			}
			d.events <- ev
		}
	}()
	var once sync.Once
	var err error
	d.stop = func() error {
		once.Do(func() {
			inW.Close() // the end of its input stops a driver
			for range d.events {
			}
			select {
			case err = <-done:
			case <-time.After(patience):
				err = errors.New("the driver did not stop")
			}
		})
		return err
	}
	t.Cleanup(func() { d.stop() })
	d.expect(t, "ready")
	return d
}

// next returns the next event that is not a phase.
func (d *driven) next(t *testing.T) validate.Event {
	t.Helper()
	for {
		select {
		case ev, ok := <-d.events:
			if !ok {
				t.Fatal("the driver's output ended")
			}
			if ev.Ev != validate.EvPhase {
				return ev
			}
		case <-time.After(patience):
			t.Fatal("no event from the driver")
		}
	}
}

// expect reads the next events, described as "ev", "ev seq", "ev name seq" or "ev state".
func (d *driven) expect(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		ev := d.next(t)
		got := ev.Ev
		switch {
		case ev.Name != "":
			got += " " + ev.Name
		case ev.State != "":
			got += " " + ev.State
		}
		if ev.Seq != nil && ev.Ev != validate.EvOK {
			got += fmt.Sprint(" ", *ev.Seq)
		}
		if ev.Ev == validate.EvOK && ev.Seq != nil {
			got += fmt.Sprint(" seq ", *ev.Seq)
		}
		if ev.Ev == validate.EvError {
			got += ": " + ev.Reason
		}
		if !strings.HasPrefix(got, w) {
			t.Fatalf("got %q, want %q", got, w)
		}
		if ev.T <= 0 {
			t.Fatalf("%q has no time", got)
		}
	}
}

func (d *driven) send(t *testing.T, c any) {
	t.Helper()
	if err := d.cmds.Write(c); err != nil {
		t.Fatal(err)
	}
}

// The reference drivers speak the protocol README documents: answers in order, the open's ok
// before its session's events, nothing of a session after its close's ok.
func TestDriverProtocol(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	on, rq := filepath.Join(dir, "online.sock"), filepath.Join(dir, "request.sock")
	srv := startDriver(t, func(ctx context.Context, in io.Reader, out io.Writer) error {
		return driveServer(ctx, serverOpts{online: on, request: rq, storage: filepath.Join(dir, "store")}, in, out)
	})
	post := func(seq int64, want string) {
		srv.send(t, validate.Post(seq, 7, fmt.Appendf(nil, "m%d", seq)))
		srv.expect(t, want)
	}
	post(10, "ok seq 10")
	post(20, "ok seq 20")
	post(30, "ok seq 30")
	post(20, "error: non monotonic seq")
	srv.send(t, validate.Open("seq", 1))
	srv.expect(t, "error: a server takes post, not open")

	cli := startDriver(t, func(ctx context.Context, in io.Reader, out io.Writer) error {
		return driveClient(ctx, clientOpts{online: on, request: rq}, in, out)
	})
	cli.send(t, validate.Open("seq", 20))
	cli.expect(t, "ok", "state Active", "data 20", "data 30", "control Online 30")
	post(40, "ok seq 40")
	cli.expect(t, "data 40")
	cli.send(t, validate.Close())
	cli.expect(t, "ok")
	post(50, "ok seq 50")
	cli.send(t, validate.Open("online", 0))
	cli.expect(t, "ok", "state Active")
	post(60, "ok seq 60")
	// 50 was posted between the sessions: nothing of it may show.
	cli.expect(t, "data 60")
	cli.send(t, validate.Command{Cmd: "open", Mode: "sideways"})
	cli.expect(t, "error: unknown open mode")
	cli.send(t, validate.Post(1, 1, nil))
	cli.expect(t, "error: a client takes open and close")
	if err := cli.stop(); err != nil {
		t.Fatal(err)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
}

// An open the client refuses is answered, then ends in Error.
func TestDriverRefusedOpen(t *testing.T) {
	t.Parallel()
	cli := startDriver(t, func(ctx context.Context, in io.Reader, out io.Writer) error {
		o := clientOpts{online: "127.0.0.1:1", request: "127.0.0.1:1"}
		o.cfg.Protocol = reference.ProtoOld // it cannot ask for initial
		return driveClient(ctx, o, in, out)
	})
	cli.send(t, validate.Open(checker.ModeInitial.String(), 0))
	cli.expect(t, "ok", "state Error")
}

func TestNewCommandsBadUsageExits2WithOneLine(t *testing.T) {
	for _, args := range [][]string{
		{"serve"},
		{"serve", "--online", "127.0.0.1:0"},
		{"serve", "--online", "a", "--request", "b", "--rate", "-1"},
		{"serve", "--online", "a", "--request", "b", "--feed", "-1"},
		{"serve", "--online", "a", "--request", "b", "--size", "99999999"},
		{"serve", "--online", "a", "--request", "b", "--impl", "mutant:nope"},
		{"subscribe", "--online", "a", "--request", "b"},
		{"subscribe", "--online", "a", "--request", "b", "--mode", "sideways"},
		{"subscribe", "--online", "a", "--request", "b", "--mode", "seq", "--seq", "x"},
		{"subscribe", "--online", "a", "--request", "b", "--mode", "seq", "--protocol", "newest"},
		{"subscribe", "--online", "a", "--request", "b", "--mode", "seq", "--buffer", "-5"},
		{"driver"},
		{"driver", "proxy"},
		{"driver", "client"},
		{"driver", "server", "--online", "a"},
		{"driver", "client", "--online", "a", "--request", "b", "extra"},
		{"validate"},
		{"validate", "--server-cmd", "x", "--client-cmd", "y"},
		{"validate", "--server-cmd", "x", "--client-cmd", "y", "--all", "--scenario", "test_new"},
		{"validate", "--server-cmd", "x", "--client-cmd", "y", "--scenario", "test_new,nope"},
		{"validate", "--server-cmd", "x", "--client-cmd", "y", "--all", "--seeds", "0"},
		{"validate", "--server-cmd", "x", "--client-cmd", "y", "--all", "--parallel", "0"},
		{"validate", "--server-cmd", "x", "--client-cmd", "y", "--all", "--net", "ipx"},
		{"validate", "--server-cmd", "x", "--client-cmd", "y", "--all", "--impl", "two words"},
	} {
		code, _, stderr := simrun(args...)
		if code != 2 {
			t.Errorf("simrun %v: exit %d, want 2", args, code)
		}
		if strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.HasPrefix(stderr, "simrun: ") {
			t.Errorf("simrun %v: error is not one line: %q", args, stderr)
		}
	}
}

// A command's answer and the lines the client's callbacks write at the same moment come out
// in the order of their times: an answer stamped before it waited for the lock would follow a
// later line with an earlier time, and a close would seem to precede what it cut off.
func TestDriverAnswersInTimeOrder(t *testing.T) {
	var out bytes.Buffer
	app := &driverApp{w: validate.NewWriter(&out)}
	const n = 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			app.Data(int64(i), 0, nil)
		}
	}()
	for range n {
		if err := app.answer(validate.OK, false); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	last := int64(0)
	for i, l := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		ev, err := validate.ParseEvent(l)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if ev.T < last {
			t.Fatalf("line %d (%s) at %d, after a line at %d", i+1, ev.Ev, ev.T, last)
		}
		last = ev.T
	}
}
