package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/signature"
	"github.com/capcenter/capcenter/server"
	"github.com/capcenter/capcenter/server/auth"
	"github.com/capcenter/capcenter/store/embedded"
)

// run runs the command cfg names until ctx ends. Logs go to stderr as
// text; stdout gets the addresses (serve), a summary (reindex, gc) or the new
// token (token create); eval-worker serves evaluations on stdin and
// stdout (see evalWorker). While serving with a token file, SIGHUP reads it
// again (see reloadOnHangup). It fails when the token file or the store
// cannot be read, an address cannot be bound, or a server stops on its
// own.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	if cfg.command == evalWorkerCommand {
		return evalWorker(stdout)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	if cfg.command == "keys" {
		return keysCommand(cfg, stdout)
	}
	if cfg.command == "token" {
		return createToken(cfg, stdout)
	}
	tokens, err := loadTokens(cfg, log)
	if err != nil {
		return err
	}
	st, err := embedded.Open(cfg.data, embedded.Options{TrustUnauthenticatedRecords: cfg.trustUnauthenticated})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	limits := capabilities.Limits{MaxBundleSize: int64(cfg.maxBundleSize)}
	if cfg.command == "reindex" {
		return reindex(ctx, st, cfg.data, limits, stdout)
	}
	if cfg.command == "gc" {
		return gc(ctx, st, cfg.data, cfg.gc, stdout)
	}
	if cfg.evalWorkers != 0 {
		pool, err := evalPool(cfg, log)
		if err != nil {
			return err
		}
		defer pool.Close()
		limits.Evaluator = pool
	}
	signer, previous, err := loadSigner(cfg, log)
	if err != nil {
		return err
	}
	srvCfg := server.Config{
		Store: st, Logger: log, Limits: limits, Signer: signer, PreviousCertificates: previous,
		UploadDir: filepath.Join(cfg.data, "uploads"), AllowDelete: cfg.allowDelete,
		AnonymousRead: cfg.anonymousRead, RateLimit: cfg.rateLimit, AnonymousRateLimit: cfg.anonymousRateLimit,
		MaxConcurrentPublishes: cfg.maxPublishes, MaxConcurrentEvals: cfg.evalWorkers,
	}
	if tokens != nil { // a nil *auth.Reloader in the interface would turn authentication on
		srvCfg.Tokens = tokens
		defer reloadOnHangup(tokens, log)()
	}
	srv, err := server.New(srvCfg)
	if err != nil {
		return err
	}
	if cfg.seedBuiltin {
		if err := seed(ctx, srv, limits, log); err != nil {
			return err
		}
	}
	return serve(ctx, cfg, srv, signature.Fingerprint(signer.KeyPair().Root()), stdout, log)
}

// reloadOnHangup reads the token file again on every SIGHUP (see
// reloadTokens) until the function it returns is called.
func reloadOnHangup(tokens *auth.Reloader, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		defer close(done)
		reloadTokens(hup, tokens, log)
	}()
	return func() {
		signal.Stop(hup) // no signal reaches hup after this
		close(hup)
		<-done
	}
}

// serve binds both addresses, prints them, and serves until ctx ends, then
// shuts down within cfg.shutdownTimeout. With cfg's TLS certificate, both
// ports serve TLS, and so does the gateway's own connection to the gRPC
// port.
func serve(ctx context.Context, cfg config, srv *server.Server, caFingerprint string, stdout io.Writer, log *slog.Logger) error {
	tlsSetup, err := loadTLS(cfg)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	grpcLis, err := lc.Listen(ctx, "tcp", cfg.grpcAddr)
	if err != nil {
		return fmt.Errorf("grpc: %w", err)
	}
	httpLis, err := lc.Listen(ctx, "tcp", cfg.httpAddr)
	if err != nil {
		_ = grpcLis.Close()
		return fmt.Errorf("http: %w", err)
	}
	g := grpc.NewServer(append(srv.ServerOptions(), tlsSetup.serverOptions()...)...)
	srv.Register(g)
	conn, err := grpc.NewClient(loopback(grpcLis.Addr()),
		grpc.WithTransportCredentials(tlsSetup.gatewayCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(server.MaxMessageSize), grpc.MaxCallSendMsgSize(server.MaxMessageSize)))
	if err != nil {
		_, _ = grpcLis.Close(), httpLis.Close()
		return fmt.Errorf("gateway: %w", err)
	}
	defer conn.Close()
	handler, err := srv.HTTPHandler(ctx, conn)
	if err != nil {
		_, _ = grpcLis.Close(), httpLis.Close()
		return fmt.Errorf("gateway: %w", err)
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		TLSConfig: tlsSetup.httpConfig()}

	errc := make(chan error, 2)
	go func() { errc <- g.Serve(grpcLis) }()
	go func() { errc <- serveHTTP(hs, httpLis) }()
	printAddrs(stdout, grpcLis.Addr(), httpLis.Addr(), caFingerprint, cfg.tlsCert)
	log.Info("serving", "grpc", grpcLis.Addr().String(), "http", httpLis.Addr().String(), "data", cfg.data)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	log.Info("shutting down", "timeout", cfg.shutdownTimeout)
	srv.Shutdown()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		log.Warn("http shutdown", "error", err)
	}
	stopped := make(chan struct{})
	go func() { g.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-shutdownCtx.Done():
		log.Warn("grpc calls still running at the shutdown timeout: stopping them")
		g.Stop()
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// printAddrs prints the addresses bound, in the lines scripts parse; with
// tlsCert, the TLS certificate served, the URLs are https and the hints
// trust that certificate.
func printAddrs(w io.Writer, grpcAddr, httpAddr net.Addr, caFingerprint, tlsCert string) {
	scheme, capctlTLS, orasTLS := "http", "", "--plain-http"
	if tlsCert != "" {
		scheme, capctlTLS, orasTLS = "https", " --ca "+tlsCert, "--ca-file "+tlsCert
	}
	fmt.Fprintf(w, "capd: grpc listening on %s\n", grpcAddr)
	fmt.Fprintf(w, "capd: http listening on %s://%s\n", scheme, httpAddr)
	fmt.Fprintf(w, "capd: try capctl --server %s%s search web\n", loopback(grpcAddr), capctlTLS)
	fmt.Fprintf(w, "capd: browse %s://%s/v1/capabilities\n", scheme, loopback(httpAddr))
	fmt.Fprintf(w, "capd: OCI registry at %s: oras repo ls %s %s\n", loopback(httpAddr), orasTLS, loopback(httpAddr))
	fmt.Fprintf(w, "capd: signing under the CA with SHA-256 %s; trust it with capctl --server %s%s trust fetch\n", caFingerprint, loopback(grpcAddr), capctlTLS)
}

// loopback is addr with an unspecified host (0.0.0.0, ::) replaced by the
// loopback address, for dialing the server from its own host.
func loopback(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return addr.String()
	}
	host := "127.0.0.1"
	if tcp.IP.To4() == nil {
		host = "::1"
	}
	return net.JoinHostPort(host, fmt.Sprint(tcp.Port))
}
