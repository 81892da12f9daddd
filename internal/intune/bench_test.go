package intune_test

import (
	"testing"
	"time"
)

// BenchmarkBurst300Writes makes 300 compliance-policy writes to one tenant against the
// twin's documented throttling (100 writes per 20 s per app) with the client's default
// limiter (the documented limits with Margin): no write may see a 429. The theoretical
// floor at 100 writes per 20 s is 40 s. Run it with
//
//	go test ./internal/intune -run '^$' -bench Burst300 -benchtime 1x
func BenchmarkBurst300Writes(b *testing.B) {
	for i := 0; i < b.N; i++ {
		fresh(b)
		c := newClient(b, nil)
		took, holds := burst(b, c, 300)
		b.ReportMetric(took.Seconds(), "s/300writes")
		b.Logf("300 writes: %s (floor at the documented limit: 40s), %d held back by the limiter, 0 throttled by the service",
			took.Round(time.Millisecond), holds)
	}
}
