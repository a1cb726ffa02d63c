package checker

// sessionIndex maps session ids to their positions in a slice of per-session state. Events
// mostly come in runs of one session, so the last answer is kept to skip the map.
type sessionIndex struct {
	byID   map[int64]int
	lastID int64
	last   int // position of lastID, or -1
}

func newSessionIndex() sessionIndex { return sessionIndex{byID: make(map[int64]int), last: -1} }

// find returns the position of session id, if it was added.
func (x *sessionIndex) find(id int64) (int, bool) {
	if x.last >= 0 && x.lastID == id {
		return x.last, true
	}
	k, ok := x.byID[id]
	if ok {
		x.lastID, x.last = id, k
	}
	return k, ok
}

// add records that session id is at position k; it reports false if id was already there.
func (x *sessionIndex) add(id int64, k int) bool {
	if _, dup := x.byID[id]; dup {
		return false
	}
	x.byID[id] = k
	return true
}
