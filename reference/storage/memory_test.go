package storage

import (
	"errors"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func seqs(recs []Record) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.Seq
	}
	return out
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMemorySparseReads(t *testing.T) {
	m := NewMemory()
	if m.First() != -1 || m.Last() != -1 {
		t.Fatalf("empty store: first %d last %d, want -1 -1", m.First(), m.Last())
	}
	for _, s := range []int64{10, 20, 30} {
		if err := m.Append(Record{Seq: s, MsgID: 7, Body: []byte{byte(s)}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		from int64
		max  int
		want []int64
	}{
		{0, 10, []int64{10, 20, 30}},
		{10, 10, []int64{10, 20, 30}},
		{11, 10, []int64{20, 30}}, // inside a gap: the next stored seq
		{20, 1, []int64{20}},
		{31, 10, []int64{}},
	} {
		got, err := m.Read(nil, tc.from, tc.max)
		if err != nil || !equal(seqs(got), tc.want) {
			t.Errorf("Read(from %d, max %d) = %v, %v; want %v", tc.from, tc.max, seqs(got), err, tc.want)
		}
	}
	if m.First() != 10 || m.Last() != 30 {
		t.Fatalf("first %d last %d, want 10 30", m.First(), m.Last())
	}
}

func TestMemoryRejectsNonIncreasing(t *testing.T) {
	m := NewMemory()
	if err := m.Append(Record{Seq: -1}); !errors.Is(err, ErrNotIncreasing) {
		t.Fatalf("negative seq: %v", err)
	}
	if err := m.Append(Record{Seq: 5}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []int64{5, 4} {
		if err := m.Append(Record{Seq: s}); !errors.Is(err, ErrNotIncreasing) {
			t.Errorf("Append(%d) after 5 = %v, want ErrNotIncreasing", s, err)
		}
	}
	if m.Last() != 5 {
		t.Fatalf("a rejected append changed the store: last %d", m.Last())
	}
}

func TestMemoryCopiesBodies(t *testing.T) {
	m := NewMemory()
	body := []byte("abc")
	if err := m.Append(Record{Seq: 1, Body: body}); err != nil {
		t.Fatal(err)
	}
	body[0] = 'X'
	big := make([]byte, arenaChunk+1) // forces a new arena chunk; old bodies must survive it
	if err := m.Append(Record{Seq: 2, Body: big}); err != nil {
		t.Fatal(err)
	}
	got, _ := m.Read(nil, 1, 1)
	if string(got[0].Body) != "abc" {
		t.Fatalf("stored body %q, want the bytes at append time %q", got[0].Body, "abc")
	}
}

func TestMemoryAcrossBlocks(t *testing.T) {
	m := NewMemory()
	const n = 2*recBlock + 3
	for i := range int64(n) {
		body := []byte{byte(i), byte(i >> 8)}
		if i%5 == 0 {
			body = nil
		}
		if err := m.Append(Record{Seq: 2 * i, MsgID: int32(i), Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	if m.First() != 0 || m.Last() != 2*(n-1) {
		t.Fatalf("first %d last %d, want 0 %d", m.First(), m.Last(), 2*(n-1))
	}
	// From inside the gap before the last record of the first block, across the second.
	from := int64(2*recBlock - 3)
	got, err := m.Read(nil, from, recBlock+2)
	if err != nil || len(got) != recBlock+2 {
		t.Fatalf("Read(%d) = %d records, %v; want %d", from, len(got), err, recBlock+2)
	}
	for k, r := range got {
		i := int64(recBlock - 1 + k)
		want := []byte{byte(i), byte(i >> 8)}
		if i%5 == 0 {
			want = nil
		}
		if r.Seq != 2*i || r.MsgID != int32(i) || string(r.Body) != string(want) {
			t.Fatalf("record %d: seq %d msgid %d body %v, want %d %d %v", k, r.Seq, r.MsgID, r.Body, 2*i, i, want)
		}
	}
}
