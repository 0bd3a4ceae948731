package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

	"github.com/capcenter/capcenter/store"
)

// getManifest answers GET and HEAD of a manifest by tag or digest.
func (h *Handler) getManifest(w http.ResponseWriter, r *http.Request, rt route) error {
	if !strings.Contains(rt.ref, ":") && !tagPattern.MatchString(rt.ref) {
		return fail(http.StatusNotFound, codeManifestUnknown, "%s:%s: not a tag or digest", rt.name, clip(rt.ref))
	}
	ctx := r.Context()
	desc, err := h.store.ResolveManifest(ctx, rt.name, rt.ref)
	if errors.Is(err, store.ErrInvalidArgument) {
		return fail(http.StatusBadRequest, codeDigestInvalid, "%v", err)
	}
	if err != nil {
		return storeError(err, codeManifestUnknown)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", desc.MediaType)
	hdr.Set("Docker-Content-Digest", desc.Digest.String())
	hdr.Set("ETag", `"`+desc.Digest.String()+`"`)
	hdr.Set("Content-Length", strconv.FormatInt(desc.Size, 10))
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	raw, err := h.fetchManifest(ctx, desc)
	if err != nil {
		hdr.Del("Content-Length")
		return err
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(raw)
	return nil
}

// fetchManifest reads a stored manifest, verified against desc.
func (h *Handler) fetchManifest(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	if desc.Size > maxManifestSize {
		return nil, fmt.Errorf("manifest %s: %d bytes stored, over %d", desc.Digest, desc.Size, maxManifestSize)
	}
	rc, err := h.store.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return content.ReadAll(rc, desc)
}

// putManifest answers PUT of a manifest: a capability bundle goes to the
// Publisher, a referrer of one to its version, anything else to the
// repository as plain content.
func (h *Handler) putManifest(w http.ResponseWriter, r *http.Request, rt route) error {
	ctx := r.Context()
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxManifestSize+1))
	if err != nil {
		return fail(http.StatusBadRequest, codeManifestInvalid, "reading the manifest: %v", err)
	}
	if len(raw) > maxManifestSize {
		return fail(http.StatusRequestEntityTooLarge, codeSizeInvalid, "manifest: more than %d bytes", maxManifestSize)
	}
	dgst, tags, aerr := manifestReference(rt.ref, r.URL.Query()["tag"], raw)
	if aerr != nil {
		return aerr
	}
	m, aerr := parseManifest(r.Header.Get("Content-Type"), raw, dgst)
	if aerr != nil {
		return aerr
	}
	switch {
	case m.Descriptor.MediaType == ocispec.MediaTypeImageManifest && m.Descriptor.ArtifactType == h.artifactType:
		if len(tags) > 1 {
			return fail(http.StatusBadRequest, codeManifestInvalid, "tags %q: a capability bundle has one tag, its version", tags)
		}
		tag := ""
		if len(tags) == 1 {
			tag = tags[0]
		}
		err = h.stage(ctx, rt.name, m, raw, func(st content.Storage) error {
			return h.publisher.PublishManifest(ctx, rt.name, tag, st, m.Descriptor)
		})
	case h.refersToCapability(ctx, rt.name, m):
		if len(tags) > 0 {
			return fail(http.StatusBadRequest, codeManifestInvalid, "a referrer of a capability bundle is pushed by digest, not tagged %q", tags)
		}
		err = h.stage(ctx, rt.name, m, raw, func(st content.Storage) error {
			return h.publisher.AttachReferrer(ctx, rt.name, st, m.Descriptor)
		})
	default:
		err = h.store.PutManifest(ctx, rt.name, m, raw, tags...)
		if errors.Is(err, store.ErrNotFound) {
			return fail(http.StatusBadRequest, codeManifestBlobUnknown, "%v", err)
		}
	}
	if err != nil {
		return storeError(err, codeManifestBlobUnknown)
	}
	hdr := w.Header()
	hdr.Set("Location", "/v2/"+rt.name+"/manifests/"+dgst.String())
	hdr.Set("Docker-Content-Digest", dgst.String())
	if m.Subject != nil {
		hdr.Set("OCI-Subject", m.Subject.Digest.String())
	}
	if strings.Contains(rt.ref, ":") && len(tags) > 0 {
		hdr.Set("OCI-Tag", strings.Join(tags, ", "))
	}
	hdr.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// maxTagParams bounds the tags one push by digest may set.
const maxTagParams = 100

// manifestReference reads the reference of a manifest PUT and its tag
// parameters: a tag (the digest is then sha256 of raw), or a digest with
// any number of ?tag= parameters. Bad digests are DIGEST_INVALID, bad
// tags MANIFEST_INVALID.
func manifestReference(ref string, params []string, raw []byte) (digest.Digest, []string, *apiError) {
	var tags []string
	dgst := digest.FromBytes(raw)
	if strings.Contains(ref, ":") {
		d, aerr := parseDigest("reference", ref)
		if aerr != nil {
			return "", nil, aerr
		}
		dgst, tags = d, params
	} else {
		if len(params) > 0 {
			return "", nil, fail(http.StatusBadRequest, codeManifestInvalid, "tag parameters go with a push by digest, not by tag %q", clip(ref))
		}
		tags = []string{ref}
	}
	if len(tags) > maxTagParams {
		return "", nil, fail(http.StatusBadRequest, codeManifestInvalid, "%d tags: at most %d per push", len(tags), maxTagParams)
	}
	for _, t := range tags {
		if !tagPattern.MatchString(t) {
			return "", nil, fail(http.StatusBadRequest, codeManifestInvalid, "tag %q: want up to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'", clip(t))
		}
	}
	return dgst, slices.Compact(slices.Sorted(slices.Values(tags))), nil
}

// refersToCapability reports whether m's subject is a capability bundle in
// repo.
func (h *Handler) refersToCapability(ctx context.Context, repo string, m store.Manifest) bool {
	if m.Subject == nil {
		return false
	}
	desc, err := h.store.ResolveManifest(ctx, repo, m.Subject.Digest.String())
	return err == nil && desc.ArtifactType == h.artifactType
}

// stage checks that every blob of m is in repo and calls publish with
// content holding m and those blobs (read from the store as needed).
// A missing blob is MANIFEST_BLOB_UNKNOWN.
func (h *Handler) stage(ctx context.Context, repo string, m store.Manifest, raw []byte, publish func(content.Storage) error) error {
	for _, b := range m.Blobs {
		desc, err := h.store.StatBlob(ctx, repo, b.Digest)
		if errors.Is(err, store.ErrNotFound) {
			return fail(http.StatusBadRequest, codeManifestBlobUnknown, "blob %s: not in %s; push it first", b.Digest, repo)
		}
		if err != nil {
			return err
		}
		if desc.Size != b.Size {
			return fail(http.StatusBadRequest, codeManifestInvalid, "blob %s: %d bytes in %s, the manifest says %d", b.Digest, desc.Size, repo, b.Size)
		}
	}
	st := &staged{mem: memory.New(), store: h.store, repo: repo}
	if err := st.mem.Push(ctx, m.Descriptor, bytes.NewReader(raw)); err != nil {
		return err
	}
	return publish(st)
}

// staged is a manifest in memory over the blobs of one repository, which
// the Publisher validates and stores from; what it pushes (a server
// signature) stays in memory.
type staged struct {
	mem   *memory.Store
	store Backend
	repo  string
}

func (s *staged) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if ok, _ := s.mem.Exists(ctx, desc); ok {
		return s.mem.Fetch(ctx, desc)
	}
	if _, err := s.store.StatBlob(ctx, s.repo, desc.Digest); err != nil {
		return nil, err
	}
	return s.store.Fetch(ctx, desc)
}

