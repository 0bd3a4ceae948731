package server

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	for _, name := range []string{"oam-definitions", "webservice", "worker"} {
		mustPublish(t, h, pack(t, loadBuiltin(t, name)))
	}
	plan, err := h.client.Resolve(ctx(t), &capcenterv1.ResolveRequest{
		Requirements: []*capcenterv1.Requirement{{Capability: "webservice"}, {Capability: "worker", VersionRange: "^1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, st := range plan.GetSteps() {
		names = append(names, st.GetCapability()+"@"+st.GetVersion())
		if !strings.HasPrefix(st.GetDigest(), "sha256:") {
			t.Errorf("step %s has no digest", st.GetCapability())
		}
	}
	if got := strings.Join(names, " "); got != "oam-definitions@1.0.0 webservice@1.0.0 worker@1.0.0" {
		t.Errorf("plan = %s; want oam-definitions first, then the rest by name", got)
	}

	tests := []struct {
		name string
		req  *capcenterv1.ResolveRequest
		code codes.Code
		say  string
	}{
		{"no version in range", &capcenterv1.ResolveRequest{Requirements: []*capcenterv1.Requirement{{Capability: "webservice", VersionRange: "^2"}}},
			codes.FailedPrecondition, "you asked for webservice ^2"},
		{"unknown capability", &capcenterv1.ResolveRequest{Requirements: []*capcenterv1.Requirement{{Capability: "nosuch"}}},
			codes.FailedPrecondition, "nosuch"},
		{"Kubernetes too old", &capcenterv1.ResolveRequest{Requirements: []*capcenterv1.Requirement{{Capability: "webservice"}}, KubernetesVersion: "1.20.0"},
			codes.FailedPrecondition, "Kubernetes"},
		{"malformed range", &capcenterv1.ResolveRequest{Requirements: []*capcenterv1.Requirement{{Capability: "webservice", VersionRange: ">>1"}}},
			codes.InvalidArgument, ">>1"},
		{"nothing asked", &capcenterv1.ResolveRequest{}, codes.InvalidArgument, "requirements"},
		{"installed twice", &capcenterv1.ResolveRequest{
			Requirements: []*capcenterv1.Requirement{{Capability: "webservice"}},
			Installed:    []*capcenterv1.InstalledCapability{{Capability: "worker", Version: "1.0.0"}, {Capability: "worker", Version: "1.0.0"}},
		}, codes.InvalidArgument, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.client.Resolve(ctx(t), tt.req)
			if status.Code(err) != tt.code || !strings.Contains(err.Error(), tt.say) {
				t.Fatalf("Resolve = %v; want %v saying %q", err, tt.code, tt.say)
			}
		})
	}
}
