// Package chart holds the tests of the Helm chart (charts/mtd-operator) and of the
// kustomize overlays (config/), run with the real helm and kubectl that `make tools`
// builds into bin/. They render manifests only; nothing is installed or bound.
package chart
