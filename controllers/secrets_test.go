package controllers_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// corev1Secret reads and writes one Secret of a test.
type corev1Secret struct{ corev1.Secret }

func (s *corev1Secret) get(t *testing.T, ns, name string) {
	t.Helper()
	if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &s.Secret); err != nil {
		t.Fatal(err)
	}
}

func (s *corev1Secret) update(t *testing.T) {
	t.Helper()
	if err := k8s.Update(context.Background(), &s.Secret); err != nil {
		t.Fatal(err)
	}
}
