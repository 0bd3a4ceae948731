package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/builtin"
	"github.com/capcenter/capcenter/server"
	"github.com/capcenter/capcenter/store"
	"github.com/capcenter/capcenter/store/embedded"
)

func TestParseGCArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		want    gcOptions
		wantErr string
	}{
		{"defaults", []string{"gc"}, gcOptions{grace: embedded.DefaultGCGrace}, ""},
		{"flags", []string{"gc", "--data", "/g", "--dry-run", "--grace", "0"}, gcOptions{dryRun: true}, ""},
		{"gc takes no addresses", []string{"gc", "--http-addr", ":0"}, gcOptions{}, "http-addr"},
		{"serve takes no gc flags", []string{"--dry-run"}, gcOptions{}, "dry-run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			cfg, err := parseArgs(tt.args, func(string) string { return "" }, &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error()+out.String(), tt.wantErr) {
					t.Fatalf("parseArgs = %v (%s); want an error about %s", err, out.String(), tt.wantErr)
				}
				return
			}
			if err != nil || cfg.command != "gc" || cfg.gc != tt.want {
				t.Fatalf("parseArgs = %+v, %v; want gc with %+v", cfg, err, tt.want)
			}
		})
	}
}

// TestGC publishes two built-in bundles, deletes one, and runs `capd gc`
// as a dry run and then for real, reading its output.
func TestGC(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bundles, err := builtin.Load(t.Context(), capabilities.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var kept store.Publication
	for i, b := range bundles[:2] {
		mem := memory.New()
		desc, err := capabilities.Pack(t.Context(), mem, b)
		if err != nil {
			t.Fatal(err)
		}
		v, err := server.Describe(t.Context(), mem, desc)
		if err != nil {
			t.Fatal(err)
		}
		p := store.Publication{Manifest: desc, Content: mem, Version: v}
		if _, _, err := st.Publish(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			kept = p
			continue
		}
		if err := st.DeleteVersion(t.Context(), v.Name, v.Version); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	runGC := func(args ...string) string {
		t.Helper()
		cfg, err := parseArgs(append([]string{"gc", "--data", dir}, args...), func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		var stdout bytes.Buffer
		if err := run(t.Context(), cfg, &stdout, io.Discard); err != nil {
			t.Fatalf("gc %v: %v", args, err)
		}
		return stdout.String()
	}
	if out := runGC(); !strings.HasPrefix(out, "capd: gc "+dir+": removed 0 of ") || !strings.Contains(out, "spared as younger than 1h0m0s") {
		t.Errorf("gc with the default grace printed %q; want nothing removed, the deleted version spared", out)
	}
	dry := runGC("--dry-run", "--grace", "0")
	var removed, total int
	if _, err := fmt.Sscanf(dry, "capd: gc "+dir+": would remove %d of %d blobs", &removed, &total); err != nil || removed < 3 || removed >= total {
		t.Errorf("dry run printed %q (%v); want at least the deleted version's manifest, config and a layer to go, and not all", dry, err)
	}
	out := runGC("--grace", "0")
	if want := strings.ReplaceAll(dry, "would remove", "removed"); out != want {
		t.Errorf("gc printed %q, want %q", out, want)
	}
	if again := runGC("--grace", "0"); !strings.Contains(again, "removed 0 of ") {
		t.Errorf("second gc printed %q; want nothing left", again)
	}

	st, err = embedded.Open(dir, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := st.GetVersion(t.Context(), kept.Version.Name, kept.Version.Version)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := content.FetchAll(t.Context(), fetcher{st}, kept.Manifest); err != nil || p.Digest != kept.Manifest.Digest.String() {
		t.Errorf("after gc the kept version's manifest reads %v", err)
	}
	if err := checkPulls(t, st, kept); err != nil {
		t.Error(err)
	}
}

// fetcher is a store as a content.Fetcher.
type fetcher struct{ store.Store }

// checkPulls reads every blob of p back from st, verifying each.
func checkPulls(t *testing.T, st store.Store, p store.Publication) error {
	t.Helper()
	b, err := capabilities.Unpack(t.Context(), fetcher{st}, p.Manifest, capabilities.Limits{})
	if err != nil {
		return fmt.Errorf("unpack %s after gc: %w", p.Manifest.Digest, err)
	}
	if b.Metadata.Name != p.Version.Name {
		return fmt.Errorf("unpacked %s, want %s", b.Metadata.Name, p.Version.Name)
	}
	return nil
}
