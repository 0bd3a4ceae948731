package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/capcenter/capcenter/capabilities/signature"
)

// user is someone running capctl against one capd with their own trust
// policy file.
type user struct {
	e      *env
	server string
	policy string
}

func (u *user) capctl(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	stdout, stderr, code, err := run(t.Context(), u.e.capctl, append([]string{"--server", u.server, "--trust-policy", u.policy}, args...)...)
	if err != nil {
		t.Fatalf("capctl %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return stdout, stderr, code
}

func (u *user) mustCapctl(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, code := u.capctl(t, args...)
	if code != 0 {
		t.Fatalf("capctl %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// mustCapd runs a capd sub-command (keys init, keys rotate) to its end.
func mustCapd(t *testing.T, e *env, args ...string) string {
	t.Helper()
	out, errOut, code, err := run(t.Context(), e.capd, args...)
	if err != nil || code != 0 {
		t.Fatalf("capd %s: exit %d, %v\n%s%s", strings.Join(args, " "), code, err, out, errOut)
	}
	return out
}

// readCert reads the first certificate of a PEM file.
func readCert(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := signature.ParseCertificates(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return signature.Fingerprint(certs[0])
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSigning walks the trust story with the real binaries: capd makes
// its keys and signs what it publishes; a user trusts its CA with capctl
// trust fetch; verify and pull check signatures; the real notation CLI
// verifies the OCI layout capctl exports; an author co-signs with keys of
// their own; a policy requiring another author refuses; after capd keys
// rotate, new versions carry the new key and old signatures still verify;
// content tampered with on capd's disk is refused and nothing is written.
func TestSigning(t *testing.T) {
	t.Parallel()
	e := binaries(t)
	data := t.TempDir()
	d := startCapd(t, data, "--log-level", "warn")
	u := &user{e: e, server: d.grpc, policy: filepath.Join(t.TempDir(), "capcenter", "trust.yaml")}
	caFP := readCert(t, filepath.Join(data, "keys", "ca.crt"))
	firstFP := readCert(t, filepath.Join(data, "keys", "signing.crt"))

	u.mustCapctl(t, "push", builtinDir(e, "webservice"))
	if out := u.mustCapctl(t, "trust", "fetch", "--yes"); !strings.Contains(out, caFP) {
		t.Fatalf("trust fetch does not show capd's CA fingerprint %s:\n%s", caFP, out)
	}
	if out := u.mustCapctl(t, "verify", "webservice@1.0.0"); !strings.Contains(out, "registry CN=capd signing") || !strings.Contains(out, firstFP) {
		t.Errorf("verify printed %q", out)
	}

	layout := filepath.Join(t.TempDir(), "layout")
	u.mustCapctl(t, "pull", "webservice@1.0.0", "--oci-layout", layout)
	digest := taggedDigest(t, layout, "1.0.0")
	t.Run("notation verifies", func(t *testing.T) {
		trusted := notationVerify(t, e, layout, digest, filepath.Join(data, "keys", "ca.crt"))
		if trusted.code != 0 || !strings.Contains(trusted.out, "Successfully verified") {
			t.Errorf("notation verify with capd's CA trusted: exit %d\n%s", trusted.code, trusted.out)
		}
		stranger := t.TempDir()
		mustCapd(t, e, "keys", "init", "--data", stranger)
		untrusted := notationVerify(t, e, layout, digest, filepath.Join(stranger, "keys", "ca.crt"))
		if untrusted.code == 0 || !strings.Contains(untrusted.out, "trusted") {
			t.Errorf("notation verify with another CA trusted: exit %d; want a failure about trust\n%s", untrusted.code, untrusted.out)
		}
		t.Logf("notation, trusting capd's CA:\n%s\nnotation, trusting another CA:\n%s", trusted.out, untrusted.out)
	})

	t.Run("author co-signs", func(t *testing.T) {
		alice, mallory := t.TempDir(), t.TempDir()
		mustCapd(t, e, "keys", "init", "--data", alice)
		mustCapd(t, e, "keys", "init", "--data", mallory)
		registryCerts := filepath.Join(filepath.Dir(u.policy), "certs")
		entries, err := os.ReadDir(registryCerts)
		if err != nil || len(entries) != 1 {
			t.Fatalf("trust fetch saved %v (%v); want one file", entries, err)
		}
		strictPolicy := func(authorCA string) *user {
			p := filepath.Join(t.TempDir(), "trust.yaml")
			writeFile(t, p, "version: 1\nrules:\n  - name: strict\n    match: [\"**\"]\n"+
				"    registryCertificates: ["+filepath.Join(registryCerts, entries[0].Name())+"]\n"+
				"    authorCertificates: ["+authorCA+"]\n    requireAuthorSignature: true\n")
			return &user{e: e, server: d.grpc, policy: p}
		}
		wantAlice, wantMallory := strictPolicy(filepath.Join(alice, "keys", "ca.crt")), strictPolicy(filepath.Join(mallory, "keys", "ca.crt"))

		out, errOut, code := wantAlice.capctl(t, "verify", "webservice@1.0.0")
		if code == 0 || !strings.Contains(errOut, "requires an author signature") {
			t.Errorf("verify before alice signs: exit %d\n%s%s", code, out, errOut)
		}
		u.mustCapctl(t, "sign", "webservice@1.0.0", "--key", filepath.Join(alice, "keys", "signing.key"), "--cert", filepath.Join(alice, "keys", "signing.crt"))
		wantAlice.mustCapctl(t, "verify", "webservice@1.0.0")
		dir := filepath.Join(t.TempDir(), "out")
		wantAlice.mustCapctl(t, "pull", "webservice@1.0.0", "--dir", dir)

		refused := filepath.Join(t.TempDir(), "refused")
		out, errOut, code = wantMallory.capctl(t, "pull", "webservice@1.0.0", "--dir", refused)
		if code == 0 || !strings.Contains(errOut, "requires an author signature") {
			t.Errorf("pull requiring mallory's signature: exit %d\n%s%s", code, out, errOut)
		}
		if _, err := os.Stat(refused); err == nil {
			t.Error("a refused pull created its folder")
		}
		if out := u.mustCapctl(t, "show", "webservice@1.0.0"); !strings.Contains(out, "author") || !strings.Contains(out, readCert(t, filepath.Join(alice, "keys", "signing.crt"))) {
			t.Errorf("show does not list alice's signature:\n%s", out)
		}
	})

	// capd restarts below belong to the whole test, not to one subtest.
	parent := t
	t.Run("rotation", func(t *testing.T) {
		if err := d.stop(); err != nil {
			t.Fatalf("stopping capd: %v", err)
		}
		mustCapd(t, e, "keys", "rotate", "--data", data)
		secondFP := readCert(t, filepath.Join(data, "keys", "signing.crt"))
		d = startCapd(parent, data, "--log-level", "warn")
		u.server = d.grpc
		u.mustCapctl(t, "push", builtinDir(e, "worker"))
		if out := u.mustCapctl(t, "verify", "worker@1.0.0"); !strings.Contains(out, secondFP) {
			t.Errorf("a version published after rotation is not signed by the new key %s:\n%s", secondFP, out)
		}
		if out := u.mustCapctl(t, "verify", "webservice@1.0.0"); !strings.Contains(out, firstFP) {
			t.Errorf("the signature by the retired key no longer verifies:\n%s", out)
		}
		if out := u.mustCapctl(t, "trust", "fetch", "--yes"); !strings.Contains(out, firstFP) || !strings.Contains(out, secondFP) {
			t.Errorf("capd no longer publishes the retired certificate:\n%s", out)
		}
	})

	t.Run("tampered content", func(t *testing.T) {
		if err := d.stop(); err != nil {
			t.Fatalf("stopping capd: %v", err)
		}
		tamperLastLayer(t, data, layout, digest)
		d = startCapd(parent, data, "--log-level", "error")
		u.server = d.grpc
		dir := filepath.Join(t.TempDir(), "out")
		out, errOut, code := u.capctl(t, "pull", "webservice@1.0.0", "--dir", dir)
		if code == 0 || !strings.Contains(errOut, "does not match its digest") {
			t.Errorf("pull of a tampered layer: exit %d\n%s%s", code, out, errOut)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Error("a refused pull created its folder")
		}
	})
}

// taggedDigest returns the digest tagged tag in an OCI layout.
func taggedDigest(t *testing.T, layout, tag string) string {
	t.Helper()
	var index ocispec.Index
	raw, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err == nil {
		err = json.Unmarshal(raw, &index)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range index.Manifests {
		if m.Annotations[ocispec.AnnotationRefName] == tag {
			return m.Digest.String()
		}
	}
	t.Fatalf("%s has no tag %s: %s", layout, tag, raw)
	return ""
}

// tamperLastLayer flips a byte of the last layer of manifest dgst (found
// in an OCI layout exported from capd) in the content store of the capd
// data folder data, as a compromised disk would; capd must be stopped.
func tamperLastLayer(t *testing.T, data, layout, dgst string) {
	t.Helper()
	path := filepath.Join(data, "content", "blobs", "sha256", lastLayer(t, layout, dgst).Encoded())
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0x20
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// lastLayer returns the digest of the last layer of manifest dgst in an
// OCI layout.
func lastLayer(t *testing.T, layout, dgst string) digestString {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(layout, "blobs", "sha256", strings.TrimPrefix(dgst, "sha256:")))
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return digestString(m.Layers[len(m.Layers)-1].Digest)
}

type digestString string

func (d digestString) Encoded() string { return strings.TrimPrefix(string(d), "sha256:") }

type result struct {
	out  string
	code int
}

// notationEnv writes a notation configuration of its own, whose trust
// store holds caFile as its one CA and whose trust policy trusts it for
// every scope (notation v1.3.2 reads trustpolicy.json for registries and
// OCI layouts alike), and returns the environment that points notation at
// it, with HOME and the cache kept in the test's folder too.
func notationEnv(t *testing.T, caFile string) []string {
	t.Helper()
	home := t.TempDir()
	config := filepath.Join(home, "config")
	writeFile(t, filepath.Join(config, "truststore", "x509", "ca", "capd", "capd.crt"), string(readFile(t, caFile)))
	writeFile(t, filepath.Join(config, "trustpolicy.json"), `{
  "version": "1.0",
  "trustPolicies": [{
    "name": "capd",
    "registryScopes": ["*"],
    "signatureVerification": {"level": "strict"},
    "trustStores": ["ca:capd"],
    "trustedIdentities": ["*"]
  }]
}`)
	return []string{
		"HOME=" + home, "NOTATION_CONFIG=" + config, "NOTATION_CACHE=" + filepath.Join(home, "cache"),
		"PATH=" + os.Getenv("PATH"),
	}
}

// notationVerify runs the real notation CLI on layout@dgst with caFile as
// the one CA of its trust store, in a configuration folder of its own.
func notationVerify(t *testing.T, e *env, layout, dgst, caFile string) result {
	t.Helper()
	notation := e.tool(t, "notation")
	// NOTATION_EXPERIMENTAL turns on --oci-layout.
	environ := append(notationEnv(t, caFile), "NOTATION_EXPERIMENTAL=1")
	// An OCI layout has no registry name; --scope gives it one for the
	// trust policy's registryScopes.
	out, errOut, code, err := runEnv(t.Context(), environ, notation, "verify", "--oci-layout", layout+"@"+dgst, "--scope", "local/capcenter", "-v")
	if err != nil {
		t.Fatalf("notation verify: %v\n%s", err, errOut)
	}
	return result{out: out + errOut, code: code}
}
