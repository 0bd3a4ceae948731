package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"

	"github.com/capcenter/capcenter/capabilities"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

// toolTimeout bounds every invocation of oras, crane, skopeo, notation
// and capctl in the OCI tests.
const toolTimeout = time.Minute

// ociCapability is the built-in the client tests pull through /v2/: the
// one with the most layers (capability.yaml, README.md and four manifest
// files, three of them in a sub-folder).
const ociCapability = "rollout-controller"

// Media types the tests look for in what the clients print.
const (
	notarySignature = "application/vnd.cncf.notary.signature"
	thingType       = "application/vnd.example.thing.v1"
)

// requireV2 fails t unless capd answers GET /v2/ with 200, and returns the
// host:port its /v2/ API is at.
func requireV2(t *testing.T, d *capd) string {
	t.Helper()
	status, body, err := get(t.Context(), d.http, "/v2/", nil)
	if err != nil || status != http.StatusOK {
		t.Fatalf("capd does not serve the OCI distribution API: GET /v2/ = %d %q, %v", status, body, err)
	}
	return strings.TrimPrefix(d.http, "http://")
}

// readFile reads path; it fails t when it cannot.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// ociTool runs an OCI client with a bounded time and returns its output; it
// fails t when the client cannot run at all.
func ociTool(t *testing.T, environ []string, bin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), toolTimeout)
	defer cancel()
	stdout, stderr, code, err := runEnv(ctx, environ, bin, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, stdout, stderr)
	}
	return result{out: stdout + stderr, code: code}
}

// mustTool is ociTool for a run that must succeed; it returns stdout.
func mustTool(t *testing.T, environ []string, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), toolTimeout)
	defer cancel()
	stdout, stderr, code, err := runEnv(ctx, environ, bin, args...)
	if err != nil || code != 0 {
		t.Fatalf("%s %s: exit %d, %v\n%s%s", filepath.Base(bin), strings.Join(args, " "), code, err, stdout, stderr)
	}
	return stdout
}

// skopeo returns the path of skopeo, which `make test` installs with
// hack/apt.sh; it fails t when it is not on PATH.
func skopeo(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("skopeo")
	if err != nil {
		t.Fatalf("skopeo is not on PATH: run hack/apt.sh (make test does): %v", err)
	}
	return path
}

