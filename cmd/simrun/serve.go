package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/streamsim/streamsim/reference"
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
			store = "in " + o.storage + ", synced at exit only"
			if o.durable {
				store = "in " + o.storage + ", durable: synced before each acknowledgement"
			}
		}
		fmt.Fprintf(stderr, "simrun serve: online %s, request %s, store %s, last seq %d\n", online, request, store, last)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// Most of what serve holds is short-lived copies of messages on their way out; a soft
		// limit has the collector reclaim them before the heap doubles (GOGC's default).
		debug.SetMemoryLimit(serveMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Asked for, SIGPIPE no longer kills the process when the reader of the acknowledgements
	// goes away: the write fails with EPIPE instead, and serve stops in order.
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	defer signal.Stop(pipe)
	if err := serve(ctx, o, stdin, stdout, stderr); err != nil {
		var bad badInput
		if errors.As(err, &bad) {
			return 2, usagef("%v", err)
		}
		return 1, err
	}
	return 0, nil
}

// serveMemoryLimit is the heap size at which serve's collector starts working harder (a soft
// limit: GOMEMLIMIT overrides it). What the connections hold is bounded apart from it
// (README, "Memory").
const serveMemoryLimit = 160 << 20

// badInput is a line of standard input serve cannot read.
type badInput struct{ msg string }

func (e badInput) Error() string { return e.msg }

// serve posts what o asks for (standard input, or a generated feed) and serves until ctx ends.
// Each post read from stdin is acknowledged on stdout with the seq stored, once it is stored:
// with o.durable, once it is on disk. Stopping closes the store, which syncs it.
func serve(ctx context.Context, o serverOpts, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	o.recovered = func(c storage.Cut) { fmt.Fprintf(stderr, "simrun serve: store recovery %v\n", c) }
	srv, last, stop, err := listen(o)
	if err != nil {
		return err
	}
	defer func() {
		st := srv.Stats()
		fmt.Fprintf(stderr, "simrun serve: connections: %d accepted, %d refused at the cap, %d evicted to make room, %d idle timeouts, %d stalled readers closed, %d slow subscribers reset\n",
			st.Accepted, st.Rejected, st.Evictions, st.IdleTimeouts, st.Stalls, st.SlowDrops)
		err = errors.Join(err, stop())
	}()
	on, rq := srv.Addrs()
	o.listening(on, rq, last)
	if o.feed > 0 {
		return feed(ctx, srv, last, o, stderr)
	}
	batches, done := readPostLines(stdin, cmp.Or(o.cfg.MaxMsgBytes, defaultMaxSize))
	defer close(done)
	acks := bufio.NewWriterSize(stdout, 64<<10)
	var msgs []storage.Record
	var res []tcp.PostResult
	for {
		var b lineBatch
		select {
		case <-ctx.Done():
			return nil
		case b = <-batches:
		}
		msgs = msgs[:0]
		for i, l := range b.lines {
			seq, msgid, payload, ok := parsePostLine(l)
			if !ok {
				// The lines before it are posted and acknowledged first.
				b.lines, b.err = b.lines[:i], badInput{fmt.Sprintf("serve: standard input line %d: want \"seq msgid payload\", got %.60q", b.first+i, l)}
				break
			}
			msgs = append(msgs, storage.Record{Seq: seq, MsgID: msgid, Body: payload})
		}
		if len(msgs) > 0 {
			if res, err = srv.PostBatch(msgs, res[:0]); err != nil {
				return err
			}
		}
		for i, r := range res {
			if r.Err != nil {
				hint := ""
				if errors.Is(r.Err, reference.ErrTooLarge) {
					hint = " (--max-size sets the limit)"
				}
				fmt.Fprintf(stderr, "simrun serve: line %d: post %d refused: %v%s\n", b.first+i, msgs[i].Seq, r.Err, hint)
				continue
			}
			acks.Write(strconv.AppendInt(acks.AvailableBuffer(), r.Seq, 10))
			acks.WriteByte('\n')
		}
		if err := acks.Flush(); errors.Is(err, syscall.EPIPE) {
			fmt.Fprintf(stderr, "simrun serve: the reader of the acknowledgements went away (%v): stopping\n", err)
			return nil
		} else if err != nil {
			return fmt.Errorf("serve: writing acknowledgements: %w", err)
		}
		switch {
		case b.err != nil:
			return b.err
		case b.eof:
			// Standard input is done; subscribers are still served.
			<-ctx.Done()
			return nil
		}
	}
}

// lineBatch is what standard input held at one moment: complete lines, numbered from first,
// then possibly its end or a read error.
type lineBatch struct {
	lines [][]byte
	first int
	eof   bool
	err   error
}

// postBatchLines and postBatchBytes bound a batch: enough to amortise a trip to the server's loop, few enough
// that acknowledgements are not held back long.
const (
	postBatchLines = 256
	postBatchBytes = 1 << 20
)

