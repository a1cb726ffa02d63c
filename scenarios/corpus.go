package scenarios

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// CorpusEntry is one saved plan of a regression corpus.
type CorpusEntry struct {
	Path string
	Plan Plan
}

// LoadCorpus reads every *.json plan in dir, in name order. A corpus holds plans that once
// failed, usually shrunk; each is replayed with its own seed.
func LoadCorpus(dir string) ([]CorpusEntry, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		if _, err := os.Stat(dir); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s holds no *.json plans", dir)
	}
	sort.Strings(names)
	var out []CorpusEntry
	for _, n := range names {
		p, err := Load(n)
		if err != nil {
			return nil, err
		}
		out = append(out, CorpusEntry{Path: n, Plan: p})
	}
	return out, nil
}

// SaveToCorpus writes p (with the seed it ran with) into dir under a name made from its
// scenario, seed and the mutants it kills, and returns the path.
func SaveToCorpus(dir string, p Plan, seed uint64) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	p.Seed = seed
	name := strings.NewReplacer("/", "_", " ", "_").Replace(p.Name)
	if len(p.Kills) > 0 {
		name += "-kills-" + strings.Join(p.Kills, "+")
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%d.json", name, seed))
	return path, p.Save(path)
}