// restVersion reads a version over REST; version may be "latest".
func restVersion(t *testing.T, d *capd, name, version string) *capcenterv1.Version {
	t.Helper()
	var v capcenterv1.Version
	if err := getProto(t.Context(), d.http, "/v1/capabilities/"+name+"/versions/"+version, nil, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

// restSignatures lists a version's signatures over REST.
func restSignatures(t *testing.T, d *capd, name, version string) *capcenterv1.ListSignaturesResponse {
	t.Helper()
	var s capcenterv1.ListSignaturesResponse
	if err := getProto(t.Context(), d.http, "/v1/capabilities/"+name+"/versions/"+version+"/signatures", nil, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// catalogNames lists every capability name in capd's catalog over REST.
func catalogNames(t *testing.T, d *capd) []string {
	t.Helper()
	all, err := listAll(t.Context(), d.http, nil, 1000)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(all))
	for _, c := range all {
		names = append(names, c.GetCapability())
	}
	return names
}

// discovered is what `oras discover --format json` prints.
type discovered struct {
	Digest    string `json:"digest"`
	Referrers []struct {
		Digest       string            `json:"digest"`
		ArtifactType string            `json:"artifactType"`
		Annotations  map[string]string `json:"annotations"`
	} `json:"referrers"`
}

// discover lists the referrers of ref through the referrers API.
func discover(t *testing.T, oras, ref string) discovered {
	t.Helper()
	out := mustTool(t, nil, oras, "discover", "--plain-http", "--distribution-spec", "v1.1-referrers-api", "--format", "json", ref)
	var d discovered
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("oras discover %s printed %q: %v", ref, out, err)
	}
	return d
}

// signatureDigests returns the digests of d's notary signatures, sorted.
func (d discovered) signatureDigests() []string {
	var out []string
	for _, r := range d.Referrers {
		if r.ArtifactType == notarySignature {
			out = append(out, r.Digest)
		}
	}
	slices.Sort(out)
	return out
}

// sigDigests returns the digests of a REST signature list, sorted.
func sigDigests(sigs []*capcenterv1.Signature) []string {
	out := make([]string, 0, len(sigs))
	for _, s := range sigs {
		out = append(out, s.GetDigest())
	}
	slices.Sort(out)
	return out
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// TestOCIClients reads a capd seeded with the built-ins through /v2/ with
// the real oras, crane, skopeo and notation: every client gets the manifest
// capd's REST API names, byte for byte, the bundle's files as its layers
// and capd's signature as a referrer that verifies. Content that is not a
// capability pushes and pulls, and stays out of the catalog.
func TestOCIClients(t *testing.T) {
	t.Parallel()
	e := binaries(t)
	data := t.TempDir()
	oras, crane := e.tool(t, "oras"), e.tool(t, "crane")
	d := startCapd(t, data, "--seed-builtin", "--log-level", "warn")
	host := requireV2(t, d)
	rv := restVersion(t, d, ociCapability, "latest")
	ref := host + "/" + ociCapability + ":" + rv.GetVersion()
	want := digest.Digest(rv.GetDigest())
	manifest := []byte(mustTool(t, nil, oras, "manifest", "fetch", "--plain-http", ref))

	t.Run("delete is off", func(t *testing.T) {
		status, body := deleteV2(t, host, ociCapability+"/manifests/"+rv.GetVersion())
		if status != http.StatusForbidden || !strings.Contains(string(body), "DENIED") || !strings.Contains(string(body), "--allow-delete") {
			t.Errorf("DELETE of a version without --allow-delete: %d %s; want 403 DENIED naming the flag", status, body)
		}
		if v := restVersion(t, d, ociCapability, rv.GetVersion()); v.GetDigest() != rv.GetDigest() {
			t.Errorf("after a refused delete the version reads %v", v)
		}
	})
	t.Run("oras manifest fetch", func(t *testing.T) {
		t.Parallel()
		if got := sha256Hex(manifest); got != want.String() {
			t.Errorf("oras manifest fetch %s: sha256 %s, capd's REST API says %s", ref, got, want)
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(manifest, &m); err != nil {
			t.Fatal(err)
		}
		if m.ArtifactType != capabilities.ArtifactType || len(m.Layers) < 2 || m.Layers[0].Annotations[ocispec.AnnotationTitle] != capabilities.MetadataFile {
			t.Errorf("the manifest of %s has artifactType %q and %d layers, the first %v", ref, m.ArtifactType, len(m.Layers), m.Layers)
		}
		latest := mustTool(t, nil, oras, "manifest", "fetch", "--plain-http", "--descriptor", host+"/"+ociCapability+":latest")
		if !strings.Contains(latest, want.String()) {
			t.Errorf("%s:latest is %s, want %s", ociCapability, latest, want)
		}
		tags := scanLines(mustTool(t, nil, oras, "repo", "tags", "--plain-http", host+"/"+ociCapability))
		if !slices.Contains(tags, rv.GetVersion()) || !slices.Contains(tags, "latest") {
			t.Errorf("oras repo tags %s: %v, want %s and latest", ociCapability, tags, rv.GetVersion())
		}
	})
	t.Run("oras pull", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "out")
		mustTool(t, nil, oras, "pull", "--plain-http", ref, "-o", dir)
		// capctl pull writes the source folder's files (TestEndToEnd): the
		// layers are those files, named by their title annotations.
		compareTrees(t, "oras pull "+ref, readTree(t, builtinDir(e, ociCapability)), readTree(t, dir))
	})
	t.Run("oras discover", func(t *testing.T) {
		t.Parallel()
		found := discover(t, oras, ref)
		sigs := restSignatures(t, d, ociCapability, rv.GetVersion())
		if found.Digest != want.String() || len(found.signatureDigests()) == 0 ||
			!slices.Equal(found.signatureDigests(), sigDigests(sigs.GetSignatures())) {
			t.Errorf("oras discover %s: subject %s, signatures %v; capd's REST API lists %v for %s",
				ref, found.Digest, found.signatureDigests(), sigDigests(sigs.GetSignatures()), want)
		}
	})
	t.Run("crane", func(t *testing.T) {
		t.Parallel()
		// crane speaks plain HTTP to 127.0.0.1 by itself; --insecure says so.
		if got := mustTool(t, nil, crane, "manifest", "--insecure", ref); got != string(manifest) {
			t.Errorf("crane manifest %s differs from oras manifest fetch:\n%s\nwant:\n%s", ref, got, manifest)
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(manifest, &m); err != nil {
			t.Fatal(err)
		}
		for _, l := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
			blob := mustTool(t, nil, crane, "blob", "--insecure", host+"/"+ociCapability+"@"+l.Digest.String())
			if got := sha256Hex([]byte(blob)); got != l.Digest.String() || int64(len(blob)) != l.Size {
				t.Errorf("crane blob %s: %d bytes, sha256 %s; want %d, %s", l.Digest, len(blob), got, l.Size, l.Digest)
			}
		}
	})
	t.Run("skopeo", func(t *testing.T) { testSkopeo(t, skopeo(t), ref, manifest) })
	t.Run("notation verify", func(t *testing.T) {
		t.Parallel()
		trusted := notationVerifyRemote(t, e, host+"/"+ociCapability+"@"+want.String(), filepath.Join(data, "keys", "ca.crt"))
		if trusted.code != 0 || !strings.Contains(trusted.out, "Successfully verified") {
			t.Errorf("notation verify through /v2/ with capd's CA trusted: exit %d\n%s", trusted.code, trusted.out)
		}
		stranger := t.TempDir()
		mustCapd(t, e, "keys", "init", "--data", stranger)
		untrusted := notationVerifyRemote(t, e, host+"/"+ociCapability+"@"+want.String(), filepath.Join(stranger, "keys", "ca.crt"))
		if untrusted.code == 0 {
			t.Errorf("notation verify through /v2/ with another CA trusted succeeded\n%s", untrusted.out)
		}
	})
	t.Run("not a capability", func(t *testing.T) {
		t.Parallel()
		testOtherContent(t, oras, d, host)
	})
}

// testSkopeo inspects ref with skopeo and copies it into an OCI layout.
func testSkopeo(t *testing.T, skopeo, ref string, manifest []byte) {
	t.Parallel()
	home := t.TempDir()
	// skopeo copy needs a signature policy: accept anything, its own file.
	policy := filepath.Join(home, "policy.json")
	writeFile(t, policy, `{"default":[{"type":"insecureAcceptAnything"}]}`)
	environ := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
	raw := mustTool(t, environ, skopeo, "inspect", "--raw", "--tls-verify=false", "docker://"+ref)
	if raw != string(manifest) {
		t.Errorf("skopeo inspect --raw %s differs from oras manifest fetch:\n%s\nwant:\n%s", ref, raw, manifest)
	}
	layout := filepath.Join(t.TempDir(), "layout")
	mustTool(t, environ, skopeo, "--policy", policy, "copy", "--src-tls-verify=false", "docker://"+ref, "oci:"+layout+":copied")
	if got := taggedDigest(t, layout, "copied"); got != sha256Hex(manifest) {
		t.Errorf("skopeo copy tagged %s, want %s", got, sha256Hex(manifest))
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		t.Fatal(err)
	}
	blobs := map[string]bool{sha256Hex(manifest): true}
	for _, l := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		blobs[l.Digest.String()] = true
	}
	entries, err := os.ReadDir(filepath.Join(layout, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	for _, entry := range entries {
		name := "sha256:" + entry.Name()
		if got := sha256Hex(readFile(t, filepath.Join(layout, "blobs", "sha256", entry.Name()))); got != name {
			t.Errorf("skopeo copy wrote blob %s holding %s", name, got)
		}
		if !blobs[name] {
			t.Errorf("skopeo copy wrote blob %s, which the manifest does not name", name)
		}
		delete(blobs, name)
	}
	for b := range blobs {
		t.Errorf("skopeo copy did not write blob %s", b)
	}
}

// testOtherContent pushes a file that is not a capability to mirror/thing
// through /v2/: it pulls back whole and never shows in the catalog.
func testOtherContent(t *testing.T, oras string, d *capd, host string) {
	before := catalogNames(t, d)
	ref := host + "/mirror/thing:v1"
	// oras names the layer by the path it is given, relative to the
	// package folder the test runs in.
	const file = "testdata/oci/thing.txt"
	mustTool(t, nil, oras, "push", "--plain-http", "--artifact-type", thingType, ref, file+":text/plain")
	dir := filepath.Join(t.TempDir(), "out")
	mustTool(t, nil, oras, "pull", "--plain-http", ref, "-o", dir)
	compareTrees(t, "oras pull "+ref, map[string][]byte{file: readFile(t, file)}, readTree(t, dir))
	m := mustTool(t, nil, oras, "manifest", "fetch", "--plain-http", ref)
	if !strings.Contains(m, thingType) {
		t.Errorf("oras manifest fetch %s: %s lacks its artifact type %s", ref, m, thingType)
	}
	after := catalogNames(t, d)
	if slices.ContainsFunc(after, func(n string) bool { return strings.Contains(n, "thing") }) || !slices.Equal(before, after) {
		t.Errorf("after pushing %s the catalog is %v; it was %v", ref, after, before)
	}
	if status, body, err := get(t.Context(), d.http, "/v1/capabilities/mirror/thing", nil); err != nil || status != http.StatusNotFound {
		t.Errorf("GET /v1/capabilities/mirror/thing after the push: %d %s, %v; want 404", status, body, err)
	}
}

// notationVerifyRemote runs the real notation CLI on ref, a digest
// reference on capd's /v2/, with caFile as the one CA of its trust store.
// It is notationVerify for a registry.
func notationVerifyRemote(t *testing.T, e *env, ref, caFile string) result {
	t.Helper()
	notation := e.tool(t, "notation")
	environ := notationEnv(t, caFile)
	// --insecure-registry: capd's /v2/ is plain HTTP on loopback.
	return ociTool(t, environ, notation, "verify", "--insecure-registry", ref, "-v")
}

// TestOCIPush pushes capability bundles into a fresh capd through /v2/
// with oras: a bundle exported with capctl pull --oci-layout, unchanged,
// joins the catalog under the digest it had and gets capd's signature; a
// bundle whose capability.yaml is invalid, or pushed to another repository
// or tag than its name and version, is refused with MANIFEST_INVALID and
// stays out of the catalog. On a capd with the built-ins it checks version
// tags and latest, and what DELETE through /v2/ may and may not remove.
func TestOCIPush(t *testing.T) {
	t.Parallel()
	e := binaries(t)
	oras := e.tool(t, "oras")
	src := startCapd(t, t.TempDir(), "--seed-builtin", "--allow-delete", "--log-level", "warn")
	data := t.TempDir()
	dst := startCapd(t, data, "--log-level", "warn")
	host := requireV2(t, dst)
	if names := catalogNames(t, dst); len(names) != 0 {
		t.Fatalf("a fresh capd lists %v", names)
	}
	signer := readCert(t, filepath.Join(data, "keys", "signing.crt"))

	t.Run("capability", func(t *testing.T) {
		t.Parallel()
		v := restVersion(t, src, ociCapability, "latest")
		layout := exportLayout(t, e, src, ociCapability, v.GetVersion())
		ref := host + "/" + ociCapability + ":" + v.GetVersion()
		mustTool(t, nil, oras, "cp", "--from-oci-layout", layout+":"+v.GetVersion(), "--to-plain-http", ref)
		if !slices.Contains(catalogNames(t, dst), ociCapability) {
			t.Fatalf("after oras cp %s the catalog lacks it: %v", ref, catalogNames(t, dst))
		}
		got := restVersion(t, dst, ociCapability, v.GetVersion())
		if got.GetDigest() != v.GetDigest() {
			t.Errorf("oras cp %s: capd lists digest %s; the layout holds %s", ref, got.GetDigest(), v.GetDigest())
		}
		sigs := restSignatures(t, dst, ociCapability, v.GetVersion())
		found := discover(t, oras, ref)
		if len(found.signatureDigests()) == 0 || !slices.Equal(found.signatureDigests(), sigDigests(sigs.GetSignatures())) {
			t.Errorf("oras discover %s: signatures %v; capd's REST API lists %v", ref, found.signatureDigests(), sigDigests(sigs.GetSignatures()))
		}
		server := slices.IndexFunc(sigs.GetSignatures(), func(s *capcenterv1.Signature) bool {
			return s.GetRole() == capcenterv1.SignatureRole_SIGNATURE_ROLE_SERVER && s.GetFingerprint() == signer
		})
		if server < 0 {
			t.Errorf("the version pushed through /v2/ has no signature by capd's key %s: %v", signer, sigs.GetSignatures())
		}
	})
	t.Run("tags", func(t *testing.T) {
		t.Parallel()
		testTags(t, e, oras, src)
	})
	t.Run("delete", func(t *testing.T) {
		t.Parallel()
		testDeleteV2(t, oras, src)
	})
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		const name = "webservice"
		v := restVersion(t, src, name, "latest")
		layout := exportLayout(t, e, src, name, v.GetVersion())
		manifest := tamperMetadata(t, layout, v.GetDigest(), "tampered")
		for _, tc := range []struct{ why, from, to string }{
			{"an invalid capability.yaml", "tampered", name + ":" + v.GetVersion()},
			{"another repository than its name", v.GetVersion(), "not-" + name + ":" + v.GetVersion()},
			{"another tag than its version", v.GetVersion(), name + ":9.9.9"},
		} {
			res := ociTool(t, nil, oras, "cp", "--from-oci-layout", layout+":"+tc.from, "--to-plain-http", host+"/"+tc.to)
			if res.code == 0 || !mentionsManifestInvalid(res.out) {
				t.Errorf("oras cp of a bundle with %s: exit %d; want a failure naming MANIFEST_INVALID\n%s", tc.why, res.code, res.out)
			}
			_, refusal, _ := strings.Cut(res.out, "Error")
			t.Logf("oras cp of a bundle with %s: Error%s", tc.why, strings.TrimRight(refusal, "\n"))
		}
		// The refusal on the wire: the blobs are there now, the manifest is not.
		status, body := putManifest(t, host, name, v.GetVersion(), manifest)
		if status != http.StatusBadRequest || !strings.Contains(string(body), "MANIFEST_INVALID") || !strings.Contains(string(body), "kind: gadget") {
			t.Errorf("PUT of a manifest with an invalid capability.yaml: %d %s; want 400 MANIFEST_INVALID naming the kind line", status, body)
		}
		if names := catalogNames(t, dst); slices.Contains(names, name) || slices.Contains(names, "not-"+name) {
			t.Errorf("a refused bundle is in the catalog: %v", names)
		}
		for _, ref := range []string{name + "/manifests/" + v.GetVersion(), name + "/manifests/9.9.9", "not-" + name + "/manifests/" + v.GetVersion()} {
			if status, body, err := get(t.Context(), dst.http, "/v2/"+ref, nil); err != nil || status != http.StatusNotFound {
				t.Errorf("GET /v2/%s after the refusals: %d %s, %v; want 404", ref, status, body, err)
			}
		}
	})
}

// testTags publishes worker 2.0.0+e2e.1 to d with capctl: its tag is
// 2.0.0_e2e.1 and latest follows it until it is yanked, then falls back to
// 1.0.0.
func testTags(t *testing.T, e *env, oras string, d *capd) {
	const name, version, tag = "worker", "2.0.0+e2e.1", "2.0.0_e2e.1"
	repo := requireV2(t, d) + "/" + name
	dir := filepath.Join(t.TempDir(), name)
	copyDir(t, builtinDir(e, name), dir)
	meta := filepath.Join(dir, capabilities.MetadataFile)
	writeFile(t, meta, strings.Replace(string(readFile(t, meta)), "version: 1.0.0", "version: "+version, 1))
	mustCapctl(t, e, d, "push", dir)
	want, first := restVersion(t, d, name, version).GetDigest(), restVersion(t, d, name, "1.0.0").GetDigest()
	tags := scanLines(mustTool(t, nil, oras, "repo", "tags", "--plain-http", repo))
	for _, want := range []string{"1.0.0", tag, "latest"} {
		if !slices.Contains(tags, want) {
			t.Errorf("oras repo tags %s: %v lacks %s", repo, tags, want)
		}
	}
	for _, tc := range []struct{ tag, want string }{{tag, want}, {"latest", want}, {"1.0.0", first}} {
		if got := fetchDigest(t, oras, repo+":"+tc.tag); got != tc.want {
			t.Errorf("%s:%s is %s, want %s", repo, tc.tag, got, tc.want)
		}
	}
	mustCapctl(t, e, d, "yank", name+"@"+version, "--reason", "e2e")
	if got := fetchDigest(t, oras, repo+":latest"); got != first {
		t.Errorf("after yanking %s %s, %s:latest is %s, want 1.0.0's %s", name, version, repo, got, first)
	}
}

// testDeleteV2 changes published versions of d through /v2/. Tagging
// other content as a version or as latest, and deleting a version's
// signature or one of its blobs, are refused; DELETE of a version's
// manifest, by digest or by version tag, removes the version from the
// catalog and from /v2/.
func testDeleteV2(t *testing.T, oras string, d *capd) {
	host := requireV2(t, d)
	const byDigest, byTag, signed = "daemon", "cron-task", "scaler"
	for _, tag := range []string{"1.0.0", "latest"} {
		res := ociTool(t, nil, oras, "push", "--plain-http", host+"/"+byTag+":"+tag, "testdata/oci/thing.txt")
		if res.code == 0 {
			t.Errorf("oras push of other content as %s:%s succeeded:\n%s", byTag, tag, res.out)
		}
	}
	v := restVersion(t, d, signed, "1.0.0")
	sigs := restSignatures(t, d, signed, "1.0.0").GetSignatures()
	var m ocispec.Manifest
	if err := json.Unmarshal([]byte(mustTool(t, nil, oras, "manifest", "fetch", "--plain-http", host+"/"+signed+"@"+v.GetDigest())), &m); err != nil {
		t.Fatal(err)
	}
	if len(sigs) == 0 || len(m.Layers) == 0 {
		t.Fatalf("%s 1.0.0 has %d signatures and %d layers", signed, len(sigs), len(m.Layers))
	}
	for _, path := range []string{signed + "/manifests/" + sigs[0].GetDigest(), signed + "/blobs/" + m.Layers[0].Digest.String()} {
		if status, body := deleteV2(t, host, path); status < 400 {
			t.Errorf("DELETE /v2/%s: %d %s; want a refusal while the version exists", path, status, body)
		}
	}
	if got := sigDigests(restSignatures(t, d, signed, "1.0.0").GetSignatures()); !slices.Equal(got, sigDigests(sigs)) {
		t.Errorf("after refused deletes %s 1.0.0 has signatures %v, want %v", signed, got, sigDigests(sigs))
	}

	for name, ref := range map[string]string{byDigest: restVersion(t, d, byDigest, "1.0.0").GetDigest(), byTag: "1.0.0"} {
		if status, body := deleteV2(t, host, name+"/manifests/"+ref); status != http.StatusAccepted {
			t.Errorf("DELETE /v2/%s/manifests/%s: %d %s; want 202", name, ref, status, body)
		}
		if status, _, err := get(t.Context(), d.http, "/v1/capabilities/"+name+"/versions/1.0.0", nil); err != nil || status != http.StatusNotFound {
			t.Errorf("GET /v1/capabilities/%s/versions/1.0.0 after DELETE: %d, %v; want 404", name, status, err)
		}
		if status, _, err := get(t.Context(), d.http, "/v2/"+name+"/manifests/1.0.0", nil); err != nil || status != http.StatusNotFound {
			t.Errorf("GET /v2/%s/manifests/1.0.0 after DELETE: %d, %v; want 404", name, status, err)
		}
		if slices.Contains(catalogNames(t, d), name) {
			t.Errorf("after DELETE of its only version %s is still in the catalog", name)
		}
	}
}

// deleteV2 sends DELETE /v2/path to host and returns the status and body.
func deleteV2(t *testing.T, host, path string) (int, []byte) {
	t.Helper()
	return sendV2(t, http.MethodDelete, "http://"+host+"/v2/"+path, "", nil)
}

// fetchDigest returns the digest ref resolves to, with oras.
func fetchDigest(t *testing.T, oras, ref string) string {
	t.Helper()
	var desc ocispec.Descriptor
	out := mustTool(t, nil, oras, "manifest", "fetch", "--plain-http", "--descriptor", ref)
	if err := json.Unmarshal([]byte(out), &desc); err != nil {
		t.Fatalf("oras manifest fetch --descriptor %s printed %q: %v", ref, out, err)
	}
	return desc.Digest.String()
}

// mustCapctl runs capctl against d; it must succeed.
func mustCapctl(t *testing.T, e *env, d *capd, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), toolTimeout)
	defer cancel()
	out, errOut, code, err := run(ctx, e.capctl, append([]string{"--server", d.grpc}, args...)...)
	if err != nil || code != 0 {
		t.Fatalf("capctl %s: exit %d, %v\n%s%s", strings.Join(args, " "), code, err, out, errOut)
	}
	return out
}

