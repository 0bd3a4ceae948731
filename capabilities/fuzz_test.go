package capabilities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/errdef"
)

// addFiles adds the content of every file matching pattern as a seed.
func addFiles(f *testing.F, pattern string) {
	f.Helper()
	paths, err := filepath.Glob(pattern)
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seeds match %s (%v)", pattern, err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// aliasBomb is YAML whose aliases expand to a billion elements.
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

// hostileYAML are seeds shared by the YAML parsers' fuzz targets.
var hostileYAML = []string{
	"",
	"---\n---\n",
	"~",
	"- a\n- b\n",
	"{a: 1, a: 2}",
	"name: &n demo\nversion: *n\n",
	"? [a, b]\n: c\n",
	"{1: a}",
	"a: .inf\nb: .nan\n",
	"a: !!binary aGVsbG8=\n",
	"a: 123456789012345678901234567890\n",
	"a: 0x10\nb: 0o17\nc: 1_000\n",
	"<<: {name: merged}\n",
	"a: !!python/object:os.system ls\n",
	"\ta: 1",
	"a: \"\\u0000\"\n",
	strings.Repeat("[", 10000),
	strings.Repeat("- ", 5000) + "x",
	aliasBomb,
}

// checkProblemsWellFormed asserts the shape every parser's error has.
func checkProblemsWellFormed(t *testing.T, err error, file string) {
	t.Helper()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v does not wrap ErrInvalid", err)
	}
	ps := Problems(err)
	if len(ps) == 0 {
		t.Fatalf("error %v has no problems", err)
	}
	for _, p := range ps {
		if p.File != file || p.Line < 0 || p.Col < 0 || p.Msg == "" {
			t.Fatalf("malformed problem %#v", p)
		}
	}
}

func FuzzParseMetadata(f *testing.F) {
	addFiles(f, "testdata/good/*/capability.yaml")
	addFiles(f, "testdata/bad/*/capability.yaml")
	for _, s := range hostileYAML {
		f.Add([]byte(s))
	}
	f.Add([]byte("name: a/b/c\nversion: 1.0.0-rc.1+build.5\nkind: policy\n"))
	f.Add([]byte("name: x\nversion: 01.2.3\nkind: trait\nappliesTo: ['*', '']\n"))
	f.Add([]byte("name: x\nversion: 1.0.0\nkind: component\nsource: javascript:alert(1)\nmaintainers: [{}]\n"))
	f.Add([]byte("name: x\nversion: 1.0.0\nkind: component\ndependencies: [{name: x, version: '*'}, {name: y}, {name: y, version: '^1'}]\n"))
	f.Add([]byte("name: x\nversion: 1.0.0\nkind: component\nkeywords: 7\nrequires: []\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMetadata(MetadataFile, data)
		if err != nil {
			checkProblemsWellFormed(t, err, MetadataFile)
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("parsed metadata does not validate: %v", err)
		}
		again, err := ParseMetadata(MetadataFile, m.Encode())
		if err != nil {
			t.Fatalf("encoded metadata does not parse: %v\n%s", err, m.Encode())
		}
		// Encode drops empty lists, so compare encodings, not structs.
		if enc := again.Encode(); !bytes.Equal(enc, m.Encode()) {
			t.Fatalf("metadata changed through Encode:\n got %s\nwant %s", enc, m.Encode())
		}
	})
}

func FuzzParseManifests(f *testing.F) {
	addFiles(f, "testdata/good/*/manifests/*.yaml")
	addFiles(f, "testdata/bad/*/manifests/*.yaml")
	for _, s := range hostileYAML {
		f.Add([]byte(s))
	}
	f.Add([]byte("apiVersion: v1\nkind: List\nmetadata: {name: x}\nitems: [{a: 1.5e300}]\n---\n# only a comment\n---\n"))
	f.Add([]byte("apiVersion: 1\nkind: true\nmetadata: {name: [x]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := ParseManifests("m.yaml", data)
		if err != nil {
			checkProblemsWellFormed(t, err, "m.yaml")
			return
		}
		for _, o := range objs {
			for _, path := range []string{"apiVersion", "kind", "metadata.name"} {
				if s, ok := field(o, path).(string); !ok || s == "" {
					t.Fatalf("object without %s: %v", path, o)
				}
			}
			if _, err := json.Marshal(o); err != nil {
				t.Fatalf("object is not JSON: %v", err)
			}
		}
	})
}

