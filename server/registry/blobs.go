package registry

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/capcenter/capcenter/store"
)

// parseDigest reads a digest a client sent; DIGEST_INVALID otherwise.
func parseDigest(field, s string) (digest.Digest, *apiError) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", fail(http.StatusBadRequest, codeDigestInvalid, "%s %q: %v", field, clip(s), err)
	}
	return d, nil
}

// getBlob answers GET and HEAD of a blob, with Range requests.
func (h *Handler) getBlob(w http.ResponseWriter, r *http.Request, rt route) error {
	d, aerr := parseDigest("digest", rt.ref)
	if aerr != nil {
		return aerr
	}
	ctx := r.Context()
	desc, err := h.store.StatBlob(ctx, rt.name, d)
	if err != nil {
		return storeError(err, codeBlobUnknown)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("Docker-Content-Digest", d.String())
	hdr.Set("ETag", `"`+d.String()+`"`)
	hdr.Set("Cache-Control", "max-age=31536000")
	if r.Method == http.MethodHead && r.Header.Get("Range") == "" {
		hdr.Set("Content-Length", strconv.FormatInt(desc.Size, 10))
		hdr.Set("Accept-Ranges", "bytes")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	rc, err := h.store.Fetch(ctx, desc)
	if err != nil {
		return storeError(err, codeBlobUnknown)
	}
	defer rc.Close()
	if rs, ok := rc.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", time.Time{}, rs)
		return nil
	}
	hdr.Set("Content-Length", strconv.FormatInt(desc.Size, 10))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = io.CopyN(w, rc, desc.Size)
	}
	return nil
}

