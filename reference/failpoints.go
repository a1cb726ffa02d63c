package reference

import (
	"context"

	"github.com/pingcap/failpoint"
)

// Failpoints are named points in the protocol where a fault may strike. The markers compile to
// nothing in an ordinary build; built with failpoint-toolexec (make test, make build) each
// becomes a check that asks the hook carried in the node's Failpoints context whether to fire,
// so a simulator decides from its own seeded source and parallel runs never interfere. What a
// failpoint does when it fires is always something the protocol must survive: a loud failure
// or a dropped connection, never a silent change of data.
const (
	FPServerAfterStore   = "server-after-store"   // stored, not yet published: drop the subscribers
	FPServerBeforeReply  = "server-before-reply"  // request accepted, Reply not sent: drop the channel
	FPServerMidBatch     = "server-mid-batch"     // half a history batch sent: drop the channel
	FPServerCaughtUp     = "server-caught-up"     // history reached the store's end: drop the channel
	FPClientAfterReply   = "client-after-reply"   // Reply taken, no history yet: fail
	FPClientAtOverlap    = "client-at-overlap"    // history met the buffer, before ClientDone: fail
	FPClientBeforeOnline = "client-before-online" // handover done, Online not reported: fail
	FPClientDuringDrain  = "client-during-drain"  // skipping live copies history delivered: fail
)

// FailpointNames lists every failpoint, in a fixed order.
func FailpointNames() []string {
	return []string{
		FPServerAfterStore, FPServerBeforeReply, FPServerMidBatch, FPServerCaughtUp,
		FPClientAfterReply, FPClientAtOverlap, FPClientBeforeOnline, FPClientDuringDrain,
	}
}

// FailpointPath is the name failpoint registers a point under: this package's import path
// and the point's name.
func FailpointPath(name string) string { return "github.com/streamsim/streamsim/reference/" + name }

// EnableFailpoints arms every failpoint for hooks to decide. Without a hook in a node's
// context nothing fires, so arming them process-wide changes nothing else.
func EnableFailpoints() error {
	for _, n := range FailpointNames() {
		if err := failpoint.Enable(FailpointPath(n), "return(true)"); err != nil {
			return err
		}
	}
	return nil
}

// FailpointsCompiled reports whether this binary was built with failpoint-toolexec, i.e.
// whether the markers below do anything. It needs EnableFailpoints to have run.
func FailpointsCompiled() bool {
	return hit(failpoint.WithHook(context.Background(), passAll), FPServerAfterStore)
}

// FailpointContext returns the context for a node's Failpoints: at every armed failpoint the
// node passes, decide is asked, with the failpoint's path (FailpointPath), whether it fires.
//
// decide is asked after the library, not as the library's hook: a hook that says no makes the
// library build an error with a stack trace, which at every marker a node passed cost a
// campaign a tenth of its time. The library's hook passes everything, and decide is asked
// exactly when the hook was, at an armed marker in a failpoint build, so a run draws the same
// numbers from its seeded source.
func FailpointContext(decide func(path string) bool) context.Context {
	return context.WithValue(failpoint.WithHook(context.Background(), passAll), decideKey{}, decide)
}

type decideKey struct{}

func passAll(context.Context, string) bool { return true }

// hit reports whether the named failpoint fires in ctx. Each marker is spelled out: the
// rewriter needs literal names.
func hit(ctx context.Context, name string) bool {
	if ctx == nil || !marker(ctx, name) {
		return false
	}
	decide, ok := ctx.Value(decideKey{}).(func(string) bool)
	return !ok || decide(FailpointPath(name))
}

// marker reports whether the named failpoint's marker fires: it does only in a failpoint
// build, when the failpoint is armed and ctx carries a hook.
func marker(ctx context.Context, name string) (fired bool) {
	switch name {
	case FPServerAfterStore:
		failpoint.InjectContext(ctx, "server-after-store", func() { fired = true })
	case FPServerBeforeReply:
		failpoint.InjectContext(ctx, "server-before-reply", func() { fired = true })
	case FPServerMidBatch:
		failpoint.InjectContext(ctx, "server-mid-batch", func() { fired = true })
	case FPServerCaughtUp:
		failpoint.InjectContext(ctx, "server-caught-up", func() { fired = true })
	case FPClientAfterReply:
		failpoint.InjectContext(ctx, "client-after-reply", func() { fired = true })
	case FPClientAtOverlap:
		failpoint.InjectContext(ctx, "client-at-overlap", func() { fired = true })
	case FPClientBeforeOnline:
		failpoint.InjectContext(ctx, "client-before-online", func() { fired = true })
	case FPClientDuringDrain:
		failpoint.InjectContext(ctx, "client-during-drain", func() { fired = true })
	}
	return fired
}
