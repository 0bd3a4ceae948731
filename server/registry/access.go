package registry

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Action is what a request does to a repository.
type Action string

// The actions an Authorizer decides on.
const (
	// ActionPing is GET or HEAD of /v2/ itself, which clients send to
	// check their credentials (`oras login`, `docker login`).
	ActionPing Action = "ping"
	// ActionPull reads: GET and HEAD of the catalog, tags, manifests,
	// blobs and referrers.
	ActionPull Action = "pull"
	// ActionPush writes: uploads (and their status and canceling) and
	// manifest PUTs.
	ActionPush Action = "push"
	// ActionDelete removes a manifest, tag or blob.
	ActionDelete Action = "delete"
)

// Authorizer decides whether a request may be served. A Handler without
// one serves everyone.
type Authorizer interface {
	// Authorize checks that a request with the Authorization header value
	// authorization (empty for none) may do action on repository repo (""
	// for the base endpoint and the catalog). It returns the context to
	// serve the request with, which may carry who made it for the
	// Publisher, and a name for that caller to log (never the
	// credential). A gRPC status error Unauthenticated is answered 401
	// UNAUTHORIZED with a Basic challenge, PermissionDenied 403 DENIED,
	// ResourceExhausted with a RetryInfo 429 TOOMANYREQUESTS with
	// Retry-After.
	Authorize(ctx context.Context, authorization, repo string, action Action) (context.Context, string, error)
}

// action is what a request on rt with method does.
func action(method string, rt route) Action {
	switch {
	case rt.endpoint == endpointBase:
		return ActionPing
	case rt.endpoint == endpointUploads || rt.endpoint == endpointUpload:
		return ActionPush
	case method == http.MethodGet || method == http.MethodHead:
		return ActionPull
	case method == http.MethodDelete:
		return ActionDelete
	}
	return ActionPush
}

// authorize asks the Authorizer about a request, returning the request
// to serve and the caller's name. It fails with the Authorizer's error as
// an apiError.
func (h *Handler) authorize(r *http.Request, repo string, act Action) (*http.Request, string, *apiError) {
	if h.authorizer == nil {
		return r, "", nil
	}
	ctx, who, err := h.authorizer.Authorize(r.Context(), r.Header.Get("Authorization"), repo, act)
	if err != nil {
		if d, ok := retryAfter(err); ok {
			e := fail(http.StatusTooManyRequests, codeTooManyRequests, "%s", status.Convert(err).Message())
			e.retryAfter = d
			return r, who, e
		}
		return r, who, storeError(err, codeDenied)
	}
	return r.WithContext(ctx), who, nil
}

// challenge is the WWW-Authenticate value of a 401.
func (h *Handler) challenge() string {
	return "Basic realm=" + strconv.Quote(h.realm)
}

// retryAfter finds the delay of a ResourceExhausted status carrying a
// RetryInfo: a caller over its request rate.
func retryAfter(err error) (time.Duration, bool) {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.ResourceExhausted {
		return 0, false
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}
