package reference

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/streamsim/streamsim/reference/storage"
	"github.com/streamsim/streamsim/reference/wire"
)

func serverWith(t *testing.T, seqs ...int64) (*Server, *fakeEnv) {
	t.Helper()
	env := newFakeEnv()
	s := NewServer(env, ServerConfig{})
	for _, q := range seqs {
		if _, err := s.Post(q, 1, []byte{byte(q)}); err != nil {
			t.Fatal(err)
		}
	}
	return s, env
}

// Every malformed request gets an Error reply and a disconnect (TLL answers nothing, P9), and
// the server keeps serving others.
func TestServerRefusesMalformedRequests(t *testing.T) {
	valid := wire.AppendMsg(nil, wire.Request{Version: 1, Kind: wire.ReqSeq, Seq: 20})
	withVersion := func(v uint16) []byte {
		b := append([]byte(nil), valid...)
		binary.LittleEndian.PutUint16(b[wire.HeaderSize:], v)
		return b
	}
	withTag := func(tag byte) []byte {
		b := append([]byte(nil), valid...)
		b[wire.HeaderSize+18] = tag
		return b
	}
	lying := append([]byte(nil), valid...)
	binary.LittleEndian.PutUint32(lying, 1<<30)
	for name, tc := range map[string]struct {
		in   []byte
		want string
	}{
		"short body":        {wire.AppendFrame(nil, wire.MsgRequest, 0, []byte{1, 0, 0}), "Request"},
		"wrong version":     {withVersion(2), "version"},
		"unknown union tag": {withTag(9), "tag"},
		"block request":     {wire.AppendMsg(nil, wire.Request{Version: 1, Kind: wire.ReqBlock, Block: "default"}), "block"},
		"negative old seq":  {wire.AppendMsg(nil, wire.RequestOld{Version: 1, Seq: -5}), "negative"},
		"unknown msgid":     {wire.AppendFrame(nil, 77, 0, nil), "msgid 77"},
		"lying frame size":  {lying, ""},
		"huge seq":          {wire.AppendMsg(nil, wire.Request{Version: 1, Kind: wire.ReqSeq, Seq: 1 << 63}), "range"},
	} {
		t.Run(name, func(t *testing.T) {
			s, env := serverWith(t, 10, 20, 30)
			s.Accepted(7, ChanRequest)
			s.Received(7, tc.in)
			fr := env.frames(t, 7)
			if len(fr) != 1 || fr[0].MsgID != wire.MsgError {
				t.Fatalf("reply %+v, want one Error", fr)
			}
			e, err := wire.DecodeError(fr[0].Body)
			if err != nil || !strings.Contains(e.Text, tc.want) {
				t.Fatalf("Error %q (%v), want it to mention %q", e.Text, err, tc.want)
			}
			if !env.closed[7] {
				t.Fatal("connection not closed after the Error")
			}
			// Another client is still served.
			s.Accepted(8, ChanRequest)
			s.Received(8, valid)
			if fr := env.frames(t, 8); len(fr) != 3 || fr[0].MsgID != wire.MsgReply || fr[1].Seq != 20 || fr[2].Seq != 30 {
				t.Fatalf("next client got %+v, want Reply, 20, 30", fr)
			}
		})
	}
}

// The pub Hello understates its size (P15); the server must accept it however it is split.
func TestServerAcceptsHelloInAnySegmentation(t *testing.T) {
	hello := wire.AppendHello(nil, "client-name")
	for cut := 1; cut < len(hello); cut++ {
		s, env := serverWith(t, 5)
		s.Accepted(1, ChanOnline)
		s.Received(1, hello[:cut])
		s.Received(1, hello[cut:])
		fr := env.frames(t, 1)
		if len(fr) != 1 || fr[0].MsgID != wire.MsgHelloReply || env.closed[1] {
			t.Fatalf("cut at %d: got %+v closed=%v, want one HelloReply", cut, fr, env.closed[1])
		}
		hr, err := wire.DecodeHelloReply(fr[0].Body)
		if err != nil || hr.Seq != 5 {
			t.Fatalf("cut at %d: HelloReply %+v %v, want seq 5", cut, hr, err)
		}
		if _, err := s.Post(6, 1, nil); err != nil {
			t.Fatal(err)
		}
		if fr := env.frames(t, 1); len(fr) != 2 || fr[1].Seq != 6 {
			t.Fatalf("cut at %d: subscriber did not get the post: %+v", cut, fr)
		}
	}
}

