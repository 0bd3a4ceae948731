package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/capcenter/capcenter/capabilities"
)

// The scopes a token may carry.
const (
	// ScopeRead lets a principal read the whole catalog.
	ScopeRead = "read"
	// ScopeAdmin lets a principal do everything.
	ScopeAdmin = "admin"
	// ScopePublishPrefix starts publish:<namespace> and publish:*.
	ScopePublishPrefix = "publish:"
	// ScopePublishAll lets a principal publish any name.
	ScopePublishAll = ScopePublishPrefix + "*"
)

// Errors of the checks.
var (
	// ErrUnauthenticated is the error of a call that needs a principal
	// and has none, or whose credential no token matches.
	ErrUnauthenticated = errors.New("missing or invalid token")
	// ErrPermissionDenied is the error of a principal without the scope a
	// call needs; the message names the scope.
	ErrPermissionDenied = errors.New("permission denied")
)

// ValidateScope checks one scope: read, admin, publish:* or
// publish:<namespace> where the namespace is a name part capabilities
// allow (a DNS label). It fails with a message saying what is wrong.
func ValidateScope(s string) error {
	ns, ok := strings.CutPrefix(s, ScopePublishPrefix)
	switch {
	case s == ScopeRead || s == ScopeAdmin || s == ScopePublishAll:
		return nil
	case !ok:
		return fmt.Errorf("scope %q: want read, publish:<namespace>, publish:* or admin", clip(s))
	case strings.Contains(ns, "/"):
		return fmt.Errorf("scope %q: a namespace has no '/'", clip(s))
	}
	if err := capabilities.ValidateName(ns); err != nil {
		return fmt.Errorf("scope %q: namespace: %w", clip(s), err)
	}
	return nil
}

// Principal is who a token stands for. A nil *Principal is anonymous and
// may do nothing.
type Principal struct {
	// Name is the token's name in the file: safe to log.
	Name string
	// Scopes are the token's valid scopes.
	Scopes []string
}

// String is the name to log: the principal's, or "anonymous".
func (p *Principal) String() string {
	if p == nil {
		return "anonymous"
	}
	return p.Name
}

// has reports whether p holds scope s.
func (p *Principal) has(s string) bool {
	return p != nil && slices.Contains(p.Scopes, s)
}

// IsAdmin reports whether p holds admin, which implies every scope.
func (p *Principal) IsAdmin() bool { return p.has(ScopeAdmin) }

// CanRead reports whether p may read the catalog.
func (p *Principal) CanRead() bool { return p.has(ScopeRead) || p.IsAdmin() }

// CanPublish reports whether p may publish, sign, yank and deprecate
// capability name, or push to the OCI repository name:
// publish:<namespace> covers names whose first '/'-separated part is the
// namespace; names without a '/' need publish:* (or admin).
func (p *Principal) CanPublish(name string) bool {
	return p.IsAdmin() || p.has(ScopePublishAll) || p.has(PublishScope(name))
}

// PublishScope is the narrowest scope that lets a principal publish name:
// publish:<namespace> for a name with a namespace, publish:* for one
// without.
func PublishScope(name string) string {
	ns, rest, ok := strings.Cut(name, "/")
	if !ok || ns == "" || rest == "" {
		return ScopePublishAll
	}
	return ScopePublishPrefix + ns
}

// Need is what a call needs of its caller; the zero Need is only a
// principal, any principal.
type Need struct {
	scope string
	ok    func(*Principal) bool
}

// NeedRead is what reading the catalog needs.
func NeedRead() Need { return Need{scope: ScopeRead, ok: (*Principal).CanRead} }

// NeedAdmin is what an admin's act needs.
func NeedAdmin() Need { return Need{scope: ScopeAdmin, ok: (*Principal).IsAdmin} }

// NeedPublish is what changing capability (or OCI repository) name needs.
func NeedPublish(name string) Need {
	return Need{scope: PublishScope(name), ok: func(p *Principal) bool { return p.CanPublish(name) }}
}

// Scope is the scope n names, empty for the zero Need.
func (n Need) Scope() string { return n.scope }

// Check reports whether p may do what n needs. It fails with
// ErrUnauthenticated when p is nil and with ErrPermissionDenied, naming
// the scope, when p lacks it.
func Check(p *Principal, n Need) error {
	switch {
	case p == nil:
		return ErrUnauthenticated
	case n.ok == nil || n.ok(p):
		return nil
	}
	return fmt.Errorf("token %q lacks scope %s: %w", p.Name, n.scope, ErrPermissionDenied)
}

// principalKey keys the Principal in a context.
type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the Principal ctx carries, nil for none.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
