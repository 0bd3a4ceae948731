package client_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/client"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

func TestPublishIsIdempotentAndVersionsImmutable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := mustServe(t)
	b := mustLoadBuiltin(t, "webservice")
	v := mustPublish(t, c, b)
	if v.GetCapability() != "webservice" || v.GetVersion() != "1.0.0" || !strings.HasPrefix(v.GetDigest(), "sha256:") {
		t.Errorf("published %s@%s %s, want webservice@1.0.0 and a digest", v.GetCapability(), v.GetVersion(), v.GetDigest())
	}
	again, created, err := c.Publish(ctx, b)
	if err != nil || created || again.GetDigest() != v.GetDigest() {
		t.Errorf("publishing again: created = %v, digest %s, err = %v; want unchanged %s", created, again.GetDigest(), err, v.GetDigest())
	}
	b.Readme = append(b.Readme, "\nOne more line.\n"...)
	_, _, err = c.Publish(ctx, b)
	if !errors.Is(err, client.ErrAlreadyExists) || !strings.HasPrefix(err.Error(), "webservice@1.0.0: ") {
		t.Errorf("publishing other content under 1.0.0: err = %v, want webservice@1.0.0: … %v", err, client.ErrAlreadyExists)
	}
	if status.Code(err) != codes.AlreadyExists {
		t.Errorf("status.Code(err) = %v, want AlreadyExists", status.Code(err))
	}
}

func TestBrowse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := mustServe(t)
	for _, name := range []string{"webservice", "worker", "scaler"} {
		mustPublish(t, c, mustLoadBuiltin(t, name))
	}
	newer := mustLoadBuiltin(t, "webservice")
	newer.Metadata.Version = "1.1.0"
	mustPublish(t, c, newer)

	cp, err := c.GetCapability(ctx, "webservice")
	if err != nil || cp.GetLatestVersion() != "1.1.0" || cp.GetVersionCount() != 2 || cp.GetKind() != capcenterv1.Kind_KIND_COMPONENT {
		t.Errorf("GetCapability = %v, %v; want latest 1.1.0 of 2 component versions", cp, err)
	}
	var names []string
	for cp, err := range c.Capabilities(ctx, client.Query{Kind: capcenterv1.Kind_KIND_COMPONENT, PageSize: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, cp.GetCapability())
	}
	if strings.Join(names, ",") != "webservice,worker" {
		t.Errorf("components, one per page = %v, want webservice,worker", names)
	}
	vs, err := c.ListVersions(ctx, "webservice")
	if err != nil || len(vs) != 2 || vs[0].GetVersion() != "1.1.0" || vs[1].GetVersion() != "1.0.0" {
		t.Errorf("ListVersions = %v, %v; want 1.1.0 then 1.0.0", vs, err)
	}
	latest, err := c.GetVersion(ctx, "webservice", "")
	if err != nil || latest.GetVersion() != "1.1.0" || latest.GetReadme() == "" || latest.GetParameterSchema() == nil {
		t.Errorf("GetVersion latest = %v, %v; want 1.1.0 with README and schema", latest, err)
	}
}

