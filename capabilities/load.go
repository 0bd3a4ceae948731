package capabilities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// Load reads and validates the bundle folder dir. Files other than
// capability.yaml, template.cue, README.md, manifests/*.yaml and
// examples/*.yaml are ignored. It fails with a *ValidationError listing every
// problem, with an error wrapping ErrUnsafePath for a symlink, and with one
// wrapping ErrTooLarge as soon as a bound in lim is crossed while reading.
func Load(ctx context.Context, dir string, lim Limits) (*Bundle, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return LoadFS(ctx, root.FS(), lim)
}

// LoadFS is Load for a bundle at the root of fsys.
func LoadFS(ctx context.Context, fsys fs.FS, lim Limits) (*Bundle, error) {
	lim = lim.withDefaults()
	r := &reader{fsys: fsys, lim: lim}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		switch name := e.Name(); name {
		case MetadataFile, TemplateFile, ReadmeFile:
			err = r.read(name, e)
		case ManifestsDir, ExamplesDir:
			err = r.readDir(name, e)
		}
		if err != nil {
			return nil, err
		}
	}
	return FromFiles(ctx, r.files, lim)
}

// reader reads bundle files from a folder, enforcing limits as it goes.
type reader struct {
	fsys  fs.FS
	lim   Limits
	files []File
	total int64
}

func (r *reader) readDir(dir string, e fs.DirEntry) error {
	if e.Type()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s: symlinks are not followed: %w", dir, ErrUnsafePath)
	}
	if !e.IsDir() {
		return fmt.Errorf("%s: %w: want a folder", dir, ErrInvalid)
	}
	entries, err := fs.ReadDir(r.fsys, dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := path.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if fileRole(name) == "" && e.Type()&fs.ModeSymlink == 0 {
			return fmt.Errorf("%s: %w: only .yaml files belong in %s/", name, ErrInvalid, dir)
		}
		if err := r.read(name, e); err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) read(name string, e fs.DirEntry) error {
	if e.Type()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s: symlinks are not followed: %w", name, ErrUnsafePath)
	}
	if !e.Type().IsRegular() {
		return fmt.Errorf("%s: %w: not a regular file", name, ErrInvalid)
	}
	if len(r.files) >= r.lim.MaxFiles {
		return fmt.Errorf("%s: more than %d files: %w", name, r.lim.MaxFiles, ErrTooLarge)
	}
	f, err := r.fsys.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := readLimited(name, f, r.lim.MaxFileSize)
	if err != nil {
		return err
	}
	r.total += int64(len(data))
	if r.total > r.lim.MaxBundleSize {
		return fmt.Errorf("%s: bundle larger than %d bytes: %w", name, r.lim.MaxBundleSize, ErrTooLarge)
	}
	r.files = append(r.files, File{Name: name, Data: data})
	return nil
}

// readLimited reads all of rd, failing as soon as more than max bytes come.
func readLimited(name string, rd io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(rd, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes: %w", name, limit, ErrTooLarge)
	}
	return data, nil
}

// FromFiles builds and validates a bundle from its files, capability.yaml
// among them. It fails as Load does; files with no place in a bundle or an
// unsafe name are problems.
func FromFiles(ctx context.Context, files []File, lim Limits) (*Bundle, error) {
	lim = lim.withDefaults()
	if err := checkSizes(files, lim); err != nil {
		return nil, err
	}
	var ps problems
	b := &Bundle{}
	var meta []byte
	seen := map[string]bool{}
	for _, f := range files {
		if err := checkPath(f.Name); err != nil {
			ps.add(f.Name, 0, 0, "%v", err)
			continue
		}
		if seen[f.Name] {
			ps.add(f.Name, 0, 0, "appears twice")
			continue
		}
		seen[f.Name] = true
		switch fileRole(f.Name) {
		case MetadataFile:
			meta = f.Data
		case TemplateFile:
			b.Template = f.Data
		case ReadmeFile:
			b.Readme = f.Data
		case ManifestsDir:
			b.Manifests = append(b.Manifests, f)
		case ExamplesDir:
			b.Examples = append(b.Examples, f)
		default:
			ps.add(f.Name, 0, 0, "has no place in a bundle: want capability.yaml, template.cue, README.md, manifests/*.yaml or examples/*.yaml")
		}
	}
	sortFiles(b.Manifests)
	sortFiles(b.Examples)
	if meta == nil {
		ps.add(MetadataFile, 0, 0, "missing: every bundle needs name, version and kind")
	} else if m := parseMetadata(MetadataFile, meta, &ps); m != nil {
		b.Metadata = *m
		b.MetadataYAML = meta
	}
	if err := b.finish(ctx, lim, ps); err != nil {
		return nil, err // never half a bundle
	}
	return b, nil
}

// finish runs the content checks after the metadata ones and returns every
// problem found. The metadata problems are known by then.
func (b *Bundle) finish(ctx context.Context, lim Limits, ps problems) error {
	b.check(ctx, lim, &ps)
	if err := ctx.Err(); err != nil {
		return err
	}
	return ps.err()
}

func checkSizes(files []File, lim Limits) error {
	if len(files) > lim.MaxFiles {
		return fmt.Errorf("%d files, more than %d: %w", len(files), lim.MaxFiles, ErrTooLarge)
	}
	var total int64
	for _, f := range files {
		if int64(len(f.Data)) > lim.MaxFileSize {
			return fmt.Errorf("%s: larger than %d bytes: %w", f.Name, lim.MaxFileSize, ErrTooLarge)
		}
		total += int64(len(f.Data))
	}
	if total > lim.MaxBundleSize {
		return fmt.Errorf("bundle larger than %d bytes: %w", lim.MaxBundleSize, ErrTooLarge)
	}
	return nil
}

// checkPath refuses names that could land outside a bundle folder.
func checkPath(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty file name: %w", ErrUnsafePath)
	case strings.ContainsAny(name, "\\\x00"), strings.HasPrefix(name, "/"):
		return fmt.Errorf("%q: %w: want a relative slash-separated path", name, ErrUnsafePath)
	case path.Clean(name) != name, hasDotPart(name):
		return fmt.Errorf("%q: %w: '.' and '..' are not allowed", name, ErrUnsafePath)
	}
	return nil
}

func hasDotPart(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if part == ".." || part == "." {
			return true
		}
	}
	return false
}

// WriteDir writes b as a bundle folder at dir, creating it when missing and
// replacing files of the same names. Writes cannot leave dir, even through
// symlinks already inside it.
func WriteDir(dir string, b *Bundle) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, f := range b.Files() {
		if err := checkPath(f.Name); err != nil {
			return err
		}
		if d := path.Dir(f.Name); d != "." {
			if err := root.Mkdir(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		}
		if err := root.WriteFile(f.Name, f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
