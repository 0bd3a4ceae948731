package server

import (
	"context"
	"fmt"

	"github.com/Masterminds/semver/v3"
	"google.golang.org/grpc/codes"

	"github.com/capcenter/capcenter/capabilities"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
	"github.com/capcenter/capcenter/store"
)

// RenderTemplate renders a version's template; the version may be
// "latest". It fails with InvalidArgument for a malformed name or context,
// for parameters that do not fit the template (each problem naming its
// parameter path) and for a bundle with no template; NotFound for an
// unknown version; ResourceExhausted when the evaluation runs past the
// server's time bound or, in a worker process, its memory limit. Renders
// wait for a free evaluation slot (see Config.MaxConcurrentEvals).
func (s *Server) RenderTemplate(ctx context.Context, req *capcenterv1.RenderTemplateRequest) (*capcenterv1.RenderTemplateResponse, error) {
	if err := s.allowRead(ctx); err != nil {
		return nil, err
	}
	opts, err := renderOptions(req)
	if err != nil {
		return nil, err
	}
	opts.Limits = s.limits
	v, err := s.version(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	b, err := s.loadBundle(ctx, v)
	if err != nil {
		return nil, err
	}
	if err := s.evals.acquire(ctx); err != nil {
		return nil, err
	}
	r, err := b.Render(ctx, opts)
	// With a worker pool, Render returns once a runaway worker is dead; in
	// process, an abandoned evaluation runs on: see doc.go, Caveats.
	s.evals.release()
	if err != nil {
		return nil, err
	}
	return renderedToProto(b.Metadata.Kind, r)
}

// renderOptions reads the parameters, context and workload of a request.
func renderOptions(req *capcenterv1.RenderTemplateRequest) (capabilities.RenderOptions, error) {
	var opts capabilities.RenderOptions
	params, err := structToMap(req.GetParameters())
	if err != nil {
		return opts, statusError(codes.InvalidArgument, "parameters: %v", err)
	}
	workload, err := structToMap(req.GetWorkload())
	if err != nil {
		return opts, statusError(codes.InvalidArgument, "workload: %v", err)
	}
	rc := req.GetContext()
	opts = capabilities.RenderOptions{
		Parameters: params,
		Workload:   workload,
		Context: capabilities.Context{
			Name:        rc.GetName(),
			Namespace:   rc.GetNamespace(),
			AppName:     rc.GetAppName(),
			AppRevision: rc.GetAppRevision(),
		},
	}
	if cv := rc.GetClusterVersion(); cv != "" {
		sv, err := semver.NewVersion(cv)
		if err != nil {
			return opts, statusError(codes.InvalidArgument, "context.cluster_version: %q is not a Kubernetes version like v1.35.4: %v", cv, err)
		}
		opts.Context.ClusterVersion = capabilities.ClusterVersion{
			Major: int(sv.Major()), Minor: int(sv.Minor()), GitVersion: "v" + sv.String(),
		}
	}
	return opts, nil
}

// loadBundle returns the unpacked bundle of v, from the cache when it is
// there. Unpacking evaluates CUE, so it takes an evaluation slot.
func (s *Server) loadBundle(ctx context.Context, v store.Version) (*capabilities.Bundle, error) {
	if b, ok := s.bundles.get(v.Digest); ok {
		return b, nil
	}
	raw, _, err := s.fetchManifest(ctx, v.Digest)
	if err != nil {
		return nil, err
	}
	if err := s.evals.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.evals.release()
	b, err := capabilities.Unpack(ctx, s.store, manifestDescriptor(raw), s.limits)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		// The bundle was valid when published: a failure now is the
		// server's, not the caller's.
		return nil, fmt.Errorf("load %s@%s (%s): %w", v.Name, v.Version, v.Digest, internalOnly{err})
	}
	s.bundles.add(v.Digest, b)
	return b, nil
}

// internalOnly hides the sentinels of an error from toStatus, so that it
// maps to Internal, while keeping its text for the log.
type internalOnly struct{ err error }

func (e internalOnly) Error() string { return e.err.Error() }

// renderedToProto maps a render's objects, in apply order.
func renderedToProto(kind capabilities.Kind, r *capabilities.Rendered) (*capcenterv1.RenderTemplateResponse, error) {
	resp := &capcenterv1.RenderTemplateResponse{}
	add := func(role string, obj capabilities.Object) error {
		st, err := mapToStruct(obj)
		if err != nil {
			return fmt.Errorf("rendered %s: %w", role, err)
		}
		resp.Objects = append(resp.Objects, &capcenterv1.RenderedObject{Role: role, Object: st})
		return nil
	}
	if r.Output != nil {
		role := "output"
		if kind == capabilities.KindTrait {
			role = "workload"
		}
		if err := add(role, r.Output); err != nil {
			return nil, err
		}
	}
	for _, o := range r.Outputs {
		if err := add(o.Name, o.Object); err != nil {
			return nil, err
		}
	}
	return resp, nil
}
