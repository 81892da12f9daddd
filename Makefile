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

##@ Build

.PHONY: build
build: ## Build the binaries into bin/.
	go build -o $(BIN)/ ./cmd/...
