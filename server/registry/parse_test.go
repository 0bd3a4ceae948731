package registry

import (
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestParseRoute(t *testing.T) {
	t.Parallel()
	d := digest.FromString("x").String()
	for _, tc := range []struct {
		path string
		want route
	}{
		{"/v2/", route{endpoint: endpointBase}},
		{"/v2", route{endpoint: endpointBase}},
		{"/v2/_catalog", route{endpoint: endpointCatalog}},
		{"/v2/webservice/tags/list", route{endpoint: endpointTags, name: "webservice"}},
		{"/v2/acme/gateway/manifests/1.0.0", route{endpoint: endpointManifest, name: "acme/gateway", ref: "1.0.0"}},
		{"/v2/a/blobs/manifests/" + d, route{endpoint: endpointManifest, name: "a/blobs", ref: d}},
		{"/v2/a/blobs/" + d, route{endpoint: endpointBlob, name: "a", ref: d}},
		{"/v2/a/blobs/uploads/", route{endpoint: endpointUploads, name: "a"}},
		{"/v2/a/blobs/uploads", route{endpoint: endpointUploads, name: "a"}},
		{"/v2/a/blobs/uploads/abc", route{endpoint: endpointUpload, name: "a", ref: "abc"}},
		{"/v2/a/b/referrers/" + d, route{endpoint: endpointReferrers, name: "a/b", ref: d}},
		{"/v2/x__y.z-1/tags/list", route{endpoint: endpointTags, name: "x__y.z-1"}},
	} {
		got, err := parseRoute(tc.path)
		if err != nil || got != tc.want {
			t.Errorf("parseRoute(%q) = %+v, %v; want %+v", tc.path, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/v1/capabilities", http.StatusNotFound, codeUnsupported},
		{"/v2/webservice", http.StatusNotFound, codeUnsupported},
		{"/v2/webservice/manifests/", http.StatusNotFound, codeUnsupported},
		{"/v2/tags/list", http.StatusNotFound, codeUnsupported},
		{"/v2/Upper/tags/list", http.StatusBadRequest, codeNameInvalid},
		{"/v2/../etc/tags/list", http.StatusBadRequest, codeNameInvalid},
		{"/v2/a//b/tags/list", http.StatusBadRequest, codeNameInvalid},
		{"/v2/a-/tags/list", http.StatusBadRequest, codeNameInvalid},
		{"/v2/a;rm -rf/tags/list", http.StatusBadRequest, codeNameInvalid},
		{"/v2/" + strings.Repeat("a/", 200) + "a/tags/list", http.StatusBadRequest, codeNameInvalid},
	} {
		_, err := parseRoute(tc.path)
		if err == nil || err.status != tc.status || err.code != tc.code {
			t.Errorf("parseRoute(%q) = %v; want %d %s", tc.path, err, tc.status, tc.code)
		}
	}
}

// manifestJSON is a small valid OCI image manifest.
const manifestJSON = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
	`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},` +
	`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"urls":[]}]}`

func TestParseManifest(t *testing.T) {
	t.Parallel()
	m, err := parseManifest(ocispec.MediaTypeImageManifest, []byte(manifestJSON), digest.FromString(manifestJSON))
	if err != nil {
		t.Fatal(err)
	}
	if m.Descriptor.ArtifactType != "application/vnd.oci.empty.v1+json" || len(m.Blobs) != 2 || m.Subject != nil {
		t.Fatalf("parseManifest = %+v", m)
	}
	replace := func(old, with string) string { return strings.Replace(manifestJSON, old, with, 1) }
	for _, tc := range []struct {
		name, contentType, body, code, mention string
	}{
		{"not JSON", "", "{", codeManifestInvalid, "not JSON"},
		{"two documents", "", manifestJSON + "{}", codeManifestInvalid, "after the JSON"},
		{"Content-Type disagrees", ocispec.MediaTypeImageIndex, manifestJSON, codeManifestInvalid, "differs from Content-Type"},
		{"bad Content-Type", "a/b; =", manifestJSON, codeManifestInvalid, "Content-Type"},
		{"no media type anywhere", "", replace(`"mediaType":"application/vnd.oci.image.manifest.v1+json",`, ""), codeManifestInvalid, "mediaType: missing"},
		{"schema 1", "", replace(`"schemaVersion":2`, `"schemaVersion":1`), codeManifestInvalid, "schemaVersion"},
		{"unknown media type", "", replace("image.manifest.v1+json", "image.manifest.v9+json"), codeManifestInvalid, "want an OCI image manifest"},
		{"no config", "", replace(`"config"`, `"konfig"`), codeManifestInvalid, "config: missing"},
		{"bad layer digest", "", replace(`"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"urls"`, `"digest":"sha256:zz","size":2,"urls"`), codeManifestInvalid, "layers[0].digest"},
		{"negative size", "", replace(`"size":2}`, `"size":-2}`), codeManifestInvalid, "config.size"},
		{"image with manifests", "", replace(`"layers"`, `"manifests"`), codeManifestInvalid, "has layers, not manifests"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseManifest(tc.contentType, []byte(tc.body), digest.FromString(tc.body))
			if err == nil || err.code != tc.code || !strings.Contains(err.message, tc.mention) {
				t.Fatalf("parseManifest = %v; want %s mentioning %q", err, tc.code, tc.mention)
			}
		})
	}
	_, err = parseManifest("", []byte(manifestJSON), digest.FromString("other"))
	if err == nil || err.code != codeDigestInvalid {
		t.Fatalf("a digest the bytes do not match: %v", err)
	}
}

func TestParseContentRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in         string
		start, end int64
		ok         bool
	}{
		{"0-9", 0, 9, true}, {"bytes 10-19", 10, 19, true}, {"bytes=5-5", 5, 5, true},
		{"9-0", 0, 0, false}, {"-1-5", 0, 0, false}, {"1", 0, 0, false}, {"a-b", 0, 0, false},
		{"0-99999999999999999999", 0, 0, false},
	} {
		start, end, ok := parseContentRange(tc.in)
		if ok != tc.ok || (ok && (start != tc.start || end != tc.end)) {
			t.Errorf("parseContentRange(%q) = %d, %d, %v", tc.in, start, end, ok)
		}
	}
}

