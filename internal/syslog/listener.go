package syslog

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Config is one connector's receiver.
type Config struct {
	// Addr is the TCP address to bind, e.g. "127.0.0.1:0" or ":6514".
	Addr string
	// TLS, when set, is required on every connection; nil is plain TCP (whether that is
	// allowed is the caller's decision). It must not be changed after Listen.
	TLS *tls.Config
	// AllowedSources are the sender addresses admitted; empty admits any. A connection
	// from elsewhere is closed before it is read.
	AllowedSources []netip.Prefix
	// Limits are the caps; zero fields take their defaults.
	Limits Limits
	// Observer is told of every frame and drop; nil for none.
	Observer Observer
}

// Listener receives Mobile Alerts for one connector until Close.
type Listener struct {
	cfg     Config
	ln      net.Listener
	obs     Observer
	sources *sources
	events  chan Event
	ctx     context.Context // cancelled by Close, ends TLS handshakes
	cancel  context.CancelFunc

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// Listen binds cfg.Addr and starts serving.
func Listen(cfg Config) (*Listener, error) {
	limits, err := cfg.Limits.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg.Limits = limits
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Listener{
		cfg:     cfg,
		ln:      ln,
		obs:     cfg.Observer,
		sources: newSources(limits),
		events:  make(chan Event, limits.QueueSize),
		ctx:     ctx,
		cancel:  cancel,
		conns:   map[net.Conn]struct{}{},
	}
	l.wg.Add(1)
	go l.accept()
	return l, nil
}

// Addr is the bound address (with the port chosen for ":0").
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Events delivers the parsed alerts; it is closed once Close has stopped everything.
func (l *Listener) Events() <-chan Event { return l.events }

// Close stops accepting, closes every connection, waits for all goroutines and then
// closes Events. It may be called more than once.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		for c := range l.conns {
			_ = c.Close()
		}
		l.mu.Unlock()
		l.cancel()
		l.closeErr = l.ln.Close()
		l.wg.Wait()
		close(l.events)
	})
	return l.closeErr
}

// accept admits connections until the listener is closed. Refused connections are
// closed here, at once, so that they cost no goroutine.
func (l *Listener) accept() {
	defer l.wg.Done()
	var backoff time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait rather than spin, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-l.ctx.Done():
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		src := sourceOf(c.RemoteAddr())
		if !allowed(l.cfg.AllowedSources, src) {
			refuse(c)
			l.obs.Dropped(ReasonSourceNotAllowed)
			continue
		}
		lim, ok := l.sources.acquire(src)
		if !ok {
			refuse(c)
			l.obs.Dropped(ReasonTooManyConnections)
			continue
		}
		if !l.track(c) {
			l.sources.release(src)
			refuse(c)
			return
		}
		l.wg.Add(1)
		go l.serve(c, src, lim)
	}
}

// track registers c to be closed by Close, unless Close has already begun.
func (l *Listener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *Listener) untrack(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, c)
}

// refuse closes c with a reset rather than a FIN, so refused senders leave no
// TIME_WAIT behind on this side however many of them there are.
func refuse(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// sourceOf is the sender's address without zone, IPv4-mapped IPv6 as IPv4 (a
// dual-stack listener sees 127.0.0.1 as ::ffff:127.0.0.1, which 127.0.0.0/8 must match).
func sourceOf(remote net.Addr) netip.Addr {
	if a, ok := remote.(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap().WithZone("")
	}
	return netip.Addr{}
}

func allowed(prefixes []netip.Prefix, a netip.Addr) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
