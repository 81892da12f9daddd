package sim_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/sim/simclient"
	"github.com/mtd-operator/mtd-operator/internal/sim/simtls"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

// syslogServer is a tiny syslog receiver on 127.0.0.1, plain TCP or TLS,
// reading one framing strictly. It records every message it read; with
// dropAfter > 0 it closes its first connection right after that many
// messages, as a server restarting mid-stream.
type syslogServer struct {
	t         testing.TB
	ln        net.Listener
	framing   string
	dropAfter int

	mu    sync.Mutex
	msgs  []string
	conns int
	bad   []string // framing errors
	open  map[net.Conn]bool
	wg    sync.WaitGroup
}

func newSyslogServer(t testing.TB, addr string, tc *tls.Config, framing string, dropAfter int) *syslogServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	s := &syslogServer{t: t, ln: ln, framing: framing, dropAfter: dropAfter, open: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *syslogServer) addr() string { return s.ln.Addr().String() }

func (s *syslogServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns++
		first := s.conns == 1
		s.open[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go s.read(c, first)
	}
}

// read reads frames off one connection until it ends.
func (s *syslogServer) read(c net.Conn, first bool) {
	defer s.wg.Done()
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.open, c)
		s.mu.Unlock()
	}()
	br := bufio.NewReader(c)
	for n := 1; ; n++ {
		msg, err := s.frame(br)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") &&
				!strings.Contains(err.Error(), "tls:") && !strings.Contains(err.Error(), "EOF") {
				s.mu.Lock()
				s.bad = append(s.bad, err.Error())
				s.mu.Unlock()
			}
			return
		}
		s.mu.Lock()
		s.msgs = append(s.msgs, msg)
		s.mu.Unlock()
		if first && n == s.dropAfter {
			return
		}
	}
}

// frame reads one frame: "<length> <message>" with the length in bytes
// (octet counting), or a line (non-transparent).
func (s *syslogServer) frame(br *bufio.Reader) (string, error) {
	if s.framing == adminapi.SyslogNonTransparent {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		return strings.TrimSuffix(line, "\n"), nil
	}
	head, err := br.ReadString(' ')
	if err != nil {
		return "", err
	}
	n, err := strconv.Atoi(strings.TrimSuffix(head, " "))
	if err != nil || n <= 0 || strings.HasPrefix(head, "0") {
		return "", fmt.Errorf("bad octet count %q", head)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return "", fmt.Errorf("frame of %d bytes cut short: %w", n, err)
	}
	return string(b), nil
}

func (s *syslogServer) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bad) > 0 {
		s.t.Errorf("malformed frames: %v", s.bad)
	}
	return slices.Clone(s.msgs)
}

func (s *syslogServer) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

