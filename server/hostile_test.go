package server

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	notationsig "github.com/notaryproject/notation-core-go/signature"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"oras.land/oras-go/v2/content"
	"sigs.k8s.io/yaml"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/signature"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

// The hostile corpus: one YAML file per case under testdata/hostile/cases
// (README.md there lists them), each sent through the real server by
// TestHostile. A case says which door it knocks on, what it sends and
// what it must get back; the store must be unchanged afterwards and the
// answer must come within a bound.
const (
	hostileDir = "testdata/hostile"
	// hostileBound is how long any one hostile call may take.
	hostileBound = 10 * time.Second
	// hostileEvalTimeout is the server's CUE budget in these tests: short,
	// so that templates built to run long are cut off soon.
	hostileEvalTimeout = time.Second
	// hostileEvalWorkers and hostileEvalMemory bound the server's CUE
	// evaluations, which run in worker processes as in capd: a template
	// built to run long is killed, one built to take memory dies alone.
	hostileEvalWorkers = 2
	hostileEvalMemory  = 512 << 20
	// hostileKnownEnv, when set, runs the cases marked known too, to see
	// whether a bug is fixed.
	hostileKnownEnv = "CAPCENTER_HOSTILE_KNOWN"
)

// hostileCase is one case file.
type hostileCase struct {
	// Name is the file's base name without .yaml.
	Name string `json:"name"`
	// Door is publish, rest, v2, render, resolve, sign or list.
	Door string `json:"door"`
	// Doc says in one line what the case sends.
	Doc string `json:"doc"`
	// Known, when set, is why capd does not answer as Want says yet: the
	// case is skipped with that reason (see hostileKnownEnv).
	Known string `json:"known,omitempty"`
	// Last runs the case after all others: it runs CUE to the end of the
	// server's budget, which, were evaluations in process, would leave an
	// abandoned evaluation running and slow the cases after it.
	Last bool `json:"last,omitempty"`
	// Input is the door's input: see publishInput, httpRequest, v2Input,
	// renderInput, resolveInput, signInput and listInput.
	Input json.RawMessage `json:"input"`
	Want  hostileWant     `json:"want"`
}

// hostileWant is the answer a case expects.
type hostileWant struct {
	// Code is the gRPC code name (for rest, the code in the JSON body).
	Code string `json:"code,omitempty"`
	// HTTP is the HTTP status (rest and v2).
	HTTP int `json:"http,omitempty"`
	// OCI is the distribution-spec error code (v2).
	OCI string `json:"oci,omitempty"`
	// Message must occur in the answer's message: it names the field,
	// file or limit at fault.
	Message string `json:"message"`
}

// hostileOutcome is what a door answered.
type hostileOutcome struct {
	code    string
	http    int
	oci     string
	message string
}

func (o hostileOutcome) String() string {
	var parts []string
	if o.code != "" {
		parts = append(parts, "code "+o.code)
	}
	if o.http != 0 {
		parts = append(parts, "HTTP "+strconv.Itoa(o.http))
	}
	if o.oci != "" {
		parts = append(parts, "OCI "+o.oci)
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(": %q", clipText(o.message))
}

// blobSpec is bytes a case sends: exactly one field is set.
type blobSpec struct {
	Text *string `json:"text,omitempty"`
	// Go is the body of a Go string literal, for bytes YAML cannot hold
	// (invalid UTF-8, NUL).
	Go string `json:"go,omitempty"`
	// File is a file under testdata/hostile/files.
	File string `json:"file,omitempty"`
	// Generate names a generator (see generateBytes): big or deep inputs
	// made at test time.
	Generate string `json:"generate,omitempty"`
}

// fileEdit sets a file (a layer titled Name) of a bundle.
type fileEdit struct {
	Name string `json:"name"`
	// MediaType defaults to the one Pack gives a file of that name.
	MediaType string `json:"mediaType,omitempty"`
	blobSpec
}

// streamSpec shapes a publish stream.
type streamSpec struct {
	// Empty sends no message at all; ChunkFirst a chunk before any header;
	// TwoHeaders a second header after the first.
	Empty      bool `json:"empty,omitempty"`
	ChunkFirst bool `json:"chunkFirst,omitempty"`
	TwoHeaders bool `json:"twoHeaders,omitempty"`
	// HeaderOnly sends the header and keeps the stream open: an answer
	// proves the server decided on the header alone.
	HeaderOnly bool `json:"headerOnly,omitempty"`
	// Truncate drops that many bytes from the end of the content.
	Truncate int `json:"truncate,omitempty"`
	// Extra sends that many bytes after the declared content; Endless
	// sends zeros until the server answers (at most 1 GiB).
	Extra   int  `json:"extra,omitempty"`
	Endless bool `json:"endless,omitempty"`
	// CorruptLayer flips one byte of that layer's content.
	CorruptLayer *int `json:"corruptLayer,omitempty"`
}

// publishInput is a bundle built from a built-in one, then edited, and
// how its stream goes.
type publishInput struct {
	// Base is the built-in bundle to start from; worker by default.
	Base   string     `json:"base,omitempty"`
	Files  []fileEdit `json:"files,omitempty"`
	Remove []string   `json:"remove,omitempty"`
	// Config is merged into the config blob's JSON (null removes a field);
	// ConfigRaw replaces the config blob.
	Config    map[string]any `json:"config,omitempty"`
	ConfigRaw *blobSpec      `json:"configRaw,omitempty"`
	// Annotations are merged into the manifest's.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Manifest replaces the header's manifest bytes.
	Manifest *blobSpec `json:"manifest,omitempty"`
	// LayerSize, by layer index, declares another size than the content's.
	LayerSize map[string]int64 `json:"layerSize,omitempty"`
	Stream    streamSpec       `json:"stream,omitempty"`
}

// httpRequest is one HTTP request to the server (rest, and v2's last
// step). Path is sent as written, placeholders replaced.
type httpRequest struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    *blobSpec         `json:"body,omitempty"`
}

