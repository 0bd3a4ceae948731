package server

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/capcenter/capcenter/server/auth"
)

// unaryInterceptor authenticates each unary call, logs it, turns a panic
// into Internal and translates the handler's error with toStatus.
func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	ctx, err = s.authenticate(ctx, info.FullMethod)
	if err == nil {
		err = s.limitRate(ctx)
	}
	if err != nil {
		return nil, s.finish(ctx, info.FullMethod, start, err)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
		err = s.finish(ctx, info.FullMethod, start, err)
	}()
	return handler(ctx, req)
}

// streamInterceptor is unaryInterceptor for streaming calls.
func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	start := time.Now()
	ctx, err := s.authenticate(ss.Context(), info.FullMethod)
	if err == nil {
		err = s.limitRate(ctx)
	}
	if err != nil {
		return s.finish(ctx, info.FullMethod, start, err)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
		err = s.finish(ctx, info.FullMethod, start, err)
	}()
	return handler(srv, &authStream{ServerStream: ss, ctx: ctx})
}

// finish logs one call, with the name of the principal that made it (never
// its credential), and returns its error as a status error. Internal
// errors are logged in full at error level; the client sees only
// "internal error".
func (s *Server) finish(ctx context.Context, method string, start time.Time, err error) error {
	attrs := []slog.Attr{slog.String("method", method)}
	if s.tokens != nil {
		attrs = append(attrs, slog.String("principal", auth.FromContext(ctx).String()))
	}
	if err == nil {
		s.log.LogAttrs(ctx, slog.LevelInfo, "call", append(attrs,
			slog.String("code", codes.OK.String()), slog.Duration("took", since(start)))...)
		return nil
	}
	st := toStatus(err)
	level := slog.LevelInfo
	if st.Code() == codes.Internal || st.Code() == codes.Unknown {
		level = slog.LevelError
	}
	s.log.LogAttrs(ctx, level, "call", append(attrs,
		slog.String("code", st.Code().String()), slog.Duration("took", since(start)),
		slog.String("error", err.Error()))...)
	return st.Err()
}

// statusError is the error of a status, for handlers that decide the code
// themselves.
func statusError(c codes.Code, format string, args ...any) error {
	return status.Errorf(c, format, args...)
}
