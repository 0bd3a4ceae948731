package client

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrNotFound is wrapped when the capability or version named does not
// exist (gRPC NOT_FOUND).
var ErrNotFound = errors.New("not found")

// ErrAlreadyExists is wrapped when a version is published again with other
// content: versions are immutable (gRPC ALREADY_EXISTS).
var ErrAlreadyExists = errors.New("already exists")

// ErrInvalidArgument is wrapped when the server refuses a request or a
// bundle as malformed, or when the client refuses a name before sending it
// (gRPC INVALID_ARGUMENT).
var ErrInvalidArgument = errors.New("invalid argument")

// ErrFailedPrecondition is wrapped when the request is well formed but the
// registry is not in a state to allow it (gRPC FAILED_PRECONDITION).
var ErrFailedPrecondition = errors.New("failed precondition")

// ErrPermissionDenied is wrapped when the caller's token does not allow the
// call, e.g. publishing outside its namespace (gRPC PERMISSION_DENIED).
var ErrPermissionDenied = errors.New("permission denied")

// ErrUnauthenticated is wrapped when the call needs a token and has none,
// or an invalid one (gRPC UNAUTHENTICATED).
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrResourceExhausted is wrapped when a bundle or message exceeds a server
// limit, or the server is rate-limiting (gRPC RESOURCE_EXHAUSTED).
var ErrResourceExhausted = errors.New("resource exhausted")

// ErrUnavailable is wrapped when the server cannot be reached or is
// shutting down; retrying later may succeed (gRPC UNAVAILABLE).
var ErrUnavailable = errors.New("unavailable")

// ErrDeadlineExceeded is wrapped when the call's deadline passed before it
// completed (gRPC DEADLINE_EXCEEDED). When the caller's context expired,
// the error wraps context.DeadlineExceeded as well.
var ErrDeadlineExceeded = errors.New("deadline exceeded")

// ErrCanceled is wrapped when the call was canceled (gRPC code Canceled). When
// the caller's context was canceled, the error wraps context.Canceled as
// well.
var ErrCanceled = errors.New("canceled")

// ErrUnimplemented is wrapped when the server does not offer the call, for
// instance an older capd (gRPC UNIMPLEMENTED).
var ErrUnimplemented = errors.New("not implemented by the server")

// ErrInternal is wrapped for every other failure the server reports
// (INTERNAL, UNKNOWN, DATA_LOSS, …) and for a stream that breaks the wire
// protocol: a missing header, a chunk before it.
var ErrInternal = errors.New("internal error")

// ErrDigestMismatch is wrapped when pulled content does not match its
// descriptor: the manifest's digest is not the version's, a blob's bytes do
// not hash to its digest, or the stream ends before or runs past the sizes
// the manifest declares. Nothing of such a pull is returned.
var ErrDigestMismatch = errors.New("content does not match its digest")

// ErrMislabeled is wrapped when pulled content, though it matches its
// digests, is another capability or version than the one asked for: its
// manifest's title or version annotation, or the bundle's own metadata,
// names something else. Signatures cover the manifest, not the name a
// registry serves it under, so this is how a client notices a registry
// serving an older signed version, or another capability's, in its place.
var ErrMislabeled = errors.New("content is not the version asked for")

// sentinelFor returns the sentinel a gRPC code maps to; codes without
// their own sentinel map to ErrInternal.
func sentinelFor(code codes.Code) error {
	switch code {
	case codes.NotFound:
		return ErrNotFound
	case codes.AlreadyExists:
		return ErrAlreadyExists
	case codes.InvalidArgument, codes.OutOfRange:
		return ErrInvalidArgument
	case codes.FailedPrecondition, codes.Aborted:
		return ErrFailedPrecondition
	case codes.PermissionDenied:
		return ErrPermissionDenied
	case codes.Unauthenticated:
		return ErrUnauthenticated
	case codes.ResourceExhausted:
		return ErrResourceExhausted
	case codes.Unavailable:
		return ErrUnavailable
	case codes.DeadlineExceeded:
		return ErrDeadlineExceeded
	case codes.Canceled:
		return ErrCanceled
	case codes.Unimplemented:
		return ErrUnimplemented
	}
	return ErrInternal
}

// statusError is a status the server (or the gRPC transport) returned,
// described from the caller's side: subject first, then what went wrong.
type statusError struct {
	text   string
	status *status.Status
	// causes are the sentinel and, for context errors, the context's error.
	causes []error
}

func (e *statusError) Error() string { return e.text }

// Unwrap returns the sentinel, so errors.Is(err, ErrNotFound) works, and
// the context's error when the call ended because the context did.
func (e *statusError) Unwrap() []error { return e.causes }

// GRPCStatus lets status.FromError and status.Code see the original status.
func (e *statusError) GRPCStatus() *status.Status { return e.status }

// wrapStatus turns the error of a call about subject into one wrapping a
// sentinel. ctx is the call's context: when it has ended, its error is
// wrapped too. Errors that carry no status (a failure on the client's side)
// are wrapped with the subject only; nil stays nil.
func wrapStatus(ctx context.Context, subject string, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			st = status.FromContextError(err)
		} else {
			return fmt.Errorf("%s: %w", subject, err)
		}
	}
	sentinel := sentinelFor(st.Code())
	causes := []error{sentinel}
	if ctxErr := ctx.Err(); ctxErr != nil {
		causes = append(causes, ctxErr)
	}
	return &statusError{text: subject + ": " + describe(subject, sentinel, st.Message()), status: st, causes: causes}
}

// describe phrases the server's message msg for an error about subject:
// without the subject (or its capability name alone) again when the server
// already put it first, and with the sentinel's text in front when msg does
// not say it already.
func describe(subject string, sentinel error, msg string) string {
	name, _, _ := strings.Cut(subject, "@")
	for _, prefix := range []string{subject + ":", name + ":"} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	msg = strings.TrimSpace(msg)
	switch {
	case msg == "":
		return sentinel.Error()
	case strings.Contains(msg, sentinel.Error()):
		return msg
	}
	return sentinel.Error() + ": " + msg
}

// protocolError is a pull or publish stream that broke the wire protocol.
func protocolError(subject, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", subject, ErrInternal, fmt.Sprintf(format, args...))
}
