// Package plugin holds the tests of the `kubectl mtd` plugin (cmd/kubectl-mtd): the
// built binary run by the real kubectl against a real API server with the chart's
// CRDs, roles and admission policies, as real users.
package plugin
