package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/capcenter/capcenter/capabilities/signature"
	"github.com/capcenter/capcenter/client"
)

type signOptions struct {
	global    *globalOptions
	key, cert string
}

func newSignCmd(s streams, g *globalOptions) *cobra.Command {
	o := &signOptions{global: g}
	cmd := &cobra.Command{
		Use:   "sign NAME@VERSION --key KEY --cert CHAIN",
		Short: "Co-sign a published version as its author",
		Long: `Sign signs the manifest digest of a published version with your key, here,
and uploads the Notary Project signature, which the registry keeps as an OCI
referrer next to its own. The key never leaves this machine. --cert is the
PEM chain of the key's certificate, leaf first, ending with the root CA that
users trust for authors (authorCertificates in their trust policy).`,
		Example: "  capctl sign acme/gateway@1.4.0 --key acme.key --cert acme.crt",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args[0])
		},
	}
	cmd.Flags().StringVar(&o.key, "key", "", "the PEM private `file` to sign with")
	cmd.Flags().StringVar(&o.cert, "cert", "", "the PEM certificate chain `file` of --key")
	_ = cmd.MarkFlagRequired("key")
	_ = cmd.MarkFlagRequired("cert")
	return cmd
}

func (o *signOptions) run(ctx context.Context, s streams, ref string) error {
	name, version, err := parseExactRef(ref)
	if err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(o.key)
	if err != nil {
		return fmt.Errorf("--key: %w", err)
	}
	certPEM, err := os.ReadFile(o.cert)
	if err != nil {
		return fmt.Errorf("--cert: %w", err)
	}
	kp, err := signature.ParseKeyPair(keyPEM, o.key, certPEM, o.cert)
	if err != nil {
		return err
	}
	signer, err := signature.NewSigner(kp)
	if err != nil {
		return err
	}
	c, err := o.global.dial(s)
	if err != nil {
		return err
	}
	defer c.Close()
	sig, err := c.Sign(ctx, name, version, signer)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "Signed %s as %s\n  fingerprint %s\n  signature   %s\n",
		client.Ref(name, version), sig.GetSigner(), sig.GetFingerprint(), sig.GetDigest())
	return nil
}
