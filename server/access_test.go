package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/registry/remote"
	orasauth "oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/builtin"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
	"github.com/capcenter/capcenter/server/auth"
)

// Callers of an auth harness: anonymous, an unknown token, and one token
// per scope.
const (
	anonymous = "anonymous"
	badToken  = "bad"
	reader    = "reader"   // read
	acme      = "acme"     // publish:acme
	publisher = "everyone" // publish:*
	admin     = "admin"    // admin
)

// lockedBuffer is a log sink tests read while the server writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// authHarness is a harness with tokens, holding acme/worker@1.0.0 and
// webservice@1.0.0, published by admin.
type authHarness struct {
	*harness
	tokens map[string]string // caller → Authorization token
	log    *lockedBuffer
	bundle map[string]packed // capability → its packing
}

// newAuthHarness starts a server with a token per scope.
func newAuthHarness(t *testing.T, anonymousRead bool) *authHarness {
	t.Helper()
	tokens := map[string]string{badToken: "capd_not-a-token"}
	var file []byte
	for name, scope := range map[string]string{reader: auth.ScopeRead, acme: "publish:acme", publisher: auth.ScopePublishAll, admin: auth.ScopeAdmin} {
		tok, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if file, err = auth.AddToken(file, auth.Entry{Name: name, SHA256: auth.Hash(tok), Scopes: []string{scope}}); err != nil {
			t.Fatal(err)
		}
		tokens[name] = tok
	}
	parsed, err := auth.ParseTokens(file)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	h := &authHarness{
		harness: newHarness(t, Config{Tokens: parsed, AnonymousRead: anonymousRead, Logger: slog.New(slog.NewTextHandler(logs, nil))}),
		tokens:  tokens, log: logs,
		bundle: map[string]packed{
			"acme/worker": pack(t, renamed(t, "worker", "acme/worker")),
			"webservice":  pack(t, loadBuiltin(t, "webservice")),
		},
	}
	for _, p := range h.bundle {
		if _, err := publish(h.as(t, admin), h.client, p.manifest, p.payload, publishOptions{}); err != nil {
			t.Fatalf("publish as admin: %v", err)
		}
	}
	return h
}

// renamed loads built-in bundle name under another name.
func renamed(t *testing.T, name, to string) *capabilities.Bundle {
	t.Helper()
	sub, err := fs.Sub(builtin.FS(), name)
	if err != nil {
		t.Fatal(err)
	}
	files := fstest.MapFS{}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(sub, p)
		if p == "capability.yaml" {
			data = bytes.Replace(data, []byte("name: "+name+"\n"), []byte("name: "+to+"\n"), 1)
		}
		files[p] = &fstest.MapFile{Data: data, Mode: 0o644}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := capabilities.LoadFS(t.Context(), files, capabilities.Limits{})
	if err != nil || b.Metadata.Name != to {
		t.Fatalf("load %s as %s: %v", name, to, err)
	}
	return b
}

// as is a call context carrying caller's token.
func (h *authHarness) as(t *testing.T, caller string) context.Context {
	t.Helper()
	c := ctx(t)
	if tok, ok := h.tokens[caller]; ok {
		c = metadata.AppendToOutgoingContext(c, "authorization", "Bearer "+tok)
	}
	return c
}

// rpc is one call of CapabilityService for the access tests.
type rpc struct {
	method string
	call   func(context.Context, *authHarness) error
	// ok is the code of a caller allowed to make the call.
	ok codes.Code
}

