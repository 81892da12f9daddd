package ues

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mtd-operator/mtd-operator/internal/outbound"
	"github.com/mtd-operator/mtd-operator/internal/sim/world"
)

// TestOperationsTable checks the table against itself, the twin and docs/ues-api.md:
// every operation but the token call has a resource:action scope; an operation is
// modelled exactly when its scope is one of the modelled scopes; and its route is
// written in the matching section of the doc.
func TestOperationsTable(t *testing.T) {
	raw, err := os.ReadFile("../../docs/ues-api.md")
	if err != nil {
		t.Fatal(err)
	}
	documented, modelled, ok := strings.Cut(string(raw), "\n## Modelled")
	if !ok {
		t.Fatal(`docs/ues-api.md has no "## Modelled" section`)
	}
	scope := regexp.MustCompile(`^[a-z]+:[a-z]+$`)
	for o, spec := range operations {
		if o == opAuthenticate {
			if spec.scope != "" || spec.modelled {
				t.Errorf("%s: the token call is documented and needs no scope, got %+v", o, spec)
			}
		} else if !scope.MatchString(spec.scope) {
			t.Errorf("%s: scope %q is not resource:action", o, spec.scope)
		}
		if o != opAuthenticate && spec.modelled != slices.Contains(world.ModelledUESScopes, spec.scope) {
			t.Errorf("%s: modelled = %v, but whether its scope %s is one of the twin's modelled scopes is %v",
				o, spec.modelled, spec.scope, !spec.modelled)
		}
		switch spec.method {
		case http.MethodGet, http.MethodPost, http.MethodPut:
		default:
			t.Errorf("%s: method %q", o, spec.method)
		}
		section, name := documented, "Documented"
		if spec.modelled {
			section, name = modelled, "Modelled"
		}
		if !regexp.MustCompile(`[ }]` + regexp.QuoteMeta(spec.route) + "`").MatchString(section) {
			t.Errorf("%s: route %s is not in the %s section of docs/ues-api.md", o, spec.route, name)
		}
	}
}

func TestPathFillsTheRoute(t *testing.T) {
	for _, tc := range []struct {
		o    op
		ids  []string
		want string
	}{
		{opListDevices, nil, "/devices/v2"},
		{opGetDevice, []string{"d/1 x"}, "/devices/v2/d%2F1%20x"},
		{opIgnoreAlert, []string{"{a}"}, "/mobilealerts/v1/%7Ba%7D/ignore"},
	} {
		if got := operations[tc.o].path(tc.ids...); got != tc.want {
			t.Errorf("%s path(%q) = %q, want %q", tc.o, tc.ids, got, tc.want)
		}
	}
}

// everyCall calls each operation of the interface once (the token call comes with the
// first).
var everyCall = map[op]func(context.Context, Client) error{
	opListDevices: func(ctx context.Context, c Client) error { _, err := c.Probe(ctx); return err },
	opGetDevice:   func(ctx context.Context, c Client) error { _, err := c.Device(ctx, "d1"); return err },
	opListMobileDevices: func(ctx context.Context, c Client) error {
		for _, err := range c.MobileDevices(ctx, "high") {
			return err
		}
		return nil
	},
	opGetMobileDevice: func(ctx context.Context, c Client) error { _, err := c.MobileDevice(ctx, "m1"); return err },
	opListAlerts: func(ctx context.Context, c Client) error {
		for _, err := range c.Alerts(ctx, AlertQuery{Statuses: []string{AlertActive}}) {
			return err
		}
		return nil
	},
	opGetAlert:          func(ctx context.Context, c Client) error { _, err := c.Alert(ctx, "a1"); return err },
	opIgnoreAlert:       func(ctx context.Context, c Client) error { _, err := c.IgnoreAlert(ctx, "a1"); return err },
	opGetRiskAssessment: func(ctx context.Context, c Client) error { _, err := c.RiskAssessment(ctx); return err },
	opPutRiskAssessment: func(ctx context.Context, c Client) error {
		_, err := c.PutRiskAssessment(ctx, map[string]string{"maliciousApplication": "high"})
		return err
	},
	opGetIntuneIntegration: func(ctx context.Context, c Client) error { _, err := c.IntuneIntegration(ctx); return err },
}

