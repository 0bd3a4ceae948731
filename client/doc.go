/*
Package client is the Go client of a capcenter registry: it publishes
capability bundles, browses the catalog, renders templates on the server and
pulls bundles, verifying every byte it receives.

# Connecting

Dial connects to capd's gRPC address (127.0.0.1:9460 by default); New wraps
a connection the caller already has, such as a bufconn in tests. A Client is
safe for concurrent use and should be shared. Connections are plaintext
unless WithTLS (system roots or a given pool), WithCAFile or
WithTransportCredentials says otherwise; TLS is 1.2 or later and always
verifies the server. WithBearerToken sends "authorization: Bearer …" with
every call, and only over TLS or to a loopback address: Dial refuses to send
a token in plaintext across the network (ErrTokenOverPlaintext). A server
that is not trusted fails calls with ErrUnavailable, the message saying why.
WithDialOptions carries anything else gRPC offers (interceptors, a custom
dialer).

# Names

Methods take a capability name as authors write it, "[namespace/]name", and
a version, where "" and Latest mean the highest version that is not yanked.
The client builds the API's resource names from them
("capabilities/acme/gateway/versions/1.2.0"), refusing a malformed name
before any call. ParseRef and Ref convert the "name@version" form people
type.

# Transfers

Publish packs a bundle (capabilities.Pack, deterministic, into memory) and
streams it: the OCI manifest in a header, then the config and every layer in
manifest order, concatenated into chunks of DefaultChunkSize. PublishContent
does the same for a bundle packed elsewhere. Publishing content identical to
what a version already holds succeeds with created false; anything else under
an existing version fails with ErrAlreadyExists, since versions are
immutable.

Pull trusts nothing the server sends. The manifest's digest must be the
version's digest; the sizes the manifest declares are checked against the
caller's capabilities.Limits before any content is read; each blob is read to
exactly its declared size and hashed; a stream that ends early or carries
more than declared is refused. Only then is the bundle unpacked, which
validates it as a local folder would be. WithProgress reports the bytes
moved by either transfer, for progress bars.

# Errors

Every error names its subject first ("webservice@9.9.9: not found"). Errors
the server returns wrap one sentinel per status code (ErrNotFound,
ErrAlreadyExists, ErrInvalidArgument, …), followed by the server's message,
so callers test them with errors.Is; status.Code still reads the original
code. When the caller's context ends a call, the error wraps the context's
error too. ErrDigestMismatch is the client's own verdict on pulled content,
and ErrInternal covers what the server reports as internal as well as a
stream that breaks the wire protocol.

# Caveats

Bundles are held in memory while they are published or pulled; capd's
limits (64 MiB per bundle by default) keep that small. Render sends
parameters as protobuf Struct values, which hold numbers as float64, so
integers beyond 2^53 lose precision on the way.
*/
package client
