package capabilities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"
)

// packed packs the good component into store and returns the descriptor and
// the decoded image manifest.
func packed(t *testing.T, store content.Storage) (ocispec.Descriptor, ocispec.Manifest) {
	t.Helper()
	desc, err := Pack(t.Context(), store, mustLoad(t, goodComponent))
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	var m ocispec.Manifest
	fetchJSON(t, store, desc, &m)
	return desc, m
}

// pushJSON pushes v, as JSON, into store with the given media type.
func pushJSON(t *testing.T, store content.Pusher, mediaType string, v any) ocispec.Descriptor {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	desc := content.NewDescriptorFromBytes(mediaType, data)
	if err := store.Push(t.Context(), desc, bytes.NewReader(data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		t.Fatalf("push: %v", err)
	}
	return desc
}

// layerIndex returns the index of the layer titled title.
func layerIndex(t *testing.T, m *ocispec.Manifest, title string) int {
	t.Helper()
	for i, l := range m.Layers {
		if l.Annotations[ocispec.AnnotationTitle] == title {
			return i
		}
	}
	t.Fatalf("no layer %q", title)
	return -1
}

// countingFetcher counts the bytes read from each blob it fetches.
type countingFetcher struct {
	content.Fetcher
	mu   sync.Mutex
	read map[string]int64 // by digest
}

func newCountingFetcher(f content.Fetcher) *countingFetcher {
	return &countingFetcher{Fetcher: f, read: map[string]int64{}}
}

func (c *countingFetcher) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	rc, err := c.Fetcher.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.read[desc.Digest.String()] += 0 // fetched, nothing read yet
	c.mu.Unlock()
	return &countingReader{rc, c, desc.Digest.String()}, nil
}

// bytesRead returns how many bytes were read of digest, and whether it was
// fetched at all.
func (c *countingFetcher) bytesRead(digest string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.read[digest]
	return n, ok
}

type countingReader struct {
	io.ReadCloser
	c      *countingFetcher
	digest string
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.c.mu.Lock()
	r.c.read[r.digest] += int64(n)
	r.c.mu.Unlock()
	return n, err
}

