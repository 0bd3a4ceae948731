package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/capcenter/capcenter/capabilities/signature"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

// trustPolicyEnv overrides the default trust policy path.
const trustPolicyEnv = "CAPCENTER_TRUST_POLICY"

// policyPath is --trust-policy, else $CAPCENTER_TRUST_POLICY, else the
// default under the user's config folder.
func (g *globalOptions) policyPath() (string, error) {
	if g.trustPolicy != "" {
		return g.trustPolicy, nil
	}
	if p := os.Getenv(trustPolicyEnv); p != "" {
		return p, nil
	}
	p, err := signature.DefaultPolicyPath()
	if err != nil {
		return "", fmt.Errorf("trust policy: %w; pass --trust-policy", err)
	}
	return p, nil
}

// policy loads the trust policy. A missing file fails with a message that
// says how to create one.
func (g *globalOptions) policy() (*signature.Policy, error) {
	path, err := g.policyPath()
	if err != nil {
		return nil, err
	}
	p, err := signature.LoadPolicy(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no trust policy at %s (%w): run `capctl trust fetch` to trust this registry's certificates, or pass --trust-policy", path, fs.ErrNotExist)
	}
	return p, err
}

func newTrustCmd(s streams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trust",
		Short: "Manage whom capctl trusts to sign capabilities",
		Long: `capctl verifies the Notary Project signatures of every version it pulls
against a trust policy: a YAML file (default ` + "`$XDG_CONFIG_HOME/capcenter/trust.yaml`" + `,
or --trust-policy, or $` + trustPolicyEnv + `) whose rules name, per capability
name pattern, the CA certificates trusted for the registry's signature and for
authors' co-signatures, and whether an author signature is required.`,
	}
	cmd.AddCommand(newTrustFetchCmd(s, g))
	return cmd
}

type trustFetchOptions struct {
	global *globalOptions
	yes    bool
	force  bool
}

func newTrustFetchCmd(s streams, g *globalOptions) *cobra.Command {
	o := &trustFetchOptions{global: g}
	cmd := &cobra.Command{
		Use:   "fetch",
		Short: "Save the registry's CA certificates after you confirm their fingerprints",
		Long: `Fetch asks the registry for the certificates it signs with and prints the
SHA-256 fingerprints of the root CAs among them. Compare them with what the
registry's operator published (capd prints them on ` + "`capd keys init`" + `):
the fetch itself travels over the same connection it is meant to secure.
Once you confirm (or pass --yes), the roots are saved next to the trust
policy, under certs/, and a policy trusting them for every capability is
written when there is none yet; an existing policy is left for you to edit.`,
		Example: "  capctl trust fetch\n  capctl --server registry.example:9460 trust fetch --yes",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), s)
		},
	}
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "trust the fingerprints without asking")
	cmd.Flags().BoolVar(&o.force, "force", false, "replace a saved certificate file that holds other certificates")
	return cmd
}