func TestServerDropsSubscriberThatTalks(t *testing.T) {
	s, env := serverWith(t)
	s.Accepted(1, ChanOnline)
	s.Received(1, append(wire.AppendHello(nil, ""), 0xff))
	if !env.closed[1] {
		t.Fatal("bytes after Hello did not close the subscriber")
	}
	if _, err := s.Post(1, 1, nil); err != nil || len(env.sent[1]) != 0 {
		t.Fatalf("a dropped subscriber still receives posts: %v %d", err, len(env.sent[1]))
	}
}

func TestServerPostRules(t *testing.T) {
	s, _ := serverWith(t, 10)
	for _, q := range []int64{10, 9, -1} {
		if _, err := s.Post(q, 1, nil); err == nil {
			t.Errorf("Post(%d) after 10 accepted", q)
		}
	}
	if _, err := s.Post(11, 1, make([]byte, 64<<10)); err == nil {
		t.Error("a body over the size limit was accepted")
	}
	if s.LastSeq() != 10 {
		t.Fatalf("rejected posts moved the last seq to %d", s.LastSeq())
	}
	a := NewServer(newFakeEnv(), ServerConfig{Autoseq: true})
	for i := range 3 {
		if seq, err := a.Post(100, 1, nil); err != nil || seq != int64(i) {
			t.Fatalf("autoseq post %d stored as %d (%v)", i, seq, err)
		}
	}
}

// History keeps following the store after the Reply, until ClientDone ends it.
func TestServerTailsHistoryUntilClientDone(t *testing.T) {
	s, env := serverWith(t, 1, 2)
	s.Accepted(3, ChanRequest)
	s.Received(3, wire.AppendMsg(nil, wire.Request{Version: 1, Kind: wire.ReqSeq, Seq: 2}))
	s.Post(5, 1, nil)
	fr := env.frames(t, 3)
	if len(fr) != 3 || fr[1].Seq != 2 || fr[2].Seq != 5 {
		t.Fatalf("got %+v, want Reply, 2, 5", fr)
	}
	r, _ := wire.DecodeReply(fr[0].Body)
	if r.LastSeq != 2 || r.RequestedSeq != 2 || r.BlockSeq != -1 {
		t.Fatalf("Reply %+v", r)
	}
	s.Received(3, wire.AppendMsg(nil, wire.ClientDone{Seq: 5}))
	if !env.closed[3] {
		t.Fatal("ClientDone did not end the request channel")
	}
	s.Post(6, 1, nil)
	if len(env.frames(t, 3)) != 3 {
		t.Fatal("history continued after ClientDone")
	}
}

// A subscriber too far behind is dropped rather than buffered without bound, and a history
// stream waits while its reader is behind.
func TestServerBoundsWhatWaitsForSlowReaders(t *testing.T) {
	s, env := serverWith(t, 1)
	for id := ConnID(1); id <= 2; id++ {
		s.Accepted(id, ChanOnline)
		s.Received(id, wire.AppendHello(nil, ""))
	}
	env.pending[1] = 2 << 20
	if _, err := s.Post(2, 1, nil); err != nil {
		t.Fatal(err)
	}
	if !env.closed[1] || env.closed[2] {
		t.Fatalf("closed %v: want the lagging subscriber 1 dropped and 2 kept", env.closed)
	}
	if fr := env.frames(t, 2); len(fr) != 2 || fr[1].Seq != 2 {
		t.Fatalf("subscriber 2 got %+v", fr)
	}

	s.Accepted(3, ChanRequest)
	env.pending[3] = 1 << 20
	s.Received(3, wire.AppendMsg(nil, wire.Request{Version: 1, Kind: wire.ReqSeq, Seq: 1}))
	if fr := env.frames(t, 3); len(fr) != 1 || fr[0].MsgID != wire.MsgReply {
		t.Fatalf("history was sent to a reader %d bytes behind: %+v", env.pending[3], fr)
	}
	env.pending[3] = 0
	s.Timer(3)
	if fr := env.frames(t, 3); len(fr) != 3 || fr[1].Seq != 1 || fr[2].Seq != 2 {
		t.Fatalf("history did not resume once the reader caught up: %+v", fr)
	}
}

// failingReads is a store whose next reads fail, as a file store's do on a damaged segment.
type failingReads struct {
	storage.Store
	fail int // reads left to fail
}

func (f *failingReads) Read(dst []storage.Record, from int64, max int) ([]storage.Record, error) {
	if f.fail > 0 {
		f.fail--
		return dst, errors.New("damaged segment")
	}
	return f.Store.Read(dst, from, max)
}

