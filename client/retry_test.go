package client_test

import (
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"oras.land/oras-go/v2/content/memory"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/client"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
	"github.com/capcenter/capcenter/server"
	"github.com/capcenter/capcenter/server/servertest"
)

// TestPublishRetriesWhenBusy holds the server's only publish slot with a
// stream that sent its header and nothing more, then publishes with the
// client: the server answers ResourceExhausted with a retry delay, and the
// client tries again and succeeds once the slot is free.
func TestPublishRetriesWhenBusy(t *testing.T) {
	t.Parallel()
	r := servertest.Start(t, server.Config{MaxConcurrentPublishes: 1})
	conn, err := grpc.NewClient(r.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	raw := capcenterv1.NewCapabilityServiceClient(conn)
	ctx := t.Context()

	// The holder's header is of a bundle never published, so the server
	// waits for its bytes while it holds the slot.
	mem := memory.New()
	desc, err := capabilities.Pack(ctx, mem, mustLoadBuiltin(t, "worker"))
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := mem.Fetch(ctx, desc)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, desc.Size)
	if _, err := manifest.Read(buf); err != nil {
		t.Fatal(err)
	}
	_ = manifest.Close()
	holder, err := raw.PublishBundle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Send(&capcenterv1.PublishBundleRequest{Part: &capcenterv1.PublishBundleRequest_Header{
		Header: &capcenterv1.PublishHeader{Manifest: buf},
	}}); err != nil {
		t.Fatal(err)
	}
	// Give the holder time to reach the server before the client asks.
	time.Sleep(200 * time.Millisecond)
	release := time.AfterFunc(1500*time.Millisecond, func() { _, _ = holder.CloseAndRecv() })
	defer release.Stop()

	c, err := client.Dial(r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	start := time.Now()
	v, created, err := c.Publish(ctx, mustLoadBuiltin(t, "webservice"))
	if err != nil || !created || v.GetVersion() != "1.0.0" {
		t.Fatalf("Publish while the slot was held: %v, created %v, %v", v, created, err)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Fatalf("Publish returned after %s; the slot was held for 1.5 s, so it cannot have been refused and retried", waited)
	}
}
