package client

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/capcenter/capcenter/capabilities/resolve"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

// Resolve asks the registry to resolve req over its catalog and returns
// the plan, dependencies first, pinned to digests. When no set of versions
// works it fails with an error wrapping resolve.ErrNoSolution and
// ErrFailedPrecondition whose message is the registry's explanation; a
// malformed request wraps ErrInvalidArgument.
func (c *Client) Resolve(ctx context.Context, req resolve.Request) (*resolve.Plan, error) {
	in := &capcenterv1.ResolveRequest{KubernetesVersion: req.Kubernetes, Upgrade: req.Upgrade}
	for _, r := range req.Requirements {
		in.Requirements = append(in.Requirements, &capcenterv1.Requirement{Capability: r.Name, VersionRange: r.Range})
	}
	for name, version := range req.Installed {
		in.Installed = append(in.Installed, &capcenterv1.InstalledCapability{Capability: name, Version: version})
	}
	resp, err := c.rpc.Resolve(ctx, in)
	if st, ok := status.FromError(err); ok && st.Code() == codes.FailedPrecondition {
		return nil, &noSolution{explanation: st.Message(), status: st}
	}
	if err != nil {
		return nil, wrapStatus(ctx, "resolve", err)
	}
	plan := &resolve.Plan{}
	for i, st := range resp.GetSteps() {
		if st.GetCapability() == "" || st.GetVersion() == "" || st.GetDigest() == "" {
			return nil, protocolError("resolve", "plan step %d is incomplete: %v", i, st)
		}
		plan.Steps = append(plan.Steps, resolve.Step{
			Name: st.GetCapability(), Version: st.GetVersion(), Digest: st.GetDigest(),
			Installed: st.GetInstalled(), Dependencies: st.GetDependencies(),
		})
	}
	return plan, nil
}

// noSolution is the registry's verdict that a request has no solution; its
// text is the registry's explanation.
type noSolution struct {
	explanation string
	status      *status.Status
}

func (e *noSolution) Error() string { return e.explanation }

// Unwrap lets errors.Is see both the resolver's and the client's sentinel.
func (e *noSolution) Unwrap() []error { return []error{resolve.ErrNoSolution, ErrFailedPrecondition} }

// GRPCStatus keeps the original status visible to status.FromError.
func (e *noSolution) GRPCStatus() *status.Status { return e.status }
