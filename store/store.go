package store

import (
	"context"
	"errors"
	"io"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// ErrNotFound is wrapped when a capability, version or blob does not exist.
var ErrNotFound = errors.New("not found")

// ErrAlreadyExists is wrapped when a version is published again with other
// content; the message names the digest already stored.
var ErrAlreadyExists = errors.New("already exists")

// ErrInvalidArgument is wrapped when a request is malformed: a page token
// this store did not issue, an unknown ordering, an empty name.
var ErrInvalidArgument = errors.New("invalid argument")

// ErrClosed is wrapped by every method called after Close.
var ErrClosed = errors.New("store closed")

// Store is the contract every backend meets, checked by storetest.Run. All
// methods are safe for concurrent use. Errors wrap the sentinels above with
// the subject first (`webservice@1.0.0: not found`), so errors.Is answers
// the same for every backend.
type Store interface {
	// Publish stores a version atomically: every blob, then the manifest
	// and its referrers (Publication.Referrers), then the index in one
	// transaction. Nothing of it is visible before that commit, and a
	// failure leaves nothing visible. Publishing the same manifest digest
	// again returns the stored Version with created false and ignores the
	// publication's referrers; another digest under an existing version
	// wraps ErrAlreadyExists. A referrer that is not an OCI image manifest
	// whose subject is Publication.Manifest wraps ErrInvalidArgument.
	Publish(ctx context.Context, p Publication) (v Version, created bool, err error)
	// AddReferrer stores the manifest desc, read from src with every blob
	// it references, as a referrer of version name@version, and returns
	// the version as it now is. version must be exact: "latest" is not
	// resolved (it wraps ErrNotFound), so a referrer never lands on another
	// version than the one the caller looked at. desc must be an OCI image
	// manifest whose subject is the version's manifest, or the call wraps
	// ErrInvalidArgument; a missing version wraps ErrNotFound. Adding a
	// referrer already stored changes nothing and returns the version.
	// Content src cannot provide fails with src's error and changes
	// nothing visible.
	AddReferrer(ctx context.Context, name, version string, desc ocispec.Descriptor, src content.Fetcher) (Version, error)

	// GetCapability returns one capability's summary, or wraps ErrNotFound.
	GetCapability(ctx context.Context, name string) (Capability, error)
	// ListCapabilities searches the catalog; a page token it did not issue
	// for the same query wraps ErrInvalidArgument.
	ListCapabilities(ctx context.Context, q Query) (Page[Capability], error)
	// ListVersions lists a capability's versions, highest semver first, or
	// wraps ErrNotFound when the capability does not exist.
	ListVersions(ctx context.Context, name string, pr PageRequest) (Page[Version], error)
	// GetVersion returns one version; version "latest" is the highest
	// version not yanked.
	GetVersion(ctx context.Context, name, version string) (Version, error)
	// SetState yanks, unyanks, deprecates or undeprecates a version, and
	// returns it as it now is. The state is kept as content too, so Reindex
	// restores it.
	SetState(ctx context.Context, name, version string, s StateChange) (Version, error)

	// Fetch opens a blob or manifest by descriptor, verifying nothing: the
	// caller verifies the digest as it reads. A missing blob wraps
	// ErrNotFound.
	Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error)

	// Reindex rebuilds the index from the content alone, using describe to
	// read each capability manifest's catalog fields.
	Reindex(ctx context.Context, describe Describer) error

	// Close releases the store; it waits for nothing and is idempotent.
	Close() error
}

// Describer reads the catalog fields of one capability manifest from
// content; Reindex calls it for every manifest whose artifactType is the
// capability artifact type. The returned Version's state fields, Digest,
// Size, Created and Referrers are ignored (the store owns them).
type Describer func(ctx context.Context, src content.Fetcher, manifest ocispec.Descriptor) (Version, error)

// Publication is one version to publish.
type Publication struct {
	// Manifest describes the OCI image manifest; Content must hold it and
	// every blob it references.
	Manifest ocispec.Descriptor
	// Content is staged content, already verified by the caller.
	Content content.Fetcher
	// Version carries the catalog fields (Name through Readme); the store
	// fills Digest, Size, Created, Referrers and the state.
	Version Version
	// Referrers are manifests held in Content, with every blob they
	// reference, whose subject is Manifest (the version's signatures).
	// They are stored in the same atomic publish; duplicates count once.
	Referrers []ocispec.Descriptor
}

// Referrer is a manifest stored with a version whose subject is the
// version's manifest: a signature, for now.
type Referrer struct {
	// Digest and Size describe the referrer's OCI image manifest.
	Digest string
	Size   int64
	// ArtifactType is the manifest's artifactType, or its config media
	// type when it has none (as the OCI referrers API reports it).
	ArtifactType string
	// Annotations are the referrer manifest's annotations; nil when it
	// has none.
	Annotations map[string]string
}

// Capability summarizes one capability across its versions.
type Capability struct {
	Name        string
	Kind        string
	Description string
	Keywords    []string
	// Latest is the highest version not yanked, or the highest at all when
	// all are yanked.
	Latest   string
	Versions int
	// Updated is when a version was last published.
	Updated time.Time
}

// Dependency is a capability a version needs, with a semver range.
type Dependency struct {
	Name  string
	Range string
}

// Version is one immutable published version and its mutable state.
type Version struct {
	Name        string
	Version     string
	Kind        string
	Description string
	Keywords    []string
	// Digest is the manifest digest; Size the sum of the manifest, config
	// and layer sizes.
	Digest string
	Size   int64

	Dependencies []Dependency
	Kubernetes   string
	AppliesTo    []string
	Source       string
	// ParameterSchema is JSON; Readme is Markdown.
	ParameterSchema []byte
	Readme          string

	Yanked             bool
	YankReason         string
	Deprecated         bool
	DeprecationMessage string
	Created            time.Time

	// Referrers are the manifests stored with the version whose subject is
	// its manifest (not the store's own records), ordered by their
	// org.opencontainers.image.created annotation (RFC 3339; missing or
	// unparsable sorts first), then by digest.
	Referrers []Referrer
}

// StateChange sets exactly one of the two states.
type StateChange struct {
	// Yank and Deprecate say which state changes; Undo clears it.
	Yank      bool
	Deprecate bool
	Undo      bool
	// Message is the yank reason or the deprecation message.
	Message string
}

// PageRequest asks for one page. Size 0 means DefaultPageSize; sizes over
// MaxPageSize are clamped.
type PageRequest struct {
	Size  int
	Token string
}

// Page sizes.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// Query searches capabilities.
type Query struct {
	// Text holds words that must all occur, case-insensitively, in the
	// name, description or keywords.
	Text string
	// Kind and Keyword filter exactly when set.
	Kind    string
	Keyword string
	// OrderBy is "name" (default), "name desc", "updated" or "updated desc".
	OrderBy string
	PageRequest
}

// Page is one page of results.
type Page[T any] struct {
	Items []T
	// Next is empty on the last page.
	Next string
	// Total counts every match of the query.
	Total int
}
