package capabilities

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// newBundle builds a bundle named demo of kind from the body of a template
// block, with the smallest metadata and header that fit the kind.
func newBundle(t *testing.T, kind Kind, body string) *Bundle {
	t.Helper()
	b, err := newBundleLimits(t, kind, body, Limits{})
	if err != nil {
		t.Fatalf("FromFiles: %v", err)
	}
	return b
}

func newBundleLimits(t *testing.T, kind Kind, body string, lim Limits) (*Bundle, error) {
	t.Helper()
	meta := "name: demo\nversion: 1.0.0\nkind: " + string(kind) + "\n"
	if kind == KindTrait {
		meta += "appliesTo: [\"*\"]\n"
	}
	imports, body := splitImports(body)
	tmpl := imports + "demo: type: \"" + string(kind) + "\"\n\ntemplate: {\n" + body + "\n}\n"
	return FromFiles(t.Context(), []File{{MetadataFile, []byte(meta)}, {TemplateFile, []byte(tmpl)}}, lim)
}

// splitImports moves leading import lines out of a template body.
func splitImports(body string) (imports, rest string) {
	lines := strings.Split(strings.TrimLeft(body, "\n"), "\n")
	i := 0
	for i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "import ") {
		i++
	}
	return strings.Join(lines[:i], "\n") + "\n", strings.Join(lines[i:], "\n")
}

// jsonEqual reports whether got, marshaled to JSON, means the same as the
// JSON text want.
func jsonEqual(t *testing.T, got any, want string) bool {
	t.Helper()
	data, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("marshal %v: %v", got, err)
	}
	var g, w any
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %s: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

