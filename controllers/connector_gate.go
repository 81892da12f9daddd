package controllers

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/credentials"
)

// connectorUsable is the one answer to "may calls be made through this connector now?":
// it is Ready with reason Ready — which a connector only reaches as its tenant's owner,
// with credentials that authenticated and a healthy partner — and not suspended or being
// deleted. It is positive: a connector that has not reported yet is not usable.
func connectorUsable(c *v1.MTDConnector) bool {
	ready := meta.FindStatusCondition(c.Status.Conditions, v1.ConditionReady)
	return !c.Spec.Suspend && c.DeletionTimestamp.IsZero() &&
		ready != nil && ready.Status == metav1.ConditionTrue && ready.Reason == ReasonReady
}

// useConnector finds the connector a policy or remediation names (in its own namespace)
// and its clients. When the connector cannot be used, it says why in a summary the
// caller reports (Reconciling: the object waits, and is woken when the connector moves).
func useConnector(ctx context.Context, c client.Reader, clients ClientSource, namespace string, ref v1.LocalObjectReference) (*v1.MTDConnector, *credentials.Clients, *summary) {
	var conn v1.MTDConnector
	name := string(ref.Name)
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &conn); err != nil {
		msg := fmt.Sprintf("waiting for MTDConnector %s: %v", name, err)
		if apierrors.IsNotFound(err) {
			msg = fmt.Sprintf("waiting for MTDConnector %s, which does not exist in namespace %s", name, namespace)
		}
		return nil, nil, &summary{reason: ReasonConnectorNotFound, message: msg, reconciling: true}
	}
	if !connectorUsable(&conn) {
		why := "it has not reported yet"
		switch ready := meta.FindStatusCondition(conn.Status.Conditions, v1.ConditionReady); {
		case !conn.DeletionTimestamp.IsZero():
			why = "it is being deleted"
		case conn.Spec.Suspend:
			why = "it is suspended"
		case ready != nil:
			why = ready.Reason + ": " + ready.Message
		}
		return nil, nil, &summary{reason: ReasonConnectorNotReady, message: fmt.Sprintf("waiting for MTDConnector %s to be Ready (%s)", name, why), reconciling: true}
	}
	cl, err := clients.Get(ctx, &conn)
	if err != nil {
		return nil, nil, &summary{reason: ReasonConnectorNotReady, message: "the connector's credentials: " + err.Error(), reconciling: true}
	}
	return &conn, cl, nil
}
