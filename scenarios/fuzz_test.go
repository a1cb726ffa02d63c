package scenarios

import (
	"testing"
)

// FuzzHandover explores the replay boundary: where the requested seq falls against the stored
// log (before it, on it, in a gap, at last, past it), how sparse the log is, how small the
// client's buffer is, and when live posts land against the open and against the slower
// request channel. Whatever the fuzzer picks, the reference must not violate any property.
func FuzzHandover(f *testing.F) {
	f.Add(int64(20), uint8(3), uint8(10), uint16(0), uint16(3500), uint8(3), uint8(1), uint16(100), uint16(1000))   // test_overlapped
	f.Add(int64(31), uint8(3), uint8(10), uint16(0), uint16(100), uint8(0), uint8(1), uint16(100), uint16(100))     // test_recent
	f.Add(int64(0), uint8(50), uint8(1), uint16(2048), uint16(1000), uint8(100), uint8(0), uint16(50), uint16(800)) // overflow
	f.Add(int64(15), uint8(3), uint8(10), uint16(300), uint16(0), uint8(5), uint8(2), uint16(10), uint16(10))       // in a gap
	f.Fuzz(func(t *testing.T, reqSeq int64, logLen, step uint8, bufBytes, liveAfterUs uint16, live, mode uint8, onlineUs, requestUs uint16) {
		modes := []string{"seq", "seq-data", "initial", "last", "online"}
		p := Plan{
			Name:       "fuzz",
			DurationUs: 200_000,
			Net: NetPlan{
				Online:  Link{LatencyUs: int64(onlineUs % 5000)},
				Request: Link{LatencyUs: int64(requestUs % 5000)},
			},
			Server: ServerPlan{HistoryBatchMsgs: 1 + int(step%8), HistoryIntervalUs: int64(liveAfterUs % 300)},
		}
		stride := 1 + int64(step%16)
		seq := int64(0)
		for range int(logLen) {
			p.Posts = append(p.Posts, Post{AtUs: 0, Seq: seq, SizeBytes: 24})
			seq += stride
		}
		for i := range int(live) {
			p.Posts = append(p.Posts, Post{AtUs: 500 + int64(liveAfterUs) + int64(i)*37, Seq: seq, SizeBytes: 24})
			seq += stride
		}
		c := ClientPlan{Name: "c1", OpenAtUs: 500, Mode: modes[int(mode)%len(modes)], Seq: max(0, reqSeq%1_000_000)}
		if bufBytes != 0 {
			c.BufferBytes = 64 + int(bufBytes)
		}
		p.Clients = []ClientPlan{c}
		out, err := Run(p, 1, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range out.Result.Violations {
			t.Errorf("%s on %s: %s\n%s", v.Property, v.Node, v.Message, Story(out.History))
		}
	})
}
