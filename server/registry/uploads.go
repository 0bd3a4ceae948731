package registry

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// upload is one blob upload session: the bytes received so far in a file
// of its own.
type upload struct {
	id, repo string
	path     string

	// mu is held by the one request working on the session; a second one
	// arriving meanwhile is refused rather than queued.
	mu      sync.Mutex
	size    int64
	touched time.Time
}

// uploads keeps the sessions of one Handler.
type uploads struct {
	dir     string
	ttl     time.Duration
	most    int
	maxSize int64

	mu       sync.Mutex
	sessions map[string]*upload
}

// start opens a session for repo. It first forgets sessions idle for
// longer than ttl, and fails with TOOMANYREQUESTS when most are open.
func (u *uploads) start(repo string) (*upload, *apiError) {
	var id [16]byte
	_, _ = rand.Read(id[:])
	up := &upload{id: hex.EncodeToString(id[:]), repo: repo, touched: time.Now()}
	up.path = filepath.Join(u.dir, up.id)
	u.mu.Lock()
	u.sweepLocked()
	if len(u.sessions) >= u.most {
		u.mu.Unlock()
		return nil, fail(http.StatusTooManyRequests, codeTooManyRequests, "%d uploads are open, the most this registry keeps; finish or cancel one", u.most)
	}
	u.sessions[up.id] = up
	u.mu.Unlock()
	f, err := os.OpenFile(up.path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		u.drop(up)
		return nil, fail(http.StatusInternalServerError, codeUnknown, "internal error")
	}
	_ = f.Close()
	return up, nil
}

// sweepLocked forgets idle sessions; u.mu is held.
func (u *uploads) sweepLocked() {
	cutoff := time.Now().Add(-u.ttl)
	for id, up := range u.sessions {
		if up.mu.TryLock() {
			if up.touched.Before(cutoff) {
				delete(u.sessions, id)
				_ = os.Remove(up.path)
			}
			up.mu.Unlock()
		}
	}
}

// acquire finds a session of repo and locks it for one request. An
// unknown ID, or one of another repository, is BLOB_UPLOAD_UNKNOWN; a
// session another request holds is BLOB_UPLOAD_INVALID.
func (u *uploads) acquire(repo, id string) (*upload, *apiError) {
	u.mu.Lock()
	up, ok := u.sessions[id]
	u.mu.Unlock()
	if !ok || up.repo != repo {
		return nil, fail(http.StatusNotFound, codeBlobUploadUnknown, "upload %q of %s: unknown, finished, canceled or expired", clip(id), repo)
	}
	if !up.mu.TryLock() {
		return nil, fail(http.StatusConflict, codeBlobUploadInvalid, "upload %s: another request is writing to it", id)
	}
	return up, nil
}

// release unlocks a session after a request.
func (up *upload) release() {
	up.touched = time.Now()
	up.mu.Unlock()
}

// drop ends a session and removes its file.
func (u *uploads) drop(up *upload) {
	u.mu.Lock()
	delete(u.sessions, up.id)
	u.mu.Unlock()
	_ = os.Remove(up.path)
}

// append writes r at the end of the session's bytes. A write that would
// take the upload past maxSize fails with SIZE_INVALID and keeps nothing
// of the chunk.
func (u *uploads) append(up *upload, r io.Reader) *apiError {
	f, err := os.OpenFile(up.path, os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return fail(http.StatusNotFound, codeBlobUploadUnknown, "upload %s: expired", up.id)
	}
	if err != nil {
		return fail(http.StatusInternalServerError, codeUnknown, "internal error")
	}
	defer f.Close()
	if _, err := f.Seek(up.size, io.SeekStart); err != nil {
		return fail(http.StatusInternalServerError, codeUnknown, "internal error")
	}
	room := u.maxSize - up.size
	n, err := io.Copy(f, io.LimitReader(r, room+1))
	switch {
	case n > room:
		_ = f.Truncate(up.size)
		return fail(http.StatusRequestEntityTooLarge, codeSizeInvalid, "upload %s: more than %d bytes, the largest blob this registry takes", up.id, u.maxSize)
	case err != nil:
		_ = f.Truncate(up.size)
		return fail(http.StatusBadRequest, codeBlobUploadInvalid, "upload %s: reading the chunk: %v", up.id, err)
	}
	up.size += n
	return nil
}

// open reads the session's bytes from the start.
func (up *upload) open() (*os.File, error) {
	f, err := os.Open(up.path)
	if err != nil {
		return nil, fmt.Errorf("upload %s: %w", up.id, err)
	}
	return f, nil
}

// reset empties dir of the files of sessions from before a restart.
func resetUploadDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.MkdirAll(dir, 0o700)
}
