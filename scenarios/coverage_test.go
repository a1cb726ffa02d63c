package scenarios

import (
	"reflect"
	"strings"
	"testing"
)

// The default campaign (every catalogue scenario; make run uses more seeds) must reach every
// boundary situation: a situation never reached is a situation never tested.
func TestDefaultCampaignReachesEverySituation(t *testing.T) {
	var total Coverage
	for _, s := range Catalogue() {
		seeds := 20
		if s.Name == "random" {
			seeds = 400
		}
		rep := Campaign{Scenario: s, FirstSeed: 1, Seeds: seeds}.Run()
		if rep.Violations != 0 {
			t.Fatalf("%s: %d violations against the reference", s.Name, rep.Violations)
		}
		total.Add(rep.Coverage)
	}
	for i, sit := range Situations() {
		if total[i] == 0 {
			t.Errorf("situation %s (%s) was never reached", sit.Name, sit.Doc)
		}
	}
}

// Cover must see what the catalogue's boundary scenarios were built to show.
func TestCoverNamesTheCatalogueCases(t *testing.T) {
	for name, want := range map[string]string{
		"test_recent":                 "nothing-to-fetch",
		"reply_race":                  "live-overtakes-reply",
		"test_overlapped":             "overlap",
		"test_ring":                   "overlap-one",
		"buffer_overflow":             "buffer-overflow",
		"test_request_close":          "disconnect-during-history",
		"initial_empty":               "wait-online",
		"seq_on_empty":                "empty-history",
		"seq_beyond_last":             "seq-beyond-last",
		"seq_in_gap":                  "seq-in-gap",
		"test_open_seq_data":          "seq-data",
		"test_open_last":              "last",
		"test_open_seq":               "exact-match",
		"reopen_after_reset":          "disconnect-after-online",
		"autoseq_live":                "autoseq-live",
		"lagging_subscriber":          "lag-one-of-many",
		"eviction_at_start":           "evict-at-start",
		"server_crash_during_history": "server-restart-during-history",
	} {
		s, _ := Lookup(name)
		out, err := Run(s.Build(1), 1, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if Cover(out.History)[situationIndex(want)] == 0 {
			t.Errorf("%s does not reach %s", name, want)
		}
	}
}

// Every fault kind and every link field a plan accepts is documented in the catalogue that
// simrun list faults prints.
func TestFaultCatalogueIsComplete(t *testing.T) {
	var text string
	for _, f := range FaultCatalogue() {
		text += f.Name + " " + f.Params + "\n"
	}
	for _, k := range faultKinds {
		if !strings.Contains(text, k) {
			t.Errorf("fault kind %s is not in FaultCatalogue", k)
		}
	}
	for _, field := range reflect.VisibleFields(reflect.TypeOf(Link{})) {
		tag := strings.Split(field.Tag.Get("json"), ",")[0]
		if !strings.Contains(text, tag) {
			t.Errorf("link field %s (%s) is not in FaultCatalogue", field.Name, tag)
		}
	}
}

// And Cover must not see the new situations where they do not happen: a lone lagging client,
// a crash after Online, a server that keeps the posted seqs, an eviction far from the start.
func TestCoverDoesNotInventSituations(t *testing.T) {
	for name, never := range map[string]string{
		"slow_receiver":        "lag-one-of-many",
		"reopen_after_reset":   "lag-one-of-many",
		"server_crash_restart": "server-restart-during-history",
		"many_clients":         "autoseq-live",
		"test_autoseq":         "autoseq-live",
		"buffer_overflow":      "evict-at-start",
	} {
		s, _ := Lookup(name)
		out, err := Run(s.Build(1), 1, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if n := Cover(out.History)[situationIndex(never)]; n != 0 {
			t.Errorf("%s reaches %s %d times", name, never, n)
		}
	}
}
