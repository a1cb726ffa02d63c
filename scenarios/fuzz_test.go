package scenarios

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamsim/streamsim/reference"
)

// fuzzImpl is the implementation the fuzz targets run against: STREAMSIM_IMPL, as simrun's
// --impl spells it ("reference" or "mutant:NAME"; make fuzz IMPL=... sets it).
func fuzzImpl(f *testing.F) (string, reference.Bugs) {
	impl := os.Getenv("STREAMSIM_IMPL")
	if impl == "" || impl == "reference" {
		return "reference", 0
	}
	name, ok := strings.CutPrefix(impl, "mutant:")
	m, found := reference.MutantByName(name)
	if !ok || !found {
		f.Fatalf("STREAMSIM_IMPL=%q: want reference or mutant:NAME (simrun list mutants)", impl)
	}
	return impl, m.Bug
}

// saveFinding writes a failing plan where simrun replay, shrink and report take it:
// STREAMSIM_FINDINGS, else testdata/findings beside the fuzzer's own testdata/fuzz. The
// name is the plan's hash, so the same finding is one file.
func saveFinding(t *testing.T, p Plan, impl string) string {
	dir := os.Getenv("STREAMSIM_FINDINGS")
	if dir == "" {
		dir = filepath.Join("testdata", "findings")
	}
	js, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(js)
	path := filepath.Join(dir, fmt.Sprintf("%s-%x.json", p.Name, sum[:8]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	return fmt.Sprintf("plan saved: %s\n  replay: simrun replay --plan %s --impl %s\n  shrink: simrun shrink %s --impl %s\n  report: simrun report %s --impl %s",
		abs, abs, impl, abs, impl, abs, impl)
}

// FuzzHandover explores the replay boundary: where the requested seq falls against the stored
// log (before it, on it, in a gap, at last, past it), how sparse the log is, how small the
// client's buffer is, and when live posts land against the open and against the slower
// request channel. Whatever the fuzzer picks, the implementation (the reference unless
// STREAMSIM_IMPL names a mutant) must not violate any property; a violation is saved as a
// plan file with the commands that replay, shrink and report it.
func FuzzHandover(f *testing.F) {
	impl, bugs := fuzzImpl(f)
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
		p.Seed = 1
		out, err := Run(p, p.Seed, Options{Bugs: bugs})
		if err != nil {
			t.Fatalf("%v\n%s", err, saveFinding(t, p, impl))
		}
		for _, v := range out.Result.Violations {
			t.Errorf("%s on %s: %s\n%s", v.Property, v.Node, v.Message, Story(out.History))
		}
		if len(out.Result.Violations) > 0 {
			t.Log(saveFinding(t, p, impl))
		}
	})
}

// A saved finding is a plan file that replays the failure it was saved for.
func TestSaveFindingIsReplayable(t *testing.T) {
	t.Setenv("STREAMSIM_FINDINGS", t.TempDir())
	s, _ := Lookup("test_overlapped")
	p := s.Build(1)
	p.Seed = 1
	msg := saveFinding(t, p, "mutant:no-drain")
	path := strings.TrimPrefix(strings.SplitN(msg, "\n", 2)[0], "plan saved: ")
	for _, want := range []string{"simrun replay --plan " + path + " --impl mutant:no-drain", "simrun shrink " + path, "simrun report " + path} {
		if !strings.Contains(msg, want) {
			t.Errorf("finding message lacks %q:\n%s", want, msg)
		}
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := reference.MutantByName("no-drain")
	out, err := Run(back, back.Seed, Options{Bugs: m.Bug})
	if err != nil || len(out.Result.Violations) == 0 {
		t.Fatalf("the saved plan does not fail against no-drain: %v", err)
	}
	if again := saveFinding(t, p, "mutant:no-drain"); again != msg {
		t.Errorf("the same finding saved twice under two names")
	}
}
