package server

import (
	"context"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// How the server knows a caller's address, which rate limits callers
// without a token. A gRPC call's is its peer's; a /v2/ request's is the
// HTTP request's. A call the REST gateway makes comes from the gateway's
// own connection, from the loopback address, so the gateway tells the
// HTTP client's address in metadata that carries a secret only this
// Server knows. A client that sends that key itself, to the gRPC port or
// as a Grpc-Metadata- header through the gateway, is ignored (and the
// header dropped before the gateway sees it). X-Forwarded-For is never
// trusted: any client can send it.

// gatewayClientKey is the metadata key of the gateway's client address:
// "<secret> <address>".
const gatewayClientKey = "capd-gateway-client"

// httpClientKey keys the client's address in the context of a /v2/
// request.
type httpClientKey struct{}

// withHTTPClient returns ctx carrying the address of the HTTP client at
// remoteAddr (an http.Request's RemoteAddr).
func withHTTPClient(ctx context.Context, remoteAddr string) context.Context {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return ctx
	}
	return context.WithValue(ctx, httpClientKey{}, ap.Addr())
}

// gatewayMetadata is what the gateway adds to the metadata of every call
// it makes for r: r's client address, behind the server's secret.
func (s *Server) gatewayMetadata(_ context.Context, r *http.Request) metadata.MD {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return nil
	}
	return metadata.Pairs(gatewayClientKey, s.gatewaySecret+" "+ap.Addr().String())
}

// withoutClientHeaders returns r without the headers the gateway would
// forward as gatewayClientKey metadata: only the gateway sets that.
func withoutClientHeaders(r *http.Request) *http.Request {
	forged := runtime.MetadataHeaderPrefix + gatewayClientKey
	var drop []string
	for k := range r.Header {
		if strings.EqualFold(k, forged) {
			drop = append(drop, k)
		}
	}
	if len(drop) == 0 {
		return r
	}
	r = r.Clone(r.Context())
	for _, k := range drop {
		delete(r.Header, k)
	}
	return r
}

// clientAddr returns the address of the caller of ctx: the HTTP client's
// for /v2/, the one the gateway vouches for with the server's secret, or
// the gRPC peer's; the zero Addr when none is known (an in-memory
// connection).
func (s *Server) clientAddr(ctx context.Context) netip.Addr {
	if a, ok := ctx.Value(httpClientKey{}).(netip.Addr); ok {
		return a
	}
	for _, v := range metadata.ValueFromIncomingContext(ctx, gatewayClientKey) {
		secret, addr, ok := strings.Cut(v, " ")
		if !ok || subtle.ConstantTimeCompare([]byte(secret), []byte(s.gatewaySecret)) != 1 {
			continue
		}
		if a, err := netip.ParseAddr(addr); err == nil {
			return a
		}
	}
	p, ok := peer.FromContext(ctx)
	if !ok {
		return netip.Addr{}
	}
	if tcp, ok := p.Addr.(*net.TCPAddr); ok {
		return tcp.AddrPort().Addr()
	}
	if p.Addr == nil {
		return netip.Addr{}
	}
	ap, _ := netip.ParseAddrPort(p.Addr.String())
	return ap.Addr()
}

// clientGroup is the rate-limit key of a client address: an IPv4 address
// as it is, an IPv6 address by its /64, which one host or site usually
// holds whole; "unknown" for the zero Addr.
func clientGroup(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is4():
		return a.String()
	}
	p, _ := a.Prefix(64) // 64 is within an IPv6 address's bits
	return p.String()
}
