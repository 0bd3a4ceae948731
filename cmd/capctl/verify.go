package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/capcenter/capcenter/capabilities/signature"
	"github.com/capcenter/capcenter/client"
)

type verifyOptions struct {
	global *globalOptions
}

func newVerifyCmd(s streams, g *globalOptions) *cobra.Command {
	o := &verifyOptions{global: g}
	cmd := &cobra.Command{
		Use:   "verify NAME[@VERSION]",
		Short: "Verify a version's signatures against your trust policy",
		Long: `Verify resolves the version to its manifest digest once, fetches that
digest's Notary Project signatures and checks them against the first rule of
your trust policy that matches the name: a signature chaining to one of the
rule's registry certificates is required, and one chaining to its author
certificates too when the rule says so. Each signature that fails is listed
with the reason. It exits non-zero unless the version verifies.`,
		Example: "  capctl verify webservice\n  capctl verify acme/gateway@1.4.0 --trust-policy ./trust.yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args[0])
		},
	}
	return cmd
}

func (o *verifyOptions) run(ctx context.Context, s streams, ref string) error {
	name, version, err := client.ParseRef(ref)
	if err != nil {
		return err
	}
	policy, err := o.global.policy()
	if err != nil {
		return err
	}
	c, err := o.global.dial(s)
	if err != nil {
		return err
	}
	defer c.Close()
	v, err := c.Verify(ctx, name, version, policy)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "Verified %s (%s) under trust rule %q\n", client.Ref(name, v.Version), v.Manifest.Digest, v.Result.Rule)
	writeVerified(s, "registry", v.Result.Registry)
	writeVerified(s, "author", v.Result.Authors)
	return nil
}

func writeVerified(s streams, role string, vs []signature.Verified) {
	for _, v := range vs {
		fmt.Fprintf(s.out, "  %-8s %s, SHA-256 %s, signed %s\n", role, v.Signer, v.Fingerprint, v.SignedAt.UTC().Format(time.RFC3339))
	}
}
