package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/capcenter/capcenter/capabilities/signature"
	"github.com/capcenter/capcenter/server/servertest"
)

// capctlIn runs capctl with stdin in.
func capctlIn(t *testing.T, in string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, streams{in: strings.NewReader(in), out: &out, err: &out})
	return out.String(), err
}

// writeKeys writes a key pair as PEM files and returns their paths.
func writeKeys(t *testing.T, kp *signature.KeyPair) (key, cert string) {
	t.Helper()
	dir := t.TempDir()
	pemKey, err := signature.EncodeKey(kp.Key)
	if err != nil {
		t.Fatal(err)
	}
	key, cert = filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(key, pemKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cert, signature.EncodeCertificates(kp.Chain...), 0o644); err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func TestTrustFetchAsksThenSaves(t *testing.T) {
	t.Parallel()
	r := mustServeRegistry(t)
	mustCapctl(t, "--server", r.Addr, "push", builtin("webservice"))
	policy := filepath.Join(t.TempDir(), "capcenter", "trust.yaml")
	fp := signature.Fingerprint(r.CA.Root())

	out, err := capctlIn(t, "n\n", "--server", r.Addr, "--trust-policy", policy, "trust", "fetch")
	if err == nil || !strings.Contains(out, fp) {
		t.Fatalf("trust fetch answered no: err %v, output %q; want an error after showing %s", err, out, fp)
	}
	if _, err := os.Stat(filepath.Dir(policy)); err == nil {
		t.Error("trust fetch answered no wrote files")
	}
	out, err = capctlIn(t, "y\n", "--server", r.Addr, "--trust-policy", policy, "trust", "fetch")
	if err != nil || !strings.Contains(out, "Wrote "+policy) {
		t.Fatalf("trust fetch answered yes: %v\n%s", err, out)
	}
	out = mustCapctl(t, "--server", r.Addr, "--trust-policy", policy, "verify", "webservice")
	if !strings.Contains(out, "Verified webservice@1.0.0") || !strings.Contains(out, signature.Fingerprint(r.Signing.Leaf())) {
		t.Errorf("verify with the fetched policy printed %q", out)
	}
	before, _ := os.ReadFile(policy)
	out = mustCapctl(t, "--server", r.Addr, "--trust-policy", policy, "trust", "fetch", "--yes")
	after, _ := os.ReadFile(policy)
	if !bytes.Equal(before, after) || !strings.Contains(out, "left as it is") {
		t.Errorf("a second fetch changed the existing policy or did not say so: %q", out)
	}
}

func TestSignThenVerifyWithAuthorsRequired(t *testing.T) {
	t.Parallel()
	r := mustServeRegistry(t)
	mustCapctl(t, "--server", r.Addr, "push", builtin("webservice"))
	authorCA, author := servertest.NewKeys(t, "alice")
	strict := r.WritePolicy(t, true, authorCA)

	_, err := capctl(t, "--server", r.Addr, "--trust-policy", strict, "verify", "webservice@1.0.0")
	if err == nil || !strings.Contains(err.Error(), "requires an author signature") {
		t.Fatalf("verify before signing: %v; want a missing author signature", err)
	}
	key, cert := writeKeys(t, author)
	out := mustCapctl(t, "--server", r.Addr, "sign", "webservice@1.0.0", "--key", key, "--cert", cert)
	if !strings.Contains(out, "Signed webservice@1.0.0 as CN=alice") {
		t.Errorf("sign printed %q", out)
	}
	out = mustCapctl(t, "--server", r.Addr, "--trust-policy", strict, "verify", "webservice@1.0.0")
	if !strings.Contains(out, "author   CN=alice") || !strings.Contains(out, "registry CN=test registry") {
		t.Errorf("verify printed %q; want the registry and alice", out)
	}
	out = mustCapctl(t, "--server", r.Addr, "show", "webservice@1.0.0")
	if !strings.Contains(out, "Signatures (") || !strings.Contains(out, signature.Fingerprint(author.Leaf())) {
		t.Errorf("show lacks the signatures:\n%s", out)
	}
	if _, err := capctl(t, "--server", r.Addr, "sign", "webservice@1.0.0", "--key", key, "--cert", key); err == nil || !strings.Contains(err.Error(), "key.pem") {
		t.Errorf("sign with a key as --cert: %v; want an error naming the file", err)
	}
}

func TestPullWritesNothingUnverified(t *testing.T) {
	t.Parallel()
	r := mustServeRegistry(t)
	mustCapctl(t, "--server", r.Addr, "push", builtin("webservice"))
	strangerCA, _ := servertest.NewKeys(t, "stranger")
	other := servertest.Registry{CA: strangerCA}
	untrusted := other.WritePolicy(t, false)
	authorCA, _ := servertest.NewKeys(t, "alice")
	strict := r.WritePolicy(t, true, authorCA)

	for _, tc := range []struct {
		name, policy, say string
	}{
		{"untrusted registry", untrusted, "does not contain any trusted certificate"},
		{"author required", strict, "requires an author signature"},
		{"no policy", filepath.Join(t.TempDir(), "none.yaml"), "capctl trust fetch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "out")
			layout := filepath.Join(t.TempDir(), "layout")
			for _, target := range [][]string{{"--dir", dir}, {"--oci-layout", layout}} {
				args := append([]string{"--server", r.Addr, "--trust-policy", tc.policy, "pull", "webservice"}, target...)
				if _, err := capctl(t, args...); err == nil || !strings.Contains(err.Error(), tc.say) {
					t.Errorf("pull %v: %v; want an error saying %q", target, err, tc.say)
				}
			}
			for _, p := range []string{dir, layout} {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("a refused pull created %s", p)
				}
			}
		})
	}

	dir := filepath.Join(t.TempDir(), "out")
	out := mustCapctl(t, "--server", r.Addr, "--trust-policy", untrusted, "pull", "webservice", "--dir", dir, "--insecure-skip-verify")
	if !strings.Contains(out, "WARNING: --insecure-skip-verify") || !strings.Contains(out, "Pulled webservice@1.0.0") {
		t.Errorf("pull --insecure-skip-verify printed %q; want a warning, then the pull", out)
	}
}

