// Package sim wires the twin together: one world, one HTTPS listener with a
// generated CA, and the Entra (root), Graph (/v1.0, /beta), UES (/ues) and admin
// (/admin) services routed by path.
package sim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/sim/admin"
	"github.com/mtd-operator/mtd-operator/internal/sim/entra"
	"github.com/mtd-operator/mtd-operator/internal/sim/graph"
	"github.com/mtd-operator/mtd-operator/internal/sim/mw"
	"github.com/mtd-operator/mtd-operator/internal/sim/siem"
	"github.com/mtd-operator/mtd-operator/internal/sim/simtls"
	"github.com/mtd-operator/mtd-operator/internal/sim/ues"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// Options configure the twin. Empty ids and secrets are generated.
type Options struct {
	Addr  string // listen address; default 127.0.0.1:0
	CADir string // where ca.crt is written; default a fresh temp dir removed on Close

	TenantID, ClientID, ClientSecret    string
	UESTenantID, UESAppID, UESAppSecret string

	AccessLog io.Writer // one line per request when set

	SeedDemo     bool          // add the demo groups, users and devices
	NotOnboarded bool          // start without the BlackBerry connector in the default tenant
	Throttling   *graph.Limits // nil = the documented Intune limits, enabled

	// ModelledUES serves the modelled UES mobile routes (/mobiledevices/v1,
	// /mobilealerts/v1, /mobilepolicies/v1/riskassessment,
	// /integrations/v1/intune) and grants their scopes. Off (the default),
	// UES is the documented API only, as a real tenant: those routes answer
	// 404 as any unknown route.
	ModelledUES bool
	// ReportDelay is how long after a risk change UES's report reaches
	// Intune (world time). 0 = at once.
	ReportDelay time.Duration
	// ActionDelay is how long after a remoteLock, retire or wipe the device
	// checks in and carries it out (world time); until then Graph shows the
	// action pending. 0 = at once. syncDevice is never delayed.
	ActionDelay time.Duration
}

// Server is a running twin.
type Server struct {
	URL    string // https://127.0.0.1:PORT
	CAFile string

	World    *world.World
	Stats    *mw.Stats
	Faults   *mw.Faults
	Throttle *graph.Throttler
	PKI      *simtls.PKI
	// Syslog sends each UES tenant's Mobile Alerts events to its configured
	// syslog server (admin PUT /tenants/{tid}/syslog); tests shorten its
	// retry backoff.
	Syslog *siem.Hub

	opts      Options
	srv       *http.Server
	done      chan error
	tempDir   string
	active    atomic.Int64 // requests being served, for a graceful Close
	closeOnce sync.Once
	closeErr  error
}

// Env keys written by --write-env.
const (
	EnvAuthorityURL = "MTD_SIM_AUTHORITY_URL"
	EnvGraphURL     = "MTD_SIM_GRAPH_URL"
	EnvUESURL       = "MTD_SIM_UES_URL"
	EnvAdminURL     = "MTD_SIM_ADMIN_URL"
	EnvCAFile       = "MTD_SIM_CA_FILE"
	EnvTenantID     = "MTD_SIM_TENANT_ID"
	EnvClientID     = "MTD_SIM_CLIENT_ID"
	EnvClientSecret = "MTD_SIM_CLIENT_SECRET"
	EnvUESTenantID  = "MTD_SIM_UES_TENANT_ID"
	EnvUESAppID     = "MTD_SIM_UES_APP_ID"
	EnvUESAppSecret = "MTD_SIM_UES_APP_SECRET"
	// EnvUESModelled is "true" when the modelled UES mobile routes are
	// served (Options.ModelledUES, --modelled-ues), else "false".
	EnvUESModelled = "MTD_SIM_UES_MODELLED"
)

// EnvKeys lists the keys in the order they are written.
var EnvKeys = []string{EnvAuthorityURL, EnvGraphURL, EnvUESURL, EnvAdminURL, EnvCAFile, EnvTenantID,
	EnvClientID, EnvClientSecret, EnvUESTenantID, EnvUESAppID, EnvUESAppSecret, EnvUESModelled}