// TestUnpackRefuses alters a packed bundle's manifest and checks that Unpack
// refuses the result for the right reason.
func TestUnpackRefuses(t *testing.T) {
	t.Parallel()
	readme := func(m *ocispec.Manifest) *ocispec.Descriptor { return &m.Layers[3] }
	title := func(name string) func(*ocispec.Manifest) {
		return func(m *ocispec.Manifest) { readme(m).Annotations = map[string]string{ocispec.AnnotationTitle: name} }
	}
	tests := []struct {
		name   string
		change func(*ocispec.Manifest)
		lim    Limits
		is     error
		msg    string
	}{
		{"parent title", title("../x.yaml"), Limits{}, ErrUnsafePath, `layer 3: "../x.yaml": unsafe path: '.' and '..' are not allowed`},
		{"nested parent title", title("manifests/../../x.yaml"), Limits{}, ErrUnsafePath, "'.' and '..' are not allowed"},
		{"absolute title", title("/etc/cron.d/x.yaml"), Limits{}, ErrUnsafePath, `"/etc/cron.d/x.yaml": unsafe path: want a relative slash-separated path`},
		{"backslash title", title(`manifests\..\..\x.yaml`), Limits{}, ErrUnsafePath, "want a relative slash-separated path"},
		{"empty title", title(""), Limits{}, ErrUnsafePath, "empty file name"},
		{"no title", func(m *ocispec.Manifest) { readme(m).Annotations = nil }, Limits{}, ErrInvalid, "layer 3: invalid bundle: no org.opencontainers.image.title"},
		{"unknown file", title("notes.txt"), Limits{}, ErrInvalid, `"notes.txt": invalid bundle: no such file in a bundle`},
		{"metadata twice", func(m *ocispec.Manifest) {
			title(MetadataFile)(m)
			readme(m).MediaType = MediaTypeMetadata
		}, Limits{}, ErrInvalid, `layer 3: "capability.yaml": invalid bundle: appears twice`},
		{"no metadata layer", func(m *ocispec.Manifest) { m.Layers = m.Layers[1:] }, Limits{}, ErrInvalid, "capability.yaml: missing"},
		{"title twice", func(m *ocispec.Manifest) {
			title("manifests/configmap.yaml")(m)
			readme(m).MediaType = MediaTypeManifest
		}, Limits{}, ErrInvalid, `layer 3: "manifests/configmap.yaml": invalid bundle: appears twice`},
		{"wrong layer media type", func(m *ocispec.Manifest) { readme(m).MediaType = "application/octet-stream" },
			Limits{}, ErrInvalid, `media type "application/octet-stream", want "text/markdown"`},
		{"wrong artifact type", func(m *ocispec.Manifest) { m.ArtifactType = "application/vnd.example.other" },
			Limits{}, ErrInvalid, `artifactType "application/vnd.example.other" is not application/vnd.capcenter.capability.v1`},
		{"wrong config media type", func(m *ocispec.Manifest) { m.Config.MediaType = "application/json" },
			Limits{}, ErrInvalid, `config mediaType "application/json"`},
		{"wrong manifest media type", func(m *ocispec.Manifest) { m.MediaType = ocispec.MediaTypeImageIndex },
			Limits{}, ErrInvalid, "manifest mediaType"},
		{"too many layers", nil, Limits{MaxFiles: 3}, ErrTooLarge, "5 layers, more than 3"},
		{"bundle too large", nil, Limits{MaxBundleSize: 2000}, ErrTooLarge, "bundle larger than 2000 bytes"},
		{"negative size", func(m *ocispec.Manifest) { readme(m).Size = -1 }, Limits{}, ErrTooLarge, "-1 bytes"},
		{"missing blob", func(m *ocispec.Manifest) {
			readme(m).Digest = content.NewDescriptorFromBytes(MediaTypeReadme, []byte("elsewhere")).Digest
		}, Limits{}, errdef.ErrNotFound, "README.md: sha256:"},
		{"bad digest", func(m *ocispec.Manifest) { readme(m).Digest = "sha256:0000" }, Limits{}, ErrInvalid, `"sha256:0000"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := memory.New()
			desc, m := packed(t, store)
			if tt.change != nil {
				tt.change(&m)
				desc = pushJSON(t, store, ocispec.MediaTypeImageManifest, m)
			}
			b, err := Unpack(t.Context(), store, desc, tt.lim)
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Unpack error = %v\nwant %v containing %q", err, tt.is, tt.msg)
			}
			if b != nil {
				t.Errorf("Unpack returned a bundle with the error")
			}
		})
	}
}

func TestUnpackBadManifest(t *testing.T) {
	t.Parallel()
	store := memory.New()
	desc, m := packed(t, store)
	tests := []struct {
		name string
		desc ocispec.Descriptor
		is   error
		msg  string
	}{
		{"index media type", ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: desc.Digest, Size: desc.Size},
			ErrInvalid, "is not an OCI image manifest"},
		{"manifest too large", ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: 5 << 20}, ErrTooLarge, "more than 4194304"},
		{"config is metadata that does not validate", func() ocispec.Descriptor {
			m := m
			m.Config = pushJSON(t, store, MediaTypeConfig, Config{Metadata: Metadata{Name: "Acme", Version: "1", Kind: KindComponent}})
			return pushJSON(t, store, ocispec.MediaTypeImageManifest, m)
		}(), ErrInvalid, "config: version: \"1\" is not strict semver"},
		{"config is not JSON", func() ocispec.Descriptor {
			m := m
			m.Config = content.NewDescriptorFromBytes(MediaTypeConfig, []byte("name: x"))
			if err := store.Push(t.Context(), m.Config, strings.NewReader("name: x")); err != nil {
				t.Fatal(err)
			}
			return pushJSON(t, store, ocispec.MediaTypeImageManifest, m)
		}(), ErrInvalid, "config: invalid bundle: invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Unpack(t.Context(), store, tt.desc, Limits{})
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Unpack error = %v\nwant %v containing %q", err, tt.is, tt.msg)
			}
		})
	}
}

// TestUnpackNotAManifest serves JSON that is no image manifest under the
// manifest media type, through an OCI layout, which finds blobs by digest.
func TestUnpackNotAManifest(t *testing.T) {
	t.Parallel()
	store, err := oci.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range []string{`"a string"`, `{"layers": 7}`, `{`} {
		desc := content.NewDescriptorFromBytes("application/octet-stream", []byte(data))
		if err := store.Push(t.Context(), desc, strings.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		desc.MediaType = ocispec.MediaTypeImageManifest
		_, err := Unpack(t.Context(), store, desc, Limits{})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "invalid bundle: manifest: ") {
			t.Errorf("Unpack(%s) error = %v, want ErrInvalid about the manifest", data, err)
		}
	}
}

// TestUnpackTooLargeUnread shows that a layer declared larger than
// MaxFileSize is refused before a byte of it is read: nothing is fetched
// at all, not even the config.
func TestUnpackTooLargeUnread(t *testing.T) {
	t.Parallel()
	store := memory.New()
	b := mustLoad(t, goodComponent)
	b.Readme = bytes.Repeat([]byte("A capability with a long README.\n"), 200) // 6,600 bytes
	desc, err := Pack(t.Context(), store, b)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	fetchJSON(t, store, desc, &m)
	big := m.Layers[layerIndex(t, &m, ReadmeFile)]

	src := newCountingFetcher(store)
	_, err = Unpack(t.Context(), src, desc, Limits{MaxFileSize: 4096})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), `"README.md": 6600 bytes, more than 4096`) {
		t.Errorf("Unpack error = %v, want ErrTooLarge naming README.md", err)
	}
	if n, fetched := src.bytesRead(big.Digest.String()); fetched || n != 0 {
		t.Errorf("README layer: fetched %v, %d bytes read; want nothing", fetched, n)
	}
	if _, fetched := src.bytesRead(m.Config.Digest.String()); fetched {
		t.Errorf("the config was fetched")
	}
	// With room for it, the same artifact unpacks.
	if _, err := Unpack(t.Context(), store, desc, Limits{MaxFileSize: 8192}); err != nil {
		t.Errorf("Unpack with MaxFileSize 8192: %v", err)
	}
}

// blobPath is where an OCI layout at root keeps the blob of desc.
func blobPath(root string, desc ocispec.Descriptor) string {
	return filepath.Join(root, "blobs", desc.Digest.Algorithm().String(), desc.Digest.Encoded())
}

// TestUnpackTampered changes blobs on disk behind an OCI layout's back.
func TestUnpackTampered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		edit   func(data []byte) []byte // the README blob
		is     error
		readAt int64 // at most this many bytes of the README are read; 0: the blob's size + 1
	}{
		{"same size", func(d []byte) []byte { d[0] ^= 0x20; return d }, content.ErrMismatchedDigest, 0},
		{"longer", func(d []byte) []byte { return append(d, bytes.Repeat([]byte("x"), 1<<20)...) }, content.ErrTrailingData, 0},
		{"shorter", func(d []byte) []byte { return d[:len(d)/2] }, io.ErrUnexpectedEOF, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			store, err := oci.New(root)
			if err != nil {
				t.Fatal(err)
			}
			desc, m := packed(t, store)
			layer := m.Layers[layerIndex(t, &m, ReadmeFile)]
			path := blobPath(root, layer)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tt.edit(data), 0o644); err != nil {
				t.Fatal(err)
			}
			src := newCountingFetcher(store)
			_, err = Unpack(t.Context(), src, desc, Limits{})
			if !errors.Is(err, ErrInvalid) || !errors.Is(err, tt.is) || !strings.Contains(err.Error(), "README.md: "+layer.Digest.String()) {
				t.Errorf("Unpack error = %v\nwant ErrInvalid and %v naming README.md and its digest", err, tt.is)
			}
			if n, _ := src.bytesRead(layer.Digest.String()); n > layer.Size+1 {
				t.Errorf("read %d bytes of a %d-byte layer", n, layer.Size)
			}
		})
	}
}

// TestUnpackCanceled shows that Unpack returns the context's error.
func TestUnpackCanceled(t *testing.T) {
	t.Parallel()
	store := memory.New()
	desc, _ := packed(t, store)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Unpack(ctx, store, desc, Limits{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Unpack error = %v, want context.Canceled", err)
	}
}
