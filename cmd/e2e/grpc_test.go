package e2e

import (
	"context"
	"errors"
	"io"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

// chunkSize is the largest chunk the tests put in one publish message.
const chunkSize = 1 << 20

// dial opens a plaintext gRPC connection to addr, closed when tb ends.
func dial(tb testing.TB, addr string) capcenterv1.CapabilityServiceClient {
	tb.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	return capcenterv1.NewCapabilityServiceClient(conn)
}

// chunks splits p's blobs, in order, into publish chunks of at most
// chunkSize bytes.
func chunks(p packed) [][]byte {
	var out [][]byte
	for _, b := range p.blobs {
		for len(b) > chunkSize {
			out = append(out, b[:chunkSize])
			b = b[chunkSize:]
		}
		out = append(out, b)
	}
	return out
}

// publishRaw publishes p over the generated stub: the header, then the
// first keep chunks (every chunk when keep < 0), then it closes the stream.
func publishRaw(ctx context.Context, c capcenterv1.CapabilityServiceClient, p packed, keep int) (*capcenterv1.PublishBundleResponse, error) {
	stream, err := c.PublishBundle(ctx)
	if err != nil {
		return nil, err
	}
	header := &capcenterv1.PublishBundleRequest{Part: &capcenterv1.PublishBundleRequest_Header{
		Header: &capcenterv1.PublishHeader{Manifest: p.manifest},
	}}
	if err := stream.Send(header); err != nil {
		return stream.CloseAndRecv()
	}
	all := chunks(p)
	if keep >= 0 && keep < len(all) {
		all = all[:keep]
	}
	for _, chunk := range all {
		msg := &capcenterv1.PublishBundleRequest{Part: &capcenterv1.PublishBundleRequest_Chunk{Chunk: chunk}}
		if err := stream.Send(msg); err != nil {
			// The server ended the stream; its status comes with the reply.
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
	}
	return stream.CloseAndRecv()
}

// pullRaw pulls a version over the generated stub and returns the header
// and the number of chunk bytes received.
func pullRaw(ctx context.Context, c capcenterv1.CapabilityServiceClient, name string) (*capcenterv1.PullHeader, int64, error) {
	stream, err := c.PullBundle(ctx, &capcenterv1.PullBundleRequest{Name: name})
	if err != nil {
		return nil, 0, err
	}
	var header *capcenterv1.PullHeader
	var n int64
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return header, n, nil
		}
		if err != nil {
			return nil, n, err
		}
		if h := msg.GetHeader(); h != nil {
			header = h
		}
		n += int64(len(msg.GetChunk()))
	}
}
