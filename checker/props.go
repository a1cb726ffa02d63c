package checker

// Names of the per-session properties, as they appear in violations and reports.
const (
	PropNoGap     = "no-gap"
	PropNoDup     = "no-dup"
	PropInOrder   = "in-order"
	PropNoPhantom = "no-phantom"
	PropStart     = "start"
	PropHandover  = "handover"
	PropAfterEnd  = "after-end"
	PropResume    = "resume"
	PropDurable   = "durable"  // a property of the server: its violations have Session 0
	PropFresh     = "fresh"    // judged by CheckFresh, not Check
	PropLiveness  = "liveness" // judged by CheckLiveness, not Check
	PropProgress  = "progress" // judged by CheckProgress, not Check
)

// Property names and explains one verdict of the checker.
type Property struct {
	Name string
	Doc  string
}

// Properties lists the properties the checker judges, one line of explanation each: Check's,
// then fresh, which CheckFresh judges, liveness, which CheckLiveness judges, and progress, which
// CheckProgress judges. The slice is new on every call, so callers may keep or modify it.
func Properties() []Property {
	ps := make([]Property, 0, numProps)
	for p := range numProps {
		ps = append(ps, Property{Name: p.String(), Doc: p.doc()})
	}
	return ps
}

// prop is a property as a small number, so a session can remember what it already reported in
// one word.
type prop uint8

const (
	pNoGap prop = iota
	pNoDup
	pInOrder
	pNoPhantom
	pStart
	pHandover
	pAfterEnd
	pResume
	pDurable
	pFresh
	pLiveness
	pProgress
	numProps
)

func (p prop) String() string {
	switch p {
	case pNoGap:
		return PropNoGap
	case pNoDup:
		return PropNoDup
	case pInOrder:
		return PropInOrder
	case pNoPhantom:
		return PropNoPhantom
	case pStart:
		return PropStart
	case pHandover:
		return PropHandover
	case pAfterEnd:
		return PropAfterEnd
	case pResume:
		return PropResume
	case pDurable:
		return PropDurable
	case pFresh:
		return PropFresh
	case pLiveness:
		return PropLiveness
	case pProgress:
		return PropProgress
	}
	return "unknown"
}

func (p prop) doc() string {
	switch p {
	case pNoGap:
		return "delivered data is a contiguous run of the stored log: no stored seq is skipped"
	case pNoDup:
		return "no seq is delivered twice in a session"
	case pInOrder:
		return "no new seq is delivered below the highest seq already delivered"
	case pNoPhantom:
		return "every delivery matches an acknowledged post: seq, msgid and body checksum"
	case pStart:
		return "the first delivery is where the open mode says the stream starts"
	case pHandover:
		return "one Online per history-mode session (none in online mode), at the last delivered seq, after EndOfBlock, with no older data after it"
	case pAfterEnd:
		return "nothing reaches a session after its close, Error or Closed"
	case pResume:
		return "a reopen's first delivery is the stored seq right after the last one the node's earlier sessions delivered"
	case pDurable:
		return "every post acknowledged as synced survives the server's crashes"
	case pFresh:
		return "Online.seq lies between the server's last seq at the open and at the Online, and every delivery follows its post's start (porcupine)"
	case pLiveness:
		return "once faults stop, every history-mode session reaches Online or ends within a bound, and every live session gets every post within it (on calm links an Error with no fault before it does not end that duty)"
	case pProgress:
		return "on calm links, a session ends in Error only for a cause the history shows: a fault, failpoint, crash or restart touching it, a buffer overflow, or a documented failure of its open (seq beyond the server's last+1, or on an empty server)"
	}
	return ""
}