// rpcs returns a call of every method of CapabilityService, grouped by
// what they need: read, publish for acme/worker, publish for webservice.
func rpcs() (reads, publishAcme, publishPlain []rpc) {
	const v = "capabilities/acme/worker/versions/1.0.0"
	c := func(h *authHarness) capcenterv1.CapabilityServiceClient { return h.client }
	reads = []rpc{
		{"GetCapability", func(x context.Context, h *authHarness) error {
			_, err := c(h).GetCapability(x, &capcenterv1.GetCapabilityRequest{Name: "capabilities/acme/worker"})
			return err
		}, codes.OK},
		{"ListCapabilities", func(x context.Context, h *authHarness) error {
			_, err := c(h).ListCapabilities(x, &capcenterv1.ListCapabilitiesRequest{Query: "worker"})
			return err
		}, codes.OK},
		{"ListVersions", func(x context.Context, h *authHarness) error {
			_, err := c(h).ListVersions(x, &capcenterv1.ListVersionsRequest{Parent: "capabilities/acme/worker"})
			return err
		}, codes.OK},
		{"GetVersion", func(x context.Context, h *authHarness) error {
			_, err := c(h).GetVersion(x, &capcenterv1.GetVersionRequest{Name: v})
			return err
		}, codes.OK},
		{"PullBundle", func(x context.Context, h *authHarness) error {
			s, err := c(h).PullBundle(x, &capcenterv1.PullBundleRequest{Name: v})
			if err == nil {
				_, err = s.Recv()
			}
			return err
		}, codes.OK},
		// An unknown parameter is refused once the caller is let through.
		{"RenderTemplate", func(x context.Context, h *authHarness) error {
			params, err := structpb.NewStruct(map[string]any{"zzz": 1})
			if err == nil {
				_, err = c(h).RenderTemplate(x, &capcenterv1.RenderTemplateRequest{Name: v, Parameters: params})
			}
			return err
		}, codes.InvalidArgument},
		// acme/worker needs oam-definitions, which the harness lacks.
		{"Resolve", func(x context.Context, h *authHarness) error {
			_, err := c(h).Resolve(x, &capcenterv1.ResolveRequest{Requirements: []*capcenterv1.Requirement{{Capability: "acme/worker"}}})
			return err
		}, codes.FailedPrecondition},
		{"ListSignatures", func(x context.Context, h *authHarness) error {
			_, err := c(h).ListSignatures(x, &capcenterv1.ListSignaturesRequest{Name: v})
			return err
		}, codes.OK},
		{"ListCertificates", func(x context.Context, h *authHarness) error {
			_, err := c(h).ListCertificates(x, &capcenterv1.ListCertificatesRequest{})
			return err
		}, codes.OK},
	}
	publishAcme = []rpc{
		{"PublishBundle", func(x context.Context, h *authHarness) error {
			p := h.bundle["acme/worker"]
			_, err := publish(x, c(h), p.manifest, p.payload, publishOptions{})
			return err
		}, codes.OK},
		{"YankVersion", func(x context.Context, h *authHarness) error {
			_, err := c(h).YankVersion(x, &capcenterv1.YankVersionRequest{Name: v, Undo: true})
			return err
		}, codes.OK},
		{"DeprecateVersion", func(x context.Context, h *authHarness) error {
			_, err := c(h).DeprecateVersion(x, &capcenterv1.DeprecateVersionRequest{Name: v, Undo: true})
			return err
		}, codes.OK},
		// An empty envelope is refused once the caller is let through.
		{"AddSignature", func(x context.Context, h *authHarness) error {
			_, err := c(h).AddSignature(x, &capcenterv1.AddSignatureRequest{Name: v})
			return err
		}, codes.InvalidArgument},
	}
	publishPlain = []rpc{
		{"PublishBundle", func(x context.Context, h *authHarness) error {
			p := h.bundle["webservice"]
			_, err := publish(x, c(h), p.manifest, p.payload, publishOptions{})
			return err
		}, codes.OK},
		{"YankVersion", func(x context.Context, h *authHarness) error {
			_, err := c(h).YankVersion(x, &capcenterv1.YankVersionRequest{Name: "capabilities/webservice/versions/1.0.0", Undo: true})
			return err
		}, codes.OK},
	}
	return reads, publishAcme, publishPlain
}

// TestEveryRPCIsChecked makes sure the access tests call every method of
// CapabilityService, so that a new RPC cannot go unchecked unnoticed.
func TestEveryRPCIsChecked(t *testing.T) {
	t.Parallel()
	reads, pubs, _ := rpcs()
	covered := map[string]bool{}
	for _, r := range append(reads, pubs...) {
		covered[r.method] = true
	}
	sd := capcenterv1.CapabilityService_ServiceDesc
	for _, m := range sd.Methods {
		if !covered[m.MethodName] {
			t.Errorf("%s is not in the access tests", m.MethodName)
		}
	}
	for _, s := range sd.Streams {
		if !covered[s.StreamName] {
			t.Errorf("%s is not in the access tests", s.StreamName)
		}
	}
}

