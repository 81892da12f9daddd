package siem

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// Delivery limits. MaxTries and DisableAfter are BlackBerry's documented
// numbers; the rest are the twin's.
const (
	MaxTries     = 10  // tries per message before it is dead-lettered
	DisableAfter = 400 // undelivered messages after which the integration disables itself

	DefaultQueueSize = 1000                  // messages waiting per tenant
	DefaultRetryBase = 50 * time.Millisecond // wait after a message's first failed try, doubled per try
	DefaultRetryMax  = time.Second           // longest wait between tries
	maxDeadLetters   = 1000                  // dead letters kept per tenant (oldest dropped)
	maxWritten       = 4 * DefaultQueueSize  // messages remembered per connection for a replay
	replayWindow     = 2 * time.Second       // see sender.lost
	dialTimeout      = 5 * time.Second       // connect and TLS handshake
	writeTimeout     = 10 * time.Second      // a server that stops reading counts as broken
)

// ErrInvalid wraps every configuration error (the admin API answers 400).
var ErrInvalid = errors.New("invalid syslog configuration")

// Hub holds every tenant's integration. The world calls Alert with its lock
// held; Alert only queues, and one goroutine per enabled tenant sends, so a
// slow or absent syslog server never holds up the world.
//
// Lock order: the world's lock, then Hub.mu, then feed.mu. feed.ctl is taken
// without the world's lock and never under feed.mu.
type Hub struct {
	mu        sync.Mutex
	feeds     map[string]*feed // by Entra tenant id
	retryBase time.Duration
	retryMax  time.Duration
	queueSize int
	closed    bool
}

// NewHub returns a hub with the default retry backoff and queue size.
func NewHub() *Hub {
	return &Hub{feeds: map[string]*feed{}, retryBase: DefaultRetryBase, retryMax: DefaultRetryMax, queueSize: DefaultQueueSize}
}

// SetRetryBackoff sets the wait after a failed try: base after the first,
// doubled per further try of the same message, at most max. Real time, not
// the world clock: it paces a real connection. It applies to senders
// started (enabled or reconfigured) afterwards; tests shorten it.
func (h *Hub) SetRetryBackoff(base, max time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.retryBase, h.retryMax = base, max
}

// SetQueueSize bounds each tenant's queue from now on (at least 1).
func (h *Hub) SetQueueSize(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.queueSize = max(n, 1)
}

// feed is one tenant's integration: its configuration, queue and counts.
type feed struct {
	// ctl serialises reconfiguration: it is held while the sender stops and
	// its successor starts, so two senders never write at once.
	ctl sync.Mutex
	run *sender // guarded by ctl

	mu          sync.Mutex
	cfg         adminapi.SyslogConfig
	tls         *tls.Config
	queue       []*message
	delivered   int
	undelivered int
	dead        []adminapi.SyslogDeadLetter
	disabled    bool
	reason      string
	lastErr     string
	wake        chan struct{} // a token when something was queued
}

// message is one event on its way.
type message struct {
	text    string
	tries   int
	lastErr string
	counted bool // counted in delivered (written on a connection not since found broken)
}

func (h *Hub) feed(tenant string) *feed {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.feeds[tenant]
	if f == nil {
		f = &feed{cfg: adminapi.SyslogConfig{Framing: adminapi.SyslogOctetCounting}, wake: make(chan struct{}, 1)}
		h.feeds[tenant] = f
	}
	return f
}

