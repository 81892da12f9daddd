// Command manager is the mtd-operator: it reconciles MTDConnector, DeviceRiskPolicy and
// ThreatRemediation objects against Microsoft Graph (Intune, Conditional Access) and
// the BlackBerry UES API.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/controllers"
	"github.com/mtd-operator/mtd-operator/internal/credentials"
	"github.com/mtd-operator/mtd-operator/internal/scheme"
	"github.com/mtd-operator/mtd-operator/internal/syslog"
)

// version is stamped at build time (-ldflags "-X main.version=...").
var version = "dev"

// config is every setting of the manager. Each flag can also come from the
// environment as MTD_<FLAG> (upper case, dashes as underscores), e.g.
// MTD_LEADER_ELECT=true; a flag on the command line wins.
type config struct {
	metricsAddr, probeAddr   string
	metricsSecure            bool
	leaderElect              bool
	leaderElectionNamespace  string
	leaderElectionID         string
	watchNamespaces          string
	logLevel, logFormat      string
	showVersion              bool
	gracefulShutdown         time.Duration
	uesRequestsPer10s        int
	graphLimitMargin         time.Duration
	maxDestructivePerHour    int
	maxConcurrentReconciles  int
	defaultResync, maxResync time.Duration
	remediationRetention     time.Duration
	remediationPollInterval  time.Duration
	threatSyncMaxInterval    time.Duration
	allowedEndpointHosts     string
	workloadIdentityNS       string
	approvalExempt           string
	syslogPorts, syslogBind  string
	syslogPortNamespaces     string
	syslogRate               float64
	unreportedWindow         time.Duration
}

func parseFlags(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.StringVar(&c.metricsAddr, "metrics-bind-address", ":8443", "address of the metrics endpoint (HTTPS with authn/authz when --metrics-secure); 0 disables it")
	fs.BoolVar(&c.metricsSecure, "metrics-secure", true, "serve metrics over HTTPS, authenticated and authorised through the API server")
	fs.StringVar(&c.probeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	fs.BoolVar(&c.leaderElect, "leader-elect", false, "elect a leader, so that only one replica reconciles")
	fs.StringVar(&c.leaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election lease (default: the pod's namespace from POD_NAMESPACE)")
	fs.StringVar(&c.leaderElectionID, "leader-election-id", "mtd-operator.mtd.operator.dev", "name of the leader election lease")
	fs.StringVar(&c.watchNamespaces, "watch-namespaces", "", "comma-separated namespaces to watch; empty watches all")
	fs.DurationVar(&c.defaultResync, "default-resync", 5*time.Minute, "resync of objects whose connector sets no resyncInterval")
	fs.DurationVar(&c.maxResync, "max-resync", 0, "upper bound on every connector's resync interval (0: none); for demos and tests")
	fs.DurationVar(&c.threatSyncMaxInterval, "max-threat-sync-interval", 0, "upper bound on every connector's threat sync interval (0: none)")
	fs.StringVar(&c.allowedEndpointHosts, "allowed-endpoint-hosts", "", "comma-separated hosts (host or host:port) that connectors' endpoint overrides may name; empty: none (credentials go only to the clouds' own endpoints)")
	fs.StringVar(&c.workloadIdentityNS, "workload-identity-namespaces", "", "comma-separated namespaces whose connectors may use workloadIdentity, the operator's own Azure identity; empty: none")
	fs.IntVar(&c.maxConcurrentReconciles, "max-concurrent-reconciles", 4, "workers per controller")
	fs.IntVar(&c.maxDestructivePerHour, "max-destructive-actions-per-hour", 20, "ceiling on retire, wipe, remoteLock and ignoreAlert actions per connector per hour, over any connector's own guardrail")
	fs.StringVar(&c.syslogPortNamespaces, "syslog-port-namespaces", "", "syslog ports bound to one namespace each (\"6514=team-a,6515=team-b\"): only that namespace's connectors may use them; unlisted ports go to the oldest connector asking, from any namespace")
	fs.StringVar(&c.syslogPorts, "syslog-ports", "", "ports (\"6514\", \"6514-6520\", comma-separated) MTDConnectors' syslog listeners may use; empty: none, syslog is off")
	fs.StringVar(&c.syslogBind, "syslog-bind-address", "", "address the syslog listeners bind; empty: every interface")
	fs.DurationVar(&c.unreportedWindow, "unreported-threat-window", time.Hour, "how long after a syslog alert Intune may take to report the threat's risk; past it, a remediation Intune never saw resolves on Intune's secured and compliant")
	fs.Float64Var(&c.syslogRate, "syslog-messages-per-second", 500, "messages each syslog listener accepts per second per sender, with bursts of four times as many; more are dropped and counted (UES sends from few addresses, so allow for its bursts)")
	fs.StringVar(&c.approvalExempt, "approval-exempt-actions", "", "comma-separated actions that run without an approval: remoteLock and/or ignoreAlert (retire and wipe always need one); empty: none")
	fs.DurationVar(&c.remediationRetention, "remediation-retention", 7*24*time.Hour, "how long Resolved ThreatRemediations are kept (unless labelled mtd.operator.dev/keep=true)")
	fs.DurationVar(&c.remediationPollInterval, "remediation-poll-interval", time.Minute, "how often an open ThreatRemediation re-reads its device when no step is due sooner")
	fs.IntVar(&c.uesRequestsPer10s, "ues-requests-per-10s", 100, "UES calls per tenant per 10 s")
	fs.DurationVar(&c.graphLimitMargin, "graph-limit-margin", time.Second, "lengthens each documented Intune throttling window, absorbing network latency")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info or error")
	fs.StringVar(&c.logFormat, "log-format", "json", "log format: json or console")
	fs.DurationVar(&c.gracefulShutdown, "graceful-shutdown-timeout", 30*time.Second, "how long running reconciles may finish on shutdown")
	fs.BoolVar(&c.showVersion, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := fromEnv(fs); err != nil {
		return nil, err
	}
	return c, nil
}

// fromEnv sets every flag not given on the command line from MTD_<FLAG>.
func fromEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := "MTD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && !given[f.Name] && err == nil {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s: %w", env, serr)
			}
		}
	})
	return err
}

