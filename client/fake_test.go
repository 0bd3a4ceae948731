package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/client"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

// fake answers with what a test prepared: a pull stream's messages and
// final error, and the error of every other call.
type fake struct {
	capcenterv1.UnimplementedCapabilityServiceServer
	pull    []*capcenterv1.PullBundleResponse
	pullErr error
	err     error
}

func (f *fake) PullBundle(_ *capcenterv1.PullBundleRequest, stream capcenterv1.CapabilityService_PullBundleServer) error {
	for _, m := range f.pull {
		if err := stream.Send(m); err != nil {
			return err
		}
	}
	return f.pullErr
}

func (f *fake) GetCapability(context.Context, *capcenterv1.GetCapabilityRequest) (*capcenterv1.Capability, error) {
	return nil, f.err
}

func (f *fake) PublishBundle(stream capcenterv1.CapabilityService_PublishBundleServer) error {
	if _, err := stream.Recv(); err != nil {
		return err
	}
	return f.err
}

// packed is a bundle as a pull stream carries it.
type packed struct {
	version  *capcenterv1.Version
	manifest []byte
	body     []byte // the config and layers, concatenated
}

func mustPack(t *testing.T, b *capabilities.Bundle) packed {
	t.Helper()
	ctx := context.Background()
	mem := memory.New()
	desc, err := capabilities.Pack(ctx, mem, b)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := content.FetchAll(ctx, mem, desc)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var body []byte
	for _, d := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		data, err := content.FetchAll(ctx, mem, d)
		if err != nil {
			t.Fatal(err)
		}
		body = append(body, data...)
	}
	v := &capcenterv1.Version{Capability: b.Metadata.Name, Version: b.Metadata.Version, Digest: desc.Digest.String()}
	return packed{version: v, manifest: raw, body: body}
}

func header(v *capcenterv1.Version, manifest []byte) *capcenterv1.PullBundleResponse {
	return &capcenterv1.PullBundleResponse{Part: &capcenterv1.PullBundleResponse_Header{
		Header: &capcenterv1.PullHeader{Version: v, Manifest: manifest},
	}}
}

func chunk(b []byte) *capcenterv1.PullBundleResponse {
	return &capcenterv1.PullBundleResponse{Part: &capcenterv1.PullBundleResponse_Chunk{Chunk: b}}
}

// stream is the honest pull stream of p, its body in three chunks.
func (p packed) stream() []*capcenterv1.PullBundleResponse {
	third := len(p.body) / 3
	return []*capcenterv1.PullBundleResponse{
		header(p.version, p.manifest), chunk(p.body[:third]), chunk(p.body[third : 2*third]), chunk(p.body[2*third:]),
	}
}

func TestPullRefusesTamperedStreams(t *testing.T) {
	t.Parallel()
	p := mustPack(t, mustLoadBuiltin(t, "worker"))
	flipped := bytes.Clone(p.body)
	flipped[len(flipped)/2] ^= 1
	otherVersion := &capcenterv1.Version{Capability: "worker", Version: "2.0.0", Digest: p.version.GetDigest()}
	otherDigest := &capcenterv1.Version{Capability: "worker", Version: "1.0.0", Digest: digest.FromString("other").String()}
	huge := bytes.Replace(p.manifest, []byte(`"size":`), []byte(`"size":99999`), 1)
	hugeVersion := &capcenterv1.Version{Capability: "worker", Version: "1.0.0", Digest: digest.FromBytes(huge).String()}
	for _, tc := range []struct {
		name string
		msgs []*capcenterv1.PullBundleResponse
		err  error
		want error
	}{
		{"honest", p.stream(), nil, nil},
		{"manifest is not the version's", []*capcenterv1.PullBundleResponse{header(otherDigest, p.manifest), chunk(p.body)}, nil, client.ErrDigestMismatch},
		{"a flipped bit", []*capcenterv1.PullBundleResponse{header(p.version, p.manifest), chunk(flipped)}, nil, client.ErrDigestMismatch},
		{"truncated", []*capcenterv1.PullBundleResponse{header(p.version, p.manifest), chunk(p.body[:len(p.body)-10])}, nil, client.ErrDigestMismatch},
		{"trailing bytes", []*capcenterv1.PullBundleResponse{header(p.version, p.manifest), chunk(append(bytes.Clone(p.body), "xx"...))}, nil, client.ErrDigestMismatch},
		{"trailing chunk", append(p.stream(), chunk([]byte("x"))), nil, client.ErrDigestMismatch},
		{"declared sizes over the limits", []*capcenterv1.PullBundleResponse{header(hugeVersion, huge), chunk(p.body)}, nil, capabilities.ErrTooLarge},
		{"no header", p.stream()[1:], nil, client.ErrInternal},
		{"empty stream", nil, nil, client.ErrInternal},
		{"a second header", append(p.stream()[:2], p.stream()...), nil, client.ErrInternal},
		{"another version", []*capcenterv1.PullBundleResponse{header(otherVersion, p.manifest), chunk(p.body)}, nil, client.ErrInternal},
		{"fails midway", p.stream()[:2], status.Error(codes.Unavailable, "shutting down"), client.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var rec recorder
			c := mustServeFake(t, &fake{pull: tc.msgs, pullErr: tc.err}, client.WithProgress(rec.start))
			pulled, err := c.Pull(context.Background(), "worker", "1.0.0", capabilities.Limits{})
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err != nil && pulled != nil {
				t.Error("a failed pull returned content")
			}
			for _, tr := range rec.transfers {
				if tr.dones != 1 || !errors.Is(tr.err, tc.want) {
					t.Errorf("tracker done %d times with %v, want once with %v", tr.dones, tr.err, tc.want)
				}
			}
		})
	}
}

