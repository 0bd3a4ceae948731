package client_test

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/client"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
	"github.com/capcenter/capcenter/server"
	"github.com/capcenter/capcenter/server/servertest"
)

// mustServe starts a real capd service, backed by an embedded store in a
// temporary folder, on an in-memory listener, and returns a client of it.
func mustServe(t *testing.T, opts ...client.Option) *client.Client {
	t.Helper()
	c, _ := mustServeRegistry(t, opts...)
	return c
}

// mustServeRegistry is mustServe that also returns the registry, for its
// keys.
func mustServeRegistry(t *testing.T, opts ...client.Option) (*client.Client, *servertest.Registry) {
	t.Helper()
	r := servertest.Start(t, server.Config{})
	c, err := client.Dial(r.Addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, r
}

// mustServeFake serves impl, a hand-written service for behavior a real
// server never shows (tampered content, every status code).
func mustServeFake(t *testing.T, impl capcenterv1.CapabilityServiceServer, opts ...client.Option) *client.Client {
	t.Helper()
	g := grpc.NewServer()
	capcenterv1.RegisterCapabilityServiceServer(g, impl)
	return serveOn(t, g, opts...)
}

func serveOn(t *testing.T, g *grpc.Server, opts ...client.Option) *client.Client {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return client.New(conn, opts...)
}

// mustLoadBuiltin loads a built-in bundle from its folder.
func mustLoadBuiltin(t *testing.T, name string) *capabilities.Bundle {
	t.Helper()
	b, err := capabilities.Load(context.Background(), filepath.Join("..", "capabilities", "builtin", name), capabilities.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustPublish publishes b and fails the test unless it was created.
func mustPublish(t *testing.T, c *client.Client, b *capabilities.Bundle) *capcenterv1.Version {
	t.Helper()
	v, created, err := c.Publish(context.Background(), b)
	if err != nil {
		t.Fatalf("publish %s@%s: %v", b.Metadata.Name, b.Metadata.Version, err)
	}
	if !created {
		t.Fatalf("publish %s@%s: created = false on first publish", b.Metadata.Name, b.Metadata.Version)
	}
	return v
}

// recorder is a ProgressFunc that remembers every transfer.
type recorder struct {
	transfers []*transfer
}

type transfer struct {
	label       string
	total, sum  int64
	adds, dones int
	err         error
}

func (r *recorder) start(label string, total int64) client.Tracker {
	tr := &transfer{label: label, total: total}
	r.transfers = append(r.transfers, tr)
	return tr
}

func (tr *transfer) Add(n int) { tr.sum += int64(n); tr.adds++ }

func (tr *transfer) Done(err error) { tr.dones++; tr.err = err }
