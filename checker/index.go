package checker

// SessionIndex maps session ids to their positions in a slice of per-session state, for the
// validators here and for whoever else walks a history session by session. Events
// mostly come in runs of one session, so the last answer is kept to skip the lookup; ids below
// denseIDs, which every recorder here hands out from 1 up, are looked up in a slice rather than
// the map, since deliveries to several sessions interleave and a map lookup per event was a
// tenth of judging them.
type SessionIndex struct {
	byID   map[int64]int
	dense  []int32 // dense[id] is the position + 1 of id, 0 if it was not added
	lastID int64
	last   int // position of lastID, or -1
}

// denseIDs bounds the slice part of the index: 4 MB at most, whatever ids a history holds.
const denseIDs = 1 << 20

// NewSessionIndex returns an empty index.
func NewSessionIndex() SessionIndex { return SessionIndex{byID: make(map[int64]int), last: -1} }

// Find returns the position of session id, if it was added.
func (x *SessionIndex) Find(id int64) (int, bool) {
	if x.last >= 0 && x.lastID == id {
		return x.last, true
	}
	var k int
	var ok bool
	if id >= 0 && id < denseIDs {
		if id < int64(len(x.dense)) && x.dense[id] > 0 {
			k, ok = int(x.dense[id])-1, true
		}
	} else {
		k, ok = x.byID[id]
	}
	if ok {
		x.lastID, x.last = id, k
	}
	return k, ok
}

// Add records that session id is at position k; it reports false if id was already there.
func (x *SessionIndex) Add(id int64, k int) bool {
	if id >= 0 && id < denseIDs {
		if id >= int64(len(x.dense)) {
			x.dense = append(x.dense, make([]int32, id+1-int64(len(x.dense)))...)
		}
		if x.dense[id] > 0 {
			return false
		}
		x.dense[id] = int32(k + 1)
		return true
	}
	if _, dup := x.byID[id]; dup {
		return false
	}
	x.byID[id] = k
	return true
}
