package intune

// Android Enterprise fully managed, dedicated and corporate-owned work profile devices
// are governed by androidDeviceOwnerCompliancePolicy. Graph serves that type only in
// beta: Graph v1.0 shows such a policy as the base deviceCompliancePolicy, without its
// MTD rule, and msgraph-sdk-go (v1.0, the only Graph client of the operator; the beta
// SDK is not available) has no model of it. So every request about the type is built
// by the SDK's own request builders, retargeted at deviceOwnerVersion's route and sent
// through the same request adapter (authentication, middlewares, retries, error
// mapping; versions.go), and its answer is parsed into deviceOwnerPolicy, a model of
// this package.
// Nothing outside this file knows which version serves the type.

import (
	"context"
	"strings"
	"sync"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoft/kiota-abstractions-go/serialization"
	"github.com/microsoftgraph/msgraph-sdk-go/devicemanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// deviceOwnerVersion is the Graph version that serves androidDeviceOwnerCompliancePolicy.
// When Microsoft publishes the type in v1.0, set it to "v1.0": that one line moves every
// request about the type (list, get, create, patch, delete, assign, actions, overview),
// which keeps being parsed into deviceOwnerPolicy.
const deviceOwnerVersion = "beta"

// basePolicyType is how a Graph version shows a policy whose type it does not have, as
// v1.0 shows an androidDeviceOwnerCompliancePolicy.
const basePolicyType = "#microsoft.graph.deviceCompliancePolicy"

// sendDeviceOwner sends the request build makes on deviceOwnerVersion's route and parses
// the answer with parse (nil: no answer expected).
func sendDeviceOwner[T any](ctx context.Context, c *client, parse serialization.ParsableFactory,
	build func(context.Context) (*abs.RequestInformation, error)) (T, error) {
	return sendOn[T](ctx, c, deviceOwnerVersion, parse, build)
}

// deviceOwnerIDs remembers the policies of the type this client has seen (listed, read,
// created or patched), so that the calls that name a policy by id only (delete, assign,
// actions, overview, get) take its route. A policy not seen yet, after a restart say,
// goes to v1.0, which serves those calls for every type, and a get of it falls back to
// deviceOwnerVersion when v1.0 shows it as the base type.
type deviceOwnerIDs struct{ m sync.Map }

func (d *deviceOwnerIDs) remember(id string) { d.m.Store(strings.ToLower(id), struct{}{}) }
func (d *deviceOwnerIDs) forget(id string)   { d.m.Delete(strings.ToLower(id)) }
func (d *deviceOwnerIDs) has(id string) bool {
	_, ok := d.m.Load(strings.ToLower(id))
	return ok
}

// listDeviceOwnerPolicies lists deviceOwnerVersion's policies, all pages, expanded like
// the v1.0 list, and keeps those of the type: Graph documents no server-side filter by
// derived type, and v1.0 would show them without their MTD rule.
func (c *client) listDeviceOwnerPolicies(ctx context.Context) ([]CompliancePolicy, error) {
	q := &devicemanagement.DeviceCompliancePoliciesRequestBuilderGetRequestConfiguration{
		QueryParameters: &devicemanagement.DeviceCompliancePoliciesRequestBuilderGetQueryParameters{Expand: policyExpand},
	}
	parsePage := pageOf[models.DeviceCompliancePolicyable](createPolicyFromDiscriminatorValue)
	ms, err := allPages[models.DeviceCompliancePolicyable](ctx, c, opListCompliancePolicies,
		func(ctx context.Context) (*page[models.DeviceCompliancePolicyable], error) {
			return sendDeviceOwner[*page[models.DeviceCompliancePolicyable]](ctx, c, parsePage,
				func(ctx context.Context) (*abs.RequestInformation, error) {
					return c.policies().ToGetRequestInformation(ctx, q)
				})
		},
		func(ctx context.Context, link string) (*page[models.DeviceCompliancePolicyable], error) {
			// The link is absolute, on the route that answered the first page.
			ri, err := c.policies().WithUrl(link).ToGetRequestInformation(ctx, nil)
			if err != nil {
				return nil, err
			}
			return send[*page[models.DeviceCompliancePolicyable]](ctx, c, ri, parsePage)
		})
	if err != nil {
		return nil, err
	}
	var out []CompliancePolicy
	for _, m := range ms {
		if p, ok := policyFromModel(m); ok && p.Type == AndroidDeviceOwnerCompliancePolicy {
			c.deviceOwners.remember(p.ID)
			out = append(out, p)
		}
	}
	return out, nil
}

// mayBeDeviceOwner says whether a policy v1.0 answered could be of the type: v1.0 shows
// it as the base type (or, once the type moves to v1.0, as itself, which
// msgraph-sdk-go's factory still does not model).
func mayBeDeviceOwner(m models.DeviceCompliancePolicyable) bool {
	t := deref(m.GetOdataType())
	return t == basePolicyType || PolicyType(t) == AndroidDeviceOwnerCompliancePolicy
}

// getDeviceOwnerPolicy makes one GET with $expand on deviceOwnerVersion's route.
func (c *client) getDeviceOwnerPolicy(ctx context.Context, id string) (*CompliancePolicy, error) {
	m, err := call(ctx, c, opGetCompliancePolicy, func(ctx context.Context) (models.DeviceCompliancePolicyable, error) {
		return sendDeviceOwner[models.DeviceCompliancePolicyable](ctx, c, createPolicyFromDiscriminatorValue,
			func(ctx context.Context) (*abs.RequestInformation, error) {
				return c.policies().ByDeviceCompliancePolicyId(id).ToGetRequestInformation(ctx,
					&devicemanagement.DeviceCompliancePoliciesDeviceCompliancePolicyItemRequestBuilderGetRequestConfiguration{
						QueryParameters: &devicemanagement.DeviceCompliancePoliciesDeviceCompliancePolicyItemRequestBuilderGetQueryParameters{Expand: policyExpand},
					})
			})
	})
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, emptyAnswer(opGetCompliancePolicy)
	}
	p, ok := policyFromModel(m)
	if !ok {
		return nil, invalidType(opGetCompliancePolicy, deref(m.GetOdataType()))
	}
	c.deviceOwners.remember(p.ID)
	return &p, nil
}

