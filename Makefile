# mtd-operator — the targets follow kubebuilder's v4 scaffold.

BIN := $(CURDIR)/bin
CONTROLLER_GEN := $(BIN)/controller-gen
# envtest finds etcd, kube-apiserver and kubectl here (built from source by `make tools`).
export KUBEBUILDER_ASSETS ?= $(BIN)

GO_TEST_FLAGS ?= -count=1 -timeout 30m

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-14s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: tools
tools: ## Build etcd, kube-apiserver, kubectl, helm and controller-gen from source (cached by version).
	@hack/tools.sh

$(CONTROLLER_GEN):
	@hack/tools.sh controller-gen

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code for the API types.
	$(CONTROLLER_GEN) object paths="./api/..."

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRDs and the RBAC role from markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/..." paths="./controllers/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	@$(MAKE) --no-print-directory -s chart-sync

.PHONY: chart-sync
chart-sync: $(BIN)/helm ## Copy the generated CRDs and RBAC rules into charts/mtd-operator, and render its approval policies for kustomize (run by manifests).
	@hack/chart-sync.sh

.PHONY: fmt
fmt: ## Run gofmt on the code.
	gofmt -w $$(git ls-files --cached --others --exclude-standard '*.go' | grep -v '^hack/tools/')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: verify
verify: $(CONTROLLER_GEN) ## Fail when generated files, go.mod or formatting are stale.
	@hack/verify.sh

.PHONY: test
test: tools verify vet ## Build the tools when missing, verify generation, and run every test.
	go test $(GO_TEST_FLAGS) ./...

.PHONY: test-unit
test-unit: ## Run the pure decision tests of the controllers (no control plane, seconds).
	go test -count=1 -run '^TestDecide' ./controllers/

HELM := $(BIN)/helm
KUBECTL := $(BIN)/kubectl

$(HELM):
	@hack/tools.sh helm

$(KUBECTL):
	@hack/tools.sh kubectl

.PHONY: helm-lint
helm-lint: $(HELM) ## Lint the Helm chart (strict) and render it with its default values.
	$(HELM) lint --strict charts/mtd-operator
	$(HELM) template mtd-operator charts/mtd-operator --namespace mtd-operator-system >/dev/null

.PHONY: kustomize-build
kustomize-build: $(KUBECTL) ## Render the kustomize install (config/default).
	$(KUBECTL) kustomize config/default

.PHONY: test-chart
test-chart: $(HELM) $(KUBECTL) ## Test the Helm chart and the kustomize overlays with the real helm and kubectl.
	go test $(GO_TEST_FLAGS) ./test/chart/...

.PHONY: test-e2e
test-e2e: tools ## Run the end-to-end suite alone: the chart, the operator and twin binaries, kubectl.
	go test $(GO_TEST_FLAGS) -v ./test/e2e/...

##@ Demo

.PHONY: demo
demo: tools plugin ## Run the product page's scenarios on a local stack and narrate them (DEMO_EXIT=1 to finish by itself).
	go run ./hack/demo

.PHONY: scale
scale: tools ## Measure 10,000 devices and a burst of 1,000 threats on the local stack (prints figures; not a test).
	go run ./hack/scale $(SCALE_ARGS)

##@ Build

.PHONY: build
build: ## Build the operator (manager) and the twin (mtd-sim) into bin/.
	go build -ldflags "-X main.version=$$(git describe --tags --always --dirty 2>/dev/null || echo dev)" -o $(BIN)/ ./cmd/...

.PHONY: image
image: ## Build the operator's OCI image into bin/image without a Docker engine (reproducible; prints digest and size).
	go run ./hack/image --out $(BIN)/image --version $(VERSION)

.PHONY: plugin
plugin: ## Build the kubectl mtd plugin into bin/ (export PATH=$(BIN):$$PATH; kubectl mtd status).
	go build -ldflags "-X main.version=$(VERSION)" -o $(BIN)/kubectl-mtd ./cmd/kubectl-mtd

IMG ?= ghcr.io/mtd-operator/mtd-operator:$(VERSION)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
CONTAINER_TOOL ?= docker

.PHONY: docker-build
docker-build: ## Build the operator image (IMG=...) with the Dockerfile.
	$(CONTAINER_TOOL) build --build-arg VERSION=$(VERSION) \
		--build-arg COMMIT=$$(git rev-parse HEAD 2>/dev/null || echo unknown) -t $(IMG) .
