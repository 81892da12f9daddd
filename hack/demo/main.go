// Command demo runs the product page's scenarios on a fresh machine and narrates them:
// it starts the local stack (control plane built from source, the Helm chart, the twin,
// the operator as the chart's ServiceAccount), applies config/samples, then shows what
// was detected, what Intune decided, what access a device has and what remediation did,
// with the kubectl tables a user would look at. It leaves everything running until
// Ctrl-C, or exits by itself with DEMO_EXIT=1, and cleans up after itself.
//
//	make demo        (go run ./hack/demo)
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/mtd-operator/mtd-operator/internal/mtdctl"
	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/stack"
)

const (
	exchange   = "00000002-0000-0ff1-ce00-000000000000"
	sharePoint = "00000003-0000-0ff1-ce00-000000000000"
	companyApp = "4e6d8c2a-3b5f-4a7e-9c1d-2f8b6a0e5d3c" // the sample policy's "Contoso Expenses"
)

type demo struct {
	ctx context.Context
	st  *stack.Stack
}

func main() {
	// The control plane's client (envtest) logs through controller-runtime: errors only,
	// to stderr, instead of its "SetLogger was never called" stack trace.
	ctrllog.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	start := time.Now()
	say("mtd-operator demo: BlackBerry Protect Mobile + Microsoft Intune, as code")
	st, err := stack.Start(ctx, stack.Options{Log: os.Stdout})
	if err != nil {
		return err
	}
	defer func() {
		say("cleaning up: stopping the operator, the twin and the control plane")
		st.Close()
	}()
	if _, err := st.StartOperator(ctx, "operator"); err != nil {
		return err
	}
	if err := st.ApplySamples(ctx); err != nil {
		return err
	}
	d := &demo{ctx: ctx, st: st}
	if err := d.waitReady(); err != nil {
		return err
	}
	if err := d.protectApp(); err != nil {
		return err
	}
	if err := d.maliciousApp(); err != nil {
		return err
	}
	if err := d.manInTheMiddle(); err != nil {
		return err
	}
	d.mtd("status")
	say("done in %s", time.Since(start).Round(time.Second))
	fmt.Printf(`
Everything is still running. Try it yourself (bin/ holds the kubectl and the kubectl mtd plugin built for this demo):
  export KUBECONFIG=%s PATH=$PWD/bin:$PATH
  kubectl mtd status
  kubectl mtd why alice-Android-1        # the malicious app: why was it blocked, and is it still?
  kubectl mtd why carol-iOS-1            # the phone that installed the Protect app last
  kubectl get mtdc,drp,tr -n %s -o wide
`, st.AdminKubeconfig, stack.SamplesNamespace)
	if os.Getenv("DEMO_EXIT") == "1" {
		return nil
	}
	fmt.Println("Press Ctrl-C to stop and clean up.")
	<-ctx.Done()
	return nil
}

func say(format string, args ...any) {
	fmt.Printf("\n### "+format+"\n", args...)
}

// mtd runs the kubectl mtd plugin (in process, the same code as bin/kubectl-mtd)
// against the stack, as a user would.
func (d *demo) mtd(args ...string) {
	fmt.Printf("$ kubectl mtd %s\n", strings.Join(args, " "))
	var out strings.Builder
	mtdctl.Main(append(args, "--kubeconfig", d.st.AdminKubeconfig), &out, &out)
	for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		fmt.Println("    " + line)
	}
}

func (d *demo) show(args ...string) {
	out, err := d.st.Kubectl(d.ctx, args...)
	fmt.Printf("$ kubectl %s\n", strings.Join(args, " "))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(out)
}

// wait polls cond for up to two minutes.
func (d *demo) wait(what string, cond func() bool) error {
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out waiting for %s", what)
		}
		select {
		case <-d.ctx.Done():
			return d.ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil
}

func (d *demo) jsonpath(kind, name, path string) string {
	out, _ := d.st.Kubectl(d.ctx, "get", kind, name, "-n", stack.SamplesNamespace, "-o", "jsonpath="+path)
	return out
}

func (d *demo) waitReady() error {
	say("the operator configures Intune's BlackBerry connector and the compliance and Conditional Access policies")
	for _, obj := range [][2]string{{"mtdconnector", "blackberry"}, {"deviceriskpolicy", "mobile-threat-level"}} {
		if err := d.wait(obj[0]+" Ready", func() bool {
			return d.jsonpath(obj[0], obj[1], `{.status.conditions[?(@.type=="Ready")].status}`) == "True"
		}); err != nil {
			d.show("get", obj[0], obj[1], "-n", stack.SamplesNamespace, "-o", "yaml")
			return err
		}
	}
	d.show("get", "mtdconnectors,deviceriskpolicies", "-n", stack.SamplesNamespace, "-o", "wide")
	return nil
}