func TestYankAndDeprecate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := mustServe(t)
	mustPublish(t, c, mustLoadBuiltin(t, "worker"))
	type state struct {
		yanked     bool
		reason     string
		deprecated bool
		message    string
	}
	for _, tc := range []struct {
		name string
		call func() (*capcenterv1.Version, error)
		want state
	}{
		{"yank", func() (*capcenterv1.Version, error) { return c.Yank(ctx, "worker", "1.0.0", "CVE-1") }, state{true, "CVE-1", false, ""}},
		{"deprecate", func() (*capcenterv1.Version, error) { return c.Deprecate(ctx, "worker", "1.0.0", "use webservice") }, state{true, "CVE-1", true, "use webservice"}},
		{"unyank", func() (*capcenterv1.Version, error) { return c.Unyank(ctx, "worker", "1.0.0") }, state{false, "", true, "use webservice"}},
		{"undeprecate", func() (*capcenterv1.Version, error) { return c.Undeprecate(ctx, "worker", "1.0.0") }, state{}},
	} {
		v, err := tc.call()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := (state{v.GetYanked(), v.GetYankReason(), v.GetDeprecated(), v.GetDeprecationMessage()}); got != tc.want {
			t.Errorf("after %s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestPullVerifiesAndUnpacks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var rec recorder
	c := mustServe(t, client.WithProgress(rec.start), client.WithChunkSize(64<<10))
	b := mustLoadBuiltin(t, "webservice")
	b.Metadata.Name = "acme/webservice"
	b.Readme = bytes.Repeat([]byte("A long README line, to make the bundle span many chunks.\n"), 40_000) // ~2.2 MiB
	v := mustPublish(t, c, b)

	p, err := c.Pull(ctx, "acme/webservice", "latest", capabilities.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Manifest.Digest.String() != v.GetDigest() || p.Version.GetDigest() != v.GetDigest() {
		t.Errorf("pulled manifest %s, version digest %s, want %s", p.Manifest.Digest, p.Version.GetDigest(), v.GetDigest())
	}
	if !bytes.Equal(p.Bundle.Readme, b.Readme) || !bytes.Equal(p.Bundle.Template, b.Template) || len(p.Bundle.Examples) != len(b.Examples) {
		t.Error("the pulled bundle differs from the published one")
	}
	if ok, err := p.Content.Exists(ctx, p.Manifest); !ok || err != nil {
		t.Errorf("Content lacks the manifest: %v, %v", ok, err)
	}
	if len(rec.transfers) != 2 {
		t.Fatalf("%d transfers reported, want push and pull", len(rec.transfers))
	}
	// Publish sends 64 KiB chunks; capd sends 1 MiB ones.
	for i, want := range []struct {
		label   string
		minAdds int
	}{{"push acme/webservice@1.0.0", 30}, {"pull acme/webservice@latest", 3}} {
		tr := rec.transfers[i]
		if tr.label != want.label || tr.total < 2<<20 || tr.sum != tr.total || tr.adds < want.minAdds || tr.dones != 1 || tr.err != nil {
			t.Errorf("transfer %d = %+v, want %q moving its whole total in chunks, done once", i, *tr, want.label)
		}
	}
}

func TestPullRefusesABundleOverTheCallersLimits(t *testing.T) {
	t.Parallel()
	c := mustServe(t)
	b := mustLoadBuiltin(t, "worker")
	b.Readme = bytes.Repeat([]byte("x"), 100_000)
	mustPublish(t, c, b)
	_, err := c.Pull(context.Background(), "worker", "1.0.0", capabilities.Limits{MaxFileSize: 50_000})
	if !errors.Is(err, capabilities.ErrTooLarge) {
		t.Errorf("err = %v, want %v", err, capabilities.ErrTooLarge)
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := mustServe(t)
	mustPublish(t, c, mustLoadBuiltin(t, "webservice"))
	objs, err := c.Render(ctx, "webservice", "", capabilities.RenderOptions{
		Parameters: map[string]any{"image": "nginx:1.27", "ports": []any{map[string]any{"port": 80}}},
		Context:    capabilities.Context{Name: "shop", Namespace: "prod"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 || objs[0].Role != "output" || objs[0].Object["kind"] != "Deployment" {
		t.Fatalf("Render = %v, want the Deployment output first", objs)
	}
	meta, _ := objs[0].Object["metadata"].(map[string]any)
	if meta["name"] != "shop" {
		t.Errorf("metadata = %v, want the name shop", meta)
	}
	_, err = c.Render(ctx, "webservice", "1.0.0", capabilities.RenderOptions{Parameters: map[string]any{"flavor": "red"}})
	if !errors.Is(err, client.ErrInvalidArgument) || !strings.Contains(err.Error(), "flavor") {
		t.Errorf("render with an unknown parameter: err = %v, want %v naming it", err, client.ErrInvalidArgument)
	}
}

func TestErrorsNameTheirSubject(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := mustServe(t)
	mustPublish(t, c, mustLoadBuiltin(t, "worker"))
	for _, tc := range []struct {
		name     string
		call     func() error
		sentinel error
		prefix   string
	}{
		{"missing version", func() error { _, err := c.GetVersion(ctx, "worker", "9.9.9"); return err },
			client.ErrNotFound, "worker@9.9.9: "},
		{"missing capability", func() error { _, err := c.GetCapability(ctx, "nope"); return err },
			client.ErrNotFound, "nope: "},
		{"pull missing", func() error { _, err := c.Pull(ctx, "nope", "", capabilities.Limits{}); return err },
			client.ErrNotFound, "nope@latest: "},
		{"versions of missing", func() error { _, err := c.ListVersions(ctx, "nope"); return err },
			client.ErrNotFound, "nope: "},
		{"bad name, refused locally", func() error { _, err := c.GetCapability(ctx, "Bad_Name"); return err },
			client.ErrInvalidArgument, `"Bad_Name": `},
		{"yank latest", func() error { _, err := c.Yank(ctx, "worker", "latest", ""); return err },
			client.ErrInvalidArgument, "worker@latest: "},
		{"not semver", func() error { _, err := c.GetVersion(ctx, "worker", "one"); return err },
			client.ErrInvalidArgument, "worker@one: "},
		{"bad order", func() error { _, err := c.ListCapabilities(ctx, client.Query{OrderBy: "size"}); return err },
			client.ErrInvalidArgument, "search: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.call()
			if !errors.Is(err, tc.sentinel) || !strings.HasPrefix(err.Error(), tc.prefix) {
				t.Errorf("err = %v, want %q… wrapping %v", err, tc.prefix, tc.sentinel)
			}
		})
	}
}

func TestErrNotFoundReadsOnce(t *testing.T) {
	t.Parallel()
	c := mustServe(t)
	_, err := c.GetVersion(context.Background(), "webservice", "9.9.9")
	if got := err.Error(); strings.Count(got, "not found") != 1 || strings.Count(got, "webservice") != 1 {
		t.Errorf("err = %q, want the subject and 'not found' once each", got)
	}
}

func TestDialUnreachable(t *testing.T) {
	t.Parallel()
	c, err := client.Dial("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.GetCapability(context.Background(), "webservice")
	if !errors.Is(err, client.ErrUnavailable) {
		t.Errorf("err = %v, want %v", err, client.ErrUnavailable)
	}
}
