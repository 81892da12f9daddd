package image

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// unpack writes the image's flattened file system into dir, with the layers' modes and
// owners, as a container runtime's snapshotter would. Only the entry types the image
// may hold are accepted: anything else in a layer fails the test's build.
func unpack(img v1.Image, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := unpackEntry(tr, h, dir); err != nil {
			return err
		}
	}
}

func unpackEntry(r io.Reader, h *tar.Header, dir string) error {
	name := filepath.Clean("/" + h.Name)
	if strings.Contains(h.Name, "..") {
		return fmt.Errorf("layer entry %q leaves the root", h.Name)
	}
	target := filepath.Join(dir, name)
	mode := os.FileMode(h.Mode).Perm()
	if h.Mode&0o1000 != 0 {
		mode |= os.ModeSticky
	}
	switch h.Typeflag {
	case tar.TypeDir:
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
	case tar.TypeReg:
		f, err := os.OpenFile(target, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("layer entry %s has type %q, which the image should not hold", h.Name, h.Typeflag)
	}
	if err := os.Chown(target, h.Uid, h.Gid); err != nil {
		return err
	}
	// After chown, which clears set-id bits; chmod sets the sticky bit MkdirAll cannot.
	return os.Chmod(target, mode)
}
