package checker

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// A history file is JSON Lines: one event per line, one flat JSON object per event. README.md
// ("History files") documents it for people who write adapters; the tables below are the
// single source of truth for both directions.

// field is a key of a history line.
type field uint8

const (
	fT field = iota
	fNode
	fSession
	fEv
	fSeq
	fMsgID
	fSum
	fName
	fMode
	fReqSeq
	fState
	fReason
	numFields
)

var fieldNames = [numFields]string{
	fT: "t", fNode: "node", fSession: "session", fEv: "ev", fSeq: "seq", fMsgID: "msgid",
	fSum: "sum", fName: "name", fMode: "mode", fReqSeq: "req_seq", fState: "state", fReason: "reason",
}

// fieldSet is a set of fields, one bit each.
type fieldSet uint16

func (s fieldSet) has(f field) bool { return s&(1<<f) != 0 }

// kindSpec says which fields apply to a kind, in the order they are written. Required fields
// are always written and must be on every line of the kind; optional ones are written when
// they are not empty and read as empty when absent.
type kindSpec struct {
	fields   []field
	optional fieldSet
}

var kindSpecs = [...]kindSpec{
	EvPost:    {fields: []field{fSeq, fMsgID, fSum}},
	EvPostOK:  {fields: []field{fSeq, fMsgID, fSum, fName}, optional: 1 << fName},
	EvPostErr: {fields: []field{fSeq, fMsgID, fReason}, optional: 1 << fReason},
	EvOpen:    {fields: []field{fMode, fReqSeq, fName}, optional: 1 << fName},
	EvDeliver: {fields: []field{fSeq, fMsgID, fSum}},
	EvControl: {fields: []field{fName, fSeq}},
	EvState:   {fields: []field{fState, fReason}, optional: 1 << fReason},
	EvClose:   {},
	EvFault:   {fields: []field{fName, fReason}, optional: 1 << fReason},
	EvCrash:   {},
	// A line cannot say whether its node is the server, so every restart carries the seq the
	// server's restart needs; a client's is ignored.
	EvRestart: {fields: []field{fSeq}},
	EvPhase:   {fields: []field{fName, fSeq}},
}

// FormatError is a history file line that cannot be read.
type FormatError struct {
	Line int // 1-based
	Msg  string
}

