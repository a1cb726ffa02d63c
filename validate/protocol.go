// Package validate plays scenarios against implementations that run as separate processes:
// a server command and one client command per plan client, each speaking the driver protocol
// (README.md, "The driver protocol") on its standard input and output. Every connection runs
// through a real fault proxy (netsim/proxy), plan times are scaled to real time, and the
// history the drivers report is judged by the same checker as a simulated run.
//
// Unlike the protocol code, this package lives in real time: it starts processes and
// goroutines and reads the wall clock. Every process it starts runs in its own process group
// and is killed with it; every wait has a deadline.
package validate

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/streamsim/streamsim/checker"
)

// Command is one line a driver reads: open and close for a client, post for a server.
type Command struct {
	Cmd     string `json:"cmd"`
	Mode    string `json:"mode,omitempty"`
	Seq     *int64 `json:"seq,omitempty"`
	MsgID   *int32 `json:"msgid,omitempty"`
	Payload []byte `json:"payload,omitempty"` // base64 in JSON
}

// Commands.
const (
	CmdOpen  = "open"
	CmdClose = "close"
	CmdPost  = "post"
)

// Event is one line a driver writes. T is Unix nanoseconds on the machine's real-time clock,
// taken when the thing happened, so that lines of several processes order by it.
type Event struct {
	Ev      string  `json:"ev"`
	T       int64   `json:"t"`
	Seq     *int64  `json:"seq,omitempty"`
	MsgID   *int32  `json:"msgid,omitempty"`
	Sum     *uint32 `json:"sum,omitempty"`
	Payload []byte  `json:"payload,omitempty"` // base64 in JSON; instead of Sum
	Name    string  `json:"name,omitempty"`
	State   string  `json:"state,omitempty"`
	Reason  string  `json:"reason,omitempty"`
	Synced  bool    `json:"synced,omitempty"`
	Start   int64   `json:"start,omitempty"` // a post's ok: when the driver called post
}

// Events.
const (
	EvReady   = "ready"   // the driver takes commands (a server: it accepts connections)
	EvOK      = "ok"      // the oldest unanswered command took effect
	EvError   = "error"   // the oldest unanswered command was refused (Reason)
	EvData    = "data"    // a message reached the client application (Seq, MsgID, Sum or Payload)
	EvControl = "control" // a control reached it (Name, Seq)
	EvState   = "state"   // its session changed state (State, Reason)
	EvPhase   = "phase"   // optional: the client reached a protocol phase (Name, Seq)
)

// Now is an event time: the real-time clock in Unix nanoseconds.
func Now() int64 { return time.Now().UnixNano() }

// OK answers a command.
func OK(t int64) Event { return Event{Ev: EvOK, T: t} }

// Posted answers a post the server began at start and accepted as seq at t.
func Posted(start, t, seq int64, synced bool) Event {
	return Event{Ev: EvOK, T: t, Start: start, Seq: &seq, Synced: synced}
}

// Refused answers a command that did not take effect.
func Refused(t int64, reason string) Event { return Event{Ev: EvError, T: t, Reason: reason} }

// Data reports a delivery by the checksum of its body.
func Data(t, seq int64, msgid int32, body []byte) Event {
	sum := checker.Checksum(body)
	return Event{Ev: EvData, T: t, Seq: &seq, MsgID: &msgid, Sum: &sum}
}

// Control reports a control message.
func Control(t int64, name string, seq int64) Event {
	return Event{Ev: EvControl, T: t, Name: name, Seq: &seq}
}

// State reports a state change.
func State(t int64, state, reason string) Event {
	return Event{Ev: EvState, T: t, State: state, Reason: reason}
}

// Phase reports a protocol phase.
func Phase(t int64, name string, seq int64) Event {
	return Event{Ev: EvPhase, T: t, Name: name, Seq: &seq}
}

// Open asks a client to open.
func Open(mode string, seq int64) Command { return Command{Cmd: CmdOpen, Mode: mode, Seq: &seq} }

// Close asks a client to close its session.
func Close() Command { return Command{Cmd: CmdClose} }

// Post asks a server to post.
func Post(seq int64, msgid int32, body []byte) Command {
	return Command{Cmd: CmdPost, Seq: &seq, MsgID: &msgid, Payload: body}
}

// ParseEvent reads and checks one line a driver wrote.
func ParseEvent(line []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(line, &e); err != nil {
		return e, fmt.Errorf("not a JSON object: %v", err)
	}
	if e.T <= 0 {
		return e, errors.New(`"t" (Unix nanoseconds) is missing or not positive`)
	}
	switch e.Ev {
	case EvReady, EvOK, EvError:
	case EvData:
		if e.Seq == nil || e.MsgID == nil || (e.Sum == nil && e.Payload == nil) {
			return e, errors.New(`data needs "seq", "msgid" and "sum" or "payload"`)
		}
		if e.Sum == nil {
			sum := checker.Checksum(e.Payload)
			e.Sum = &sum
		}
	case EvControl, EvPhase:
		if e.Name == "" || e.Seq == nil {
			return e, fmt.Errorf(`%s needs "name" and "seq"`, e.Ev)
		}
	case EvState:
		if _, ok := checker.ParseState(e.State); !ok {
			return e, fmt.Errorf(`state %q (want Active, Error or Closed)`, e.State)
		}
	default:
		return e, fmt.Errorf("unknown event %q", e.Ev)
	}
	return e, nil
}

// ParseCommand reads and checks one line a driver was sent.
func ParseCommand(line []byte) (Command, error) {
	var c Command
	if err := json.Unmarshal(line, &c); err != nil {
		return c, fmt.Errorf("not a JSON object: %v", err)
	}
	switch c.Cmd {
	case CmdOpen:
		if c.Mode == "" {
			return c, errors.New(`open needs "mode"`)
		}
	case CmdClose:
	case CmdPost:
		if c.Seq == nil || c.MsgID == nil {
			return c, errors.New(`post needs "seq" and "msgid"`)
		}
	default:
		return c, fmt.Errorf("unknown command %q", c.Cmd)
	}
	return c, nil
}

// Writer writes driver lines, commands or events, one JSON object per line, each flushed at
// once so the other end sees it when it happens. It is safe for concurrent use.
type Writer struct {
	mu  sync.Mutex
	w   *bufio.Writer
	err error
}

// NewWriter writes lines to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: bufio.NewWriter(w)} }

// Write writes v as one line. After a failure it keeps returning the first error.
func (w *Writer) Write(v any) error {
	b, err := jsonLine(v)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		_, w.err = w.w.Write(b)
	}
	if w.err == nil {
		w.err = w.w.Flush()
	}
	return w.err
}

func jsonLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	return append(b, '\n'), err
}
