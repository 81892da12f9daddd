// Package controllers holds one reconciler per kind of the mtd.operator.dev API and the
// threat sync loop.
package controllers

// The RBAC markers below are the operator's whole need of the Kubernetes API; `make
// manifests` turns them into config/rbac/role.yaml, which the Helm chart also renders.
// Secrets and ConfigMaps are only read (credentials and CA bundles), never written.
//
// +kubebuilder:rbac:groups=mtd.operator.dev,resources=mtdconnectors;deviceriskpolicies;threatremediations,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=mtd.operator.dev,resources=mtdconnectors/status;deviceriskpolicies/status;threatremediations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=mtd.operator.dev,resources=mtdconnectors/finalizers;deviceriskpolicies/finalizers;threatremediations/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets;configmaps,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
