package embedded

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"

	"github.com/capcenter/capcenter/store"
)

// cursor is what a page token carries: the sort key of the last item
// returned and a hash of the query it belongs to. Paging by key rather
// than offset means a publish between two pages neither repeats nor skips
// an item already ordered before the cursor.
type cursor struct {
	// Name is the last capability name, or the last version string.
	Name string `json:"n"`
	// Updated is the last capability's Updated in Unix nanoseconds, for
	// the "updated" orderings.
	Updated int64  `json:"u,omitempty"`
	Hash    string `json:"h"`
}

// encodeToken makes an opaque page token.
func encodeToken(c cursor) string {
	raw, _ := json.Marshal(c) // a struct of strings and ints always marshals
	return base64.RawURLEncoding.EncodeToString(raw)
}

// decodeToken reads a page token; empty means the first page (nil). A
// token that does not decode, or was issued for a query with another hash,
// wraps store.ErrInvalidArgument.
func decodeToken(token, hash string) (*cursor, error) {
	if token == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, fmt.Errorf("page_token: %w: not issued by this store", store.ErrInvalidArgument)
	}
	var c cursor
	if err := json.Unmarshal(raw, &c); err != nil || c.Hash == "" {
		return nil, fmt.Errorf("page_token: %w: not issued by this store", store.ErrInvalidArgument)
	}
	if c.Hash != hash {
		return nil, fmt.Errorf("page_token: %w: issued for another query", store.ErrInvalidArgument)
	}
	return &c, nil
}

// queryHash identifies a query (not its page size) in its tokens.
func queryHash(parts ...string) string {
	h := fnv.New64a()
	for _, p := range parts {
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

// pageSize applies the page size rules: 0 is store.DefaultPageSize, sizes
// over store.MaxPageSize are clamped, negative sizes wrap
// store.ErrInvalidArgument.
func pageSize(n int) (int, error) {
	switch {
	case n < 0:
		return 0, fmt.Errorf("page_size %d: %w: must not be negative", n, store.ErrInvalidArgument)
	case n == 0:
		return store.DefaultPageSize, nil
	case n > store.MaxPageSize:
		return store.MaxPageSize, nil
	}
	return n, nil
}
