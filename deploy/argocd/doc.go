// Package argocd holds Argo CD's health checks for the mtd.operator.dev kinds, in the
// layout Argo CD keeps its own (resource_customizations/<group>/<Kind>/health.lua, with
// health_test.yaml and testdata/), and the test that runs them in gopher-lua, the
// interpreter Argo CD embeds. It has no Go API; see README.md and docs/gitops.md.
package argocd
