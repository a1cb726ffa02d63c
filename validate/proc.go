package validate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds on waiting for a driver process. They only matter when something is wrong.
const (
	// exitGrace is how long a driver gets to exit after its standard input closes, and
	// again after SIGTERM, before its process group is killed.
	exitGrace = 2 * time.Second
	// maxLine bounds one line a driver writes: a data event carrying a 64 KiB payload in
	// base64 fits many times over.
	maxLine = 4 << 20
	// stderrTail is how much of a driver's standard error is kept for error messages.
	stderrTail = 2 << 10
)

// line is one thing a driver's output reader saw: an event, a line that is not one, or
// the end of the output (eof).
type line struct {
	p   *proc
	ev  Event
	err error
	eof bool
}

// proc is one driver process, run by /bin/sh in a process group of its own so that stopping
// it also stops whatever it started.
type proc struct {
	name    string
	cmd     *exec.Cmd
	out     *os.File // read end of its standard output
	stderr  *tail
	exited  chan struct{} // closed once the process has been waited for
	waitErr error
	reader  chan struct{} // closed when the output reader has returned

	mu      sync.Mutex
	queue   [][]byte // lines not yet written to its standard input
	closing bool     // close its standard input once the queue is written
	wake    chan struct{}
	in      *os.File
	writer  chan struct{} // closed when the input writer has returned
}

// startProc runs shell command cmdline with env added to this process's environment. Lines
// it writes go to lines until stop is closed.
func startProc(name, cmdline string, env []string, lines chan<- line, stop <-chan struct{}) (*proc, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	p := &proc{
		name: name, out: outR, in: inW, stderr: &tail{},
		exited: make(chan struct{}), reader: make(chan struct{}), writer: make(chan struct{}), wake: make(chan struct{}, 1),
	}
	p.cmd = exec.Command("/bin/sh", "-c", cmdline)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = inR, outW, p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A process the driver started may keep standard error open after the driver exits;
	// Wait must not wait for it.
	p.cmd.WaitDelay = time.Second
	err = p.cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	go p.read(lines, stop)
	go p.write()
	return p, nil
}

func (p *proc) read(lines chan<- line, stop <-chan struct{}) {
	defer close(p.reader)
	send := func(l line) bool {
		select {
		case lines <- l:
			return true
		case <-stop:
			return false
		}
	}
	br := bufio.NewReaderSize(p.out, 64<<10)
	for {
		b, err := readLine(br)
		if len(b) > 0 {
			l := line{p: p}
			l.ev, l.err = ParseEvent(b)
			if !send(l) {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				send(line{p: p, err: err})
			}
			send(line{p: p, eof: true})
			return
		}
	}
}

// readLine returns the next line without its newline, or an error for one over maxLine.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf)+len(frag) > maxLine {
			return nil, fmt.Errorf("a line longer than %d bytes", maxLine)
		}
		buf = append(buf, frag...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimRight(buf, "\r\n"), err
	}
}

func (p *proc) write() {
	defer close(p.writer)
	defer p.in.Close()
	var batch [][]byte
	for {
		p.mu.Lock()
		batch = append(batch[:0], p.queue...)
		clear(p.queue)
		p.queue = p.queue[:0]
		closing := p.closing
		p.mu.Unlock()
		if len(batch) > 0 {
			for _, b := range batch {
				if _, err := p.in.Write(b); err != nil {
					return // the driver is gone; its reader reports that
				}
			}
			clear(batch)
			continue
		}
		if closing {
			return
		}
		<-p.wake
	}
}

// send queues one command line; it never blocks on the driver.
func (p *proc) send(c Command) {
	b, err := jsonLine(c)
	if err != nil {
		panic(err) // commands are built here from checked values
	}
	p.mu.Lock()
	p.queue = append(p.queue, b)
	p.mu.Unlock()
	p.nudge()
}

func (p *proc) nudge() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// stop ends the driver: its standard input closes, then it gets exitGrace to exit, then
// SIGTERM, then SIGKILL, each for its whole process group. It returns once the process is
// reaped and both pipe goroutines have returned.
func (p *proc) stop() {
	p.mu.Lock()
	p.closing = true
	p.mu.Unlock()
	p.nudge()
	exited := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-p.exited:
			return true
		case <-t.C:
			return false
		}
	}
	pgid := p.cmd.Process.Pid
	if !exited(exitGrace) {
		syscall.Kill(-pgid, syscall.SIGTERM)
		if !exited(exitGrace) {
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.exited // SIGKILL cannot be ignored; WaitDelay bounds the rest
		}
	}
	// The shell may have exited while something it started lives on in the group.
	syscall.Kill(-pgid, syscall.SIGKILL)
	// Closing our ends unblocks the writer stuck on a full pipe and the reader stuck on one
	// kept open by an escaped process.
	p.in.Close()
	p.out.Close()
	<-p.writer
	<-p.reader
}

// describe says how the driver ended, for error messages: its exit status and the end of
// its standard error.
func (p *proc) describe() string {
	status := "still running"
	select {
	case <-p.exited:
		status = "exited"
		if p.waitErr != nil {
			status = p.waitErr.Error()
		}
	case <-time.After(exitGrace):
	}
	if s := strings.TrimSpace(p.stderr.String()); s != "" {
		if i := strings.LastIndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
		return fmt.Sprintf("%s (stderr: %s)", status, s)
	}
	return status
}

// tail keeps the last stderrTail bytes written to it.
type tail struct {
	mu sync.Mutex
	b  []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - stderrTail; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