func TestPullOCILayoutHoldsTheSignatures(t *testing.T) {
	t.Parallel()
	r := mustServeRegistry(t)
	digest := rows(mustCapctl(t, "--server", r.Addr, "push", builtin("webservice")))[0][1]
	layout := filepath.Join(t.TempDir(), "layout")
	out := mustCapctl(t, "--server", r.Addr, "--trust-policy", r.WritePolicy(t, false), "pull", "webservice", "--oci-layout", layout)
	if !strings.Contains(out, "and 1 signature(s) into the OCI layout") {
		t.Errorf("pull --oci-layout printed %q", out)
	}
	raw, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var index ocispec.Index
	if err := json.Unmarshal(raw, &index); err != nil {
		t.Fatal(err)
	}
	var tagged, signatures int
	for _, m := range index.Manifests {
		if m.Digest.String() == digest && m.Annotations[ocispec.AnnotationRefName] == "1.0.0" {
			tagged++
		}
		if m.ArtifactType == signature.ArtifactType {
			signatures++
		}
	}
	if tagged != 1 || signatures != 1 {
		t.Errorf("index.json = %s; want the bundle tagged 1.0.0 and one signature manifest", raw)
	}
}

func TestTrustFetchKeepsOtherSavedCertificates(t *testing.T) {
	t.Parallel()
	r := mustServeRegistry(t)
	policy := filepath.Join(t.TempDir(), "trust.yaml")
	mustCapctl(t, "--server", r.Addr, "--trust-policy", policy, "trust", "fetch", "--yes")
	saved := filepath.Join(filepath.Dir(policy), "certs", safeFileName(r.Addr)+".pem")
	before, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	// Another registry answering at the same address, with another CA.
	other := mustServeRegistry(t)
	if err := os.Rename(saved, saved+".keep"); err != nil {
		t.Fatal(err)
	}
	mustCapctl(t, "--server", other.Addr, "--trust-policy", policy, "trust", "fetch", "--yes")
	otherSaved := filepath.Join(filepath.Dir(policy), "certs", safeFileName(other.Addr)+".pem")
	if err := os.Rename(otherSaved, saved); err != nil {
		t.Fatal(err)
	}
	_, err = capctl(t, "--server", r.Addr, "--trust-policy", policy, "trust", "fetch", "--yes")
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("fetch over a file holding another CA: %v; want a refusal pointing at --force", err)
	}
	mustCapctl(t, "--server", r.Addr, "--trust-policy", policy, "trust", "fetch", "--yes", "--force")
	if after, _ := os.ReadFile(saved); !bytes.Equal(before, after) {
		t.Error("fetch --force did not save the registry's CA")
	}
}
