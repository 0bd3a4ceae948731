package server

import (
	"container/list"
	"context"
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/capcenter/capcenter/server/auth"
)

// maxRateBuckets bounds the buckets a rateLimiter keeps, so that callers
// from ever new addresses cannot grow it without end: a few MiB at most.
const maxRateBuckets = 1 << 14

// rateLimiter keeps one token bucket per key (a token's name, a client's
// address), at most maxBuckets of them: a bucket unused long enough to
// have refilled is dropped, since a new one is the same, and when all are
// in use the least recently used is dropped. It is safe for concurrent
// use.
type rateLimiter struct {
	limit      rate.Limit
	burst      int
	maxBuckets int
	// idle is how long a drained bucket takes to refill.
	idle time.Duration

	mu    sync.Mutex
	byKey map[string]*list.Element
	lru   list.List // of *bucket, the most recently used first
}

// bucket is one key's token bucket.
type bucket struct {
	key  string
	lim  *rate.Limiter
	used time.Time
}

// newRateLimiter allows perSecond requests a second to each key, with
// bursts of burst (twice the rate when below 1), keeping at most
// maxBuckets buckets; nil when perSecond is not positive.
func newRateLimiter(perSecond float64, burst, maxBuckets int) *rateLimiter {
	if perSecond <= 0 {
		return nil
	}
	if burst < 1 {
		burst = max(1, int(math.Ceil(2*perSecond)))
	}
	idle := time.Duration(float64(burst) / perSecond * float64(time.Second))
	return &rateLimiter{
		limit: rate.Limit(perSecond), burst: burst, maxBuckets: max(1, maxBuckets), idle: idle,
		byKey: map[string]*list.Element{},
	}
}

// wait reports how long key must wait before its next request is
// allowed; zero means it is allowed now and counted.
func (l *rateLimiter) wait(key string) time.Duration {
	return l.waitAt(key, time.Now())
}

// waitAt is wait at time now.
func (l *rateLimiter) waitAt(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.bucket(key, now).lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

// bucket returns key's bucket, marked used at now, making room for a new
// one if need be. l.mu must be held.
func (l *rateLimiter) bucket(key string, now time.Time) *bucket {
	if e, ok := l.byKey[key]; ok {
		l.lru.MoveToFront(e)
		b := e.Value.(*bucket)
		b.used = now
		return b
	}
	for e := l.lru.Back(); e != nil; e = l.lru.Back() {
		oldest := e.Value.(*bucket)
		if l.lru.Len() < l.maxBuckets && now.Sub(oldest.used) < l.idle {
			break
		}
		l.lru.Remove(e)
		delete(l.byKey, oldest.key)
	}
	b := &bucket{key: key, lim: rate.NewLimiter(l.limit, l.burst), used: now}
	l.byKey[key] = l.lru.PushFront(b)
	return b
}

// len is the number of buckets kept.
func (l *rateLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// check fails with ResourceExhausted, naming who and carrying a RetryInfo
// with the delay, when key is over its rate. A nil l allows everything.
func (l *rateLimiter) check(key, who string) error {
	if l == nil {
		return nil
	}
	d := l.wait(key)
	if d == 0 {
		return nil
	}
	st := status.Newf(codes.ResourceExhausted, "%s: more than %g requests a second; retry in %s",
		who, float64(l.limit), d.Round(time.Millisecond))
	if detailed, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)}); err == nil {
		st = detailed
	}
	return st.Err()
}

// limitRate fails with ResourceExhausted, carrying a RetryInfo with the
// delay, when the caller of ctx is over its request rate: a principal
// over Config.RateLimit, or, with tokens, a caller without one over
// Config.AnonymousRateLimit for its address (see clientAddr). Health
// checks and reflection are never limited, nor is anything on a server
// without tokens.
func (s *Server) limitRate(ctx context.Context) error {
	if p := auth.FromContext(ctx); p != nil {
		return s.rates.check(p.Name, "token "+strconv.Quote(p.Name))
	}
	if method, ok := grpc.Method(ctx); s.tokens == nil || s.anonymousRates == nil || (ok && isOpenMethod(method)) {
		return nil
	}
	client := clientGroup(s.clientAddr(ctx))
	return s.anonymousRates.check(client, "client "+client+" without a token")
}
