package capabilities

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The bundles under testdata/good, used throughout the tests.
const (
	goodComponent = "testdata/good/webapp"
	goodTrait     = "testdata/good/sidecar"
)

// mustLoad loads a bundle folder with default limits, failing t on error.
func mustLoad(t testing.TB, dir string) *Bundle {
	t.Helper()
	b, err := Load(t.Context(), dir, Limits{})
	if err != nil {
		t.Fatalf("Load(%s): %v", dir, err)
	}
	return b
}

// copyDir copies the bundle folder src into a new temporary folder.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// A wantProblem is a Problem a test expects: Line and Col are compared
// when non-zero (a zero Line asks for a problem without a line), Msg is a
// substring.
type wantProblem struct {
	file      string
	line, col int
	msg       string
}

// checkProblems asserts that err is a *ValidationError wrapping ErrInvalid
// whose problems are exactly want, in any order.
func checkProblems(t *testing.T, err error, want ...wantProblem) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("error = %v (%T), want a *ValidationError wrapping ErrInvalid", err, err)
	}
	if len(ve.Problems) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(ve.Problems), len(want), err)
	}
	for _, w := range want {
		found := false
		for _, p := range ve.Problems {
			if p.File == w.file && p.Line == w.line && (w.col == 0 || p.Col == w.col) && strings.Contains(p.Msg, w.msg) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no problem %s:%d:%d containing %q in:\n%v", w.file, w.line, w.col, w.msg, err)
		}
	}
}

func TestLoadBad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dir  string
		want []wantProblem
	}{
		{"malformed-yaml", []wantProblem{
			{MetadataFile, 4, 0, "invalid YAML: mapping values are not allowed"},
		}},
		{"unknown-kind", []wantProblem{
			{MetadataFile, 3, 7, `kind: unknown kind "widget"`},
		}},
		{"semver-short", []wantProblem{
			{MetadataFile, 2, 10, `version: "1.0" is not strict semver 2.0`},
		}},
		{"bad-dependency-range", []wantProblem{
			{MetadataFile, 8, 14, `dependencies[1].version: ">>1.x" is not a semver range`},
		}},
		{"bad-kubernetes-range", []wantProblem{
			{MetadataFile, 5, 15, `requires.kubernetes: "newest please" is not a semver range`},
		}},
		{"name-upper-case", []wantProblem{
			{MetadataFile, 1, 7, `part "WebApp" has 'W': want lower-case letters`},
		}},
		{"name-bad-namespace", []wantProblem{
			{MetadataFile, 1, 7, `part "-acme" must start and end with a letter or digit`},
		}},
		{"trait-without-appliesto", []wantProblem{
			{MetadataFile, 0, 0, "appliesTo: required for a trait"},
		}},
		{"cue-syntax-error", []wantProblem{
			{TemplateFile, 12, 2, "expected operand, found '}'"},
			{TemplateFile, 16, 3, "expected '}', found 'EOF'"},
		}},
		{"cue-conflict", []wantProblem{
			{TemplateFile, 12, 16, `output.kind: conflicting values "Secret" and "ConfigMap"`},
		}},
		{"missing-parameter", []wantProblem{
			{TemplateFile, 0, 0, "template has no parameter block"},
		}},
		{"header-name-mismatch", []wantProblem{
			{TemplateFile, 0, 0, `header name "webservice" does not match capability.yaml name "demo"`},
		}},
		{"header-type-mismatch", []wantProblem{
			{TemplateFile, 0, 0, `header type "policy" does not match capability.yaml kind "component"`},
		}},
		{"manifest-without-kind", []wantProblem{
			{"manifests/rbac.yaml", 6, 1, "document 2: kind: required"},
		}},
		{"manifest-not-yaml", []wantProblem{
			{"manifests/crd.yaml", 6, 0, "document 1: invalid YAML: found character that cannot start any token"},
		}},
		{"unknown-field", []wantProblem{
			{MetadataFile, 4, 1, `unknown field "homepage"`},
		}},
		{"component-without-output", []wantProblem{
			{TemplateFile, 0, 0, "component template has no output"},
		}},
		{"controller-without-manifests", []wantProblem{
			{ManifestsDir, 0, 0, "a controller bundle needs at least one manifest"},
		}},
		{"example-wrong-type", []wantProblem{
			{"examples/basic.yaml", 0, 0, `example examples/basic.yaml: parameter.scaling.replicas: conflicting values "three"`},
		}},
		{"several-problems", []wantProblem{
			{MetadataFile, 4, 1, `unknown field "owner"`},
			{MetadataFile, 2, 10, `version: "v1" is not strict semver 2.0`},
			{TemplateFile, 12, 22, `output.apiVersion: conflicting values "v2" and "v1"`},
			{"manifests/sa.yaml", 1, 1, "document 1: kind: required"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			t.Parallel()
			b, err := Load(t.Context(), filepath.Join("testdata/bad", tt.dir), Limits{})
			checkProblems(t, err, tt.want...)
			if b != nil {
				t.Errorf("Load returned a bundle with its error")
			}
		})
	}
}

