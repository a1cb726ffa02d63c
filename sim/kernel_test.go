package sim

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder notes the virtual time and a label each time one of its handlers fires.
type recorder struct {
	k   *Kernel
	got []string
	at  []int64
}

func (r *recorder) mark(label string) Handler {
	return Func(func() {
		r.got = append(r.got, label)
		r.at = append(r.at, r.k.Now())
	})
}

func TestTiesFireInScheduleOrder(t *testing.T) {
	k := New(1)
	r := &recorder{k: k}
	// Interleave times so that insertion order and heap layout disagree.
	k.Schedule(20, r.mark("b1"))
	k.Schedule(10, r.mark("a1"))
	k.Schedule(20, r.mark("b2"))
	k.Schedule(10, r.mark("a2"))
	k.Schedule(20, r.mark("b3"))
	k.Schedule(10, r.mark("a3"))
	k.Schedule(5, Func(func() { k.Schedule(10, r.mark("a4")) }))
	k.Run(100)
	want := []string{"a1", "a2", "a3", "a4", "b1", "b2", "b3"}
	if !slices.Equal(r.got, want) {
		t.Fatalf("order %v, want %v", r.got, want)
	}
	if !slices.Equal(r.at, []int64{10, 10, 10, 10, 20, 20, 20}) {
		t.Fatalf("times %v", r.at)
	}
}

func TestHeapOrderRandomised(t *testing.T) {
	k := New(7)
	type item struct{ at, seq int64 }
	var want []item
	var got []item
	for i := range 5000 {
		at := k.Rand().Int64N(300)
		it := item{at, int64(i)}
		want = append(want, it)
		k.Schedule(at, Func(func() { got = append(got, it) }))
	}
	slices.SortStableFunc(want, func(a, b item) int { return int(a.at - b.at) })
	if k.Pending() != 5000 {
		t.Fatalf("Pending %d", k.Pending())
	}
	k.Run(1000)
	if !slices.Equal(got, want) {
		t.Fatalf("fired out of (time, insertion) order")
	}
	if k.Pending() != 0 || k.Fired() != 5000 {
		t.Fatalf("Pending %d Fired %d", k.Pending(), k.Fired())
	}
}

func TestRunEndTime(t *testing.T) {
	k := New(1)
	r := &recorder{k: k}
	k.Schedule(30, r.mark("x"))
	k.Schedule(80, r.mark("y"))
	k.Run(50)
	if k.Now() != 50 || len(r.got) != 1 {
		t.Fatalf("after Run(50): now %d fired %v", k.Now(), r.got)
	}
	k.Run(80) // an event exactly at until fires
	if len(r.got) != 2 || k.Now() != 80 {
		t.Fatalf("after Run(80): now %d fired %v", k.Now(), r.got)
	}
	k.Run(500) // empty queue: time still advances to until
	if k.Now() != 500 {
		t.Fatalf("now %d, want 500", k.Now())
	}
}

func TestAfterAndStep(t *testing.T) {
	k := New(1)
	r := &recorder{k: k}
	k.Run(100)
	k.After(25, r.mark("x"))
	if !k.Step() || k.Now() != 125 {
		t.Fatalf("Step: now %d", k.Now())
	}
	if k.Step() {
		t.Fatal("Step on an empty queue fired")
	}
}

func TestMaxEvents(t *testing.T) {
	k := New(1)
	var tick Handler
	count := 0
	tick = Func(func() { count++; k.After(1, tick) }) // a runaway: never stops by itself
	k.Schedule(0, tick)
	k.SetMaxEvents(1000)
	k.Run(1 << 40)
	if !k.Exhausted() || count != 1000 {
		t.Fatalf("exhausted %v count %d", k.Exhausted(), count)
	}
	if k.Now() != 999 {
		t.Fatalf("now %d, want the last event's time 999", k.Now())
	}
	k.SetMaxEvents(1010)
	if k.Exhausted() {
		t.Fatal("SetMaxEvents did not clear Exhausted")
	}
	k.Run(2000)
	if count != 1010 || !k.Exhausted() {
		t.Fatalf("count %d exhausted %v", count, k.Exhausted())
	}
}

func TestMaxEventsNotExhaustedWhenDrained(t *testing.T) {
	k := New(1)
	k.SetMaxEvents(2)
	k.Schedule(1, Func(func() {}))
	k.Schedule(2, Func(func() {}))
	k.Run(10)
	if k.Exhausted() || k.Now() != 10 {
		t.Fatalf("exhausted %v now %d", k.Exhausted(), k.Now())
	}
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatalf("%s did not panic", what)
		}
	}()
	f()
}