// A post pumps every caught-up history stream; one whose read fails is dropped on the way, and
// that must neither skip the stream after it nor reach past the end of the shrunk list.
func TestServerPostSurvivesATailDroppedWhilePumping(t *testing.T) {
	store := &failingReads{Store: storage.NewMemory()}
	env := newFakeEnv()
	s := NewServer(env, ServerConfig{Store: store})
	if _, err := s.Post(10, 1, []byte{10}); err != nil {
		t.Fatal(err)
	}
	req := wire.AppendMsg(nil, wire.Request{Version: 1, Kind: wire.ReqSeq, Seq: 10})
	for id := ConnID(1); id <= 3; id++ {
		s.Accepted(id, ChanRequest)
		s.Received(id, req)
	}
	store.fail = 1
	if _, err := s.Post(20, 1, []byte{20}); err != nil {
		t.Fatal(err)
	}
	if !env.closed[1] {
		t.Fatal("the stream whose read failed was not dropped")
	}
	for id := ConnID(2); id <= 3; id++ {
		fr := env.frames(t, id)
		if len(fr) != 3 || fr[2].Seq != 20 {
			t.Fatalf("stream %d got %+v, want Reply, 10, 20", id, fr)
		}
	}
}

// queueEnv is a host whose sockets take nothing: Pending is what was set plus everything
// sent, so a subscriber's lag grows with each frame, as on a host whose writer is behind.
type queueEnv struct {
	*fakeEnv
	sends map[ConnID]int
}

func (e *queueEnv) Send(c ConnID, p []byte) {
	e.sends[c]++
	e.fakeEnv.Send(c, p)
}
func (e *queueEnv) Pending(c ConnID) int { return e.pending[c] + len(e.sent[c]) }

// PostBatch does what as many Posts do, message for message: the same results, the same
// bytes to every subscriber and history stream, the same lagging subscribers dropped at the
// same message, the same store. Without mutants, failpoints or durability it sends the batch
// in one send to each connection far from its lag limit.
func TestServerPostBatchIsPostAfterPost(t *testing.T) {
	big := make([]byte, 60)
	batch := []storage.Record{
		{Seq: 3, MsgID: 5, Body: []byte("abc")},
		{Seq: 3, MsgID: 5, Body: []byte("again")}, // not increasing
		{Seq: 4, MsgID: 6, Body: big},             // too large
		{Seq: 7, MsgID: 7, Body: nil},
		{Seq: 8, MsgID: 8, Body: []byte("defgh")},
		{Seq: 9, MsgID: 9, Body: []byte("ij")},
	}
	for name, cfg := range map[string]ServerConfig{
		"plain":   {},
		"autoseq": {Autoseq: true},
		"durable": {Durable: true}, // the memory store cannot sync: every post fails
		"mutant":  {Bugs: BugLagDropSkipsNext},
	} {
		t.Run(name, func(t *testing.T) {
			run := func(post func(*Server, []storage.Record) []PostResult) (*queueEnv, []PostResult, []storage.Record) {
				env := &queueEnv{fakeEnv: newFakeEnv(), sends: map[ConnID]int{}}
				cfg := cfg
				cfg.Store, cfg.MaxMsgBytes, cfg.SubscriberMaxLagBytes = storage.NewMemory(), 50, 80
				s := NewServer(env, cfg)
				if _, err := s.Post(1, 1, []byte{1}); err != nil && !cfg.Durable {
					t.Fatal(err)
				}
				// 1 keeps up, 2 passes its lag limit inside the batch, 3 is over it already,
				// 4 passes it at the same message as 2 (the mutant then skips 5's check).
				for id := ConnID(1); id <= 5; id++ {
					s.Accepted(id, ChanOnline)
					s.Received(id, wire.AppendHello(nil, ""))
				}
				env.pending[2], env.pending[3], env.pending[4] = 30, 81, 30
				s.Accepted(6, ChanRequest)
				s.Received(6, wire.AppendMsg(nil, wire.Request{Version: 1, Kind: wire.ReqSeq, Seq: 0}))
				// From here Pending counts what the batch queues.
				clear(env.sends)
				clear(env.sent)
				res := post(s, batch)
				stored, err := cfg.Store.Read(nil, 0, 100)
				if err != nil {
					t.Fatal(err)
				}
				return env, res, stored
			}
			oneByOne, want, wantStored := run(func(s *Server, msgs []storage.Record) (res []PostResult) {
				for _, m := range msgs {
					seq, err := s.Post(m.Seq, m.MsgID, m.Body)
					res = append(res, PostResult{seq, err})
				}
				return res
			})
			batched, got, gotStored := run(func(s *Server, msgs []storage.Record) []PostResult {
				return s.PostBatch(msgs, nil)
			})
			if len(got) != len(want) {
				t.Fatalf("%d results, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i].Seq != want[i].Seq || fmt.Sprint(got[i].Err) != fmt.Sprint(want[i].Err) {
					t.Errorf("post %d: %d %v, want %d %v", i, got[i].Seq, got[i].Err, want[i].Seq, want[i].Err)
				}
			}
			if fmt.Sprint(gotStored) != fmt.Sprint(wantStored) {
				t.Errorf("stored %v, want %v", gotStored, wantStored)
			}
			for id := ConnID(1); id <= 6; id++ {
				if !bytes.Equal(batched.sent[id], oneByOne.sent[id]) || batched.closed[id] != oneByOne.closed[id] {
					t.Errorf("conn %d: got %x closed=%v, want %x closed=%v", id, batched.sent[id], batched.closed[id], oneByOne.sent[id], oneByOne.closed[id])
				}
			}
			if name != "plain" {
				return
			}
			if !oneByOne.closed[2] || oneByOne.closed[1] || len(oneByOne.frames(t, 2)) != 3 {
				t.Fatalf("the case does not drop subscriber 2 inside the batch: closed %v", oneByOne.closed)
			}
			// Those far from their limit get the batch in one send.
			for _, id := range []ConnID{1, 5, 6} {
				if n := batched.sends[id]; n != 1 {
					t.Errorf("conn %d got the batch in %d sends, want one", id, n)
				}
			}
		})
	}
}

