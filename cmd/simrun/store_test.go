package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamsim/streamsim/reference/storage"
)

// storeDir writes records 1..n over 256-byte segments and returns the directory and its
// segment files.
func storeDir(t *testing.T, n int64) (string, []string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	st, err := storage.OpenFile(dir, storage.FileOptions{SegmentBytes: 256})
	if err != nil {
		t.Fatal(err)
	}
	for seq := int64(1); seq <= n; seq++ {
		if err := st.Append(storage.Record{Seq: seq, MsgID: 1, Body: []byte("0123456789")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil || len(segs) < 3 {
		t.Fatalf("segments %v, %v: want at least 3", segs, err)
	}
	return dir, segs
}

func runSimrun(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestStoreVerifyAndRepair(t *testing.T) {
	dir, segs := storeDir(t, 40)
	code, out, _ := runSimrun("store", "verify", dir)
	if code != 0 || !strings.Contains(out, "40 records, seqs 1..40") || !strings.HasSuffix(out, "intact\n") {
		t.Fatalf("verify of an intact store: exit %d\n%s", code, out)
	}

	newest := segs[len(segs)-1]
	fi, err := os.Stat(newest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(newest, fi.Size()-3); err != nil { // a torn last record
		t.Fatal(err)
	}
	code, out, _ = runSimrun("store", "verify", dir)
	if code != 0 || !strings.Contains(out, "intact up to what a crash left") || !strings.Contains(out, "torn write") {
		t.Fatalf("verify of a torn tail: exit %d\n%s", code, out)
	}

	if err := os.Remove(segs[1]); err != nil { // a middle segment
		t.Fatal(err)
	}
	code, out, _ = runSimrun("store", "verify", dir)
	if code != 1 || !strings.Contains(out, "DAMAGED: "+segs[2]) || !strings.Contains(out, "a segment is missing") {
		t.Fatalf("verify of a store missing a segment: exit %d\n%s", code, out)
	}
	code, out, _ = runSimrun("store", "repair", dir)
	if code != 0 || !strings.Contains(out, "removed "+segs[2]) || !strings.HasSuffix(out, "intact\n") {
		t.Fatalf("repair: exit %d\n%s", code, out)
	}
	st, err := storage.OpenFile(dir, storage.FileOptions{})
	if err != nil {
		t.Fatalf("a repaired store does not open: %v", err)
	}
	defer st.Close()
	if st.First() != 1 || st.Last() < 1 {
		t.Fatalf("repaired store holds %d..%d", st.First(), st.Last())
	}
}

func TestStoreUsage(t *testing.T) {
	for _, args := range [][]string{
		{"store"},
		{"store", "check", "x"},
		{"store", "verify"},
		{"store", "verify", filepath.Join(t.TempDir(), "missing")},
	} {
		if code, _, errs := runSimrun(args...); code != 2 || !strings.Contains(errs, "store") {
			t.Errorf("%v: exit %d, %q; want 2 and a message", args, code, errs)
		}
	}
}

// serve logs what recovery cut, even a torn tail that recovery may cut.
func TestServeLogsRecovery(t *testing.T) {
	t.Parallel()
	dir, segs := storeDir(t, 20)
	newest := segs[len(segs)-1]
	fi, err := os.Stat(newest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(newest, fi.Size()-5); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, serverOpts{online: "127.0.0.1:0", request: "127.0.0.1:0", storage: dir})
	s.stderr.waitFor(t, "the recovery log", func(out string) bool {
		return strings.Contains(out, "simrun serve: store recovery cut "+newest) && strings.Contains(out, "torn write")
	})
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
}
