package syslog

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestConnectionCaps fills a cap, checks the next connection is closed at once and
// counted, and that a slot freed by a sender leaving is reused.
func TestConnectionCaps(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits Limits
		cap    int
	}{
		{"per source", Limits{MaxConnectionsPerSource: 2}, 2},
		{"total", Limits{MaxConnections: 3, MaxConnectionsPerSource: 8}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs := newCounter()
			l := start(t, Config{Observer: obs, Limits: tc.limits})
			var open []net.Conn
			for i := range tc.cap {
				c := dial(t, l)
				write(t, c, lf(alert(string(rune('a'+i)))))
				recv(t, l, 1) // admitted and served
				open = append(open, c)
			}
			refusedBy(t, l)
			eventually(t, "refusal counted", func() bool { return obs.drops(ReasonTooManyConnections) == 1 })

			// The admitted connections are unaffected.
			write(t, open[0], lf(alert("still")))
			if got := recv(t, l, 1)[0].AlertID; got != "still" {
				t.Errorf("got %q", got)
			}
			// Once one leaves, a new one is admitted.
			_ = open[0].Close()
			eventually(t, "a free slot", func() bool {
				c, err := net.Dial("tcp", l.Addr().String())
				if err != nil {
					return false
				}
				defer c.Close()
				_, _ = c.Write([]byte(lf(alert("new"))))
				select {
				case ev := <-l.Events():
					return ev.AlertID == "new"
				case <-time.After(100 * time.Millisecond):
					return false
				}
			})
			obs.checkBalanced(t)
		})
	}
}

func TestSourceAllowlist(t *testing.T) {
	obs := newCounter()
	refused := start(t, Config{Observer: obs, AllowedSources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	refusedBy(t, refused)
	eventually(t, "refusal counted", func() bool { return obs.drops(ReasonSourceNotAllowed) == 1 })
	if obs.frames() != 0 {
		t.Errorf("read %d frames from a refused source", obs.frames())
	}
	noMoreEvents(t, refused)

	admitted := start(t, Config{AllowedSources: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}})
	write(t, dial(t, admitted), lf(alert("ok")))
	if got := recv(t, admitted, 1)[0].AlertID; got != "ok" {
		t.Errorf("got %q", got)
	}
}

func TestAllowedMatchesMappedAddresses(t *testing.T) {
	lo := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	for _, tc := range []struct {
		remote net.Addr
		want   bool
	}{
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 1}, true},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:127.0.0.1"), Port: 1}, true}, // as a dual-stack listener sees it
		{&net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 1}, false},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 1}, false},
		{&net.UnixAddr{Name: "x"}, false},
	} {
		if got := allowed(lo, sourceOf(tc.remote)); got != tc.want {
			t.Errorf("%v: allowed %v, want %v", tc.remote, got, tc.want)
		}
	}
	if !allowed(nil, netip.MustParseAddr("10.0.0.1")) {
		t.Error("an empty allowlist admits any source")
	}
}

func TestIdleTimeoutClosesConnection(t *testing.T) {
	const idle = 200 * time.Millisecond
	l := start(t, Config{Limits: Limits{IdleTimeout: idle}})
	c := dial(t, l)
	write(t, c, lf(alert("first")))
	recv(t, l, 1)
	last := time.Now()
	closedByPeer(t, c)
	// The server cannot have closed it sooner than IdleTimeout after the last byte.
	if waited := time.Since(last); waited < idle {
		t.Errorf("closed after %v, before the idle timeout %v", waited, idle)
	}
	// A silent connection that never sent a byte is closed too.
	closedByPeer(t, dial(t, l))
}

func TestSourcesCaps(t *testing.T) {
	s := newSources(mustLimits(t, Limits{MaxConnections: 3, MaxConnectionsPerSource: 2}))
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	mustAcquire := func(addr netip.Addr, want bool) {
		t.Helper()
		if _, ok := s.acquire(addr); ok != want {
			t.Fatalf("acquire(%v) = %v, want %v", addr, ok, want)
		}
	}
	mustAcquire(a, true)
	mustAcquire(a, true)
	mustAcquire(a, false) // per source
	mustAcquire(b, true)
	mustAcquire(b, false) // total
	s.release(a)
	mustAcquire(b, true) // a's slot is free for b
	mustAcquire(a, false)
}

func TestSourcesKeepBucketAndStayBounded(t *testing.T) {
	lim := mustLimits(t, Limits{MaxConnections: 2, MessagesPerSecond: 0.001, Burst: 1})
	s := newSources(lim)
	a := netip.MustParseAddr("192.0.2.1")
	l1, _ := s.acquire(a)
	if !l1.Allow() {
		t.Fatal("first message refused")
	}
	s.release(a)
	l2, _ := s.acquire(a)
	if l2.Allow() {
		t.Error("reconnecting refilled the bucket")
	}
	s.release(a)
	// Many addresses coming and going cannot grow the map past its bound.
	for i := range 1000 {
		addr := netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
		l, ok := s.acquire(addr)
		if !ok {
			t.Fatalf("acquire %v refused", addr)
		}
		l.Allow() // an empty bucket: state worth keeping, but not without bound
		s.release(addr)
	}
	if n, bound := len(s.m), 4*lim.MaxConnections+lim.MaxConnections; n > bound {
		t.Errorf("%d addresses kept, bound %d", n, bound)
	}
}

func mustLimits(t *testing.T, l Limits) Limits {
	t.Helper()
	l, err := l.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLimitsDefaultsAndRange(t *testing.T) {
	l := mustLimits(t, Limits{})
	want := Limits{MaxMessageBytes: 8192, MaxConnections: 64, MaxConnectionsPerSource: 8, MessagesPerSecond: 100,
		Burst: 200, IdleTimeout: 2 * time.Minute, HandshakeTimeout: 10 * time.Second, QueueSize: 1024, QueueWait: 2 * time.Second}
	if l != want {
		t.Errorf("defaults %+v", l)
	}
	for _, n := range []int{100, 2 << 20} {
		if _, err := Listen(Config{Addr: "127.0.0.1:0", Limits: Limits{MaxMessageBytes: n}}); err == nil {
			t.Errorf("MaxMessageBytes %d accepted", n)
		}
	}
}
