package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

// restError is the JSON body of a REST error from the gateway.
type restError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// get sends a GET to base+path with query and returns the status and body.
func get(ctx context.Context, base, path string, query url.Values) (int, []byte, error) {
	u := base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// getProto GETs a REST resource that must answer 200 and decodes it into m.
func getProto(ctx context.Context, base, path string, query url.Values, m proto.Message) error {
	status, body, err := get(ctx, base, path, query)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("GET %s?%s: %d %s", path, query.Encode(), status, body)
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, m); err != nil {
		return fmt.Errorf("GET %s: decoding %s: %w", path, body, err)
	}
	return nil
}

// getError GETs a REST resource that must fail with want and a JSON error
// body, and returns that body.
func getError(ctx context.Context, base, path string, query url.Values, want int) (restError, error) {
	status, body, err := get(ctx, base, path, query)
	if err != nil {
		return restError{}, err
	}
	var e restError
	if status != want {
		return e, fmt.Errorf("GET %s?%s: got %d %s, want %d", path, query.Encode(), status, body, want)
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Message == "" {
		return e, fmt.Errorf("GET %s: the %d body is not a JSON error with a message: %q (%w)", path, status, body, err)
	}
	return e, nil
}

// listAll pages through ListCapabilities over REST with pageSize and
// returns every capability in the order seen.
func listAll(ctx context.Context, base string, query url.Values, pageSize int) ([]*capcenterv1.Capability, error) {
	var all []*capcenterv1.Capability
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("page_size", fmt.Sprint(pageSize))
	for pages := 0; ; pages++ {
		if pages > 10000 {
			return all, fmt.Errorf("paging did not end after %d pages", pages)
		}
		var page capcenterv1.ListCapabilitiesResponse
		if err := getProto(ctx, base, "/v1/capabilities", q, &page); err != nil {
			return all, err
		}
		if len(page.GetCapabilities()) > pageSize {
			return all, fmt.Errorf("a page of %d for page_size %d", len(page.GetCapabilities()), pageSize)
		}
		all = append(all, page.GetCapabilities()...)
		if page.GetNextPageToken() == "" {
			return all, nil
		}
		q.Set("page_token", page.GetNextPageToken())
	}
}
