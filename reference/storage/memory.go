package storage

import "sort"

// Memory is a Store kept in memory. Records sit in blocks of recBlock and bodies in arena
// chunks that start small and double up to a MiB, so a long log costs one allocation per
// block or MiB rather than one per message, and appending never copies what is already
// stored. A record names its body by arena and offset instead of holding a slice, so the
// blocks hold no pointers and the collector never scans them, however long the log.
type Memory struct {
	blocks [][]memRec // full blocks, then the one being filled
	n      int        // records stored
	arenas [][]byte   // the last one is being filled; the others are immutable
}

type memRec struct {
	seq    int64
	off, n int
	msgid  int32
	arena  int32
}

// NewMemory returns an empty memory store.
func NewMemory() *Memory { return &Memory{} }

const (
	arenaFirst = 4 << 10
	arenaChunk = 1 << 20
	recBlock   = 4096
)

func (m *Memory) at(i int) *memRec { return &m.blocks[i/recBlock][i%recBlock] }

func (m *Memory) Append(r Record) error {
	if m.n > 0 {
		if last := m.at(m.n - 1).seq; r.Seq <= last {
			return notIncreasing(r.Seq, last)
		}
	}
	if r.Seq < 0 {
		return notIncreasing(r.Seq, -1)
	}
	rec := memRec{seq: r.Seq, msgid: r.MsgID, n: len(r.Body)}
	if len(r.Body) > 0 {
		a := len(m.arenas) - 1
		if a < 0 || cap(m.arenas[a])-len(m.arenas[a]) < len(r.Body) {
			// Start a new chunk; bodies handed out by Read keep pointing into the old one,
			// which stays immutable.
			prev := 0
			if a >= 0 {
				prev = cap(m.arenas[a])
			}
			m.arenas = append(m.arenas, make([]byte, 0, max(len(r.Body), arenaFirst, min(arenaChunk, 2*prev))))
			a++
		}
		rec.arena, rec.off = int32(a), len(m.arenas[a])
		m.arenas[a] = append(m.arenas[a], r.Body...)
	}
	if m.n%recBlock == 0 {
		m.blocks = append(m.blocks, make([]memRec, 0, recBlock))
	}
	b := len(m.blocks) - 1
	m.blocks[b] = append(m.blocks[b], rec)
	m.n++
	return nil
}

func (m *Memory) Read(dst []Record, from int64, max int) ([]Record, error) {
	i := sort.Search(m.n, func(i int) bool { return m.at(i).seq >= from })
	for end := min(m.n, i+max); i < end; i++ {
		r := m.at(i)
		var body []byte
		if r.n > 0 {
			body = m.arenas[r.arena][r.off : r.off+r.n : r.off+r.n]
		}
		dst = append(dst, Record{Seq: r.seq, MsgID: r.msgid, Body: body})
	}
	return dst, nil
}

func (m *Memory) First() int64 {
	if m.n == 0 {
		return -1
	}
	return m.blocks[0][0].seq
}

func (m *Memory) Last() int64 {
	if m.n == 0 {
		return -1
	}
	return m.at(m.n - 1).seq
}
