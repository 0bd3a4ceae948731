package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/signature"
	"github.com/capcenter/capcenter/server"
	"github.com/capcenter/capcenter/store/embedded"
)

// run runs the command cfg names until ctx ends. Logs go to stderr as
// text; stdout gets the addresses (serve) or a summary (reindex). It fails
// when the store cannot be opened, an address cannot be bound, or a server
// stops on its own.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	if cfg.command == "keys" {
		return keysCommand(cfg, stdout)
	}
	st, err := embedded.Open(cfg.data, embedded.Options{})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	limits := capabilities.Limits{MaxBundleSize: int64(cfg.maxBundleSize)}
	if cfg.command == "reindex" {
		return reindex(ctx, st, cfg.data, limits, stdout)
	}
	signer, previous, err := loadSigner(cfg, log)
	if err != nil {
		return err
	}
	srv, err := server.New(server.Config{
		Store: st, Logger: log, Limits: limits, Signer: signer, PreviousCertificates: previous,
		UploadDir: filepath.Join(cfg.data, "uploads"), AllowDelete: cfg.allowDelete,
	})
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

// serve binds both addresses, prints them, and serves until ctx ends, then
// shuts down within cfg.shutdownTimeout.
func serve(ctx context.Context, cfg config, srv *server.Server, caFingerprint string, stdout io.Writer, log *slog.Logger) error {
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
	g := grpc.NewServer(srv.ServerOptions()...)
	srv.Register(g)
	conn, err := grpc.NewClient(loopback(grpcLis.Addr()),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
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
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	errc := make(chan error, 2)
	go func() { errc <- g.Serve(grpcLis) }()
	go func() { errc <- hs.Serve(httpLis) }()
	printAddrs(stdout, grpcLis.Addr(), httpLis.Addr(), caFingerprint)
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

// printAddrs prints the addresses bound, in the lines scripts parse.
func printAddrs(w io.Writer, grpcAddr, httpAddr net.Addr, caFingerprint string) {
	fmt.Fprintf(w, "capd: grpc listening on %s\n", grpcAddr)
	fmt.Fprintf(w, "capd: http listening on http://%s\n", httpAddr)
	fmt.Fprintf(w, "capd: try capctl --server %s search web\n", loopback(grpcAddr))
	fmt.Fprintf(w, "capd: browse http://%s/v1/capabilities\n", loopback(httpAddr))
	fmt.Fprintf(w, "capd: OCI registry at %s: oras repo ls --plain-http %s\n", loopback(httpAddr), loopback(httpAddr))
	fmt.Fprintf(w, "capd: signing under the CA with SHA-256 %s; trust it with capctl --server %s trust fetch\n", caFingerprint, loopback(grpcAddr))
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