func TestLoadGood(t *testing.T) {
	t.Parallel()
	b := mustLoad(t, goodComponent)
	wantMeta := Metadata{
		Name:        "acme/webapp",
		Version:     "1.2.0",
		Kind:        KindComponent,
		Description: "A small stateless web application.",
		Keywords:    []string{"web", "test-fixture"},
		Maintainers: []Maintainer{{Name: "Capcenter Tests", Email: "tests@example.com"}},
		Requires:    Requirements{Kubernetes: ">=1.28.0-0"},
		Source:      "https://example.com/capcenter/webapp",
	}
	if !reflect.DeepEqual(b.Metadata, wantMeta) {
		t.Errorf("Metadata = %+v\nwant %+v", b.Metadata, wantMeta)
	}
	d := b.Definition
	if d == nil {
		t.Fatal("Definition is nil")
	}
	if d.Name != "webapp" || d.Type != KindComponent || d.Labels["capcenter.dev/fixture"] != "true" {
		t.Errorf("Definition header = %q %q %v", d.Name, d.Type, d.Labels)
	}
	wantAttrs := map[string]any{"workload": map[string]any{"definition": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment"}}}
	if !reflect.DeepEqual(d.Attributes, wantAttrs) {
		t.Errorf("Attributes = %v, want %v", d.Attributes, wantAttrs)
	}
	// The template body keeps the file's import and loses the header.
	if !strings.HasPrefix(d.Template, `import "strings"`) || strings.Contains(d.Template, "webapp:") || !strings.Contains(d.Template, "parameter:") {
		t.Errorf("Template =\n%s", d.Template)
	}
	var names []string
	for _, f := range b.Files() {
		names = append(names, f.Name)
	}
	wantNames := []string{MetadataFile, TemplateFile, "manifests/configmap.yaml", ReadmeFile, "examples/basic.yaml"}
	if !reflect.DeepEqual(names, wantNames) {
		t.Errorf("Files() = %q, want %q", names, wantNames)
	}
	objs, err := b.Objects()
	if err != nil || len(objs) != 1 || objs[0]["kind"] != "ConfigMap" {
		t.Errorf("Objects() = %v, %v", objs, err)
	}
	ex, err := b.Example("basic")
	if err != nil || ex["image"] != "nginx:1.27" {
		t.Errorf("Example(basic) = %v, %v", ex, err)
	}
	if _, err := b.Example("missing"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Example(missing) error = %v, want ErrInvalid", err)
	}

	trait := mustLoad(t, goodTrait)
	if trait.Metadata.Kind != KindTrait || !reflect.DeepEqual(trait.Metadata.AppliesTo, []string{"webapp", "deployments.apps"}) ||
		!reflect.DeepEqual(trait.Metadata.Dependencies, []Dependency{{Name: "acme/webapp", Version: "^1.0.0"}}) {
		t.Errorf("trait Metadata = %+v", trait.Metadata)
	}
}

// TestLoadUnsafe shows that Load does not follow symlinks out of a bundle.
func TestLoadUnsafe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		link string // replaced by a symlink to a copy of itself outside the bundle
	}{
		{"template", TemplateFile},
		{"metadata", MetadataFile},
		{"manifest file", "manifests/configmap.yaml"},
		{"manifests folder", ManifestsDir},
		{"examples folder", ExamplesDir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := copyDir(t, goodComponent)
			outside := filepath.Join(t.TempDir(), "outside")
			if err := os.Rename(filepath.Join(dir, tt.link), outside); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, filepath.Join(dir, tt.link)); err != nil {
				t.Fatal(err)
			}
			_, err := Load(t.Context(), dir, Limits{})
			if !errors.Is(err, ErrUnsafePath) || !strings.Contains(err.Error(), tt.link+": symlinks are not followed") {
				t.Errorf("Load error = %v, want ErrUnsafePath naming %s", err, tt.link)
			}
		})
	}
}

