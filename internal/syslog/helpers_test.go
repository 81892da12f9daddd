package syslog

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// counter is an Observer that counts, for tests to assert on.
type counter struct {
	mu       sync.Mutex
	received int
	parsed   int
	dropped  map[string]int
}

func newCounter() *counter { return &counter{dropped: map[string]int{}} }

func (c *counter) Received() { c.mu.Lock(); c.received++; c.mu.Unlock() }
func (c *counter) Parsed()   { c.mu.Lock(); c.parsed++; c.mu.Unlock() }
func (c *counter) Dropped(reason string) {
	c.mu.Lock()
	c.dropped[reason]++
	c.mu.Unlock()
}

func (c *counter) counts() (received, parsed int, dropped map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := make(map[string]int, len(c.dropped))
	for k, v := range c.dropped {
		d[k] = v
	}
	return c.received, c.parsed, d
}

func (c *counter) drops(reason string) int { _, _, d := c.counts(); return d[reason] }
func (c *counter) frames() int             { r, _, _ := c.counts(); return r }

// handled is how many frames have had their outcome counted (Received comes first).
func (c *counter) handled() int { _, p, d := c.counts(); return p + frameDrops(d) }

// frameDrops adds up the drops of frames, as opposed to connections.
func frameDrops(dropped map[string]int) int {
	n := 0
	for _, reason := range []string{ReasonOversized, ReasonMalformed, ReasonNotAnAlert, ReasonRateLimited, ReasonQueueFull} {
		n += dropped[reason]
	}
	return n
}

// checkBalanced asserts Observer's contract: every frame ends parsed or dropped once,
// for one of DropReasons. It polls, because an event can reach the consumer just
// before its Parsed is counted.
func (c *counter) checkBalanced(t testing.TB) {
	t.Helper()
	var received, parsed int
	var dropped map[string]int
	if !poll(func() bool {
		received, parsed, dropped = c.counts()
		return received == parsed+frameDrops(dropped)
	}) {
		t.Fatalf("received %d frames, parsed %d, dropped %v", received, parsed, dropped)
	}
	for reason := range dropped {
		if !slices.Contains(DropReasons, reason) {
			t.Errorf("drop reason %q is not in DropReasons", reason)
		}
	}
}

// start listens on 127.0.0.1 with cfg and closes the listener when the test ends.
func start(t testing.TB, cfg Config) *Listener {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	l, err := Listen(cfg)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func dial(t testing.TB, l *Listener) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func write(t testing.TB, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatalf("write: %v", err)
	}
}

const waitLimit = 10 * time.Second

// poll reports whether cond holds within waitLimit, checking every 2ms.
func poll(cond func() bool) bool {
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// eventually fails the test unless cond holds within waitLimit.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !poll(cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// recv takes n events from l, failing after waitLimit.
func recv(t testing.TB, l *Listener, n int) []Event {
	t.Helper()
	timeout := time.After(waitLimit)
	var evs []Event
	for len(evs) < n {
		select {
		case ev, ok := <-l.Events():
			if !ok {
				t.Fatalf("events closed after %d of %d", len(evs), n)
			}
			evs = append(evs, ev)
		case <-timeout:
			t.Fatalf("got %d of %d events", len(evs), n)
		}
	}
	return evs
}

// noMoreEvents asserts nothing else is queued; call it once the counter shows every
// frame was handled, so there is nothing in flight.
func noMoreEvents(t testing.TB, l *Listener) {
	t.Helper()
	select {
	case ev := <-l.Events():
		t.Fatalf("unexpected event %+v", ev)
	default:
	}
}

// closedByPeer asserts the listener closed c: a read returns an error (EOF or reset)
// well before waitLimit rather than a timeout.
func closedByPeer(t testing.TB, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	var b [1]byte
	_, err := c.Read(b[:])
	if err == nil {
		t.Fatal("connection still open: read a byte")
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection still open after", waitLimit)
	}
}

// refusedBy asserts l closes a new connection at once. A refused connection is reset,
// which may reach the client during connect, on a write or on the read.
func refusedBy(t testing.TB, l *Listener) {
	t.Helper()
	c, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
	if errors.Is(err, syscall.ECONNRESET) {
		return
	}
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, lf(alert("refused")))
	closedByPeer(t, c)
}

// alert is the project's assumed Mobile Alerts message (doc.go), without framing.
func alert(id string) string {
	return "<14>1 2026-12-01T10:00:00.000Z ues.example CylancePROTECT - - - BlackBerry Protect Mobile: " +
		"Event Type: MobileAlert, Event Name: Created, Alert Id: " + id +
		", Alert Name: maliciousApplication: Evil Flashlight, Device Name: bob-Android-1, " +
		"User Email: bob@contoso.example, Device OS: Android, Version of OS: 14"
}

func octet(msg string) string { return fmt.Sprintf("%d %s", len(msg), msg) }
func lf(msg string) string    { return msg + "\n" }

func ids(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.AlertID
	}
	return out
}