func (s *syslogServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.open {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// waitMessages waits until the server has read n messages and returns them.
func (s *syslogServer) waitMessages(t testing.TB, n int) []string {
	t.Helper()
	var msgs []string
	testkit.EventuallyEvery(t, 10*time.Second, 5*time.Millisecond, fmt.Sprintf("%d syslog messages", n), func() (bool, string) {
		msgs = s.messages()
		return len(msgs) >= n, strings.Join(msgs, "\n")
	})
	return msgs
}

// closedPort is a 127.0.0.1 address nothing listens on (it was just freed).
func closedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// syslogLine is RFC 5424 as UES sends it: PRI, version 1, timestamp,
// hostname, app name, and nil PROCID, MSGID and structured data.
var syslogLine = regexp.MustCompile(`^<(\d+)>1 (\S+) (\S+) (\S+) - - - (.*)$`)

type syslogEvent struct {
	pri       int
	time      time.Time
	host, app string
	msg       string
}

func parseSyslog(t testing.TB, line string) syslogEvent {
	t.Helper()
	m := syslogLine.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("not an RFC 5424 line: %q", line)
	}
	pri, _ := strconv.Atoi(m[1])
	ts, err := time.Parse("2006-01-02T15:04:05.000Z", m[2])
	if err != nil {
		t.Fatalf("timestamp %q is not RFC 3339 with milliseconds in UTC: %v", m[2], err)
	}
	return syslogEvent{pri: pri, time: ts, host: m[3], app: m[4], msg: m[5]}
}

// alertIDIn is the Alert Id of a Mobile Alerts message.
func alertIDIn(line string) string {
	_, rest, _ := strings.Cut(line, "Alert Id: ")
	id, _, _ := strings.Cut(rest, ",")
	return id
}

// syslogPhone enrols an Android 9 phone of sam@contoso.example.
func (tw *twin) syslogPhone() adminapi.DeviceView {
	tw.t.Helper()
	tid := tw.env[sim.EnvTenantID]
	u := must(tw.admin.CreateUser(ctx, tid, adminapi.User{UserPrincipalName: "sam@contoso.example"}))
	c := must(tw.admin.CreateDevices(ctx, tid, adminapi.Device{DeviceName: "sam-pixel", Platform: world.Android, OSVersion: "9", UserID: u.ID}))
	return c.Devices[0]
}

// detections raises n alerts on a device in one go (one world lock), as a
// burst of detections does.
func (tw *twin) detections(device string, n int) []string {
	tw.t.Helper()
	var ids []string
	tw.srv.World.Run(func(st *world.State) {
		t := st.Tenant(tw.env[sim.EnvTenantID])
		for range n {
			a, err := st.Detect(t, device, "unsafeWifi", "", "Free WiFi")
			if err != nil {
				tw.t.Fatal(err)
			}
			ids = append(ids, a.ID)
		}
	})
	return ids
}

// TestSyslogMobileAlerts: an alert raised, resolved (remediated on the
// device) and another ignored (in the console) make three Mobile Alerts
// messages, in order, of the assumed shape, in both framings; an alert raised
// before the integration was on is not sent, and a wipe resolves too.
func TestSyslogMobileAlerts(t *testing.T) {
	for _, framing := range []string{adminapi.SyslogOctetCounting, adminapi.SyslogNonTransparent} {
		t.Run(framing, func(t *testing.T) {
			tw := start(t, noThrottle)
			tid := tw.env[sim.EnvTenantID]
			d := tw.syslogPhone()
			earlier := must(tw.admin.Detect(ctx, tid, d.UESID, adminapi.Detection{Type: "maliciousApplication", Detail: "com.evil.app"}))

			srv := newSyslogServer(t, "127.0.0.1:0", nil, framing, 0)
			st := must(tw.admin.SetSyslog(ctx, tid, adminapi.SyslogConfig{Enabled: true, Destination: srv.addr(), Framing: framing}))
			if !st.Enabled || st.Framing != framing || st.Disabled || st.Delivered != 0 {
				t.Fatalf("status after PUT %+v", st)
			}
			raised := must(tw.admin.Detect(ctx, tid, d.IntuneID, adminapi.Detection{Type: "unsupportedOS"}))
			resolved := must(tw.admin.Remediate(ctx, tid, d.UESID, "unsupportedOS"))
			ignored := must(tw.admin.IgnoreAlert(ctx, tid, earlier.ID))
			if len(resolved) != 1 || ignored.Status != world.AlertIgnored {
				t.Fatalf("resolved %+v ignored %+v", resolved, ignored)
			}

			msgs := srv.waitMessages(t, 3)
			const device = ", Device Name: sam-pixel, User Email: sam@contoso.example, Device OS: Android, Version of OS: 9"
			want := []struct {
				pri int
				at  time.Time
				msg string
			}{
				{14, raised.Created, "BlackBerry Protect Mobile: Event Type: MobileAlert, Event Name: Created, Alert Id: " + raised.ID +
					", Alert Name: unsupportedOS: Android, 9" + device},
				{13, resolved[0].Modified, "BlackBerry Protect Mobile: Event Type: MobileAlert, Event Name: Resolved, Alert Id: " + raised.ID +
					", Alert Name: unsupportedOS: Android, 9" + device},
				{13, ignored.Modified, "BlackBerry Protect Mobile: Event Type: MobileAlert, Event Name: Ignored, Alert Id: " + earlier.ID +
					", Alert Name: maliciousApplication: com.evil.app" + device},
			}
			if len(msgs) != len(want) {
				t.Fatalf("%d messages, want %d:\n%s", len(msgs), len(want), strings.Join(msgs, "\n"))
			}
			for i, w := range want {
				e := parseSyslog(t, msgs[i])
				if e.pri != w.pri || !e.time.Equal(w.at) || e.host != "ues.sim" || e.app != "CylancePROTECT" || e.msg != w.msg {
					t.Errorf("message %d\n got %q\nwant <%d>1 %s ues.sim CylancePROTECT - - - %s", i, msgs[i], w.pri,
						w.at.UTC().Format("2006-01-02T15:04:05.000Z"), w.msg)
				}
			}
			testkit.EventuallyEvery(t, 5*time.Second, 5*time.Millisecond, "3 delivered", func() (bool, string) {
				st = must(tw.admin.Syslog(ctx, tw.env[sim.EnvUESTenantID])) // by the UES tenant id too
				return st.Delivered == 3 && st.Queued == 0, fmt.Sprintf("%+v", st)
			})
			if st.Undelivered != 0 || st.DeadLetters != 0 || st.LastError != "" {
				t.Fatalf("status %+v", st)
			}

			// A wipe removes the Protect app and closes the device's alerts.
			wiped := must(tw.admin.Detect(ctx, tid, d.UESID, adminapi.Detection{Type: "jailbrokenOrRooted"}))
			expectStatus(t, tw.graph("POST", devicesPath+"/"+d.IntuneID+"/wipe", map[string]any{}), 204)
			msgs = srv.waitMessages(t, 5)
			if !strings.Contains(msgs[3], "Event Name: Created, Alert Id: "+wiped.ID+", Alert Name: jailbrokenOrRooted: Rooted,") ||
				!strings.Contains(msgs[4], "Event Name: Resolved, Alert Id: "+wiped.ID+",") || parseSyslog(t, msgs[4]).pri != 13 {
				t.Fatalf("wipe messages:\n%s\n%s", msgs[3], msgs[4])
			}
		})
	}
}

// TestSyslogTLS: TLS verifies the server against caPEM (and serverName when
// given); a server the CA did not sign gets nothing, and each message ends
// dead-lettered after ten tries.
func TestSyslogTLS(t *testing.T) {
	tw := start(t, noThrottle)
	tw.srv.Syslog.SetRetryBackoff(time.Millisecond, 2*time.Millisecond)
	tid := tw.env[sim.EnvTenantID]
	d := tw.syslogPhone()
	pki := must(simtls.New("127.0.0.1", "syslog.test")) // a throwaway CA and the server's certificate
	other := must(simtls.New("127.0.0.1"))
	srv := newSyslogServer(t, "127.0.0.1:0", pki.ServerConfig(), adminapi.SyslogOctetCounting, 0)

	delivered := 0
	for _, name := range []string{"", "syslog.test"} {
		must(tw.admin.SetSyslog(ctx, tid, adminapi.SyslogConfig{Enabled: true, Destination: srv.addr(), TLS: true,
			CAPEM: string(pki.CAPEM), ServerName: name}))
		a := must(tw.admin.Detect(ctx, tid, d.UESID, adminapi.Detection{Type: "deviceScreenlock"}))
		delivered++
		msgs := srv.waitMessages(t, delivered)
		if got := alertIDIn(msgs[delivered-1]); got != a.ID || !strings.Contains(msgs[delivered-1], "Alert Name: deviceScreenlock: Screenlock disabled,") {
			t.Fatalf("serverName %q: %q", name, msgs[delivered-1])
		}
	}

	for _, bad := range []struct {
		name       string
		ca         []byte
		serverName string
		errPart    string
	}{
		{"another CA", other.CAPEM, "", "certificate signed by unknown authority"},
		{"another server name", pki.CAPEM, "elsewhere.test", "elsewhere.test"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			before := must(tw.admin.Syslog(ctx, tid))
			must(tw.admin.SetSyslog(ctx, tid, adminapi.SyslogConfig{Enabled: true, Destination: srv.addr(), TLS: true,
				CAPEM: string(bad.ca), ServerName: bad.serverName}))
			ids := tw.detections(d.UESID, 2)
			var st adminapi.SyslogStatus
			testkit.EventuallyEvery(t, 10*time.Second, 5*time.Millisecond, "2 more dead letters", func() (bool, string) {
				st = must(tw.admin.Syslog(ctx, tid))
				return st.Undelivered == before.Undelivered+2 && st.Queued == 0, fmt.Sprintf("%+v", st)
			})
			if st.Delivered != before.Delivered || st.DeadLetters != before.DeadLetters+2 || st.Disabled ||
				!strings.Contains(st.LastError, bad.errPart) {
				t.Fatalf("status %+v", st)
			}
			dead := must(tw.admin.SyslogDeadLetters(ctx, tid))
			for i, id := range ids {
				dl := dead[len(dead)-2+i]
				n, msg, _ := strings.Cut(dl.Frame, " ")
				if n != strconv.Itoa(len(msg)) || alertIDIn(msg) != id || dl.Tries != 10 || !strings.Contains(dl.LastError, bad.errPart) {
					t.Fatalf("dead letter %d %+v", i, dl)
				}
				parseSyslog(t, msg)
			}
			if n := len(srv.messages()); n != delivered {
				t.Fatalf("the server read %d messages, want %d", n, delivered)
			}
		})
	}
}

