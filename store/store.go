package store

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
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

// ErrInUse is wrapped when content cannot be removed or replaced because a
// capability version owns it: a blob of a published bundle, a tag that
// names a version.
var ErrInUse = errors.New("in use")

// Repositories is the plain OCI side of a store, as the distribution API
// at /v2/ sees it: repositories of manifests, tags and blobs. A capability
// is a repository named like it whose tags are its versions (a "+" in a
// version reads "_" in a tag, as tags cannot hold "+") and "latest"; its
// bundle manifests, their referrers and their blobs are in it, written by
// Publish and AddReferrer. Anything else in a repository is plain content
// (container images, SBOMs, signatures of plain manifests), which never
// enters the catalog and which Reindex keeps as it is.
//
// Blobs are linked into repositories: content is stored once, and a blob
// is readable in a repository only once pushed or mounted there.
type Repositories interface {
	// StatBlob describes a blob held in repo (digest and size), or wraps
	// ErrNotFound.
	StatBlob(ctx context.Context, repo string, dgst digest.Digest) (ocispec.Descriptor, error)
	// PushBlob stores r as the blob desc, verifying its digest and size as
	// it reads, and links it in repo. Bytes that do not match wrap
	// ErrInvalidArgument and store nothing.
	PushBlob(ctx context.Context, repo string, desc ocispec.Descriptor, r io.Reader) error
	// MountBlob links the blob dgst, held in from, in repo, and describes
	// it; a blob from does not hold wraps ErrNotFound.
	MountBlob(ctx context.Context, repo, from string, dgst digest.Digest) (ocispec.Descriptor, error)
	// DeleteBlob unlinks a plain blob from repo. A blob repo does not hold
	// wraps ErrNotFound; one of a capability version wraps ErrInUse.
	DeleteBlob(ctx context.Context, repo string, dgst digest.Digest) error

	// ResolveManifest describes the manifest a tag or digest names in repo
	// (MediaType, Digest, Size, ArtifactType), or wraps ErrNotFound.
	ResolveManifest(ctx context.Context, repo, reference string) (ocispec.Descriptor, error)
	// PutManifest stores m's bytes raw as plain content in repo and points
	// every tag in tags at it. Every blob and manifest m refers
	// to must be in repo already (ErrNotFound names the first that is
	// not). A manifest of the capability artifact type, a referrer of a
	// capability manifest (those go through Publish and AddReferrer), or
	// raw that does not match m.Descriptor wraps ErrInvalidArgument; a tag
	// naming a capability version, or "latest" in a capability's
	// repository, wraps ErrInUse.
	PutManifest(ctx context.Context, repo string, m Manifest, raw []byte, tags ...string) error
	// DeleteManifest removes a plain manifest, every tag pointing at it,
	// and its place among its subject's referrers from repo. A manifest
	// repo does not hold wraps ErrNotFound; a capability manifest or one
	// of its referrers wraps ErrInUse (DeleteVersion removes a version).
	DeleteManifest(ctx context.Context, repo string, dgst digest.Digest) error
	// DeleteTag removes a plain tag, or wraps ErrNotFound (ErrInUse for a
	// capability's version tags).
	DeleteTag(ctx context.Context, repo, tag string) error
	// Tags lists repo's tags in lexical order, at most n (n <= 0 means
	// all) after last, or wraps ErrNotFound when repo holds nothing.
	Tags(ctx context.Context, repo, last string, n int) ([]string, error)
	// Referrers lists the manifests in repo whose subject is dgst, in
	// digest order; none when dgst has none (or does not exist).
	Referrers(ctx context.Context, repo string, dgst digest.Digest) ([]ocispec.Descriptor, error)
	// ListRepositories lists repositories in lexical order, at most n
	// (n <= 0 means all) after last.
	ListRepositories(ctx context.Context, last string, n int) ([]string, error)

	// DeleteVersion removes a capability version from the index, the
	// catalog and its repository in one transaction, or wraps ErrNotFound.
	// Its content stays on disk until garbage collection, and Reindex does
	// not bring it back.
	DeleteVersion(ctx context.Context, name, version string) error
}

// Manifest is a manifest to store as plain content, as its bytes declare
// it.
type Manifest struct {
	// Descriptor has the media type, digest, size, artifactType (the
	// config media type when the manifest has none) and annotations.
	Descriptor ocispec.Descriptor
	// Subject is the manifest this one refers to, or nil.
	Subject *ocispec.Descriptor
	// Blobs are the config and layers; Manifests the children of an index.
	// Each must be held in the repository.
	Blobs     []ocispec.Descriptor
	Manifests []ocispec.Descriptor
}

// Tag is the tag of a capability version: "+" (build metadata), which
// tags cannot hold, becomes "_".
func Tag(version string) string { return strings.ReplaceAll(version, "+", "_") }

// VersionOfTag reverses Tag.
func VersionOfTag(tag string) string { return strings.ReplaceAll(tag, "_", "+") }
