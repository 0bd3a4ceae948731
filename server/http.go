package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/capcenter/capcenter/capabilities"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
	"github.com/capcenter/capcenter/server/registry"
)

// downloadVerb ends the path of a download request.
const downloadVerb = ":download"

// HTTPHandler returns the HTTP side of the server, which reaches the gRPC
// service through conn (a connection to a gRPC server set up with
// ServerOptions and Register), so the same interceptors log and check
// every call:
//
//   - /v1/… — the REST gateway (capcenter.gateway.yaml); errors are JSON
//     google.rpc.Status bodies with the matching HTTP status;
//   - GET /v1/capabilities/{capability}/versions/{version}:download — the
//     bundle as a tar of an OCI image layout (see doc.go);
//   - GET /openapi.json — the OpenAPI v2 document of the gateway;
//   - GET /healthz — 200 "ok" while the gRPC health service reports
//     SERVING through conn, 503 otherwise;
//   - /v2/… — the OCI distribution API over the same store (package
//     registry), when Config.UploadDir is set and the store implements
//     store.Repositories. Bundles and their referrers pushed there go
//     through the Server's own checks, not through conn.
//
// ctx bounds nothing but the registration; requests use their own
// contexts. It fails when the gateway cannot be registered or the upload
// folder cannot be prepared.
func (s *Server) HTTPHandler(ctx context.Context, conn grpc.ClientConnInterface) (http.Handler, error) {
	client := capcenterv1.NewCapabilityServiceClient(conn)
	gw := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{
			Marshaler: &runtime.JSONPb{
				MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true},
				UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true},
			},
		}),
	)
	if err := capcenterv1.RegisterCapabilityServiceHandlerClient(ctx, gw, client); err != nil {
		return nil, err
	}
	d := &downloader{client: client, gateway: gw}
	health := healthpb.NewHealthClient(conn)
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, downloadVerb) {
			d.serve(w, r)
			return
		}
		gw.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(capcenterv1.OpenAPI)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		resp, err := health.Check(r.Context(), &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			http.Error(w, "not serving", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	if repos, ok := s.store.(registry.Backend); ok && s.uploadDir != "" {
		reg, err := registry.New(registry.Config{
			Store: repos, Publisher: s, ArtifactType: capabilities.ArtifactType,
			UploadDir: s.uploadDir, Logger: s.log,
		})
		if err != nil {
			return nil, err
		}
		mux.Handle("/v2/", reg)
		mux.Handle("/v2", reg)
	}
	return mux, nil
}
