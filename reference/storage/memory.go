package storage

import "sort"

// Memory is a Store kept in memory. Bodies are copied into arena chunks that start small and
// double up to a MiB, so a short log costs little and a long one one allocation per MiB
// rather than one per message.
type Memory struct {
	recs  []Record
	arena []byte
}

// NewMemory returns an empty memory store.
func NewMemory() *Memory { return &Memory{} }

const (
	arenaFirst = 4 << 10
	arenaChunk = 1 << 20
)

func (m *Memory) Append(r Record) error {
	if n := len(m.recs); n > 0 && r.Seq <= m.recs[n-1].Seq {
		return notIncreasing(r.Seq, m.recs[n-1].Seq)
	}
	if r.Seq < 0 {
		return notIncreasing(r.Seq, -1)
	}
	if cap(m.arena)-len(m.arena) < len(r.Body) {
		// Start a new chunk; earlier records keep pointing into the old one, which stays
		// immutable, so bodies handed out by Read remain valid.
		m.arena = make([]byte, 0, max(len(r.Body), arenaFirst, min(arenaChunk, 2*cap(m.arena))))
	}
	start := len(m.arena)
	m.arena = append(m.arena, r.Body...)
	r.Body = m.arena[start:len(m.arena):len(m.arena)]
	m.recs = append(m.recs, r)
	return nil
}

func (m *Memory) Read(dst []Record, from int64, max int) ([]Record, error) {
	i := sort.Search(len(m.recs), func(i int) bool { return m.recs[i].Seq >= from })
	end := min(len(m.recs), i+max)
	return append(dst, m.recs[i:end]...), nil
}

func (m *Memory) First() int64 {
	if len(m.recs) == 0 {
		return -1
	}
	return m.recs[0].Seq
}

func (m *Memory) Last() int64 {
	if len(m.recs) == 0 {
		return -1
	}
	return m.recs[len(m.recs)-1].Seq
}