// Start listens, generates the PKI, seeds the world and serves until ctx
// ends or Close is called.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	for _, p := range []*string{&o.TenantID, &o.ClientID, &o.UESTenantID, &o.UESAppID} {
		if *p == "" {
			*p = world.NewID()
		}
	}
	if o.ClientSecret == "" {
		o.ClientSecret = "sim~" + strings.ReplaceAll(world.NewID(), "-", "")
	}
	if o.UESAppSecret == "" {
		o.UESAppSecret = strings.ReplaceAll(world.NewID()+world.NewID(), "-", "")
	}
	limits := graph.DefaultLimits()
	if o.Throttling != nil {
		limits = *o.Throttling
	}

	if o.ReportDelay < 0 {
		return nil, fmt.Errorf("sim: negative ReportDelay %v", o.ReportDelay)
	}
	if o.ActionDelay < 0 {
		return nil, fmt.Errorf("sim: negative ActionDelay %v", o.ActionDelay)
	}
	s := &Server{World: world.New(), Stats: mw.NewStats(), Faults: mw.NewFaults(), Syslog: siem.NewHub(), opts: o, done: make(chan error, 1)}
	s.World.SetAlertHook(s.Syslog.Alert)
	s.World.SetReportDelay(o.ReportDelay)
	s.World.SetActionDelay(o.ActionDelay)
	if err := s.World.Reset(s.seed); err != nil {
		return nil, err
	}
	pki, err := simtls.New("127.0.0.1", "localhost", "::1")
	if err != nil {
		return nil, err
	}
	s.PKI = pki
	dir := o.CADir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "mtd-sim-"); err != nil {
			return nil, err
		}
		s.tempDir = dir
	}
	s.CAFile = filepath.Join(dir, "ca.crt")
	if err := pki.WriteCA(s.CAFile); err != nil {
		return nil, err
	}

	tokens, err := entra.New(s.World)
	if err != nil {
		return nil, err
	}
	g := graph.New(s.World, tokens, limits)
	s.Throttle = g.Throttle
	entraMux := mw.NewMux(s.Stats, s.Faults, entra.ErrorWriter)
	tokens.Register(entraMux)
	graphMux := mw.NewMux(s.Stats, s.Faults, graph.WriteError)
	g.Register(graphMux)
	uesMux := mw.NewMux(s.Stats, s.Faults, ues.WriteError)
	u := ues.New(s.World)
	u.Modelled = o.ModelledUES
	u.Register(uesMux)
	adminMux := mw.NewMux(s.Stats, s.Faults, admin.WriteError)
	(&admin.Service{World: s.World, Stats: s.Stats, Faults: s.Faults, Throttle: g.Throttle, Syslog: s.Syslog, Seed: s.seed, Env: s.Env}).Register(adminMux)

	if o.AccessLog != nil {
		l := log.New(o.AccessLog, "mtd-sim ", log.LstdFlags|log.Lmicroseconds|log.LUTC)
		for _, m := range []*mw.Mux{entraMux, graphMux, uesMux, adminMux} {
			m.Log = l
		}
	}

	// One listener; the first path segment picks the service. Entra's
	// /{tenant}/... routes take the rest (a tenant is a GUID, no clash).
	root := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.active.Add(1)
		defer s.active.Add(-1)
		p := r.URL.Path
		switch {
		case p == graph.Prefix || strings.HasPrefix(p, graph.Prefix+"/") || p == graph.BetaPrefix || strings.HasPrefix(p, graph.BetaPrefix+"/"):
			graphMux.ServeHTTP(w, r)
		case p == ues.Prefix || strings.HasPrefix(p, ues.Prefix+"/"):
			uesMux.ServeHTTP(w, r)
		case p == admin.Prefix || strings.HasPrefix(p, admin.Prefix+"/"):
			adminMux.ServeHTTP(w, r)
		default:
			entraMux.ServeHTTP(w, r)
		}
	})

	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, err
	}
	s.URL = "https://" + ln.Addr().String()
	s.srv = &http.Server{Handler: root, TLSConfig: pki.ServerConfig(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: nil}
	go func() {
		err := s.srv.Serve(tls.NewListener(ln, s.srv.TLSConfig))
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	go func() {
		<-ctx.Done()
		s.Close()
	}()
	return s, nil
}

// seed builds the initial world; reset runs it again.
func (s *Server) seed(st *world.State) error {
	o := s.opts
	t, err := st.AddTenant(o.TenantID, "Contoso (mtd-sim)", o.UESTenantID)
	if err != nil {
		return err
	}
	if _, err := st.AddApp(t, world.App{ClientID: o.ClientID, DisplayName: "mtd-operator", Secret: o.ClientSecret,
		Roles: world.OperatorRoles}); err != nil {
		return err
	}
	if _, err := st.AddUESApp(t, world.UESApp{ID: o.UESAppID, Name: "mtd-operator", Secret: o.UESAppSecret}); err != nil {
		return err
	}
	if !o.NotOnboarded {
		if _, err := st.Onboard(t, world.BlackBerryConnectorID); err != nil {
			return err
		}
	}
	if o.SeedDemo {
		return seedDemo(st, t)
	}
	return nil
}

// Env returns the MTD_SIM_* variables for this server.
func (s *Server) Env() map[string]string {
	o := s.opts
	return map[string]string{
		EnvAuthorityURL: s.URL + "/",
		EnvGraphURL:     s.URL + graph.Prefix,
		EnvUESURL:       s.URL + ues.Prefix,
		EnvAdminURL:     s.URL + admin.Prefix,
		EnvCAFile:       s.CAFile,
		EnvTenantID:     o.TenantID,
		EnvClientID:     o.ClientID,
		EnvClientSecret: o.ClientSecret,
		EnvUESTenantID:  o.UESTenantID,
		EnvUESAppID:     o.UESAppID,
		EnvUESAppSecret: o.UESAppSecret,
		EnvUESModelled:  strconv.FormatBool(o.ModelledUES),
	}
}

// WriteEnv writes the environment as KEY=VALUE lines. It writes a temporary
// file and renames it, so a script polling for the file never reads half.
func (s *Server) WriteEnv(path string) error {
	env := s.Env()
	var b strings.Builder
	for _, k := range EnvKeys {
		fmt.Fprintf(&b, "%s=%s\n", k, env[k])
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// TLSConfig is a client TLS configuration trusting only the twin's CA.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.PKI.Pool(), MinVersion: tls.VersionTLS12}
}

// Client is an HTTP client trusting the twin's CA.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: s.TLSConfig(), ForceAttemptHTTP2: true,
		MaxIdleConnsPerHost: 64}, Timeout: 60 * time.Second}
}

// Close stops the server: it lets requests in flight finish (up to 5 s),
// then closes every connection, stops the syslog senders (dropping what they
// had queued) and removes a generated CA directory. It is safe to call more
// than once. (http.Server.Shutdown alone would wait 5 s
// for connections a client dialled but never used.)
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.srv.SetKeepAlivesEnabled(false)
		for deadline := time.Now().Add(5 * time.Second); s.active.Load() > 0 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		s.closeErr = s.srv.Close()
		s.Syslog.Close() // after the listener: no request can configure a sender any more
		if s.tempDir != "" {
			_ = os.RemoveAll(s.tempDir)
		}
	})
	return s.closeErr
}

// Wait blocks until the server has stopped and returns its serve error.
func (s *Server) Wait() error { return <-s.done }
