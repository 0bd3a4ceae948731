// Package server serves capcenter's CapabilityService over gRPC, and over
// HTTP as a REST gateway, an OpenAPI document, a health check and a bundle
// download. It translates only: requests become calls into a store.Store
// and the capabilities package, and their errors become status codes.
//
// A Server is built from a Config with New. Its gRPC side is a grpc.Server
// created with Server.ServerOptions (interceptors and message bounds) on
// which Server.Register puts CapabilityService, the standard health
// service and server reflection. Its HTTP side, Server.HTTPHandler, calls
// the gRPC side through a client connection (loopback in capd, bufconn in
// tests), so one set of interceptors logs, recovers and translates every
// call whichever door it came in by.
//
// # Authentication
//
// Without Config.Tokens nothing is checked. With it (package auth), every
// call but health and reflection is authenticated by its `authorization`
// metadata, `Bearer <token>` (the REST gateway and the download pass the
// HTTP Authorization header on as that metadata; /v2/ also takes HTTP
// Basic with the token as the password). A credential no token matches is
// Unauthenticated "missing or invalid token" on every call, even one an
// anonymous caller could make. Then each call checks the scope it needs,
// through one helper:
//
//   - reads (GetCapability, ListCapabilities, ListVersions, GetVersion,
//     PullBundle, RenderTemplate, Resolve, ListSignatures,
//     ListCertificates, the download, the /v2/ catalog, and /v2/ GET and
//     HEAD in a repository) need read, unless Config.AnonymousRead is on;
//     in /v2/, publish for a repository also lets a principal pull from
//     it, since push clients look before they push;
//   - GET /v2/ itself, where `oras login` checks a credential, needs a
//     valid token (none with Config.AnonymousRead);
//   - PublishBundle needs publish for the name in the header's manifest
//     (checked before any chunk is read); AddSignature, YankVersion and
//     DeprecateVersion need publish for their capability; /v2/ pushes and
//     deletes need publish for the repository, its namespace being its
//     first path segment;
//   - deleting a capability version through /v2/ needs admin.
//
// A call that needs a principal and has none is Unauthenticated; a
// principal without the scope gets PermissionDenied naming the scope it
// needs (in /v2/, 401 UNAUTHORIZED with a Basic challenge and 403 DENIED).
// Logs name the principal, never its credential. /healthz and
// /openapi.json stay open. With an auth.Reloader as Config.Tokens, each
// request is checked against the tokens in place when it starts: a token
// removed by a reload is refused from the next request on, while streams
// it opened before run to their end.
//
// # Limits
//
// Besides the bundle limits (size, file size, file count, checked on the
// publish header before any chunk; message size; CUE evaluation time and
// MaxConcurrentEvals), Config.MaxConcurrentPublishes bounds the publishes
// in flight: one more is ResourceExhausted at once, with a RetryInfo,
// instead of holding a stream open in a queue. Config.RateLimit bounds
// each token's requests a second (token buckets, bursts of RateBurst):
// over it, a call is ResourceExhausted with a RetryInfo naming the wait,
// and a /v2/ request is 429 TOOMANYREQUESTS with Retry-After. With
// tokens, Config.AnonymousRateLimit bounds the calls without one, with
// the same answers, by client address: an IPv4 address or an IPv6 /64,
// from the gRPC peer or the HTTP request; the REST gateway passes on its
// HTTP client's address in metadata vouched for by a secret of the
// Server, and X-Forwarded-For is never trusted. Health checks and
// reflection are never limited, nor is a server without tokens.
//
// # Resource names
//
// A capability is `capabilities/{capability}` and a version
// `capabilities/{capability}/versions/{version}`, where {capability} is
// `name` or `namespace/name` (DNS labels) and {version} strict semver, or
// `latest` (the highest version not yanked) for GetVersion, PullBundle,
// RenderTemplate and the download. Anything else is InvalidArgument
// naming the request field ("name: …", "parent: …").
//
// # Publishing
//
// PublishBundle is client streaming. The first message is a header whose
// manifest holds the bytes of the bundle's OCI image manifest, exactly as
// capabilities.Pack wrote it. Every following message is a chunk; the
// chunks, concatenated, are the bytes of the config blob and then of every
// layer, in manifest order, with nothing between or after them. Chunks may
// be of any size up to MaxMessageSize and need not align with blobs.
//
// The server refuses the header at once, before reading a chunk, when the
// manifest is not an OCI image manifest of capabilities.ArtifactType
// (InvalidArgument) or declares more layers, a larger file or a larger sum
// of config and layer sizes than Config.Limits allow (ResourceExhausted).
// It then stages each blob in memory, verifying its size and digest as it
// completes; a mismatch is InvalidArgument, a stream that ends early is
// InvalidArgument, and the first byte beyond the declared sizes is
// ResourceExhausted, answered without reading further. A complete bundle
// is unpacked and validated by capabilities.Unpack (an invalid bundle is
// InvalidArgument whose message lists every problem, which also travel as
// google.rpc.BadRequest field violations), packed again, and refused with
// InvalidArgument unless that yields the same manifest digest: only the
// canonical packing of a bundle is accepted, so a version's digest depends
// on its content alone. Only then is it handed to Store.Publish, so a
// failed publish leaves the catalog as it was. Publishing identical content
// again answers created=false; other content under a published version is
// AlreadyExists naming the stored digest.
//
// # Pulling
//
// PullBundle is server streaming: a header with the Version and the bytes
// of the manifest (whose digest is version.digest), then chunks of
// ChunkSize bytes (the last one shorter) that, concatenated, are the config
// and every layer in manifest order. The server sends each stored blob
// without hashing it again (publish verified it, and every client verifies
// as it reads); it checks only that the blob has its declared size.
//
// GET /v1/capabilities/{capability}/versions/{version}:download answers
// the same bundle as a tar (application/x-tar) of an OCI image layout, which
// `oras copy --from-oci-layout` and `crane` read: `oci-layout`,
// `index.json` (one manifest, its ref.name annotation the version), the
// directories `blobs/` and `blobs/sha256/`, then the manifest, config and
// layer blobs in that order, each once. Every entry has mode 0644 (0755 for
// directories), owner 0 and time 1970-01-01, so a version always downloads
// as the same bytes. Errors found before the first byte are JSON as the
// gateway writes them; a failure after it aborts the connection, so a cut
// tar is never mistaken for a whole one.
//
// # Rendering
//
// RenderTemplate unpacks the version's bundle (kept in a small LRU cache by
// manifest digest) and renders it with the request's parameters, context
// and workload. Problems with parameters are InvalidArgument, each naming
// its parameter path. A render past Config.Limits.EvalTimeout, or (in a
// worker process) past its memory limit, is ResourceExhausted: the time
// and memory are the server's budget, while DeadlineExceeded stays the
// caller's own deadline. Publishing, the same template is InvalidArgument
// with a problem naming template.cue.
//
// # Errors
//
// One function maps errors to codes: store.ErrNotFound is NotFound,
// store.ErrAlreadyExists AlreadyExists, store.ErrInvalidArgument,
// capabilities.ErrInvalid and capabilities.ErrUnsafePath InvalidArgument,
// capabilities.ErrTooLarge and capabilities.ErrTimeout ResourceExhausted,
// store.ErrClosed Unavailable, context errors Canceled or DeadlineExceeded.
// Anything else is Internal with the message "internal error"; the full
// error goes to Config.Logger with the method name.
//
// # Caveats
//
// CUE evaluation cannot be interrupted. With Config.Limits.Evaluator an
// evalproc.Pool (as in capd), every evaluation runs in a worker process
// that is killed when it passes its time bound or its caller goes away,
// and whose memory is capped: an evaluation holds its slot, of
// Config.MaxConcurrentEvals and of the pool's Workers, until its worker
// is idle again or dead, so runaway evaluations count against the bound
// and one that needs too much memory dies alone. Without an Evaluator,
// evaluations run in the server's process: a render that passes its time
// bound or whose caller goes away returns at once and frees its slot
// while the abandoned evaluation runs on to its end (or, allocating
// without bound, ends the whole process), so a flood of slow templates
// can keep more goroutines busy than the bound. The parameter schema
// stored with a published version is derived by the same check, in the
// worker.
//
// A publish holds the whole bundle in memory while it is validated: at
// most Limits.MaxBundleSize per concurrent publish.
//
// The store does not record a manifest's size, so the server reads stored
// manifests up to DefaultMaxManifestSize bytes and verifies their digest.
package server