// TestRPCAccess calls every RPC as every caller, with anonymous read off
// and on: no or a bad token is Unauthenticated, a token without the
// scope PermissionDenied.
func TestRPCAccess(t *testing.T) {
	t.Parallel()
	reads, pubAcme, pubPlain := rpcs()
	const (
		unauth = codes.Unauthenticated
		denied = codes.PermissionDenied
		ok     = codes.OK // the rpc's own ok code
	)
	type family struct {
		rpcs []rpc
		want map[string]codes.Code
	}
	for _, anonRead := range []bool{false, true} {
		readAnon := unauth
		readByPublisher := denied
		if anonRead {
			readAnon, readByPublisher = ok, ok
		}
		families := map[string]family{
			"read": {reads, map[string]codes.Code{
				anonymous: readAnon, badToken: unauth, reader: ok, acme: readByPublisher, admin: ok,
			}},
			"publish acme/worker": {pubAcme, map[string]codes.Code{
				anonymous: unauth, badToken: unauth, reader: denied, acme: ok, publisher: ok, admin: ok,
			}},
			"publish webservice": {pubPlain, map[string]codes.Code{
				anonymous: unauth, badToken: unauth, reader: denied, acme: denied, publisher: ok, admin: ok,
			}},
		}
		h := newAuthHarness(t, anonRead)
		for fname, f := range families {
			for _, r := range f.rpcs {
				for caller, want := range f.want {
					name := fname + "/" + r.method + "/" + caller
					if anonRead {
						name = "anonymous read/" + name
					}
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						if want == ok {
							want = r.ok
						}
						err := r.call(h.as(t, caller), h)
						st := status.Convert(err)
						if st.Code() != want {
							t.Fatalf("%s as %s: %v, want %s", r.method, caller, err, want)
						}
						switch want {
						case unauth:
							if st.Message() != "missing or invalid token" {
								t.Errorf("message %q", st.Message())
							}
						case denied:
							if !strings.Contains(st.Message(), "scope ") {
								t.Errorf("message %q names no scope", st.Message())
							}
						}
					})
				}
			}
		}
	}
}

// TestPublishDeniedBeforeChunks: a caller without the scope is refused on
// the header alone; the stream stays open and no chunk is sent.
func TestPublishDeniedBeforeChunks(t *testing.T) {
	t.Parallel()
	h := newAuthHarness(t, true)
	p := h.bundle["acme/worker"]
	for caller, want := range map[string]codes.Code{anonymous: codes.Unauthenticated, reader: codes.PermissionDenied} {
		_, err := publish(h.as(t, caller), h.client, p.manifest, nil, publishOptions{noClose: true})
		if status.Code(err) != want {
			t.Errorf("%s: %v, want %s", caller, err, want)
		}
	}
	_, err := publish(h.as(t, reader), h.client, h.bundle["webservice"].manifest, nil, publishOptions{noClose: true})
	if st := status.Convert(err); st.Code() != codes.PermissionDenied || !strings.Contains(st.Message(), "publish:*") {
		t.Errorf("webservice as reader: %v, want PermissionDenied naming publish:*", err)
	}
}

// TestOpenServices: health and reflection answer whatever the caller
// sends, and so do /healthz and /openapi.json.
func TestOpenServices(t *testing.T) {
	t.Parallel()
	h := newAuthHarness(t, false)
	for _, caller := range []string{anonymous, badToken} {
		resp, err := healthpb.NewHealthClient(h.conn).Check(h.as(t, caller), &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health as %s: %v, %v", caller, resp, err)
		}
	}
	for _, path := range []string{"/healthz", "/openapi.json"} {
		if code, _, _ := get(t, h.http.URL+path); code != http.StatusOK {
			t.Errorf("GET %s: %d", path, code)
		}
	}
}

