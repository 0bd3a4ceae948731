package servertest

import (
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// RecordAuthorization serves on a loopback port, over TLS with certs when
// they are given, a gRPC server that answers every call NotFound and sends
// the "authorization" metadata of each call to the channel it returns
// (which holds 16 calls). Tests of what a client sends use it; the server
// stops when the test ends.
func RecordAuthorization(t testing.TB, certs *TLS) (addr string, auth <-chan []string) {
	t.Helper()
	ch := make(chan []string, 16)
	var opts []grpc.ServerOption
	if certs != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(certs.ServerConfig())))
	}
	opts = append(opts, grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		md, _ := metadata.FromIncomingContext(stream.Context())
		ch <- md.Get("authorization")
		return status.Error(codes.NotFound, "nothing here")
	}))
	g := grpc.NewServer(opts...)
	lis, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	return lis.Addr().String(), ch
}
