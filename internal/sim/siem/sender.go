package siem

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"slices"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
)

// sender is the goroutine delivering one tenant's queue, in order, over one
// persistent connection that it re-dials when it breaks.
type sender struct {
	f         *feed
	cfg       adminapi.SyslogConfig
	tls       *tls.Config
	base, max time.Duration
	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{}

	conn    *link
	written []written // on conn, oldest first, within replayWindow
	wait    int       // tries of the head message to pause for before sending (after lost)
}

// written is a message written on the current connection, and when.
type written struct {
	m  *message
	at time.Time
}

// start runs a sender with c; f.ctl is held.
func (f *feed) start(c adminapi.SyslogConfig, tc *tls.Config, base, maxWait time.Duration) {
	s := &sender{f: f, cfg: c, tls: tc, base: base, max: maxWait, done: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	f.run = s
	go s.loop()
}

// stop stops the sender, if any, and waits for it to hang up; f.ctl is held.
func (f *feed) stop() {
	if f.run == nil {
		return
	}
	f.run.cancel()
	<-f.run.done
	f.run = nil
}

func (s *sender) loop() {
	defer close(s.done)
	defer func() {
		// Stopped or disabled: what was written stays delivered.
		if s.conn != nil {
			s.conn.close()
		}
	}()
	f := s.f
	for {
		m, ok := s.next()
		if !ok {
			return
		}
		if s.wait > 0 {
			// Replayed after a lost connection: back off before re-dialling.
			w := s.wait
			s.wait = 0
			if !s.pause(w) {
				return
			}
		}
		err := s.send(m)
		if err == nil {
			continue
		}
		f.mu.Lock()
		m.tries++
		m.lastErr, f.lastErr = err.Error(), err.Error()
		exhausted := m.tries >= MaxTries
		if exhausted {
			f.pop()
			f.giveUp(m)
		}
		f.mu.Unlock()
		if s.conn != nil {
			s.lost(err) // the write failed: the connection is gone
			s.wait = 0  // the pause below covers it
		}
		if !exhausted && !s.pause(m.tries) {
			return
		}
	}
}

// next waits for the message at the head of the queue; false when the
// sender stops or the integration disabled itself. A connection found
// broken meanwhile is hung up (and its recent messages queued again).
func (s *sender) next() (*message, bool) {
	f := s.f
	for {
		f.mu.Lock()
		disabled := f.disabled
		var m *message
		if len(f.queue) > 0 {
			m = f.queue[0]
		}
		f.mu.Unlock()
		if disabled {
			return nil, false
		}
		var dead <-chan struct{} // nil (never ready) without a connection
		if s.conn != nil {
			dead = s.conn.dead
		}
		if m != nil {
			select {
			case <-s.ctx.Done():
				return nil, false
			case <-dead:
				s.lost(s.conn.err)
				continue
			default:
				return m, true
			}
		}
		select {
		case <-s.ctx.Done():
			return nil, false
		case <-dead:
			s.lost(s.conn.err)
		case <-f.wake:
		}
	}
}

// send makes one try of m, the queue's head: connect if need be, write the
// frame. Written without error, m is delivered and leaves the queue.
func (s *sender) send(m *message) error {
	if s.conn == nil {
		l, err := dial(s.ctx, s.cfg.Destination, s.tls)
		if err != nil {
			return err
		}
		s.conn = l
	}
	if err := s.conn.write(Frame(s.cfg.Framing, m.text)); err != nil {
		return err
	}
	f := s.f
	f.mu.Lock()
	f.pop()
	m.counted = true
	f.delivered++
	f.mu.Unlock()
	now := time.Now()
	s.written = append(s.written, written{m: m, at: now})
	i := 0
	for i < len(s.written) && (s.written[i].at.Before(now.Add(-replayWindow)) || len(s.written)-i > maxWritten) {
		i++
	}
	s.written = slices.Delete(s.written, 0, i)
	return nil
}

// lost hangs up a connection found broken (by err) and queues again, at the
// head and in their order, the messages written on it in the last
// replayWindow: TCP tells a sender nothing of what the server read, and a
// server that closes the connection with data unread discards it. So
// delivery is at least once: such a message counts a failed try and is sent
// again (and counted delivered once) rather than lost; one whose tries are
// used up is dead-lettered, so a server that keeps dropping connections
// cannot keep the sender replaying forever.
func (s *sender) lost(err error) {
	s.conn.close()
	s.conn = nil
	cutoff := time.Now().Add(-replayWindow)
	var again []*message
	for _, w := range s.written {
		if w.at.After(cutoff) {
			again = append(again, w.m)
		}
	}
	s.written = nil
	if len(again) == 0 {
		return
	}
	why := "connection lost after the message was written"
	if err != nil {
		why += ": " + err.Error()
	}
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastErr = why
	keep := make([]*message, 0, len(again)+len(f.queue))
	for _, m := range again {
		if m.counted {
			f.delivered--
			m.counted = false
		}
		m.tries++
		m.lastErr = why
		if m.tries >= MaxTries {
			f.giveUp(m)
			continue
		}
		keep = append(keep, m)
	}
	f.queue = append(keep, f.queue...)
	if len(keep) > 0 {
		s.wait = keep[0].tries
	}
}

// pause waits before the next try of a message that failed tries times:
// base, doubled per further try, at most max. False when the sender stops.
func (s *sender) pause(tries int) bool {
	d := s.base
	for i := 1; i < tries && d < s.max; i++ {
		d *= 2
	}
	d = min(d, s.max)
	if d <= 0 {
		return s.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// pop removes the queue's head; f.mu is held.
func (f *feed) pop() {
	f.queue = slices.Delete(f.queue, 0, 1)
}

// link is one connection to the syslog server. A reader goroutine watches
// it: a syslog server never answers, so anything but more silence — the
// server closing or resetting the connection — marks it dead, which the
// sender notices even while it has nothing to send.
type link struct {
	raw     net.Conn      // the TCP connection; closing it unblocks every call
	w       net.Conn      // raw, or the TLS client over it
	dead    chan struct{} // closed when the connection ended
	err     error         // why, set before dead is closed
	unwatch func() bool
}

func dial(ctx context.Context, dest string, tc *tls.Config) (*link, error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(dctx, "tcp", dest)
	if err != nil {
		return nil, err
	}
	w := raw
	if tc != nil {
		c := tls.Client(raw, tc)
		if err := c.HandshakeContext(dctx); err != nil {
			raw.Close()
			return nil, err
		}
		w = c
	}
	l := &link{raw: raw, w: w, dead: make(chan struct{})}
	// Stopping the sender closes the TCP connection under a blocked write.
	// (tls.Conn.Close would wait for that write to send close_notify.)
	l.unwatch = context.AfterFunc(ctx, func() { raw.Close() })
	go l.watch()
	return l, nil
}

func (l *link) watch() {
	defer close(l.dead)
	buf := make([]byte, 512)
	for {
		if _, err := l.w.Read(buf); err != nil {
			l.err = err
			return
		}
	}
}

func (l *link) write(frame string) error {
	if err := l.raw.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return err
	}
	_, err := io.WriteString(l.w, frame)
	return err
}

// close hangs up and waits for the watcher to end.
func (l *link) close() {
	l.unwatch()
	l.raw.Close()
	<-l.dead
}
