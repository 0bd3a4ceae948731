package server

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/resolve"
	"github.com/capcenter/capcenter/server/auth"
	"github.com/capcenter/capcenter/store"
)

// internalMessage is all a client learns of an unexpected error; the
// interceptor logs the full error.
const internalMessage = "internal error"

// toStatus translates an error from the store, the capabilities package or
// a handler into the status a client sees:
//
//   - context errors: Canceled or DeadlineExceeded;
//   - a status error from a handler: itself;
//   - store.ErrNotFound: NotFound; store.ErrAlreadyExists: AlreadyExists;
//   - store.ErrInvalidArgument, capabilities.ErrInvalid and
//     capabilities.ErrUnsafePath: InvalidArgument, with the problems of a
//     *capabilities.ValidationError as BadRequest field violations too;
//   - capabilities.ErrTooLarge and capabilities.ErrTimeout (a render ran
//     out of its evaluation time, a server budget, so not DeadlineExceeded,
//     which is kept for the caller's own deadline): ResourceExhausted;
//   - resolve.ErrNoSolution and resolve.ErrCycle: FailedPrecondition, the
//     message being the explanation; resolve.ErrInvalid: InvalidArgument;
//   - store.ErrClosed: Unavailable;
//   - auth.ErrUnauthenticated: Unauthenticated, "missing or invalid
//     token"; auth.ErrPermissionDenied: PermissionDenied naming the scope;
//   - anything else: Internal with a generic message.
func toStatus(err error) *status.Status {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err)
	}
	if st, ok := status.FromError(err); ok {
		return st
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return status.New(codes.NotFound, err.Error())
	case errors.Is(err, store.ErrAlreadyExists):
		return status.New(codes.AlreadyExists, err.Error())
	case errors.Is(err, store.ErrInvalidArgument), errors.Is(err, capabilities.ErrUnsafePath):
		return status.New(codes.InvalidArgument, err.Error())
	case errors.Is(err, capabilities.ErrInvalid):
		return invalidBundle(err)
	case errors.Is(err, capabilities.ErrTooLarge), errors.Is(err, capabilities.ErrTimeout):
		return status.New(codes.ResourceExhausted, err.Error())
	case errors.Is(err, resolve.ErrNoSolution), errors.Is(err, resolve.ErrCycle):
		return status.New(codes.FailedPrecondition, err.Error())
	case errors.Is(err, resolve.ErrInvalid):
		return status.New(codes.InvalidArgument, err.Error())
	case errors.Is(err, store.ErrClosed):
		return status.New(codes.Unavailable, "server is shutting down")
	case errors.Is(err, auth.ErrUnauthenticated):
		return status.New(codes.Unauthenticated, auth.ErrUnauthenticated.Error())
	case errors.Is(err, auth.ErrPermissionDenied):
		return status.New(codes.PermissionDenied, err.Error())
	}
	return status.New(codes.Internal, internalMessage)
}

// invalidBundle is InvalidArgument whose message lists every problem of
// err, which also travel as BadRequest field violations (field: the file,
// or "bundle" when a problem has none).
func invalidBundle(err error) *status.Status {
	st := status.New(codes.InvalidArgument, err.Error())
	ps := capabilities.Problems(err)
	br := &errdetails.BadRequest{}
	for _, p := range ps {
		field := p.File
		if field == "" {
			field = "bundle"
		}
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field: field, Description: p.String(),
		})
	}
	if detailed, derr := st.WithDetails(br); derr == nil {
		return detailed
	}
	return st
}
