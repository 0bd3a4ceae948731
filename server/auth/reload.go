package auth

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
)

// ReadTokenFile reads and parses the token file at path. It fails when
// the file cannot be read, with an error wrapping ErrInvalidTokenFile
// when it is larger than MaxTokenFileSize or ParseTokens refuses it; the
// message starts with the path and names the line.
func ReadTokenFile(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	// One byte more than the bound, so that ParseTokens sees a file too big.
	data, err := io.ReadAll(io.LimitReader(f, MaxTokenFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("token file %s: %w", path, err)
	}
	t, err := ParseTokens(data)
	if err != nil {
		return nil, fmt.Errorf("token file %s: %w", path, err)
	}
	return t, nil
}

// Reloader is a token file that is read again on demand: Authenticate
// answers with the tokens of the last read that succeeded. Each Reload
// swaps the whole set at once, so a call sees either the old tokens or
// the new ones, never a mix, and a token removed from the file is refused
// from the first Authenticate after the Reload that read it. It is safe
// for concurrent use.
type Reloader struct {
	path string
	cur  atomic.Pointer[Tokens]
}

// NewReloader reads the token file at path. It fails as ReadTokenFile
// does.
func NewReloader(path string) (*Reloader, error) {
	t, err := ReadTokenFile(path)
	if err != nil {
		return nil, err
	}
	r := &Reloader{path: path}
	r.cur.Store(t)
	return r, nil
}

// Path is the token file's path.
func (r *Reloader) Path() string { return r.path }

// Tokens returns the tokens of the last successful read.
func (r *Reloader) Tokens() *Tokens { return r.cur.Load() }

// Reload reads the file again and, when it parses, puts its tokens in
// place of the current ones and returns them. It fails as ReadTokenFile
// does; the current tokens then stay in use.
func (r *Reloader) Reload() (*Tokens, error) {
	t, err := ReadTokenFile(r.path)
	if err != nil {
		return nil, fmt.Errorf("%w; the tokens read before stay in use", err)
	}
	r.cur.Store(t)
	return t, nil
}

// Authenticate is Tokens.Authenticate with the current tokens.
func (r *Reloader) Authenticate(authorization string) (*Principal, error) {
	return r.cur.Load().Authenticate(authorization)
}