// v2Input prepares a repository, then sends Request. Placeholders in the
// request's path, headers and body: {blobN} and {sizeN} (digest and size
// of Blobs[N]), {upload} (the path of a session StartUpload opened) and
// {manifest} (Bundle's manifest).
type v2Input struct {
	// Repo is where Blobs, Bundle and StartUpload go; "hostile" by
	// default.
	Repo        string        `json:"repo,omitempty"`
	Blobs       []blobSpec    `json:"blobs,omitempty"`
	Bundle      *publishInput `json:"bundle,omitempty"`
	StartUpload bool          `json:"startUpload,omitempty"`
	Request     httpRequest   `json:"request"`
}

// renderInput is a RenderTemplateRequest in protojson; NestParameters,
// when set, nests parameters.deep that many objects deep (deeper than
// protojson reads).
type renderInput struct {
	Request        json.RawMessage `json:"request"`
	NestParameters int             `json:"nestParameters,omitempty"`
}

// resolveInput is a ResolveRequest in protojson; Requirements, when set,
// adds that many requirements of distinct capabilities.
type resolveInput struct {
	Request      json.RawMessage `json:"request"`
	Requirements int             `json:"requirements,omitempty"`
}

// signInput is an AddSignature call: Envelope names how the envelope is
// made (see makeEnvelope). Name defaults to the seeded worker 1.0.0.
type signInput struct {
	Name      string `json:"name,omitempty"`
	MediaType string `json:"mediaType,omitempty"`
	Envelope  string `json:"envelope"`
}

// listInput is a ListCapabilities or ListVersions request in protojson.
type listInput struct {
	Method  string          `json:"method"`
	Request json.RawMessage `json:"request"`
}

// hostileEnv is the one server every case runs against, with the
// bundles the cases refer to published.
type hostileEnv struct {
	h        *harness
	storeDir string
	// subject is the manifest of worker 1.0.0, which sign cases sign.
	subject ocispec.Descriptor
	client  *http.Client
	// packed holds the built-in bundles cases start from, packed.
	packed map[string]packed
}

// TestHostile runs the corpus. Cases run one after another on one
// server, each checked for its code and message, for leaving the store as
// it was, and for answering within hostileBound.
func TestHostile(t *testing.T) {
	t.Parallel()
	cases := loadHostileCases(t)
	env := newHostileEnv(t)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if c.Known != "" && os.Getenv(hostileKnownEnv) == "" {
				t.Skip("known: " + c.Known)
			}
			env.run(t, c)
		})
	}
	// After every hostile evaluation was killed or died, the server
	// still evaluates, in fresh workers.
	params, err := structpb.NewStruct(map[string]any{"image": "nginx"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.h.client.RenderTemplate(ctx(t), &capcenterv1.RenderTemplateRequest{
		Name: "capabilities/worker/versions/1.0.0", Parameters: params,
	}); err != nil {
		t.Errorf("render after the hostile cases: %v", err)
	}
}

// loadHostileCases reads and checks every case file.
func loadHostileCases(t *testing.T) []hostileCase {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(hostileDir, "cases", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no hostile cases: %v", err)
	}
	doors := map[string]bool{"publish": true, "rest": true, "v2": true, "render": true, "resolve": true, "sign": true, "list": true}
	var cases []hostileCase
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var c hostileCase
		if err := strictYAML(raw, &c); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		switch {
		case c.Name != strings.TrimSuffix(filepath.Base(p), ".yaml"):
			t.Fatalf("%s: name %q is not the file's name", p, c.Name)
		case !doors[c.Door]:
			t.Fatalf("%s: unknown door %q", p, c.Door)
		case c.Doc == "":
			t.Fatalf("%s: doc: say what the case sends", p)
		case c.Want.Message == "" && c.Want.Code != codes.OK.String():
			t.Fatalf("%s: want.message: name what the answer must say", p)
		}
		cases = append(cases, c)
	}
	slices.SortStableFunc(cases, func(a, b hostileCase) int {
		switch {
		case a.Last == b.Last:
			return 0
		case a.Last:
			return 1
		}
		return -1
	})
	return cases
}

