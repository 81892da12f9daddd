package mtdctl

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

// status prints one row per connector, then a line for each connector that is not
// Ready with the operator's message: the table says what is wrong, the line what to do.
func (r *runner) status(ctx context.Context, _ []string) error {
	w, err := r.read(ctx, false)
	if err != nil {
		return err
	}
	if len(w.connectors) == 0 {
		_, err := fmt.Fprintf(r.out, "No MTDConnectors found in %s.\n", w.scope)
		return err
	}
	tw := tabwriter.NewWriter(r.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tNAME\tREADY\tREASON\tPARTNER\tHEARTBEAT\tDEVICES\tSECURED\tLOW\tMEDIUM\tHIGH\tTHREATS\tSYSLOG\tWITHOUT APP")
	for i := range w.connectors {
		fmt.Fprintln(tw, strings.Join(r.statusRow(&w.connectors[i]), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for i := range w.connectors {
		c := &w.connectors[i]
		if st, reason, msg := ready(c.Status.Conditions); st != "True" && msg != "" {
			fmt.Fprintf(r.out, "\n%s/%s is not Ready (%s): %s\n", c.Namespace, c.Name, reason, msg)
		}
	}
	return nil
}

func (r *runner) statusRow(c *v1.MTDConnector) []string {
	st, reason, _ := ready(c.Status.Conditions)
	row := []string{c.Namespace, c.Name, st, reason, orDash(c.Status.PartnerState), r.ago(c.Status.LastHeartbeatTime)}
	if d := c.Status.Devices; d != nil {
		for _, n := range []int32{d.Total, d.Secured, d.Low, d.Medium, d.High} {
			row = append(row, strconv.Itoa(int(n)))
		}
	} else {
		row = append(row, "-", "-", "-", "-", "-") // no device snapshot yet
	}
	return append(row, strconv.Itoa(int(c.Status.ActiveThreats)), syslogState(c), withoutApp(c))
}

// syslogState is the listener's state, with its reason when that says more
// ("Listening(PlainTCP)", "Failed(PortInUse)"); "-" when the connector has no listener.
func syslogState(c *v1.MTDConnector) string {
	s := c.Status.Syslog
	if s == nil {
		if c.Spec.ThreatSync.Syslog != nil {
			return "Pending"
		}
		return "-"
	}
	if s.Reason == "" || s.Reason == string(s.State) {
		return string(s.State)
	}
	return string(s.State) + "(" + s.Reason + ")"
}

// withoutApp is, per declared platform, how many managed devices lack the Protect app
// out of how many: "iOS:1/5,AndroidEnterprise:0/7"; "-" when no app is declared.
func withoutApp(c *v1.MTDConnector) string {
	if len(c.Status.ProtectApp) == 0 {
		if c.Spec.ProtectApp != nil {
			return "Pending"
		}
		return "-"
	}
	var parts []string
	for _, p := range c.Status.ProtectApp {
		parts = append(parts, fmt.Sprintf("%s:%d/%d", p.Platform, p.DevicesWithoutApp, p.Devices))
	}
	return strings.Join(parts, ",")
}
