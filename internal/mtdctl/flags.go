package mtdctl

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mtd-operator/mtd-operator/internal/scheme"
)

// The plugin takes kubectl's own connection flags, implemented with client-go's
// clientcmd (the loading rules and overrides kubectl itself uses), so that a kubeconfig,
// a context or an impersonated user means what it means to kubectl. The standard
// library's flag package parses them: it needs no module the operator does not already
// build with. It stops at the first positional argument, so parse resumes after each
// one, as kubectl accepts flags on either side of NAME.

// options are the connection and scope flags every command takes.
type options struct {
	kubeconfig, context, namespace string
	allNamespaces                  bool
	as                             string
	asGroups                       stringList
	timeout                        time.Duration
}

// stringList is a repeatable string flag (--as-group).
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// newFlagSet declares the shared flags on a command's flag set.
func newFlagSet(name string, o *options, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&o.context, "context", "", "the kubeconfig context to use")
	fs.StringVar(&o.namespace, "namespace", "", "the namespace (default: the context's)")
	fs.StringVar(&o.namespace, "n", "", "shorthand for --namespace")
	fs.BoolVar(&o.allNamespaces, "all-namespaces", false, "every namespace")
	fs.BoolVar(&o.allNamespaces, "A", false, "shorthand for --all-namespaces")
	fs.StringVar(&o.as, "as", "", "username to impersonate for the operation")
	fs.Var(&o.asGroups, "as-group", "group to impersonate for the operation (repeatable)")
	fs.DurationVar(&o.timeout, "request-timeout", 30*time.Second, "how long the whole command may take")
	return fs
}

// parse parses args, flags and positional arguments mixed, and returns the positional
// ones in order.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// clientConfig is kubectl's view of the kubeconfig with the flags applied.
func (o *options) clientConfig() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.context}
	overrides.Context.Namespace = o.namespace
	overrides.AuthInfo.Impersonate = o.as
	overrides.AuthInfo.ImpersonateGroups = o.asGroups
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
}

// session is a connection to the cluster: the operator's client and scheme, and the
// namespace the flags and the kubeconfig select.
type session struct {
	client client.Client
	config *rest.Config
	// namespace is -n, or the context's namespace, or "default".
	namespace string
	// explicit says the namespace came from -n (not from the kubeconfig).
	explicit bool
	all      bool
}

func (o *options) connect(stderr io.Writer) (*session, error) {
	cc := o.clientConfig()
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	cfg.UserAgent = "kubectl-mtd/" + Version
	// The API server's warnings (a deprecated version, say) go to stderr as kubectl
	// prints them, not to controller-runtime's logger.
	cfg.WarningHandler = rest.NewWarningWriter(stderr, rest.WarningWriterOptions{Deduplicate: true})
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, fmt.Errorf("reading the namespace from the kubeconfig: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", cfg.Host, err)
	}
	return &session{client: c, config: cfg, namespace: ns, explicit: o.namespace != "", all: o.allNamespaces}, nil
}
