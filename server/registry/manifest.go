package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/capcenter/capcenter/store"
)

// The Docker manifest media types, which the spec's clients still push.
const (
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// maxManifestSize bounds a manifest PUT, as the store and other registries
// do.
const maxManifestSize = 4 << 20

// manifestDoc is the union of the fields of the manifest kinds accepted.
type manifestDoc struct {
	SchemaVersion *int                 `json:"schemaVersion"`
	MediaType     string               `json:"mediaType"`
	ArtifactType  string               `json:"artifactType"`
	Config        *ocispec.Descriptor  `json:"config"`
	Layers        []ocispec.Descriptor `json:"layers"`
	Manifests     []ocispec.Descriptor `json:"manifests"`
	Subject       *ocispec.Descriptor  `json:"subject"`
	Annotations   map[string]string    `json:"annotations"`
}

// parseManifest reads a manifest PUT: raw is the body, contentType its
// Content-Type, dgst the digest to store it under (the reference when it
// is a digest, else sha256 of raw). The manifest must be an OCI image
// manifest or index, or a Docker schema 2 manifest or list, with
// schemaVersion 2, well-formed descriptors, and a media type that agrees
// with Content-Type. Every failure is MANIFEST_INVALID naming the field,
// or DIGEST_INVALID when raw does not match dgst.
func parseManifest(contentType string, raw []byte, dgst digest.Digest) (store.Manifest, *apiError) {
	invalid := func(format string, args ...any) (store.Manifest, *apiError) {
		return store.Manifest{}, fail(http.StatusBadRequest, codeManifestInvalid, format, args...)
	}
	if !dgst.Algorithm().Available() {
		return store.Manifest{}, fail(http.StatusBadRequest, codeDigestInvalid, "digest %q: unsupported algorithm", clip(dgst.String()))
	}
	if dgst.Algorithm().FromBytes(raw) != dgst {
		return store.Manifest{}, fail(http.StatusBadRequest, codeDigestInvalid, "the manifest's bytes do not match digest %s", dgst)
	}
	var doc manifestDoc
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&doc); err != nil {
		return invalid("manifest: not JSON of a manifest: %v", err)
	}
	if dec.More() {
		return invalid("manifest: data after the JSON document")
	}
	ct := contentType
	if ct != "" {
		parsed, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return invalid("Content-Type %q: %v", clip(ct), err)
		}
		ct = parsed
	}
	mediaType := doc.MediaType
	switch {
	case mediaType == "" && ct == "":
		return invalid("mediaType: missing in the manifest and in Content-Type")
	case mediaType == "":
		mediaType = ct
	case ct != "" && ct != mediaType:
		return invalid("mediaType %q differs from Content-Type %q", clip(mediaType), clip(ct))
	}
	if doc.SchemaVersion == nil || *doc.SchemaVersion != 2 {
		return invalid("schemaVersion: want 2")
	}
	m := store.Manifest{Descriptor: ocispec.Descriptor{
		MediaType: mediaType, Digest: dgst, Size: int64(len(raw)),
		ArtifactType: doc.ArtifactType, Annotations: doc.Annotations,
	}}
	switch mediaType {
	case ocispec.MediaTypeImageManifest, mediaTypeDockerManifest:
		if doc.Config == nil {
			return invalid("config: missing")
		}
		if err := checkDescriptor("config", *doc.Config); err != nil {
			return invalid("%v", err)
		}
		if len(doc.Manifests) > 0 {
			return invalid("manifests: an image manifest has layers, not manifests")
		}
		m.Blobs = append(m.Blobs, *doc.Config)
		for i, l := range doc.Layers {
			if err := checkDescriptor(fmt.Sprintf("layers[%d]", i), l); err != nil {
				return invalid("%v", err)
			}
		}
		for _, l := range doc.Layers {
			if !foreign(l) {
				m.Blobs = append(m.Blobs, l)
			}
		}
		if m.Descriptor.ArtifactType == "" {
			m.Descriptor.ArtifactType = doc.Config.MediaType
		}
	case ocispec.MediaTypeImageIndex, mediaTypeDockerManifestList:
		if doc.Config != nil || len(doc.Layers) > 0 {
			return invalid("an index has manifests, not config or layers")
		}
		for i, c := range doc.Manifests {
			if err := checkDescriptor(fmt.Sprintf("manifests[%d]", i), c); err != nil {
				return invalid("%v", err)
			}
		}
		m.Manifests = doc.Manifests
	default:
		return invalid("mediaType %q: want an OCI image manifest or index, or a Docker schema 2 manifest or list", clip(mediaType))
	}
	if doc.Subject != nil {
		if err := checkDescriptor("subject", *doc.Subject); err != nil {
			return invalid("%v", err)
		}
		m.Subject = doc.Subject
	}
	if len(m.Descriptor.Annotations) == 0 {
		m.Descriptor.Annotations = nil
	}
	return m, nil
}

// checkDescriptor requires a media type, a valid digest and a size that is
// not negative.
func checkDescriptor(field string, d ocispec.Descriptor) error {
	switch {
	case d.MediaType == "":
		return fmt.Errorf("%s.mediaType: missing", field)
	case d.Size < 0:
		return fmt.Errorf("%s.size: %d is negative", field, d.Size)
	}
	if err := d.Digest.Validate(); err != nil {
		return fmt.Errorf("%s.digest %q: %w", field, clip(d.Digest.String()), err)
	}
	return nil
}

// foreign reports a layer a registry need not hold: one with URLs to fetch
// it from elsewhere, or of a non-distributable media type (OCI's, now
// deprecated, or Docker's foreign layers).
func foreign(l ocispec.Descriptor) bool {
	return len(l.URLs) > 0 || strings.Contains(l.MediaType, ".nondistributable.") ||
		l.MediaType == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
}
