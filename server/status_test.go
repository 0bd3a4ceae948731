package server

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/server/auth"
	"github.com/capcenter/capcenter/store"
)

func TestToStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		code codes.Code
		msg  string
	}{
		{fmt.Errorf("x@1.0.0: %w", store.ErrNotFound), codes.NotFound, "x@1.0.0: not found"},
		{fmt.Errorf("x: %w", store.ErrAlreadyExists), codes.AlreadyExists, ""},
		{fmt.Errorf("token: %w", store.ErrInvalidArgument), codes.InvalidArgument, ""},
		{&capabilities.ValidationError{Problems: []capabilities.Problem{{Msg: "a"}, {Msg: "b"}}}, codes.InvalidArgument, "2 problems:\n  a\n  b"},
		{fmt.Errorf("f: %w", capabilities.ErrUnsafePath), codes.InvalidArgument, ""},
		{fmt.Errorf("f: %w", capabilities.ErrTooLarge), codes.ResourceExhausted, ""},
		{fmt.Errorf("render: %w", capabilities.ErrTimeout), codes.ResourceExhausted, ""},
		{fmt.Errorf("get: %w", store.ErrClosed), codes.Unavailable, ""},
		{fmt.Errorf("get: %w", context.Canceled), codes.Canceled, ""},
		{fmt.Errorf("get: %w", context.DeadlineExceeded), codes.DeadlineExceeded, ""},
		{statusError(codes.InvalidArgument, "name: bad"), codes.InvalidArgument, "name: bad"},
		{fmt.Errorf("yank: %w", auth.ErrUnauthenticated), codes.Unauthenticated, "missing or invalid token"},
		{auth.Check(&auth.Principal{Name: "ci"}, auth.NeedAdmin()), codes.PermissionDenied, `token "ci" lacks scope admin: permission denied`},
		{errors.New("open /secret/path: permission denied"), codes.Internal, internalMessage},
		{internalOnly{fmt.Errorf("x: %w", capabilities.ErrInvalid)}, codes.Internal, internalMessage},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			t.Parallel()
			st := toStatus(tt.err)
			if st.Code() != tt.code || (tt.msg != "" && st.Message() != tt.msg) {
				t.Fatalf("toStatus = %v %q; want %v %q", st.Code(), st.Message(), tt.code, tt.msg)
			}
		})
	}
}

func TestParseVersionName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, capability, version string
		latest, ok              bool
	}{
		{"capabilities/web/versions/1.2.3", "web", "1.2.3", false, true},
		{"capabilities/acme/web/versions/1.2.3-rc.1", "acme/web", "1.2.3-rc.1", false, true},
		{"capabilities/versions/versions/1.0.0", "versions", "1.0.0", false, true},
		{"capabilities/web/versions/latest", "web", "latest", true, true},
		{"capabilities/web/versions/latest", "", "", false, false},
		{"capabilities/a/b/web/versions/1.0.0", "", "", true, false},
		{"capabilities/web/versions/v1.0.0", "", "", true, false},
		{"capabilities/web/version/1.0.0", "", "", true, false},
		{"capabilities/Web/versions/1.0.0", "", "", true, false},
		{"capabilities//versions/1.0.0", "", "", true, false},
		{"web/versions/1.0.0", "", "", true, false},
		{"", "", "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			c, v, err := parseVersionName(tt.in, tt.latest)
			if (err == nil) != tt.ok || c != tt.capability || v != tt.version {
				t.Fatalf("parseVersionName(%q) = %q, %q, %v", tt.in, c, v, err)
			}
		})
	}
}

func FuzzParseVersionName(f *testing.F) {
	f.Add("capabilities/acme/web/versions/1.2.3")
	f.Fuzz(func(t *testing.T, name string) {
		c, v, err := parseVersionName(name, true)
		if err == nil && versionName(c, v) != name {
			t.Fatalf("%q parsed to %q, %q, which name %q", name, c, v, versionName(c, v))
		}
	})
}