// retainEnv keeps the slices it is sent, as a host that queues without copying does.
type retainEnv struct {
	*fakeEnv
	got [][]byte
}

func (e *retainEnv) Send(_ ConnID, p []byte) { e.got = append(e.got, p) }

// copyEnv is a CopySender.
type copyEnv struct {
	*fakeEnv
	copies int
}

func (e *copyEnv) SendCopy(c ConnID, p []byte) {
	e.copies++
	e.Send(c, p)
}

// PostBatch reuses its frame buffer only on a host that copies what it is sent; a host that
// keeps the slices still has every batch intact.
func TestServerPostBatchReusesFramesOnlyOnCopySenders(t *testing.T) {
	batch := func(from int64) []storage.Record {
		return []storage.Record{{Seq: from, Body: []byte{byte(from)}}, {Seq: from + 1, Body: []byte{byte(from + 1)}}}
	}
	decode := func(p []byte) (seqs []int64) {
		f := wire.NewFramer(1 << 10)
		f.Feed(p)
		for {
			fr, ok, err := f.Next()
			if err != nil || !ok {
				return seqs
			}
			seqs = append(seqs, fr.Seq)
		}
	}
	retain := &retainEnv{fakeEnv: newFakeEnv()}
	s := NewServer(retain, ServerConfig{})
	s.Accepted(1, ChanOnline)
	s.Received(1, wire.AppendHello(nil, ""))
	s.PostBatch(batch(1), nil)
	s.PostBatch(batch(3), nil)
	if len(retain.got) != 3 || fmt.Sprint(decode(retain.got[1])) != "[1 2]" || fmt.Sprint(decode(retain.got[2])) != "[3 4]" {
		t.Fatalf("a host keeping its sends holds %d of them, the batches decoding to %v and %v", len(retain.got), decode(retain.got[1]), decode(retain.got[2]))
	}

	copying := &copyEnv{fakeEnv: newFakeEnv()}
	s = NewServer(copying, ServerConfig{})
	s.Accepted(1, ChanOnline)
	s.Received(1, wire.AppendHello(nil, ""))
	s.PostBatch(batch(1), nil)
	first := &s.frames[:1][0]
	s.PostBatch(batch(3), nil)
	if copying.copies != 2 || &s.frames[:1][0] != first {
		t.Fatalf("%d sends by copy, buffer reused: %v; want 2, true", copying.copies, &s.frames[:1][0] == first)
	}
	if fr := copying.frames(t, 1); len(fr) != 5 || fr[1].Seq != 1 || fr[4].Seq != 4 {
		t.Fatalf("subscriber got %+v, want HelloReply, 1, 2, 3, 4", fr)
	}
}
