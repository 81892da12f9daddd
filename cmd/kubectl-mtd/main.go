// Command kubectl-mtd is the `kubectl mtd` plugin: put it on PATH and kubectl finds it.
// It answers an on-call person's questions from mtd-operator's objects (status, why a
// device is blocked) and gives an approver's decision on a remediation's plan
// (approve, deny). See docs/kubectl-mtd.md.
package main

import (
	"os"

	"github.com/mtd-operator/mtd-operator/internal/mtdctl"
)

// version is stamped at build time (-ldflags "-X main.version=..."), as the manager's is.
var version = "dev"

func main() {
	mtdctl.Version = version
	os.Exit(mtdctl.Main(os.Args[1:], os.Stdout, os.Stderr))
}
