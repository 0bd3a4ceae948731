package server

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
	"github.com/capcenter/capcenter/server/auth"
	"github.com/capcenter/capcenter/store/embedded"
)

// TestRateLimitPerToken checks that a token over its rate gets
// ResourceExhausted with a RetryInfo on gRPC and 429 with Retry-After on
// /v2/, that another token is not held back by it, and that anonymous
// reads are not counted.
func TestRateLimitPerToken(t *testing.T) {
	t.Parallel()
	tokens := map[string]string{}
	var file []byte
	for _, name := range []string{"busy", "calm"} {
		tok, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if file, err = auth.AddToken(file, auth.Entry{Name: name, SHA256: auth.Hash(tok), Scopes: []string{auth.ScopeRead}}); err != nil {
			t.Fatal(err)
		}
		tokens[name] = tok
	}
	parsed, err := auth.ParseTokens(file)
	if err != nil {
		t.Fatal(err)
	}
	// One request every 100 s after a burst of 2: the third is over.
	h := newHarness(t, Config{Tokens: parsed, AnonymousRead: true, RateLimit: 0.01, RateBurst: 2, Logger: slog.New(slog.DiscardHandler)})
	call := func(name string) error {
		c := metadata.AppendToOutgoingContext(ctx(t), "authorization", "Bearer "+tokens[name])
		_, err := h.client.ListCapabilities(c, &capcenterv1.ListCapabilitiesRequest{})
		return err
	}
	for i := range 2 {
		if err := call("busy"); err != nil {
			t.Fatalf("call %d within the burst: %v", i, err)
		}
	}
	err = call("busy")
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("a call over the rate: %v, want ResourceExhausted", err)
	}
	var delay time.Duration
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay = ri.GetRetryDelay().AsDuration()
		}
	}
	if delay < time.Minute {
		t.Fatalf("retry hint %s; want about 100 s", delay)
	}
	if err := call("calm"); err != nil {
		t.Fatalf("another token: %v", err)
	}
	for i := range 5 {
		if _, err := h.client.ListCapabilities(ctx(t), &capcenterv1.ListCapabilitiesRequest{}); err != nil {
			t.Fatalf("anonymous read %d: %v", i, err)
		}
	}
	code, body, hdr := httpDo(t, http.MethodGet, h.http.URL+"/v2/_catalog", "Bearer "+tokens["busy"])
	retry, _ := strconv.Atoi(hdr.Get("Retry-After"))
	if code != http.StatusTooManyRequests || retry < 60 {
		t.Fatalf("/v2/ over the rate: %d %s, Retry-After %q; want 429 with about 100", code, body, hdr.Get("Retry-After"))
	}
}

// TestConcurrentPublishLimit checks that a publish beyond
// MaxConcurrentPublishes is refused at once with a retry hint, and that
// the slot frees when the first publish ends.
func TestConcurrentPublishLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{MaxConcurrentPublishes: 1})
	c := ctx(t)
	p := pack(t, loadBuiltin(t, "webservice"))
	// The holder sends the header of another bundle, never published, and
	// no chunk: the server waits for its bytes, holding the slot.
	held := pack(t, loadBuiltin(t, "worker"))
	startHolder := func() capcenterv1.CapabilityService_PublishBundleClient {
		holder, err := h.client.PublishBundle(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := holder.Send(&capcenterv1.PublishBundleRequest{Part: &capcenterv1.PublishBundleRequest_Header{
			Header: &capcenterv1.PublishHeader{Manifest: held.manifest},
		}}); err != nil {
			t.Fatal(err)
		}
		return holder
	}
	deadline := time.Now().Add(30 * time.Second)
	var (
		holder capcenterv1.CapabilityService_PublishBundleClient
		err    error
	)
	for {
		holder = startHolder()
		_, err = publish(c, h.client, p.manifest, p.payload, publishOptions{})
		if status.Code(err) == codes.ResourceExhausted || time.Now().After(deadline) {
			break
		}
		// The probe reached the server first and took the slot, so the
		// holder was the one refused: start both again.
		_, _ = holder.CloseAndRecv()
	}
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted || len(st.Details()) == 0 {
		t.Fatalf("a second publish while one is in flight: %v; want ResourceExhausted with a retry hint", err)
	}
	if err := holder.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.CloseAndRecv(); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("the holder, ended early: %v", err)
	}
	if _, err := publish(c, h.client, p.manifest, p.payload, publishOptions{}); err != nil {
		t.Fatalf("a publish after the slot freed: %v", err)
	}
}