func TestLoadLimits(t *testing.T) {
	t.Parallel()
	// The good component's five files, and the largest: template.cue.
	var total, largest int64
	err := filepath.WalkDir(goodComponent, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		total += info.Size()
		largest = max(largest, info.Size())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(t.Context(), goodComponent, Limits{MaxFileSize: largest, MaxBundleSize: total, MaxFiles: 5}); err != nil {
		t.Errorf("Load at the exact bounds: %v", err)
	}
	tests := []struct {
		name string
		lim  Limits
		msg  string
	}{
		{"file size", Limits{MaxFileSize: largest - 1}, fmt.Sprintf("template.cue: larger than %d bytes", largest-1)},
		{"bundle size", Limits{MaxBundleSize: total - 1}, fmt.Sprintf("template.cue: bundle larger than %d bytes", total-1)},
		{"file count", Limits{MaxFiles: 4}, "template.cue: more than 4 files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(t.Context(), goodComponent, tt.lim)
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Load error = %v, want ErrTooLarge with %q", err, tt.msg)
			}
		})
	}
}

// endlessFS is a bundle folder holding one capability.yaml that never ends.
// It counts the bytes read from it.
type endlessFS struct{ read *atomic.Int64 }

func (e endlessFS) Open(name string) (fs.File, error) {
	if name != MetadataFile {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return endlessFile(e), nil
}

func (e endlessFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if name != "." {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	return []fs.DirEntry{fs.FileInfoToDirEntry(endlessInfo{})}, nil
}

type endlessFile struct{ read *atomic.Int64 }

func (f endlessFile) Stat() (fs.FileInfo, error) { return endlessInfo{}, nil }
func (f endlessFile) Close() error               { return nil }

func (f endlessFile) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '#'
	}
	f.read.Add(int64(len(p)))
	return len(p), nil
}

type endlessInfo struct{}

func (endlessInfo) Name() string       { return MetadataFile }
func (endlessInfo) Size() int64        { return 0 }
func (endlessInfo) Mode() fs.FileMode  { return 0o644 }
func (endlessInfo) ModTime() time.Time { return time.Time{} }
func (endlessInfo) IsDir() bool        { return false }
func (endlessInfo) Sys() any           { return nil }

// TestLoadFSStopsReading shows that a file over the size limit is refused
// while it is read: no more than one byte past the limit is consumed.
func TestLoadFSStopsReading(t *testing.T) {
	t.Parallel()
	var read atomic.Int64
	const limit = 4096
	_, err := LoadFS(t.Context(), endlessFS{&read}, Limits{MaxFileSize: limit})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "capability.yaml: larger than 4096 bytes") {
		t.Errorf("LoadFS error = %v, want ErrTooLarge naming capability.yaml", err)
	}
	if got := read.Load(); got != limit+1 {
		t.Errorf("read %d bytes, want %d", got, limit+1)
	}
}

