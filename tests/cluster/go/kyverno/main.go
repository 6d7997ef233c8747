// Kyverno's CLI (`kyverno apply`, `kyverno test`), built from its module at the release pinned
// in go.mod, to judge the Kyverno ClusterPolicy `aaprof policy` writes. Its cold build does not
// fit CI's time budget (docs/cluster.md): tests/cluster/build-go.sh kyverno builds it by hand.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno/commands"
	"github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno/commands/apply"
	"github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno/experimental"
	"github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno/log"
)

func main() {
	cmd := commands.RootCommand(experimental.IsEnabled())
	if err := log.Configure(); err != nil {
		fmt.Fprintln(os.Stderr, "kyverno: logging:", err)
		os.Exit(1)
	}
	cmd.PersistentFlags().AddGoFlagSet(flag.CommandLine)
	if err := cmd.Execute(); err != nil {
		if e, ok := err.(apply.WarnExitCodeError); ok {
			os.Exit(e.ExitCode)
		}
		os.Exit(1)
	}
}
