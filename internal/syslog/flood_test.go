package syslog

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// floodChunk is about 1 MB of what a hostile or broken sender might send: alerts in
// both framings, a frame declaring far more than the limit, and a line with no end in
// sight. It returns the chunk and how many frames it holds.
func floodChunk() ([]byte, int) {
	var b strings.Builder
	frames := 0
	for b.Len() < 750_000 {
		b.WriteString(octet(alert(fmt.Sprint("o", frames))))
		b.WriteString(lf(alert(fmt.Sprint("l", frames+1))))
		frames += 2
	}
	b.WriteString(octet(strings.Repeat("x", 200_000)))
	b.WriteString(lf("<14>1 " + strings.Repeat("y", 100_000)))
	return []byte(b.String()), frames + 2
}

// TestFloodMemoryAndRateBounded sends 50 MB from one source as fast as loopback
// allows. The heap must not grow with what is sent, and no more alerts may get through
// than the token bucket allows in the time the flood took.
func TestFloodMemoryAndRateBounded(t *testing.T) {
	const (
		rate, burst = 100.0, 200
		chunks      = 50
	)
	obs := newCounter()
	l := start(t, Config{Observer: obs, Limits: Limits{MessagesPerSecond: rate, Burst: burst}})
	chunk, perChunk := floodChunk()
	var delivered atomic.Int64
	var consumer sync.WaitGroup
	consumer.Go(func() {
		for range l.Events() {
			delivered.Add(1)
		}
	})

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := before.HeapAlloc
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var m runtime.MemStats
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapAlloc)
			}
		}
	})

	begin := time.Now()
	c := dial(t, l)
	for range chunks {
		if _, err := c.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "every frame handled", func() bool { return obs.handled() == chunks*perChunk })
	elapsed := time.Since(begin)
	close(stopSampling)
	sampler.Wait()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	sent := chunks * len(chunk)
	allocated := after.TotalAlloc - before.TotalAlloc
	growth := int64(peak) - int64(before.HeapAlloc)
	t.Logf("sent %d MB in %v; heap peak +%d KB, allocated %d KB in all", sent>>20, elapsed, growth>>10, allocated>>10)
	if growth > 4<<20 {
		t.Errorf("heap grew by %d KB during a %d MB flood", growth>>10, sent>>20)
	}
	if allocated > 8<<20 {
		t.Errorf("allocated %d KB for a %d MB flood: frames are being copied", allocated>>10, sent>>20)
	}

	_, parsed, dropped := obs.counts()
	passed := parsed + dropped[ReasonQueueFull] + dropped[ReasonMalformed] + dropped[ReasonNotAnAlert]
	allowed := burst + int(rate*elapsed.Seconds()) + 1
	t.Logf("passed the limiter %d (allowed %d), rate_limited %d", passed, allowed, dropped[ReasonRateLimited])
	if passed > allowed {
		t.Errorf("%d frames passed the limiter in %v; the bucket allows %d", passed, elapsed, allowed)
	}
	if passed < burst {
		t.Errorf("only %d frames passed; the burst alone is %d", passed, burst)
	}
	if dropped[ReasonOversized] != 2*chunks || dropped[ReasonRateLimited] == 0 {
		t.Errorf("dropped %v", dropped)
	}
	obs.checkBalanced(t)
	// The sender was never blocked: the same connection still delivers once the bucket
	// has refilled a token.
	eventually(t, "a token", func() bool {
		write(t, c, lf(alert("after-flood")))
		_, p, _ := obs.counts()
		return p > parsed
	})
	_ = l.Close()
	consumer.Wait()
	if delivered.Load() <= int64(parsed) {
		t.Errorf("consumer got %d events, listener parsed at least %d", delivered.Load(), parsed+1)
	}
}

func TestQueueFullDropsWithoutBlocking(t *testing.T) {
	obs := newCounter()
	l := start(t, Config{Observer: obs, Limits: Limits{QueueSize: 4, QueueWait: -1}})
	c := dial(t, l)
	for i := range 10 {
		write(t, c, octet(alert(fmt.Sprint(i))))
	}
	eventually(t, "10 frames", func() bool { return obs.handled() == 10 })
	if _, p, d := obs.counts(); p != 4 || d[ReasonQueueFull] != 6 {
		t.Errorf("parsed %d (want 4), queue_full %d (want 6)", p, d[ReasonQueueFull])
	}
	if got := ids(recv(t, l, 4)); strings.Join(got, ",") != "0,1,2,3" {
		t.Errorf("queued %v", got)
	}
	// With room again, the same connection delivers.
	write(t, c, lf(alert("room")))
	if got := recv(t, l, 1)[0].AlertID; got != "room" {
		t.Errorf("got %q", got)
	}
	obs.checkBalanced(t)
}

// TestRateLimitSurvivesReconnect: a sender cannot refill its bucket by reconnecting.
func TestRateLimitSurvivesReconnect(t *testing.T) {
	obs := newCounter()
	l := start(t, Config{Observer: obs, Limits: Limits{MessagesPerSecond: 0.001, Burst: 3}})
	for round := range 2 {
		c := dial(t, l)
		for i := range 3 {
			write(t, c, lf(alert(fmt.Sprint(round, i))))
		}
		eventually(t, "frames counted", func() bool { return obs.handled() == 3*(round+1) })
		_ = c.Close()
	}
	if _, p, d := obs.counts(); p != 3 || d[ReasonRateLimited] != 3 {
		t.Errorf("parsed %d (want 3), rate_limited %d (want 3)", p, d[ReasonRateLimited])
	}
	obs.checkBalanced(t)
}

// TestAFullQueueHoldsTheSenderBack: a burst larger than the queue is not lost while the
// consumer keeps up within QueueWait; the connection is held back meanwhile.
func TestAFullQueueHoldsTheSenderBack(t *testing.T) {
	obs := newCounter()
	l := start(t, Config{Observer: obs, Limits: Limits{QueueSize: 4, QueueWait: 10 * time.Second}})
	c := dial(t, l)
	go func() {
		for i := range 40 {
			if _, err := c.Write([]byte(octet(alert(fmt.Sprint(i))))); err != nil {
				return
			}
		}
	}()
	got := ids(recv(t, l, 40))
	if len(got) != 40 || got[0] != "0" || got[39] != "39" {
		t.Fatalf("received %v", got)
	}
	// An event is counted just after it is queued: wait for the last count.
	eventually(t, "40 parsed", func() bool { _, p, _ := obs.counts(); return p == 40 })
	if _, _, d := obs.counts(); d[ReasonQueueFull] != 0 {
		t.Errorf("queue_full %d, want 0", d[ReasonQueueFull])
	}
}
