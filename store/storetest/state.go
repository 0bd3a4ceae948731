package storetest

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"oras.land/oras-go/v2/content"

	"github.com/capcenter/capcenter/store"
)

func testLatest(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, v := range []string{"1.2.0", "1.10.0", "1.0.0", "2.0.0-rc.1"} {
		publish(t, s, ver("scaler", v, "trait", "scaler "+v))
	}
	steps := []struct {
		name   string
		change *store.StateChange
		on     string
		want   string
	}{
		{"highest semver, not highest string", nil, "", "2.0.0-rc.1"},
		{"yanked latest falls back", &store.StateChange{Yank: true, Message: "broken"}, "2.0.0-rc.1", "1.10.0"},
		{"deprecated still counts", &store.StateChange{Deprecate: true, Message: "old"}, "1.10.0", "1.10.0"},
		{"yank again", &store.StateChange{Yank: true}, "1.10.0", "1.2.0"},
		{"yank again", &store.StateChange{Yank: true}, "1.2.0", "1.0.0"},
		{"all yanked: highest at all", &store.StateChange{Yank: true}, "1.0.0", "2.0.0-rc.1"},
		{"unyank", &store.StateChange{Yank: true, Undo: true}, "1.0.0", "1.0.0"},
	}
	for _, st := range steps {
		if st.change != nil {
			if _, err := s.SetState(ctx, "scaler", st.on, *st.change); err != nil {
				t.Fatalf("%s: SetState(%s): %v", st.name, st.on, err)
			}
		}
		c, err := s.GetCapability(ctx, "scaler")
		if err != nil || c.Latest != st.want || c.Versions != 4 || c.Description != "scaler "+st.want {
			t.Errorf("%s: GetCapability = %+v, %v; want Latest %s described by it", st.name, c, err, st.want)
		}
		v, err := s.GetVersion(ctx, "scaler", "latest")
		if err != nil || v.Version != st.want {
			t.Errorf("%s: GetVersion(latest) = %s, %v; want %s", st.name, v.Version, err, st.want)
		}
	}
}

func testSetState(t *testing.T, s store.Store) {
	ctx := t.Context()
	publish(t, s, ver("worker", "1.0.0", "component", "w"))
	publish(t, s, ver("worker", "1.1.0", "component", "w"))
	steps := []struct {
		change                store.StateChange
		yanked, deprecated    bool
		reason, deprecMessage string
	}{
		{store.StateChange{Yank: true, Message: "CVE-2030-1"}, true, false, "CVE-2030-1", ""},
		{store.StateChange{Deprecate: true, Message: "use worker 2"}, true, true, "CVE-2030-1", "use worker 2"},
		{store.StateChange{Deprecate: true, Message: "use worker 2"}, true, true, "CVE-2030-1", "use worker 2"},
		{store.StateChange{Yank: true, Undo: true}, false, true, "", "use worker 2"},
		{store.StateChange{Deprecate: true, Undo: true}, false, false, "", ""},
		{store.StateChange{Yank: true, Message: "again"}, true, false, "again", ""},
	}
	for i, st := range steps {
		got, err := s.SetState(ctx, "worker", "1.0.0", st.change)
		if err != nil {
			t.Fatalf("step %d: SetState(%+v): %v", i, st.change, err)
		}
		stored, err := s.GetVersion(ctx, "worker", "1.0.0")
		if err != nil || !sameVersion(got, stored) {
			t.Errorf("step %d: SetState returned %+v, GetVersion %+v, %v", i, got, stored, err)
		}
		if stored.Yanked != st.yanked || stored.YankReason != st.reason ||
			stored.Deprecated != st.deprecated || stored.DeprecationMessage != st.deprecMessage {
			t.Errorf("step %d: state = yanked %v %q, deprecated %v %q; want %v %q, %v %q", i,
				stored.Yanked, stored.YankReason, stored.Deprecated, stored.DeprecationMessage,
				st.yanked, st.reason, st.deprecated, st.deprecMessage)
		}
	}
	vs := allVersions(t, s, "worker", 0)
	if len(vs) != 2 || !vs[1].Yanked || vs[0].Yanked {
		t.Errorf("ListVersions = %+v, want 1.0.0 yanked and 1.1.0 not", vs)
	}
	for _, bad := range []store.StateChange{{}, {Yank: true, Deprecate: true}, {Undo: true}} {
		_, err := s.SetState(ctx, "worker", "1.0.0", bad)
		wantErr(t, "SetState of a change setting both or neither", err, store.ErrInvalidArgument)
	}
}

func testNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := Publication(t, ver("webservice", "1.0.0", "component", "w"))
	if _, _, err := s.Publish(ctx, p); err != nil {
		t.Fatal(err)
	}
	missing := content.NewDescriptorFromBytes("application/octet-stream", []byte("never stored"))
	checks := map[string]func() error{
		"GetCapability":         func() error { _, err := s.GetCapability(ctx, "nope"); return err },
		"GetVersion capability": func() error { _, err := s.GetVersion(ctx, "nope", "1.0.0"); return err },
		"GetVersion version":    func() error { _, err := s.GetVersion(ctx, "webservice", "9.9.9"); return err },
		"GetVersion latest":     func() error { _, err := s.GetVersion(ctx, "nope", "latest"); return err },
		"ListVersions":          func() error { _, err := s.ListVersions(ctx, "nope", store.PageRequest{}); return err },
		"SetState capability":   func() error { _, err := s.SetState(ctx, "nope", "1.0.0", store.StateChange{Yank: true}); return err },
		"SetState version": func() error {
			_, err := s.SetState(ctx, "webservice", "2.0.0", store.StateChange{Yank: true})
			return err
		},
		"Fetch":                  func() error { _, err := s.Fetch(ctx, missing); return err },
		"GetVersion name prefix": func() error { _, err := s.GetVersion(ctx, "web", "1.0.0"); return err },
	}
	for name, check := range checks {
		wantErr(t, name, check(), store.ErrNotFound)
	}
}

func testFetch(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := Publication(t, ver("webservice", "1.0.0", "component", "w"))
	if _, _, err := s.Publish(ctx, p); err != nil {
		t.Fatal(err)
	}
	for _, desc := range append(layers(t, p), p.Manifest) {
		want, err := content.FetchAll(ctx, p.Content, desc)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := s.Fetch(ctx, desc)
		if err != nil {
			t.Errorf("Fetch(%s): %v", desc.MediaType, err)
			continue
		}
		got, err := readAll(rc)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("Fetch(%s) = %q, %v; want %q", desc.MediaType, got, err, want)
		}
	}
}

// calls exercises every method, for the canceled and closed checks.
func calls(s store.Store, p store.Publication) map[string]func(ctx context.Context) error {
	return map[string]func(ctx context.Context) error{
		"Publish":          func(ctx context.Context) error { _, _, err := s.Publish(ctx, p); return err },
		"GetCapability":    func(ctx context.Context) error { _, err := s.GetCapability(ctx, "webservice"); return err },
		"ListCapabilities": func(ctx context.Context) error { _, err := s.ListCapabilities(ctx, store.Query{}); return err },
		"ListVersions": func(ctx context.Context) error {
			_, err := s.ListVersions(ctx, "webservice", store.PageRequest{})
			return err
		},
		"GetVersion": func(ctx context.Context) error { _, err := s.GetVersion(ctx, "webservice", "1.0.0"); return err },
		"SetState": func(ctx context.Context) error {
			_, err := s.SetState(ctx, "webservice", "1.0.0", store.StateChange{Yank: true})
			return err
		},
		"Fetch": func(ctx context.Context) error { _, err := s.Fetch(ctx, p.Manifest); return err },
		"AddReferrer": func(ctx context.Context) error {
			_, err := s.AddReferrer(ctx, "webservice", "1.0.0", p.Manifest, p.Content)
			return err
		},
		"Reindex": func(ctx context.Context) error { return s.Reindex(ctx, Describe) },
	}
}