func TestProgrammingErrorsPanic(t *testing.T) {
	k := New(1)
	k.Run(100)
	mustPanic(t, "Schedule in the past", func() { k.Schedule(99, Func(func() {})) })
	mustPanic(t, "After with negative delay", func() { k.After(-1, Func(func() {})) })
	mustPanic(t, "Schedule nil", func() { k.Schedule(100, nil) })
	mustPanic(t, "Run backwards", func() { k.Run(50) })
	k.Schedule(100, Func(func() { k.Run(200) }))
	mustPanic(t, "re-entrant Run", func() { k.Run(100) })
}

func TestRandDeterministic(t *testing.T) {
	a, b, c := New(42), New(42), New(43)
	same, differ := true, false
	for range 100 {
		x, y, z := a.Rand().Uint64(), b.Rand().Uint64(), c.Rand().Uint64()
		same = same && x == y
		differ = differ || x != z
	}
	if !same || !differ {
		t.Fatalf("same seed equal: %v, other seed differs: %v", same, differ)
	}
}

type rec struct {
	at        int64
	who, what string
	a, b      int64
}

func hashOf(recs []rec) uint64 {
	var tr Trace
	for _, r := range recs {
		tr.Record(r.at, r.who, r.what, r.a, r.b)
	}
	return tr.Hash()
}

func TestTraceHash(t *testing.T) {
	base := []rec{{1250000, "client1", "recv", 30, 64}, {2000000, "server", "accept", 31, 0}}
	h := hashOf(base)
	if h != hashOf(slices.Clone(base)) {
		t.Fatal("same records, different hash")
	}
	var empty Trace
	if empty.Hash() != fnvOffset64 || empty.Len() != 0 {
		t.Fatalf("zero Trace: hash %x len %d", empty.Hash(), empty.Len())
	}
	variants := []struct {
		name   string
		change func(r *rec)
	}{
		{"at", func(r *rec) { r.at++ }},
		{"who", func(r *rec) { r.who += "x" }},
		{"what", func(r *rec) { r.what += "x" }},
		{"a", func(r *rec) { r.a-- }},
		{"b", func(r *rec) { r.b++ }},
		// Moving a byte across the who/what boundary must still change the hash.
		{"boundary", func(r *rec) { r.who, r.what = r.who+r.what[:1], r.what[1:] }},
	}
	for _, v := range variants {
		for i := range base {
			changed := slices.Clone(base)
			v.change(&changed[i])
			if hashOf(changed) == h {
				t.Errorf("changing %s of record %d left the hash unchanged", v.name, i)
			}
		}
	}
	swapped := []rec{base[1], base[0]}
	if hashOf(swapped) == h {
		t.Error("reordering records left the hash unchanged")
	}
}

func TestTraceWriter(t *testing.T) {
	var plain, written Trace
	var buf bytes.Buffer
	written.SetWriter(&buf)
	for _, tr := range []*Trace{&plain, &written} {
		tr.Record(1250000, "client1", "recv", 30, 64)
		tr.Record(3, "server", "close", 7, 0)
	}
	if plain.Hash() != written.Hash() || plain.Len() != 2 || written.Len() != 2 {
		t.Fatal("writer changed the hash or the count")
	}
	want := "     1.250000ms client1    recv           30 64\n" +
		"     0.000003ms server     close           7 0\n"
	if buf.String() != want {
		t.Fatalf("text:\n%q\nwant\n%q", buf.String(), want)
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	f.n++
	return 0, errors.New("disk full")
}

func TestTraceWriterError(t *testing.T) {
	var tr Trace
	fw := &failWriter{}
	tr.SetWriter(fw)
	tr.Record(1, "a", "b", 0, 0)
	tr.Record(2, "a", "b", 0, 0)
	if tr.Err() == nil || !strings.Contains(tr.Err().Error(), "disk full") || fw.n != 1 {
		t.Fatalf("err %v writes %d", tr.Err(), fw.n)
	}
	if tr.Len() != 2 {
		t.Fatal("hashing stopped with the writer")
	}
}

func TestScheduleFireDoesNotAllocate(t *testing.T) {
	k := New(1)
	b := &bouncer{k: k}
	for range 64 {
		k.After(1, b)
	}
	allocs := testing.AllocsPerRun(10000, func() { k.Step() })
	if allocs != 0 {
		t.Fatalf("%.1f allocations per schedule+fire", allocs)
	}
}

// bouncer reschedules itself at a pseudo-random later time each time it fires, keeping the
// queue at a steady size.
type bouncer struct {
	k *Kernel
	x uint64
}

func (b *bouncer) Fire() {
	b.x = b.x*6364136223846793005 + 1442695040888963407
	b.k.After(int64(b.x>>54), b)
}

func BenchmarkScheduleFire(b *testing.B) {
	for _, pending := range []int{16, 1024, 65536} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			k := New(1)
			h := &bouncer{k: k}
			for range pending {
				k.After(int64(k.Rand().IntN(1024)), h)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				k.Step()
			}
		})
	}
}

