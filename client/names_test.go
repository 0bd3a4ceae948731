package client_test

import (
	"errors"
	"fmt"
	"testing"

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