func logger(c *config) (zap.Opts, error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return func(o *zap.Options) {
		o.Level = lvl
		switch c.logFormat {
		case "console":
			o.Development = false
			zap.ConsoleEncoder()(o)
		default:
			zap.JSONEncoder()(o)
		}
	}, nil
}

func main() {
	c, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if c.showVersion {
		fmt.Println("mtd-operator", version)
		return
	}
	if c.logFormat != "json" && c.logFormat != "console" {
		fmt.Fprintln(os.Stderr, "--log-format must be json or console")
		os.Exit(2)
	}
	logOpts, err := logger(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctrl.SetLogger(zap.New(logOpts))
	if err := run(c); err != nil {
		ctrl.Log.Error(err, "the manager stopped")
		os.Exit(1)
	}
}

func run(c *config) error {
	log := ctrl.Log.WithName("setup")
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("no Kubernetes configuration (in-cluster, KUBECONFIG or ~/.kube/config): %w", err)
	}
	metrics := metricsserver.Options{BindAddress: c.metricsAddr, SecureServing: c.metricsSecure}
	if c.metricsSecure {
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	leNamespace := c.leaderElectionNamespace
	if leNamespace == "" {
		leNamespace = os.Getenv("POD_NAMESPACE")
	}
	var cacheOpts cache.Options
	if ns := splitList(c.watchNamespaces); len(ns) > 0 {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{}
		for _, n := range ns {
			cacheOpts.DefaultNamespaces[n] = cache.Config{}
		}
	}
	shutdown := c.gracefulShutdown
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme.New(),
		Metrics:                       metrics,
		HealthProbeBindAddress:        c.probeAddr,
		LeaderElection:                c.leaderElect,
		LeaderElectionID:              c.leaderElectionID,
		LeaderElectionNamespace:       leNamespace,
		LeaderElectionReleaseOnCancel: true,
		Cache:                         cacheOpts,
		GracefulShutdownTimeout:       &shutdown,
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	ctx := ctrl.SetupSignalHandler()
	exempt, err := approvalExempt(c.approvalExempt)
	if err != nil {
		return err
	}
	ports, err := controllers.ParsePorts(c.syslogPorts)
	if err != nil {
		return fmt.Errorf("--syslog-ports: %w", err)
	}
	reserved, err := controllers.ParsePortReservations(c.syslogPortNamespaces, ports)
	if err != nil {
		return fmt.Errorf("--syslog-port-namespaces: %w", err)
	}
	self, err := whoAmI(ctx, cfg)
	if err != nil {
		// Where admission cannot fill in the requester, the intake's remediations are
		// then refused with a clear error; nothing else depends on it.
		log.Error(err, "cannot learn the operator's own username; the remediations the intake opens name no requester")
	}
	opts := controllers.Options{
		DefaultResync:                c.defaultResync,
		MaxResync:                    c.maxResync,
		MaxThreatSyncInterval:        c.threatSyncMaxInterval,
		MaxConcurrentReconciles:      c.maxConcurrentReconciles,
		MaxDestructiveActionsPerHour: c.maxDestructivePerHour,
		RemediationRetention:         c.remediationRetention,
		RemediationPollInterval:      c.remediationPollInterval,
		UnreportedThreatWindow:       c.unreportedWindow,
		UESRequestsPer10s:            c.uesRequestsPer10s,
		GraphLimitMargin:             c.graphLimitMargin,
		Approvals:                    controllers.ApprovalGate{Exempt: exempt, Operator: self},
		SyslogPorts:                  ports,
		SyslogReserved:               reserved,
		SyslogBindHost:               c.syslogBind,
		SyslogLimits:                 syslog.Limits{MessagesPerSecond: c.syslogRate, Burst: int(4 * c.syslogRate)},
		Policy: credentials.Policy{
			EndpointHosts:              splitList(c.allowedEndpointHosts),
			WorkloadIdentityNamespaces: splitList(c.workloadIdentityNS),
		},
	}
	if err := controllers.SetupAll(ctx, mgr, opts); err != nil {
		return err
	}
	log.Info("starting", "version", version, "leaderElection", c.leaderElect, "watchNamespaces", c.watchNamespaces,
		"username", self, "approvalExemptActions", c.approvalExempt)
	return mgr.Start(ctx)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// approvalExempt parses --approval-exempt-actions: only the actions the gate allows to
// exempt, so that a typo cannot silently leave a wipe ungated.
func approvalExempt(s string) (map[v1.StepAction]bool, error) {
	out := map[v1.StepAction]bool{}
	for _, a := range splitList(s) {
		if !slices.Contains(controllers.Exemptible, v1.StepAction(a)) {
			return nil, fmt.Errorf("--approval-exempt-actions: %q cannot run without an approval (only %v may be exempted)", a, controllers.Exemptible)
		}
		out[v1.StepAction(a)] = true
	}
	return out, nil
}

// whoAmI asks the API server which username the operator's credentials carry
// (SelfSubjectReview, which every authenticated user may create).
func whoAmI(ctx context.Context, cfg *rest.Config) (string, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	r, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return r.Status.UserInfo.Username, nil
}
