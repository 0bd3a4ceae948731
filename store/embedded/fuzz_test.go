package embedded

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/capcenter/capcenter/store"
)

// FuzzPageToken feeds page tokens from outside (they arrive in REST query
// strings) to both listings. Whatever the token, the store answers a page
// no larger than asked for, or an error wrapping store.ErrInvalidArgument
// that names page_token; it never panics.
func FuzzPageToken(f *testing.F) {
	s := mustOpen(f, f.TempDir(), Options{NoSync: true})
	seed(f, s, 30, 3)
	first, err := s.ListCapabilities(f.Context(), store.Query{PageRequest: store.PageRequest{Size: 4}})
	if err != nil {
		f.Fatal(err)
	}
	hash := func(token string) string {
		raw, _ := base64.RawURLEncoding.DecodeString(token)
		return string(raw)
	}(first.Next)
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, seed := range []string{
		"", first.Next, "%%%", "====", enc("{}"), enc("null"), enc("[]"),
		enc(`{"n":"\u0000","h":"x"}`), enc(strings.Replace(hash, `"n":"`, `"n":"\uffff`, 1)),
		enc(strings.Replace(hash, `"n":"`, `"u":-9223372036854775808,"n":"`, 1)),
		enc(`{"n":` + strings.Repeat("[", 10000) + `}`), strings.Repeat("A", 1<<16),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		for _, order := range []string{"name", "updated desc"} {
			page, err := s.ListCapabilities(t.Context(), store.Query{OrderBy: order, PageRequest: store.PageRequest{Size: 4, Token: token}})
			checkPage(t, len(page.Items), err)
		}
		page, err := s.ListVersions(t.Context(), "cap-00001", store.PageRequest{Size: 2, Token: token})
		checkPage(t, len(page.Items), err)
	})
}

func checkPage(t *testing.T, n int, err error) {
	t.Helper()
	switch {
	case err != nil && !errors.Is(err, store.ErrInvalidArgument):
		t.Fatalf("error %v does not wrap ErrInvalidArgument", err)
	case err != nil && !strings.Contains(err.Error(), "page_token"):
		t.Fatalf("error %q does not name page_token", err)
	case n > 4:
		t.Fatalf("page of %d items, asked for at most 4", n)
	}
}
