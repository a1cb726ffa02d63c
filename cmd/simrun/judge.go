package main

import (
	"flag"
	"math"
	"os"

	"github.com/streamsim/streamsim/checker"
	"github.com/streamsim/streamsim/reference"
	"github.com/streamsim/streamsim/scenarios"
)

// historyRules are what simrun check and simrun report judge a recorded history by: every
// property a simulated run is judged on, with the liveness bound and the nature of the links,
// which a history file does not record, given by flags.
type historyRules struct {
	boundUs, handshakeUs *int64
	lossy                *bool
}

func historyFlags(fs *flag.FlagSet) historyRules {
	return historyRules{
		boundUs:     fs.Int64("bound-us", scenarios.DefaultLivenessBoundUs, "liveness bound, µs"),
		handshakeUs: fs.Int64("handshake-us", reference.DefaultHandshakeTimeoutNs/1000, "the client's handshake timeout, µs"),
		lossy:       fs.Bool("lossy", false, "the links may lose data or drop connections by themselves"),
	}
}

// check refuses bounds whose nanoseconds would not fit in an int64.
func (r historyRules) check(cmd string) error {
	const maxUs = math.MaxInt64 / 1000
	if *r.boundUs < 0 || *r.boundUs > maxUs {
		return usagef("%s: --bound-us %d is out of range 0..%d", cmd, *r.boundUs, int64(maxUs))
	}
	if *r.handshakeUs < 0 || *r.handshakeUs > maxUs {
		return usagef("%s: --handshake-us %d is out of range 0..%d", cmd, *r.handshakeUs, int64(maxUs))
	}
	return nil
}

// judgeFile reads a history file and judges it: the result's violations include liveness,
// progress and fresh. A file that cannot be read or is malformed is a usage error naming it.
func judgeFile(path string, r historyRules) (checker.History, checker.Result, checker.LinResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, checker.Result{}, checker.LinResult{}, usagef("%v", err)
	}
	defer f.Close()
	h, err := checker.ReadHistory(f)
	if err != nil {
		return nil, checker.Result{}, checker.LinResult{}, usagef("%s: %v", path, err)
	}
	res, lin, err := checker.Judge(h, checker.JudgeOptions{
		Liveness: checker.LivenessOptions{BoundNs: *r.boundUs * 1000, SessionsOnly: *r.lossy, Calm: !*r.lossy},
		Progress: checker.ProgressOptions{Calm: !*r.lossy, HandshakeNs: *r.handshakeUs * 1000},
	})
	if err != nil {
		return nil, checker.Result{}, checker.LinResult{}, usagef("%s: %v", path, err)
	}
	return h, res, lin, nil
}
