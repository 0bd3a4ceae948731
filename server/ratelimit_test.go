package server

import (
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
	"github.com/capcenter/capcenter/server/auth"
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
