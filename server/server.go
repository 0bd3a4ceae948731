package server

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"log/slog"
	"runtime"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/signature"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
	"github.com/capcenter/capcenter/store"
)

// Sizes of gRPC messages and of the chunks the server sends.
const (
	// ChunkSize is the size of the chunks PullBundle and the download
	// handler send.
	ChunkSize = 1 << 20
	// MaxMessageSize is the largest gRPC message the server receives or
	// sends: room for a 4 MiB manifest or chunk plus framing.
	MaxMessageSize = 8 << 20
)

// Defaults for the zero fields of Config.
const (
	// DefaultBundleCacheSize is how many unpacked bundles RenderTemplate
	// keeps, by manifest digest.
	DefaultBundleCacheSize = 32
	// DefaultMaxManifestSize bounds the OCI manifest of a published or
	// stored bundle.
	DefaultMaxManifestSize = 4 << 20
)

// Config is what a Server needs. Store is required; every other zero field
// takes a default.
type Config struct {
	// Store holds the content and the catalog.
	Store store.Store
	// Logger receives one line per call and the full text of every internal
	// error; nil discards.
	Logger *slog.Logger
	// Limits bound every bundle published or rendered: MaxBundleSize (the
	// sum of the config and layer sizes) is enforced on the publish header,
	// before any content is read. Zero fields take the capabilities
	// defaults. Limits.Evaluator runs the CUE evaluations: nil, in the
	// server's process; capd sets an evalproc.Pool of worker processes.
	Limits capabilities.Limits
	// MaxConcurrentEvals bounds how many CUE evaluations (validating a
	// published bundle, loading or rendering one) run at once; the default
	// is GOMAXPROCS. With an evalproc.Pool as Limits.Evaluator, make it the
	// pool's Workers (see doc.go, Caveats).
	MaxConcurrentEvals int
	// BundleCacheSize is how many unpacked bundles to keep for rendering;
	// the default is DefaultBundleCacheSize, a negative value disables the
	// cache.
	BundleCacheSize int
	// Signer signs every version published; required.
	Signer *signature.Signer
	// PreviousCertificates are certificates of keys the server signed with
	// before a rotation: ListCertificates publishes them beside the
	// current chain, so that clients keep trusting older signatures.
	PreviousCertificates []*x509.Certificate
	// UploadDir holds the unfinished blob uploads of the OCI distribution
	// API (emptied by HTTPHandler); best on the store's filesystem.
	// HTTPHandler serves /v2/ only when it is set and Store implements
	// store.Repositories.
	UploadDir string
	// AllowDelete lets DELETE on /v2/ remove capability versions when
	// Tokens is nil. Off, such a request is DENIED: without tokens there
	// is no one to keep it to. With Tokens it is ignored: deleting a
	// version needs the admin scope.
	AllowDelete bool
	// Tokens, when set, turns on authentication: every call but health
	// and reflection, through every door (gRPC, REST, download, /v2/),
	// is checked against the scopes of the caller's token (see doc.go).
	// Nil, nothing is checked. An *auth.Reloader changes the tokens while
	// the server runs: each request is checked against the tokens of the
	// moment it starts. A nil *auth.Tokens set here turns authentication
	// on with no token known.
	Tokens Authenticator
	// AnonymousRead lets calls without a token read (get, list, search,
	// pull, render, resolve, download, /v2/ pulls) when Tokens is set.
	AnonymousRead bool
	// RateLimit bounds the requests a second of each token (gRPC, REST and
	// /v2/ alike), with bursts of RateBurst (default twice the rate); a
	// token over it gets ResourceExhausted with a RetryInfo (429 with
	// Retry-After on /v2/). Zero means no limit. Calls without a token are
	// not limited by it.
	RateLimit float64
	RateBurst int
	// AnonymousRateLimit bounds, when Tokens is set, the requests a second
	// of the callers without a token, by client address (an IPv4 address,
	// an IPv6 /64; the REST gateway passes on its HTTP client's, never
	// X-Forwarded-For), with bursts of AnonymousRateBurst (default twice
	// the rate); the answers are those of RateLimit. Zero means no limit.
	// At most 16384 addresses are tracked: the least recently seen is
	// forgotten first.
	AnonymousRateLimit float64
	AnonymousRateBurst int
	// MaxConcurrentPublishes bounds the publishes (PublishBundle and /v2/
	// bundle pushes) in flight; one more is ResourceExhausted at once
	// rather than queued, so a client retries instead of holding a stream
	// open. Zero means twice GOMAXPROCS.
	MaxConcurrentPublishes int
}

