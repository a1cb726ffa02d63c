package scenarios

import (
	"sync"
	"testing"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/reference"
)

// A stopped campaign reports exactly the seeds it finished, and they are the first of its
// order: its hash equals that of a whole campaign over that many seeds.
func TestStopKeepsAPrefixOfSeeds(t *testing.T) {
	s, _ := Lookup("test_overlapped")
	stop := make(chan struct{})
	var mu sync.Mutex
	observed := 0
	c := Campaign{Scenario: s, FirstSeed: 1, Seeds: 400, Parallel: 2, Stop: stop,
		Observe: func(h checker.History) {
			if len(h) == 0 {
				t.Error("Observe got an empty history")
			}
			mu.Lock()
			observed++
			mu.Unlock()
		}}
	calls := 0
	c.Progress = func(done, failed int) {
		calls++
		if done != calls || failed != 0 {
			t.Errorf("progress %d: done %d failed %d", calls, done, failed)
		}
		if done == 10 {
			close(stop)
		}
	}
	rep := c.Run()
	if !rep.Stopped || rep.Seeds < 10 || rep.Seeds >= 400 || observed != rep.Seeds {
		t.Fatalf("stopped %v after %d seeds (observed %d), want stopped soon after 10", rep.Stopped, rep.Seeds, observed)
	}
	whole := Campaign{Scenario: s, FirstSeed: 1, Seeds: rep.Seeds, Parallel: 1}.Run()
	if whole.Stopped || whole.Hash != rep.Hash || whole.Delivered != rep.Delivered {
		t.Errorf("stopped campaign of %d seeds: hash %x, whole campaign: %x", rep.Seeds, rep.Hash, whole.Hash)
	}
}

// Progress counts failing seeds as they come.
func TestProgressCountsFailures(t *testing.T) {
	s, _ := Lookup("test_overlapped")
	noDrain, ok := reference.MutantByName("no-drain")
	if !ok {
		t.Fatal("no mutant no-drain")
	}
	var lastDone, lastFailed int
	c := Campaign{Scenario: s, FirstSeed: 1, Seeds: 20, Parallel: 2, Options: Options{Bugs: noDrain.Bug}}
	c.Progress = func(done, failed int) { lastDone, lastFailed = done, failed }
	rep := c.Run()
	if lastDone != 20 || lastFailed != len(rep.Failures) || lastFailed == 0 {
		t.Errorf("progress ended at %d done %d failed; report: %d failures", lastDone, lastFailed, len(rep.Failures))
	}
}
