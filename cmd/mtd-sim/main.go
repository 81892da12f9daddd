// Command mtd-sim runs the local twin of Entra login, Graph/Intune and
// BlackBerry UES on one HTTPS listener. See docs/sim.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/graph"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mtd-sim:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mtd-sim", flag.ContinueOnError)
	def := graph.DefaultLimits()
	var (
		o        sim.Options
		envFile  string
		throttle bool
		lim      = def
		access   bool
	)
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:0", "listen address (host:port; port 0 picks a free one)")
	fs.StringVar(&envFile, "write-env", "", "write MTD_SIM_* KEY=VALUE lines to this file once listening")
	fs.StringVar(&o.CADir, "ca-dir", "", "directory for ca.crt (default: a temporary directory removed on exit)")
	fs.BoolVar(&o.SeedDemo, "seed-demo", false, "seed a demo world: groups, users, Android and iOS devices in both clouds")
	fs.BoolVar(&o.NotOnboarded, "not-onboarded", false, "start without the BlackBerry MTD connector in the default tenant")
	fs.StringVar(&o.TenantID, "tenant-id", "", "default Entra tenant id (generated when empty)")
	fs.StringVar(&o.ClientID, "client-id", "", "default app client id (generated when empty)")
	fs.StringVar(&o.ClientSecret, "client-secret", "", "default app client secret (generated when empty)")
	fs.StringVar(&o.UESTenantID, "ues-tenant-id", "", "UES tenant id (generated when empty)")
	fs.StringVar(&o.UESAppID, "ues-app-id", "", "UES application id (generated when empty)")
	fs.StringVar(&o.UESAppSecret, "ues-app-secret", "", "UES application secret (generated when empty)")
	fs.BoolVar(&o.ModelledUES, "modelled-ues", false, "also serve the modelled UES mobile routes (/mobiledevices/v1, /mobilealerts/v1, /mobilepolicies/v1/riskassessment, /integrations/v1/intune), which a real tenant does not have")
	fs.DurationVar(&o.ReportDelay, "report-delay", 0, "world time a UES risk report takes to reach Intune (0 = at once)")
	fs.DurationVar(&o.ActionDelay, "action-delay", 0, "world time a device takes to check in and carry out a remoteLock, retire or wipe, shown pending until then (0 = at once)")
	fs.BoolVar(&access, "access-log", false, "log every request (method, path, status, duration) to stderr")
	fs.BoolVar(&throttle, "throttle", true, "enforce Intune's documented Graph throttling limits")
	fs.DurationVar(&lim.Window, "throttle-window", def.Window, "throttling window")
	fs.IntVar(&lim.ConfigWrites, "throttle-config-writes", def.ConfigWrites, "compliance policy writes per app per window")
	fs.IntVar(&lim.ConfigRequests, "throttle-config-requests", def.ConfigRequests, "compliance policy requests per app per window")
	fs.IntVar(&lim.DevicesWrites, "throttle-devices-writes", def.DevicesWrites, "managed device writes per app per window")
	fs.IntVar(&lim.DevicesRequests, "throttle-devices-requests", def.DevicesRequests, "managed device requests per app per window")
	fs.IntVar(&lim.TenantFactor, "throttle-tenant-factor", def.TenantFactor, "tenant-wide limit as a multiple of the per-app limit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	lim.Enabled = throttle
	o.Throttling = &lim
	if access {
		o.AccessLog = os.Stderr
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	s, err := sim.Start(ctx, o)
	if err != nil {
		return err
	}
	if envFile != "" {
		if err := s.WriteEnv(envFile); err != nil {
			s.Close()
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "mtd-sim listening on %s (CA %s, admin %s/admin)\n", s.URL, s.CAFile, s.URL)
	err = s.Wait()
	// Close is idempotent and returns only once cleanup (the generated CA
	// directory) is done, even if the signal already started it.
	s.Close()
	fmt.Fprintln(os.Stderr, "mtd-sim stopped", time.Now().UTC().Format(time.RFC3339))
	return err
}
