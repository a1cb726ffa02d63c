package tcp

import (
	"testing"

	"github.com/streamsim/streamsim/reference"
)

// The queue a server's limits allow holds the largest send its node makes, and never less than
// the default.
func TestLimitsForHoldTheLargestSend(t *testing.T) {
	def := Limits{}.withDefaults().MaxQueueBytes
	if got := LimitsFor(reference.ServerConfig{}).MaxQueueBytes; got != def {
		t.Fatalf("default config: queue %d, want the default %d", got, def)
	}
	const big = 16 << 20
	cfg := reference.ServerConfig{MaxMsgBytes: big, HistoryBatchBytes: 64 << 10, HistoryMaxPendingBytes: 64 << 10}
	// A subscriber may be sent one message while just under its 1 MiB lag bound; a history
	// one batch (up to 64 KiB, plus the message that crosses it) while just under 64 KiB.
	if got, want := LimitsFor(cfg).MaxQueueBytes, 1<<20+big+16; got < want {
		t.Fatalf("16 MiB messages: queue %d, want at least %d", got, want)
	}
	// A count-bounded history batch of large messages is the largest send of all.
	cfg = reference.ServerConfig{MaxMsgBytes: 1 << 20, HistoryBatchMsgs: 64}
	if got, want := LimitsFor(cfg).MaxQueueBytes, 256<<10+65*(1<<20+16); got < want {
		t.Fatalf("64 x 1 MiB batches: queue %d, want at least %d", got, want)
	}
}