// httpDo sends a request with an optional Authorization header.
func httpDo(t *testing.T, method, url, authorization string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body, resp.Header
}

// TestRESTAccess: the gateway and the download pass the Authorization
// header to the gRPC checks.
func TestRESTAccess(t *testing.T) {
	t.Parallel()
	h := newAuthHarness(t, false)
	bearer := func(caller string) string {
		if tok, ok := h.tokens[caller]; ok {
			return "Bearer " + tok
		}
		return ""
	}
	paths := []string{
		"/v1/capabilities",
		"/v1/capabilities/acme/worker/versions/1.0.0",
		"/v1/capabilities/acme/worker/versions/1.0.0:download",
	}
	for _, path := range paths {
		for caller, want := range map[string]int{anonymous: 401, badToken: 401, reader: 200, acme: 403, admin: 200} {
			t.Run(path+"/"+caller, func(t *testing.T) {
				t.Parallel()
				code, body, _ := httpDo(t, http.MethodGet, h.http.URL+path, bearer(caller))
				if code != want {
					t.Fatalf("GET %s as %s: %d %s, want %d", path, caller, code, body, want)
				}
			})
		}
	}
	code, body, _ := httpDo(t, http.MethodPost, h.http.URL+"/v1/capabilities/acme/worker/versions/1.0.0:yank", bearer(reader))
	if code != http.StatusForbidden || !bytes.Contains(body, []byte("publish:acme")) {
		t.Errorf("yank as reader: %d %s", code, body)
	}
}

// v2Repo is an oras-go client of repository name acting as caller: by
// HTTP Basic with the token as password, or with a Bearer header.
func (h *authHarness) v2Repo(t *testing.T, name, caller string, bearer bool) *remote.Repository {
	t.Helper()
	repo := h.remoteRepo(t, name)
	tok, ok := h.tokens[caller]
	if !ok {
		repo.Client = http.DefaultClient // no login: answers come back as they are
		return repo
	}
	if bearer {
		repo.Client = &http.Client{Transport: bearerTransport(tok)}
		return repo
	}
	repo.Client = &orasauth.Client{
		Cache:      orasauth.NewCache(),
		Credential: orasauth.StaticCredential(repo.Reference.Registry, orasauth.Credential{Username: "anything", Password: tok}),
	}
	return repo
}

// bearerTransport sends every request with a Bearer token.
type bearerTransport string

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

// wantRefused fails the test unless err is a refusal of the distribution
// API with code, or, for a HEAD (which has no body), with the status of
// that code.
func wantRefused(t *testing.T, what string, err error, code string) {
	t.Helper()
	var resp *errcode.ErrorResponse
	httpStatus := map[string]int{"UNAUTHORIZED": http.StatusUnauthorized, "DENIED": http.StatusForbidden}[code]
	if errors.As(err, &resp) && resp.Method == http.MethodHead && len(resp.Errors) == 0 {
		if resp.StatusCode != httpStatus {
			t.Fatalf("%s: got %v, want %d", what, err, httpStatus)
		}
		return
	}
	wantCode(t, what, err, code)
}

