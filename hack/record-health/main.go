// Command record-health records the fixtures of the Argo CD health checks in
// deploy/argocd: it starts the local stack (control plane built from source, the Helm
// chart, the twin, the operator as the chart's ServiceAccount), applies config/samples,
// drives each kind into each state the health checks tell apart (Ready, Reconciling,
// Stalled, suspended, not yet observed, and the remediation phases), and writes each
// object as the API server returned it, less managedFields and ids, into the kind's
// testdata/ with the expectation in its health_test.yaml.
//
//	go run ./hack/record-health
//
// The expected health is stated here, per scenario, from the operator's conditions;
// never by running health.lua, so that the test in deploy/argocd checks the scripts
// against an independent statement of what each state means.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/mtd-operator/mtd-operator/internal/stack"
	"github.com/mtd-operator/mtd-operator/internal/testenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := flag.String("out", filepath.Join(testenv.RepoRoot(), "deploy", "argocd", "resource_customizations", "mtd.operator.dev"),
		"the group's directory of resource customizations, one sub-directory per kind")
	flag.Parse()
	// The control plane's start logs through controller-runtime; nothing here reads it.
	ctrllog.SetLogger(logr.Discard())
	if err := run(ctx, *out); err != nil {
		fmt.Fprintln(os.Stderr, "record-health:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out string) error {
	st, err := stack.Start(ctx, stack.Options{Log: os.Stderr})
	if err != nil {
		return err
	}
	defer st.Close()
	op, err := st.StartOperator(ctx, "operator")
	if err != nil {
		return err
	}
	if err := st.ApplySamples(ctx); err != nil {
		return err
	}
	r := &recorder{ctx: ctx, st: st, operator: op}
	for _, step := range []func() error{r.ready, r.connectorStates, r.policyStates, r.remediationStates, r.suspended, r.unobserved} {
		if err := step(); err != nil {
			return err
		}
	}
	return r.write(out)
}