// TestRateLimiterBounded checks that a rateLimiter forgets a bucket once
// it has refilled, and the least recently used one when it holds as many
// as it may, so that ever new keys cannot grow it.
func TestRateLimiterBounded(t *testing.T) {
	t.Parallel()
	// 1 a second in bursts of 2: a drained bucket is full again after 2 s.
	l := newRateLimiter(1, 2, 3)
	now := time.Unix(1000, 0)
	for i := range 100 {
		l.waitAt(fmt.Sprint("k", i), now)
	}
	if n := l.len(); n != 3 {
		t.Fatalf("after 100 keys: %d buckets, want 3", n)
	}
	for range 2 {
		l.waitAt("busy", now)
	}
	if d := l.waitAt("busy", now); d <= 0 {
		t.Fatalf("a drained bucket allows a request")
	}
	soon := now.Add(100 * time.Millisecond)
	l.waitAt("other", soon)
	if d := l.waitAt("busy", soon); d <= 0 {
		t.Fatalf("a recently used bucket was forgotten while others were older")
	}
	if l.waitAt("late", now.Add(time.Hour)); l.len() != 1 {
		t.Fatalf("an hour later: %d buckets, want only the new one", l.len())
	}
}

func TestClientGroup(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"127.0.0.1":            "127.0.0.1",
		"::ffff:192.0.2.7":     "192.0.2.7",
		"::1":                  "::/64",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::9": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":      "2001:db8:1:3::/64",
		"fe80::1%eth0":         "fe80::/64",
		"":                     "unknown",
	} {
		var a netip.Addr
		if in != "" {
			a = netip.MustParseAddr(in)
		}
		if got := clientGroup(a); got != want {
			t.Errorf("clientGroup(%s) = %s, want %s", in, got, want)
		}
	}
}

// loopback is a server on real loopback sockets, IPv4 and IPv6, so that
// 127.0.0.1 and ::1 call it as two clients; the gateway dials the IPv4
// gRPC port, as capd does.
type loopback struct {
	grpc map[string]capcenterv1.CapabilityServiceClient // by client address
	http map[string]string                              // base URL, by client address
}

