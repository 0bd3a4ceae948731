package server

import (
	"context"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
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
//   - GET /openapi.json — the OpenAPI v2 document of the gateway, open
//     to everyone;
//   - GET /healthz — 200 "ok" while the gRPC health service reports
//     SERVING through conn, 503 otherwise; open to everyone;
//   - /v2/… — the OCI distribution API over the same store (package
//     registry), when Config.UploadDir is set and the store implements
//     store.Repositories. Bundles and their referrers pushed there go
//     through the Server's own checks, not through conn, and requests
//     are checked by Server.Authorize.
//
// The gateway and the download pass the request's Authorization header
// to conn as gRPC metadata, so the interceptors check them as they check
// gRPC calls, and the client's address, so that the rate of callers
// without a token is theirs, not the gateway's (see clientaddr.go).
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
		runtime.WithMetadata(s.gatewayMetadata),
	)
	if err := capcenterv1.RegisterCapabilityServiceHandlerClient(ctx, gw, client); err != nil {
		return nil, err
	}
	d := &downloader{client: client, gateway: gw}
	health := healthpb.NewHealthClient(conn)
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		r = withoutClientHeaders(r)
		if !utf8.ValidString(r.URL.Path) {
			// The gateway would hand the bytes to protobuf, which refuses
			// them as an internal error.
			writeStatus(w, status.New(codes.InvalidArgument, "name: the path is not valid UTF-8"))
			return
		}
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
			UploadDir: s.uploadDir, Logger: s.log, Authorizer: s, Realm: "capd",
		})
		if err != nil {
			return nil, err
		}
		// /v2/ bypasses the mux, which would clean a path holding ".." and
		// redirect the client to another repository; the registry refuses
		// such a name instead.
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v2" || strings.HasPrefix(r.URL.Path, "/v2/") {
				reg.ServeHTTP(w, r.WithContext(withHTTPClient(r.Context(), r.RemoteAddr)))
				return
			}
			mux.ServeHTTP(w, r)
		}), nil
	}
	return mux, nil
}

// writeStatus answers with st as the gateway does: its JSON form and the
// matching HTTP status.
func writeStatus(w http.ResponseWriter, st *status.Status) {
	body, err := protojson.Marshal(st.Proto())
	if err != nil {
		body = []byte(`{"code":13,"message":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
	_, _ = w.Write(body)
}
