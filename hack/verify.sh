#!/usr/bin/env bash
# Fails when generated files, go.mod/go.sum or formatting are stale. It regenerates in
# place and compares content hashes, so it works on a clean clone (CI) and on a work tree
# with uncommitted edits alike: what it changes is left for you to commit.
set -euo pipefail
cd "$(dirname "$0")/.."

generated() {
	ls api/v1alpha1/zz_generated.deepcopy.go config/crd/bases/*.yaml config/rbac/role.yaml 2>/dev/null
	# Copied into the Helm chart by `make manifests` (hack/chart-sync.sh).
	ls charts/mtd-operator/templates/crds/*.yaml charts/mtd-operator/files/manager-role.yaml 2>/dev/null || true
	# And the chart's approval policies and people roles, rendered for kustomize.
	ls config/approvals/approvals.yaml 2>/dev/null || true
}
snapshot() { generated | xargs sha256sum 2>/dev/null | sort; }

before=$(snapshot)
make --no-print-directory -s generate manifests
after=$(snapshot)
status=0
if [[ "$before" != "$after" ]]; then
	echo "verify: generated files were stale and have been regenerated; commit them:" >&2
	diff <(echo "$before") <(echo "$after") | sed -n 's/^[<>] [0-9a-f]*  /  /p' | sort -u >&2
	status=1
fi

unformatted=$(gofmt -l $(git ls-files --cached --others --exclude-standard '*.go' | grep -v '^hack/tools/') 2>/dev/null || true)
if [[ -n "$unformatted" ]]; then
	echo "verify: gofmt would change these files (run 'make fmt'):" >&2
	echo "$unformatted" | sed 's/^/  /' >&2
	status=1
fi

if ! go mod tidy -diff >/dev/null 2>&1; then
	echo "verify: go.mod/go.sum are not tidy (run 'go mod tidy')" >&2
	status=1
fi
exit $status
