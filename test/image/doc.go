// Package image tests the operator's OCI image as hack/image builds it without a
// container engine: reproducible layers, the expected files alone, a config that
// agrees with the Dockerfile, and the image running under runc with the Helm chart's
// own pod settings against the local control plane and the twin.
//
// The run needs runc on PATH (Debian: apt-get install -y runc; .ci/run installs it) and
// root, which creates the container's namespaces and cgroups. See docs/image.md.
package image