// FuzzParseRoute checks that any path parses to a valid route or an API
// error, never a panic, and that a parsed name matches the spec.
func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{
		"/v2/", "/v2/_catalog", "/v2/a/b/manifests/latest", "/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/x",
		"/v2//manifests/x", "/v2/a/../b/tags/list", "/v2/a\x00b/tags/list", "/v2/" + strings.Repeat("a/", 300) + "tags/list",
		"/v2/a/referrers/sha256:", "/v2/\xff\xfe/blobs/x", "/v2/manifests/manifests/manifests",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		r, err := parseRoute(path)
		if err != nil {
			if err.status == 0 || err.code == "" {
				t.Fatalf("error without status or code: %+v", err)
			}
			return
		}
		if r.endpoint != endpointBase && r.endpoint != endpointCatalog && !namePattern.MatchString(r.name) {
			t.Fatalf("parseRoute(%q) accepted name %q", path, r.name)
		}
	})
}

// FuzzParseManifest checks that parseManifest never panics, and that what
// it accepts has a digest matching the bytes and well-formed references.
func FuzzParseManifest(f *testing.F) {
	for _, s := range []string{
		manifestJSON,
		`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`,
		`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"x","digest":"sha256:0","size":1}]}`,
		`{"schemaVersion":2,"config":null}`, `[]`, `null`, `{"schemaVersion":"2"}`,
		`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"subject":{"digest":"md5:x"}}`,
		strings.Repeat(`{"a":`, 10000) + strings.Repeat(`}`, 10000),
		"{\"schemaVersion\":2,\"mediaType\":\"\xff\"}",
	} {
		f.Add("", s)
		f.Add(ocispec.MediaTypeImageManifest, s)
	}
	f.Fuzz(func(t *testing.T, contentType, body string) {
		dgst := digest.FromString(body)
		m, err := parseManifest(contentType, []byte(body), dgst)
		if err != nil {
			return
		}
		if m.Descriptor.Digest != dgst || m.Descriptor.Size != int64(len(body)) {
			t.Fatalf("descriptor %+v does not describe the body", m.Descriptor)
		}
		for _, b := range append(m.Blobs, m.Manifests...) {
			if b.Digest.Validate() != nil || b.Size < 0 {
				t.Fatalf("accepted a malformed reference %+v", b)
			}
		}
	})
}

// FuzzParseContentRange checks that accepted ranges are ordered and not
// negative.
func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"0-0", "bytes 1-2", "bytes=3-4", "-", "1-", "-1", "9223372036854775807-9223372036854775807", "0x1-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, end, ok := parseContentRange(s)
		if ok && (start < 0 || end < start) {
			t.Fatalf("parseContentRange(%q) = %d, %d", s, start, end)
		}
	})
}