func (o *trustFetchOptions) run(ctx context.Context, s streams) error {
	path, err := o.global.policyPath()
	if err != nil {
		return err
	}
	c, err := o.global.dial(s)
	if err != nil {
		return err
	}
	defer c.Close()
	certs, err := c.Certificates(ctx)
	if err != nil {
		return err
	}
	roots, err := rootsOf(certs)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "Registry %s signs with:\n", o.global.server)
	for _, cert := range certs {
		role := "signing"
		if cert.GetCurrent() {
			role = "signing (current)"
		}
		if cert.GetCa() {
			continue // listed from the parsed certificates below
		}
		fmt.Fprintf(s.out, "  %-18s %s\n  %-18s SHA-256 %s, valid until %s\n", role, cert.GetSubject(), "", cert.GetFingerprint(), formatTime(cert.GetNotAfter()))
	}
	for _, r := range roots {
		fmt.Fprintf(s.out, "  %-18s %s\n  %-18s SHA-256 %s, valid until %s\n", "root CA", r.Subject, "", signature.Fingerprint(r), r.NotAfter.UTC().Format(time.RFC3339))
	}
	pem := signature.EncodeCertificates(roots...)
	if !o.yes && !confirm(s, "Trust the root CA fingerprints above for this registry's signatures? [y/N] ") {
		return errors.New("not trusted: nothing was saved")
	}
	dir := filepath.Dir(path)
	certFile := filepath.Join("certs", safeFileName(o.global.server)+".pem")
	if err := os.MkdirAll(filepath.Join(dir, "certs"), 0o755); err != nil {
		return err
	}
	certPath := filepath.Join(dir, certFile)
	if old, err := os.ReadFile(certPath); err == nil && !bytes.Equal(old, pem) && !o.force {
		return fmt.Errorf("%s already holds other certificates (%s), which policies may trust: pass --force to replace them", certPath, fingerprints(old))
	}
	if err := os.WriteFile(certPath, pem, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "Saved %d root certificate(s) to %s\n", len(roots), certPath)
	if _, err := os.Stat(path); err == nil {
		fmt.Fprintf(s.out, "%s exists and was left as it is: list %s under registryCertificates of the rules that should trust this registry.\n", path, certFile)
		return nil
	}
	policy := fmt.Sprintf(`# capcenter trust policy: whom capctl trusts to sign capabilities.
# Written by capctl trust fetch for %q on %s.
# The first rule whose match patterns fit a capability name applies.
version: 1
rules:
  - name: default
    match: ["**"]
    registryCertificates: [%s]
    # authorCertificates: [certs/my-team-ca.pem]
    # requireAuthorSignature: true
`, o.global.server, time.Now().UTC().Format(time.DateOnly), certFile)
	if _, err := signature.ParsePolicy([]byte(policy), path, os.ReadFile); err != nil {
		return fmt.Errorf("the policy capctl would write does not parse: %w", err)
	}
	if err := os.WriteFile(path, []byte(policy), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "Wrote %s: every capability must carry a signature by this registry.\n", path)
	return nil
}

// rootsOf parses the root CA certificates of a registry's list: every
// certificate it marks as a CA must be a self-signed CA certificate whose
// fingerprint is the one stated. What is shown and saved comes from the
// parsed certificates, not from the registry's description of them.
func rootsOf(certs []*capcenterv1.Certificate) ([]*x509.Certificate, error) {
	var roots []*x509.Certificate
	for _, c := range certs {
		if !c.GetCa() {
			continue
		}
		parsed, err := signature.ParseCertificates([]byte(c.GetPem()))
		if err != nil || len(parsed) != 1 || signature.Fingerprint(parsed[0]) != c.GetFingerprint() {
			return nil, fmt.Errorf("the registry sent a root certificate (%s) that is not the certificate its fingerprint names", c.GetSubject())
		}
		root := parsed[0]
		if !root.IsCA || root.CheckSignatureFrom(root) != nil {
			return nil, fmt.Errorf("the registry sent %q as a root, but it is not a self-signed CA certificate", root.Subject)
		}
		roots = append(roots, root)
	}
	if len(roots) == 0 {
		return nil, errors.New("the registry lists no root CA certificate")
	}
	return roots, nil
}

// fingerprints lists the fingerprints of the certificates in PEM data, or
// says it does not parse.
func fingerprints(data []byte) string {
	certs, err := signature.ParseCertificates(data)
	if err != nil {
		return "not PEM certificates"
	}
	fps := make([]string, len(certs))
	for i, c := range certs {
		fps[i] = "SHA-256 " + signature.Fingerprint(c)
	}
	return strings.Join(fps, ", ")
}

// confirm asks question on s.out and reads one line from s.in: true only
// for "y" or "yes".
func confirm(s streams, question string) bool {
	fmt.Fprint(s.out, question)
	line, _ := bufio.NewReader(s.in).ReadString('\n')
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes"
}

// safeFileName turns a server address into a file name.
func safeFileName(addr string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, addr)
}