// exportLayout writes name@version from d into an OCI layout with capctl
// pull --oci-layout and returns its folder.
func exportLayout(t *testing.T, e *env, d *capd, name, version string) string {
	t.Helper()
	layout := filepath.Join(t.TempDir(), "layout")
	mustCapctl(t, e, d, "pull", name+"@"+version, "--oci-layout", layout, "--insecure-skip-verify")
	return layout
}

// tamperMetadata adds to layout a copy of manifest dgst whose
// capability.yaml layer names an unknown kind, tags it tag and returns it.
func tamperMetadata(t *testing.T, layout, dgst, tag string) []byte {
	t.Helper()
	ctx := t.Context()
	st, err := oci.New(layout)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(readFile(t, filepath.Join(layout, "blobs", "sha256", digest.Digest(dgst).Encoded())), &m); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(m.Layers, func(l ocispec.Descriptor) bool {
		return l.Annotations[ocispec.AnnotationTitle] == capabilities.MetadataFile
	})
	if i < 0 {
		t.Fatalf("manifest %s has no %s layer", dgst, capabilities.MetadataFile)
	}
	rc, err := st.Fetch(ctx, m.Layers[i])
	if err != nil {
		t.Fatal(err)
	}
	meta, err := io.ReadAll(rc)
	_ = rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	bad := regexp.MustCompile(`(?m)^kind: .*$`).ReplaceAll(meta, []byte("kind: gadget"))
	if bytes.Equal(bad, meta) {
		t.Fatalf("%s has no kind line:\n%s", capabilities.MetadataFile, meta)
	}
	m.Layers[i] = content.NewDescriptorFromBytes(m.Layers[i].MediaType, bad)
	m.Layers[i].Annotations = map[string]string{ocispec.AnnotationTitle: capabilities.MetadataFile}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
	for _, blob := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{{m.Layers[i], bad}, {desc, raw}} {
		if err := st.Push(ctx, blob.desc, bytes.NewReader(blob.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Tag(ctx, desc, tag); err != nil {
		t.Fatal(err)
	}
	return raw
}

// mentionsManifestInvalid reports whether a client's error names the
// MANIFEST_INVALID code; oras prints it as "manifest invalid".
func mentionsManifestInvalid(out string) bool {
	return strings.Contains(out, "MANIFEST_INVALID") || strings.Contains(strings.ToLower(out), "manifest invalid")
}

// putManifest PUTs an OCI image manifest to /v2/name/manifests/ref and
// returns the status and body.
func putManifest(t *testing.T, host, name, ref string, manifest []byte) (int, []byte) {
	t.Helper()
	return sendV2(t, http.MethodPut, "http://"+host+"/v2/"+name+"/manifests/"+ref, ocispec.MediaTypeImageManifest, manifest)
}

// sendV2 sends one request with a bounded time and returns the status and
// body; a body needs its content type.
func sendV2(t *testing.T, method, url, contentType string, body []byte) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}
