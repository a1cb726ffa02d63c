package reference

// ringHeaderBytes is what each buffered message costs beyond its body, as in TLL's ring where
// every entry carries its 16-byte frame header. Counting it keeps our buffer sizes comparable.
const ringHeaderBytes = 16

type ringEntry struct {
	seq   int64
	msgid int32
	body  []byte
}

// ring buffers online messages while a client reads history. It is bounded in bytes; pushing
// past the bound evicts the oldest entries. Eviction is safe only because the server stores
// before it publishes (I3): whatever is evicted will come again from history, and the client
// switches to live only once history has reached the ring's front.
type ring struct {
	entries     []ringEntry
	head        int
	used        int // bytes, counting ringHeaderBytes per entry
	limit       int
	evicted     int   // entries evicted since the last reset
	lastEvicted int64 // seq of the entry evicted last
}

func (r *ring) reset(limit int) {
	clear(r.entries)
	r.entries = r.entries[:0]
	r.head, r.used, r.limit, r.evicted = 0, 0, limit, 0
}

func (r *ring) len() int { return len(r.entries) - r.head }

func (r *ring) front() *ringEntry { return &r.entries[r.head] }

func (r *ring) back() *ringEntry { return &r.entries[len(r.entries)-1] }

// push copies body into the ring. It reports false when one message alone exceeds the limit:
// such a message can never be buffered, and the caller must fail loudly.
func (r *ring) push(seq int64, msgid int32, body []byte) bool {
	need := ringHeaderBytes + len(body)
	if need > r.limit {
		return false
	}
	for r.used+need > r.limit {
		r.lastEvicted = r.pop().seq
		r.evicted++
	}
	if r.head > 0 && r.head == len(r.entries) {
		r.entries, r.head = r.entries[:0], 0
	}
	r.entries = append(r.entries, ringEntry{seq: seq, msgid: msgid, body: append([]byte(nil), body...)})
	r.used += need
	return true
}

func (r *ring) pop() ringEntry {
	e := r.entries[r.head]
	r.entries[r.head] = ringEntry{}
	r.head++
	r.used -= ringHeaderBytes + len(e.body)
	return e
}
