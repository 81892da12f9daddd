package outbound

import (
	"context"
	"testing"
	"time"
)

// fakeClock is moved by hand; Wait never sleeps in these tests because maxWait is 0.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestLimiterSlidingWindows(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_780_000_000, 0)}
	l := NewLimiter(0, Window{Max: 3, Period: 20 * time.Second, WritesOnly: true}, Window{Max: 5, Period: 20 * time.Second})
	l.now = clock.now
	ctx := context.Background()
	take := func(write bool) time.Duration {
		d, err := l.Wait(ctx, write, 0)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for i := 0; i < 3; i++ {
		if d := take(true); d != 0 {
			t.Fatalf("write %d held back %s", i, d)
		}
	}
	if d := take(true); d != 20*time.Second {
		t.Fatalf("4th write in the window: wait %s, want 20s", d)
	}
	// Reads only count against the all-requests window: two more fit.
	if take(false) != 0 || take(false) != 0 {
		t.Fatal("reads held back while the all-requests window has room")
	}
	if d := take(false); d != 20*time.Second {
		t.Fatalf("6th request: wait %s, want 20s", d)
	}
	clock.t = clock.t.Add(5 * time.Second)
	if d := take(false); d != 15*time.Second {
		t.Fatalf("after 5s: wait %s, want 15s", d)
	}
	clock.t = clock.t.Add(15 * time.Second)
	if d := take(true); d != 0 {
		t.Fatalf("a write after the window slid: wait %s", d)
	}
}

func TestLimiterNeverExceedsAnyWindow(t *testing.T) {
	// Callers that wait for their slot: in any 20 s span at most Max slots are handed out.
	clock := &fakeClock{t: time.Unix(0, 0)}
	l := NewLimiter(0, Window{Max: 10, Period: 20 * time.Second})
	l.now = clock.now
	var slots []time.Time
	for i := 0; i < 95; i++ {
		at, ok := l.reserve(true, time.Hour)
		if !ok {
			t.Fatal("refused within maxWait")
		}
		slots = append(slots, at)
		clock.t = clock.t.Add(time.Duration(i%7) * 300 * time.Millisecond)
	}
	for i := 10; i < len(slots); i++ {
		if slots[i].Sub(slots[i-10]) < 20*time.Second {
			t.Fatalf("slots %d and %d are %s apart: 11 calls in 20s", i-10, i, slots[i].Sub(slots[i-10]))
		}
	}
	// And no later than needed: with callers arriving faster than the limit, each slot
	// comes exactly one window after the one Max places before it (the theoretical floor).
	for i := 10; i < len(slots); i++ {
		if d := slots[i].Sub(slots[i-10]); d != 20*time.Second {
			t.Fatalf("slot %d comes %s after slot %d, want exactly 20s", i, d, i-10)
		}
	}
}

func TestMarginLengthensWindows(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	l := NewLimiter(time.Second, Window{Max: 2, Period: 20 * time.Second})
	l.now = clock.now
	l.reserve(true, 0)
	l.reserve(true, 0)
	if at, _ := l.reserve(true, time.Hour); at.Sub(clock.t) != 21*time.Second {
		t.Fatalf("third call at +%s, want +21s (20s window + 1s margin)", at.Sub(clock.t))
	}
}
