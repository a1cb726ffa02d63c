package checker

import (
	"testing"
	"time"
)

// BenchmarkCheck validates 10,000,000 deliveries (1 server, 8 sessions of 1,250,000) per
// iteration; the target is under a second, i.e. under 100 ns per delivery.
func BenchmarkCheck(b *testing.B) {
	const sessions, perSession = 8, 1_250_000
	h := genHistory(sessions, 1000, perSession)
	b.ReportAllocs()
	start := time.Now()
	var delivered int64
	for b.Loop() {
		res, err := Check(h)
		if err != nil || len(res.Violations) != 0 {
			b.Fatalf("healthy history judged %v, %d violations", err, len(res.Violations))
		}
		delivered += res.Delivered
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(delivered), "ns/delivery")
}