// readPostLines reads r on a goroutine of its own, so that serve can stop on a signal while
// its input is quiet, and hands serve every complete line already buffered as one batch, so
// that a burst is posted in one trip to the server's loop while a lone line goes at once. A
// line longer than maxLineBytes(maxSize) fails the batch, naming its number and the limit.
// The goroutine ends at the input's end or, once done is closed, at the next batch.
func readPostLines(r io.Reader, maxSize int) (<-chan lineBatch, chan<- struct{}) {
	batches, done := make(chan lineBatch), make(chan struct{})
	maxLine := maxLineBytes(maxSize)
	go func() {
		br := bufio.NewReaderSize(r, 64<<10)
		n := 1
		for {
			b := lineBatch{first: n}
			var buf []byte
			var ends []int
			for len(ends) < postBatchLines && len(buf) < postBatchBytes && (len(ends) == 0 || br.Buffered() > 0) {
				line, err := readLine(br, maxLine)
				if err == errLineTooLong {
					b.err = badInput{fmt.Sprintf("serve: standard input line %d: longer than %d bytes, a body over the %d-byte message size limit (--max-size sets it)", n, maxLine, maxSize)}
					break
				}
				if err == nil || len(line) > 0 {
					buf = append(buf, line...)
					ends = append(ends, len(buf))
					n++
				}
				if err == io.EOF {
					b.eof = true
					break
				}
				if err != nil {
					b.err = fmt.Errorf("serve: reading standard input: %w", err)
					break
				}
			}
			start := 0
			for _, e := range ends {
				b.lines = append(b.lines, buf[start:e:e])
				start = e
			}
			select {
			case batches <- b:
			case <-done:
				return
			}
			if b.eof || b.err != nil {
				return
			}
		}
	}()
	return batches, done
}

var errLineTooLong = errors.New("line too long")

// readLine returns the next line without its newline, valid until the next read; at the end
// of the input, the last line if it has no newline, with io.EOF. A line longer than max is
// errLineTooLong, read no further than max plus a buffer.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var long []byte
	for {
		frag, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if long = append(long, frag...); len(long) > max {
				return nil, errLineTooLong
			}
			continue
		}
		if long != nil {
			frag = append(long, frag...)
		}
		frag = bytes.TrimSuffix(frag, []byte("\n"))
		if len(frag) > max {
			return nil, errLineTooLong
		}
		return frag, err
	}
}

// maxLineBytes is the longest post line serve reads: the largest body the server accepts,
// maxSize, after the seq and msgid and their spaces, and some more, so that a body a little
// over the limit gets the server's own refusal and serve goes on.
func maxLineBytes(maxSize int) int { return maxSize + 64<<10 }

// Message size limits, as a default TLL's: its connecting tcp client reads frames into a
// 256 KiB buffer (2 × 2 × its 64 KiB max-size), so that is the largest body a default
// subscriber takes, and the largest serve accepts. --max-size raises both, up to maxMaxSize:
// a limit is always a number someone chose, and memory follows it.
const (
	defaultMaxSize = 256<<10 - 16
	maxMaxSize     = 64 << 20
	// historyBatchBytes bounds what one history send holds, whatever the message size, and
	// how much a paused history leaves unsent: what a client that does not read costs the
	// server is about two of them, however large the store.
	historyBatchBytes = 64 << 10
)

func sizeFlag(fs *flag.FlagSet, what string) *int {
	return fs.Int("max-size", defaultMaxSize, what+" (bytes)")
}

func checkSize(cmd string, n int) error {
	if n < 1 || n > maxMaxSize {
		return usagef("%s: --max-size must be between 1 and %d, got %d", cmd, maxMaxSize, n)
	}
	return nil
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

// feed posts o.feed generated messages at o.rate per second, from the seq after last. The
// messages due at one moment go in one batch.
func feed(ctx context.Context, srv *tcp.ServerHost, last int64, o serverOpts, stderr io.Writer) error {
	start := time.Now()
	bodies := make([]byte, postBatchLines*o.size)
	msgs := make([]storage.Record, 0, postBatchLines)
	var res []tcp.PostResult
	timer := time.NewTimer(0)
	defer timer.Stop()
	seq := last
	for i := 0; i < o.feed; {
		due := o.feed
		if o.rate > 0 {
			due = min(o.feed, int(time.Since(start).Seconds()*o.rate)+1)
			if due <= i {
				timer.Reset(time.Until(start.Add(time.Duration(float64(i) / o.rate * float64(time.Second)))))
				select {
				case <-ctx.Done():
					return nil
				case <-timer.C:
				}
				continue
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		msgs = msgs[:0]
		for j := range min(due-i, postBatchLines) {
			body := bodies[j*o.size : (j+1)*o.size]
			copy(body, strconv.Itoa(i+j))
			msgs = append(msgs, storage.Record{Seq: seq + 1 + int64(j), MsgID: 1, Body: body})
		}
		var err error
		if res, err = srv.PostBatch(msgs, res[:0]); err != nil {
			return err
		}
		for _, r := range res {
			if r.Err != nil {
				return r.Err
			}
			seq = r.Seq
		}
		i += len(msgs)
	}
	fmt.Fprintf(stderr, "simrun serve: fed %d messages in %v\n", o.feed, time.Since(start).Round(time.Millisecond))
	<-ctx.Done()
	return nil
}
