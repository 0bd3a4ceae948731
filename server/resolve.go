package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/resolve"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
	"github.com/capcenter/capcenter/store"
)

// Bounds of one Resolve call.
const (
	// MaxRequirements bounds the requirements and installed capabilities of
	// one request.
	MaxRequirements = 1000
	// ResolveTimeout bounds the solver's time; the caller's deadline, when
	// shorter, wins.
	ResolveTimeout = 30 * time.Second
)

// Resolve runs the PubGrub resolver over the catalog. It fails with
// InvalidArgument for a malformed request (naming the field), with
// FailedPrecondition carrying the explanation when no set of versions
// works or the chosen versions form a dependency cycle, and with
// ResourceExhausted when the solver runs out of ResolveTimeout.
func (s *Server) Resolve(ctx context.Context, req *capcenterv1.ResolveRequest) (*capcenterv1.ResolveResponse, error) {
	if err := s.allowRead(ctx); err != nil {
		return nil, err
	}
	if n := len(req.GetRequirements()) + len(req.GetInstalled()); n > MaxRequirements {
		return nil, statusError(codes.InvalidArgument, "requirements and installed: %d, more than %d", n, MaxRequirements)
	}
	if len(req.GetRequirements()) == 0 {
		return nil, statusError(codes.InvalidArgument, "requirements: empty: name at least one capability")
	}
	r := resolve.Request{Kubernetes: req.GetKubernetesVersion(), Upgrade: req.GetUpgrade()}
	for i, q := range req.GetRequirements() {
		if err := capabilities.ValidateName(q.GetCapability()); err != nil {
			return nil, statusError(codes.InvalidArgument, "requirements[%d].capability: %v", i, err)
		}
		r.Requirements = append(r.Requirements, resolve.Requirement{Name: q.GetCapability(), Range: q.GetVersionRange()})
	}
	if len(req.GetInstalled()) > 0 {
		r.Installed = map[string]string{}
		for i, in := range req.GetInstalled() {
			if err := capabilities.ValidateName(in.GetCapability()); err != nil {
				return nil, statusError(codes.InvalidArgument, "installed[%d].capability: %v", i, err)
			}
			if _, dup := r.Installed[in.GetCapability()]; dup {
				return nil, statusError(codes.InvalidArgument, "installed[%d]: %s is listed twice", i, in.GetCapability())
			}
			r.Installed[in.GetCapability()] = in.GetVersion()
		}
	}
	if err := s.evals.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.evals.release()
	solveCtx, cancel := context.WithTimeout(ctx, ResolveTimeout)
	defer cancel()
	plan, err := resolve.Resolve(solveCtx, storeSource{s.store}, r)
	switch {
	case err == nil:
	case ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		return nil, statusError(codes.ResourceExhausted, "resolve: no answer within %s", ResolveTimeout)
	default:
		return nil, err
	}
	out := &capcenterv1.ResolveResponse{}
	for _, st := range plan.Steps {
		out.Steps = append(out.Steps, &capcenterv1.PlanStep{
			Capability: st.Name, Version: st.Version, Digest: st.Digest,
			Installed: st.Installed, Dependencies: st.Dependencies,
		})
	}
	return out, nil
}

// storeSource lists a capability's versions from the store for the
// resolver.
type storeSource struct{ st store.Store }

// Versions reads every version of name, page by page; a capability the
// store does not have wraps resolve.ErrUnknown.
func (s storeSource) Versions(ctx context.Context, name string) ([]resolve.Version, error) {
	var out []resolve.Version
	pr := store.PageRequest{Size: store.MaxPageSize}
	for {
		page, err := s.st.ListVersions(ctx, name, pr)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%s: %w", name, resolve.ErrUnknown)
		}
		if err != nil {
			return nil, err
		}
		for _, v := range page.Items {
			rv := resolve.Version{Version: v.Version, Kubernetes: v.Kubernetes, Yanked: v.Yanked, Digest: v.Digest}
			for _, d := range v.Dependencies {
				rv.Dependencies = append(rv.Dependencies, resolve.Dependency{Name: d.Name, Range: d.Range})
			}
			out = append(out, rv)
		}
		if page.Next == "" {
			return out, nil
		}
		pr.Token = page.Next
	}
}