// protectApp shows the first of the product page's steps: the BlackBerry Protect app on
// every phone, and the phone that lacks it, until it installs it.
func (d *demo) protectApp() error {
	say("the operator deploys the BlackBerry Protect app and finds the phones without it")
	lines := `{range .status.protectApp[*]}    {.platform}: {.devicesWithoutApp} of {.devices} managed devices without the app {.withoutApp}{"\n"}{end}`
	without := func() string { return d.jsonpath("mtdconnector", "blackberry", lines) }
	if err := d.wait("the Protect app inventory", func() bool {
		return d.jsonpath("mtdconnector", "blackberry", `{.status.conditions[?(@.type=="ProtectAppReady")].status}`) == "True" &&
			strings.Contains(without(), sim.DemoPhoneWithoutProtect)
	}); err != nil {
		d.show("get", "mtdconnector", "blackberry", "-n", stack.SamplesNamespace, "-o", "yaml")
		return err
	}
	fmt.Printf("    iOS: the App Store app, created in Intune and required for the policy's groups; Android: the Managed Google Play app, found and assigned\n")
	fmt.Print(without())
	dev, upn, err := d.device(sim.DemoPhoneWithoutProtect)
	if err != nil {
		return err
	}
	fmt.Printf("\n    %s (%s) installs the app from the Company Portal\n", dev.DeviceName, upn)
	if err := d.st.Admin.InstallApp(d.ctx, d.st.Sim[sim.EnvTenantID], dev.IntuneID, sim.DemoProtectAppID, sim.DemoProtectAppVersion); err != nil {
		return err
	}
	installed := time.Now()
	if err := d.wait("the count to drop", func() bool { return !strings.Contains(without(), sim.DemoPhoneWithoutProtect) }); err != nil {
		return err
	}
	fmt.Printf("    %s later, at the connector's next inventory:\n", since(installed))
	fmt.Print(without())
	return nil
}

// device finds a seeded device by name, with its user's principal name.
func (d *demo) device(name string) (adminapi.DeviceView, string, error) {
	snap, err := d.st.Admin.Snapshot(d.ctx)
	if err != nil {
		return adminapi.DeviceView{}, "", err
	}
	for _, t := range snap.Tenants {
		for _, dev := range t.Devices {
			if dev.DeviceName != name {
				continue
			}
			for _, u := range t.Users {
				if u.ID == dev.UserID {
					return dev, u.UserPrincipalName, nil
				}
			}
			return dev, dev.UserID, nil
		}
	}
	return adminapi.DeviceView{}, "", fmt.Errorf("no device %s", name)
}

// remediationOf is the name of the device's open ThreatRemediation, or "".
func (d *demo) remediationOf(dev adminapi.DeviceView) string {
	out, _ := d.st.Kubectl(d.ctx, "get", "threatremediations", "-n", stack.SamplesNamespace,
		"-l", "mtd.operator.dev/intune-device="+strings.ToLower(dev.IntuneID), "-o", `jsonpath={.items[?(@.status.phase!="Resolved")].metadata.name}`)
	return strings.TrimSpace(out)
}

func (d *demo) allowed(dev adminapi.DeviceView, app string) bool {
	res, err := d.st.Admin.AppAccess(d.ctx, d.st.Sim[sim.EnvTenantID], adminapi.AppAccess{Device: dev.EntraID, User: dev.UserID, App: app})
	return err == nil && res.Allowed
}

func since(t time.Time) string { return time.Since(t).Round(100 * time.Millisecond).String() }

// app is a cloud app whose access the demo checks.
type app struct{ id, label string }

// report prints Intune's verdict and the device's access.
func (d *demo) report(dev adminapi.DeviceView, apps []app, wifi bool) {
	tenant := d.st.Sim[sim.EnvTenantID]
	if v, err := d.st.Admin.Device(d.ctx, tenant, dev.EntraID); err == nil {
		fmt.Printf("    Intune: %s is %s (partner reports %s)\n", dev.DeviceName, v.Compliance.State, v.Compliance.ThreatState)
	}
	for _, a := range apps {
		res, err := d.st.Admin.AppAccess(d.ctx, tenant, adminapi.AppAccess{Device: dev.EntraID, User: dev.UserID, App: a.id})
		if err != nil {
			fmt.Println("   ", err)
			continue
		}
		fmt.Printf("    %-32s %s\n", a.label+":", verdict(res.Allowed, res.Reason))
	}
	if wifi {
		res, err := d.st.Admin.NetworkAccess(d.ctx, tenant, adminapi.NetworkAccess{Device: dev.EntraID})
		if err == nil {
			fmt.Printf("    %-32s %s\n", "corporate Wi-Fi (NAC):", verdict(res.Allowed, res.Reason))
		}
	}
}

