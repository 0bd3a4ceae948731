package client_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/client"
)

func TestParseRef(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ref, name, version string
		err                error
	}{
		{"webservice", "webservice", "", nil},
		{"webservice@1.2.3", "webservice", "1.2.3", nil},
		{"acme/gateway@latest", "acme/gateway", "latest", nil},
		{"webservice@", "", "", client.ErrInvalidArgument},
		{"Web_Service@1.0.0", "", "", client.ErrInvalidArgument},
		{"a/b/c", "", "", client.ErrInvalidArgument},
		{"webservice@1.0/2", "", "", client.ErrInvalidArgument},
		{"", "", "", client.ErrInvalidArgument},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			t.Parallel()
			name, version, err := client.ParseRef(tc.ref)
			if name != tc.name || version != tc.version || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Errorf("ParseRef(%q) = %q, %q, %v; want %q, %q, %v", tc.ref, name, version, err, tc.name, tc.version, tc.err)
			}
		})
	}
}

func ExampleParseRef() {
	name, version, err := client.ParseRef("acme/gateway@1.4.0")
	fmt.Println(name, version, err)
	fmt.Println(client.Ref(name, ""), client.Ref(name, client.Latest))
	// Output:
	// acme/gateway 1.4.0 <nil>
	// acme/gateway acme/gateway@latest
}

// FuzzParseRef checks that any reference a user types parses to a valid
// capability name and a version without "@", or fails wrapping
// ErrInvalidArgument.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{
		"webservice", "acme/gateway@^1.2", "a@", "@1.0.0", "a@b@c", "../x@1", "/abs", "a//b",
		"x' OR 1=1--", "a;rm -rf /", "\xff\xfe", "a\x00b@1", strings.Repeat("a", 300), "A/B@latest",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		name, version, err := client.ParseRef(ref)
		if err != nil {
			if !errors.Is(err, client.ErrInvalidArgument) {
				t.Fatalf("ParseRef(%q) failed with %v, not ErrInvalidArgument", ref, err)
			}
			return
		}
		if capabilities.ValidateName(name) != nil || strings.Contains(version, "@") {
			t.Fatalf("ParseRef(%q) = %q, %q", ref, name, version)
		}
	})
}
