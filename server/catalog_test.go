package server

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

// seeded is a harness holding webservice and scaler 1.0.0.
func seeded(t *testing.T) (*harness, map[string]packed) {
	t.Helper()
	h := newHarness(t, Config{})
	ps := map[string]packed{}
	for _, name := range []string{"webservice", "scaler"} {
		ps[name] = pack(t, loadBuiltin(t, name))
		mustPublish(t, h, ps[name])
	}
	return h, ps
}

func TestCatalog(t *testing.T) {
	t.Parallel()
	h, ps := seeded(t)
	c := ctx(t)

	got, err := h.client.GetCapability(c, &capcenterv1.GetCapabilityRequest{Name: "capabilities/scaler"})
	if err != nil || got.GetKind() != capcenterv1.Kind_KIND_TRAIT || got.GetLatestVersion() != "1.0.0" || got.GetVersionCount() != 1 || got.GetUpdateTime() == nil {
		t.Errorf("GetCapability = %v, %v", got, err)
	}
	list, err := h.client.ListCapabilities(c, &capcenterv1.ListCapabilitiesRequest{Kind: capcenterv1.Kind_KIND_COMPONENT})
	if err != nil || len(list.GetCapabilities()) != 1 || list.GetCapabilities()[0].GetName() != "capabilities/webservice" || list.GetTotalSize() != 1 {
		t.Errorf("ListCapabilities(component) = %v, %v", list, err)
	}
	list, err = h.client.ListCapabilities(c, &capcenterv1.ListCapabilitiesRequest{OrderBy: "update_time desc", PageSize: 1})
	if err != nil || len(list.GetCapabilities()) != 1 || list.GetNextPageToken() == "" || list.GetTotalSize() != 2 {
		t.Errorf("ListCapabilities(page 1 of 2) = %v, %v", list, err)
	}
	vs, err := h.client.ListVersions(c, &capcenterv1.ListVersionsRequest{Parent: "capabilities/webservice"})
	if err != nil || len(vs.GetVersions()) != 1 || vs.GetVersions()[0].GetDigest() != ps["webservice"].digest {
		t.Errorf("ListVersions = %v, %v", vs, err)
	}
	v, err := h.client.GetVersion(c, &capcenterv1.GetVersionRequest{Name: "capabilities/webservice/versions/latest"})
	if err != nil || v.GetVersion() != "1.0.0" || v.GetParameterSchema().GetFields()["properties"] == nil {
		t.Errorf("GetVersion(latest) = %v, %v", v, err)
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	h, _ := seeded(t)
	tests := []struct {
		name string
		call func() error
		code codes.Code
		want string
	}{
		{"capability without prefix", func() error {
			_, err := h.client.GetCapability(ctx(t), &capcenterv1.GetCapabilityRequest{Name: "webservice"})
			return err
		}, codes.InvalidArgument, "name: "},
		{"capability with two namespaces", func() error {
			_, err := h.client.GetCapability(ctx(t), &capcenterv1.GetCapabilityRequest{Name: "capabilities/a/b/c"})
			return err
		}, codes.InvalidArgument, "name: "},
		{"bad parent", func() error {
			_, err := h.client.ListVersions(ctx(t), &capcenterv1.ListVersionsRequest{Parent: "capabilities/Web"})
			return err
		}, codes.InvalidArgument, "parent: "},
		{"version not semver", func() error {
			_, err := h.client.GetVersion(ctx(t), &capcenterv1.GetVersionRequest{Name: "capabilities/webservice/versions/v1"})
			return err
		}, codes.InvalidArgument, "name: "},
		{"yank latest", func() error {
			_, err := h.client.YankVersion(ctx(t), &capcenterv1.YankVersionRequest{Name: "capabilities/webservice/versions/latest"})
			return err
		}, codes.InvalidArgument, "exact version"},
		{"unknown capability", func() error {
			_, err := h.client.GetCapability(ctx(t), &capcenterv1.GetCapabilityRequest{Name: "capabilities/acme/nothing"})
			return err
		}, codes.NotFound, "not found"},
		{"unknown version", func() error {
			_, err := h.client.GetVersion(ctx(t), &capcenterv1.GetVersionRequest{Name: "capabilities/webservice/versions/9.9.9"})
			return err
		}, codes.NotFound, "not found"},
		{"foreign page token", func() error {
			_, err := h.client.ListCapabilities(ctx(t), &capcenterv1.ListCapabilitiesRequest{PageToken: "garbage"})
			return err
		}, codes.InvalidArgument, ""},
		{"unknown order", func() error {
			_, err := h.client.ListCapabilities(ctx(t), &capcenterv1.ListCapabilitiesRequest{OrderBy: "size"})
			return err
		}, codes.InvalidArgument, "order_by"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call()
			if status.Code(err) != tt.code || !strings.Contains(status.Convert(err).Message(), tt.want) {
				t.Fatalf("got %v; want %v containing %q", err, tt.code, tt.want)
			}
		})
	}
}