func TestStatusCodesMapToSentinels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code codes.Code
		want error
	}{
		{codes.NotFound, client.ErrNotFound},
		{codes.AlreadyExists, client.ErrAlreadyExists},
		{codes.InvalidArgument, client.ErrInvalidArgument},
		{codes.FailedPrecondition, client.ErrFailedPrecondition},
		{codes.PermissionDenied, client.ErrPermissionDenied},
		{codes.Unauthenticated, client.ErrUnauthenticated},
		{codes.ResourceExhausted, client.ErrResourceExhausted},
		{codes.Unavailable, client.ErrUnavailable},
		{codes.DeadlineExceeded, client.ErrDeadlineExceeded},
		{codes.Unimplemented, client.ErrUnimplemented},
		{codes.Internal, client.ErrInternal},
		{codes.DataLoss, client.ErrInternal},
	} {
		t.Run(tc.code.String(), func(t *testing.T) {
			t.Parallel()
			c := mustServeFake(t, &fake{err: status.Error(tc.code, "webservice: the server's words")})
			_, err := c.GetCapability(context.Background(), "webservice")
			if !errors.Is(err, tc.want) || status.Code(err) != tc.code {
				t.Errorf("err = %v (code %v), want %v with code %v", err, status.Code(err), tc.want, tc.code)
			}
			want := "webservice: " + tc.want.Error() + ": the server's words"
			if err.Error() != want {
				t.Errorf("err = %q, want %q", err, want)
			}
		})
	}
}

func TestContextErrorsAreWrapped(t *testing.T) {
	t.Parallel()
	c := mustServeFake(t, &fake{})
	ctx, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	_, err := c.GetCapability(ctx, "webservice")
	if !errors.Is(err, client.ErrDeadlineExceeded) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want both %v and %v", err, client.ErrDeadlineExceeded, context.DeadlineExceeded)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = c.GetCapability(ctx, "webservice")
	if !errors.Is(err, client.ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want both %v and %v", err, client.ErrCanceled, context.Canceled)
	}
}

func TestPublishReportsTheServersVerdictWhenItStopsReading(t *testing.T) {
	t.Parallel()
	var rec recorder
	c := mustServeFake(t, &fake{err: status.Error(codes.ResourceExhausted, "bundle larger than 1024 bytes")},
		client.WithProgress(rec.start), client.WithChunkSize(32<<10))
	b := mustLoadBuiltin(t, "worker")
	b.Readme = bytes.Repeat([]byte("x"), 4<<20)
	_, _, err := c.Publish(context.Background(), b)
	if !errors.Is(err, client.ErrResourceExhausted) || err.Error() != "worker@1.0.0: resource exhausted: bundle larger than 1024 bytes" {
		t.Errorf("err = %v, want the server's ResourceExhausted", err)
	}
	if len(rec.transfers) != 1 || rec.transfers[0].dones != 1 || !errors.Is(rec.transfers[0].err, client.ErrResourceExhausted) {
		t.Errorf("transfers = %+v, want one done with the error", rec.transfers)
	}
}
