#!/usr/bin/env bash
# Builds the tools the tests and generators need from the Go module proxy (their usual
# download sites are out of reach), caches each binary outside the repository by tool
# and version, and links it into bin/. A second run with the cache present only links.
#
#   hack/tools.sh [tool...]     tools: etcd kube-apiserver kubectl helm controller-gen promtool
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${MTD_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mtd-operator/tools}
bin=$root/bin
mkdir -p "$cache" "$bin"

# Versions are pinned in each tool's module under hack/tools/<module>; these names only
# key the cache and stamp the version a binary reports.
K8S_VERSION=v1.37.2
ETCD_VERSION=v3.6.16
HELM_VERSION=v3.22.0
CONTROLLER_GEN_VERSION=v0.23.0
# promtool: the github.com/prometheus/prometheus module version (Prometheus 3.16.0).
PROMETHEUS_VERSION=v0.316.0

k8s_ldflags() {
	local minor=${K8S_VERSION#v1.}
	minor=${minor%%.*}
	local flags="-s -w"
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		flags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
		flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
	done
	echo "$flags"
}

# promtool reports the Prometheus release: module v0.316.0 is Prometheus 3.16.0.
promtool_ldflags() {
	local v=${PROMETHEUS_VERSION#v0.}
	local minor=${v%%.*}
	echo "-s -w -X github.com/prometheus/common/version.Version=${minor:0:1}.${minor:1}.${v#*.} -X github.com/prometheus/common/version.BuildDate=19700101-00:00:00"
}

# build TOOL VERSION MODULE_DIR PACKAGE [LDFLAGS]
build() {
	local tool=$1 version=$2 moddir=$3 pkg=$4 ldflags=${5:--s -w}
	local out=$cache/$tool-$version/$tool
	if [[ ! -x $out ]]; then
		echo "tools: building $tool $version (cached afterwards in $cache)" >&2
		local start=$SECONDS log
		log=$(mktemp)
		# Refuse quickly, with one line, when the module proxy is out of reach, rather
		# than after minutes of resolver errors.
		if ! (cd "$root/hack/tools/$moddir" && go mod download >"$log" 2>&1); then
			echo "tools: cannot fetch the modules for $tool from the Go module proxy ($(go env GOPROXY)); is it reachable? (details: $log)" >&2
			exit 1
		fi
		mkdir -p "$(dirname "$out")"
		if ! (cd "$root/hack/tools/$moddir" && go build -ldflags "$ldflags" -o "$out.tmp" "$pkg" >"$log" 2>&1); then
			echo "tools: building $tool failed:" >&2
			tail -n 20 "$log" >&2
			exit 1
		fi
		mv "$out.tmp" "$out"
		rm -f "$log"
		echo "tools: built $tool in $((SECONDS - start))s" >&2
	fi
	ln -sfn "$out" "$bin/$tool"
}


tools=("$@")
[[ ${#tools[@]} -gt 0 ]] || tools=(controller-gen etcd kube-apiserver kubectl helm promtool)
for t in "${tools[@]}"; do
	case $t in
	etcd) build etcd "$ETCD_VERSION" etcd github.com/mtd-operator/mtd-operator/hack/tools/etcd ;;
	kube-apiserver) build kube-apiserver "$K8S_VERSION" kube k8s.io/kubernetes/cmd/kube-apiserver "$(k8s_ldflags)" ;;
	kubectl) build kubectl "$K8S_VERSION" kube k8s.io/kubernetes/cmd/kubectl "$(k8s_ldflags)" ;;
	helm) build helm "$HELM_VERSION" helm helm.sh/helm/v3/cmd/helm "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" ;;
	controller-gen) build controller-gen "$CONTROLLER_GEN_VERSION" controller-gen sigs.k8s.io/controller-tools/cmd/controller-gen "-s -w -X sigs.k8s.io/controller-tools/pkg/version.version=$CONTROLLER_GEN_VERSION" ;;
	# Only `promtool test rules` and `check rules` are used: remove_all_sd leaves the
	# cloud service-discovery plugins (AWS, Azure, GCE, ...) out of the build.
	promtool) GOFLAGS="$(go env GOFLAGS) -tags=remove_all_sd" build promtool "$PROMETHEUS_VERSION" prometheus github.com/prometheus/prometheus/cmd/promtool "$(promtool_ldflags)" ;;
	*) echo "tools: unknown tool $t" >&2; exit 2 ;;
	esac
done
