package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/capcenter/capcenter/store"
)

// The error codes of the distribution spec this API answers with.
const (
	codeBlobUnknown         = "BLOB_UNKNOWN"
	codeBlobUploadInvalid   = "BLOB_UPLOAD_INVALID"
	codeBlobUploadUnknown   = "BLOB_UPLOAD_UNKNOWN"
	codeDigestInvalid       = "DIGEST_INVALID"
	codeManifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN"
	codeManifestInvalid     = "MANIFEST_INVALID"
	codeManifestUnknown     = "MANIFEST_UNKNOWN"
	codeNameInvalid         = "NAME_INVALID"
	codeNameUnknown         = "NAME_UNKNOWN"
	codeSizeInvalid         = "SIZE_INVALID"
	codeUnauthorized        = "UNAUTHORIZED"
	codeDenied              = "DENIED"
	codeUnsupported         = "UNSUPPORTED"
	codeTooManyRequests     = "TOOMANYREQUESTS"
	// codeUnknown is not in the spec; it answers internal errors.
	codeUnknown = "UNKNOWN"
)

// apiError is one error of the API: an HTTP status and a spec code, with
// a message for people.
type apiError struct {
	status  int
	code    string
	message string
	// retryAfter, when set, is sent as Retry-After (whole seconds, at
	// least 1).
	retryAfter time.Duration
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// fail builds an apiError.
func fail(httpStatus int, code, format string, args ...any) *apiError {
	return &apiError{status: httpStatus, code: code, message: fmt.Sprintf(format, args...)}
}

// storeError turns a store or publisher error into an apiError: notFound
// is the code a missing subject gets (BLOB_UNKNOWN, MANIFEST_UNKNOWN, …).
// Errors it does not know are internal; their text is logged, never sent.
func storeError(err error, notFound string) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, store.ErrNotFound):
		return fail(http.StatusNotFound, notFound, "%v", err)
	case errors.Is(err, store.ErrInUse):
		return fail(http.StatusMethodNotAllowed, codeDenied, "%v", err)
	case errors.Is(err, store.ErrInvalidArgument), errors.Is(err, store.ErrAlreadyExists):
		return fail(http.StatusBadRequest, codeManifestInvalid, "%v", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fail(http.StatusServiceUnavailable, codeUnknown, "%v", err)
	case errors.Is(err, store.ErrClosed):
		return fail(http.StatusServiceUnavailable, codeUnknown, "server is shutting down")
	}
	if st, ok := status.FromError(err); ok {
		return statusError(st, notFound)
	}
	return &apiError{status: http.StatusInternalServerError, code: codeUnknown, message: "internal error"}
}

// statusError maps the gRPC status a Publisher answers with.
func statusError(st *status.Status, notFound string) *apiError {
	msg := st.Message()
	switch st.Code() {
	case codes.InvalidArgument, codes.AlreadyExists, codes.FailedPrecondition:
		return fail(http.StatusBadRequest, codeManifestInvalid, "%s", msg)
	case codes.NotFound:
		return fail(http.StatusNotFound, notFound, "%s", msg)
	case codes.ResourceExhausted:
		return fail(http.StatusRequestEntityTooLarge, codeSizeInvalid, "%s", msg)
	case codes.Unauthenticated:
		return fail(http.StatusUnauthorized, codeUnauthorized, "%s", msg)
	case codes.PermissionDenied:
		return fail(http.StatusForbidden, codeDenied, "%s", msg)
	case codes.Unavailable, codes.Canceled, codes.DeadlineExceeded:
		return fail(http.StatusServiceUnavailable, codeUnknown, "%s", msg)
	}
	return fail(http.StatusInternalServerError, codeUnknown, "internal error")
}

// writeError answers with the spec's error body.
func writeError(w http.ResponseWriter, e *apiError) {
	type detail struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	body, _ := json.Marshal(struct {
		Errors []detail `json:"errors"`
	}{[]detail{{Code: e.code, Message: e.message}}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	h.Del("Docker-Content-Digest")
	if e.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(max(1, math.Ceil(e.retryAfter.Seconds())))))
	}
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}
