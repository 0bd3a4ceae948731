package e2e

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/client"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

// truncatedName is the one capability the catalog subtests add besides
// the built-ins, once its truncated publish has been refused; listings
// leave it out.
const truncatedName = "e2e-truncated"

// catalog is the capd every catalog subtest shares, with the built-ins
// pushed, and what the tests expect of it.
type catalog struct {
	e       *env
	d       *capd
	bundles map[string]*capabilities.Bundle // the built-ins by name
	names   []string                        // their names, sorted
	// atEnd registers cleanups that run when the whole test ends.
	atEnd func(func())
	// policy is the trust policy capctl trust fetch wrote for d.
	policy string
}

// TestEndToEnd starts capd, pushes every built-in with capctl, checks the
// catalog through REST, gRPC, grpcurl and capctl pull in parallel, then
// stops capd, rebuilds its index with `capd reindex` and checks that the
// restarted capd answers the same.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	e := binaries(t)
	c := &catalog{e: e, d: startCapd(t, t.TempDir(), "--log-level", "warn"), bundles: map[string]*capabilities.Bundle{}, atEnd: t.Cleanup}
	for _, dir := range builtinNames() {
		b := loadDir(t, builtinDir(e, dir))
		c.bundles[b.Metadata.Name] = b
		c.names = append(c.names, b.Metadata.Name)
	}
	slices.Sort(c.names)

	if !t.Run("push", c.testPush) {
		t.FailNow()
	}
	c.policy = filepath.Join(t.TempDir(), "trust.yaml")
	if out, errOut, code := c.capctl(t, "trust", "fetch", "--yes"); code != 0 {
		t.Fatalf("capctl trust fetch: exit %d\n%s%s", code, out, errOut)
	}
	t.Run("catalog", func(t *testing.T) {
		t.Run("rest search", c.testRESTSearch)
		t.Run("rest paging", c.testRESTPaging)
		t.Run("rest errors", c.testRESTErrors)
		t.Run("grpc client", c.testClient)
		t.Run("grpc errors", c.testGRPCErrors)
		t.Run("pull", c.testPull)
		t.Run("immutable", c.testImmutable)
		t.Run("grpcurl", c.testGRPCurl)
		t.Run("truncated stream", c.testTruncated)
		t.Run("invalid bundle", c.testInvalid)
	})
	t.Run("reindex", c.testReindex)
	if err := c.d.stop(); err != nil {
		t.Errorf("stopping capd: %v", err)
	}
}