// The hash must be FNV-1a over exactly the documented encoding, so other tools can recompute it.
func TestTraceEncoding(t *testing.T) {
	var tr Trace
	tr.Record(-1, "ab", "", 64, 1<<40)
	enc := binary.AppendVarint(nil, -1)
	enc = append(binary.AppendUvarint(enc, 2), "ab"...)
	enc = binary.AppendUvarint(enc, 0)
	enc = binary.AppendVarint(enc, 64)
	enc = binary.AppendVarint(enc, 1<<40)
	f := fnv.New64a()
	f.Write(enc)
	if tr.Hash() != f.Sum64() {
		t.Fatalf("hash %x, FNV-1a of the encoding %x", tr.Hash(), f.Sum64())
	}
}

func BenchmarkTraceRecord(b *testing.B) {
	var tr Trace
	b.ReportAllocs()
	for i := range b.N {
		tr.Record(int64(i)*1000, "client1", "recv", 30, 64)
	}
}

// A message record's hash covers its msgid and body checksum: a client that loses the msgid
// or garbles the body must not replay to the same hash.
func TestTraceHashCoversMessage(t *testing.T) {
	hash := func(msgid int32, sum uint32) uint64 {
		var tr Trace
		tr.RecordMsg(5, "c1", "deliver", 3, 1, msgid, sum)
		return tr.Hash()
	}
	base := hash(7, 0xabcdef)
	if base != hash(7, 0xabcdef) {
		t.Fatal("same message, different hash")
	}
	if hash(0, 0xabcdef) == base || hash(7, 0xabcdee) == base {
		t.Fatal("changing the msgid or the checksum left the hash unchanged")
	}
	var plain Trace
	plain.Record(5, "c1", "deliver", 3, 1)
	if plain.Hash() == hash(0, 0) {
		t.Fatal("a message record hashes like a plain one")
	}
	var buf bytes.Buffer
	var written Trace
	written.SetWriter(&buf)
	written.RecordMsg(5, "c1", "deliver", 3, 1, 7, 0xabcdef)
	if want := "     0.000005ms c1         deliver         3 1 msgid=7 sum=abcdef\n"; buf.String() != want {
		t.Fatalf("text %q, want %q", buf.String(), want)
	}
}

// Events scheduled in time order go to a runway, the others to the heap; whatever the mix,
// and with handlers scheduling more while the run goes on, they must fire in (time, insertion)
// order, as a plain sorted list of what is pending says.
func TestRunwayAndHeapFireInOrder(t *testing.T) {
	k := New(3)
	type item struct{ at, seq int64 }
	byOrder := func(a, b item) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq)) }
	var pending, got []item // pending sorted by byOrder
	var seq int64
	var schedule func(at int64)
	schedule = func(at int64) {
		it := item{at, seq}
		seq++
		i, _ := slices.BinarySearchFunc(pending, it, byOrder)
		pending = slices.Insert(pending, i, it)
		k.Schedule(at, Func(func() {
			got = append(got, it)
			// Some handlers schedule nothing, some one event now or soon, some a run of
			// events in time order far ahead, as a plan's posts are.
			switch k.Rand().IntN(4) {
			case 1:
				schedule(k.Now() + k.Rand().Int64N(3))
			case 2:
				schedule(k.Now() + k.Rand().Int64N(500))
			case 3:
				for j := range k.Rand().Int64N(5) {
					schedule(k.Now() + 100 + 10*j)
				}
			}
		}))
	}
	for i := range 2000 {
		schedule(int64(i / 3))
	}
	for i := range 300 {
		schedule(k.Rand().Int64N(1000) + int64(i%2))
	}
	for len(got) < 50_000 && len(pending) > 0 {
		// The handler may schedule more, so the earliest pending is taken before it fires.
		want := pending[0]
		pending = pending[1:]
		if !k.Step() {
			t.Fatalf("Step fired nothing with %d pending", len(pending)+1)
		}
		if g := got[len(got)-1]; g != want {
			t.Fatalf("event %d: fired %v, want %v", len(got)-1, g, want)
		}
	}
	if k.Pending() != len(pending) {
		t.Fatalf("Pending %d, want %d", k.Pending(), len(pending))
	}
	if len(got) < 10_000 {
		t.Fatalf("only %d events fired: the test exercises too little", len(got))
	}
}
