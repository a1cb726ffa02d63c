package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/reference/storage"
	"github.com/streamsim/streamsim/reference/tcp"
	"github.com/streamsim/streamsim/validate"
)

// cmdDriver puts the reference behind the driver protocol (README, "The driver protocol").
func cmdDriver(args []string, stdin io.Reader, stdout io.Writer) (int, error) {
	if len(args) == 0 || (args[0] != "client" && args[0] != "server") {
		if err := parse(flags("driver"), args); err != nil {
			return 2, err
		}
		return 2, usagef("driver takes client or server: simrun driver client|server --online ADDR --request ADDR")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if args[0] == "client" {
		o, err := clientFlags("driver client", args[1:])
		if err != nil {
			return 2, err
		}
		return 0, driveClient(ctx, o, stdin, stdout)
	}
	o, err := serverFlags("driver server", args[1:])
	if err != nil {
		return 2, err
	}
	return 0, driveServer(ctx, o, stdin, stdout)
}

// clientOpts configure a reference client on sockets, for subscribe and driver client.
type clientOpts struct {
	online, request string
	cfg             reference.ClientConfig
	// For subscribe.
	mode reference.Mode
	seq  int64
}

// clientFlags reads the flags of a reference client. Under simrun validate the addresses and
// the plan's client settings come from the environment, and flags override them.
func clientFlags(name string, args []string) (clientOpts, error) {
	env, err := validate.ClientFromEnv()
	if err != nil {
		return clientOpts{}, usagef("%v", err)
	}
	fs := flags(name)
	online := fs.String("online", os.Getenv(validate.EnvOnline), "the server's online address")
	request := fs.String("request", os.Getenv(validate.EnvRequest), "the server's request address")
	peer := fs.String("name", cmp.Or(env.Name, os.Getenv(validate.EnvName), "c1"), "client name")
	proto := fs.String("protocol", cmp.Or(env.Protocol, "new"), "request protocol: new or old")
	bufferHelp := "bytes of live data buffered during history (0: 128 KiB)"
	if name == "subscribe" {
		bufferHelp = "bytes of live data buffered during history (0: 4 × --max-size, as TLL's pub client)"
	}
	buffer := fs.Int("buffer", env.BufferBytes, bufferHelp)
	maxSize := sizeFlag(fs, "the largest message body accepted from the server")
	impl := fs.String("impl", "reference", "implementation: reference or mutant:NAME")
	var mode *string
	var seq *int64
	if name == "subscribe" {
		mode = fs.String("mode", "", "open mode: online, seq, seq-data, initial or last")
		seq = fs.Int64("seq", 0, "seq for modes seq and seq-data")
	}
	if err := parse(fs, args); err != nil {
		return clientOpts{}, err
	}
	o := clientOpts{online: *online, request: *request}
	if o.online == "" || o.request == "" {
		return o, usagef("%s: --online and --request are required", name)
	}
	if err := checkSize(name, *maxSize); err != nil {
		return o, err
	}
	o.cfg = reference.ClientConfig{Peer: *peer, BufferBytes: *buffer, MaxFrameBytes: *maxSize, Contiguous: env.Contiguous, HandshakeTimeoutNs: env.HandshakeTimeoutUs * 1000}
	if name == "subscribe" && *buffer == 0 {
		o.cfg.BufferBytes = 4 * *maxSize
	}
	switch *proto {
	case "new":
	case "old":
		o.cfg.Protocol = reference.ProtoOld
	default:
		return o, usagef("%s: --protocol wants new or old, got %q", name, *proto)
	}
	if *buffer < 0 {
		return o, usagef("%s: --buffer must not be negative", name)
	}
	if o.cfg.Bugs, err = parseImpl(*impl); err != nil {
		return o, err
	}
	if mode != nil {
		if o.mode, err = reference.ParseMode(*mode); err != nil {
			return o, usagef("%s: --mode: %v", name, err)
		}
		o.seq = *seq
	}
	return o, nil
}

// serverOpts configure a reference server on sockets, for serve and driver server.
type serverOpts struct {
	online, request, storage string
	// durable syncs the store before each acknowledgement; without it the store is synced
	// when it closes (and as its writer fills), as TLL's file storage does.
	durable bool
	cfg     reference.ServerConfig
	// For serve.
	feed, size int
	rate       float64
	listening  func(online, request string, last int64)
	recovered  func(storage.Cut) // told each thing the file store's recovery cut
}

func serverFlags(name string, args []string) (serverOpts, error) {
	env, err := validate.ServerFromEnv()
	if err != nil {
		return serverOpts{}, usagef("%v", err)
	}
	fs := flags(name)
	online := fs.String("online", os.Getenv(validate.EnvOnline), "online (pub) address to listen on")
	request := fs.String("request", os.Getenv(validate.EnvRequest), "request address to listen on")
	dir := fs.String("storage", "", "directory of the file store (default: in memory)")
	maxSize := sizeFlag(fs, "the largest message body posted and served")
	durable := fs.Bool("durable", env.Durable, "sync the file store before acknowledging each post (default: the plan's durable)")
	impl := fs.String("impl", "reference", "implementation: reference or mutant:NAME")
	var feed, size *int
	var rate *float64
	if name == "serve" {
		feed = fs.Int("feed", 0, "post N generated messages instead of reading standard input")
		rate = fs.Float64("rate", 1000, "generated messages per second (0: as fast as possible)")
		size = fs.Int("size", 64, "bytes per generated message")
	}
	if err := parse(fs, args); err != nil {
		return serverOpts{}, err
	}
	o := serverOpts{online: *online, request: *request, storage: *dir, durable: *durable && *dir != ""}
	if o.online == "" || o.request == "" {
		return o, usagef("%s: --online and --request are required", name)
	}
	// A plan's durable is honoured where there is a store to sync; the flag itself is not.
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "durable" })
	if explicit && *durable && *dir == "" {
		return o, usagef("%s: --durable needs --storage DIR (a memory store has nothing to sync)", name)
	}
	if err := checkSize(name, *maxSize); err != nil {
		return o, err
	}
	o.cfg = reference.ServerConfig{
		Autoseq: env.Autoseq, HistoryBatchMsgs: env.HistoryBatchMsgs, HistoryIntervalNs: env.HistoryIntervalUs * 1000,
		PubLastSeq: env.PubLastSeq, MaxMsgBytes: *maxSize,
	}
	if name == "serve" {
		// A driver keeps the node's history pacing, as the simulator runs it; serve bounds
		// what each client costs it in bytes.
		o.cfg.HistoryBatchBytes, o.cfg.HistoryMaxPendingBytes = historyBatchBytes, historyBatchBytes
	}
	if o.cfg.Bugs, err = parseImpl(*impl); err != nil {
		return o, err
	}
	if feed != nil {
		o.feed, o.rate, o.size = *feed, *rate, *size
		switch {
		case o.feed < 0:
			return o, usagef("%s: --feed must not be negative", name)
		case !(o.rate >= 0):
			return o, usagef("%s: --rate must not be negative", name)
		case o.size < 0 || o.size > *maxSize:
			return o, usagef("%s: --size must be between 0 and --max-size (%d)", name, *maxSize)
		}
	}
	return o, nil
}

