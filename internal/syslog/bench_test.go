package syslog

import (
	"crypto/tls"
	"math"
	"net"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	frame := []byte(alert(exampleID))
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkThroughput is end to end over loopback: one sender writes alerts in both
// framings as fast as it can while a consumer drains Events; an iteration is one frame
// handled. Events the consumer was too slow for are dropped, not waited for, and
// reported as queue_full/op.
func BenchmarkThroughput(b *testing.B) {
	b.Run("tcp", func(b *testing.B) { benchThroughput(b, false) })
	b.Run("tls", func(b *testing.B) { benchThroughput(b, true) })
}

func benchThroughput(b *testing.B, useTLS bool) {
	obs := newCounter()
	cfg := Config{Observer: obs, Limits: Limits{MessagesPerSecond: math.Inf(1), QueueSize: 4096}}
	var s *tlsSetup
	if useTLS {
		s = newTLS(b, false)
		cfg.TLS = s.server
	}
	l := start(b, cfg)
	var c net.Conn = dial(b, l)
	if useTLS {
		tc := tls.Client(c, &tls.Config{RootCAs: s.serverCA.pool(), ServerName: "127.0.0.1"})
		if err := tc.Handshake(); err != nil {
			b.Fatal(err)
		}
		c = tc
	}
	go func() {
		for range l.Events() {
		}
	}()
	pair := []byte(octet(alert(exampleID)) + lf(alert(exampleID)))
	pairs := (b.N + 1) / 2
	b.SetBytes(int64(len(pair) / 2))
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for range pairs {
			if _, err := c.Write(pair); err != nil {
				return
			}
		}
	}()
	// Wait as long as frames keep being handled, however long -benchtime makes the run.
	for h := obs.handled(); h < 2*pairs; h = obs.handled() {
		if !poll(func() bool { return obs.handled() != h }) {
			b.Fatalf("stuck at %d of %d frames", h, 2*pairs)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(obs.drops(ReasonQueueFull))/float64(2*pairs), "queue_full/op")
}