func (e *FormatError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// WriteHistory writes h as JSON Lines, each event with the fields of its kind only. It fails,
// before writing anything, on an event ReadHistory would refuse: an unknown kind or a negative
// session.
func WriteHistory(w io.Writer, h History) error {
	for i := range h {
		if err := writable(&h[i]); err != nil {
			return fmt.Errorf("event %d: %s", i, err)
		}
	}
	// Lines are appended to one buffer and flushed in large writes: most of the cost of a history
	// file is the number of calls to w, not the formatting.
	const flushAt = 64 << 10
	buf := make([]byte, 0, flushAt+512)
	for i := range h {
		buf = appendEvent(buf, &h[i])
		if len(buf) >= flushAt {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

func writable(e *Event) error {
	if int(e.Kind) >= len(kindSpecs) || e.Kind == 0 {
		return fmt.Errorf("unknown kind %d", e.Kind)
	}
	if e.Session < 0 {
		return fmt.Errorf("negative session %d", e.Session)
	}
	return nil
}

func appendEvent(b []byte, e *Event) []byte {
	b = append(b, `{"t":`...)
	b = strconv.AppendInt(b, e.T, 10)
	b = append(b, `,"node":`...)
	b = AppendJSONString(b, e.Node)
	b = append(b, `,"session":`...)
	b = strconv.AppendInt(b, e.Session, 10)
	b = append(b, `,"ev":"`...)
	b = append(b, e.Kind.String()...)
	b = append(b, '"')
	spec := &kindSpecs[e.Kind]
	for _, f := range spec.fields {
		if spec.optional.has(f) && isZero(e, f) {
			continue
		}
		b = append(b, ',', '"')
		b = append(b, fieldNames[f]...)
		b = append(b, '"', ':')
		switch f {
		case fSeq:
			b = strconv.AppendInt(b, e.Seq, 10)
		case fMsgID:
			b = strconv.AppendInt(b, int64(e.MsgID), 10)
		case fSum:
			b = strconv.AppendUint(b, uint64(e.Sum), 10)
		case fReqSeq:
			b = strconv.AppendInt(b, e.ReqSeq, 10)
		case fMode:
			b = AppendJSONString(b, e.Mode.String())
		case fState:
			b = AppendJSONString(b, e.State.String())
		default:
			b = AppendJSONString(b, *stringField(e, f))
		}
	}
	return append(b, '}', '\n')
}

// isZero reports whether an optional field of e is empty; optional fields are all free strings.
func isZero(e *Event, f field) bool { return *stringField(e, f) == "" }

// stringField is where a free string field lives in an Event, nil for the others: the numeric
// ones, and mode and state, which are read and written by name.
func stringField(e *Event, f field) *string {
	switch f {
	case fNode:
		return &e.Node
	case fName:
		return &e.Name
	case fReason:
		return &e.Reason
	}
	return nil
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string, escaped as WriteHistory escapes it. Invalid
// UTF-8 becomes U+FFFD, as encoding/json does, so the output is always valid JSON; a writer
// of history lines of its own (simrun subscribe) uses it to write the same bytes.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				start = i + size
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// ReadHistory reads a history written by WriteHistory or by an adapter. It is strict about what
// the checker needs and lenient about the rest: every line must be one JSON object with the
// fields its kind requires, of the right types, while unknown fields, and known fields that do
// not apply to the kind, are ignored (adapters may add their own). Blank lines are skipped. A
// bad line is reported as a *FormatError naming it; other errors come from r.
func ReadHistory(r io.Reader) (History, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	p := lineParser{intern: make(map[string]string)}
	var h History
	var long []byte
	for line := 1; ; line++ {
		b, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long[:0], b...)
			for err == bufio.ErrBufferFull {
				b, err = br.ReadSlice('\n')
				long = append(long, b...)
			}
			b = long
		}
		b = bytes.TrimSuffix(b, []byte{'\n'})
		if len(bytes.TrimLeft(b, " \t\r")) > 0 {
			e, msg := p.parse(b)
			if msg != "" {
				return nil, &FormatError{Line: line, Msg: msg}
			}
			h = append(h, e)
		}
		switch {
		case err == io.EOF:
			return h, nil
		case err != nil:
			return nil, err
		}
	}
}

// maxDepth bounds the nesting of unknown fields' values, so a hostile line cannot exhaust the
// stack.
const maxDepth = 1000

// lineParser reads one line at a time. It is a hand-written JSON reader rather than
// encoding/json because it must tell a missing field from a zero one, reject duplicate and
// mistyped fields with a precise message, match keys case-sensitively, and read a million lines
// a second.
type lineParser struct {
	b       []byte
	i       int
	seen    fieldSet
	msg     string
	intern  map[string]string // node, mode and control names repeat on every line
	scratch []byte
}

// parse reads one non-blank line; msg is empty on success.
func (p *lineParser) parse(line []byte) (e Event, msg string) {
	p.b, p.i, p.seen, p.msg = line, 0, 0, ""
	var kind string
	p.ws()
	if !p.expect('{') {
		return e, p.msg
	}
	p.ws()
	if p.peek() == '}' {
		p.i++
	} else {
		for {
			p.ws()
			if p.peek() != '"' {
				p.fail("expected a field name")
				return e, p.msg
			}
			key, ok := p.str()
			if !ok {
				return e, p.msg
			}
			p.ws()
			if !p.expect(':') {
				return e, p.msg
			}
			p.ws()
			if f, known := lookupField(key); known {
				if p.seen.has(f) {
					return e, fmt.Sprintf("field %q appears twice", fieldNames[f])
				}
				p.seen |= 1 << f
				if !p.value(&e, f, &kind) {
					return e, p.msg
				}
			} else if !p.skip(1) {
				return e, p.msg
			}
			p.ws()
			if p.peek() == ',' {
				p.i++
				continue
			}
			if !p.expect('}') {
				return e, p.msg
			}
			break
		}
	}
	p.ws()
	if p.i < len(p.b) {
		p.fail(fmt.Sprintf("unexpected %q after the object", p.b[p.i]))
		return e, p.msg
	}
	return e, p.check(&e, kind)
}

// check applies the schema once the whole line is read, since "ev" may come last.
func (p *lineParser) check(e *Event, kind string) string {
	for f := range fEv + 1 { // the fields every line has
		if !p.seen.has(f) {
			return fmt.Sprintf("missing field %q", fieldNames[f])
		}
	}
	k, ok := ParseKind(kind)
	if !ok {
		return fmt.Sprintf("unknown event kind %q", kind)
	}
	e.Kind = k
	if e.Session < 0 {
		return fmt.Sprintf("field \"session\": negative session %d", e.Session)
	}
	spec := &kindSpecs[k]
	var applies fieldSet
	for _, f := range spec.fields {
		applies |= 1 << f
		if !p.seen.has(f) && !spec.optional.has(f) {
			return fmt.Sprintf("%s needs field %q", k, fieldNames[f])
		}
	}
	// Fields of other kinds are dropped, so what was read always writes back the same.
	for f := fSeq; f < numFields; f++ {
		if p.seen.has(f) && !applies.has(f) {
			clearField(e, f)
		}
	}
	return ""
}

func clearField(e *Event, f field) {
	switch f {
	case fSeq:
		e.Seq = 0
	case fMsgID:
		e.MsgID = 0
	case fSum:
		e.Sum = 0
	case fReqSeq:
		e.ReqSeq = 0
	case fMode:
		e.Mode = 0
	case fState:
		e.State = 0
	default:
		*stringField(e, f) = ""
	}
}

func lookupField(key []byte) (field, bool) {
	for f, n := range fieldNames {
		if string(key) == n {
			return field(f), true
		}
	}
	return 0, false
}

// value reads the value of known field f into e; the kind name goes to kind.
func (p *lineParser) value(e *Event, f field, kind *string) bool {
	name := fieldNames[f]
	switch f {
	case fT, fSession, fSeq, fReqSeq, fMsgID, fSum:
		if c := p.peek(); c != '-' && (c < '0' || c > '9') {
			p.msg = fmt.Sprintf("field %q: want an integer, got %s", name, p.what())
			return false
		}
		start := p.i
		isInt, ok := p.number()
		if !ok {
			return false
		}
		tok := p.b[start:p.i]
		if !isInt {
			p.msg = fmt.Sprintf("field %q: want an integer, got %s", name, tok)
			return false
		}
		n, ok := parseInt(tok)
		if !ok {
			p.msg = fmt.Sprintf("field %q: %s is out of the int64 range", name, tok)
			return false
		}
		switch f {
		case fT:
			e.T = n
		case fSession:
			e.Session = n
		case fSeq:
			e.Seq = n
		case fReqSeq:
			e.ReqSeq = n
		case fMsgID:
			if n < math.MinInt32 || n > math.MaxInt32 {
				p.msg = fmt.Sprintf("field %q: %d is out of the int32 range", name, n)
				return false
			}
			e.MsgID = int32(n)
		case fSum:
			if n < 0 || n > math.MaxUint32 {
				p.msg = fmt.Sprintf("field %q: %d is out of the uint32 range", name, n)
				return false
			}
			e.Sum = uint32(n)
		}
		return true
	}
	if p.peek() != '"' {
		p.msg = fmt.Sprintf("field %q: want a string, got %s", name, p.what())
		return false
	}
	s, ok := p.str()
	if !ok {
		return false
	}
	switch f {
	case fEv:
		*kind = p.interned(s)
	case fMode:
		if e.Mode, ok = ParseMode(string(s)); !ok {
			p.msg = fmt.Sprintf("field %q: unknown mode %q (want online, seq, seq-data, initial or last)", name, s)
		}
	case fState:
		if e.State, ok = ParseState(string(s)); !ok {
			p.msg = fmt.Sprintf("field %q: unknown state %q (want Active, Error or Closed)", name, s)
		}
	default:
		*stringField(e, f) = p.interned(s)
	}
	return ok
}

func (p *lineParser) interned(b []byte) string {
	if s, ok := p.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(s) <= 64 {
		p.intern[s] = s
	}
	return s
}

// what names the type of the value at the cursor, for type errors.
func (p *lineParser) what() string {
	switch p.peek() {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return "a number"
	}
	return "no value"
}

func (p *lineParser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *lineParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

func (p *lineParser) expect(c byte) bool {
	if p.peek() != c {
		if p.i >= len(p.b) {
			p.fail(fmt.Sprintf("expected %q, got the end of the line", c))
		} else {
			p.fail(fmt.Sprintf("expected %q, got %q", c, p.b[p.i]))
		}
		return false
	}
	p.i++
	return true
}

// fail records a syntax error at the cursor; columns are 1-based bytes.
func (p *lineParser) fail(msg string) {
	p.msg = fmt.Sprintf("bad JSON at column %d: %s", p.i+1, msg)
}

// number reads any JSON number; isInt says it has neither a fraction nor an exponent.
func (p *lineParser) number() (isInt, ok bool) {
	if p.peek() == '-' {
		p.i++
	}
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	switch {
	case p.i == start:
		p.fail("expected a digit")
		return false, false
	case p.b[start] == '0' && p.i-start > 1:
		p.i = start + 1
		p.fail("leading zero in a number")
		return false, false
	}
	isInt = true
	digits := func() bool {
		start := p.i
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
		}
		if p.i == start {
			p.fail("expected a digit")
			return false
		}
		return true
	}
	if p.peek() == '.' {
		isInt = false
		p.i++
		if !digits() {
			return false, false
		}
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		isInt = false
		p.i++
		if c := p.peek(); c == '+' || c == '-' {
			p.i++
		}
		if !digits() {
			return false, false
		}
	}
	return isInt, true
}

// parseInt converts an integer token number has already validated; ok is false when it does
// not fit in int64.
func parseInt(tok []byte) (n int64, ok bool) {
	neg := tok[0] == '-'
	if neg {
		tok = tok[1:]
	}
	var u uint64
	for _, c := range tok {
		d := uint64(c - '0')
		if u > (math.MaxUint64-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	switch {
	case !neg && u <= math.MaxInt64:
		return int64(u), true
	case neg && u <= 1<<63:
		// Negating in uint64 wraps to the two's complement, which is the int64 -u even for
		// u == 1<<63.
		return int64(-u), true
	}
	return 0, false
}

// str reads a JSON string at the cursor and returns its decoded bytes, which stay valid until
// the next call: they are the line itself or the parser's scratch buffer.
func (p *lineParser) str() ([]byte, bool) {
	p.i++ // the opening quote
	start := p.i
	// Fast path: plain ASCII needs no copy.
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			p.i++
			return p.b[start : p.i-1], true
		}
		if c < 0x20 || c == '\\' || c >= utf8.RuneSelf {
			break
		}
		p.i++
	}
	p.scratch = append(p.scratch[:0], p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return p.scratch, true
		case c < 0x20:
			p.fail(fmt.Sprintf("control character %q in a string", c))
			return nil, false
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size == 1 {
				p.fail("invalid UTF-8 in a string")
				return nil, false
			}
			p.scratch = append(p.scratch, p.b[p.i:p.i+size]...)
			p.i += size
		case c != '\\':
			p.scratch = append(p.scratch, c)
			p.i++
		default:
			r, ok := p.escape()
			if !ok {
				return nil, false
			}
			p.scratch = utf8.AppendRune(p.scratch, r)
		}
	}
	p.fail("unterminated string")
	return nil, false
}

// escape reads a backslash escape. A \u escape of half a surrogate pair that has no other half
// is U+FFFD, as in encoding/json.
func (p *lineParser) escape() (rune, bool) {
	p.i++
	c := p.peek()
	p.i++
	switch c {
	case '"', '\\', '/':
		return rune(c), true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	case 'u':
		r, ok := p.hex4()
		if !ok {
			return 0, false
		}
		if r < 0xd800 || r > 0xdfff {
			return r, true
		}
		if r < 0xdc00 && p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
			save := p.i
			p.i += 2
			lo, ok := p.hex4()
			if !ok {
				return 0, false
			}
			if lo >= 0xdc00 && lo <= 0xdfff {
				return 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00), true
			}
			p.i = save // not a pair: the second escape stands on its own
		}
		return utf8.RuneError, true
	}
	p.i--
	p.fail("invalid escape in a string")
	return 0, false
}