func (s *staged) Push(ctx context.Context, desc ocispec.Descriptor, r io.Reader) error {
	return s.mem.Push(ctx, desc, r)
}

func (s *staged) Exists(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	if ok, _ := s.mem.Exists(ctx, desc); ok {
		return true, nil
	}
	_, err := s.store.StatBlob(ctx, s.repo, desc.Digest)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// deleteManifest answers DELETE of a manifest or tag. A capability
// version goes to the Publisher (by its tag or digest); "latest" cannot
// be deleted.
func (h *Handler) deleteManifest(w http.ResponseWriter, r *http.Request, rt route) error {
	ctx := r.Context()
	var err error
	if strings.Contains(rt.ref, ":") {
		d, aerr := parseDigest("reference", rt.ref)
		if aerr != nil {
			return aerr
		}
		desc, rerr := h.store.ResolveManifest(ctx, rt.name, d.String())
		switch {
		case rerr != nil:
			err = rerr
		case desc.ArtifactType == h.artifactType:
			err = h.publisher.DeleteVersion(ctx, rt.name, d.String())
		default:
			err = h.store.DeleteManifest(ctx, rt.name, d)
		}
	} else {
		err = h.store.DeleteTag(ctx, rt.name, rt.ref)
		if errors.Is(err, store.ErrInUse) && rt.ref != "latest" {
			err = h.publisher.DeleteVersion(ctx, rt.name, rt.ref)
		}
	}
	if err != nil {
		return storeError(err, codeManifestUnknown)
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}
