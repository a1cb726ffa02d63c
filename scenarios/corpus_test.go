package scenarios

import (
	"path/filepath"
	"testing"

	"github.com/streamsim/streamsim/reference"
)

// The committed regression corpus: the reference passes every plan, and every mutant a plan
// says it kills still fails it.
func TestCommittedCorpus(t *testing.T) {
	entries, err := LoadCorpus("testdata/corpus")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		out, err := Run(e.Plan, e.Plan.Seed, Options{})
		if err != nil {
			t.Fatalf("%s: %v", e.Path, err)
		}
		for _, v := range out.Result.Violations {
			t.Errorf("%s: the reference violates %s on %s: %s", e.Path, v.Property, v.Node, v.Message)
		}
		for _, name := range e.Plan.Kills {
			m, ok := reference.MutantByName(name)
			if !ok {
				t.Fatalf("%s: unknown mutant %q", e.Path, name)
			}
			out, err := Run(e.Plan, e.Plan.Seed, Options{Bugs: m.Bug})
			if err != nil || len(out.Result.Violations) == 0 {
				t.Errorf("%s no longer catches mutant %s (%v)", e.Path, name, err)
			}
		}
	}
}

func TestCorpusSaveLoad(t *testing.T) {
	dir := t.TempDir()
	p := Random(5)
	path, err := SaveToCorpus(dir, p, 5)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "random-5.json" {
		t.Fatalf("saved as %s", path)
	}
	entries, err := LoadCorpus(dir)
	if err != nil || len(entries) != 1 || entries[0].Plan.Seed != 5 || entries[0].Plan.Size() != p.Size() {
		t.Fatalf("loaded %+v, %v", entries, err)
	}
	if _, err := LoadCorpus(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing corpus directory loaded without error")
	}
	if _, err := LoadCorpus(t.TempDir()); err == nil {
		t.Fatal("an empty corpus directory loaded without error")
	}
}