// TestSyslogServerComesUp: messages wait (tried again with backoff) while
// the server is down and reach it, in order, once it listens.
func TestSyslogServerComesUp(t *testing.T) {
	tw := start(t, noThrottle)
	tid := tw.env[sim.EnvTenantID]
	d := tw.syslogPhone()
	addr := closedPort(t)
	must(tw.admin.SetSyslog(ctx, tid, adminapi.SyslogConfig{Enabled: true, Destination: addr}))
	ids := tw.detections(d.UESID, 3)
	testkit.EventuallyEvery(t, 5*time.Second, 5*time.Millisecond, "a failed try", func() (bool, string) {
		st := must(tw.admin.Syslog(ctx, tid))
		return st.LastError != "" && st.Queued == 3, fmt.Sprintf("%+v", st)
	})

	srv := newSyslogServer(t, addr, nil, adminapi.SyslogOctetCounting, 0)
	msgs := srv.waitMessages(t, 3)
	for i, id := range ids {
		if alertIDIn(msgs[i]) != id {
			t.Fatalf("message %d is %q, want alert %s", i, msgs[i], id)
		}
	}
	testkit.EventuallyEvery(t, 5*time.Second, 5*time.Millisecond, "3 delivered", func() (bool, string) {
		st := must(tw.admin.Syslog(ctx, tid))
		return st.Delivered == 3 && st.Queued == 0 && st.Undelivered == 0, fmt.Sprintf("%+v", st)
	})
}