// newLoopback starts s's gRPC and HTTP sides on 127.0.0.1 and ::1.
func newLoopback(t *testing.T, cfg Config) *loopback {
	t.Helper()
	st, err := embedded.Open(t.TempDir(), embedded.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	cfg.Store, cfg.UploadDir, cfg.Signer = st, t.TempDir(), testSigner(t)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(s.ServerOptions()...)
	s.Register(g)
	t.Cleanup(g.Stop)
	dial := func(addr string) *grpc.ClientConn {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	lb := &loopback{grpc: map[string]capcenterv1.CapabilityServiceClient{}, http: map[string]string{}}
	var handler http.Handler
	for _, host := range []string{"127.0.0.1", "::1"} {
		lis, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = g.Serve(lis) }()
		conn := dial(lis.Addr().String())
		lb.grpc[host] = capcenterv1.NewCapabilityServiceClient(conn)
		if handler == nil {
			if handler, err = s.HTTPHandler(t.Context(), conn); err != nil {
				t.Fatal(err)
			}
		}
		hs := httptest.NewUnstartedServer(handler)
		_ = hs.Listener.Close()
		if hs.Listener, err = (&net.ListenConfig{}).Listen(t.Context(), "tcp", net.JoinHostPort(host, "0")); err != nil {
			t.Fatal(err)
		}
		hs.Start()
		t.Cleanup(hs.Close)
		lb.http[host] = hs.URL
	}
	return lb
}

// restGet is GET url with header, answering the status code.
func restGet(t *testing.T, url string, header http.Header) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(req.Header, header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestAnonymousRateLimitPerClient checks that callers without a token get
// a bucket per client address, whichever door they use: REST calls count
// against the HTTP client's address, not the gateway's; a client cannot
// pick another bucket with X-Forwarded-For or by sending the gateway's
// metadata itself; tokens, health checks and the other address are not
// held back.
func TestAnonymousRateLimitPerClient(t *testing.T) {
	t.Parallel()
	tok, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	file, err := auth.AddToken(nil, auth.Entry{Name: "reader", SHA256: auth.Hash(tok), Scopes: []string{auth.ScopeRead}})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.ParseTokens(file)
	if err != nil {
		t.Fatal(err)
	}
	// Bursts of 2, then one request every 100 s: the third is over.
	lb := newLoopback(t, Config{Tokens: tokens, AnonymousRead: true, AnonymousRateLimit: 0.01, AnonymousRateBurst: 2})
	list := func(from string, md ...string) error {
		c := metadata.AppendToOutgoingContext(ctx(t), md...)
		_, err := lb.grpc[from].ListCapabilities(c, &capcenterv1.ListCapabilitiesRequest{})
		return err
	}
	rest := func(from string, header http.Header) int {
		return restGet(t, lb.http[from]+"/v1/capabilities", header)
	}

	// REST from ::1 through the gateway, which dials 127.0.0.1.
	for i := range 2 {
		if code := rest("::1", nil); code != http.StatusOK {
			t.Fatalf("REST call %d from ::1 within the burst: %d", i, code)
		}
	}
	if code := rest("::1", nil); code != http.StatusTooManyRequests {
		t.Fatalf("REST call over the rate from ::1: %d, want 429", code)
	}
	for name, h := range map[string]http.Header{
		"X-Forwarded-For":         {"X-Forwarded-For": {"192.0.2.1"}},
		"the gateway's header":    {"Grpc-Metadata-Capd-Gateway-Client": {"guess 192.0.2.1"}},
		"its lower-case spelling": {"grpc-metadata-capd-gateway-client": {"guess 192.0.2.1"}},
	} {
		if code := rest("::1", h); code != http.StatusTooManyRequests {
			t.Errorf("REST from ::1 claiming another address with %s: %d, want 429", name, code)
		}
	}
	if err := list("::1", gatewayClientKey, "guess 192.0.2.1"); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("gRPC from ::1 with forged gateway metadata: %v, want ResourceExhausted", err)
	}

	// 127.0.0.1 is another client: the gateway's calls did not count.
	for i := range 2 {
		if err := list("127.0.0.1"); err != nil {
			t.Fatalf("gRPC call %d from 127.0.0.1 within the burst: %v", i, err)
		}
	}
	err = list("127.0.0.1")
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted || len(st.Details()) != 1 || !strings.Contains(st.Message(), "127.0.0.1") {
		t.Fatalf("gRPC over the rate from 127.0.0.1: %v; want ResourceExhausted naming the address, with a RetryInfo", err)
	}
	code, body, hdr := httpDo(t, http.MethodGet, lb.http["127.0.0.1"]+"/v2/_catalog", "")
	if retry, _ := strconv.Atoi(hdr.Get("Retry-After")); code != http.StatusTooManyRequests || retry < 60 {
		t.Errorf("/v2/ from 127.0.0.1 over the rate: %d %s, Retry-After %q; want 429 with about 100", code, body, hdr.Get("Retry-After"))
	}

	if err := list("127.0.0.1", "authorization", "Bearer "+tok); err != nil {
		t.Errorf("a token's call from a limited address: %v", err)
	}
	if code := rest("127.0.0.1", http.Header{"Authorization": {"Bearer " + tok}}); code != http.StatusOK {
		t.Errorf("a token's REST call from a limited address: %d", code)
	}
	if code := restGet(t, lb.http["127.0.0.1"]+"/healthz", nil); code != http.StatusOK {
		t.Errorf("/healthz from a limited address: %d", code)
	}
}
