package intune

import (
	"context"
	"errors"
	"fmt"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoft/kiota-abstractions-go/serialization"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/mtd-operator/mtd-operator/internal/outbound"
)

// Operation names, as they appear in errors and in the outbound metrics.
const (
	opGetConnector                  = "GetConnector"
	opPatchConnector                = "PatchConnector"
	opListCompliancePolicies        = "ListCompliancePolicies"
	opGetCompliancePolicy           = "GetCompliancePolicy"
	opCreateCompliancePolicy        = "CreateCompliancePolicy"
	opPatchCompliancePolicy         = "PatchCompliancePolicy"
	opDeleteCompliancePolicy        = "DeleteCompliancePolicy"
	opAssignCompliancePolicy        = "AssignCompliancePolicy"
	opScheduleComplianceActions     = "ScheduleComplianceActions"
	opGetDeviceOverview             = "GetCompliancePolicyDeviceOverview"
	opListManagedDevices            = "ListManagedDevices"
	opGetManagedDevice              = "GetManagedDevice"
	opRunDeviceAction               = "RunDeviceAction"
	opListConditionalAccessPolicies = "ListConditionalAccessPolicies"
	opGetConditionalAccessPolicy    = "GetConditionalAccessPolicy"
	opCreateConditionalAccessPolicy = "CreateConditionalAccessPolicy"
	opUpdateConditionalAccessPolicy = "UpdateConditionalAccessPolicy"
	opDeleteConditionalAccessPolicy = "DeleteConditionalAccessPolicy"
	opMemberOf                      = "MemberOf"
	opFindDirectoryDevice           = "FindDirectoryDevice"
	opListStoreApps                 = "ListStoreApps"
	opGetStoreApp                   = "GetStoreApp"
	opCreateIOSStoreApp             = "CreateIOSStoreApp"
	opPatchIOSStoreApp              = "PatchIOSStoreApp"
	opDeleteStoreApp                = "DeleteStoreApp"
	opAssignStoreApp                = "AssignStoreApp"
	opListAppConfigurations         = "ListAppConfigurations"
	opGetAppConfiguration           = "GetAppConfiguration"
	opCreateAppConfiguration        = "CreateAppConfiguration"
	opPatchAppConfiguration         = "PatchAppConfiguration"
	opDeleteAppConfiguration        = "DeleteAppConfiguration"
	opAssignAppConfiguration        = "AssignAppConfiguration"
	opListDetectedApps              = "ListDetectedApps"
	opDetectedAppDevices            = "DetectedAppDevices"
)

// intuneService is the Intune (or Entra) service whose limits an operation counts against.
type intuneService int

const (
	svcDeviceConfiguration intuneService = iota
	svcDevices
	svcIdentity
)

type opSpec struct {
	service intuneService
	// permission is the least Graph application permission the operation needs,
	// named in a Forbidden error.
	permission string
}

const (
	permServiceConfigRead  = "DeviceManagementServiceConfig.Read.All"
	permServiceConfigWrite = "DeviceManagementServiceConfig.ReadWrite.All"
	permConfigRead         = "DeviceManagementConfiguration.Read.All"
	permConfigWrite        = "DeviceManagementConfiguration.ReadWrite.All"
	permDevicesRead        = "DeviceManagementManagedDevices.Read.All"
	permDevicesPrivileged  = "DeviceManagementManagedDevices.PrivilegedOperations.All"
	permCARead             = "Policy.Read.All"
	permCAWrite            = "Policy.ReadWrite.ConditionalAccess"
	permGroupMemberRead    = "GroupMember.Read.All"
	permDeviceRead         = "Device.Read.All"
	permAppsRead           = "DeviceManagementApps.Read.All"
	permAppsWrite          = "DeviceManagementApps.ReadWrite.All"
)