// TestSyslogConnectionDropped: a server that drops the connection mid-stream
// loses nothing: every alert arrives at least once, over a new connection.
func TestSyslogConnectionDropped(t *testing.T) {
	tw := start(t, noThrottle)
	tw.srv.Syslog.SetRetryBackoff(time.Millisecond, 10*time.Millisecond)
	tid := tw.env[sim.EnvTenantID]
	d := tw.syslogPhone()
	srv := newSyslogServer(t, "127.0.0.1:0", nil, adminapi.SyslogNonTransparent, 3)
	must(tw.admin.SetSyslog(ctx, tid, adminapi.SyslogConfig{Enabled: true, Destination: srv.addr(), Framing: adminapi.SyslogNonTransparent}))
	ids := tw.detections(d.UESID, 20)

	testkit.EventuallyEvery(t, 10*time.Second, 5*time.Millisecond, "every alert at least once", func() (bool, string) {
		seen := map[string]bool{}
		for _, m := range srv.messages() {
			seen[alertIDIn(m)] = true
		}
		var missing []string
		for _, id := range ids {
			if !seen[id] {
				missing = append(missing, id)
			}
		}
		return len(missing) == 0, fmt.Sprintf("missing %v", missing)
	})
	if n := srv.connections(); n < 2 {
		t.Fatalf("%d connections: the first was dropped, the sender must have reconnected", n)
	}
	testkit.EventuallyEvery(t, 5*time.Second, 5*time.Millisecond, "20 delivered", func() (bool, string) {
		st := must(tw.admin.Syslog(ctx, tid))
		return st.Delivered == 20 && st.Queued == 0 && st.Undelivered == 0, fmt.Sprintf("%+v", st)
	})
}