// strictYAML decodes YAML into v, refusing fields v does not have.
func strictYAML(data []byte, v any) error {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return err
	}
	return strictJSON(j, v)
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// newHostileEnv starts the server and publishes worker, oam-definitions
// and the slowcue fixture.
func newHostileEnv(t *testing.T) *hostileEnv {
	t.Helper()
	h := newHarness(t, Config{
		Limits: capabilities.Limits{
			EvalTimeout: hostileEvalTimeout,
			Evaluator:   newEvalPool(t, hostileEvalWorkers, hostileEvalMemory),
		},
		MaxConcurrentEvals: hostileEvalWorkers,
	})
	env := &hostileEnv{h: h, storeDir: findStoreDir(t), packed: map[string]packed{}, client: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	for _, name := range []string{"oam-definitions", "worker"} {
		env.packed[name] = pack(t, loadBuiltin(t, name))
		mustPublish(t, h, env.packed[name])
	}
	slow, err := capabilities.LoadFS(t.Context(), os.DirFS(filepath.Join(hostileDir, "bundles", "slowcue")), capabilities.Limits{})
	if err != nil {
		t.Fatalf("load slowcue: %v", err)
	}
	mustPublish(t, h, pack(t, slow))
	list, err := h.client.ListSignatures(ctx(t), &capcenterv1.ListSignaturesRequest{Name: "capabilities/worker/versions/1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	env.subject = ocispec.Descriptor{MediaType: list.GetMediaType(), Digest: digest.Digest(list.GetDigest()), Size: list.GetManifestSize()}
	return env
}

// findStoreDir finds the folder newHarness opened the store in: the one
// temp dir of this test that holds index.db. (The harness keeps it to
// itself; the test lists its files read-only.)
func findStoreDir(t *testing.T) string {
	t.Helper()
	found, err := filepath.Glob(filepath.Join(filepath.Dir(t.TempDir()), "*", "index.db"))
	if err != nil || len(found) != 1 {
		t.Fatalf("store folder: found %v, %v; want one index.db", found, err)
	}
	return filepath.Dir(found[0])
}

// run sends one case and checks what came back.
func (e *hostileEnv) run(t *testing.T, c hostileCase) {
	var (
		send func(context.Context) hostileOutcome
		err  error
	)
	switch c.Door {
	case "publish":
		send, err = e.preparePublish(t, c.Input)
	case "rest":
		send, err = e.prepareREST(t, c.Input)
	case "v2":
		send, err = e.prepareV2(t, c.Input)
	case "render":
		send, err = e.prepareRender(t, c.Input)
	case "resolve":
		send, err = e.prepareResolve(t, c.Input)
	case "sign":
		send, err = e.prepareSign(t, c.Input)
	case "list":
		send, err = e.prepareList(t, c.Input)
	}
	if err != nil {
		t.Fatalf("input: %v", err)
	}
	before := e.snapshot(t)
	callCtx, cancel := context.WithTimeout(t.Context(), hostileBound+5*time.Second)
	defer cancel()
	start := time.Now()
	got := send(callCtx)
	took := time.Since(start)
	t.Logf("%s answered in %v: %v", c.Door, took.Round(time.Millisecond), got)
	c.Want.check(t, got)
	if took > hostileBound {
		t.Errorf("answered after %v, more than %v", took.Round(time.Millisecond), hostileBound)
	}
	if after := e.snapshot(t); after != before {
		t.Errorf("the store changed:\n%s", lineDiff(before, after))
	}
}

// check compares an outcome with what the case wants.
func (w hostileWant) check(t *testing.T, got hostileOutcome) {
	t.Helper()
	if strings.Contains(got.message, "rpc error: code =") {
		t.Errorf("the message wraps another status error's text: %q", clipText(got.message))
	}
	switch {
	case w.Code != "" && got.code != w.Code,
		w.HTTP != 0 && got.http != w.HTTP,
		w.OCI != "" && got.oci != w.OCI,
		!strings.Contains(got.message, w.Message):
		t.Errorf("got %v\nwant %v", got, hostileOutcome{code: w.Code, http: w.HTTP, oci: w.OCI, message: w.Message})
	}
}

// grpcOutcome is the outcome of a gRPC call.
func grpcOutcome(err error) hostileOutcome {
	st := status.Convert(err)
	return hostileOutcome{code: st.Code().String(), message: st.Message()}
}

// bytes makes the bytes b describes.
func (e *hostileEnv) bytes(b blobSpec) ([]byte, error) {
	switch {
	case b.Text != nil:
		return []byte(*b.Text), nil
	case b.Go != "":
		s, err := strconv.Unquote(`"` + b.Go + `"`)
		if err != nil {
			return nil, fmt.Errorf("go %q: %w", b.Go, err)
		}
		return []byte(s), nil
	case b.File != "":
		return os.ReadFile(filepath.Join(hostileDir, "files", filepath.FromSlash(b.File)))
	case b.Generate != "":
		return generateBytes(b.Generate)
	}
	return nil, nil
}

// aliasBomb is YAML whose aliases expand to 9^9 strings.
const aliasBomb = `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`

// generateBytes makes big or deep inputs from a spec "kind:arg:…":
//
//   - nested-json:N[:TEXT] — {"a":{"a":…1…}} N objects deep, put in TEXT
//     (Go-unquoted) where it says @@, or after it
//   - nested-array:N[:TEXT] — [[[…]]] N lists deep (JSON, and YAML flow
//     style), put in TEXT likewise
//   - yaml-alias-bomb[:TEXT] — aliasBomb, put in TEXT likewise, or before it
//   - gzip-bomb:MiB — gzip members that inflate to MiB mebibytes of zeros
//   - tar-links — a tar holding a symlink and a hard link out of the folder
//   - repeat:N:TEXT — TEXT (Go-unquoted) N times
//   - oci-manifest:N:ARTIFACTTYPE — an OCI image manifest whose config and
//     N layers are all {blob0}
func generateBytes(spec string) ([]byte, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	num := func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("generate %q: bad count %q", spec, s)
		}
		return n, nil
	}
	switch kind {
	case "nested-json", "nested-array":
		count, around, _ := strings.Cut(arg, ":")
		n, err := num(count)
		if err != nil {
			return nil, err
		}
		if around, err = strconv.Unquote(`"` + around + `"`); err != nil {
			return nil, err
		}
		if !strings.Contains(around, "@@") {
			around += "@@"
		}
		nest := strings.Repeat("[", n) + strings.Repeat("]", n)
		if kind == "nested-json" {
			nest = strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
		}
		return []byte(strings.Replace(around, "@@", nest, 1)), nil
	case "yaml-alias-bomb":
		around, err := strconv.Unquote(`"` + arg + `"`)
		if !strings.Contains(around, "@@") {
			around = "@@" + around
		}
		return []byte(strings.Replace(around, "@@", aliasBomb, 1)), err
	case "gzip-bomb":
		n, err := num(arg)
		if err != nil {
			return nil, err
		}
		return gzipBomb(n), nil
	case "tar-links":
		return tarLinks()
	case "repeat":
		count, text, _ := strings.Cut(arg, ":")
		n, err := num(count)
		if err != nil {
			return nil, err
		}
		s, err := strconv.Unquote(`"` + text + `"`)
		return []byte(strings.Repeat(s, n)), err
	case "oci-manifest":
		count, artifactType, _ := strings.Cut(arg, ":")
		n, err := num(count)
		if err != nil {
			return nil, err
		}
		layer := `{"mediaType":"application/octet-stream","digest":"{blob0}","size":{size0}}`
		layers := strings.TrimSuffix(strings.Repeat(layer+",", n), ",")
		return []byte(`{"schemaVersion":2,"mediaType":"` + ocispec.MediaTypeImageManifest + `","artifactType":"` + artifactType +
			`","config":{"mediaType":"` + capabilities.MediaTypeConfig + `","digest":"{blob0}","size":{size0}},"layers":[` + layers + `]}`), nil
	}
	return nil, fmt.Errorf("generate %q: unknown generator", spec)
}

// gzipBomb returns gzip members, each inflating to 1 MiB of zeros; gzip
// readers read concatenated members as one stream.
func gzipBomb(mib int) []byte {
	var one bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&one, gzip.BestCompression)
	_, _ = zw.Write(make([]byte, 1<<20))
	_ = zw.Close()
	return bytes.Repeat(one.Bytes(), mib)
}

