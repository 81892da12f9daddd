package intune_test

import (
	"slices"
	"testing"

	"github.com/mtd-operator/mtd-operator/internal/intune"
	"github.com/mtd-operator/mtd-operator/internal/outbound"
	"github.com/mtd-operator/mtd-operator/internal/sim/adminapi"
	"github.com/mtd-operator/mtd-operator/internal/testkit"
)

func TestMemberOf(t *testing.T) {
	fresh(t)
	c := newClient(t, nil)
	dev := enrol(t, 1, adminapi.Device{})[0]
	vip, err := admin.CreateGroup(ctx, tenant(), adminapi.Group{DisplayName: "VIP", Members: []string{dev.UserID}})
	if err != nil {
		t.Fatal(err)
	}
	kiosks, err := admin.CreateGroup(ctx, tenant(), adminapi.Group{DisplayName: "Kiosks", Members: []string{dev.EntraID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateGroup(ctx, tenant(), adminapi.Group{DisplayName: "Others"}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.MemberOf(ctx, intune.DirectoryUser, dev.UserID); err != nil || !slices.Equal(got, []string{vip.ID}) {
		t.Fatalf("user memberOf = %v, %v; want [%s]", got, err, vip.ID)
	}
	if got, err := c.MemberOf(ctx, intune.DirectoryDevice, dev.EntraID); err != nil || !slices.Equal(got, []string{kiosks.ID}) {
		t.Fatalf("device memberOf = %v, %v; want [%s]", got, err, kiosks.ID)
	}
	// A device is looked up by deviceId first, for its object id, as Entra requires.
	for route, want := range map[string]int64{"GET /v1.0/users/{id}/memberOf": 1, "GET /v1.0/devices": 1, "GET /v1.0/devices/{id}/memberOf": 1} {
		if n := testkit.Calls(t, admin, route); n != want {
			t.Fatalf("%s calls = %d, want %d", route, n, want)
		}
	}
	_, err = c.MemberOf(ctx, intune.DirectoryUser, "00000000-0000-0000-0000-000000000000")
	asOutbound(t, err, outbound.NotFound)
	_, err = c.MemberOf(ctx, intune.DirectoryDevice, "00000000-0000-0000-0000-000000000000")
	asOutbound(t, err, outbound.NotFound)
	_, err = c.MemberOf(ctx, "printer", dev.EntraID)
	asOutbound(t, err, outbound.Terminal)

	// Without a directory permission the error names the one to grant.
	app, err := admin.CreateApp(ctx, tenant(), adminapi.App{DisplayName: "no directory", Roles: []string{"DeviceManagementManagedDevices.Read.All"}})
	if err != nil {
		t.Fatal(err)
	}
	weak := newClient(t, func(cfg *intune.Config) {
		cfg.ClientID, cfg.Credential = app.ClientID, intune.Credential{ClientSecret: app.Secret}
	})
	_, err = weak.MemberOf(ctx, intune.DirectoryUser, dev.UserID)
	if e := asOutbound(t, err, outbound.Forbidden); e.Permission != "GroupMember.Read.All" {
		t.Fatalf("permission = %q", e.Permission)
	}
	_, err = weak.MemberOf(ctx, intune.DirectoryDevice, dev.EntraID)
	if e := asOutbound(t, err, outbound.Forbidden); e.Permission != "Device.Read.All" {
		t.Fatalf("device lookup permission = %q", e.Permission)
	}
}
