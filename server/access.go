package server

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/capcenter/capcenter/server/auth"
	"github.com/capcenter/capcenter/server/registry"
)

// openServices are the gRPC services every caller may use, whatever
// credential it sends: health checks and reflection.
var openServices = []string{"/grpc.health.v1.Health/", "/grpc.reflection."}

// isOpenMethod reports whether the gRPC method is of openServices.
func isOpenMethod(method string) bool {
	for _, open := range openServices {
		if strings.HasPrefix(method, open) {
			return true
		}
	}
	return false
}

// Authenticator finds the principal of an Authorization header value, as
// auth.Tokens.Authenticate does: nil and no error for an empty value,
// auth.ErrUnauthenticated for a credential it does not know. Both
// *auth.Tokens and *auth.Reloader are one; it must be safe for concurrent
// use.
type Authenticator interface {
	Authenticate(authorization string) (*auth.Principal, error)
}

// authenticate returns ctx carrying the principal of the call's
// "authorization" metadata. Without tokens, and for openServices, it
// returns ctx as it is. It fails with auth.ErrUnauthenticated for a
// credential no token matches, even on a call anonymous callers may make:
// a wrong token is a mistake to report, not to ignore.
func (s *Server) authenticate(ctx context.Context, method string) (context.Context, error) {
	if s.tokens == nil || isOpenMethod(method) {
		return ctx, nil
	}
	var header string
	if vals := metadata.ValueFromIncomingContext(ctx, "authorization"); len(vals) > 0 {
		header = vals[0]
	}
	p, err := s.tokens.Authenticate(header)
	if err != nil {
		return ctx, err
	}
	return auth.NewContext(ctx, p), nil
}

// allow checks that the caller of ctx may do what need names. It is the
// one check every RPC and every /v2/ request goes through. Without tokens
// everything is allowed; with them, reads are allowed to everyone when
// anonymous read is on. It fails with auth.ErrUnauthenticated or
// auth.ErrPermissionDenied, which toStatus maps.
func (s *Server) allow(ctx context.Context, need auth.Need) error {
	if s.tokens == nil || (need.Scope() == auth.ScopeRead && s.anonymousRead) {
		return nil
	}
	return auth.Check(auth.FromContext(ctx), need)
}

// allowRead is allow for reads: the check of every read RPC.
func (s *Server) allowRead(ctx context.Context) error {
	return s.allow(ctx, auth.NeedRead())
}

// allowPublish is allow for changes to capability name. A name that does
// not parse ("") needs any principal, so that an anonymous caller learns
// nothing from how its request is malformed.
func (s *Server) allowPublish(ctx context.Context, name string) error {
	if name == "" {
		return s.allow(ctx, auth.Need{})
	}
	return s.allow(ctx, auth.NeedPublish(name))
}

// authStream is a grpc.ServerStream whose context carries the principal.
type authStream struct {
	grpc.ServerStream
	ctx context.Context //nolint:containedctx // a ServerStream answers Context(); this is that context
}

// Context returns the stream's context with the principal.
func (a *authStream) Context() context.Context { return a.ctx }

// The Server decides who may use /v2/.
var _ registry.Authorizer = (*Server)(nil)

// Authorize implements registry.Authorizer with the checks of the gRPC
// side. Pulls and the catalog need read unless anonymous read is on; a
// principal may also pull from a repository it may push to, since every
// push client checks what the repository holds first. Pushes and deletes
// need publish for the repository, whose namespace is its first path
// segment (deleting a capability version needs admin on top, which
// DeleteVersion checks). /v2/ itself, where clients check their login,
// needs a valid token, or none when anonymous read is on. Without tokens
// it allows everything. It fails with Unauthenticated or
// PermissionDenied status errors.
func (s *Server) Authorize(ctx context.Context, authorization, repo string, action registry.Action) (context.Context, string, error) {
	if s.tokens == nil {
		return ctx, "", nil
	}
	p, err := s.tokens.Authenticate(authorization)
	if err != nil {
		return ctx, p.String(), toStatus(err).Err()
	}
	ctx = auth.NewContext(ctx, p)
	if err := s.limitRate(ctx); err != nil {
		return ctx, p.String(), err
	}
	var need auth.Need
	switch {
	case action == registry.ActionPing && s.anonymousRead:
		need = auth.NeedRead()
	case action == registry.ActionPing:
		// any principal
	case action == registry.ActionPull && (repo == "" || !p.CanPublish(repo)):
		need = auth.NeedRead()
	default:
		need = auth.NeedPublish(repo)
	}
	if err := s.allow(ctx, need); err != nil {
		return ctx, p.String(), toStatus(err).Err()
	}
	return ctx, p.String(), nil
}
