package syslog

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"time"

	"golang.org/x/time/rate"
)

// serve reads one connection's frames until it ends, fails framing, idles out or the
// listener closes.
func (l *Listener) serve(c net.Conn, src netip.Addr, lim *rate.Limiter) {
	defer l.wg.Done()
	defer l.sources.release(src)
	defer l.untrack(c)
	defer c.Close()
	var conn net.Conn = c
	if l.cfg.TLS != nil {
		tc, err := l.handshake(c)
		if err != nil {
			l.obs.Dropped(ReasonTLSHandshake)
			return
		}
		conn = tc
	}
	f := newFramer(idleReader{conn, l.cfg.Limits.IdleTimeout}, l.cfg.Limits.MaxMessageBytes)
	for {
		frame, err := f.next()
		switch {
		case err == nil:
		case errors.Is(err, errOversized):
			l.obs.Received()
			l.obs.Dropped(ReasonOversized)
			continue
		case errors.Is(err, errFraming), errors.Is(err, errTruncated):
			l.obs.Received()
			l.obs.Dropped(ReasonMalformed)
			return
		default:
			return // EOF, idle timeout or Close between frames: nothing was lost
		}
		l.obs.Received()
		if !lim.Allow() {
			l.obs.Dropped(ReasonRateLimited)
			continue
		}
		l.deliver(frame, src)
	}
}

// handshake runs the TLS handshake within HandshakeTimeout; Close cancels it too.
func (l *Listener) handshake(c net.Conn) (*tls.Conn, error) {
	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.Limits.HandshakeTimeout)
	defer cancel()
	tc := tls.Server(c, l.cfg.TLS)
	return tc, tc.HandshakeContext(ctx)
}

// deliver parses one frame and queues its event, waiting at most QueueWait for room.
func (l *Listener) deliver(frame []byte, src netip.Addr) {
	ev, err := Parse(frame)
	switch {
	case errors.Is(err, ErrNotAlert):
		l.obs.Dropped(ReasonNotAnAlert)
		return
	case err != nil:
		l.obs.Dropped(ReasonMalformed)
		return
	}
	ev.Source, ev.Received = src, time.Now()
	select {
	case l.events <- ev:
		l.obs.Parsed()
		return
	default:
	}
	if wait := l.cfg.Limits.QueueWait; wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case l.events <- ev:
			l.obs.Parsed()
			return
		case <-t.C:
		case <-l.ctx.Done():
		}
	}
	l.obs.Dropped(ReasonQueueFull)
}

// idleReader gives every read a fresh deadline, so a connection is closed after
// IdleTimeout without a byte rather than after a fixed lifetime.
type idleReader struct {
	c       net.Conn
	timeout time.Duration
}

func (r idleReader) Read(p []byte) (int, error) {
	if err := r.c.SetReadDeadline(time.Now().Add(r.timeout)); err != nil {
		return 0, err
	}
	return r.c.Read(p)
}
