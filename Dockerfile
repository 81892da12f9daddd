# syntax=docker/dockerfile:1
# The mtd-operator image: a static manager binary on distroless, running as non-root.
#
#   docker build --build-arg VERSION=v0.1.0 --build-arg COMMIT=$(git rev-parse HEAD) \
#     -t ghcr.io/mtd-operator/mtd-operator:v0.1.0 .
#   (or: make docker-build IMG=...)
#
# Multi-platform: docker buildx build --platform linux/amd64,linux/arm64 ... (the builder
# runs on the build host and cross-compiles).

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS builder
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown

WORKDIR /workspace

# Dependencies first, so that source edits reuse this layer and the module cache.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

# Only what the manager is built from (see .dockerignore).
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/

RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -buildid=" \
      -o /out/manager ./cmd/manager

FROM gcr.io/distroless/static:nonroot
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="mtd-operator" \
      org.opencontainers.image.description="Kubernetes operator for the BlackBerry Protect Mobile <-> Microsoft Intune MTD integration" \
      org.opencontainers.image.source="https://github.com/mtd-operator/mtd-operator" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
WORKDIR /
COPY --from=builder /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