// field returns the value at a dotted path in JSON-shaped data; a list
// element is selected by its index.
func field(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i := 0
			for _, c := range p {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func TestRenderComponent(t *testing.T) {
	t.Parallel()
	b := mustLoad(t, goodComponent)
	tests := []struct {
		name   string
		params map[string]any
		want   map[string]string // path in the output → JSON value
		svc    bool
	}{
		{
			name:   "defaults",
			params: map[string]any{"image": "nginx:1.27"},
			want: map[string]string{
				"spec.replicas": `1`,
				"spec.template.spec.containers.0.imagePullPolicy": `"IfNotPresent"`,
				"spec.template.spec.containers.0.image":           `"nginx:1.27"`,
				"spec.template.spec.containers.0.ports":           `null`,
			},
		},
		{
			name: "given",
			params: map[string]any{
				"image": "registry.example.com/app:2", "replicas": 3, "imagePullPolicy": "Always",
				"port": 8080, "env": map[string]any{"log_level": "debug"}, "args": []any{"--serve"},
			},
			want: map[string]string{
				"spec.replicas": `3`,
				"spec.template.spec.containers.0.imagePullPolicy": `"Always"`,
				"spec.template.spec.containers.0.image":           `"registry.example.com/app:2"`,
				"spec.template.spec.containers.0.ports":           `[{"containerPort": 8080}]`,
				"spec.template.spec.containers.0.env":             `[{"name": "LOG_LEVEL", "value": "debug"}]`,
				"spec.template.spec.containers.0.args":            `["--serve"]`,
			},
			svc: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := b.Render(t.Context(), RenderOptions{Parameters: tt.params})
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			for path, want := range tt.want {
				if got := field(r.Output, path); !jsonEqual(t, got, want) {
					t.Errorf("output.%s = %v, want %s", path, got, want)
				}
			}
			if tt.svc != (len(r.Outputs) == 1) {
				t.Fatalf("Outputs = %v, want a service: %v", r.Outputs, tt.svc)
			}
			if tt.svc {
				svc := r.Outputs[0]
				// The service selects what context.output selects.
				if svc.Name != "service" || !jsonEqual(t, field(svc.Object, "spec.selector"), `{"app.oam.dev/component": "webapp"}`) {
					t.Errorf("Outputs[0] = %v", svc)
				}
				if objs := r.Objects(); len(objs) != 2 || objs[1]["kind"] != "Service" {
					t.Errorf("Objects() = %v", objs)
				}
			}
			// Numbers keep their exact value as json.Number.
			if n, ok := field(r.Output, "spec.replicas").(json.Number); !ok {
				t.Errorf("spec.replicas is %T, want json.Number", n)
			}
		})
	}
}

func TestRenderParameterProblems(t *testing.T) {
	t.Parallel()
	b := mustLoad(t, goodComponent)
	nested := newBundle(t, KindComponent, `
	output: {
		apiVersion: "v1"
		kind:       "ConfigMap"
		metadata: name: context.name
		data: cpu: parameter.resources.cpu
	}
	parameter: {
		resources: {
			cpu:     *"100m" | string
			limits?: memory: string
		}
		ports?: [...{port: int, name?: string}]
	}`)
	tests := []struct {
		name   string
		b      *Bundle
		params map[string]any
		msgs   []string
	}{
		{"missing", b, map[string]any{}, []string{"parameter.image: required, not set (want string)"}},
		{"unknown", b, map[string]any{"image": "x", "color": "blue"}, []string{"parameter.color: unknown parameter"}},
		{"unknown nested", nested, map[string]any{"resources": map[string]any{"gpu": 1}}, []string{"parameter.resources.gpu: unknown parameter"}},
		{"unknown deeper", nested, map[string]any{"resources": map[string]any{"limits": map[string]any{"memory": "1Gi", "cpu": "1"}}},
			[]string{"parameter.resources.limits.cpu: unknown parameter"}},
		{"unknown in a list element", nested, map[string]any{"ports": []any{map[string]any{"port": 80}, map[string]any{"port": 81, "protcol": "TCP"}}},
			[]string{"parameter.ports.1.protcol: unknown parameter"}},
		{"several unknown", b, map[string]any{"image": "x", "b": 1, "a": 2}, []string{"parameter.a: unknown parameter", "parameter.b: unknown parameter"}},
		{"wrong type", b, map[string]any{"image": "x", "replicas": "three"}, []string{"parameter.replicas: conflicting values \"three\""}},
		{"wrong type in map", b, map[string]any{"image": "x", "env": map[string]any{"A": 1}}, []string{"parameter.env.A: conflicting values 1 and string"}},
		{"wrong type in list", b, map[string]any{"image": "x", "args": []any{"a", true}}, []string{"parameter.args.1: conflicting values true and string"}},
		{"wrong type nested", nested, map[string]any{"resources": map[string]any{"cpu": 2}}, []string{"parameter.resources.cpu:"}},
		{"out of bounds", b, map[string]any{"image": "x", "port": 70000}, []string{"parameter.port: invalid value 70000 (out of bound <65536)"}},
		{"out of bounds with a default", b, map[string]any{"image": "x", "replicas": 1000}, []string{"parameter.replicas: ", "invalid value 1000 (out of bound <=100)"}},
		{"not an enum value", b, map[string]any{"image": "x", "imagePullPolicy": "Sometimes"}, []string{
			"parameter.imagePullPolicy: ", `conflicting values "IfNotPresent" and "Sometimes"`,
			`conflicting values "Always" and "Sometimes"`, `conflicting values "Never" and "Sometimes"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.b.Render(t.Context(), RenderOptions{Parameters: tt.params})
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Render error = %v, want ErrInvalid", err)
			}
			for _, msg := range tt.msgs {
				if !strings.Contains(err.Error(), msg) {
					t.Errorf("Render error = %v\nwant it to contain %q", err, msg)
				}
			}
			want := 1
			if strings.HasPrefix(tt.name, "several") {
				want = len(tt.msgs)
			}
			if ps := Problems(err); len(ps) != want {
				t.Errorf("got %d problems, want %d: %v", len(ps), want, err)
			}
		})
	}
}

func TestRenderContext(t *testing.T) {
	t.Parallel()
	b := newBundle(t, KindComponent, `
	output: {
		if context.clusterVersion.minor < 21 {
			apiVersion: "batch/v1beta1"
		}
		if context.clusterVersion.minor >= 21 {
			apiVersion: "batch/v1"
		}
		kind: "CronJob"
		metadata: {
			name:      context.name
			namespace: context.namespace
			labels: {
				"app.oam.dev/name":     context.appName
				"app.oam.dev/revision": context.appRevision
			}
			annotations: "k8s": context.clusterVersion.gitVersion
		}
	}
	parameter: {}`)
	tests := []struct {
		name string
		ctx  Context
		want string
	}{
		{"defaults", Context{}, `{
			"apiVersion": "batch/v1", "kind": "CronJob",
			"metadata": {"name": "demo", "namespace": "default",
				"labels": {"app.oam.dev/name": "demo", "app.oam.dev/revision": "demo-v1"},
				"annotations": {"k8s": "v1.35.0"}}}`},
		{"given", Context{Name: "nightly", Namespace: "batch", AppName: "shop", AppRevisionNum: 7, ClusterVersion: ClusterVersion{Major: 1, Minor: 20}}, `{
			"apiVersion": "batch/v1beta1", "kind": "CronJob",
			"metadata": {"name": "nightly", "namespace": "batch",
				"labels": {"app.oam.dev/name": "shop", "app.oam.dev/revision": "shop-v7"},
				"annotations": {"k8s": "v1.20.0"}}}`},
		{"git version", Context{Name: "n", ClusterVersion: ClusterVersion{Major: 1, Minor: 31, GitVersion: "v1.31.4-eks"}}, `{
			"apiVersion": "batch/v1", "kind": "CronJob",
			"metadata": {"name": "n", "namespace": "default",
				"labels": {"app.oam.dev/name": "n", "app.oam.dev/revision": "n-v1"},
				"annotations": {"k8s": "v1.31.4-eks"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := b.Render(t.Context(), RenderOptions{Context: tt.ctx})
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if !jsonEqual(t, r.Output, tt.want) {
				got, _ := json.Marshal(r.Output)
				t.Errorf("Output = %s\nwant %s", got, tt.want)
			}
		})
	}
}

// testWorkload is the Deployment the patch tests apply traits to. Its
// numbers are Go ints, as a caller building it by hand would write them.
func testWorkload() Object {
	return Object{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata":   map[string]any{"name": "shop", "labels": map[string]any{"team": "a"}},
		"spec": map[string]any{
			"replicas": 2,
			"strategy": map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxSurge": 1}},
			"template": map[string]any{"spec": map[string]any{
				"containers": []any{
					map[string]any{"name": "app", "image": "shop:1", "ports": []any{map[string]any{"containerPort": 8080}}},
					map[string]any{"name": "proxy", "image": "envoy:1"},
				},
			}},
		},
	}
}

func TestRenderPatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		body  string
		check map[string]string // path in the patched workload → JSON value
		err   string            // a substring of the error, when the patch fails
	}{
		{
			name: "struct merge",
			body: `patch: metadata: labels: tier: parameter.tier
				parameter: tier: *"web" | string`,
			check: map[string]string{
				"metadata":      `{"name": "shop", "labels": {"team": "a", "tier": "web"}}`,
				"spec.replicas": `2`,
			},
		},
		{
			name: "equal scalar",
			body: `patch: spec: replicas: 2
				parameter: {}`,
			check: map[string]string{"spec.replicas": `2`},
		},
		{
			name: "patch key merges and appends",
			body: `patch: spec: template: spec: {
					// +patchKey=name
					containers: [{
						name: "app"
						env: [{name: "MODE", value: parameter.mode}]
					}, {
						name:  "logger"
						image: "fluent-bit:3"
					}]
				}
				parameter: mode: *"prod" | string`,
			check: map[string]string{"spec.template.spec.containers": `[
				{"name": "app", "image": "shop:1", "ports": [{"containerPort": 8080}], "env": [{"name": "MODE", "value": "prod"}]},
				{"name": "proxy", "image": "envoy:1"},
				{"name": "logger", "image": "fluent-bit:3"}]`},
		},
		{
			name: "numeric patch key",
			body: `patch: spec: template: spec: containers: [{
					name: "app"
					// +patchKey=containerPort
					ports: [{containerPort: 8080, protocol: "TCP"}, {containerPort: 9090}]
				}, {
					name: "proxy"
				}]
				parameter: {}`,
			check: map[string]string{"spec.template.spec.containers.0.ports": `[
				{"containerPort": 8080, "protocol": "TCP"}, {"containerPort": 9090}]`},
		},
		{
			name: "list without patch key of another length",
			body: `patch: spec: template: spec: containers: [{name: "app", image: "shop:2"}]
				parameter: {}`,
			err: "patch.spec.template.spec.containers: the workload's list has 2 elements, the patch's 1",
		},
		{
			name: "scalar conflict",
			body: `patch: spec: replicas: parameter.replicas
				parameter: replicas: *5 | int`,
			err: "patch.spec.replicas: the workload has 2, the patch sets 5",
		},
		{
			name: "scalar conflict in a keyed element",
			body: `patch: spec: template: spec: {
					// +patchKey=name
					containers: [{name: "proxy", image: "envoy:2"}]
				}
				parameter: {}`,
			err: `patch.spec.template.spec.containers[name="proxy"].image: the workload has "envoy:1", the patch sets "envoy:2"`,
		},
		{
			name: "struct against scalar",
			body: `patch: spec: replicas: {min: 1}
				parameter: {}`,
			err: "patch.spec.replicas: the workload has a number, the patch a struct",
		},
		{
			name: "retainKeys replaces a struct",
			body: `patch: spec: {
					// +patchStrategy=retainKeys
					strategy: {
						type: "Recreate"
					}
				}
				parameter: {}`,
			check: map[string]string{
				"spec.strategy": `{"type": "Recreate"}`,
				"spec.replicas": `2`,
			},
		},
		{
			name: "retainKeys replaces a scalar",
			body: `patch: spec: {
					// +patchStrategy=retainKeys
					replicas: 4
				}
				parameter: {}`,
			check: map[string]string{"spec.replicas": `4`},
		},
		{
			name: "replace replaces a list",
			body: `patch: spec: template: spec: {
					// +patchStrategy=replace
					containers: [{name: "only", image: "only:1"}]
				}
				parameter: {}`,
			check: map[string]string{"spec.template.spec.containers": `[{"name": "only", "image": "only:1"}]`},
		},
		{
			name: "unknown strategy",
			body: `patch: spec: {
					// +patchStrategy=jsonMergePatch
					replicas: 4
				}
				parameter: {}`,
			err: "patch.spec.replicas: +patchStrategy=jsonMergePatch is not supported",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBundle(t, KindTrait, tt.body)
			workload := testWorkload()
			r, err := b.Render(t.Context(), RenderOptions{Workload: workload})
			if tt.err != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Render error = %v\nwant ErrInvalid containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			for path, want := range tt.check {
				if got := field(r.Output, path); !jsonEqual(t, got, want) {
					g, _ := json.Marshal(got)
					t.Errorf("%s = %s\nwant %s", path, g, want)
				}
			}
			if !reflect.DeepEqual(workload, testWorkload()) {
				t.Errorf("Render changed the workload it was given: %v", workload)
			}
		})
	}
}

// TestRenderTraitContext shows that a trait's outputs see the workload as
// context.output, and its patch defaults to SampleWorkload.
func TestRenderTraitContext(t *testing.T) {
	t.Parallel()
	b := newBundle(t, KindTrait, `
	outputs: service: {
		apiVersion: "v1"
		kind:       "Service"
		metadata: name: context.output.metadata.name + "-svc"
		spec: {
			selector: context.output.spec.selector.matchLabels
			ports: [{port: parameter.port}]
		}
	}
	outputs: monitor: {
		apiVersion: "monitoring.coreos.com/v1"
		kind:       "ServiceMonitor"
		metadata: name: context.outputs.service.metadata.name
	}
	parameter: port: *80 | int`)
	r, err := b.Render(t.Context(), RenderOptions{
		Context:         Context{Name: "shop"},
		WorkloadOutputs: map[string]Object{"service": {"metadata": map[string]any{"name": "shop-main"}}},
	})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if !reflect.DeepEqual(r.Output, SampleWorkload("shop")) {
		t.Errorf("Output = %v, want the sample workload unpatched", r.Output)
	}
	if len(r.Outputs) != 2 || r.Outputs[0].Name != "monitor" || r.Outputs[1].Name != "service" {
		t.Fatalf("Outputs = %v, want monitor and service, sorted", r.Outputs)
	}
	if got := field(r.Outputs[0].Object, "metadata.name"); got != "shop-main" {
		t.Errorf("monitor name = %v, want it from context.outputs", got)
	}
	want := `{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shop-svc"},
		"spec": {"selector": {"app.oam.dev/component": "shop"}, "ports": [{"port": 80}]}}`
	if !jsonEqual(t, r.Outputs[1].Object, want) {
		t.Errorf("service = %v\nwant %s", r.Outputs[1].Object, want)
	}
}

func TestRenderImports(t *testing.T) {
	t.Parallel()
	b := newBundle(t, KindComponent, `
	import "strings"
	import "strconv"
	import "list"
	import "math"
	import "encoding/json"
	import b64 "encoding/base64"
	output: {
		apiVersion: "v1"
		kind:       "ConfigMap"
		metadata: name: strings.ToLower(parameter.name)
		data: {
			port:   strconv.FormatInt(parameter.port, 10)
			hosts:  strings.Join(list.SortStrings(parameter.hosts), ",")
			sum:    "\(list.Sum(parameter.weights))"
			floor:  "\(math.Floor(parameter.ratio))"
			config: json.Marshal({port: parameter.port, tls: parameter.tls})
			base64: b64.Encode(null, parameter.name)
			parsed: "\(strconv.Atoi("42") + 1)"
		}
	}
	parameter: {
		name:  string
		port:  int
		tls:   *true | bool
		hosts: [...string]
		weights: [...int]
		ratio: number
	}`)
	r, err := b.Render(t.Context(), RenderOptions{Parameters: map[string]any{
		"name": "Shop", "port": 8443, "hosts": []any{"b.example", "a.example"}, "weights": []any{1, 2, 3}, "ratio": 2.75,
	}})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	want := `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shop"}, "data": {
		"port": "8443", "hosts": "a.example,b.example", "sum": "6", "floor": "2",
		"config": "{\"port\":8443,\"tls\":true}", "base64": "U2hvcA==", "parsed": "43"}}`
	if !jsonEqual(t, r.Output, want) {
		got, _ := json.Marshal(r.Output)
		t.Errorf("Output = %s\nwant %s", got, want)
	}
}

// slowBody is a template whose evaluation grows with parameter.n: about n³
// list elements, and CUE spends much more than linear time on them. Here,
// n=22 takes about 2 s without the race detector and several times that
// with it.
const slowBody = `
	import "list"
	_cells: [for a in list.Range(0, parameter.n, 1) for b in list.Range(0, parameter.n, 1) for c in list.Range(0, parameter.n, 1) {a*b + c}]
	output: {
		apiVersion: "v1"
		kind:       "ConfigMap"
		metadata: name: context.name
		data: cells: "\(len(_cells))"
	}
	parameter: n: PARAM`

func TestRenderTimeout(t *testing.T) {
	t.Parallel()
	b := newBundle(t, KindComponent, strings.Replace(slowBody, "PARAM", "int", 1))
	// A small n shows the template works.
	r, err := b.Render(t.Context(), RenderOptions{Parameters: map[string]any{"n": 3}})
	if err != nil || field(r.Output, "data.cells") != "27" {
		t.Fatalf("Render(n=3) = %v, %v", r, err)
	}
	const timeout = 50 * time.Millisecond
	start := time.Now()
	_, err = b.Render(t.Context(), RenderOptions{Parameters: map[string]any{"n": 22}, Limits: Limits{EvalTimeout: timeout}})
	elapsed := time.Since(start)
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "after 50ms") {
		t.Errorf("Render error = %v, want ErrTimeout after 50ms", err)
	}
	if elapsed > time.Second {
		t.Errorf("Render returned after %v, want soon after %v", elapsed, timeout)
	}
}

// TestLoadTimeout shows that checking a template, which evaluates it with
// its defaults, is bounded as a render is.
func TestLoadTimeout(t *testing.T) {
	t.Parallel()
	start := time.Now()
	_, err := newBundleLimits(t, KindComponent, strings.Replace(slowBody, "PARAM", "*22 | int", 1), Limits{EvalTimeout: 50 * time.Millisecond})
	elapsed := time.Since(start)
	checkProblems(t, err, wantProblem{TemplateFile, 0, 0, "evaluation timed out after 50ms"})
	if elapsed > time.Second {
		t.Errorf("FromFiles returned after %v", elapsed)
	}
}

func TestRenderCanceled(t *testing.T) {
	t.Parallel()
	b := mustLoad(t, goodComponent)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := b.Render(ctx, RenderOptions{Parameters: map[string]any{"image": "x"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Render with a canceled context: %v, want context.Canceled", err)
	}
}

func TestRenderController(t *testing.T) {
	t.Parallel()
	b := &Bundle{Metadata: Metadata{Name: "ctl", Version: "1.0.0", Kind: KindController}}
	if _, err := b.Render(t.Context(), RenderOptions{}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "no template to render") {
		t.Errorf("Render of a controller bundle: %v", err)
	}
}