// listen starts the server: on the file store when o.storage is set, synced before each
// acknowledgement when o.durable, so that nothing acknowledged is lost when it stops or
// crashes, and otherwise synced only when it stops, rotations included, as TLL's file storage
// is, and written behind; otherwise in memory. It returns the last seq stored, and a function
// that stops the server and closes (syncs) the store.
func listen(o serverOpts) (*tcp.ServerHost, int64, func() error, error) {
	cfg := o.cfg
	var file *storage.File
	last := int64(-1)
	if o.storage != "" {
		var err error
		opt := storage.FileOptions{NoSyncOnRotate: !o.durable}
		if !o.durable {
			// Nothing waits for the disk before acknowledging, so the kernel's copy of each
			// 64 KiB into its page cache can go on beside the next appends.
			opt.FS = storage.WriteBehind(storage.OS{})
		}
		if file, err = storage.OpenFile(o.storage, opt); err != nil {
			return nil, 0, nil, err
		}
		cfg.Store, cfg.Durable, last = file, o.durable, file.Last()
		if o.recovered != nil {
			for _, c := range file.Recovered() {
				o.recovered(c)
			}
		}
	}
	srv, err := tcp.ListenServer(o.online, o.request, cfg, tcp.WithLimits(tcp.LimitsFor(cfg)))
	if err != nil {
		if file != nil {
			file.Close()
		}
		return nil, 0, nil, err
	}
	stop := func() error {
		srv.Close()
		if file != nil {
			return file.Close()
		}
		return nil
	}
	return srv, last, stop, nil
}

func driveServer(ctx context.Context, o serverOpts, stdin io.Reader, stdout io.Writer) (err error) {
	srv, _, stop, err := listen(o)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stop()) }()
	w := validate.NewWriter(stdout)
	if err := w.Write(validate.Event{Ev: validate.EvReady, T: validate.Now()}); err != nil {
		return err
	}
	return eachCommand(ctx, stdin, func(line []byte) error {
		c, perr := validate.ParseCommand(line)
		if perr == nil && c.Cmd != validate.CmdPost {
			perr = fmt.Errorf("a server takes post, not %s", c.Cmd)
		}
		var ev validate.Event
		start := validate.Now()
		if perr != nil {
			ev = validate.Refused(start, perr.Error())
		} else if seq, err := srv.Post(*c.Seq, *c.MsgID, c.Payload); err != nil {
			ev = validate.Refused(validate.Now(), err.Error())
		} else {
			ev = validate.Posted(start, validate.Now(), seq, o.durable)
		}
		return w.Write(ev)
	})
}