func TestLoadIgnoresOtherFiles(t *testing.T) {
	t.Parallel()
	dir := copyDir(t, goodComponent)
	for name, data := range map[string]string{
		"NOTES.txt":                  "not part of a bundle",
		"manifests/.hidden.yaml":     "kind: [",
		"examples/.editor-swap.yaml": "{",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Load(t.Context(), dir, Limits{}); err != nil {
		t.Errorf("Load: %v", err)
	}
	// A file that is not YAML inside manifests/ is refused, not ignored.
	if err := os.WriteFile(filepath.Join(dir, "manifests/install.sh"), []byte("#!/bin/sh"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(t.Context(), dir, Limits{}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "manifests/install.sh") {
		t.Errorf("Load with manifests/install.sh: %v, want ErrInvalid naming it", err)
	}
}

func TestFromFilesRefusesNames(t *testing.T) {
	t.Parallel()
	meta := File{MetadataFile, []byte("name: demo\nversion: 1.0.0\nkind: controller\n")}
	cm := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
	tests := []struct {
		name string
		msg  string
	}{
		{"../manifests/x.yaml", "'.' and '..' are not allowed"},
		{"manifests/../x.yaml", "'.' and '..' are not allowed"},
		{"/manifests/x.yaml", "want a relative slash-separated path"},
		{`manifests\x.yaml`, "want a relative slash-separated path"},
		{"manifests/x.json", "has no place in a bundle"},
		{"values.yaml", "has no place in a bundle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := []File{meta, {"manifests/ok.yaml", cm}, {tt.name, cm}}
			_, err := FromFiles(t.Context(), files, Limits{})
			checkProblems(t, err, wantProblem{tt.name, 0, 0, tt.msg})
		})
	}
	t.Run("twice", func(t *testing.T) {
		t.Parallel()
		_, err := FromFiles(t.Context(), []File{meta, {"manifests/ok.yaml", cm}, {"manifests/ok.yaml", cm}}, Limits{})
		checkProblems(t, err, wantProblem{"manifests/ok.yaml", 0, 0, "appears twice"})
	})
	t.Run("no metadata", func(t *testing.T) {
		t.Parallel()
		_, err := FromFiles(t.Context(), []File{{"manifests/ok.yaml", cm}}, Limits{})
		checkProblems(t, err, wantProblem{MetadataFile, 0, 0, "missing"})
	})
}

// TestWriteDirRoundTrip shows that a bundle written out loads back to the
// same artifact.
func TestWriteDirRoundTrip(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{goodComponent, goodTrait} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			b := mustLoad(t, dir)
			out := filepath.Join(t.TempDir(), "out")
			if err := WriteDir(out, b); err != nil {
				t.Fatalf("WriteDir: %v", err)
			}
			again := mustLoad(t, out)
			if got, want := packDigest(t, again), packDigest(t, b); got != want {
				t.Errorf("digest after WriteDir = %s, want %s", got, want)
			}
			if !reflect.DeepEqual(again, b) {
				t.Errorf("bundle after WriteDir differs:\n got %+v\nwant %+v", again, b)
			}
		})
	}
}

// TestWriteDirStaysInside shows that WriteDir does not follow a symlink
// already in the target folder.
func TestWriteDirStaysInside(t *testing.T) {
	t.Parallel()
	b := mustLoad(t, goodComponent)
	out, elsewhere := t.TempDir(), t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(out, ManifestsDir)); err != nil {
		t.Fatal(err)
	}
	if err := WriteDir(out, b); err == nil {
		t.Error("WriteDir through a symlinked manifests/ succeeded")
	}
	entries, err := os.ReadDir(elsewhere)
	if err != nil || len(entries) != 0 {
		t.Errorf("the symlink target holds %v (%v), want nothing", entries, err)
	}
}

func TestMetadataEncodeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{goodComponent, goodTrait} {
		data, err := os.ReadFile(filepath.Join(dir, MetadataFile))
		if err != nil {
			t.Fatal(err)
		}
		m, err := ParseMetadata(MetadataFile, data)
		if err != nil {
			t.Fatalf("ParseMetadata(%s): %v", dir, err)
		}
		enc := m.Encode()
		again, err := ParseMetadata(MetadataFile, enc)
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Errorf("ParseMetadata(Encode()) = %+v, %v; want %+v", again, err, m)
		}
		if !bytes.HasPrefix(enc, []byte("name: ")) {
			t.Errorf("Encode() =\n%s", enc)
		}
	}
}
