package scenarios

import (
	"github.com/streamsim/streamsim/checker"
)

// NearHandover counts the faults of a history and how many landed within window messages of a
// handover of the client they hit. Distance is measured in messages: posts stored between the
// fault and the handover point. A handover point is a client's Reply, overlap, ClientDone or
// Online; a server crash hits every client, so any client's points count for it.
func NearHandover(h checker.History, window int) (near, total int) {
	posts := 0
	type point struct {
		node string
		pos  int
	}
	var points, faults []point
	for _, e := range h {
		switch {
		case e.Kind == checker.EvPostOK:
			posts++
		case e.Kind == checker.EvPhase && (e.Name == checker.PhReply || e.Name == checker.PhOverlap || e.Name == checker.PhClientDone),
			e.Kind == checker.EvControl && e.Name == checker.CtlOnline:
			points = append(points, point{e.Node, posts})
		case e.Kind == checker.EvFault && e.Name != "failpoint", e.Kind == checker.EvCrash:
			faults = append(faults, point{e.Node, posts})
		}
	}
	for _, f := range faults {
		total++
		for _, p := range points {
			if (p.node == f.node || f.node == ServerName) && abs(p.pos-f.pos) <= window {
				near++
				break
			}
		}
	}
	return near, total
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
