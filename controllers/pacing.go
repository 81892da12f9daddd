package controllers

import (
	"math/rand/v2"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"

	"github.com/mtd-operator/mtd-operator/internal/outbound"
)

const (
	// terminalRecheck is how long a terminal error waits before a quiet re-check, in case
	// it was fixed outside Kubernetes (a permission granted in Entra, a partner onboarded).
	// Spec and Secret changes re-reconcile at once through watches.
	terminalRecheck = time.Hour
	// minThrottleWait keeps a Retry-After of 0 from becoming a hot loop.
	minThrottleWait = time.Second
)

// resyncInterval is how often objects of conn re-read the clouds: the connector's
// spec.resyncInterval, else the manager's default, capped by maxResync (0: no cap).
// A nil conn (not yet found) uses the default.
func resyncInterval(conn *v1.MTDConnector, def, maxResync time.Duration) time.Duration {
	d := conn.ResyncInterval(def)
	if maxResync > 0 {
		d = min(d, maxResync)
	}
	return d
}

// jitter spreads resyncs by up to ±10% so many objects do not hit a tenant together.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	spread := int64(d) / 5
	return d - time.Duration(spread/2) + time.Duration(rand.Int64N(spread+1))
}

// requeueFor paces a reconcile that ended on err: throttling waits out Retry-After;
// terminal errors wait for a change (or a slow re-check); anything else goes back to
// controller-runtime's exponential backoff by returning the error.
func requeueFor(err error) (ctrl.Result, error) {
	switch {
	case err == nil:
		return ctrl.Result{}, nil
	case outbound.IsThrottled(err):
		return ctrl.Result{RequeueAfter: max(outbound.RetryAfterOf(err), minThrottleWait)}, nil
	case outbound.IsTerminal(err):
		return ctrl.Result{RequeueAfter: terminalRecheck}, nil
	case outbound.IsNotFound(err):
		return ctrl.Result{RequeueAfter: terminalRecheck}, nil
	default:
		return ctrl.Result{}, err
	}
}

// reasonFor names an outbound error for a condition.
func reasonFor(err error) string {
	switch outbound.KindOf(err) {
	case outbound.Unauthorized:
		return "AuthenticationFailed"
	case outbound.Forbidden:
		return "Forbidden"
	case outbound.Throttled:
		return "Throttled"
	case outbound.NotFound:
		return "NotFound"
	case outbound.Conflict:
		return "Conflict"
	case outbound.Terminal:
		return "Rejected"
	default:
		return "Unavailable"
	}
}
