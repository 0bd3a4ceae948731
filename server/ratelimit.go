package server

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/capcenter/capcenter/server/auth"
)

// rateLimiter keeps one token bucket per principal. Principals come from
// the token file, so the map stays as small as that file.
type rateLimiter struct {
	limit rate.Limit
	burst int

	mu     sync.Mutex
	byName map[string]*rate.Limiter
}

// newRateLimiter allows perSecond requests a second to each principal,
// with bursts of burst (at least 1); nil when perSecond is not positive.
func newRateLimiter(perSecond float64, burst int) *rateLimiter {
	if perSecond <= 0 {
		return nil
	}
	if burst < 1 {
		burst = max(1, int(math.Ceil(2*perSecond)))
	}
	return &rateLimiter{limit: rate.Limit(perSecond), burst: burst, byName: map[string]*rate.Limiter{}}
}

// wait reports how long name must wait before its next request is
// allowed; zero means it is allowed now and counted.
func (l *rateLimiter) wait(name string) time.Duration {
	l.mu.Lock()
	lim, ok := l.byName[name]
	if !ok {
		lim = rate.NewLimiter(l.limit, l.burst)
		l.byName[name] = lim
	}
	l.mu.Unlock()
	r := lim.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return d
	}
	return 0
}

// limitRate fails with ResourceExhausted, carrying a RetryInfo with the
// delay, when the principal of ctx is over its request rate. Calls
// without a principal (anonymous reads, servers without tokens) are not
// limited here: the rate is per token.
func (s *Server) limitRate(ctx context.Context) error {
	p := auth.FromContext(ctx)
	if s.rates == nil || p == nil {
		return nil
	}
	d := s.rates.wait(p.Name)
	if d == 0 {
		return nil
	}
	st := status.Newf(codes.ResourceExhausted, "token %q: more than %g requests a second; retry in %s",
		p.Name, float64(s.rates.limit), d.Round(time.Millisecond))
	if detailed, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)}); err == nil {
		st = detailed
	}
	return st.Err()
}
