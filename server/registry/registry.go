package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/capcenter/capcenter/store"
)

// Backend is the store the API serves: its repositories, and Fetch to read
// what they hold.
type Backend interface {
	store.Repositories
	Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error)
}

// Publisher takes the manifests that belong to the catalog: capability
// bundles and what refers to them. The server implements it with the
// checks of its gRPC side; its errors are gRPC status errors (or store
// errors), which the API maps to the spec's codes.
type Publisher interface {
	// PublishManifest validates, signs and publishes the bundle whose
	// manifest desc is in staging with every blob, pushed to repo and, when
	// tag is not empty, tagged tag.
	PublishManifest(ctx context.Context, repo, tag string, staging content.Storage, desc ocispec.Descriptor) error
	// AttachReferrer adds the manifest desc in staging, whose subject is a
	// capability bundle in repo, to that bundle's version.
	AttachReferrer(ctx context.Context, repo string, staging content.Storage, desc ocispec.Descriptor) error
	// DeleteVersion removes the capability version reference names in repo
	// (a version's tag or its manifest digest).
	DeleteVersion(ctx context.Context, repo, reference string) error
}

// Defaults for the zero fields of Config.
const (
	DefaultMaxBlobSize = 16 << 30
	DefaultMaxUploads  = 256
	DefaultUploadTTL   = time.Hour
	DefaultRealm       = "registry"
)

// Config is what a Handler needs. Store, Publisher, ArtifactType and
// UploadDir are required.
type Config struct {
	Store     Backend
	Publisher Publisher
	// ArtifactType marks capability bundles: a pushed image manifest of
	// this artifactType goes to the Publisher.
	ArtifactType string
	// UploadDir holds the bytes of unfinished uploads; New empties it.
	// It should be on the store's filesystem.
	UploadDir string
	// Logger gets one line per request; nil discards.
	Logger *slog.Logger
	// MaxBlobSize bounds one blob; MaxUploads the sessions open at once;
	// UploadTTL how long an idle session is kept.
	MaxBlobSize int64
	MaxUploads  int
	UploadTTL   time.Duration
	// Authorizer checks every request; nil serves everyone.
	Authorizer Authorizer
	// Realm names the registry in the Basic challenge of a 401; the
	// default is DefaultRealm.
	Realm string
}

// Handler serves the OCI distribution API under /v2/. See doc.go.
type Handler struct {
	store        Backend
	publisher    Publisher
	artifactType string
	log          *slog.Logger
	uploads      *uploads
	authorizer   Authorizer
	realm        string
}

// New builds a Handler. It fails when a required field is missing or the
// upload folder cannot be emptied and created.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("registry: Store is required")
	case cfg.Publisher == nil:
		return nil, errors.New("registry: Publisher is required")
	case cfg.ArtifactType == "":
		return nil, errors.New("registry: ArtifactType is required")
	case cfg.UploadDir == "":
		return nil, errors.New("registry: UploadDir is required")
	}
	if err := resetUploadDir(cfg.UploadDir); err != nil {
		return nil, fmt.Errorf("registry: upload folder: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{
		store: cfg.Store, publisher: cfg.Publisher, artifactType: cfg.ArtifactType, log: log,
		authorizer: cfg.Authorizer, realm: cmp.Or(cfg.Realm, DefaultRealm),
		uploads: &uploads{
			dir:      cfg.UploadDir,
			ttl:      cmp.Or(cfg.UploadTTL, DefaultUploadTTL),
			most:     cmp.Or(cfg.MaxUploads, DefaultMaxUploads),
			maxSize:  cmp.Or(cfg.MaxBlobSize, DefaultMaxBlobSize),
			sessions: map[string]*upload{},
		},
	}, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	rec.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	var (
		err error
		who string
	)
	rt, aerr := parseRoute(r.URL.Path)
	if aerr == nil {
		r, who, aerr = h.authorize(r, rt.name, action(r.Method, rt))
	}
	if aerr == nil {
		err = h.serve(rec, r, rt)
		if err != nil {
			aerr = storeError(err, codeUnknown)
		}
	}
	if aerr != nil {
		if aerr.status == http.StatusUnauthorized {
			rec.Header().Set("WWW-Authenticate", h.challenge())
		}
		writeError(rec, aerr)
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method), slog.String("path", clip(r.URL.Path)),
		slog.Int("status", rec.code()), slog.Duration("took", time.Since(start)),
	}
	if who != "" {
		attrs = append(attrs, slog.String("principal", who))
	}
	level := slog.LevelInfo
	if aerr != nil {
		attrs = append(attrs, slog.String("error", aerr.Error()))
	}
	if aerr != nil && aerr.status >= 500 {
		level = slog.LevelError
		if err != nil {
			attrs = append(attrs, slog.String("cause", err.Error()))
		}
	}
	h.log.LogAttrs(r.Context(), level, "registry", attrs...)
}

// serve dispatches one request. Errors are *apiError or store/publisher
// errors that ServeHTTP maps.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, rt route) error {
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case rt.endpoint == endpointBase && read:
		return writeJSON(w, r, "application/json", struct{}{})
	case rt.endpoint == endpointCatalog && r.Method == http.MethodGet:
		return h.catalog(w, r)
	case rt.endpoint == endpointTags && r.Method == http.MethodGet:
		return h.tags(w, r, rt)
	case rt.endpoint == endpointManifest && read:
		return h.getManifest(w, r, rt)
	case rt.endpoint == endpointManifest && r.Method == http.MethodPut:
		return h.putManifest(w, r, rt)
	case rt.endpoint == endpointManifest && r.Method == http.MethodDelete:
		return h.deleteManifest(w, r, rt)
	case rt.endpoint == endpointBlob && read:
		return h.getBlob(w, r, rt)
	case rt.endpoint == endpointBlob && r.Method == http.MethodDelete:
		return h.deleteBlob(w, r, rt)
	case rt.endpoint == endpointUploads && r.Method == http.MethodPost:
		return h.startUpload(w, r, rt)
	case rt.endpoint == endpointUpload && r.Method == http.MethodGet:
		return h.uploadStatus(w, r, rt)
	case rt.endpoint == endpointUpload && r.Method == http.MethodPatch:
		return h.patchUpload(w, r, rt)
	case rt.endpoint == endpointUpload && r.Method == http.MethodPut:
		return h.finishUpload(w, r, rt)
	case rt.endpoint == endpointUpload && r.Method == http.MethodDelete:
		return h.cancelUpload(w, r, rt)
	case rt.endpoint == endpointReferrers && r.Method == http.MethodGet:
		return h.referrers(w, r, rt)
	}
	return fail(http.StatusMethodNotAllowed, codeUnsupported, "%s is not supported on %s", r.Method, clip(r.URL.Path))
}

// recorder remembers the status written, for the log.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(p)
}

// ReadFrom keeps the sendfile path of the underlying writer for blobs.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(r.ResponseWriter, src)
}

func (r *recorder) code() int { return cmp.Or(r.status, http.StatusOK) }
