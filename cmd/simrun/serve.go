package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/streamsim/streamsim/reference/storage"
	"github.com/streamsim/streamsim/reference/tcp"
)

// cmdServe runs the reference server on real sockets until SIGINT or SIGTERM.
func cmdServe(args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	o, err := serverFlags("serve", args)
	if err != nil {
		return 2, err
	}
	o.listening = func(online, request string, last int64) {
		store := "in memory"
		if o.storage != "" {
			store = "in " + o.storage + ", durable"
		}
		fmt.Fprintf(stderr, "simrun serve: online %s, request %s, store %s, last seq %d\n", online, request, store, last)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, o, stdin, stdout, stderr); err != nil {
		var bad badInput
		if errors.As(err, &bad) {
			return 2, usagef("%v", err)
		}
		return 1, err
	}
	return 0, nil
}

// badInput is a line of standard input serve cannot read.
type badInput struct{ msg string }

func (e badInput) Error() string { return e.msg }

// serve posts what o asks for (standard input, or a generated feed) and serves until ctx ends.
// Each post read from stdin is acknowledged on stdout with the seq stored, once it is stored:
// on files, durably. Stopping closes the store, which syncs it.
func serve(ctx context.Context, o serverOpts, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	o.recovered = func(c storage.Cut) { fmt.Fprintf(stderr, "simrun serve: store recovery %v\n", c) }
	srv, last, stop, err := listen(o)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stop()) }()
	on, rq := srv.Addrs()
	o.listening(on, rq, last)
	if o.feed > 0 {
		return feed(ctx, srv, last, o, stderr)
	}
	lines, done := readLines(stdin)
	defer close(done)
	for n := 1; ; n++ {
		var l inputLine
		select {
		case <-ctx.Done():
			return nil
		case l = <-lines:
		}
		switch {
		case l.err != nil:
			return l.err
		case l.eof:
			// Standard input is done; subscribers are still served.
			<-ctx.Done()
			return nil
		}
		seq, msgid, payload, ok := parsePostLine(l.b)
		if !ok {
			return badInput{fmt.Sprintf("serve: standard input line %d: want \"seq msgid payload\", got %.60q", n, l.b)}
		}
		got, err := srv.Post(seq, msgid, payload)
		if err != nil {
			fmt.Fprintf(stderr, "simrun serve: line %d: post %d refused: %v\n", n, seq, err)
			continue
		}
		if _, err := fmt.Fprintln(stdout, got); err != nil {
			return err
		}
	}
}

// parsePostLine reads "seq msgid payload"; the payload is the rest of the line after one
// space, and may be empty.
func parsePostLine(b []byte) (seq int64, msgid int32, payload []byte, ok bool) {
	b = bytes.TrimSuffix(b, []byte("\r"))
	f, rest, _ := bytes.Cut(b, []byte(" "))
	g, payload, _ := bytes.Cut(rest, []byte(" "))
	s, err1 := strconv.ParseInt(string(f), 10, 64)
	m, err2 := strconv.ParseInt(string(g), 10, 32)
	return s, int32(m), payload, err1 == nil && err2 == nil
}

// feed posts o.feed generated messages at o.rate per second, from the seq after last.
func feed(ctx context.Context, srv *tcp.ServerHost, last int64, o serverOpts, stderr io.Writer) error {
	start := time.Now()
	body := make([]byte, o.size)
	timer := time.NewTimer(0)
	defer timer.Stop()
	seq := last
	for i := range o.feed {
		if o.rate > 0 {
			timer.Reset(time.Until(start.Add(time.Duration(float64(i) / o.rate * float64(time.Second)))))
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return nil
		}
		copy(body, strconv.Itoa(i))
		got, err := srv.Post(seq+1, 1, body)
		if err != nil {
			return err
		}
		seq = got
	}
	fmt.Fprintf(stderr, "simrun serve: fed %d messages in %v\n", o.feed, time.Since(start).Round(time.Millisecond))
	<-ctx.Done()
	return nil
}