func (p *lineParser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		p.fail("short \\u escape")
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			p.fail("bad hex digit in a \\u escape")
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	p.i += 4
	return r, true
}

// skip reads and discards any JSON value: the value of an unknown field.
func (p *lineParser) skip(depth int) bool {
	if depth > maxDepth {
		p.fail(fmt.Sprintf("values nested deeper than %d", maxDepth))
		return false
	}
	switch c := p.peek(); c {
	case '"':
		_, ok := p.str()
		return ok
	case '{', '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		p.i++
		p.ws()
		if p.peek() == end {
			p.i++
			return true
		}
		for {
			p.ws()
			if c == '{' {
				if p.peek() != '"' {
					p.fail("expected a field name")
					return false
				}
				if _, ok := p.str(); !ok {
					return false
				}
				p.ws()
				if !p.expect(':') {
					return false
				}
				p.ws()
			}
			if !p.skip(depth + 1) {
				return false
			}
			p.ws()
			if p.peek() == ',' {
				p.i++
				continue
			}
			return p.expect(end)
		}
	case 't':
		return p.literal("true")
	case 'f':
		return p.literal("false")
	case 'n':
		return p.literal("null")
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		_, ok := p.number()
		return ok
	}
	if p.i >= len(p.b) {
		p.fail("expected a value, got the end of the line")
	} else {
		p.fail(fmt.Sprintf("expected a value, got %q", p.b[p.i]))
	}
	return false
}

func (p *lineParser) literal(lit string) bool {
	if !bytes.HasPrefix(p.b[p.i:], []byte(lit)) {
		p.fail("expected " + lit)
		return false
	}
	p.i += len(lit)
	return true
}
