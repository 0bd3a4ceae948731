package server

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/capcenter/capcenter/capabilities"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

// downloader serves a bundle as a tar of an OCI image layout, reading it
// through PullBundle.
type downloader struct {
	client  capcenterv1.CapabilityServiceClient
	gateway *runtime.ServeMux
}

// serve answers GET /v1/{name}:download, calling PullBundle with the
// request's Authorization header, as the gateway does. Errors before the first byte is
// written are JSON, as the gateway writes them; a failure after that
// aborts the response, so that a client never takes a truncated tar for a
// whole one.
func (d *downloader) serve(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/"), downloadVerb)
	// The gateway's own annotation forwards the Authorization header (and
	// only the headers the gateway forwards) as gRPC metadata.
	ctx, err := runtime.AnnotateContext(r.Context(), d.gateway, r, capcenterv1.CapabilityService_PullBundle_FullMethodName)
	var stream capcenterv1.CapabilityService_PullBundleClient
	if err == nil {
		stream, err = d.client.PullBundle(ctx, &capcenterv1.PullBundleRequest{Name: name})
	}
	var first *capcenterv1.PullBundleResponse
	if err == nil {
		first, err = stream.Recv()
	}
	if err == nil && first.GetHeader() == nil {
		err = status.Error(codes.Internal, internalMessage)
	}
	if err != nil {
		_, outbound := runtime.MarshalerForRequest(d.gateway, r)
		runtime.HTTPError(ctx, d.gateway, outbound, w, r, err)
		return
	}
	header := first.GetHeader()
	v := header.GetVersion()
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.tar"`,
		capabilities.ShortName(v.GetCapability()), v.GetVersion()))
	w.Header().Set("ETag", `"`+v.GetDigest()+`"`)
	chunks := &chunkReader{next: func() ([]byte, error) {
		msg, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		return msg.GetChunk(), nil
	}}
	if err := writeLayout(w, v, header.GetManifest(), chunks); err != nil {
		panic(http.ErrAbortHandler) // the status line is gone: break the response
	}
}

// epoch is the modification time of every entry of a download: the same
// bundle always downloads as the same bytes.
var epoch = time.Unix(0, 0).UTC()

// writeLayout writes the OCI image layout of one bundle as a tar:
// oci-layout, index.json (tagging the manifest with the version), then
// blobs/sha256/ holding the manifest, the config and the layers, in that
// order, each verified against its digest as it is copied from r.
func writeLayout(w io.Writer, v *capcenterv1.Version, manifest []byte, r io.Reader) error {
	desc := manifestDescriptor(manifest)
	if desc.Digest.String() != v.GetDigest() {
		return fmt.Errorf("manifest digest %s, want %s", desc.Digest, v.GetDigest())
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return err
	}
	desc.ArtifactType = m.ArtifactType
	desc.Annotations = map[string]string{ocispec.AnnotationRefName: v.GetVersion()}
	index, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{desc},
	})
	if err != nil {
		return err
	}
	layout, err := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for _, f := range []struct {
		name string
		data []byte
	}{{ocispec.ImageLayoutFile, layout}, {"index.json", index}} {
		if err := writeFile(tw, f.name, f.data); err != nil {
			return err
		}
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: epoch, Format: tar.FormatUSTAR}); err != nil {
			return err
		}
	}
	if err := writeFile(tw, blobPath(desc.Digest), manifest); err != nil {
		return err
	}
	written := map[digest.Digest]bool{desc.Digest: true}
	for _, b := range blobs(&m) {
		if err := copyBlobEntry(tw, b, r, written[b.Digest]); err != nil {
			return err
		}
		written[b.Digest] = true
	}
	return tw.Close()
}

// writeFile writes one regular file entry.
func writeFile(tw *tar.Writer, name string, data []byte) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: 0o644, ModTime: epoch, Format: tar.FormatUSTAR}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

// copyBlobEntry copies blob d from r into the tar, verifying its digest;
// a blob the tar already holds is read and verified but not written twice.
func copyBlobEntry(tw *tar.Writer, d ocispec.Descriptor, r io.Reader, seen bool) error {
	if err := d.Digest.Validate(); err != nil {
		return err
	}
	verifier := d.Digest.Verifier()
	dst := io.Writer(verifier)
	if !seen {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: blobPath(d.Digest), Size: d.Size, Mode: 0o644, ModTime: epoch, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		dst = io.MultiWriter(tw, verifier)
	}
	if _, err := io.CopyN(dst, r, d.Size); err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	if !verifier.Verified() {
		return errors.New("blob " + d.Digest.String() + ": content does not match its digest")
	}
	return nil
}

// blobPath is where an OCI image layout keeps the blob with digest d.
func blobPath(d digest.Digest) string {
	return ocispec.ImageBlobsDir + "/" + d.Algorithm().String() + "/" + d.Encoded()
}
