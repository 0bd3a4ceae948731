// Package lockfile reads and writes capcenter.lock: a resolution pinned to
// digests, with each locked version's own dependencies and Kubernetes
// range, so that the resolution can be checked and repeated offline.
//
//	# capcenter.lock: written by capctl lock; resolve again with capctl lock.
//	lockVersion: 1
//	kubernetes: 1.30.2
//	requirements:
//	  - name: webservice
//	    range: ^1.0.0
//	capabilities:
//	  - name: oam-definitions
//	    version: 1.0.0
//	    digest: sha256:…
//	  - name: webservice
//	    version: 1.0.0
//	    digest: sha256:…
//	    kubernetes: '>=1.25.0'
//	    dependencies:
//	      - name: oam-definitions
//	        range: ^1.0.0
//
// Capabilities are listed in plan order, dependencies first.
package lockfile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/Masterminds/semver/v3"
	"github.com/opencontainers/go-digest"
	"sigs.k8s.io/yaml"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/resolve"
)

// FileName is the lock file's conventional name.
const FileName = "capcenter.lock"

// Version is the lockVersion this package writes and reads.
const Version = 1

// Bounds on a lock file, so that a hostile one costs little to refuse.
const (
	MaxSize    = 4 << 20
	MaxEntries = 10000
)

// ErrInvalid is wrapped by every Parse failure; the message names the file
// and the field.
var ErrInvalid = errors.New("invalid lock file")

// File is a lock file's content.
type File struct {
	LockVersion  int           `json:"lockVersion"`
	Kubernetes   string        `json:"kubernetes,omitempty"`
	Requirements []Requirement `json:"requirements"`
	Capabilities []Entry       `json:"capabilities"`
}

// Requirement is one thing the user asked for.
type Requirement struct {
	Name  string `json:"name"`
	Range string `json:"range,omitempty"`
}

// Entry is one locked capability version.
type Entry struct {
	Name         string       `json:"name"`
	Version      string       `json:"version"`
	Digest       string       `json:"digest"`
	Kubernetes   string       `json:"kubernetes,omitempty"`
	Dependencies []Dependency `json:"dependencies,omitempty"`
}

// Dependency is a locked version's dependency, as its bundle declares it.
type Dependency struct {
	Name  string `json:"name"`
	Range string `json:"range"`
}

// Parse decodes and checks a lock file; file names it in errors. It fails,
// wrapping ErrInvalid, for a file over MaxSize, YAML that does not decode
// into the format (unknown fields included), another lockVersion, and any
// field that is malformed: names, versions, digests, ranges, duplicates,
// and dependencies or requirements on capabilities the file does not lock.
func Parse(data []byte, file string) (*File, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s: %w: %d bytes, more than %d", file, ErrInvalid, len(data), MaxSize)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", file, ErrInvalid, err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", file, ErrInvalid, err)
	}
	if err := f.check(); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", file, ErrInvalid, err)
	}
	return &f, nil
}

// check validates every field, naming the first one at fault.
func (f *File) check() error {
	switch {
	case f.LockVersion != Version:
		return fmt.Errorf("lockVersion: %d, want %d", f.LockVersion, Version)
	case len(f.Capabilities) > MaxEntries || len(f.Requirements) > MaxEntries:
		return fmt.Errorf("more than %d entries", MaxEntries)
	}
	if f.Kubernetes != "" {
		if _, err := semver.NewVersion(f.Kubernetes); err != nil {
			return fmt.Errorf("kubernetes: %q is not a version: %w", f.Kubernetes, err)
		}
	}
	locked := map[string]bool{}
	for i, e := range f.Capabilities {
		field := fmt.Sprintf("capabilities[%d]", i)
		if err := capabilities.ValidateName(e.Name); err != nil {
			return fmt.Errorf("%s.name: %w", field, err)
		}
		if locked[e.Name] {
			return fmt.Errorf("%s.name: %s is locked twice", field, e.Name)
		}
		locked[e.Name] = true
		if _, err := semver.StrictNewVersion(e.Version); err != nil {
			return fmt.Errorf("%s.version: %q: %w", field, e.Version, err)
		}
		if d, err := digest.Parse(e.Digest); err != nil || d.Algorithm() != digest.SHA256 {
			return fmt.Errorf("%s.digest: %q is not sha256:<hex>", field, e.Digest)
		}
		if err := checkRange(e.Kubernetes); err != nil {
			return fmt.Errorf("%s.kubernetes: %w", field, err)
		}
		for j, d := range e.Dependencies {
			if err := checkRange(d.Range); err != nil {
				return fmt.Errorf("%s.dependencies[%d].range: %w", field, j, err)
			}
			if err := capabilities.ValidateName(d.Name); err != nil {
				return fmt.Errorf("%s.dependencies[%d].name: %w", field, j, err)
			}
		}
	}
	for i, e := range f.Capabilities {
		for j, d := range e.Dependencies {
			if !locked[d.Name] {
				return fmt.Errorf("capabilities[%d].dependencies[%d]: %s is not locked", i, j, d.Name)
			}
		}
	}
	for i, r := range f.Requirements {
		if err := capabilities.ValidateName(r.Name); err != nil {
			return fmt.Errorf("requirements[%d].name: %w", i, err)
		}
		if err := checkRange(r.Range); err != nil {
			return fmt.Errorf("requirements[%d].range: %w", i, err)
		}
		if !locked[r.Name] {
			return fmt.Errorf("requirements[%d]: %s is not locked", i, r.Name)
		}
	}
	return nil
}

func checkRange(r string) error {
	if r == "" {
		return nil
	}
	if _, err := semver.NewConstraint(r); err != nil {
		return fmt.Errorf("%q is not a semver range: %w", r, err)
	}
	return nil
}

// Marshal encodes f as YAML with a header comment.
func (f *File) Marshal() ([]byte, error) {
	data, err := yaml.Marshal(f)
	if err != nil {
		return nil, err
	}
	return append([]byte("# capcenter.lock: written by capctl lock; resolve again with capctl lock.\n"), data...), nil
}

// Request is the resolution the lock file records; installed and upgrade
// come from the caller.
func (f *File) Request() resolve.Request {
	req := resolve.Request{Kubernetes: f.Kubernetes}
	for _, r := range f.Requirements {
		req.Requirements = append(req.Requirements, resolve.Requirement{Name: r.Name, Range: r.Range})
	}
	return req
}

// Source returns the locked versions as a resolve.Source: each locked
// capability has exactly its locked version; any other name wraps
// resolve.ErrUnknown. Resolving against it checks the lock offline.
func (f *File) Source() resolve.Source {
	s := source{}
	for _, e := range f.Capabilities {
		v := resolve.Version{Version: e.Version, Kubernetes: e.Kubernetes, Digest: e.Digest}
		for _, d := range e.Dependencies {
			v.Dependencies = append(v.Dependencies, resolve.Dependency{Name: d.Name, Range: d.Range})
		}
		s[e.Name] = v
	}
	return s
}

type source map[string]resolve.Version

func (s source) Versions(_ context.Context, name string) ([]resolve.Version, error) {
	v, ok := s[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w: it is not in the lock file", name, resolve.ErrUnknown)
	}
	return []resolve.Version{v}, nil
}