// Server serves CapabilityService over gRPC and, through HTTPHandler, over
// REST. It holds no state of its own beyond a cache; it is safe for
// concurrent use.
type Server struct {
	capcenterv1.UnimplementedCapabilityServiceServer

	store   store.Store
	log     *slog.Logger
	limits  capabilities.Limits
	evals   semaphore
	bundles *bundleCache
	health  *health.Server

	signer      *signature.Signer
	previous    []*x509.Certificate
	uploadDir   string
	allowDelete bool

	tokens         Authenticator
	anonymousRead  bool
	rates          *rateLimiter
	anonymousRates *rateLimiter
	// gatewaySecret vouches for the client address the REST gateway
	// passes on (see clientaddr.go).
	gatewaySecret string
	publishes     semaphore
}

// New checks cfg and returns a Server. It fails when cfg.Store is nil or a
// bound is negative.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: Config.Store is required")
	}
	if cfg.Signer == nil {
		return nil, errNoSigner
	}
	if cfg.MaxConcurrentEvals < 0 || cfg.Limits.MaxBundleSize < 0 || cfg.Limits.MaxFileSize < 0 || cfg.Limits.MaxFiles < 0 {
		return nil, errors.New("server: negative bound in Config")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	publishes := cfg.MaxConcurrentPublishes
	if publishes <= 0 {
		publishes = 2 * runtime.GOMAXPROCS(0)
	}
	evals := cfg.MaxConcurrentEvals
	if evals == 0 {
		evals = runtime.GOMAXPROCS(0)
	}
	cacheSize := cfg.BundleCacheSize
	if cacheSize == 0 {
		cacheSize = DefaultBundleCacheSize
	}
	return &Server{
		store:   cfg.Store,
		log:     log,
		limits:  withDefaults(cfg.Limits),
		evals:   make(semaphore, evals),
		bundles: newBundleCache(cacheSize),
		health:  health.NewServer(),

		signer:   cfg.Signer,
		previous: cfg.PreviousCertificates, uploadDir: cfg.UploadDir, allowDelete: cfg.AllowDelete,

		tokens: cfg.Tokens, anonymousRead: cfg.AnonymousRead,
		rates:          newRateLimiter(cfg.RateLimit, cfg.RateBurst, maxRateBuckets),
		anonymousRates: newRateLimiter(cfg.AnonymousRateLimit, cfg.AnonymousRateBurst, maxRateBuckets),
		gatewaySecret:  rand.Text(),
		publishes:      make(semaphore, publishes),
	}, nil
}

// withDefaults fills the zero fields of l with the capabilities defaults,
// so that the server checks the same bounds Unpack does.
func withDefaults(l capabilities.Limits) capabilities.Limits {
	if l.MaxBundleSize == 0 {
		l.MaxBundleSize = capabilities.DefaultMaxBundleSize
	}
	if l.MaxFileSize == 0 {
		l.MaxFileSize = capabilities.DefaultMaxFileSize
	}
	if l.MaxFiles == 0 {
		l.MaxFiles = capabilities.DefaultMaxFiles
	}
	if l.EvalTimeout <= 0 {
		l.EvalTimeout = capabilities.DefaultEvalTimeout
	}
	return l
}

// ServerOptions returns the options a grpc.Server needs to serve s: the
// interceptors that authenticate, log every call, recover from panics and
// translate errors into status codes, and the message size bounds. Register's
// services answer with internal error text unless the server was built
// with them.
func (s *Server) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(s.unaryInterceptor),
		grpc.ChainStreamInterceptor(s.streamInterceptor),
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
		grpc.InitialWindowSize(windowSize),
		grpc.InitialConnWindowSize(windowSize),
	}
}

// Register registers CapabilityService, the gRPC health service (serving
// until Shutdown) and server reflection on g, which must have been created
// with ServerOptions.
func (s *Server) Register(g *grpc.Server) {
	capcenterv1.RegisterCapabilityServiceServer(g, s)
	healthpb.RegisterHealthServer(g, s.health)
	reflection.Register(g)
}

// Shutdown reports NOT_SERVING through the health service, so that load
// balancers stop sending calls before the gRPC server stops.
func (s *Server) Shutdown() {
	s.health.Shutdown()
}

// since returns the time passed since start, rounded for logs.
func since(start time.Time) time.Duration {
	return time.Since(start).Round(time.Microsecond)
}