// TestSyslogDisablesItself: after 400 undelivered messages the integration
// is disabled and sends nothing more; enabling it again (as in the console)
// clears that, keeps the counts and sends what was still queued.
func TestSyslogDisablesItself(t *testing.T) {
	tw := start(t, noThrottle)
	tw.srv.Syslog.SetRetryBackoff(time.Microsecond, time.Microsecond)
	tid := tw.env[sim.EnvTenantID]
	d := tw.syslogPhone()
	must(tw.admin.SetSyslog(ctx, tid, adminapi.SyslogConfig{Enabled: true, Destination: closedPort(t)}))
	ids := tw.detections(d.UESID, 405)

	var st adminapi.SyslogStatus
	testkit.EventuallyEvery(t, 60*time.Second, 10*time.Millisecond, "the integration disabled", func() (bool, string) {
		st = must(tw.admin.Syslog(ctx, tid))
		return st.Disabled, fmt.Sprintf("%+v", st)
	})
	if !st.Enabled || st.Undelivered != 400 || st.DeadLetters != 400 || st.Delivered != 0 || st.Queued != 5 ||
		!strings.Contains(st.DisabledReason, "400") {
		t.Fatalf("disabled status %+v", st)
	}
	dead := must(tw.admin.SyslogDeadLetters(ctx, tid))
	if len(dead) != 400 || alertIDIn(dead[0].Frame) != ids[0] || alertIDIn(dead[399].Frame) != ids[399] ||
		dead[0].Tries != 10 || !strings.Contains(dead[0].LastError, "refused") {
		t.Fatalf("%d dead letters, first %+v", len(dead), dead[0])
	}
	late := tw.detections(d.UESID, 1)
	if st := must(tw.admin.Syslog(ctx, tid)); st.Queued != 5 || st.Undelivered != 400 {
		t.Fatalf("a disabled integration took a message: %+v", st)
	}

	srv := newSyslogServer(t, "127.0.0.1:0", nil, adminapi.SyslogOctetCounting, 0)
	st = must(tw.admin.SetSyslog(ctx, tid, adminapi.SyslogConfig{Enabled: true, Destination: srv.addr()}))
	if st.Disabled || st.DisabledReason != "" || st.Undelivered != 400 || st.DeadLetters != 400 {
		t.Fatalf("re-enabled status %+v", st)
	}
	after := tw.detections(d.UESID, 1)
	msgs := srv.waitMessages(t, 6)
	var got []string
	for _, m := range msgs {
		got = append(got, alertIDIn(m))
	}
	if want := append(slices.Clone(ids[400:]), after...); !slices.Equal(got, want) || slices.Contains(got, late[0]) {
		t.Fatalf("after re-enabling got %v, want %v (never %s)", got, want, late[0])
	}
}

// TestSyslogQueueFull: a full queue dead-letters the message rather than
// holding up the world, and stopping the twin stops a sender waiting to try
// again.
func TestSyslogQueueFull(t *testing.T) {
	tw := start(t, noThrottle)
	tw.srv.Syslog.SetRetryBackoff(time.Hour, time.Hour)
	tw.srv.Syslog.SetQueueSize(2)
	tid := tw.env[sim.EnvTenantID]
	d := tw.syslogPhone()
	must(tw.admin.SetSyslog(ctx, tid, adminapi.SyslogConfig{Enabled: true, Destination: closedPort(t), Framing: adminapi.SyslogNonTransparent}))
	ids := tw.detections(d.UESID, 5)
	st := must(tw.admin.Syslog(ctx, tid))
	if st.Queued != 2 || st.Undelivered != 3 || st.DeadLetters != 3 {
		t.Fatalf("status %+v", st)
	}
	for i, dl := range must(tw.admin.SyslogDeadLetters(ctx, tid)) {
		if dl.Tries != 0 || !strings.HasSuffix(dl.Frame, "\n") || alertIDIn(dl.Frame) != ids[2+i] || !strings.Contains(dl.LastError, "queue full") {
			t.Fatalf("dead letter %d %+v", i, dl)
		}
	}
	began := time.Now()
	if err := tw.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(began); el > 3*time.Second {
		t.Fatalf("closing the twin took %v with a sender waiting an hour to try again", el)
	}
}

