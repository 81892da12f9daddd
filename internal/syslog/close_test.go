package syslog

import (
	"net"
	"runtime"
	"testing"
	"time"
)

// TestCloseStopsEverything leaves connections in every state (idle, inside a frame,
// inside a TLS handshake, delivering) and checks that Close ends them all: no
// goroutine is left, Events is closed, the port refuses, and Close can be repeated.
func TestCloseStopsEverything(t *testing.T) {
	base := runtime.NumGoroutine()
	s := newTLS(t, false)
	obs := newCounter()
	plain := start(t, Config{Observer: obs, Limits: Limits{IdleTimeout: time.Hour}})
	secure := start(t, Config{TLS: s.server, Observer: obs, Limits: Limits{IdleTimeout: time.Hour, HandshakeTimeout: time.Hour}})

	var clients []net.Conn
	idle := dial(t, plain)
	inFrame := dial(t, plain)
	write(t, inFrame, "9000 <14>1 - - - - - - partial")
	busy := dial(t, plain)
	write(t, busy, lf(alert("queued")))
	handshaking := dial(t, secure) // never says hello
	tc, err := s.dialTLS(t, secure)
	if err != nil {
		t.Fatal(err)
	}
	write(t, tc, lf(alert("tls")))
	clients = append(clients, idle, inFrame, busy, handshaking, tc)
	eventually(t, "both alerts parsed", func() bool { _, p, _ := obs.counts(); return p == 2 })
	eventually(t, "every connection admitted", func() bool { return open(plain) == 3 && open(secure) == 2 })

	for _, l := range []*Listener{plain, secure} {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		_ = l.Close() // a second Close is harmless
		n := 0
		for range l.Events() { // closed, after what was queued
			n++
		}
		if n != 1 {
			t.Errorf("%d events drained after Close, want the 1 queued", n)
		}
		if c, err := net.DialTimeout("tcp", l.Addr().String(), time.Second); err == nil {
			_ = c.Close()
			t.Errorf("%v still accepts", l.Addr())
		}
	}
	for _, c := range clients {
		closedByPeer(t, c)
	}
	eventually(t, "goroutines gone", func() bool { return runtime.NumGoroutine() <= base })
}

// open is how many connections l is serving.
func open(l *Listener) int {
	l.sources.mu.Lock()
	defer l.sources.mu.Unlock()
	return l.sources.total
}
