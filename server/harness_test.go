package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/builtin"
	"github.com/capcenter/capcenter/capabilities/signature"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
	"github.com/capcenter/capcenter/store/embedded"
)

// harness is a Server on the real embedded store in a temp dir, served
// over bufconn, with its HTTP side behind httptest.
type harness struct {
	client capcenterv1.CapabilityServiceClient
	conn   *grpc.ClientConn
	http   *httptest.Server
	store  *embedded.Store
}

// newHarness starts a server with cfg (whose Store it fills) and stops it
// when the test ends.
func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	st, err := embedded.Open(t.TempDir(), embedded.Options{NoSync: true})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	cfg.Store = st
	if cfg.UploadDir == "" {
		cfg.UploadDir = t.TempDir()
	}
	if cfg.Signer == nil {
		cfg.Signer = testSigner(t)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	g := grpc.NewServer(s.ServerOptions()...)
	s.Register(g)
	lis := bufconn.Listen(1 << 20)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
	)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	h, err := s.HTTPHandler(t.Context(), conn)
	if err != nil {
		t.Fatalf("HTTPHandler: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &harness{client: capcenterv1.NewCapabilityServiceClient(conn), conn: conn, http: srv, store: st}
}

// testSigner returns a signer with a fresh local CA. (servertest has the
// same for other packages; it imports this one, so these tests cannot use
// it.)
func testSigner(t *testing.T) *signature.Signer {
	t.Helper()
	ca, err := signature.NewCA(signature.CertOptions{CommonName: "server test CA"})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := signature.Issue(ca, signature.CertOptions{CommonName: "server test"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := signature.NewSigner(kp)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ctx is a test context with a bound, so that a hung call fails the test.
func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// loadBuiltin loads one built-in bundle.
func loadBuiltin(t *testing.T, name string) *capabilities.Bundle {
	t.Helper()
	sub, err := fs.Sub(builtin.FS(), name)
	if err != nil {
		t.Fatal(err)
	}
	b, err := capabilities.LoadFS(t.Context(), sub, capabilities.Limits{})
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return b
}

// packed is a bundle as it travels: the manifest bytes, and the config and
// layer bytes concatenated in manifest order.
type packed struct {
	manifest []byte
	payload  []byte
	digest   string
}

// pack packs b into memory and reads it back as it travels.
func pack(t *testing.T, b *capabilities.Bundle) packed {
	t.Helper()
	mem := memory.New()
	desc, err := capabilities.Pack(t.Context(), mem, b)
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	manifest, err := content.FetchAll(t.Context(), mem, desc)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		t.Fatal(err)
	}
	var payload bytes.Buffer
	for _, d := range blobs(&m) {
		data, err := content.FetchAll(t.Context(), mem, d)
		if err != nil {
			t.Fatal(err)
		}
		payload.Write(data)
	}
	return packed{manifest: manifest, payload: payload.Bytes(), digest: desc.Digest.String()}
}

// publishOptions shape a publish stream for tests.
type publishOptions struct {
	chunkSize int
	// noClose leaves the send side open after the last chunk, so that the
	// answer proves the server did not wait for more.
	noClose bool
}

// publish sends a publish stream: a header with manifest, then payload in
// chunks.
func publish(ctx context.Context, c capcenterv1.CapabilityServiceClient, manifest, payload []byte, o publishOptions) (*capcenterv1.PublishBundleResponse, error) {
	stream, err := c.PublishBundle(ctx)
	if err != nil {
		return nil, err
	}
	send := func(m *capcenterv1.PublishBundleRequest) bool {
		// io.EOF means the server has answered; the answer says why.
		return stream.Send(m) == nil
	}
	size := o.chunkSize
	if size == 0 {
		size = ChunkSize
	}
	ok := send(&capcenterv1.PublishBundleRequest{Part: &capcenterv1.PublishBundleRequest_Header{
		Header: &capcenterv1.PublishHeader{Manifest: manifest},
	}})
	for len(payload) > 0 && ok {
		n := min(size, len(payload))
		ok = send(&capcenterv1.PublishBundleRequest{Part: &capcenterv1.PublishBundleRequest_Chunk{Chunk: payload[:n]}})
		payload = payload[n:]
	}
	return publishAnswer(stream, o.noClose)
}

// publishAnswer reads the answer to a publish stream, first closing its
// send side unless open is set (the answer must then come without it).
func publishAnswer(stream capcenterv1.CapabilityService_PublishBundleClient, open bool) (*capcenterv1.PublishBundleResponse, error) {
	resp := &capcenterv1.PublishBundleResponse{}
	var err error
	if open {
		err = stream.RecvMsg(resp)
	} else {
		resp, err = stream.CloseAndRecv()
	}
	if errors.Is(err, io.EOF) {
		return nil, errors.New("publish: stream ended without an answer")
	}
	return resp, err
}

// mustPublish publishes p and fails the test on error.
func mustPublish(t *testing.T, h *harness, p packed) *capcenterv1.PublishBundleResponse {
	t.Helper()
	resp, err := publish(ctx(t), h.client, p.manifest, p.payload, publishOptions{})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return resp
}

// contextWithTimeout is a test context with a short bound.
func contextWithTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	t.Helper()
	return context.WithTimeout(t.Context(), d)
}
