package client

import (
	"context"
	"iter"

	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

// Query is a catalog search. The zero Query lists every capability by name.
type Query struct {
	// Text holds words that must all appear in the name, description or
	// keywords, case-insensitively.
	Text string
	// Kind keeps only capabilities of one kind; KIND_UNSPECIFIED keeps all.
	Kind capcenterv1.Kind
	// Keyword keeps only capabilities with this keyword.
	Keyword string
	// OrderBy is "name" (the default), "name desc", "update_time" or
	// "update_time desc".
	OrderBy string
	// PageSize is how many results a page holds: 0 lets the server choose.
	PageSize int32
	// PageToken is the NextPageToken of the previous page of the same query.
	PageToken string
}

// GetCapability returns capability name's catalog entry. It fails with
// ErrInvalidArgument for a malformed name, ErrNotFound when there is no
// such capability, and the sentinels of the other status codes.
func (c *Client) GetCapability(ctx context.Context, name string) (*capcenterv1.Capability, error) {
	rn, err := capabilityName(name)
	if err != nil {
		return nil, err
	}
	cp, err := c.rpc.GetCapability(ctx, &capcenterv1.GetCapabilityRequest{Name: rn}, callOptions()...)
	return cp, wrapStatus(ctx, name, err)
}

// ListCapabilities returns one page of the capabilities q matches. It
// fails with ErrInvalidArgument for an unknown ordering or a page token
// issued for another query.
func (c *Client) ListCapabilities(ctx context.Context, q Query) (*capcenterv1.ListCapabilitiesResponse, error) {
	resp, err := c.rpc.ListCapabilities(ctx, &capcenterv1.ListCapabilitiesRequest{
		PageSize: q.PageSize, PageToken: q.PageToken,
		Query: q.Text, Kind: q.Kind, Keyword: q.Keyword, OrderBy: q.OrderBy,
	}, callOptions()...)
	return resp, wrapStatus(ctx, "search", err)
}

// Capabilities yields every capability q matches, from q.PageToken on,
// fetching pages as the loop asks for more. A failing page is yielded as
// one error, after which the sequence ends; stop the loop early to fetch no
// further pages.
func (c *Client) Capabilities(ctx context.Context, q Query) iter.Seq2[*capcenterv1.Capability, error] {
	return func(yield func(*capcenterv1.Capability, error) bool) {
		for {
			page, err := c.ListCapabilities(ctx, q)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, cp := range page.GetCapabilities() {
				if !yield(cp, nil) {
					return
				}
			}
			if page.GetNextPageToken() == "" {
				return
			}
			q.PageToken = page.GetNextPageToken()
		}
	}
}

// ListVersions returns every version of capability name, newest first,
// fetching as many pages as it takes. It fails like GetCapability.
func (c *Client) ListVersions(ctx context.Context, name string) ([]*capcenterv1.Version, error) {
	rn, err := capabilityName(name)
	if err != nil {
		return nil, err
	}
	var all []*capcenterv1.Version
	req := &capcenterv1.ListVersionsRequest{Parent: rn}
	for {
		page, err := c.rpc.ListVersions(ctx, req, callOptions()...)
		if err != nil {
			return nil, wrapStatus(ctx, name, err)
		}
		all = append(all, page.GetVersions()...)
		if page.GetNextPageToken() == "" {
			return all, nil
		}
		req.PageToken = page.GetNextPageToken()
	}
}

// GetVersion returns one version of capability name: metadata, digest,
// parameter schema, README, dependencies and state. Version "" or Latest
// means the highest version not yanked. It fails with ErrInvalidArgument
// for a malformed name or version and ErrNotFound when there is no such
// capability or version.
func (c *Client) GetVersion(ctx context.Context, name, version string) (*capcenterv1.Version, error) {
	rn, err := versionName(name, version)
	if err != nil {
		return nil, err
	}
	v, err := c.rpc.GetVersion(ctx, &capcenterv1.GetVersionRequest{Name: rn}, callOptions()...)
	return v, wrapStatus(ctx, Ref(name, orLatest(version)), err)
}

// Yank marks a version yanked, with the reason shown to those who still
// pin it: it stays pullable by exact version, but resolvers skip it. It
// returns the version as it now is, and fails like GetVersion, and with
// ErrPermissionDenied or ErrUnauthenticated when the caller may not change
// it.
func (c *Client) Yank(ctx context.Context, name, version, reason string) (*capcenterv1.Version, error) {
	return c.yank(ctx, name, version, reason, false)
}

// Unyank lifts a yank; it fails like Yank.
func (c *Client) Unyank(ctx context.Context, name, version string) (*capcenterv1.Version, error) {
	return c.yank(ctx, name, version, "", true)
}

func (c *Client) yank(ctx context.Context, name, version, reason string, undo bool) (*capcenterv1.Version, error) {
	rn, err := versionName(name, version)
	if err != nil {
		return nil, err
	}
	v, err := c.rpc.YankVersion(ctx, &capcenterv1.YankVersionRequest{Name: rn, Reason: reason, Undo: undo}, callOptions()...)
	return v, wrapStatus(ctx, Ref(name, orLatest(version)), err)
}

// Deprecate marks a version deprecated, with a message saying what to use
// instead, and returns it as it now is. It fails like Yank.
func (c *Client) Deprecate(ctx context.Context, name, version, message string) (*capcenterv1.Version, error) {
	return c.deprecate(ctx, name, version, message, false)
}

// Undeprecate lifts a deprecation; it fails like Yank.
func (c *Client) Undeprecate(ctx context.Context, name, version string) (*capcenterv1.Version, error) {
	return c.deprecate(ctx, name, version, "", true)
}

func (c *Client) deprecate(ctx context.Context, name, version, message string, undo bool) (*capcenterv1.Version, error) {
	rn, err := versionName(name, version)
	if err != nil {
		return nil, err
	}
	v, err := c.rpc.DeprecateVersion(ctx, &capcenterv1.DeprecateVersionRequest{Name: rn, Message: message, Undo: undo}, callOptions()...)
	return v, wrapStatus(ctx, Ref(name, orLatest(version)), err)
}

func orLatest(version string) string {
	if version == "" {
		return Latest
	}
	return version
}