// tarLinks returns a tar whose entries link out of the folder it would be
// unpacked in.
func tarLinks() ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "manifests/passwd.yaml", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd", Mode: 0o777},
		{Name: "manifests/up.yaml", Typeflag: tar.TypeLink, Linkname: "../../../etc/shadow", Mode: 0o644},
	} {
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// builtBundle is a bundle as it travels: manifest bytes and blobs.
type builtBundle struct {
	manifest []byte
	blobs    [][]byte // config, then layers
}

func (b builtBundle) payload() []byte { return bytes.Join(b.blobs, nil) }

// buildBundle packs in.Base and applies in's edits.
func (e *hostileEnv) buildBundle(t *testing.T, in *publishInput) (builtBundle, error) {
	base := cmpOr(in.Base, "worker")
	p, ok := e.packed[base]
	if !ok {
		p = pack(t, loadBuiltin(t, base)) // loading evaluates CUE: once per base
		e.packed[base] = p
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(p.manifest, &m); err != nil {
		return builtBundle{}, err
	}
	parts := splitBlobs(p.payload, blobs(&m))
	cfg, layers := parts[0], parts[1:]
	if err := e.editConfig(&cfg, in); err != nil {
		return builtBundle{}, err
	}
	m.Config = content.NewDescriptorFromBytes(m.Config.MediaType, cfg)
	for _, f := range in.Files {
		data, err := e.bytes(f.blobSpec)
		if err != nil {
			return builtBundle{}, err
		}
		d := content.NewDescriptorFromBytes(cmpOr(f.MediaType, fileMediaType(f.Name)), data)
		d.Annotations = map[string]string{ocispec.AnnotationTitle: f.Name}
		i := slices.IndexFunc(m.Layers, func(l ocispec.Descriptor) bool { return l.Annotations[ocispec.AnnotationTitle] == f.Name })
		if i < 0 {
			m.Layers, layers = append(m.Layers, d), append(layers, data)
		} else {
			m.Layers[i], layers[i] = d, data
		}
	}
	for _, name := range in.Remove {
		i := slices.IndexFunc(m.Layers, func(l ocispec.Descriptor) bool { return l.Annotations[ocispec.AnnotationTitle] == name })
		if i < 0 {
			return builtBundle{}, fmt.Errorf("remove %q: no such file in %s", name, base)
		}
		m.Layers, layers = slices.Delete(m.Layers, i, i+1), slices.Delete(layers, i, i+1)
	}
	for k, size := range in.LayerSize {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i >= len(m.Layers) {
			return builtBundle{}, fmt.Errorf("layerSize: no layer %q", k)
		}
		m.Layers[i].Size = size
	}
	maps.Copy(m.Annotations, in.Annotations)
	manifest, err := json.Marshal(m)
	if err != nil {
		return builtBundle{}, err
	}
	if in.Manifest != nil {
		if manifest, err = e.bytes(*in.Manifest); err != nil {
			return builtBundle{}, err
		}
	}
	return builtBundle{manifest: manifest, blobs: append([][]byte{cfg}, layers...)}, nil
}

// editConfig applies in.Config or in.ConfigRaw to a config blob.
func (e *hostileEnv) editConfig(cfg *[]byte, in *publishInput) error {
	if in.ConfigRaw != nil {
		raw, err := e.bytes(*in.ConfigRaw)
		*cfg = raw
		return err
	}
	if in.Config == nil {
		return nil
	}
	var fields map[string]any
	if err := json.Unmarshal(*cfg, &fields); err != nil {
		return err
	}
	for k, v := range in.Config {
		if v == nil {
			delete(fields, k)
		} else {
			fields[k] = v
		}
	}
	raw, err := json.Marshal(fields)
	*cfg = raw
	return err
}

// splitBlobs cuts a payload into the blobs ds describe.
func splitBlobs(payload []byte, ds []ocispec.Descriptor) [][]byte {
	out := make([][]byte, len(ds))
	for i, d := range ds {
		out[i], payload = payload[:d.Size], payload[d.Size:]
	}
	return out
}

// fileMediaType is the media type Pack gives a bundle file, or a plain
// one for names that are no bundle file.
func fileMediaType(name string) string {
	switch dir, base := filepath.Split(name); {
	case name == capabilities.MetadataFile:
		return capabilities.MediaTypeMetadata
	case name == capabilities.TemplateFile:
		return capabilities.MediaTypeTemplate
	case name == capabilities.ReadmeFile:
		return capabilities.MediaTypeReadme
	case dir == capabilities.ManifestsDir+"/" && base != "":
		return capabilities.MediaTypeManifest
	case dir == capabilities.ExamplesDir+"/" && base != "":
		return capabilities.MediaTypeExample
	}
	return "application/octet-stream"
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// preparePublish builds the bundle and returns the call that streams it.
func (e *hostileEnv) preparePublish(t *testing.T, raw json.RawMessage) (func(context.Context) hostileOutcome, error) {
	var in publishInput
	if err := strictJSON(raw, &in); err != nil {
		return nil, err
	}
	b, err := e.buildBundle(t, &in)
	if err != nil {
		return nil, err
	}
	payload := b.payload()
	s := in.Stream
	if s.CorruptLayer != nil {
		i := *s.CorruptLayer + 1
		if i >= len(b.blobs) || len(b.blobs[i]) == 0 {
			return nil, fmt.Errorf("corruptLayer: no layer %d with content", *s.CorruptLayer)
		}
		payload = bytes.Join(b.blobs[:i], nil)
		payload = append(payload, b.blobs[i][0]^0xff)
		payload = append(append(payload, b.blobs[i][1:]...), bytes.Join(b.blobs[i+1:], nil)...)
	}
	payload = payload[:len(payload)-s.Truncate]
	payload = append(payload, bytes.Repeat([]byte("x"), s.Extra)...)
	return func(c context.Context) hostileOutcome {
		_, err := e.sendPublish(c, b.manifest, payload, s)
		return grpcOutcome(err)
	}, nil
}

// sendPublish streams a publish as s says.
func (e *hostileEnv) sendPublish(c context.Context, manifest, payload []byte, s streamSpec) (*capcenterv1.PublishBundleResponse, error) {
	stream, err := e.h.client.PublishBundle(c)
	if err != nil {
		return nil, err
	}
	// A failed Send means the server has answered; the answer says why.
	send := func(m *capcenterv1.PublishBundleRequest) bool { return stream.Send(m) == nil }
	chunk := func(b []byte) *capcenterv1.PublishBundleRequest {
		return &capcenterv1.PublishBundleRequest{Part: &capcenterv1.PublishBundleRequest_Chunk{Chunk: b}}
	}
	header := &capcenterv1.PublishBundleRequest{Part: &capcenterv1.PublishBundleRequest_Header{Header: &capcenterv1.PublishHeader{Manifest: manifest}}}
	ok := true
	switch {
	case s.Empty:
		return stream.CloseAndRecv()
	case s.ChunkFirst:
		ok = send(chunk([]byte("x")))
	}
	ok = ok && send(header)
	if s.TwoHeaders {
		ok = ok && send(header)
	}
	for rest := payload; len(rest) > 0 && ok && !s.HeaderOnly; {
		n := min(ChunkSize, len(rest))
		ok = send(chunk(rest[:n]))
		rest = rest[n:]
	}
	zeros := make([]byte, ChunkSize)
	for sent := 0; s.Endless && ok && sent < 1<<30; sent += len(zeros) {
		ok = send(chunk(zeros))
	}
	return publishAnswer(stream, s.HeaderOnly)
}

// prepareREST returns the call that sends one HTTP request to /v1/.
func (e *hostileEnv) prepareREST(_ *testing.T, raw json.RawMessage) (func(context.Context) hostileOutcome, error) {
	var in httpRequest
	if err := strictJSON(raw, &in); err != nil {
		return nil, err
	}
	body, err := e.requestBody(in, nil)
	if err != nil {
		return nil, err
	}
	return func(c context.Context) hostileOutcome {
		status, data, err := e.do(c, in, nil, body)
		if err != nil {
			return hostileOutcome{message: err.Error()}
		}
		var st struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		out := hostileOutcome{http: status, message: string(data)}
		if json.Unmarshal(data, &st) == nil && st.Message != "" {
			out.code, out.message = codes.Code(st.Code).String(), st.Message //nolint:gosec // a gRPC code, from 0 to 16
		}
		return out
	}, nil
}

// requestBody makes a request's body, placeholders replaced.
func (e *hostileEnv) requestBody(in httpRequest, vars map[string]string) ([]byte, error) {
	if in.Body == nil {
		return nil, nil
	}
	body, err := e.bytes(*in.Body)
	if err != nil {
		return nil, err
	}
	return []byte(expand(string(body), vars)), nil
}

// expand replaces {placeholders}.
func expand(s string, vars map[string]string) string {
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

// do sends one request and reads at most 1 MiB of the answer.
func (e *hostileEnv) do(c context.Context, in httpRequest, vars map[string]string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(c, in.Method, e.h.http.URL+expand(in.Path, vars), bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	for k, v := range in.Headers {
		req.Header.Set(k, expand(v, vars))
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, data, err
}

// prepareV2 prepares the repository (which may change the store: that
// is before the snapshot) and returns the call that sends the request.
func (e *hostileEnv) prepareV2(t *testing.T, raw json.RawMessage) (func(context.Context) hostileOutcome, error) {
	var in v2Input
	if err := strictJSON(raw, &in); err != nil {
		return nil, err
	}
	repo := cmpOr(in.Repo, "hostile")
	vars := map[string]string{}
	var pushed [][]byte
	for i, b := range in.Blobs {
		data, err := e.bytes(b)
		if err != nil {
			return nil, err
		}
		d := digest.FromBytes(data)
		vars["blob"+strconv.Itoa(i)], vars["size"+strconv.Itoa(i)] = d.String(), strconv.Itoa(len(data))
		pushed = append(pushed, data)
	}
	if in.Bundle != nil {
		b, err := e.buildBundle(t, in.Bundle)
		if err != nil {
			return nil, err
		}
		pushed = append(pushed, b.blobs...)
		vars["manifest"] = string(b.manifest)
	}
	for _, data := range pushed {
		if err := e.pushBlob(t, repo, data); err != nil {
			return nil, err
		}
	}
	if in.StartUpload {
		req, err := http.NewRequestWithContext(ctx(t), http.MethodPost, e.h.http.URL+"/v2/"+repo+"/blobs/uploads/", nil)
		if err != nil {
			return nil, err
		}
		resp, err := e.client.Do(req)
		if err != nil {
			return nil, err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return nil, fmt.Errorf("starting an upload: %s", resp.Status)
		}
		vars["upload"] = resp.Header.Get("Location")
	}
	body, err := e.requestBody(in.Request, vars)
	if err != nil {
		return nil, err
	}
	return func(c context.Context) hostileOutcome {
		status, data, err := e.do(c, in.Request, vars, body)
		if err != nil {
			return hostileOutcome{message: err.Error()}
		}
		var resp struct {
			Errors []struct{ Code, Message string } `json:"errors"`
		}
		out := hostileOutcome{http: status, message: string(data)}
		if json.Unmarshal(data, &resp) == nil && len(resp.Errors) > 0 {
			out.oci, out.message = resp.Errors[0].Code, resp.Errors[0].Message
		}
		return out
	}, nil
}

// pushBlob pushes data to repo in one request.
func (e *hostileEnv) pushBlob(t *testing.T, repo string, data []byte) error {
	url := e.h.http.URL + "/v2/" + repo + "/blobs/uploads/?digest=" + digest.FromBytes(data).String()
	req, err := http.NewRequestWithContext(ctx(t), http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("pushing a blob of %d bytes to %s: %s", len(data), repo, resp.Status)
	}
	return nil
}

// prepareRender returns the RenderTemplate call.
func (e *hostileEnv) prepareRender(_ *testing.T, raw json.RawMessage) (func(context.Context) hostileOutcome, error) {
	var in renderInput
	if err := strictJSON(raw, &in); err != nil {
		return nil, err
	}
	req := &capcenterv1.RenderTemplateRequest{}
	if err := protojson.Unmarshal(in.Request, req); err != nil {
		return nil, err
	}
	if in.NestParameters > 0 {
		v := structpb.NewNumberValue(1)
		for range in.NestParameters {
			v = structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"a": v}})
		}
		req.Parameters = &structpb.Struct{Fields: map[string]*structpb.Value{"deep": v}}
	}
	return func(c context.Context) hostileOutcome {
		_, err := e.h.client.RenderTemplate(c, req)
		return grpcOutcome(err)
	}, nil
}

// prepareResolve returns the Resolve call.
func (e *hostileEnv) prepareResolve(_ *testing.T, raw json.RawMessage) (func(context.Context) hostileOutcome, error) {
	var in resolveInput
	if err := strictJSON(raw, &in); err != nil {
		return nil, err
	}
	req := &capcenterv1.ResolveRequest{}
	if err := protojson.Unmarshal(in.Request, req); err != nil {
		return nil, err
	}
	for i := range in.Requirements {
		req.Requirements = append(req.Requirements, &capcenterv1.Requirement{Capability: fmt.Sprintf("c%d", i), VersionRange: "*"})
	}
	return func(c context.Context) hostileOutcome {
		_, err := e.h.client.Resolve(c, req)
		return grpcOutcome(err)
	}, nil
}

// prepareList returns the ListCapabilities or ListVersions call.
func (e *hostileEnv) prepareList(_ *testing.T, raw json.RawMessage) (func(context.Context) hostileOutcome, error) {
	var in listInput
	if err := strictJSON(raw, &in); err != nil {
		return nil, err
	}
	var (
		req  proto.Message
		call func(context.Context) error
	)
	switch in.Method {
	case "ListCapabilities":
		r := &capcenterv1.ListCapabilitiesRequest{}
		req, call = r, func(c context.Context) error { _, err := e.h.client.ListCapabilities(c, r); return err }
	case "ListVersions":
		r := &capcenterv1.ListVersionsRequest{}
		req, call = r, func(c context.Context) error { _, err := e.h.client.ListVersions(c, r); return err }
	default:
		return nil, fmt.Errorf("method %q: want ListCapabilities or ListVersions", in.Method)
	}
	if err := protojson.Unmarshal(in.Request, req); err != nil {
		return nil, err
	}
	return func(c context.Context) hostileOutcome { return grpcOutcome(call(c)) }, nil
}

// prepareSign makes the envelope and returns the AddSignature call.
func (e *hostileEnv) prepareSign(t *testing.T, raw json.RawMessage) (func(context.Context) hostileOutcome, error) {
	var in signInput
	if err := strictJSON(raw, &in); err != nil {
		return nil, err
	}
	env, err := e.makeEnvelope(t, in.Envelope)
	if err != nil {
		return nil, err
	}
	req := &capcenterv1.AddSignatureRequest{
		Name:              cmpOr(in.Name, "capabilities/worker/versions/1.0.0"),
		EnvelopeMediaType: cmpOr(in.MediaType, signature.MediaTypeJWS),
		Envelope:          env,
	}
	return func(c context.Context) hostileOutcome {
		_, err := e.h.client.AddSignature(c, req)
		return grpcOutcome(err)
	}, nil
}

// makeEnvelope makes a hostile envelope for the worker's manifest:
//
//   - other-digest: a good signature of another manifest
//   - tampered-signature, tampered-payload: a good one with one character
//     of its signature or its payload changed
//   - expired-certificate: signed while a since-expired certificate was
//     valid (signing time backdated)
//   - expired-signature: a signature whose expiry has passed
//   - future-signing-time: a signing time a year ahead
//   - garbage, oversize: not an envelope; one over MaxEnvelopeSize
//   - good: a valid author signature (for media type and name cases)
func (e *hostileEnv) makeEnvelope(t *testing.T, kind string) ([]byte, error) {
	// The author's certificates are valid from three days ago, so that
	// signing times in the past fall within them.
	now := time.Now()
	ca, err := signature.NewCA(signature.CertOptions{CommonName: "hostile CA", NotBefore: now.Add(-72 * time.Hour)})
	if err != nil {
		return nil, err
	}
	author, err := signature.Issue(ca, signature.CertOptions{CommonName: "hostile author", NotBefore: now.Add(-72 * time.Hour)})
	if err != nil {
		return nil, err
	}
	switch kind {
	case "good":
		return signEnvelope(author, e.subject, now, time.Time{})
	case "other-digest":
		other := e.subject
		other.Digest = digest.FromString("another manifest")
		return signEnvelope(author, other, now, time.Time{})
	case "tampered-signature", "tampered-payload":
		env, err := signEnvelope(author, e.subject, now, time.Time{})
		if err != nil {
			return nil, err
		}
		field := `"signature":"`
		if kind == "tampered-payload" {
			field = `"payload":"`
		}
		return flipBase64(env, field)
	case "expired-certificate":
		past := now.Add(-48 * time.Hour)
		oldCA, err := signature.NewCA(signature.CertOptions{CommonName: "old CA", NotBefore: past.Add(-24 * time.Hour)})
		if err != nil {
			return nil, err
		}
		old, err := signature.Issue(oldCA, signature.CertOptions{CommonName: "old author", NotBefore: past.Add(-time.Hour), Validity: 2 * time.Hour})
		if err != nil {
			return nil, err
		}
		return signEnvelope(old, e.subject, past, time.Time{})
	case "expired-signature":
		return signEnvelope(author, e.subject, now.Add(-2*time.Hour), now.Add(-time.Hour))
	case "future-signing-time":
		return signEnvelope(author, e.subject, now.Add(365*24*time.Hour), time.Time{})
	case "garbage":
		return []byte(`{"payload":"x","protected":"y","header":{},"signature":"z"}`), nil
	case "oversize":
		return bytes.Repeat([]byte("A"), signature.MaxEnvelopeSize+1), nil
	}
	t.Fatalf("envelope %q: unknown kind", kind)
	return nil, nil
}

// signEnvelope signs subject with kp as at time at, with an expiry when
// expiry is not zero, bypassing the signer's own clock and checks.
func signEnvelope(kp *signature.KeyPair, subject ocispec.Descriptor, at, expiry time.Time) ([]byte, error) {
	local, err := notationsig.NewLocalSigner(kp.Chain, kp.Key)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(map[string]any{"targetArtifact": ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}})
	if err != nil {
		return nil, err
	}
	env, err := notationsig.NewEnvelope(signature.MediaTypeJWS)
	if err != nil {
		return nil, err
	}
	return env.Sign(&notationsig.SignRequest{
		Payload:       notationsig.Payload{ContentType: "application/vnd.cncf.notary.payload.v1+json", Content: body},
		Signer:        local,
		SigningTime:   at,
		Expiry:        expiry,
		SigningScheme: notationsig.SigningSchemeX509,
	})
}

// flipBase64 changes one base64url character of the JSON string field
// that starts with field.
func flipBase64(env []byte, field string) ([]byte, error) {
	out := bytes.Clone(env)
	i := bytes.Index(out, []byte(field))
	if i < 0 {
		return nil, fmt.Errorf("envelope has no %s", field)
	}
	i += len(field) + 5
	if out[i] == 'A' {
		out[i] = 'B'
	} else {
		out[i] = 'A'
	}
	return out, nil
}

// snapshot lists what the store holds, read-only: the catalog through the
// API, every repository with its tags, the /v2/ catalog, and the files
// under the store's content folder with their sizes.
func (e *hostileEnv) snapshot(t *testing.T) string {
	t.Helper()
	c := ctx(t)
	var b strings.Builder
	caps, err := e.h.client.ListCapabilities(c, &capcenterv1.ListCapabilitiesRequest{PageSize: 1000})
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	for _, cp := range caps.GetCapabilities() {
		fmt.Fprintf(&b, "capability %s latest=%s versions=%d\n", cp.GetCapability(), cp.GetLatestVersion(), cp.GetVersionCount())
		vs, err := e.h.client.ListVersions(c, &capcenterv1.ListVersionsRequest{Parent: cp.GetName(), PageSize: 1000})
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		for _, v := range vs.GetVersions() {
			fmt.Fprintf(&b, "  version %s %s yanked=%v deprecated=%v\n", v.GetVersion(), v.GetDigest(), v.GetYanked(), v.GetDeprecated())
			for _, s := range v.GetSignatures() {
				fmt.Fprintf(&b, "    signature %s %s\n", s.GetDigest(), s.GetRole())
			}
		}
	}
	repos, err := e.h.store.ListRepositories(c, "", 0)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	for _, r := range repos {
		tags, err := e.h.store.Tags(c, r, "", 0)
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		fmt.Fprintf(&b, "repository %s tags %v\n", r, tags)
	}
	_, catalog, err := e.do(c, httpRequest{Method: http.MethodGet, Path: "/v2/_catalog"}, nil, nil)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	fmt.Fprintf(&b, "/v2/_catalog %s\n", catalog)
	root := filepath.Join(e.storeDir, "content")
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(&b, "file %s %d\n", filepath.ToSlash(rel), info.Size())
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return b.String()
}

// lineDiff lists the lines only one of two listings has.
func lineDiff(before, after string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for l := range strings.SplitSeq(s, "\n") {
			m[l] = true
		}
		return m
	}
	b, a := in(before), in(after)
	var out []string
	for l := range strings.SplitSeq(before, "\n") {
		if !a[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range strings.SplitSeq(after, "\n") {
		if !b[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// clipText shortens a message for a failure report.
func clipText(s string) string {
	const most = 600
	if len(s) > most {
		return s[:most] + "…"
	}
	return s
}
