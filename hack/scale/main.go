// Command scale measures the product at a tenant's scale on the local stack: the
// operator binary as the chart's ServiceAccount, the twin on its documented surface
// alone (as a real tenant), 10,000 managed devices and a burst of 1,000 threats. It
// prints figures, and asserts nothing about time: a noisy machine changes the numbers,
// not the verdict.
//
//	make scale        (go run ./hack/scale)
//
// Figures:
//   - detection -> ThreatRemediation created, and -> its first step done, p50/p99/max,
//     measured from the moment the twin took each detection to the moment a watch saw
//     the object (and its first step's Succeeded record);
//   - Graph and UES calls per minute at rest with 1,000 open threats, per route, counted
//     by the twin;
//   - the operator's resident memory (VmRSS) and peak (VmHWM).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/scheme"
	"github.com/mtd-operator/mtd-operator/internal/sim"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/stack"
)

func main() {
	// controller-runtime's client logs errors only, without its "SetLogger" stack trace.
	ctrllog.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	devices := flag.Int("devices", 10000, "managed devices to enrol")
	threats := flag.Int("threats", 1000, "devices that get a high-risk detection at once")
	interval := flag.Duration("interval", 10*time.Second, "threat sync interval (the operator's --max-threat-sync-interval)")
	delay := flag.Duration("report-delay", 5*time.Second, "the twin's UES-to-Intune report delay")
	rest := flag.Duration("rest", 2*time.Minute, "how long to count calls at rest")
	workers := flag.Int("workers", 4, "the operator's --max-concurrent-reconciles")
	singles := flag.Int("singles", 0, "before the burst, this many single detections one after another, each timed to its first step (the single-alert latency)")
	syslogOn := flag.Bool("syslog", true, "UES sends Mobile Alerts to the connector's syslog listener (false: Intune's device risk alone)")
	enrollment := flag.String("enrollment", "", "how the Android devices are enrolled (the twin's enrollment: empty = device administrator, fullyManaged, workProfile, ...)")
	withApp := flag.Float64("with-app", 0, "share of the devices (0..1) with the Protect app installed before the operator starts; with an Android Enterprise -enrollment, the connector's inventory is timed")
	flag.Parse()
	ctx := context.Background()
	if err := run(ctx, *devices, *threats, *workers, *interval, *delay, *rest, *syslogOn, *singles, appOptions{*enrollment, *withApp}); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

// appOptions are the Protect app inventory figures' settings.
type appOptions struct {
	enrollment string
	withApp    float64
}

func run(ctx context.Context, nDevices, nThreats, workers int, interval, delay, rest time.Duration, syslogOn bool, nSingles int, app appOptions) error {
	st, err := stack.Start(ctx, stack.Options{Log: os.Stderr, ReportDelay: delay})
	if err != nil {
		return err
	}
	defer st.Close()
	tenant := st.Sim[sim.EnvTenantID]

	fmt.Fprintf(os.Stderr, "==> enrolling %d devices\n", nDevices)
	u, err := st.Admin.CreateUser(ctx, tenant, adminapi.User{UserPrincipalName: "scale@contoso.example"})
	if err != nil {
		return err
	}
	var phones []adminapi.DeviceView
	for left := nDevices; left > 0; left -= 1000 {
		created, err := st.Admin.CreateDevices(ctx, tenant, adminapi.Device{DeviceName: fmt.Sprintf("scale-%d", left), Platform: "Android", OSVersion: "14", UserID: u.ID, Count: min(left, 1000), Enrollment: app.enrollment})
		if err != nil {
			return err
		}
		phones = append(phones, created.Devices...)
	}
	if err := installApp(ctx, st, tenant, phones, app.withApp); err != nil {
		return err
	}
	// Production pacing but for the threat sync interval: the sample's 5 min resync,
	// the remediations' 1 min poll.
	op, err := st.StartOperator(ctx, "operator", "--max-threat-sync-interval", interval.String(), "--max-resync", "5m",
		"--remediation-poll-interval", "1m", "--log-level", "info", "--max-concurrent-reconciles", strconv.Itoa(workers))
	if err != nil {
		return err
	}
	if err := st.ApplySamples(ctx); err != nil {
		return err
	}
	if !syslogOn {
		if err := st.Admin.DisableSyslog(ctx, tenant); err != nil {
			return err
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", st.AdminKubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 200, 400
	kc, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		return err
	}
	applied := time.Now()
	if err := waitReady(ctx, kc); err != nil {
		return err
	}
	inventory, err := waitInventory(ctx, st, kc, applied, nDevices, app)
	if err != nil {
		return err
	}
	idle := rss(op.Pid())

	// Watch remediations before the burst, so that no event is missed.
	w, err := kc.Watch(ctx, &v1.ThreatRemediationList{}, client.InNamespace(stack.SamplesNamespace))
	if err != nil {
		return err
	}
	defer w.Stop()
	var mu sync.Mutex
	created, firstStep, sources := map[string]time.Time{}, map[string]time.Time{}, map[string]int{}
	go func() {
		for ev := range w.ResultChan() {
			tr, ok := ev.Object.(*v1.ThreatRemediation)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			dev, now := tr.Labels["mtd.operator.dev/intune-device"], time.Now()
			if dev == "" {
				continue // the sample's hand-made remediation
			}
			mu.Lock()
			if _, seen := created[dev]; !seen {
				created[dev] = now
				if tr.Spec.Threat != nil {
					sources[string(tr.Spec.Threat.Source)]++
				}
			}
			for _, rec := range tr.Status.Steps {
				if _, seen := firstStep[dev]; rec.Index == 0 && rec.State == v1.StepSucceeded && !seen {
					firstStep[dev] = now
				}
			}
			mu.Unlock()
		}
	}()

	var singleSteps []time.Duration
	if nSingles > 0 {
		fmt.Fprintf(os.Stderr, "==> %d single detections, one after another\n", nSingles)
		for _, ph := range phones[len(phones)-nSingles:] {
			at := time.Now()
			if _, err := st.Admin.Detect(ctx, tenant, ph.IntuneID, adminapi.Detection{Type: "maliciousApplication", Detail: "com.scale.single"}); err != nil {
				return err
			}
			dev := strings.ToLower(ph.IntuneID)
			for {
				mu.Lock()
				done, ok := firstStep[dev]
				mu.Unlock()
				if ok {
					singleSteps = append(singleSteps, done.Sub(at))
					break
				}
				if time.Since(at) > time.Minute {
					return fmt.Errorf("a single detection had no first step after a minute")
				}
				time.Sleep(5 * time.Millisecond) // the harness pacing its own polls
			}
		}
		mu.Lock()
		clear(created)
		clear(firstStep)
		clear(sources)
		mu.Unlock()
	}
	fmt.Fprintf(os.Stderr, "==> a burst of %d high-risk detections\n", nThreats)
	detected := map[string]time.Time{}
	var dmu sync.Mutex
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	var detectErr error
	for _, ph := range phones[:nThreats] {
		wg.Add(1)
		sem <- struct{}{}
		go func(ph adminapi.DeviceView) {
			defer func() { <-sem; wg.Done() }()
			_, err := st.Admin.Detect(ctx, tenant, ph.IntuneID, adminapi.Detection{Type: "maliciousApplication", Detail: "com.scale.trojan"})
			dmu.Lock()
			defer dmu.Unlock()
			if err != nil {
				detectErr = err
				return
			}
			detected[strings.ToLower(ph.IntuneID)] = time.Now()
		}(ph)
	}
	wg.Wait()
	if detectErr != nil {
		return detectErr
	}
	burst := time.Now()
	deadline := burst.Add(5 * time.Minute)
	for {
		mu.Lock()
		done := len(firstStep)
		mu.Unlock()
		if done >= nThreats {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after 5 minutes only %d of %d remediations have their first step done", done, nThreats)
		}
		time.Sleep(250 * time.Millisecond) // a harness pacing its own polls, not a test synchronising
	}
	afterBurst := rss(op.Pid())
	mu.Lock()
	toCreate, toStep := latencies(detected, created), latencies(detected, firstStep)
	mu.Unlock()

	fmt.Fprintf(os.Stderr, "==> counting calls at rest for %s with %d open threats\n", rest, nThreats)
	if err := st.Admin.ResetCalls(ctx); err != nil {
		return err
	}
	restStart := time.Now()
	time.Sleep(rest) // the measurement window itself
	calls, err := st.Admin.Calls(ctx)
	if err != nil {
		return err
	}
	minutes := time.Since(restStart).Minutes()
	atRest := rss(op.Pid())

	fmt.Printf("\nscale: %d managed devices, %d threats at once; threat sync interval %s, UES report delay %s, %d workers per controller\n", nDevices, nThreats, interval, delay, workers)
	if len(singleSteps) > 0 {
		fmt.Printf("single detections -> first step done:     %s\n", summary(singleSteps))
	}
	fmt.Printf("detection -> ThreatRemediation created:   %s\n", summary(toCreate))
	fmt.Printf("detection -> first step (notify) done:    %s\n", summary(toStep))
	fmt.Printf("opened from: %v (syslog on: %v)\n", sources, syslogOn)
	if syslogOn {
		fmt.Printf("target p99 <= 2s for a single alert over syslog\n")
	} else {
		fmt.Printf("target p99 <= interval + report delay + 2s = %s\n", interval+delay+2*time.Second)
	}
	fmt.Printf("calls per minute at rest (%d open threats, %.1f min):\n", nThreats, minutes)
	var routes []string
	var graph, ues float64
	for r, c := range calls {
		if c.Calls == 0 || strings.Contains(r, "/admin/") {
			continue
		}
		routes = append(routes, r)
		switch {
		case strings.Contains(r, " /v1.0/"):
			graph += float64(c.Calls)
		case strings.Contains(r, " /ues/"):
			ues += float64(c.Calls)
		}
	}
	sort.Strings(routes)
	for _, r := range routes {
		fmt.Printf("  %-70s %7.1f\n", r, float64(calls[r].Calls)/minutes)
	}
	fmt.Printf("  Graph total %.1f/min, UES total %.1f/min\n", graph/minutes, ues/minutes)
	fmt.Printf("operator memory: idle with %d devices %s; after the burst %s; at rest %s\n", nDevices, idle, afterBurst, atRest)
	if inventory != "" {
		fmt.Println(inventory)
	}
	return nil
}

// installApp installs the sample Protect app on the first share of the phones, 16 at a
// time, before the operator starts.
func installApp(ctx context.Context, st *stack.Stack, tenant string, phones []adminapi.DeviceView, share float64) error {
	n := int(share * float64(len(phones)))
	if n == 0 {
		return nil
	}
	fmt.Fprintf(os.Stderr, "==> installing the Protect app on %d devices\n", n)
	sem, errs := make(chan struct{}, 16), make(chan error, n)
	var wg sync.WaitGroup
	for _, ph := range phones[:n] {
		wg.Add(1)
		sem <- struct{}{}
		go func(id string) {
			defer func() { <-sem; wg.Done() }()
			if err := st.Admin.InstallApp(ctx, tenant, id, sim.DemoProtectAppID, sim.DemoProtectAppVersion); err != nil {
				errs <- err
			}
		}(ph.IntuneID)
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// waitInventory waits for the connector's first Protect app inventory of every device
// (the stack's demo seed adds a few, all with the app)
// and describes it: how long after the samples were applied, and the calls it took.
// Without an Android Enterprise enrollment there is nothing to time.
func waitInventory(ctx context.Context, st *stack.Stack, kc client.Client, applied time.Time, nDevices int, app appOptions) (string, error) {
	if app.enrollment == "" || app.enrollment == "deviceAdministrator" {
		return "", nil
	}
	want := int32(nDevices - int(app.withApp*float64(nDevices)))
	deadline := applied.Add(5 * time.Minute)
	for {
		var conn v1.MTDConnector
		if err := kc.Get(ctx, client.ObjectKey{Namespace: stack.SamplesNamespace, Name: "blackberry"}, &conn); err != nil {
			return "", err
		}
		for _, s := range conn.Status.ProtectApp {
			if s.Platform == v1.PlatformAndroidEnterprise && s.Devices >= int32(nDevices) && s.DevicesWithoutApp == want && s.InventoryTime != nil {
				calls, err := st.Admin.Calls(ctx)
				if err != nil {
					return "", err
				}
				return fmt.Sprintf("Protect app inventory: %d devices, %d without the app; done %s after the samples were applied (%s after the inventory's own read); calls so far: detectedApps %d, detectedApps/{id}/managedDevices %d",
					s.Devices, s.DevicesWithoutApp, s.InventoryTime.Sub(applied).Round(100*time.Millisecond), time.Since(s.InventoryTime.Time).Round(time.Second),
					calls["GET /v1.0/deviceManagement/detectedApps"].Calls, calls["GET /v1.0/deviceManagement/detectedApps/{id}/managedDevices"].Calls), nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no complete Protect app inventory of %d devices after 5 minutes", nDevices)
		}
		time.Sleep(250 * time.Millisecond) // a harness pacing its own polls
	}
}

func waitReady(ctx context.Context, kc client.Client) error {
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		var c v1.MTDConnector
		if err := kc.Get(ctx, client.ObjectKey{Namespace: stack.SamplesNamespace, Name: "blackberry"}, &c); err == nil {
			if s := c.Status.ThreatSync; s != nil && s.SnapshotDevices > 0 {
				fmt.Fprintf(os.Stderr, "==> connector Ready; first snapshot: %d devices\n", s.SnapshotDevices)
				return nil
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("the sample connector took no device snapshot within 3 minutes")
}

func latencies(from, to map[string]time.Time) []time.Duration {
	var out []time.Duration
	for dev, t0 := range from {
		if t1, ok := to[dev]; ok {
			out = append(out, t1.Sub(t0))
		}
	}
	slices.Sort(out)
	return out
}

func summary(d []time.Duration) string {
	if len(d) == 0 {
		return "no samples"
	}
	q := func(p float64) time.Duration {
		return d[min(len(d)-1, int(p*float64(len(d))))].Round(10 * time.Millisecond)
	}
	return fmt.Sprintf("n=%d p50 %s p99 %s max %s", len(d), q(0.50), q(0.99), d[len(d)-1].Round(10*time.Millisecond))
}

// rss reads the process's resident and peak memory from /proc.
func rss(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "unknown"
	}
	var cur, peak string
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			cur = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			peak = strings.TrimSpace(v)
		}
	}
	return fmt.Sprintf("RSS %s (peak %s)", cur, peak)
}