func TestYankAndDeprecate(t *testing.T) {
	t.Parallel()
	h, _ := seeded(t)
	c := ctx(t)
	const name = "capabilities/scaler/versions/1.0.0"
	v, err := h.client.YankVersion(c, &capcenterv1.YankVersionRequest{Name: name, Reason: "broken"})
	if err != nil || !v.GetYanked() || v.GetYankReason() != "broken" {
		t.Fatalf("YankVersion = %v, %v", v, err)
	}
	v, err = h.client.DeprecateVersion(c, &capcenterv1.DeprecateVersionRequest{Name: name, Message: "use hpa"})
	if err != nil || !v.GetDeprecated() || v.GetDeprecationMessage() != "use hpa" || !v.GetYanked() {
		t.Fatalf("DeprecateVersion = %v, %v", v, err)
	}
	v, err = h.client.YankVersion(c, &capcenterv1.YankVersionRequest{Name: name, Undo: true})
	if err != nil || v.GetYanked() || !v.GetDeprecated() {
		t.Fatalf("YankVersion(undo) = %v, %v", v, err)
	}
	v, err = h.client.GetVersion(c, &capcenterv1.GetVersionRequest{Name: name})
	if err != nil || v.GetYanked() || v.GetDeprecationMessage() != "use hpa" {
		t.Fatalf("GetVersion after state changes = %v, %v", v, err)
	}
}

func TestPullRoundTrip(t *testing.T) {
	t.Parallel()
	h, ps := seeded(t)
	for _, name := range []string{"webservice/versions/1.0.0", "scaler/versions/latest"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			stream, err := h.client.PullBundle(ctx(t), &capcenterv1.PullBundleRequest{Name: "capabilities/" + name})
			if err != nil {
				t.Fatal(err)
			}
			first, err := stream.Recv()
			if err != nil {
				t.Fatalf("Recv header: %v", err)
			}
			header := first.GetHeader()
			want := ps[strings.Split(name, "/")[0]]
			if !bytes.Equal(header.GetManifest(), want.manifest) || header.GetVersion().GetDigest() != want.digest {
				t.Fatalf("header = %v; want the published manifest", header)
			}
			var payload bytes.Buffer
			for {
				msg, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("Recv: %v", err)
				}
				if len(msg.GetChunk()) == 0 || len(msg.GetChunk()) > ChunkSize {
					t.Fatalf("chunk of %d bytes", len(msg.GetChunk()))
				}
				payload.Write(msg.GetChunk())
			}
			if !bytes.Equal(payload.Bytes(), want.payload) {
				t.Fatalf("pulled %d bytes that differ from the %d published", payload.Len(), len(want.payload))
			}
		})
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	h, _ := seeded(t)
	params, _ := structpb.NewStruct(map[string]any{"image": "nginx:1.27", "replicas": 3})
	bad, _ := structpb.NewStruct(map[string]any{"image": "nginx:1.27", "replicaz": 3})
	scale, _ := structpb.NewStruct(map[string]any{"replicas": 5})
	tests := []struct {
		name     string
		req      *capcenterv1.RenderTemplateRequest
		code     codes.Code
		wantRole string
		want     string // in the message or the rendered object
	}{
		{"component", &capcenterv1.RenderTemplateRequest{
			Name: "capabilities/webservice/versions/latest", Parameters: params,
			Context: &capcenterv1.RenderContext{Name: "web", ClusterVersion: "v1.35.4"},
		}, codes.OK, "output", `"replicas":3`},
		{"trait on the sample workload", &capcenterv1.RenderTemplateRequest{
			Name: "capabilities/scaler/versions/1.0.0", Parameters: scale,
		}, codes.OK, "workload", `"replicas":5`},
		{"unknown parameter", &capcenterv1.RenderTemplateRequest{
			Name: "capabilities/webservice/versions/1.0.0", Parameters: bad,
		}, codes.InvalidArgument, "", "parameter.replicaz"},
		{"missing parameter", &capcenterv1.RenderTemplateRequest{
			Name: "capabilities/webservice/versions/1.0.0",
		}, codes.InvalidArgument, "", "image"},
		{"bad cluster version", &capcenterv1.RenderTemplateRequest{
			Name: "capabilities/webservice/versions/1.0.0", Parameters: params,
			Context: &capcenterv1.RenderContext{ClusterVersion: "new"},
		}, codes.InvalidArgument, "", "context.cluster_version"},
		{"unknown version", &capcenterv1.RenderTemplateRequest{
			Name: "capabilities/webservice/versions/2.0.0", Parameters: params,
		}, codes.NotFound, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := h.client.RenderTemplate(ctx(t), tt.req)
			if status.Code(err) != tt.code {
				t.Fatalf("RenderTemplate = %v; want %v", err, tt.code)
			}
			if err != nil {
				if !strings.Contains(status.Convert(err).Message(), tt.want) {
					t.Fatalf("message %q does not mention %q", status.Convert(err).Message(), tt.want)
				}
				return
			}
			objs := resp.GetObjects()
			if len(objs) == 0 || objs[0].GetRole() != tt.wantRole {
				t.Fatalf("objects = %v; want the first with role %s", objs, tt.wantRole)
			}
			js, _ := objs[0].GetObject().MarshalJSON()
			if !strings.Contains(strings.ReplaceAll(string(js), " ", ""), tt.want) {
				t.Fatalf("object %s does not contain %s", js, tt.want)
			}
		})
	}
}