func FuzzParseParameters(f *testing.F) {
	addFiles(f, "testdata/good/*/examples/*.yaml")
	addFiles(f, "testdata/bad/*/examples/*.yaml")
	for _, s := range hostileYAML {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"image": "x", "port": 80, "env": {"A": "b"}, "args": ["--x"]}`))
	f.Add([]byte("a: 1.0\nb: 1e3\nc: -0\nd: 9007199254740993\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		params, err := ParseParameters("p.yaml", data)
		if err != nil {
			checkProblemsWellFormed(t, err, "p.yaml")
			return
		}
		if params == nil {
			t.Fatal("nil parameters without an error")
		}
		// Parameters are JSON-shaped: they survive JSON both ways.
		js, err := json.Marshal(params)
		if err != nil {
			t.Fatalf("parameters are not JSON: %v", err)
		}
		again, err := ParseParameters("p.json", js)
		if err != nil {
			t.Fatalf("parameters as JSON do not parse: %v\n%s", err, js)
		}
		if !reflect.DeepEqual(again, params) {
			t.Fatalf("parameters changed through JSON:\n got %#v\nwant %#v", again, params)
		}
	})
}

func FuzzSetParameter(f *testing.F) {
	for _, s := range []string{
		"image=nginx", "a.b.c=3", "replicas=3", "flag=true", "none=null", "list=[a, b]", "map={a: 1}",
		"=x", "a..b=1", ".a=1", "a.=1", "a", "a==b", "top.x=1", "top=1", "a.b=[", "a=\"\\u0000\"",
		"a=.inf", "a=&x [*x]", "a=" + aliasBomb, "a=1e400", "a=!!binary aGk=",
		"l[0]=1", "l[1].x[2]=y", "top[0]=1", "nested[0]=1", "l[1023]=1", "l[1024]=1", "l[-1]=1", "l[ 1]=1",
		"l[0x1]=1", "l[0]]=1", "l[[0]=1", "l[0][=1", "[0]=1", "l[99999999999999999999]=1",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, expr string, asString bool) {
		params := map[string]any{"top": "scalar", "nested": map[string]any{"x": json.Number("1")}}
		err := SetParameter(params, expr, asString)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		key, raw, _ := strings.Cut(expr, "=")
		steps, err := parseSetPath(key)
		if err != nil {
			t.Fatalf("%q was set but its path does not parse: %v", expr, err)
		}
		var v any = params
		for _, s := range steps {
			m, isMap := v.(map[string]any)
			l, isList := v.([]any)
			switch {
			case s.index < 0 && isMap:
				v = m[s.name]
			case s.index >= 0 && isList && s.index < len(l):
				v = l[s.index]
			default:
				t.Fatalf("%q: %s is not reachable in %v", expr, key, params)
			}
		}
		if asString && v != raw {
			t.Fatalf("%q set %#v, want the string %q", expr, v, raw)
		}
		if _, err := json.Marshal(params); err != nil {
			t.Fatalf("%q left parameters that are not JSON: %v", expr, err)
		}
	})
}

func FuzzParseDefinition(f *testing.F) {
	addFiles(f, "testdata/good/*/template.cue")
	addFiles(f, "testdata/bad/*/template.cue")
	addFiles(f, "testdata/golden/*.cue")
	for _, s := range []string{
		"",
		"template: {}",
		"x: type: \"component\"\ntemplate: parameter: {}\ntemplate: output: {}\n",
		"x: type: \"trait\"\ntemplate: {patch: {}, parameter: {}}\n",
		"x: {type: \"component\", attributes: y: 1e400}\ntemplate: {output: {}, parameter: {}}\n",
		"x: type: \"policy\"\ny: type: \"policy\"\ntemplate: {parameter: {}}\n",
		"package p\nimport \"strings\"\nx: {type: \"component\", description: strings.ToUpper(\"a\")}\ntemplate: {output: {a: parameter.a}, parameter: a: *1 | int}\n",
		"import \"nosuch/pkg\"\nx: type: \"component\"\ntemplate: {output: {}, parameter: {}}\n",
		"x: type: \"component\"\ntemplate: {output: context.outputs.y, parameter: {}}\n",
		"x: type: \"component\"\ntemplate: {output: {a: b: c: _|_}, parameter: {}}\n",
		"x: type: \"component\"\ntemplate: {#D: {a: #D}, output: {}, parameter: {}}\n",
		"\"a b\": type: \"component\"\ntemplate: {output: {}, parameter: {}}\n",
		"(x): type: \"component\"\ntemplate: {output: {}, parameter: {}}\n",
		"x: type: \"component\"\ntemplate: 5\n",
		"x: type: \"component\"\ntemplate: {output: {}, parameter: 5}\n",
		"@attr()\nx: type: \"component\"\ntemplate: {output: {}, parameter: {}}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 4<<10 {
			t.Skip("CUE evaluation is bounded by time, not size: keep inputs small")
		}
		ctx := context.Background()
		d, err := bounded(ctx, 5*time.Second, func() (*Definition, error) { return ParseDefinition(TemplateFile, src) })
		if errors.Is(err, ErrTimeout) {
			t.Skip("evaluation too long for a fuzz input")
		}
		if err != nil {
			if strings.Contains(err.Error(), "evaluation failed:") {
				t.Fatalf("ParseDefinition panicked: %v", err)
			}
			checkProblemsWellFormed(t, err, TemplateFile)
			return
		}
		if d.Name == "" || !d.Type.HasTemplate() {
			t.Fatalf("definition without name or type: %+v", d)
		}
		s, err := d.ParameterSchema()
		if err != nil {
			t.Fatalf("ParameterSchema of a parsed definition: %v", err)
		}
		if _, err := json.Marshal(s); err != nil {
			t.Fatalf("schema is not JSON: %v", err)
		}
		b := &Bundle{Metadata: Metadata{Name: d.Name, Version: "1.0.0", Kind: d.Type}, Definition: d}
		_, err = b.Render(ctx, RenderOptions{Limits: Limits{EvalTimeout: 5 * time.Second}})
		if err != nil && strings.Contains(err.Error(), "evaluation failed:") {
			t.Fatalf("Render panicked: %v", err)
		}
	})
}

func FuzzUnpack(f *testing.F) {
	base := memory.New()
	ctx := context.Background()
	b, err := Load(ctx, goodComponent, Limits{})
	if err != nil {
		f.Fatal(err)
	}
	desc, err := Pack(ctx, base, b)
	if err != nil {
		f.Fatal(err)
	}
	good, err := content.FetchAll(ctx, base, desc)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	var m ocispec.Manifest
	if err := json.Unmarshal(good, &m); err != nil {
		f.Fatal(err)
	}
	for _, title := range []string{"../x.yaml", "/x.yaml", `manifests\x.yaml`, "manifests/../../x.yaml", "", "template.cue", "capability.yaml"} {
		h := m
		h.Layers = append([]ocispec.Descriptor(nil), m.Layers...)
		h.Layers[1].Annotations = map[string]string{ocispec.AnnotationTitle: title}
		data, _ := json.Marshal(h)
		f.Add(data)
	}
	for _, size := range []int64{-1, 0, 1 << 62, 1<<63 - 1} {
		h := m
		h.Layers = append([]ocispec.Descriptor(nil), m.Layers...)
		h.Layers[0].Size = size
		data, _ := json.Marshal(h)
		f.Add(data)
	}
	many := m
	for range 300 {
		many.Layers = append(many.Layers, m.Layers[1])
	}
	data, _ := json.Marshal(many)
	f.Add(data)
	f.Add([]byte(`{"schemaVersion":2,"artifactType":"application/vnd.capcenter.capability.v1","config":{"mediaType":"application/vnd.capcenter.capability.config.v1+json","digest":"sha256:x","size":2}}`))
	f.Add([]byte(`{"layers":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))

	f.Fuzz(func(t *testing.T, manifest []byte) {
		desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, manifest)
		// The fuzzed manifest is served as is; every other blob comes from
		// the store holding the good bundle.
		src := content.FetcherFunc(func(ctx context.Context, target ocispec.Descriptor) (io.ReadCloser, error) {
			if target.Digest == desc.Digest {
				return io.NopCloser(bytes.NewReader(manifest)), nil
			}
			return base.Fetch(ctx, target)
		})
		b, err := Unpack(ctx, src, desc, Limits{MaxFiles: 16, EvalTimeout: 5 * time.Second})
		if err != nil {
			for _, want := range []error{ErrInvalid, ErrTooLarge, ErrUnsafePath, ErrTimeout, errdef.ErrNotFound} {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("Unpack error %v wraps none of the expected sentinels", err)
		}
		if err := b.Metadata.Validate(); err != nil {
			t.Fatalf("unpacked metadata does not validate: %v", err)
		}
		for _, file := range b.Files() {
			if err := checkPath(file.Name); err != nil || fileRole(file.Name) == "" {
				t.Fatalf("unpacked a bundle with file %q", file.Name)
			}
		}
	})
}
