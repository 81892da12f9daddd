package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

func TestDecideResyncInterval(t *testing.T) {
	withSpec := &v1.MTDConnector{Spec: v1.MTDConnectorSpec{ResyncInterval: &metav1.Duration{Duration: 10 * time.Minute}}}
	for _, tc := range []struct {
		name      string
		conn      *v1.MTDConnector
		def, maxR time.Duration
		want      time.Duration
	}{
		{"nothing set", nil, 0, 0, 5 * time.Minute},
		{"manager default", &v1.MTDConnector{}, 2 * time.Minute, 0, 2 * time.Minute},
		{"connector wins over the default", withSpec, 2 * time.Minute, 0, 10 * time.Minute},
		{"cap", withSpec, 0, 3 * time.Second, 3 * time.Second},
		{"cap above the interval", withSpec, 0, time.Hour, 10 * time.Minute},
	} {
		if got := resyncInterval(tc.conn, tc.def, tc.maxR); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
