package client

import (
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

// Transfer sizes.
const (
	// DefaultChunkSize is the size of the chunks Publish sends.
	DefaultChunkSize = 1 << 20
	// MaxMessageSize is the largest gRPC message the client sends or
	// receives: a 4 MiB manifest plus a version's metadata and framing, as
	// capd accepts.
	MaxMessageSize = 8 << 20
)

// Client calls a capcenter registry's CapabilityService. It is safe for
// concurrent use; create one per registry and share it.
type Client struct {
	rpc       capcenterv1.CapabilityServiceClient
	closer    io.Closer
	progress  ProgressFunc
	chunkSize int
}

// An Option configures a Client.
type Option func(*options)

// options collects what the Options set.
type options struct {
	// transport makes the transport credentials Dial connects with; nil
	// is plaintext.
	transport func() (credentials.TransportCredentials, error)
	token     string
	dialOpts  []grpc.DialOption
	progress  ProgressFunc
	chunkSize int
}

// WithTransportCredentials makes Dial connect with creds (for instance TLS
// from credentials.NewTLS) instead of the default plaintext connection; of
// it, WithTLS and WithCAFile, the one given last counts. New ignores it:
// the connection it is given is already made.
func WithTransportCredentials(creds credentials.TransportCredentials) Option {
	return func(o *options) {
		o.transport = nil
		if creds != nil {
			o.transport = func() (credentials.TransportCredentials, error) { return creds, nil }
		}
	}
}

// WithDialOptions adds gRPC dial options, applied after the client's own,
// to the connection Dial makes (per-RPC credentials, interceptors, a
// custom dialer). New ignores them.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOpts = append(o.dialOpts, opts...) }
}

// WithProgress reports every bundle transfer, Publish and Pull, to f.
func WithProgress(f ProgressFunc) Option {
	return func(o *options) { o.progress = f }
}

// WithChunkSize sets the size of the chunks Publish sends; zero or less
// means DefaultChunkSize, more than half of MaxMessageSize is clamped to it.
func WithChunkSize(n int) Option {
	return func(o *options) { o.chunkSize = n }
}

// Dial connects to the registry at target ("host:port", or any gRPC target
// such as "dns:///capd.example.com:9460"). The connection is made lazily,
// on the first call: Dial fails only when target or an option is malformed,
// and a registry that cannot be reached, or whose certificate is not
// trusted, shows as ErrUnavailable on calls. Without WithTLS, WithCAFile or
// WithTransportCredentials the connection is plaintext. It fails with
// ErrInvalidArgument for a CA file it cannot read, and with
// ErrTokenOverPlaintext too for a WithBearerToken that would cross the
// network unencrypted.
func Dial(target string, opts ...Option) (*Client, error) {
	o := collect(opts)
	creds, err := o.transportCredentials()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", target, ErrInvalidArgument, err)
	}
	dialOpts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
		grpc.WithInitialWindowSize(windowSize),
		grpc.WithInitialConnWindowSize(windowSize),
	}
	if o.token != "" {
		b, err := newBearer(target, o.token, creds.Info().SecurityProtocol)
		if err != nil {
			return nil, err
		}
		dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(b))
	}
	dialOpts = append(dialOpts, o.dialOpts...)
	conn, err := grpc.NewClient(target, dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", target, ErrInvalidArgument, err)
	}
	c := newClient(conn, o)
	c.closer = conn
	return c, nil
}

// New returns a Client that calls over conn, which the caller keeps and
// closes; Close on this Client then does nothing. Options that shape a
// connection (WithTransportCredentials, WithTLS, WithCAFile,
// WithBearerToken, WithDialOptions) are ignored.
func New(conn grpc.ClientConnInterface, opts ...Option) *Client {
	return newClient(conn, collect(opts))
}

func collect(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case o.chunkSize <= 0:
		o.chunkSize = DefaultChunkSize
	case o.chunkSize > MaxMessageSize/2:
		o.chunkSize = MaxMessageSize / 2
	}
	return o
}

func newClient(conn grpc.ClientConnInterface, o options) *Client {
	return &Client{
		rpc:       capcenterv1.NewCapabilityServiceClient(conn),
		progress:  o.progress,
		chunkSize: o.chunkSize,
	}
}

// Close closes the connection Dial made; calls after Close fail with
// ErrCanceled. It returns the connection's error, and nothing for a Client
// made with New.
func (c *Client) Close() error {
	if c.closer == nil {
		return nil
	}
	return c.closer.Close()
}

// callOptions are added to every call, so that a connection given to New
// carries bundles of the sizes capd sends.
func callOptions() []grpc.CallOption {
	return []grpc.CallOption{grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)}
}
