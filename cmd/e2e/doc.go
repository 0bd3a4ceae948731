// Package e2e holds only tests: end-to-end tests and benchmarks that build
// the real capd and capctl binaries and drive them the way users and
// operators do, over loopback only.
//
// The tests (run by `make test`) start capd on ephemeral 127.0.0.1 ports
// with a fresh data folder, publish every built-in bundle with capctl, and
// then check the catalog through every door it has: REST with net/http,
// gRPC with the client package and the generated stubs, reflection with the
// real grpcurl, capctl pull, whose output must be byte-identical to the
// bundle folder it came from, and the OCI distribution API at /v2/ with the
// real oras, crane, skopeo and notation and the distribution-spec
// conformance suite. They also feed capd broken and hostile input
// (truncated and oversize publish streams, invalid bundles, bad page tokens)
// and rebuild the index with `capd reindex`. TestCrashSafety kills capd with
// SIGKILL while 8 clients publish, 20 times, and checks that every
// acknowledged version survives whole and that reindex and gc agree;
// TestLoad runs 50 readers and 8 writers for -load.duration (60 s, 5 s with
// -short) and checks that no call fails and no acknowledged write is lost.
// TestTokenReload replaces capd's token file and sends it SIGHUP.
//
// The benchmarks (run by `make bench`) put each figure beside the same work
// done by a peer, the distribution registry driven by oras-go and the oras
// CLI, started by the benchmark itself. They report and never fail; a summary table with
// the goals is printed once every benchmark has run.
//
// # Caveats
//
// The tests need a Go toolchain (they `go build` the binaries), the tools
// `make test` installs with hack/tools.sh (grpcurl, notation, oras, crane,
// conformance) and Debian's skopeo (hack/apt.sh); the benchmarks need the
// registry binary and oras. Heavy fixtures (100 000
// versions) are built only by benchmarks, never by `go test` alone.
package e2e