var operations = map[string]opSpec{
	opGetConnector:                  {svcDeviceConfiguration, permServiceConfigRead},
	opPatchConnector:                {svcDeviceConfiguration, permServiceConfigWrite},
	opListCompliancePolicies:        {svcDeviceConfiguration, permConfigRead},
	opGetCompliancePolicy:           {svcDeviceConfiguration, permConfigRead},
	opCreateCompliancePolicy:        {svcDeviceConfiguration, permConfigWrite},
	opPatchCompliancePolicy:         {svcDeviceConfiguration, permConfigWrite},
	opDeleteCompliancePolicy:        {svcDeviceConfiguration, permConfigWrite},
	opAssignCompliancePolicy:        {svcDeviceConfiguration, permConfigWrite},
	opScheduleComplianceActions:     {svcDeviceConfiguration, permConfigWrite},
	opGetDeviceOverview:             {svcDeviceConfiguration, permConfigRead},
	opListManagedDevices:            {svcDevices, permDevicesRead},
	opGetManagedDevice:              {svcDevices, permDevicesRead},
	opRunDeviceAction:               {svcDevices, permDevicesPrivileged},
	opListConditionalAccessPolicies: {svcIdentity, permCARead},
	opGetConditionalAccessPolicy:    {svcIdentity, permCARead},
	opCreateConditionalAccessPolicy: {svcIdentity, permCAWrite},
	opUpdateConditionalAccessPolicy: {svcIdentity, permCAWrite},
	opDeleteConditionalAccessPolicy: {svcIdentity, permCAWrite},
	opMemberOf:                      {svcIdentity, permGroupMemberRead},
	opFindDirectoryDevice:           {svcIdentity, permDeviceRead},
	opListStoreApps:                 {svcDeviceConfiguration, permAppsRead},
	opGetStoreApp:                   {svcDeviceConfiguration, permAppsRead},
	opCreateIOSStoreApp:             {svcDeviceConfiguration, permAppsWrite},
	opPatchIOSStoreApp:              {svcDeviceConfiguration, permAppsWrite},
	opDeleteStoreApp:                {svcDeviceConfiguration, permAppsWrite},
	opAssignStoreApp:                {svcDeviceConfiguration, permAppsWrite},
	opListAppConfigurations:         {svcDeviceConfiguration, permAppsRead},
	opGetAppConfiguration:           {svcDeviceConfiguration, permAppsRead},
	opCreateAppConfiguration:        {svcDeviceConfiguration, permAppsWrite},
	opPatchAppConfiguration:         {svcDeviceConfiguration, permAppsWrite},
	opDeleteAppConfiguration:        {svcDeviceConfiguration, permAppsWrite},
	opAssignAppConfiguration:        {svcDeviceConfiguration, permAppsWrite},
	opListDetectedApps:              {svcDevices, permDevicesRead},
	opDetectedAppDevices:            {svcDevices, permDevicesRead},
}

func (c *client) limiter(s intuneService) *outbound.Limiter {
	switch s {
	case svcDevices:
		return c.limiters.Devices.For(c.tenant)
	case svcIdentity:
		return c.limiters.Identity.For(c.tenant)
	}
	return c.limiters.DeviceConfiguration.For(c.tenant)
}

// do runs one Graph request of operation op (fn makes it with the SDK) with a fresh
// wait budget, renews the credential and retries once when Graph refuses the token,
// and classifies any failure.
func (c *client) do(ctx context.Context, op string, fn func(context.Context) error) error {
	tr := &callTrace{tenant: c.tenant}
	for renewed := false; ; renewed = true {
		ci := &callInfo{op: op, limiter: c.limiter(operations[op].service), deadline: time.Now().Add(c.maxWait), trace: tr}
		err := fn(withCall(ctx, ci))
		if err == nil {
			c.logOutcome(ctx, op, tr, nil)
			return nil
		}
		if !renewed && tokenRefused(err) {
			c.logger(ctx, service, op).V(1).Info("Graph refused the access token; renewing the Entra credential", "code", 401)
			if c.cred.renew() == nil {
				continue
			}
		}
		e := c.classify(ctx, op, err)
		c.logOutcome(ctx, op, tr, e)
		return e
	}
}

// call is do for a request with a result.
func call[T any](ctx context.Context, c *client, op string, fn func(context.Context) (T, error)) (T, error) {
	var out T
	err := c.do(ctx, op, func(ctx context.Context) error {
		var err error
		out, err = fn(ctx)
		return err
	})
	return out, err
}

// collection is a page of a Graph collection.
type collection[M any] interface {
	GetValue() []M
	GetOdataNextLink() *string
}

