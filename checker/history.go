// Package checker judges histories. A history is what a run did, recorded as an ordered list of
// events; the checker never sees the system that produced it, so it judges simulated runs,
// socket runs and other implementations alike.
package checker

// Kind is the type of a history event.
type Kind uint8

const (
	EvPost    Kind = iota + 1 // server application starts a post (Seq as asked, MsgID, Sum)
	EvPostOK                  // the post was accepted; Seq is the seq actually stored, Name PostSynced if durable
	EvPostErr                 // the post was rejected (Reason)
	EvOpen                    // client application opens a session (Mode, ReqSeq)
	EvDeliver                 // a data message reached the client application (Seq, MsgID, Sum)
	EvControl                 // a control message reached the client application (Name, Seq)
	EvState                   // the client session changed state (State, Reason)
	EvClose                   // client application closes its session
	EvFault                   // a fault was injected (Name, Reason says where)
	EvCrash                   // a node crashed
	EvRestart                 // a node restarted; for the server, Seq is the last seq its storage recovered, -1 if none
	EvPhase                   // a client reached a protocol phase (Name, Seq); informational
)

var kindNames = [...]string{
	EvPost: "post", EvPostOK: "post_ok", EvPostErr: "post_err", EvOpen: "open",
	EvDeliver: "deliver", EvControl: "control", EvState: "state", EvClose: "close",
	EvFault: "fault", EvCrash: "crash", EvRestart: "restart", EvPhase: "phase",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// ParseKind is the inverse of Kind.String; ok is false for an unknown name.
func ParseKind(s string) (k Kind, ok bool) {
	for i, n := range kindNames {
		if n != "" && n == s {
			return Kind(i), true
		}
	}
	return 0, false
}

// Control names, as TLL's stream-control scheme spells them.
const (
	CtlOnline       = "Online"
	CtlBeginOfBlock = "BeginOfBlock"
	CtlEndOfBlock   = "EndOfBlock"
)

// Protocol phases a client reports on its way to Online. Validators ignore them; reports mark
// them on the timeline and fault schedulers aim at them.
const (
	PhRequest    = "request"     // Request sent (Seq: the requested seq)
	PhReply      = "reply"       // Reply received (Seq: the server's last seq)
	PhOverlap    = "overlap"     // history reached buffered online data (Seq: the buffer's front)
	PhClientDone = "client_done" // ClientDone sent (Seq: last history seq)
	PhEvict      = "evict"       // the online buffer overflowed for the first time (Seq: evicted seq, or the seq of a message larger than the buffer)
)

// State is a client session's state, as an EvState event reports it.
type State uint8

// Client session states.
const (
	StActive State = iota + 1
	StError
	StClosed
)

var stateNames = [...]string{StActive: "Active", StError: "Error", StClosed: "Closed"}

// String is the state's name as TLL spells it, "" for the zero State (no state) or one out of
// range.
func (s State) String() string { return nameOf(stateNames[:], s) }

// ParseState is the inverse of State.String for the known states.
func ParseState(name string) (State, bool) { return parseName[State](stateNames[:], name) }

// nameOf and parseName map the one-byte enumerations of an event to their names and back.
func nameOf[T ~uint8](names []string, v T) string {
	if int(v) < len(names) {
		return names[v]
	}
	return ""
}

func parseName[T ~uint8](names []string, name string) (T, bool) {
	for i, n := range names {
		if n != "" && n == name {
			return T(i), true
		}
	}
	return 0, false
}

// OpenReopen in an open event's Name marks an automatic reopen after an error: the client
// resumes where its previous session stopped, which the resume property checks.
const OpenReopen = "reopen"

// PostSynced in a post_ok event's Name marks a post the server acknowledged only once its
// storage made it durable: it must survive a crash, which the durable property checks.
const PostSynced = "synced"

// Mode is the mode a session was opened in. It and State are one byte each, with Kind, so
// that an event stays small: a history holds one per delivery.
type Mode uint8

// Open modes.
const (
	ModeOnline Mode = iota + 1
	ModeSeq
	ModeSeqData
	ModeInitial
	ModeLast
)

var modeNames = [...]string{
	ModeOnline: "online", ModeSeq: "seq", ModeSeqData: "seq-data", ModeInitial: "initial", ModeLast: "last",
}

// String is the mode's name in a history file, "" for the zero Mode (no mode) or one out of
// range.
func (m Mode) String() string { return nameOf(modeNames[:], m) }

// ParseMode is the inverse of Mode.String for the known modes.
func ParseMode(name string) (Mode, bool) { return parseName[Mode](modeNames[:], name) }

// known reports whether m is one of the open modes.
func (m Mode) known() bool { return m >= ModeOnline && int(m) < len(modeNames) }

// Event is one line of a history. Which fields mean something depends on Kind; the others are
// zero. T is nanoseconds (virtual or real) and never decreases along a history.
//
// The fields are ordered so that the three one-byte ones share a word: an Event is 96 bytes.
type Event struct {
	T       int64
	Node    string // the server's or client's name
	Session int64  // client session id, unique in the history; 0 for server events
	Seq     int64
	MsgID   int32
	Sum     uint32 // checksum of the message body (Checksum)
	Name    string // control name, fault kind, OpenReopen on an open, PostSynced on a post_ok
	ReqSeq  int64  // open: the seq argument of the open (meaningful for seq and seq-data)
	Reason  string
	Kind    Kind
	Mode    Mode // open mode
	State   State
}

// History is a recorded run.
type History []Event
