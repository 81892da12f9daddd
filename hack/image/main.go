// Command image builds the operator's OCI image without a container engine (`make
// image`): the static manager, Debian's CA certificates, user 65532, as an OCI layout
// (and optionally a docker-archive tarball). It prints the digest and the size.
//
//	go run ./hack/image [--out bin/image] [--version v0.1.0] [--docker-archive bin/image.tar]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mtd-operator/mtd-operator/hack/image/ociimage"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run() error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	o := ociimage.Defaults(root)
	out := flag.String("out", filepath.Join(root, "bin", "image"), "directory of the OCI image layout (replaced)")
	archive := flag.String("docker-archive", "", "also write a docker-archive tarball here (docker load / podman load)")
	repo := flag.String("repository", "ghcr.io/mtd-operator/mtd-operator", "repository the docker-archive tags the image with")
	flag.StringVar(&o.Version, "version", o.Version, "version stamped into the binary and the labels (default: git describe)")
	flag.StringVar(&o.Revision, "revision", o.Revision, "revision label (default: git HEAD)")
	flag.StringVar(&o.GOARCH, "arch", o.GOARCH, "GOARCH of the image (default: this machine's)")
	flag.StringVar(&o.CACerts, "ca-certificates", ociimage.HostCACerts, "CA bundle to copy (Debian's ca-certificates package)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	img, err := ociimage.Build(ctx, o)
	if err != nil {
		return err
	}
	if err := ociimage.WriteLayout(*out, img, tag(o.Version)); err != nil {
		return err
	}
	if *archive != "" {
		if err := ociimage.WriteDockerArchive(*archive, img, *repo+":"+tag(o.Version)); err != nil {
			return err
		}
	}
	return report(img, *out, *archive)
}

// tag makes a version a valid image tag (git describe gives "v0.1.0-3-gabc-dirty").
func tag(v string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '-'
	}, v)
}

// report prints what a release note needs: the digest and the sizes.
func report(img v1.Image, out, archive string) error {
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	compressed, uncompressed, err := ociimage.Sizes(img)
	if err != nil {
		return err
	}
	fmt.Printf("image %s (%s/%s, user %s, entrypoint %v)\n", digest, cf.OS, cf.Architecture, cf.Config.User, cf.Config.Entrypoint)
	fmt.Printf("size: %s compressed (pulled), %s uncompressed, %d layers\n", mib(compressed), mib(uncompressed), len(cf.RootFS.DiffIDs))
	fmt.Printf("OCI layout: %s (tag %s)\n", out, cf.Config.Labels[ociimage.LabelVersion])
	if archive != "" {
		fmt.Printf("docker-archive: %s\n", archive)
	}
	return nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB (%d bytes)", float64(n)/(1<<20), n) }