func testCanceled(t *testing.T, s store.Store) {
	publish(t, s, ver("webservice", "1.0.0", "component", "w"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for name, call := range calls(s, Publication(t, ver("webservice", "1.1.0", "component", "w"))) {
		wantErr(t, name+" with a canceled context", call(ctx), context.Canceled)
	}
	if _, err := s.GetVersion(t.Context(), "webservice", "1.1.0"); err == nil {
		t.Error("a publish with a canceled context made its version visible")
	}
}

func testClosed(t *testing.T, s store.Store) {
	p := Publication(t, ver("webservice", "1.0.0", "component", "w"))
	if _, _, err := s.Publish(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	for name, call := range calls(s, p) {
		wantErr(t, name+" after Close", call(t.Context()), store.ErrClosed)
	}
}

// seedCatalog publishes versions of several capabilities and changes
// some states, for the reindex checks.
func seedCatalog(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	seedSearch(t, s)
	seedReferrers(t, s)
	for _, v := range []string{"1.1.0", "1.2.0", "2.0.0"} {
		publish(t, s, ver("webservice", v, "component", "HTTP service "+v, "http"))
	}
	changes := []struct {
		name, version string
		ch            store.StateChange
	}{
		{"webservice", "2.0.0", store.StateChange{Yank: true, Message: "bad release"}},
		{"webservice", "1.1.0", store.StateChange{Deprecate: true, Message: "upgrade"}},
		{"webservice", "1.2.0", store.StateChange{Yank: true}},
		{"webservice", "1.2.0", store.StateChange{Yank: true, Undo: true}},
		{"worker", "1.0.0", store.StateChange{Yank: true, Message: "only version"}},
	}
	for _, c := range changes {
		if _, err := s.SetState(ctx, c.name, c.version, c.ch); err != nil {
			t.Fatalf("SetState(%s@%s): %v", c.name, c.version, err)
		}
	}
}

// state is every answer a store gives about its catalog.
type catalogSnapshot struct {
	capabilities []store.Capability
	versions     map[string][]store.Version
	latest       map[string]store.Version
}

func snapshot(t *testing.T, s store.Store) catalogSnapshot {
	t.Helper()
	snap := catalogSnapshot{
		capabilities: allCapabilities(t, s, store.Query{OrderBy: "updated"}),
		versions:     map[string][]store.Version{},
		latest:       map[string]store.Version{},
	}
	for _, c := range snap.capabilities {
		snap.versions[c.Name] = allVersions(t, s, c.Name, 2)
		v, err := s.GetVersion(t.Context(), c.Name, "latest")
		if err != nil {
			t.Fatalf("GetVersion(%s, latest): %v", c.Name, err)
		}
		snap.latest[c.Name] = v
	}
	return snap
}

func compareSnapshots(t *testing.T, got, want catalogSnapshot) {
	t.Helper()
	if !slices.EqualFunc(got.capabilities, want.capabilities, sameCapability) {
		t.Errorf("capabilities after reindex:\n%+v\nwant\n%+v", got.capabilities, want.capabilities)
	}
	for name, vs := range want.versions {
		if !slices.EqualFunc(got.versions[name], vs, sameVersion) {
			t.Errorf("versions of %s after reindex:\n%+v\nwant\n%+v", name, got.versions[name], vs)
		}
		if !sameVersion(got.latest[name], want.latest[name]) {
			t.Errorf("latest of %s after reindex: %+v, want %+v", name, got.latest[name], want.latest[name])
		}
	}
}

func testReindexInPlace(t *testing.T, s store.Store) {
	seedCatalog(t, s)
	want := snapshot(t, s)
	if err := s.Reindex(t.Context(), Describe); err != nil {
		t.Fatalf("Reindex: %v", err)
	}
	compareSnapshots(t, snapshot(t, s), want)
	publish(t, s, ver("late", "1.0.0", "component", "published after reindex"))
	if _, err := s.GetCapability(t.Context(), "late"); err != nil {
		t.Errorf("GetCapability after reindex and publish: %v", err)
	}
}