// deleteBlob unlinks a plain blob from its repository.
func (h *Handler) deleteBlob(w http.ResponseWriter, r *http.Request, rt route) error {
	d, aerr := parseDigest("digest", rt.ref)
	if aerr != nil {
		return aerr
	}
	if err := h.store.DeleteBlob(r.Context(), rt.name, d); err != nil {
		return storeError(err, codeBlobUnknown)
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// startUpload answers POST …/blobs/uploads/: a mount from another
// repository the caller may pull from, a monolithic upload (?digest=), or
// a new session.
func (h *Handler) startUpload(w http.ResponseWriter, r *http.Request, rt route) error {
	q := r.URL.Query()
	ctx := r.Context()
	if mount := q.Get("mount"); mount != "" {
		d, aerr := parseDigest("mount", mount)
		if aerr != nil {
			return aerr
		}
		if from := q.Get("from"); from != "" && namePattern.MatchString(from) && h.mayPull(r, from) {
			if _, err := h.store.MountBlob(ctx, rt.name, from, d); err == nil {
				return blobCreated(w, rt.name, d)
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		// Not mountable: the client uploads instead, to a new session.
	} else if ds := q.Get("digest"); ds != "" {
		d, aerr := parseDigest("digest", ds)
		if aerr != nil {
			return aerr
		}
		if r.ContentLength >= 0 {
			if err := h.pushBlob(r, rt.name, d, r.ContentLength, r.Body); err != nil {
				return err
			}
			return blobCreated(w, rt.name, d)
		}
		up, aerr := h.uploads.start(rt.name)
		if aerr != nil {
			return aerr
		}
		up.mu.Lock()
		defer up.release()
		return h.finish(w, r, up, d)
	}
	up, aerr := h.uploads.start(rt.name)
	if aerr != nil {
		return aerr
	}
	uploadAccepted(w, rt.name, up)
	return nil
}

// pushBlob stores a whole blob read from body, refusing it when it is
// larger than the limit or not what d names.
func (h *Handler) pushBlob(r *http.Request, repo string, d digest.Digest, size int64, body io.Reader) error {
	if !d.Algorithm().Available() {
		return fail(http.StatusBadRequest, codeDigestInvalid, "digest %s: unsupported algorithm", d)
	}
	if size > h.uploads.maxSize {
		return fail(http.StatusRequestEntityTooLarge, codeSizeInvalid, "blob of %d bytes: more than %d, the largest blob this registry takes", size, h.uploads.maxSize)
	}
	err := h.store.PushBlob(r.Context(), repo, ocispec.Descriptor{MediaType: "application/octet-stream", Digest: d, Size: size}, body)
	if errors.Is(err, store.ErrInvalidArgument) {
		return fail(http.StatusBadRequest, codeDigestInvalid, "the %d bytes sent do not match digest %s", size, d)
	}
	return err
}

// blobCreated answers 201 for a blob now in repo.
func blobCreated(w http.ResponseWriter, repo string, d digest.Digest) error {
	hdr := w.Header()
	hdr.Set("Location", "/v2/"+repo+"/blobs/"+d.String())
	hdr.Set("Docker-Content-Digest", d.String())
	hdr.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// uploadAccepted answers 202 with where the session goes on and what it
// holds.
func uploadAccepted(w http.ResponseWriter, repo string, up *upload) {
	setUploadHeaders(w, repo, up)
	w.WriteHeader(http.StatusAccepted)
}

func setUploadHeaders(w http.ResponseWriter, repo string, up *upload) {
	hdr := w.Header()
	hdr.Set("Location", "/v2/"+repo+"/blobs/uploads/"+up.id)
	hdr.Set("Docker-Upload-UUID", up.id)
	hdr.Set("Range", fmt.Sprintf("0-%d", max(up.size-1, 0)))
	hdr.Set("Content-Length", "0")
}

// uploadStatus answers GET of a session: 204 with its Range.
func (h *Handler) uploadStatus(w http.ResponseWriter, _ *http.Request, rt route) error {
	up, aerr := h.uploads.acquire(rt.name, rt.ref)
	if aerr != nil {
		return aerr
	}
	defer up.release()
	setUploadHeaders(w, rt.name, up)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// patchUpload appends a chunk. A Content-Range that does not start where
// the session ends is 416 with the session's Range, so the client can
// resume.
func (h *Handler) patchUpload(w http.ResponseWriter, r *http.Request, rt route) error {
	up, aerr := h.uploads.acquire(rt.name, rt.ref)
	if aerr != nil {
		return aerr
	}
	defer up.release()
	if aerr := h.appendChunk(w, r, up); aerr != nil {
		return aerr
	}
	uploadAccepted(w, rt.name, up)
	return nil
}

// appendChunk checks the request's Content-Range against the session and
// appends the body.
func (h *Handler) appendChunk(w http.ResponseWriter, r *http.Request, up *upload) *apiError {
	if cr := r.Header.Get("Content-Range"); cr != "" {
		start, end, ok := parseContentRange(cr)
		switch {
		case !ok:
			return fail(http.StatusBadRequest, codeBlobUploadInvalid, "Content-Range %q: want <start>-<end>", clip(cr))
		case start != up.size:
			setUploadHeaders(w, up.repo, up)
			return fail(http.StatusRequestedRangeNotSatisfiable, codeBlobUploadInvalid,
				"Content-Range %s: the upload holds %d bytes, so the next chunk starts at %d", cr, up.size, up.size)
		case r.ContentLength >= 0 && end-start+1 != r.ContentLength:
			return fail(http.StatusBadRequest, codeBlobUploadInvalid, "Content-Range %s covers %d bytes, Content-Length says %d", cr, end-start+1, r.ContentLength)
		}
	}
	return h.uploads.append(up, r.Body)
}

// parseContentRange reads "<start>-<end>" (an optional "bytes " or
// "bytes=" prefix is allowed).
func parseContentRange(s string) (start, end int64, ok bool) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "bytes "), "bytes=")
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false
	}
	return start, end, true
}

// finishUpload answers PUT …/uploads/<id>?digest=: the last chunk, if
// any, then the blob is verified and stored.
func (h *Handler) finishUpload(w http.ResponseWriter, r *http.Request, rt route) error {
	d, aerr := parseDigest("digest", r.URL.Query().Get("digest"))
	if aerr != nil {
		return aerr
	}
	up, aerr := h.uploads.acquire(rt.name, rt.ref)
	if aerr != nil {
		return aerr
	}
	defer up.release()
	return h.finish(w, r, up, d)
}

// finish appends r's body to the locked session up, stores the result as
// d and ends the session, whatever the outcome but a bad chunk.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, up *upload, d digest.Digest) error {
	if r.ContentLength != 0 {
		if aerr := h.appendChunk(w, r, up); aerr != nil {
			return aerr
		}
	}
	defer h.uploads.drop(up)
	f, err := up.open()
	if err != nil {
		return err
	}
	defer f.Close()
	if err := h.pushBlob(r, up.repo, d, up.size, f); err != nil {
		return err
	}
	return blobCreated(w, up.repo, d)
}

// cancelUpload ends a session.
func (h *Handler) cancelUpload(w http.ResponseWriter, _ *http.Request, rt route) error {
	up, aerr := h.uploads.acquire(rt.name, rt.ref)
	if aerr != nil {
		return aerr
	}
	h.uploads.drop(up)
	up.release()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// mayPull reports whether the Authorizer lets r pull from repo, for a
// mount: knowing a digest is no right to another repository's bytes.
func (h *Handler) mayPull(r *http.Request, repo string) bool {
	_, _, aerr := h.authorize(r, repo, ActionPull)
	return aerr == nil
}
