package main

import (
	"context"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// streams are where a command reads and writes; tests pass buffers.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// run executes capctl with args and returns the command's error.
func run(ctx context.Context, args []string, s streams) error {
	root := newRootCmd(s)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		return untrustedHint(err)
	}
	return nil
}

func newRootCmd(s streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "capctl",
		Short: "Author, check, render and pack Kubernetes platform capabilities",
		Long: `capctl works with capability bundles: KubeVela / OAM X-Definitions (a CUE
template) with the controller manifests they need, versioned as OCI artifacts.
init, import, lint, schema, pack and render work on bundle folders offline;
push, pull, search, show, versions, yank, deprecate, sign, verify, trust,
resolve, lock and render NAME[@VERSION] talk to a capcenter registry (--server, or $` + serverEnv + `),
over TLS with --ca or --tls, sending --token when the registry asks for one.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	g := &globalOptions{}
	root.PersistentFlags().StringVar(&g.server, "server", defaultServerAddress(),
		"the registry's gRPC `address` (env "+serverEnv+")")
	root.PersistentFlags().StringVar(&g.trustPolicy, "trust-policy", "",
		"the trust policy `file` verify and pull use (env "+trustPolicyEnv+"; default $XDG_CONFIG_HOME/capcenter/trust.yaml)")
	root.PersistentFlags().StringVar(&g.ca, "ca", os.Getenv(caEnv),
		"connect over TLS, verifying the registry with the PEM CA certificates in `file` (env "+caEnv+")")
	root.PersistentFlags().BoolVar(&g.tls, "tls", false,
		"connect over TLS, verifying the registry with the system's CAs (env "+tlsEnv+"); --ca implies it")
	root.PersistentFlags().StringVar(&g.token, "token", "",
		"the bearer `token` to send with every call (env "+tokenEnv+"); sent only over TLS or to a loopback address, never printed")
	g.tlsGiven = func() bool { return root.PersistentFlags().Changed("tls") }
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.AddCommand(
		newInitCmd(s),
		newLintCmd(s),
		newRenderCmd(s, g),
		newSchemaCmd(s),
		newPackCmd(s),
		newImportCmd(s),
		newPushCmd(s, g),
		newPullCmd(s, g),
		newSearchCmd(s, g),
		newShowCmd(s, g),
		newVersionsCmd(s, g),
		newYankCmd(s, g),
		newDeprecateCmd(s, g),
		newSignCmd(s, g),
		newVerifyCmd(s, g),
		newTrustCmd(s, g),
		newResolveCmd(s, g),
		newLockCmd(s, g),
		newInstallCmd(s, g),
		newUpgradeCmd(s, g),
		newDiffCmd(s, g),
		newUninstallCmd(s),
		newListCmd(s),
	)
	return root
}