// Alert is the world's alert hook: it queues the event's message for the
// tenant when its integration is on.
func (h *Hub) Alert(_ *world.State, t *world.Tenant, d *world.Device, a *world.Alert) {
	h.mu.Lock()
	f, size := h.feeds[t.ID], h.queueSize
	h.mu.Unlock()
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.cfg.Enabled || f.disabled {
		return
	}
	m := &message{text: Message(t, d, a)}
	if len(f.queue) >= size {
		// Never block the world: a full queue loses the message, visibly.
		m.lastErr = "queue full (" + strconv.Itoa(size) + " messages waiting)"
		f.lastErr = m.lastErr
		f.giveUp(m)
		return
	}
	f.queue = append(f.queue, m)
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// giveUp dead-letters m and disables the integration at the limit; f.mu is
// held.
func (f *feed) giveUp(m *message) {
	f.undelivered++
	f.dead = append(f.dead, adminapi.SyslogDeadLetter{Frame: Frame(f.cfg.Framing, m.text), LastError: m.lastErr, Tries: m.tries})
	if len(f.dead) > maxDeadLetters {
		f.dead = f.dead[len(f.dead)-maxDeadLetters:]
	}
	if f.undelivered >= DisableAfter && !f.disabled {
		f.disabled = true
		f.reason = fmt.Sprintf("%d messages undelivered: UES disables the integration after %d", f.undelivered, DisableAfter)
	}
}

// Configure validates c and applies it to the tenant's integration: the
// sender restarts with it (queued messages kept), or stops when c is not
// enabled (queued messages dropped). Enabling clears an automatic disable
// and keeps the counts, as an admin re-enabling it in the console.
func (h *Hub) Configure(tenant string, c adminapi.SyslogConfig) (adminapi.SyslogStatus, error) {
	c, tc, err := parseConfig(c)
	if err != nil {
		return adminapi.SyslogStatus{}, err
	}
	f := h.feed(tenant)
	f.ctl.Lock()
	defer f.ctl.Unlock()
	f.stop()
	f.mu.Lock()
	f.cfg, f.tls = c, tc
	if c.Enabled {
		f.disabled, f.reason = false, ""
	} else {
		f.queue = nil
	}
	f.mu.Unlock()
	h.mu.Lock()
	base, maxWait, live := h.retryBase, h.retryMax, !h.closed && h.feeds[tenant] == f // not closed or reset meanwhile
	h.mu.Unlock()
	if c.Enabled && live {
		f.start(c, tc, base, maxWait)
	}
	return f.status(), nil
}

// Disable turns the tenant's integration off: the sender stops, queued
// messages are dropped; the configuration, counts and dead letters stay.
func (h *Hub) Disable(tenant string) {
	h.mu.Lock()
	f := h.feeds[tenant]
	h.mu.Unlock()
	if f == nil {
		return // never configured: off already
	}
	c := f.status().SyslogConfig
	c.Enabled = false
	_, _ = h.Configure(tenant, c) // a stored configuration is valid
}

// Status is the tenant's configuration and delivery status.
func (h *Hub) Status(tenant string) adminapi.SyslogStatus {
	h.mu.Lock()
	f := h.feeds[tenant]
	h.mu.Unlock()
	if f == nil {
		return adminapi.SyslogStatus{SyslogConfig: adminapi.SyslogConfig{Framing: adminapi.SyslogOctetCounting}}
	}
	return f.status()
}

func (f *feed) status() adminapi.SyslogStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return adminapi.SyslogStatus{SyslogConfig: f.cfg, Delivered: f.delivered, Undelivered: f.undelivered,
		Queued: len(f.queue), DeadLetters: len(f.dead), Disabled: f.disabled, DisabledReason: f.reason, LastError: f.lastErr}
}

// DeadLetters lists the tenant's dead letters, oldest first.
func (h *Hub) DeadLetters(tenant string) []adminapi.SyslogDeadLetter {
	h.mu.Lock()
	f := h.feeds[tenant]
	h.mu.Unlock()
	out := []adminapi.SyslogDeadLetter{}
	if f != nil {
		f.mu.Lock()
		out = append(out, f.dead...)
		f.mu.Unlock()
	}
	return out
}

// Reset forgets every tenant's integration (the world is reset: its tenants
// are new), stopping the senders.
func (h *Hub) Reset() {
	h.mu.Lock()
	old := h.feeds
	h.feeds = map[string]*feed{}
	h.mu.Unlock()
	stopAll(old)
}

// Close stops every sender for good and waits for them; queued messages are
// dropped. Later configurations are kept but start nothing.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	feeds := make(map[string]*feed, len(h.feeds))
	for k, f := range h.feeds {
		feeds[k] = f
	}
	h.mu.Unlock()
	stopAll(feeds)
}

func stopAll(feeds map[string]*feed) {
	for _, f := range feeds {
		f.ctl.Lock()
		f.stop()
		f.ctl.Unlock()
	}
}

// parseConfig validates c, fills the default framing and builds the TLS
// client configuration.
func parseConfig(c adminapi.SyslogConfig) (adminapi.SyslogConfig, *tls.Config, error) {
	bad := func(msg string) (adminapi.SyslogConfig, *tls.Config, error) {
		return c, nil, fmt.Errorf("%w: %s", ErrInvalid, msg)
	}
	switch c.Framing {
	case "":
		c.Framing = adminapi.SyslogOctetCounting
	case adminapi.SyslogOctetCounting, adminapi.SyslogNonTransparent:
	default:
		return bad("framing must be " + adminapi.SyslogOctetCounting + " or " + adminapi.SyslogNonTransparent)
	}
	var host string
	if c.Destination != "" || c.Enabled {
		h, port, err := net.SplitHostPort(c.Destination)
		n, perr := strconv.Atoi(port)
		if err != nil || h == "" || perr != nil || n < 1 || n > 65535 {
			return bad("destination must be host:port with a port from 1 to 65535")
		}
		host = h
	}
	if !c.TLS {
		if c.CAPEM != "" || c.ServerName != "" {
			return bad("caPEM and serverName need tls")
		}
		return c, nil, nil
	}
	pool, err := caPool(c.CAPEM)
	if err != nil {
		return bad("caPEM: " + err.Error())
	}
	name := c.ServerName
	if name == "" {
		name = host
	}
	return c, &tls.Config{RootCAs: pool, ServerName: name, MinVersion: tls.VersionTLS12}, nil
}

// caPool reads one or more PEM CERTIFICATE blocks and nothing else.
func caPool(text string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	rest, n := []byte(text), 0
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, errors.New("a " + blk.Type + " block is not a certificate")
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, errors.New("no PEM CERTIFICATE block (needed with tls)")
	}
	return pool, nil
}