// forbidding answers the token call and refuses every other request with 403, after
// checking that it is the route and method of the table.
type forbidding struct {
	t    *testing.T
	want opSpec
}

func (f *forbidding) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	answer := func(status int, body string) (*http.Response, error) {
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
	}
	if req.Method == http.MethodPost && req.URL.Path == "/auth/v2/token" {
		return answer(http.StatusOK, `{"access_token":"opaque"}`)
	}
	route := "^" + regexp.MustCompile(`\\\{[a-z_]+\\\}`).ReplaceAllString(regexp.QuoteMeta(f.want.route), "[^/]+") + "$"
	if req.Method != f.want.method || !regexp.MustCompile(route).MatchString(req.URL.Path) {
		f.t.Errorf("%s %s, want %s %s", req.Method, req.URL.Path, f.want.method, f.want.route)
	}
	return answer(http.StatusForbidden, `{"message":"The access token does not grant the scope."}`)
}

// TestForbiddenNamesTheScopeOfTheTable calls every operation against a service that
// refuses them all: each is Forbidden and names the scope the table gives it.
func TestForbiddenNamesTheScopeOfTheTable(t *testing.T) {
	for o, spec := range operations {
		if o == opAuthenticate {
			continue
		}
		call, ok := everyCall[o]
		if !ok {
			t.Errorf("%s: no method of the interface is tested for it", o)
			continue
		}
		t.Run(string(o), func(t *testing.T) {
			rt := &forbidding{t: t, want: spec}
			c, err := New(Config{BaseURL: "https://ues.invalid", TenantID: "t", AppID: "a", AppSecret: "secret", Transport: rt,
				Limiters: outbound.NewLimiters(0, DefaultLimit)})
			if err != nil {
				t.Fatal(err)
			}
			err = call(context.Background(), c)
			var e *outbound.Error
			if !errors.As(err, &e) || e.Kind != outbound.Forbidden || e.StatusCode != http.StatusForbidden {
				t.Fatalf("err = %v, want Forbidden", err)
			}
			if e.Operation != string(o) || e.Permission != spec.scope || !strings.Contains(err.Error(), "missing permission "+spec.scope) {
				t.Fatalf("err = %v, want operation %s naming scope %s", err, o, spec.scope)
			}
		})
	}
}

// TestInterfaceDocumentsTheTable reads the doc comments of the Client interface: each
// method (but BaseURL) says which routes it calls, documented or modelled, with the
// operation and scope of the table, and together they name every operation.
func TestInterfaceDocumentsTheTable(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "client.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^(Documented|Modelled): ([A-Z]+) (\S+) \((\w+)(?:, scope (\S+))?\)\.$`)
	named := map[op]bool{}
	methods := 0
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "Client" {
			return true
		}
		for _, m := range ts.Type.(*ast.InterfaceType).Methods.List {
			name := m.Names[0].Name
			methods++
			if name == "BaseURL" {
				continue
			}
			found := false
			for l := range strings.Lines(m.Doc.Text()) {
				sm := line.FindStringSubmatch(strings.TrimSpace(l))
				if sm == nil {
					continue
				}
				found = true
				o := op(sm[4])
				spec, ok := operations[o]
				switch {
				case !ok:
					t.Errorf("%s: documents an unknown operation %s", name, o)
				case spec.modelled != (sm[1] == "Modelled") || spec.method != sm[2] || spec.route != sm[3] || spec.scope != sm[5]:
					t.Errorf("%s: %q disagrees with the table's %+v", name, strings.TrimSpace(l), spec)
				}
				named[o] = true
			}
			if !found {
				t.Errorf("%s: its doc comment names no route (\"Documented: GET /route (Operation, scope s).\")", name)
			}
		}
		return false
	})
	if methods != 12 {
		t.Errorf("the Client interface has %d methods, want 12", methods)
	}
	for o := range operations {
		if !named[o] {
			t.Errorf("no method of the interface documents %s", o)
		}
	}
}
