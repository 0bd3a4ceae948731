package server

import (
	"context"
	"fmt"
	"math"

	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
	"github.com/capcenter/capcenter/store"
)

// GetCapability returns one catalog entry. It fails with InvalidArgument
// for a malformed name and NotFound for an unknown capability.
func (s *Server) GetCapability(ctx context.Context, req *capcenterv1.GetCapabilityRequest) (*capcenterv1.Capability, error) {
	if err := s.allowRead(ctx); err != nil {
		return nil, err
	}
	name, err := parseCapabilityName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	c, err := s.store.GetCapability(ctx, name)
	if err != nil {
		return nil, err
	}
	return capabilityToProto(c), nil
}

// ListCapabilities searches the catalog. It fails with InvalidArgument for
// an unknown kind, a negative page size, an unknown order or a page token
// the server did not issue for this query.
func (s *Server) ListCapabilities(ctx context.Context, req *capcenterv1.ListCapabilitiesRequest) (*capcenterv1.ListCapabilitiesResponse, error) {
	if err := s.allowRead(ctx); err != nil {
		return nil, err
	}
	kind, err := kindFromProto(req.GetKind())
	if err != nil {
		return nil, err
	}
	pr, err := pageRequest(req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	order, err := orderBy(req.GetOrderBy())
	if err != nil {
		return nil, err
	}
	page, err := s.store.ListCapabilities(ctx, store.Query{
		Text: req.GetQuery(), Kind: kind, Keyword: req.GetKeyword(), OrderBy: order, PageRequest: pr,
	})
	if err != nil {
		return nil, err
	}
	resp := &capcenterv1.ListCapabilitiesResponse{
		NextPageToken: page.Next,
		TotalSize:     int32(min(page.Total, math.MaxInt32)),
	}
	for _, c := range page.Items {
		resp.Capabilities = append(resp.Capabilities, capabilityToProto(c))
	}
	return resp, nil
}

// orderBy maps the API's order_by ("name", "update_time", each optionally
// followed by " desc") to the store's.
func orderBy(o string) (string, error) {
	switch o {
	case "", "name", "name desc":
		return o, nil
	case "update_time":
		return "updated", nil
	case "update_time desc":
		return "updated desc", nil
	}
	return "", fmt.Errorf("order_by: %q is not name, name desc, update_time or update_time desc: %w", o, store.ErrInvalidArgument)
}

// pageRequest checks a page size and token.
func pageRequest(size int32, token string) (store.PageRequest, error) {
	if size < 0 {
		return store.PageRequest{}, fmt.Errorf("page_size: %d is negative: %w", size, store.ErrInvalidArgument)
	}
	return store.PageRequest{Size: int(size), Token: token}, nil
}

// ListVersions lists a capability's versions, newest first. It fails with
// InvalidArgument for a malformed parent or page token and NotFound for an
// unknown capability.
func (s *Server) ListVersions(ctx context.Context, req *capcenterv1.ListVersionsRequest) (*capcenterv1.ListVersionsResponse, error) {
	if err := s.allowRead(ctx); err != nil {
		return nil, err
	}
	name, err := parseCapabilityName("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	pr, err := pageRequest(req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	page, err := s.store.ListVersions(ctx, name, pr)
	if err != nil {
		return nil, err
	}
	resp := &capcenterv1.ListVersionsResponse{NextPageToken: page.Next}
	for _, v := range page.Items {
		pv, err := versionToProto(v)
		if err != nil {
			return nil, err
		}
		resp.Versions = append(resp.Versions, pv)
	}
	return resp, nil
}

// GetVersion returns one version; the version may be "latest". It fails
// with InvalidArgument for a malformed name and NotFound for an unknown
// version.
func (s *Server) GetVersion(ctx context.Context, req *capcenterv1.GetVersionRequest) (*capcenterv1.Version, error) {
	if err := s.allowRead(ctx); err != nil {
		return nil, err
	}
	name, version, err := parseVersionName(req.GetName(), true)
	if err != nil {
		return nil, err
	}
	v, err := s.store.GetVersion(ctx, name, version)
	if err != nil {
		return nil, err
	}
	return versionToProto(v)
}

// YankVersion yanks or unyanks an exact version. It fails like GetVersion,
// with InvalidArgument for "latest", and, with tokens, with
// Unauthenticated or PermissionDenied unless the caller may publish the
// capability.
func (s *Server) YankVersion(ctx context.Context, req *capcenterv1.YankVersionRequest) (*capcenterv1.Version, error) {
	return s.setState(ctx, req.GetName(), store.StateChange{Yank: true, Undo: req.GetUndo(), Message: req.GetReason()})
}

// DeprecateVersion deprecates an exact version or lifts its deprecation.
// It fails like YankVersion.
func (s *Server) DeprecateVersion(ctx context.Context, req *capcenterv1.DeprecateVersionRequest) (*capcenterv1.Version, error) {
	return s.setState(ctx, req.GetName(), store.StateChange{Deprecate: true, Undo: req.GetUndo(), Message: req.GetMessage()})
}

// setState changes the state of a version; it needs publish for the
// version's capability.
func (s *Server) setState(ctx context.Context, resource string, change store.StateChange) (*capcenterv1.Version, error) {
	name, version, err := parseVersionName(resource, false)
	if aerr := s.allowPublish(ctx, name); aerr != nil {
		return nil, aerr
	}
	if err != nil {
		return nil, err
	}
	v, err := s.store.SetState(ctx, name, version, change)
	if err != nil {
		return nil, err
	}
	return versionToProto(v)
}
