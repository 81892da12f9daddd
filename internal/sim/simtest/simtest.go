// Package simtest starts the twin for a test binary and hands out what conformance
// and controller suites need of it: its settings, its admin client and its CA.
package simtest

import (
	"context"
	"os"

	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/simclient"
)

// Twin is a running twin.
type Twin struct {
	*sim.Server
	// Env holds the MTD_SIM_* settings.
	Env map[string]string
	// Admin drives the twin's world through its admin API.
	Admin *simclient.Client
	// CA is the PEM of the twin's CA, to trust.
	CA []byte
}

// Start starts the twin on 127.0.0.1 with o; Close it when done. UES serves
// the documented API only unless o.ModelledUES is set; o.ReportDelay delays
// UES's risk reports to Intune and o.ActionDelay devices' remoteLock, retire
// and wipe (world time).
func Start(ctx context.Context, o sim.Options) (*Twin, error) {
	srv, err := sim.Start(ctx, o)
	if err != nil {
		return nil, err
	}
	t := &Twin{Server: srv, Env: srv.Env()}
	if t.Admin, err = simclient.FromEnv(t.Env); err == nil {
		t.CA, err = os.ReadFile(t.Env[sim.EnvCAFile])
	}
	if err != nil {
		srv.Close()
		return nil, err
	}
	return t, nil
}
