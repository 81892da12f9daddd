//go:build tools

// Package tools pins the Kubernetes control-plane binaries the tests run against.
// k8s.io/kubernetes cannot be `go install`ed (its go.mod points the staging
// modules at local directories), so this module re-points them at the proxy.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