// capctl runs capctl against c's capd.
func (c *catalog) capctl(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	global := []string{"--server", c.d.grpc}
	if c.policy != "" {
		global = append(global, "--trust-policy", c.policy)
	}
	stdout, stderr, code, err := run(t.Context(), c.e.capctl, append(global, args...)...)
	if err != nil {
		t.Fatalf("capctl %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return stdout, stderr, code
}

func (c *catalog) testPush(t *testing.T) {
	for _, name := range c.names {
		b := c.bundles[name]
		out, errOut, code := c.capctl(t, "push", builtinDir(c.e, name))
		if code != 0 {
			t.Fatalf("capctl push %s: exit %d\n%s%s", name, code, out, errOut)
		}
		if !strings.Contains(out, name) || !strings.Contains(out, b.Metadata.Version) {
			t.Errorf("capctl push %s: the output names neither the capability nor its version:\n%s", name, out)
		}
	}
}

func (c *catalog) testRESTSearch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	var page capcenterv1.ListCapabilitiesResponse
	if err := getProto(ctx, c.d.http, "/v1/capabilities", url.Values{"query": {"web"}}, &page); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(capabilityNames(page.GetCapabilities()), "webservice") {
		t.Errorf("query=web: %v lacks webservice", capabilityNames(page.GetCapabilities()))
	}

	for kind, enum := range map[capabilities.Kind]string{
		capabilities.KindComponent:  "KIND_COMPONENT",
		capabilities.KindTrait:      "KIND_TRAIT",
		capabilities.KindController: "KIND_CONTROLLER",
	} {
		var want []string
		for _, n := range c.names {
			if c.bundles[n].Metadata.Kind == kind {
				want = append(want, n)
			}
		}
		got, err := listAll(ctx, c.d.http, url.Values{"kind": {enum}}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if names := capabilityNames(got); !slices.Equal(names, want) {
			t.Errorf("kind=%s: got %v, want %v", enum, names, want)
		}
		for _, cp := range got {
			if cp.GetKind().String() != enum {
				t.Errorf("kind=%s: %s has kind %s", enum, cp.GetCapability(), cp.GetKind())
			}
		}
	}

	var ws capcenterv1.Capability
	if err := getProto(ctx, c.d.http, "/v1/capabilities/webservice", nil, &ws); err != nil {
		t.Fatal(err)
	}
	if ws.GetLatestVersion() != "1.0.0" || ws.GetVersionCount() != 1 || ws.GetKind() != capcenterv1.Kind_KIND_COMPONENT {
		t.Errorf("GET /v1/capabilities/webservice = %v", &ws)
	}
	var v capcenterv1.Version
	if err := getProto(ctx, c.d.http, "/v1/capabilities/webservice/versions/1.0.0", nil, &v); err != nil {
		t.Fatal(err)
	}
	if want := mustPack(t, c.bundles["webservice"]).desc.Digest.String(); v.GetDigest() != want {
		t.Errorf("GetVersion webservice 1.0.0 digest %s, want %s", v.GetDigest(), want)
	}
}

func (c *catalog) testRESTPaging(t *testing.T) {
	t.Parallel()
	got, err := listAll(t.Context(), c.d.http, nil, 5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, cp := range got {
		seen[cp.GetCapability()]++
	}
	for n, times := range seen {
		if times != 1 {
			t.Errorf("paging by 5: %s seen %d times", n, times)
		}
	}
	if names := capabilityNames(got); !slices.Equal(names, c.names) {
		t.Errorf("paging by 5 visited %v, want %v", names, c.names)
	}
	var first capcenterv1.ListCapabilitiesResponse
	if err := getProto(t.Context(), c.d.http, "/v1/capabilities", url.Values{"page_size": {"5"}}, &first); err != nil {
		t.Fatal(err)
	}
	if n := int(first.GetTotalSize()); n != len(c.names) && n != len(c.names)+1 {
		t.Errorf("total_size %d, want %d", first.GetTotalSize(), len(c.names))
	}
}

func (c *catalog) testRESTErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path  string
		query url.Values
		want  int
	}{
		{"/v1/capabilities/no-such-capability", nil, http.StatusNotFound},
		{"/v1/capabilities/acme/no-such-capability", nil, http.StatusNotFound},
		{"/v1/capabilities/webservice/versions/9.9.9", nil, http.StatusNotFound},
		{"/v1/capabilities/no-such-capability/versions", nil, http.StatusNotFound},
		{"/v1/capabilities", url.Values{"page_token": {"!not-a-token!"}}, http.StatusBadRequest},
		{"/v1/capabilities", url.Values{"order_by": {"no_such_field"}}, http.StatusBadRequest},
	} {
		body, err := getError(t.Context(), c.d.http, tc.path, tc.query, tc.want)
		if err != nil {
			t.Error(err)
			continue
		}
		if want := map[int]codes.Code{404: codes.NotFound, 400: codes.InvalidArgument}[tc.want]; body.Code != int(want) {
			t.Errorf("GET %s: JSON error code %d, want %d (%s)", tc.path, body.Code, want, want)
		}
	}
}

func (c *catalog) testGRPCErrors(t *testing.T) {
	t.Parallel()
	stub := dial(t, c.d.grpc)
	ctx, cancel := context.WithTimeout(t.Context(), requestTimeout)
	defer cancel()
	_, err := stub.GetCapability(ctx, &capcenterv1.GetCapabilityRequest{Name: "capabilities/no-such-capability"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("GetCapability of an unknown capability: %v, want NotFound", err)
	}
	_, err = stub.ListCapabilities(ctx, &capcenterv1.ListCapabilitiesRequest{PageToken: "!not-a-token!"})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("ListCapabilities with a malformed page token: %v, want InvalidArgument", err)
	}
	_, _, err = pullRaw(ctx, stub, "capabilities/webservice/versions/9.9.9")
	if status.Code(err) != codes.NotFound {
		t.Errorf("PullBundle of an unknown version: %v, want NotFound", err)
	}
}

// testTruncated sends the header and half the chunks of a new version,
// then closes the stream: capd must refuse it and show nothing of it.
func (c *catalog) testTruncated(t *testing.T) {
	t.Parallel()
	stub := dial(t, c.d.grpc)
	b, err := controllerBundle(t.Context(), truncatedName, "1.0.0", "Published in two tries.", nil,
		configMap("first", 4096), configMap("second", 4096))
	if err != nil {
		t.Fatal(err)
	}
	p := mustPack(t, b)
	n := len(chunks(p))
	if n < 2 {
		t.Fatalf("the bundle has %d chunks; the test needs at least 2", n)
	}
	ctx, cancel := context.WithTimeout(t.Context(), requestTimeout)
	defer cancel()
	if _, err := publishRaw(ctx, stub, p, n/2); err == nil {
		t.Fatalf("a publish stream with %d of %d chunks succeeded", n/2, n)
	} else {
		t.Logf("truncated stream: %v", err)
	}
	_, err = stub.GetVersion(ctx, &capcenterv1.GetVersionRequest{Name: "capabilities/" + truncatedName + "/versions/1.0.0"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("GetVersion after a truncated publish: %v, want NotFound", err)
	}
	_, err = stub.GetCapability(ctx, &capcenterv1.GetCapabilityRequest{Name: "capabilities/" + truncatedName})
	if status.Code(err) != codes.NotFound {
		t.Errorf("GetCapability after a truncated publish: %v, want NotFound", err)
	}
	// The whole bundle then publishes: nothing half-written is in the way.
	resp, err := publishRaw(ctx, stub, p, -1)
	if err != nil || !resp.GetCreated() {
		t.Fatalf("publishing the whole bundle after a truncated try: %v, %v", resp, err)
	}
}

// testInvalid publishes a hand-crafted bundle with a bad version, a bad
// kind and a manifest that is not a Kubernetes object: capd must answer
// InvalidArgument naming each problem.
func (c *catalog) testInvalid(t *testing.T) {
	t.Parallel()
	stub := dial(t, c.d.grpc)
	ctx, cancel := context.WithTimeout(t.Context(), requestTimeout)
	defer cancel()
	p := invalidBundle(t)
	_, err := publishRaw(ctx, stub, p, -1)
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("publishing an invalid bundle: %v, want InvalidArgument", err)
	}
	msg := status.Convert(err).Message()
	t.Logf("invalid bundle: %s", msg)
	for _, want := range []string{"1.0", "gadget", "not-an-object.yaml"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the InvalidArgument message does not name %q:\n%s", want, msg)
		}
	}
	_, err = stub.GetCapability(ctx, &capcenterv1.GetCapabilityRequest{Name: "capabilities/broken"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("GetCapability after an invalid publish: %v, want NotFound", err)
	}
}

func (c *catalog) testGRPCurl(t *testing.T) {
	t.Parallel()
	grpcurl := c.e.tool(t, "grpcurl")
	out, errOut, code, err := run(t.Context(), grpcurl, "-plaintext", "-max-time", "30", c.d.grpc, "list")
	if err != nil || code != 0 {
		t.Fatalf("grpcurl list: exit %d, %v\n%s", code, err, errOut)
	}
	services := scanLines(out)
	for _, want := range []string{"capcenter.v1.CapabilityService", "grpc.health.v1.Health"} {
		if !slices.Contains(services, want) {
			t.Errorf("grpcurl list: %v lacks %s", services, want)
		}
	}
	if !slices.ContainsFunc(services, func(s string) bool { return strings.HasPrefix(s, "grpc.reflection.") }) {
		t.Errorf("grpcurl list: %v lacks grpc.reflection", services)
	}

	out, errOut, code, err = run(t.Context(), grpcurl, "-plaintext", "-max-time", "30",
		"-d", `{"name":"capabilities/webservice"}`, c.d.grpc, "capcenter.v1.CapabilityService/GetCapability")
	if err != nil || code != 0 {
		t.Fatalf("grpcurl GetCapability: exit %d, %v\n%s", code, err, errOut)
	}
	var cp capcenterv1.Capability
	if err := protojson.Unmarshal([]byte(out), &cp); err != nil {
		t.Fatalf("grpcurl GetCapability printed %q: %v", out, err)
	}
	if cp.GetCapability() != "webservice" || cp.GetLatestVersion() != "1.0.0" {
		t.Errorf("grpcurl GetCapability: %v", &cp)
	}

	_, errOut, code, err = run(t.Context(), grpcurl, "-plaintext", "-max-time", "30",
		"-d", `{"name":"capabilities/no-such-capability"}`, c.d.grpc, "capcenter.v1.CapabilityService/GetCapability")
	if err != nil || code == 0 || !strings.Contains(errOut, "NotFound") {
		t.Errorf("grpcurl GetCapability of an unknown capability: exit %d, %v\n%s", code, err, errOut)
	}
}

// testImmutable re-pushes a built-in unchanged, then with another README
// under the same version.
func (c *catalog) testImmutable(t *testing.T) {
	t.Parallel()
	dir := builtinDir(c.e, "webservice")
	out, errOut, code := c.capctl(t, "push", dir)
	if code != 0 || !strings.Contains(strings.ToLower(out), "unchanged") {
		t.Errorf("re-pushing webservice unchanged: exit %d, want 0 and \"unchanged\"\n%s%s", code, out, errOut)
	}
	stub := dial(t, c.d.grpc)
	ctx, cancel := context.WithTimeout(t.Context(), requestTimeout)
	defer cancel()
	original := mustPack(t, c.bundles["webservice"])
	resp, err := publishRaw(ctx, stub, original, -1)
	if err != nil || resp.GetCreated() || resp.GetVersion().GetDigest() != original.desc.Digest.String() {
		t.Errorf("re-publishing webservice over gRPC: %v, %v; want created=false and digest %s", resp, err, original.desc.Digest)
	}

	changed := filepath.Join(t.TempDir(), "webservice")
	copyDir(t, dir, changed)
	readme := filepath.Join(changed, capabilities.ReadmeFile)
	data, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(readme, append(data, "\nOne more line.\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = c.capctl(t, "push", changed)
	if code == 0 {
		t.Fatalf("pushing other content under webservice 1.0.0 succeeded:\n%s", out)
	}
	if !strings.Contains(strings.ToLower(errOut), "already exists") || !strings.Contains(errOut, original.desc.Digest.String()) {
		t.Errorf("pushing other content under webservice 1.0.0: the error names neither AlreadyExists nor %s:\n%s", original.desc.Digest, errOut)
	}
	var v capcenterv1.Version
	if err := getProto(ctx, c.d.http, "/v1/capabilities/webservice/versions/1.0.0", nil, &v); err != nil {
		t.Fatal(err)
	}
	if v.GetDigest() != original.desc.Digest.String() {
		t.Errorf("after a refused push webservice 1.0.0 is %s, want %s", v.GetDigest(), original.desc.Digest)
	}
}

// testReindex stops capd, rebuilds its index offline and restarts it: the
// catalog must answer as it did.
func (c *catalog) testReindex(t *testing.T) {
	ctx := t.Context()
	before := c.snapshot(t)
	if err := c.d.stop(); err != nil {
		t.Fatalf("stopping capd: %v", err)
	}
	out, errOut, code, err := run(ctx, c.e.capd, "reindex", "--data", c.d.data)
	if err != nil || code != 0 {
		t.Fatalf("capd reindex: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	d, err := launchCapd(c.e, c.d.data, "--log-level", "warn")
	if err != nil {
		t.Fatalf("restarting capd after reindex: %v", err)
	}
	c.atEnd(d.kill)
	c.d = d
	after := c.snapshot(t)
	for i := range before {
		if !bytes.Equal(before[i], after[i]) {
			t.Errorf("after reindex the catalog answers\n%s\nwhere it answered\n%s", after[i], before[i])
		}
	}
}

// snapshot returns, as canonical JSON, the whole capability list and one
// version.
func (c *catalog) snapshot(t *testing.T) [][]byte {
	t.Helper()
	var list capcenterv1.ListCapabilitiesResponse
	if err := getProto(t.Context(), c.d.http, "/v1/capabilities", url.Values{"page_size": {"1000"}}, &list); err != nil {
		t.Fatal(err)
	}
	var v capcenterv1.Version
	if err := getProto(t.Context(), c.d.http, "/v1/capabilities/webservice/versions/1.0.0", nil, &v); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, m := range []proto.Message{&list, &v} {
		data, err := protojson.MarshalOptions{Multiline: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// capabilityNames returns the capability names of cs, in order, leaving
// out truncatedName.
func capabilityNames(cs []*capcenterv1.Capability) []string {
	names := make([]string, 0, len(cs))
	for _, c := range cs {
		if c.GetCapability() != truncatedName {
			names = append(names, c.GetCapability())
		}
	}
	return names
}

// deadline bounds a test step.
func deadline(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// dialClient connects the client package to c's capd.
func (c *catalog) dialClient(t *testing.T) *client.Client {
	t.Helper()
	cl, err := client.Dial(c.d.grpc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// testClient searches and browses with the client package over gRPC.
func (c *catalog) testClient(t *testing.T) {
	t.Parallel()
	cl := c.dialClient(t)
	ctx := deadline(t, requestTimeout)

	var names []*capcenterv1.Capability
	for cp, err := range cl.Capabilities(ctx, client.Query{PageSize: 5}) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, cp)
	}
	if got := capabilityNames(names); !slices.Equal(got, c.names) {
		t.Errorf("Capabilities by pages of 5: %v, want %v", got, c.names)
	}

	page, err := cl.ListCapabilities(ctx, client.Query{Text: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(capabilityNames(page.GetCapabilities()), "webservice") {
		t.Errorf("ListCapabilities(web): %v lacks webservice", capabilityNames(page.GetCapabilities()))
	}
	page, err = cl.ListCapabilities(ctx, client.Query{Kind: capcenterv1.Kind_KIND_TRAIT, PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, cp := range page.GetCapabilities() {
		if cp.GetKind() != capcenterv1.Kind_KIND_TRAIT || c.bundles[cp.GetCapability()].Metadata.Kind != capabilities.KindTrait {
			t.Errorf("ListCapabilities(KIND_TRAIT) holds %s (%s)", cp.GetCapability(), cp.GetKind())
		}
	}
	if len(page.GetCapabilities()) == 0 {
		t.Error("ListCapabilities(KIND_TRAIT) is empty")
	}

	for _, name := range c.names {
		want := mustPack(t, c.bundles[name])
		v, err := cl.GetVersion(ctx, name, c.bundles[name].Metadata.Version)
		if err != nil {
			t.Fatal(err)
		}
		if v.GetDigest() != want.desc.Digest.String() || v.GetSize() != want.size() {
			t.Errorf("GetVersion %s: digest %s size %d, want %s and %d", name, v.GetDigest(), v.GetSize(), want.desc.Digest, want.size())
		}
		vs, err := cl.ListVersions(ctx, name)
		if err != nil || len(vs) != 1 {
			t.Errorf("ListVersions %s: %v, %v", name, vs, err)
		}
	}

	_, err = cl.GetCapability(ctx, "no-such-capability")
	if !errors.Is(err, client.ErrNotFound) {
		t.Errorf("GetCapability of an unknown capability: %v, want client.ErrNotFound", err)
	}
	_, err = cl.GetVersion(ctx, "webservice", "9.9.9")
	if !errors.Is(err, client.ErrNotFound) {
		t.Errorf("GetVersion of an unknown version: %v, want client.ErrNotFound", err)
	}
	_, err = cl.ListCapabilities(ctx, client.Query{PageToken: "!not-a-token!"})
	if !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("ListCapabilities with a malformed page token: %v, want client.ErrInvalidArgument", err)
	}
}

// testPull pulls every built-in back with capctl and checks that the
// folder it writes holds the source folder's files, byte for byte, and that
// the client pulls the manifest a local Pack makes.
func (c *catalog) testPull(t *testing.T) {
	t.Parallel()
	stub := dial(t, c.d.grpc)
	cl := c.dialClient(t)
	for _, name := range c.names {
		b := c.bundles[name]
		want := mustPack(t, b)
		ctx := deadline(t, requestTimeout)
		pulled, err := cl.Pull(ctx, name, b.Metadata.Version, capabilities.Limits{})
		if err != nil {
			t.Errorf("client Pull %s: %v", name, err)
		} else if pulled.Manifest.Digest != want.desc.Digest {
			t.Errorf("client Pull %s: manifest %s, a local Pack makes %s", name, pulled.Manifest.Digest, want.desc.Digest)
		}

		dir := filepath.Join(t.TempDir(), "out")
		out, errOut, code := c.capctl(t, "pull", name+"@"+b.Metadata.Version, "--dir", dir)
		if code != 0 {
			t.Errorf("capctl pull %s: exit %d\n%s%s", name, code, out, errOut)
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, capabilities.MetadataFile)); err != nil {
			dir = filepath.Join(dir, capabilities.ShortName(name))
		}
		compareTrees(t, name, readTree(t, builtinDir(c.e, name)), readTree(t, dir))

		header, n, err := pullRaw(ctx, stub, "capabilities/"+name+"/versions/"+b.Metadata.Version)
		if err != nil {
			t.Errorf("PullBundle %s: %v", name, err)
			continue
		}
		if !bytes.Equal(header.GetManifest(), want.manifest) || header.GetVersion().GetDigest() != want.desc.Digest.String() {
			t.Errorf("PullBundle %s: manifest digest %s, want %s", name, header.GetVersion().GetDigest(), want.desc.Digest)
		}
		if n != want.size()-int64(len(want.manifest)) {
			t.Errorf("PullBundle %s: %d chunk bytes, want %d", name, n, want.size()-int64(len(want.manifest)))
		}
	}
}

// compareTrees reports every file of want that got lacks or holds other
// bytes in, and every file got has beyond want.
func compareTrees(t *testing.T, name string, want, got map[string][]byte) {
	t.Helper()
	for path, data := range want {
		other, ok := got[path]
		switch {
		case !ok:
			t.Errorf("pull %s: %s is missing", name, path)
		case !bytes.Equal(data, other):
			t.Errorf("pull %s: %s differs from the source:\n%s\nwant:\n%s", name, path, other, data)
		}
	}
	for path := range got {
		if _, ok := want[path]; !ok {
			t.Errorf("pull %s: %s is not in the source folder", name, path)
		}
	}
}

// TestOversize runs a capd that takes bundles of at most 4 KiB: a larger
// one must fail with ResourceExhausted, through the client and capctl, and
// leave nothing behind.
func TestOversize(t *testing.T) {
	t.Parallel()
	e := binaries(t)
	d := startCapd(t, t.TempDir(), "--max-bundle-size", "4096", "--log-level", "warn")
	dir := builtinDir(e, "webservice")
	b := loadDir(t, dir)
	if size := mustPack(t, b).size(); size <= 4096 {
		t.Fatalf("webservice packs to %d bytes; the test needs more than 4096", size)
	}
	cl, err := client.Dial(d.grpc)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := deadline(t, requestTimeout)
	_, _, err = cl.Publish(ctx, b)
	if !errors.Is(err, client.ErrResourceExhausted) || status.Code(err) != codes.ResourceExhausted {
		t.Errorf("publishing %d bytes to a capd that takes 4096: %v, want ResourceExhausted", mustPack(t, b).size(), err)
	}
	_, errOut, code, err := run(ctx, e.capctl, "--server", d.grpc, "push", dir)
	if err != nil || code == 0 {
		t.Errorf("capctl push of an oversize bundle: exit %d, %v", code, err)
	}
	t.Logf("capctl push of an oversize bundle: %s", strings.TrimSpace(errOut))
	if _, err := cl.GetCapability(ctx, "webservice"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("GetCapability after an oversize publish: %v, want client.ErrNotFound", err)
	}
	// A bundle under the limit still publishes.
	small, err := controllerBundle(ctx, "small", "1.0.0", "Fits.", nil, configMap("tiny", 200))
	if err != nil {
		t.Fatal(err)
	}
	if _, created, err := cl.Publish(ctx, small); err != nil || !created {
		t.Errorf("publishing a small bundle after an oversize one: created=%v, %v", created, err)
	}
	if err := d.stop(); err != nil {
		t.Error(err)
	}
}
