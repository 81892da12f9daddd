package syslog

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"slices"
	"testing"
	"time"
)

type tlsSetup struct {
	serverCA, clientCA, rogueCA *testCA
	server                      *tls.Config
}

// newTLS makes a server certificate, and with mutual set requires client certificates
// from clientCA.
func newTLS(t testing.TB, mutual bool) *tlsSetup {
	s := &tlsSetup{serverCA: newTestCA(t, "server CA"), clientCA: newTestCA(t, "client CA"), rogueCA: newTestCA(t, "rogue CA")}
	s.server = &tls.Config{Certificates: []tls.Certificate{s.serverCA.issue(t, "syslog", x509.ExtKeyUsageServerAuth)},
		MinVersion: tls.VersionTLS12}
	if mutual {
		s.server.ClientAuth, s.server.ClientCAs = tls.RequireAndVerifyClientCert, s.clientCA.pool()
	}
	return s
}

// dialTLS connects as a client trusting the server's CA, presenting certs.
func (s *tlsSetup) dialTLS(t *testing.T, l *Listener, certs ...tls.Certificate) (*tls.Conn, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", l.Addr().String(), &tls.Config{RootCAs: s.serverCA.pool(), Certificates: certs})
	if c != nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

func TestTLSDeliversBothFramings(t *testing.T) {
	s := newTLS(t, false)
	obs := newCounter()
	l := start(t, Config{TLS: s.server, Observer: obs})
	c, err := s.dialTLS(t, l)
	if err != nil {
		t.Fatal(err)
	}
	stream, want := mixedStream()
	write(t, c, stream)
	if got := ids(recv(t, l, len(want))); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	obs.checkBalanced(t)
}

func TestTLSRefusesPlaintextClient(t *testing.T) {
	s := newTLS(t, false)
	obs := newCounter()
	l := start(t, Config{TLS: s.server, Observer: obs})
	c := dial(t, l)
	write(t, c, octet(alert("plain")))
	closedByPeer(t, c)
	eventually(t, "handshake failure counted", func() bool { return obs.drops(ReasonTLSHandshake) == 1 })
	if obs.frames() != 0 {
		t.Errorf("read %d frames in plaintext", obs.frames())
	}
	// The listener still serves TLS.
	tc, err := s.dialTLS(t, l)
	if err != nil {
		t.Fatal(err)
	}
	write(t, tc, lf(alert("tls")))
	if got := recv(t, l, 1)[0].AlertID; got != "tls" {
		t.Errorf("got %q", got)
	}
}

func TestTLSHandshakeTimeout(t *testing.T) {
	s := newTLS(t, false)
	obs := newCounter()
	const timeout = 200 * time.Millisecond
	l := start(t, Config{TLS: s.server, Observer: obs, Limits: Limits{HandshakeTimeout: timeout, IdleTimeout: time.Hour}})
	begin := time.Now()
	closedByPeer(t, dial(t, l)) // connects and never says hello
	if waited := time.Since(begin); waited < timeout {
		t.Errorf("closed after %v, before the handshake timeout", waited)
	}
	eventually(t, "handshake failure counted", func() bool { return obs.drops(ReasonTLSHandshake) == 1 })
}

func TestMutualTLS(t *testing.T) {
	s := newTLS(t, true)
	obs := newCounter()
	l := start(t, Config{TLS: s.server, Observer: obs})

	good, err := s.dialTLS(t, l, s.clientCA.issue(t, "ues", x509.ExtKeyUsageClientAuth))
	if err != nil {
		t.Fatal(err)
	}
	write(t, good, lf(alert("trusted")))
	if got := recv(t, l, 1)[0].AlertID; got != "trusted" {
		t.Errorf("got %q", got)
	}

	for i, certs := range [][]tls.Certificate{
		{s.rogueCA.issue(t, "rogue", x509.ExtKeyUsageClientAuth)},        // untrusted CA
		{s.clientCA.issue(t, "server-only", x509.ExtKeyUsageServerAuth)}, // trusted CA, wrong usage
		nil, // no certificate
	} {
		// With TLS 1.3 the client finishes its side before the server checks its
		// certificate, so the refusal shows on the first read rather than in Dial.
		c, err := s.dialTLS(t, l, certs...)
		if err == nil {
			_, _ = c.Write([]byte(lf(alert("untrusted"))))
			_ = c.SetReadDeadline(time.Now().Add(waitLimit))
			var b [1]byte
			if _, err = c.Read(b[:]); err == nil {
				t.Fatalf("%d: connection accepted", i)
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("%d: connection still open", i)
			}
		}
		eventually(t, "handshake failure counted", func() bool { return obs.drops(ReasonTLSHandshake) == i+1 })
	}
	if n := obs.frames(); n != 1 {
		t.Errorf("read %d frames; only the trusted client's counts", n)
	}
	noMoreEvents(t, l)
	obs.checkBalanced(t)
}
