// Package scheme builds the runtime.Scheme of the operator: the built-in kinds it reads
// (Secrets, ConfigMaps, Events, Leases) and the mtd.operator.dev API.
package scheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	v1 "github.com/mtd-operator/mtd-operator/api/v1alpha1"
)

// New returns a fresh scheme with every kind the operator uses.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err) // static registrations: a failure is a programming error
	}
	if err := v1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}