// allPages reads a collection page by page through @odata.nextLink (absolute, with the
// query repeated). Each page is its own request with its own wait budget.
func allPages[M any, P collection[M]](ctx context.Context, c *client, op string,
	first func(context.Context) (P, error), next func(ctx context.Context, link string) (P, error)) ([]M, error) {
	page, err := call(ctx, c, op, first)
	var out []M
	for {
		if err != nil {
			return nil, err
		}
		if any(page) == nil {
			return out, nil
		}
		out = append(out, page.GetValue()...)
		link := deref(page.GetOdataNextLink())
		if link == "" {
			return out, nil
		}
		page, err = call(ctx, c, op, func(ctx context.Context) (P, error) { return next(ctx, link) })
	}
}

// odataErrors maps every error answer to an *odataerrors.ODataError, as the SDK's request
// builders do, so that classify reads requests sent with send like any other.
var odataErrors = abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}

// send sends a request one of the SDK's request builders made through the client's
// request adapter, as the builder itself would, but parses the answer with parse: for
// what msgraph-sdk-go does not model (a beta-only type, an enum value it lacks). With
// parse nil no answer is expected.
func send[T any](ctx context.Context, c *client, ri *abs.RequestInformation, parse serialization.ParsableFactory) (T, error) {
	var zero T
	adapter := c.graph.GetAdapter()
	if parse == nil {
		return zero, adapter.SendNoContent(ctx, ri, odataErrors)
	}
	res, err := adapter.Send(ctx, ri, parse, odataErrors)
	if err != nil || res == nil {
		return zero, err
	}
	out, ok := res.(T)
	if !ok {
		return zero, fmt.Errorf("Graph's answer parsed as %T, not %T", res, zero)
	}
	return out, nil
}

// page is one page of a Graph collection whose items parse with item rather than with
// the factory of msgraph-sdk-go's collection response.
type page[M any] struct {
	item  serialization.ParsableFactory
	value []M
	next  *string
}

// pageOf is the factory of pages of items that item parses.
func pageOf[M any](item serialization.ParsableFactory) serialization.ParsableFactory {
	return func(serialization.ParseNode) (serialization.Parsable, error) { return &page[M]{item: item}, nil }
}

func (p *page[M]) GetFieldDeserializers() map[string]func(serialization.ParseNode) error {
	return map[string]func(serialization.ParseNode) error{
		"value": func(n serialization.ParseNode) error {
			vs, err := n.GetCollectionOfObjectValues(p.item)
			if err != nil {
				return err
			}
			for _, v := range vs {
				m, ok := v.(M)
				if !ok {
					return fmt.Errorf("a collection item parsed as %T", v)
				}
				p.value = append(p.value, m)
			}
			return nil
		},
		"@odata.nextLink": func(n serialization.ParseNode) error {
			v, err := n.GetStringValue()
			p.next = v
			return err
		},
	}
}

// Serialize is never called: pages are only read.
func (p *page[M]) Serialize(serialization.SerializationWriter) error {
	return errors.New("a collection page is not sent")
}

// GetValue and GetOdataNextLink make a page a collection; a nil page (an answer without
// a body) is empty.
func (p *page[M]) GetValue() []M {
	if p == nil {
		return nil
	}
	return p.value
}

func (p *page[M]) GetOdataNextLink() *string {
	if p == nil {
		return nil
	}
	return p.next
}

// invalid is the error for a request the client refuses to send (a value the API
// does not know).
func invalid(op string, err error) error {
	return &outbound.Error{Service: service, Operation: op, Kind: outbound.Terminal, Message: err.Error()}
}

// emptyAnswer is the error for a read Graph answered without a body.
func emptyAnswer(op string) error {
	return &outbound.Error{Service: service, Operation: op, Kind: outbound.Terminal, Message: "Graph answered without a body"}
}

// invalidType is the error for a policy of a type the operator does not manage.
func invalidType(op, odataType string) error {
	return &outbound.Error{Service: service, Operation: op, Kind: outbound.NotFound,
		Message: "the compliance policy is of type " + odataType + ", not one of the mobile types the operator manages"}
}