// pushPlain pushes a small image manifest with one layer to repo, tagged
// tag.
func pushPlain(ctx context.Context, repo *remote.Repository, tag string) (ocispec.Descriptor, error) {
	mem := memory.New()
	layer := content.NewDescriptorFromBytes("application/vnd.oci.image.layer.v1.tar", []byte("a layer"))
	if err := mem.Push(ctx, layer, bytes.NewReader([]byte("a layer"))); err != nil {
		return ocispec.Descriptor{}, err
	}
	desc, err := oras.PackManifest(ctx, mem, oras.PackManifestVersion1_1, "application/vnd.example", oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := mem.Tag(ctx, desc, tag); err != nil {
		return ocispec.Descriptor{}, err
	}
	return oras.Copy(ctx, mem, tag, repo, tag, oras.DefaultCopyOptions)
}

// TestV2Access pulls, pushes and deletes through /v2/ with oras-go as
// every caller, by Basic and by Bearer.
func TestV2Access(t *testing.T) {
	t.Parallel()
	h := newAuthHarness(t, false)

	t.Run("challenge", func(t *testing.T) {
		t.Parallel()
		code, body, hdr := httpDo(t, http.MethodGet, h.http.URL+"/v2/", "")
		if code != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") != `Basic realm="capd"` || !bytes.Contains(body, []byte("UNAUTHORIZED")) {
			t.Fatalf("GET /v2/ anonymously: %d %s %q", code, body, hdr.Get("WWW-Authenticate"))
		}
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("x:"+h.tokens[reader]))
		for _, path := range []string{"/v2/", "/v2/_catalog"} {
			if code, body, _ := httpDo(t, http.MethodGet, h.http.URL+path, basic); code != http.StatusOK {
				t.Errorf("GET %s as reader: %d %s", path, code, body)
			}
		}
		if code, _, _ := httpDo(t, http.MethodGet, h.http.URL+"/v2/", "Bearer "+h.tokens[badToken]); code != http.StatusUnauthorized {
			t.Errorf("GET /v2/ with a bad token: %d", code)
		}
	})

	for _, bearer := range []bool{false, true} {
		how := "basic"
		if bearer {
			how = "bearer"
		}
		t.Run(how+"/pull", func(t *testing.T) {
			t.Parallel()
			pulls := []struct{ repo, caller, want string }{
				{"webservice", anonymous, "UNAUTHORIZED"},
				{"webservice", badToken, "UNAUTHORIZED"},
				{"webservice", acme, "DENIED"},
				{"webservice", reader, ""},
				{"webservice", publisher, ""}, // may push there, so may look
				{"webservice", admin, ""},
				{"acme/worker", acme, ""},
			}
			for _, p := range pulls {
				_, _, err := oras.Fetch(ctx(t), h.v2Repo(t, p.repo, p.caller, bearer), "1.0.0", oras.DefaultFetchOptions)
				if p.want == "" {
					if err != nil {
						t.Errorf("pull %s as %s: %v", p.repo, p.caller, err)
					}
					continue
				}
				wantCode(t, "pull "+p.repo+" as "+p.caller, err, p.want)
			}
		})
		t.Run(how+"/push and delete", func(t *testing.T) {
			t.Parallel()
			c := ctx(t)
			repoName := "acme/images-" + how
			_, err := pushPlain(c, h.v2Repo(t, repoName, reader, bearer), "v1")
			wantRefused(t, "push as reader", err, "DENIED")
			_, err = pushPlain(c, h.v2Repo(t, "other/images-"+how, acme, bearer), "v1")
			wantRefused(t, "push to other/ as acme", err, "DENIED")
			desc, err := pushPlain(c, h.v2Repo(t, repoName, acme, bearer), "v1")
			if err != nil {
				t.Fatalf("push as acme: %v", err)
			}
			wantCode(t, "delete as reader", h.v2Repo(t, repoName, reader, bearer).Delete(c, desc), "DENIED")
			if err := h.v2Repo(t, repoName, acme, bearer).Delete(c, desc); err != nil {
				t.Errorf("delete plain content as acme: %v", err)
			}
		})
	}

}

// TestV2DeleteVersionNeedsAdmin: with tokens, deleting a capability
// version through /v2/ needs admin, without Config.AllowDelete.
func TestV2DeleteVersionNeedsAdmin(t *testing.T) {
	t.Parallel()
	h := newAuthHarness(t, false)
	{
		c := ctx(t)
		desc, err := h.v2Repo(t, "acme/worker", admin, false).Resolve(c, "1.0.0")
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, "delete version as acme", h.v2Repo(t, "acme/worker", acme, false).Delete(c, desc), "DENIED")
		wantCode(t, "delete version anonymously", h.v2Repo(t, "acme/worker", anonymous, false).Delete(c, desc), "UNAUTHORIZED")
		// Not AllowDelete: with tokens, admin is what counts.
		if err := h.v2Repo(t, "acme/worker", admin, true).Delete(c, desc); err != nil {
			t.Fatalf("delete version as admin: %v", err)
		}
		if _, err := h.client.GetVersion(h.as(t, admin), &capcenterv1.GetVersionRequest{Name: "capabilities/acme/worker/versions/1.0.0"}); status.Code(err) != codes.NotFound {
			t.Errorf("GetVersion after delete: %v", err)
		}
	}
}

