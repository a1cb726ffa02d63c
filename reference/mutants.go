package reference

// Bugs is a set of deliberately planted bugs. The reference is correct with none set; each bit
// puts back one known failure of a real implementation, so campaigns can prove that the
// harness detects it. The zero value is the correct reference.
type Bugs uint64

const (
	// BugNoDrain: after the switch to live, messages already delivered from history are
	// delivered again instead of being skipped: both the buffered ones at the overlap and
	// the late online copies after an exact match.
	BugNoDrain Bugs = 1 << iota
	// BugSeqDataOffByOne: seq-data S asks for S instead of S+1, repeating the message the
	// application already has.
	BugSeqDataOffByOne
	// BugSkipHistory: the nothing-to-fetch test compares with <= instead of ==, so a seq
	// open with history to fetch goes Online at once, at the requested position.
	BugSkipHistory
	// BugAckBeforeSync: a durable server acknowledges a post as durable without syncing it.
	BugAckBeforeSync
	// BugReopenInclusive: the application reopens with seq = the last delivered seq instead
	// of seq-data, so the last message comes again (the reopen policy is the application's;
	// the simulator's client application honours this bit).
	BugReopenInclusive
)

// Mutant documents one planted bug.
type Mutant struct {
	Name   string
	Bug    Bugs
	Origin string // where the bug comes from
	Doc    string
}

var mutants = []Mutant{
	{
		Name:   "no-drain",
		Bug:    BugNoDrain,
		Origin: "TLL pitfall P3 (spec section 6); TLL commit cf55532 added the missing drain",
		Doc:    "goes live without skipping online messages already delivered from history",
	},
	{
		Name:   "seq-data-off-by-one",
		Bug:    BugSeqDataOffByOne,
		Origin: "issue 6 list; the classic inclusive/exclusive resume error (TLL P14 is the by-design variant for mode=seq)",
		Doc:    "seq-data S requests S, so the message at S is delivered again",
	},
	{
		Name:   "skip-history",
		Bug:    BugSkipHistory,
		Origin: "TLL E3's nothing-to-fetch test (server_seq + 1 == open_seq, spec 2.3) written as <=",
		Doc:    "goes Online at the requested position without reading history: a stale Online and a gap",
	},
	{
		Name:   "ack-before-sync",
		Bug:    BugAckBeforeSync,
		Origin: "issue 3: a store that acknowledges before it syncs (the classic lost-ack on power loss)",
		Doc:    "a durable server acknowledges posts as durable without syncing them; a crash loses them",
	},
	{
		Name:   "reopen-inclusive",
		Bug:    BugReopenInclusive,
		Origin: "TLL P14: info.reopen is inclusive (mode=seq), so a reopen repeats the last message",
		Doc:    "the application reopens with seq = last delivered, repeating that message",
	},
}

// Mutants lists every planted bug, in a fixed order.
func Mutants() []Mutant { return append([]Mutant(nil), mutants...) }

// MutantByName finds a planted bug by name.
func MutantByName(name string) (Mutant, bool) {
	for _, m := range mutants {
		if m.Name == name {
			return m, true
		}
	}
	return Mutant{}, false
}

func (b Bugs) has(x Bugs) bool { return b&x != 0 }