// Property names of the type's MTD rule.
const (
	propThreatProtectionEnabled = "deviceThreatProtectionEnabled"
	propRequiredSecurityLevel   = "deviceThreatProtectionRequiredSecurityLevel"
)

// deviceOwnerPolicy is androidDeviceOwnerCompliancePolicy as far as the operator uses
// it: msgraph-sdk-go's base type plus the MTD rule, kept in the model's backing store as
// the SDK's own models keep theirs. It is an mtdPolicy, so it maps to and from
// CompliancePolicy as the v1.0 types do. Its other properties, which the operator does
// not manage, are neither read nor written.
type deviceOwnerPolicy struct {
	*models.DeviceCompliancePolicy
}

func newDeviceOwnerPolicy() *deviceOwnerPolicy {
	m := &deviceOwnerPolicy{DeviceCompliancePolicy: models.NewDeviceCompliancePolicy()}
	t := string(AndroidDeviceOwnerCompliancePolicy)
	m.SetOdataType(&t) // the service needs it on create and checks it on PATCH
	return m
}

// createPolicyFromDiscriminatorValue is msgraph-sdk-go's factory for compliance policies
// plus androidDeviceOwnerCompliancePolicy, which it would parse as the base type.
func createPolicyFromDiscriminatorValue(n serialization.ParseNode) (serialization.Parsable, error) {
	if n != nil {
		if t, err := n.GetChildNode("@odata.type"); err == nil && t != nil {
			if v, err := t.GetStringValue(); err == nil && PolicyType(deref(v)) == AndroidDeviceOwnerCompliancePolicy {
				return newDeviceOwnerPolicy(), nil
			}
		}
	}
	return models.CreateDeviceCompliancePolicyFromDiscriminatorValue(n)
}

func (m *deviceOwnerPolicy) GetDeviceThreatProtectionEnabled() *bool {
	return stored[bool](m, propThreatProtectionEnabled)
}

func (m *deviceOwnerPolicy) SetDeviceThreatProtectionEnabled(v *bool) {
	putStored(m, propThreatProtectionEnabled, v)
}

func (m *deviceOwnerPolicy) GetDeviceThreatProtectionRequiredSecurityLevel() *models.DeviceThreatProtectionLevel {
	return stored[models.DeviceThreatProtectionLevel](m, propRequiredSecurityLevel)
}

func (m *deviceOwnerPolicy) SetDeviceThreatProtectionRequiredSecurityLevel(v *models.DeviceThreatProtectionLevel) {
	putStored(m, propRequiredSecurityLevel, v)
}

// GetFieldDeserializers reads the base type's properties and the MTD rule.
func (m *deviceOwnerPolicy) GetFieldDeserializers() map[string]func(serialization.ParseNode) error {
	res := m.DeviceCompliancePolicy.GetFieldDeserializers()
	res[propThreatProtectionEnabled] = func(n serialization.ParseNode) error {
		v, err := n.GetBoolValue()
		if err == nil && v != nil {
			m.SetDeviceThreatProtectionEnabled(v)
		}
		return err
	}
	res[propRequiredSecurityLevel] = func(n serialization.ParseNode) error {
		v, err := n.GetEnumValue(models.ParseDeviceThreatProtectionLevel)
		if err == nil && v != nil {
			m.SetDeviceThreatProtectionRequiredSecurityLevel(v.(*models.DeviceThreatProtectionLevel))
		}
		return err
	}
	return res
}

// Serialize writes the base type's properties and the set fields of the MTD rule.
func (m *deviceOwnerPolicy) Serialize(w serialization.SerializationWriter) error {
	if err := m.DeviceCompliancePolicy.Serialize(w); err != nil {
		return err
	}
	if err := w.WriteBoolValue(propThreatProtectionEnabled, m.GetDeviceThreatProtectionEnabled()); err != nil {
		return err
	}
	if l := m.GetDeviceThreatProtectionRequiredSecurityLevel(); l != nil {
		s := l.String()
		return w.WriteStringValue(propRequiredSecurityLevel, &s)
	}
	return nil
}