// TestV2AnonymousRead: with anonymous read on, pulls need no token, but
// pushes do, and the 401 challenges the client to send one.
func TestV2AnonymousRead(t *testing.T) {
	t.Parallel()
	h := newAuthHarness(t, true)
	c := ctx(t)
	if _, _, err := oras.Fetch(c, h.v2Repo(t, "acme/worker", anonymous, false), "1.0.0", oras.DefaultFetchOptions); err != nil {
		t.Errorf("anonymous pull: %v", err)
	}
	if _, err := pushPlain(c, h.v2Repo(t, "acme/x", anonymous, false), "v1"); err == nil {
		t.Error("anonymous push succeeded")
	} else {
		wantCode(t, "anonymous push", err, "UNAUTHORIZED")
	}
	if _, err := pushPlain(c, h.v2Repo(t, "acme/x", acme, false), "v1"); err != nil {
		t.Errorf("push as acme after the challenge: %v", err)
	}
}

// TestTokensNeverLogged makes calls through every door with tokens and
// checks that the log names the principals and holds no token.
func TestTokensNeverLogged(t *testing.T) {
	t.Parallel()
	h := newAuthHarness(t, false)
	c := h.as(t, reader)
	if _, err := h.client.ListCapabilities(c, &capcenterv1.ListCapabilitiesRequest{}); err != nil {
		t.Fatal(err)
	}
	_, _ = h.client.ListCapabilities(h.as(t, badToken), &capcenterv1.ListCapabilitiesRequest{})
	_, _ = h.client.YankVersion(h.as(t, reader), &capcenterv1.YankVersionRequest{Name: "capabilities/acme/worker/versions/1.0.0"})
	httpDo(t, http.MethodGet, h.http.URL+"/v1/capabilities", "Bearer "+h.tokens[admin])
	httpDo(t, http.MethodGet, h.http.URL+"/v1/capabilities/acme/worker/versions/1.0.0:download", "Bearer "+h.tokens[acme])
	if _, err := pushPlain(ctx(t), h.v2Repo(t, "acme/logged", acme, false), "v1"); err != nil {
		t.Fatal(err)
	}
	logs := h.log.String()
	for caller, tok := range h.tokens {
		if strings.Contains(logs, tok) || strings.Contains(logs, base64.StdEncoding.EncodeToString([]byte("anything:"+tok))) {
			t.Errorf("the log holds the token of %s", caller)
		}
	}
	for _, want := range []string{"principal=reader", "principal=admin", "principal=acme", "principal=anonymous"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log has no %q", want)
		}
	}
}

// TestV2MountNeedsPull: a mount from a repository the caller may not
// pull from becomes an upload session instead.
func TestV2MountNeedsPull(t *testing.T) {
	t.Parallel()
	h := newAuthHarness(t, false)
	desc, err := pushPlain(ctx(t), h.v2Repo(t, "other/src", admin, false), "v1")
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	rc, err := h.v2Repo(t, "other/src", admin, false).Fetch(ctx(t), desc)
	if err == nil {
		err = json.NewDecoder(rc).Decode(&m)
		rc.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	url := h.http.URL + "/v2/acme/copy/blobs/uploads/?mount=" + m.Layers[0].Digest.String() + "&from=other/src"
	basic := func(caller string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte("x:"+h.tokens[caller]))
	}
	if code, body, _ := httpDo(t, http.MethodPost, url, basic(acme)); code != http.StatusAccepted {
		t.Errorf("mount as acme from other/: %d %s; want 202, a new session", code, body)
	}
	if code, body, _ := httpDo(t, http.MethodPost, url, basic(admin)); code != http.StatusCreated {
		t.Errorf("mount as admin: %d %s; want 201", code, body)
	}
}