// driverApp is the application on a reference client behind the driver protocol: it reports
// what the client delivers. Its callbacks run on the client host's loop, commands on the
// driver's main goroutine; mu orders their lines.
type driverApp struct {
	w  *validate.Writer
	mu sync.Mutex
	// closing is set when the application closes: what the client delivers while the close
	// is on its way to the host's loop belongs to no session and is dropped, as an
	// application that has closed ignores it.
	closing bool
}

func (a *driverApp) emit(ev func(t int64) validate.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.closing {
		a.w.Write(ev(validate.Now()))
	}
}

func (a *driverApp) Data(seq int64, msgid int32, body []byte) {
	a.emit(func(t int64) validate.Event { return validate.Data(t, seq, msgid, body) })
}

func (a *driverApp) Control(c reference.Control, seq int64) {
	a.emit(func(t int64) validate.Event { return validate.Control(t, c.String(), seq) })
}

func (a *driverApp) State(s reference.State, reason string) {
	if s == reference.StateOpening {
		return
	}
	a.emit(func(t int64) validate.Event { return validate.State(t, s.String(), reason) })
}

func (a *driverApp) Phase(p reference.Phase, seq int64) {
	a.emit(func(t int64) validate.Event { return validate.Phase(t, p.String(), seq) })
}

// answer writes a command's answer, setting closing first, so that no callback's line can
// fall between the two. Its time is read under the lock too: read before, it could be earlier
// than a callback's line written while this waited, and the answer, written after that line,
// would claim the close came first.
func (a *driverApp) answer(ev func(t int64) validate.Event, closing bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closing = closing
	return a.w.Write(ev(validate.Now()))
}

// refuse answers a command that changed nothing.
func (a *driverApp) refuse(reason string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.w.Write(validate.Refused(validate.Now(), reason))
}

// quiet drops callbacks from now on.
func (a *driverApp) quiet() {
	a.mu.Lock()
	a.closing = true
	a.mu.Unlock()
}

func driveClient(ctx context.Context, o clientOpts, stdin io.Reader, stdout io.Writer) error {
	app := &driverApp{w: validate.NewWriter(stdout), closing: true}
	host := tcp.DialClient(o.online, o.request, app, o.cfg)
	defer host.Shutdown()
	if err := app.w.Write(validate.Event{Ev: validate.EvReady, T: validate.Now()}); err != nil {
		return err
	}
	return eachCommand(ctx, stdin, func(line []byte) error { return driveCommand(app, host, line) })
}

// eachCommand hands each line of stdin to handle until stdin ends, handle fails or ctx is
// done (a signal): the command loop both drivers share.
func eachCommand(ctx context.Context, stdin io.Reader, handle func([]byte) error) error {
	lines, done := readLines(stdin)
	defer close(done)
	for {
		var l inputLine
		select {
		case <-ctx.Done():
			return nil
		case l = <-lines:
		}
		if l.err != nil {
			return l.err
		}
		if l.eof {
			return nil
		}
		if err := handle(l.b); err != nil {
			return err
		}
	}
}

func driveCommand(app *driverApp, host *tcp.ClientHost, b []byte) error {
	c, err := validate.ParseCommand(b)
	var mode reference.Mode
	switch {
	case err != nil:
	case c.Cmd == validate.CmdPost:
		err = errors.New("a client takes open and close, not post")
	case c.Cmd == validate.CmdOpen:
		mode, err = reference.ParseMode(c.Mode)
	}
	if err != nil {
		return app.refuse(err.Error())
	}
	if c.Cmd == validate.CmdClose {
		// The answer's time is the close: nothing of the session is reported after it.
		if err := app.answer(validate.OK, true); err != nil {
			return err
		}
		host.Close()
		return nil
	}
	// A session still open is closed first, unreported: the harness closes before it opens,
	// so only one that ended on its own can be left, and that one reported its end.
	app.quiet()
	host.Close()
	if err := app.answer(validate.OK, false); err != nil {
		return err
	}
	var seq int64
	if c.Seq != nil {
		seq = *c.Seq
	}
	if err := host.Open(mode, seq); err != nil {
		app.emit(func(t int64) validate.Event { return validate.State(t, reference.StateError.String(), err.Error()) })
	}
	return nil
}

// inputLine is one line of standard input, or its end.
type inputLine struct {
	b   []byte
	eof bool
	err error
}

// readLines reads r line by line on a goroutine of its own, so that a command can stop on a
// signal while its input is quiet. The goroutine ends at the input's end or, once done is
// closed, at the next line.
func readLines(r io.Reader) (<-chan inputLine, chan<- struct{}) {
	lines, done := make(chan inputLine), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			select {
			case lines <- inputLine{b: append([]byte(nil), sc.Bytes()...)}:
			case <-done:
				return
			}
		}
		select {
		case lines <- inputLine{eof: sc.Err() == nil, err: sc.Err()}:
		case <-done:
		}
	}()
	return lines, done
}
