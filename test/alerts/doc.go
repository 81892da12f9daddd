// Package alerts holds the tests of the chart's alerts and dashboard
// (charts/mtd-operator/files): `promtool test rules` over the rule file as the chart
// ships it, the PrometheusRule and dashboard ConfigMap the chart renders, and a lint of
// the Grafana dashboard whose queries are parsed by promtool and whose metrics must be
// ones the operator exports. promtool and helm are the real ones, built from source by
// hack/tools.sh into bin/.
package alerts
