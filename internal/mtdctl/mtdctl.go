// Package mtdctl is the `kubectl mtd` plugin: the questions an on-call person asks of
// mtd-operator's objects, answered from the Kubernetes API alone. It reads
// MTDConnectors, DeviceRiskPolicies and ThreatRemediations with the operator's own
// client (controller-runtime over client-go) and API types, and writes one thing: an
// approver's decision, status.approval, through the status subresource, exactly as the
// chart's admission policies and the operator expect it. It never talks to Intune or
// UES (and so does not import internal/intune): what it says is what the operator last
// recorded.
package mtdctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// Version is the plugin's version, set by cmd/kubectl-mtd from its build stamp.
var Version = "dev"

// command is one subcommand.
type command struct {
	name, args, short string
	// run executes the command; extra declares its own flags on fs before parsing.
	run   func(r *runner, ctx context.Context, positional []string) error
	extra func(fs *flag.FlagSet, r *runner)
}

// runner carries one invocation's flags, output and clock.
type runner struct {
	opts    options
	out     io.Writer
	errOut  io.Writer
	now     time.Time
	session *session
	// message is the --message of approve and deny.
	message string
}

var commands = []command{
	{name: "status", short: "every connector: Ready, partner health, devices by risk, open threats, syslog, phones without the Protect app",
		run: (*runner).status},
	{name: "why", args: "DEVICE", short: "why a device is blocked: its risk, the compliance policy, the Conditional Access policy and the open remediation (DEVICE: name, Intune or Entra device id)",
		run: (*runner).why},
	{name: "approve", args: "NAME", short: "approve the plan of ThreatRemediation NAME (status.approval, written as you)",
		run: func(r *runner, ctx context.Context, p []string) error { return r.decide(ctx, p, decisionApproved) }, extra: messageFlag},
	{name: "deny", args: "NAME", short: "deny the plan of ThreatRemediation NAME: its gated steps are skipped",
		run: func(r *runner, ctx context.Context, p []string) error { return r.decide(ctx, p, decisionDenied) }, extra: messageFlag},
	{name: "version", short: "print the plugin's version",
		run: func(r *runner, _ context.Context, _ []string) error {
			_, err := fmt.Fprintln(r.out, "kubectl-mtd", Version)
			return err
		}},
}

func messageFlag(fs *flag.FlagSet, r *runner) {
	fs.StringVar(&r.message, "message", "", "the reason, recorded with the decision and repeated in the step records (a ticket number, say)")
	fs.StringVar(&r.message, "m", "", "shorthand for --message")
}

// exit codes: 0 done, 1 refused or failed, 2 misused.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// Main runs the plugin with args (without the program name) and returns its exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	name, rest := splitCommand(args)
	if name == "" || name == "help" || len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		usage(stdout)
		return exitOK
	}
	cmd := lookup(name)
	if cmd == nil {
		fmt.Fprintf(stderr, "error: unknown command %q\n\n", name)
		usage(stderr)
		return exitUsage
	}
	// A command-line tool has no log: what it has to say goes to stdout and stderr.
	// Without a logger controller-runtime would print a stack trace when anything logs.
	ctrllog.SetLogger(logr.Discard())
	r := &runner{out: stdout, errOut: stderr, now: time.Now()}
	fs := newFlagSet("kubectl mtd "+cmd.name, &r.opts, stderr)
	if cmd.extra != nil {
		cmd.extra(fs, r)
	}
	fs.Usage = func() { commandUsage(stderr, cmd, fs) }
	positional, err := parse(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage // flag has printed the error and the usage
	}
	if want := countArgs(cmd); len(positional) != want {
		fmt.Fprintf(stderr, "error: kubectl mtd %s takes %d argument(s) (%s), got %d\n", cmd.name, want, cmd.args, len(positional))
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.timeout)
	defer cancel()
	if cmd.name != "version" {
		if r.session, err = r.opts.connect(stderr); err != nil {
			fmt.Fprintln(stderr, "error:", err)
			return exitError
		}
	}
	if err := cmd.run(r, ctx, positional); err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return exitError
	}
	return exitOK
}

// valued are the flags that take a value as the next argument.
var valued = map[string]bool{"kubeconfig": true, "context": true, "n": true, "namespace": true, "as": true,
	"as-group": true, "request-timeout": true, "m": true, "message": true}

// splitCommand finds the command, the first argument that is neither a flag nor a
// flag's value, so that flags may come before it (kubectl mtd -n team-a why ...).
func splitCommand(args []string) (string, []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			return a, append(append([]string{}, args[:i]...), args[i+1:]...)
		}
		if name := strings.TrimLeft(a, "-"); !strings.Contains(name, "=") && valued[name] {
			i++ // skip its value
		}
	}
	return "", args
}

func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

func countArgs(c *command) int {
	if c.args == "" {
		return 0
	}
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "kubectl mtd: mtd-operator's objects, for the questions of a day on call.")
	fmt.Fprintln(w, "\nUsage: kubectl mtd COMMAND [ARGS] [flags]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-16s %s\n", c.name+" "+c.args, c.short)
	}
	fmt.Fprintln(w, "\nFlags (every command): --kubeconfig, --context, -n/--namespace, -A/--all-namespaces, --as, --as-group, --request-timeout.")
	fmt.Fprintln(w, "status and why look in every namespace unless -n is given; approve and deny act in the namespace (-n or the context's).")
	fmt.Fprintln(w, "Run 'kubectl mtd COMMAND -h' for a command's flags. Documentation: docs/kubectl-mtd.md.")
}

// commandUsage prints the flags kubectl's way: "-n, --namespace", shorthands folded
// into their long flag.
func commandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: kubectl mtd %s %s [flags]\n\n%s\n\nFlags:\n", c.name, c.args, c.short)
	short := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if long, ok := strings.CutPrefix(f.Usage, "shorthand for --"); ok {
			short[long] = f.Name
		}
	})
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, "shorthand for --") {
			return
		}
		name := "    --" + f.Name
		if s, ok := short[f.Name]; ok {
			name = "-" + s + ", --" + f.Name
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" {
			def = " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "  %-24s %s%s\n", name, f.Usage, def)
	})
}