func verdict(ok bool, reason string) string {
	if ok {
		return "ALLOWED"
	}
	return "BLOCKED (" + reason + ")"
}

// scenario runs one detection → block → remediation → access story.
func (d *demo) scenario(deviceName, detection, detail string, apps []app, wifi bool) error {
	tenant := d.st.Sim[sim.EnvTenantID]
	dev, upn, err := d.device(deviceName)
	if err != nil {
		return err
	}
	// Intune blocks a device until the partner's first report (the sample connector sets
	// *DeviceBlockedOnMissingPartnerData); UES sends it one report delay after the
	// platform is connected.
	if err := d.wait("UES's first report on "+dev.DeviceName, func() bool { return d.allowed(dev, apps[0].id) }); err != nil {
		return err
	}
	fmt.Printf("    before: %s (%s %s) belongs to %s\n", dev.DeviceName, dev.Platform, dev.OSVersion, upn)
	d.report(dev, apps, wifi)
	detected := time.Now()
	alert, err := d.st.Admin.Detect(d.ctx, tenant, dev.EntraID, adminapi.Detection{Type: detection, Detail: detail})
	if err != nil {
		return err
	}
	fmt.Printf("\n    UES detected %s on %s: %s (alert %s)\n", detection, dev.DeviceName, detail, alert.ID)
	fmt.Printf("    UES sends it at once to the connector's syslog listener (Mobile Alerts over TLS), and reports the device's\n")
	fmt.Printf("    risk to Intune periodically (the twin: after %s)\n", d.st.ReportDelay)
	var name string
	if err := d.wait("the ThreatRemediation", func() bool {
		name = d.remediationOf(dev)
		return name != ""
	}); err != nil {
		return err
	}
	source := d.jsonpath("threatremediation", name, "{.spec.threat.source}")
	fmt.Printf("\n    %s after the detection, a ThreatRemediation is open; the first feed to see the threat: %s\n", since(detected), source)
	if source == "UESSyslog" {
		fmt.Println("    (syslog says what the threat is; the sample policy declares its type high, so the plan starts before Intune knows)")
	}
	d.show("get", "threatremediation", name, "-n", stack.SamplesNamespace, "-o", "wide")
	if err := d.wait("Intune to block the device", func() bool { return !d.allowed(dev, apps[0].id) }); err != nil {
		return err
	}
	fmt.Printf("\n    %s after the detection, Intune has BlackBerry's report: the device is non-compliant and Conditional Access blocks it\n", since(detected))
	d.report(dev, apps, wifi)
	// The on-call question, answered from the objects alone once the remediation has
	// seen the device non-compliant.
	if err := d.wait("the remediation to see the device blocked", func() bool {
		return d.jsonpath("threatremediation", name, "{.status.complianceState}") == "noncompliant"
	}); err != nil {
		return err
	}
	fmt.Println()
	d.mtd("why", dev.DeviceName)
	fmt.Printf("\n    the user follows the BlackBerry Protect app's guidance and removes the threat\n")
	fixed := time.Now()
	if _, err := d.st.Admin.Remediate(d.ctx, tenant, dev.EntraID, detection); err != nil {
		return err
	}
	if err := d.wait("access to return", func() bool { return d.allowed(dev, apps[0].id) }); err != nil {
		return err
	}
	fmt.Printf("    %s later UES has reported the device secured, and access returns:\n", since(fixed))
	d.report(dev, apps, wifi)
	if err := d.wait("Resolved", func() bool { return d.jsonpath("threatremediation", name, "{.status.phase}") == "Resolved" }); err != nil {
		return err
	}
	fmt.Println("\n    the remediation is resolved; its status is the audit trail:")
	d.show("get", "threatremediation", name, "-n", stack.SamplesNamespace, "-o", "wide")
	fmt.Printf("    steps: %s\n", d.jsonpath("threatremediation", name, `{range .status.steps[*]}{.action}={.state} {end}`))
	fmt.Printf("    time to resolve: %s\n", d.jsonpath("threatremediation", name, "{.status.timeToResolve}"))
	return nil
}

func (d *demo) maliciousApp() error {
	say("scenario 1: a malicious app blocks e-mail, OneDrive and company apps until it is removed")
	return d.scenario("alice-Android-1", "maliciousApplication", "com.flashlight.free (Trojan)",
		[]app{{exchange, "Exchange Online (e-mail)"}, {sharePoint, "SharePoint / OneDrive"}, {companyApp, "company app (Contoso Expenses)"}}, false)
}

func (d *demo) manInTheMiddle() error {
	say("scenario 2: a man-in-the-middle network blocks the corporate Wi-Fi and SharePoint until the user leaves it")
	return d.scenario("erin-iOS-1", "manInTheMiddle", "rogue access point \"CorpGuest\"",
		[]app{{sharePoint, "SharePoint / OneDrive"}}, true)
}
