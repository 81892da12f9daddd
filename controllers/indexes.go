package controllers

import (
	"context"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
	"github.com/mtd-operator/mtd-operator/internal/credentials"
)

// Field indexes on the manager's cache, so that watches map a changed Secret, policy or
// remediation to the connectors concerned without listing everything.
const (
	indexSecretRefs    = "mtd.operator.dev/secret-refs"
	indexConfigMapRefs = "mtd.operator.dev/configmap-refs"
	indexIntuneTenant  = "mtd.operator.dev/intune-tenant"
	indexConnectorRef  = "mtd.operator.dev/connector-ref"
	// indexManagedIDs indexes DeviceRiskPolicies by the Intune and Entra ids they
	// record, so adoption can refuse an object another policy already manages.
	indexManagedIDs = "mtd.operator.dev/managed-ids"
)

// SetupIndexes registers every field index the reconcilers use. Call it once per
// manager, before the reconcilers are added.
func SetupIndexes(ctx context.Context, mgr manager.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &v1.MTDConnector{}, indexSecretRefs, func(o client.Object) []string {
		secrets, _ := credentials.References(o.(*v1.MTDConnector))
		return secrets
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1.MTDConnector{}, indexConfigMapRefs, func(o client.Object) []string {
		_, cms := credentials.References(o.(*v1.MTDConnector))
		return cms
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1.MTDConnector{}, indexIntuneTenant, func(o client.Object) []string {
		return []string{tenantKey(o.(*v1.MTDConnector))}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1.DeviceRiskPolicy{}, indexConnectorRef, func(o client.Object) []string {
		return []string{string(o.(*v1.DeviceRiskPolicy).Spec.ConnectorRef.Name)}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1.DeviceRiskPolicy{}, indexManagedIDs, func(o client.Object) []string {
		p := o.(*v1.DeviceRiskPolicy)
		var ids []string
		for _, st := range p.Status.Platforms {
			if st.PolicyID != "" {
				ids = append(ids, strings.ToLower(st.PolicyID))
			}
		}
		if id := p.Status.ConditionalAccessPolicyID; id != "" {
			ids = append(ids, strings.ToLower(id))
		}
		return ids
	}); err != nil {
		return err
	}
	return idx.IndexField(ctx, &v1.ThreatRemediation{}, indexConnectorRef, func(o client.Object) []string {
		return []string{string(o.(*v1.ThreatRemediation).Spec.ConnectorRef.Name)}
	})
}

// tenantKey normalises a tenant id: GUIDs compare case-insensitively.
func tenantKey(c *v1.MTDConnector) string { return strings.ToLower(string(c.Spec.Intune.TenantID)) }