// TestSyslogConfig: bad configurations answer 400 and change nothing; the
// framing defaults to octet counting; turning the integration off stops
// sending and keeps the counts.
func TestSyslogConfig(t *testing.T) {
	tw := start(t, noThrottle)
	tid := tw.env[sim.EnvTenantID]
	d := tw.syslogPhone()
	url := tw.env[sim.EnvAdminURL] + "/tenants/" + tid + "/syslog"
	if st := must(tw.admin.Syslog(ctx, tid)); st.Enabled || st.Framing != adminapi.SyslogOctetCounting || st.Delivered != 0 {
		t.Fatalf("before any configuration %+v", st)
	}
	srv := newSyslogServer(t, "127.0.0.1:0", nil, adminapi.SyslogOctetCounting, 0)
	good := must(tw.admin.SetSyslog(ctx, tid, adminapi.SyslogConfig{Enabled: true, Destination: srv.addr()}))
	if good.Framing != adminapi.SyslogOctetCounting {
		t.Fatalf("default framing %q", good.Framing)
	}

	ca := string(must(simtls.New("127.0.0.1")).CAPEM)
	key := "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
	for name, body := range map[string]string{
		"no destination":         `{"enabled":true}`,
		"no port":                `{"enabled":true,"destination":"127.0.0.1"}`,
		"no host":                `{"enabled":true,"destination":":6514"}`,
		"port 0":                 `{"enabled":true,"destination":"127.0.0.1:0"}`,
		"port out of range":      `{"enabled":true,"destination":"127.0.0.1:70000"}`,
		"port not a number":      `{"enabled":true,"destination":"127.0.0.1:syslog"}`,
		"tls without caPEM":      `{"enabled":true,"destination":"127.0.0.1:6514","tls":true}`,
		"caPEM not PEM":          `{"enabled":true,"destination":"127.0.0.1:6514","tls":true,"caPEM":"not a certificate"}`,
		"caPEM a key":            fmt.Sprintf(`{"enabled":true,"destination":"127.0.0.1:6514","tls":true,"caPEM":%q}`, key),
		"caPEM broken":           `{"enabled":true,"destination":"127.0.0.1:6514","tls":true,"caPEM":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}`,
		"caPEM without tls":      fmt.Sprintf(`{"enabled":true,"destination":"127.0.0.1:6514","caPEM":%q}`, ca),
		"serverName without tls": `{"enabled":true,"destination":"127.0.0.1:6514","serverName":"syslog.test"}`,
		"unknown framing":        `{"enabled":true,"destination":"127.0.0.1:6514","framing":"rfc5425"}`,
		"unknown field":          `{"enabled":true,"destination":"127.0.0.1:6514","protocol":"udp"}`,
		"wrong type":             `{"enabled":"yes","destination":"127.0.0.1:6514"}`,
	} {
		if r := tw.call("PUT", url, "", body); r.status != 400 || r.str("error") == "" {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	if st := must(tw.admin.Syslog(ctx, tid)); st.SyslogConfig != good.SyslogConfig {
		t.Fatalf("a refused PUT changed the configuration: %+v", st.SyslogConfig)
	}
	var e *simclient.Error
	if _, err := tw.admin.SetSyslog(ctx, world.NewID(), good.SyslogConfig); !errors.As(err, &e) || e.Status != 404 {
		t.Fatalf("unknown tenant: %v", err)
	}

	first := tw.detections(d.UESID, 1)
	srv.waitMessages(t, 1)
	testkit.EventuallyEvery(t, 5*time.Second, 5*time.Millisecond, "1 delivered", func() (bool, string) {
		st := must(tw.admin.Syslog(ctx, tid))
		return st.Delivered == 1, fmt.Sprintf("%+v", st)
	})
	must(0, tw.admin.DisableSyslog(ctx, tid))
	st := must(tw.admin.Syslog(ctx, tid))
	if st.Enabled || st.Delivered != 1 || st.Destination != srv.addr() {
		t.Fatalf("after DELETE %+v", st)
	}
	off := tw.detections(d.UESID, 1)
	if st := must(tw.admin.Syslog(ctx, tid)); st.Queued != 0 || st.Undelivered != 0 {
		t.Fatalf("turned off, yet the message was taken: %+v", st)
	}
	// Messages go in order: had the one raised while off been sent, it would
	// arrive before the next.
	must(tw.admin.SetSyslog(ctx, tid, good.SyslogConfig))
	on := tw.detections(d.UESID, 1)
	msgs := srv.waitMessages(t, 2)
	if len(msgs) != 2 || alertIDIn(msgs[0]) != first[0] || alertIDIn(msgs[1]) != on[0] {
		t.Fatalf("messages %v, want %s then %s (never %s)", msgs, first[0], on[0], off[0])
	}
	if st := must(tw.admin.Syslog(ctx, tid)); !st.Enabled {
		t.Fatalf("re-enabled %+v", st)
	}
	must(0, tw.admin.Reset(ctx)) // the world's tenants are new: their integrations are off
	if st := must(tw.admin.Syslog(ctx, tid)); st.Enabled || st.Delivered != 0 {
		t.Fatalf("after reset %+v", st)
	}
}
