package lockfile

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/capcenter/capcenter/capabilities/resolve"
)

const (
	dWeb = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	dOAM = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

const good = `# a lock
lockVersion: 1
kubernetes: 1.30.2
requirements:
  - name: webservice
    range: ^1.0.0
capabilities:
  - name: oam-definitions
    version: 1.0.0
    digest: ` + dOAM + `
  - name: webservice
    version: 1.2.0
    digest: ` + dWeb + `
    kubernetes: '>=1.25.0'
    dependencies:
      - name: oam-definitions
        range: ^1.0.0
`

func TestParseRoundTripAndResolveOffline(t *testing.T) {
	f, err := Parse([]byte(good), "capcenter.lock")
	if err != nil {
		t.Fatal(err)
	}
	data, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(data, "again.lock")
	if err != nil {
		t.Fatalf("Marshal wrote what Parse refuses: %v\n%s", err, data)
	}
	if len(again.Capabilities) != 2 || again.Capabilities[1].Dependencies[0].Range != "^1.0.0" || again.Kubernetes != "1.30.2" {
		t.Errorf("round trip lost fields: %+v", again)
	}

	plan, err := resolve.Resolve(context.Background(), f.Source(), f.Request())
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Steps) != 2 || plan.Steps[0].Name != "oam-definitions" || plan.Steps[1].Digest != dWeb {
		t.Errorf("offline plan = %+v; want oam-definitions then webservice at the locked digests", plan.Steps)
	}
	// A requirement the lock does not meet fails with an explanation.
	req := f.Request()
	req.Requirements = []resolve.Requirement{{Name: "webservice", Range: "^2.0.0"}}
	if _, err := resolve.Resolve(context.Background(), f.Source(), req); !errors.Is(err, resolve.ErrNoSolution) {
		t.Errorf("resolving ^2 against a lock of 1.2.0 = %v; want no solution", err)
	}
	// The cluster's version matters offline too.
	req = f.Request()
	req.Kubernetes = "1.24.0"
	if _, err := resolve.Resolve(context.Background(), f.Source(), req); !errors.Is(err, resolve.ErrNoSolution) {
		t.Errorf("resolving for Kubernetes 1.24 = %v; want no solution", err)
	}
}

func TestParseRefuses(t *testing.T) {
	replace := func(from, to string) string { return strings.Replace(good, from, to, 1) }
	tests := []struct{ name, data, say string }{
		{"not YAML", "lockVersion: [", "invalid lock file"},
		{"unknown field", good + "extra: 1\n", `unknown field "extra"`},
		{"other lockVersion", replace("lockVersion: 1", "lockVersion: 2"), "lockVersion: 2, want 1"},
		{"bad kubernetes", replace("kubernetes: 1.30.2", "kubernetes: latest"), "kubernetes:"},
		{"bad name", replace("name: oam-definitions\n    version", "name: OAM\n    version"), "capabilities[0].name"},
		{"locked twice", replace("name: webservice\n    version", "name: oam-definitions\n    version"), "locked twice"},
		{"bad version", replace("version: 1.2.0", "version: v1.2"), "capabilities[1].version"},
		{"bad digest", replace(dWeb, "sha256:abc"), "capabilities[1].digest"},
		{"md5 digest", replace(dWeb, "md5:0123"), "capabilities[1].digest"},
		{"bad range", replace("range: ^1.0.0\ncapabilities", "range: '>>1'\ncapabilities"), "requirements[0].range"},
		{"bad kubernetes range", replace("'>=1.25.0'", "'~~1'"), "capabilities[1].kubernetes"},
		{"dependency not locked", replace("      - name: oam-definitions", "      - name: gateway"), "gateway is not locked"},
		{"requirement not locked", replace("  - name: webservice\n    range", "  - name: gateway\n    range"), "requirements[0]: gateway is not locked"},
		{"too large", strings.Repeat("#", MaxSize+1), "more than"},
		{"a list", "- 1\n- 2\n", "invalid lock file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.data), "x.lock")
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.say) || !strings.HasPrefix(err.Error(), "x.lock: ") {
				t.Fatalf("Parse = %v; want ErrInvalid naming x.lock and saying %q", err, tt.say)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Fuzz(func(t *testing.T, data []byte) {
		lf, err := Parse(data, "fuzz.lock")
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		out, err := lf.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(out, "again.lock"); err != nil {
			t.Fatalf("a parsed lock file does not survive Marshal: %v\n%s", err, out)
		}
		// Resolving against any valid lock terminates without panicking.
		_, _ = resolve.Resolve(context.Background(), lf.Source(), lf.Request())
	})
}
