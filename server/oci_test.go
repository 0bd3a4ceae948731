package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/signature"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

// remoteRepo is an oras-go client of the harness's /v2/ repository name.
func (h *harness) remoteRepo(t *testing.T, name string) *remote.Repository {
	t.Helper()
	repo, err := remote.NewRepository(strings.TrimPrefix(h.http.URL, "http://") + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	return repo
}

// packInto packs b into a fresh memory store.
func packInto(t *testing.T, b *capabilities.Bundle) (*memory.Store, ocispec.Descriptor) {
	t.Helper()
	mem := memory.New()
	desc, err := capabilities.Pack(t.Context(), mem, b)
	if err != nil {
		t.Fatal(err)
	}
	// oras.Copy resolves its source by tag.
	if err := mem.Tag(t.Context(), desc, desc.Digest.String()); err != nil {
		t.Fatal(err)
	}
	return mem, desc
}

// wantCode fails the test unless err is an error response of the
// distribution API with code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var resp *errcode.ErrorResponse
	if !errors.As(err, &resp) {
		t.Fatalf("%s: got %v, want an error response with %s", what, err, code)
	}
	for _, e := range resp.Errors {
		if e.Code == code {
			return
		}
	}
	t.Fatalf("%s: got %v, want %s", what, err, code)
}

// TestOCIPushBundle pushes bundles through /v2/ with oras-go: a good one
// is validated, signed and cataloged like a PublishBundle; one pushed to
// the wrong repository or tag, or that does not validate, is refused with
// MANIFEST_INVALID and never cataloged.
func TestOCIPushBundle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	c := ctx(t)
	b := loadBuiltin(t, "webservice")
	mem, desc := packInto(t, b)

	_, err := oras.Copy(c, mem, desc.Digest.String(), h.remoteRepo(t, "worker"), "1.0.0", oras.DefaultCopyOptions)
	wantCode(t, "a bundle pushed to another repository", err, "MANIFEST_INVALID")
	_, err = oras.Copy(c, mem, desc.Digest.String(), h.remoteRepo(t, "webservice"), "2.0.0", oras.DefaultCopyOptions)
	wantCode(t, "a bundle tagged with another version", err, "MANIFEST_INVALID")

	broken := *b
	broken.Template = []byte("parameter: {\n")
	broken.Definition = nil
	bmem, bdesc := packInto(t, &broken)
	_, err = oras.Copy(c, bmem, bdesc.Digest.String(), h.remoteRepo(t, "webservice"), "1.0.0", oras.DefaultCopyOptions)
	wantCode(t, "a bundle whose template does not parse", err, "MANIFEST_INVALID")
	if _, err := h.client.GetCapability(c, &capcenterv1.GetCapabilityRequest{Name: "capabilities/webservice"}); err == nil {
		t.Fatal("a refused bundle entered the catalog")
	}

	repo := h.remoteRepo(t, "webservice")
	if _, err := oras.Copy(c, mem, desc.Digest.String(), repo, "1.0.0", oras.DefaultCopyOptions); err != nil {
		t.Fatalf("pushing the bundle: %v", err)
	}
	v, err := h.client.GetVersion(c, &capcenterv1.GetVersionRequest{Name: "capabilities/webservice/versions/1.0.0"})
	if err != nil || v.GetDigest() != desc.Digest.String() {
		t.Fatalf("GetVersion = %v, %v; want digest %s", v, err, desc.Digest)
	}
	sigs, err := h.client.ListSignatures(c, &capcenterv1.ListSignaturesRequest{Name: "capabilities/webservice/versions/1.0.0"})
	if err != nil || len(sigs.GetSignatures()) != 1 || sigs.GetSignatures()[0].GetRole() != capcenterv1.SignatureRole_SIGNATURE_ROLE_SERVER {
		t.Fatalf("ListSignatures = %v, %v; want the server's signature", sigs, err)
	}
	// The repository serves the bundle back byte for byte, and its
	// signature through the referrers API.
	got, err := oras.Copy(c, repo, "latest", memory.New(), "", oras.DefaultCopyOptions)
	if err != nil || got.Digest != desc.Digest {
		t.Fatalf("pulling latest: %v, %v", got, err)
	}
	var referrers []ocispec.Descriptor
	err = repo.Referrers(c, desc, signature.ArtifactType, func(page []ocispec.Descriptor) error {
		referrers = append(referrers, page...)
		return nil
	})
	if err != nil || len(referrers) != 1 || referrers[0].Digest.String() != sigs.GetSignatures()[0].GetDigest() {
		t.Fatalf("Referrers = %v, %v", referrers, err)
	}
}

// pushReferrer pushes a manifest held in src, and its config and
// layers, to repo as a client does.
func pushReferrer(t *testing.T, repo *remote.Repository, src *memory.Store, desc ocispec.Descriptor) error {
	t.Helper()
	c := ctx(t)
	raw, err := content.FetchAll(c, src, desc)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, b := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		data, err := content.FetchAll(c, src, b)
		if err != nil {
			t.Fatal(err)
		}
		if err := repo.Push(c, b, bytes.NewReader(data)); err != nil {
			t.Fatalf("pushing blob %s: %v", b.Digest, err)
		}
	}
	return repo.Push(c, desc, bytes.NewReader(raw))
}

// TestOCISignatures attaches signatures through /v2/ as notation does: an
// author's signature lands beside the server's; one that signs another
// manifest, or a second by the same certificate, is refused.
func TestOCISignatures(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	c := ctx(t)
	mem, desc := packInto(t, loadBuiltin(t, "worker"))
	repo := h.remoteRepo(t, "worker")
	if _, err := oras.Copy(c, mem, desc.Digest.String(), repo, "", oras.DefaultCopyOptions); err != nil {
		t.Fatalf("pushing by digest: %v", err)
	}
	author := testSigner(t)
	sign := func(signed ocispec.Descriptor) (*memory.Store, ocispec.Descriptor) {
		info, err := author.Sign(c, signed)
		if err != nil {
			t.Fatal(err)
		}
		sigMem := memory.New()
		sig, err := signature.Push(c, sigMem, desc, info, signature.RoleAuthor)
		if err != nil {
			t.Fatal(err)
		}
		return sigMem, sig
	}
	other := desc
	other.Digest = digest.FromString("another manifest")
	forged, forgedDesc := sign(other)
	wantCode(t, "a signature of another manifest", pushReferrer(t, repo, forged, forgedDesc), "MANIFEST_INVALID")

	good, goodDesc := sign(desc)
	if err := pushReferrer(t, repo, good, goodDesc); err != nil {
		t.Fatalf("pushing an author's signature: %v", err)
	}
	sigs, err := h.client.ListSignatures(c, &capcenterv1.ListSignaturesRequest{Name: "capabilities/worker/versions/1.0.0"})
	if err != nil || len(sigs.GetSignatures()) != 2 {
		t.Fatalf("ListSignatures = %v, %v; want the server's and the author's", sigs, err)
	}
	again, againDesc := sign(desc)
	wantCode(t, "a second signature by one certificate", pushReferrer(t, repo, again, againDesc), "MANIFEST_INVALID")
	var listed []ocispec.Descriptor
	err = repo.Referrers(c, desc, "", func(page []ocispec.Descriptor) error {
		listed = append(listed, page...)
		return nil
	})
	if err != nil || len(listed) != 2 {
		t.Fatalf("Referrers = %v, %v; want 2", listed, err)
	}
}

// TestOCIPlainContentAndDelete checks that plain content pushed through
// /v2/ stays out of the catalog, and that deleting a version through /v2/
// removes it from the catalog.
func TestOCIPlainContentAndDelete(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{AllowDelete: true})
	c := ctx(t)
	img := memory.New()
	layer := []byte("controller binary")
	layerDesc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageLayer, layer)
	if err := img.Push(c, layerDesc, bytes.NewReader(layer)); err != nil {
		t.Fatal(err)
	}
	imgDesc, err := oras.PackManifest(c, img, oras.PackManifestVersion1_1, "application/vnd.example.image", oras.PackManifestOptions{Layers: []ocispec.Descriptor{layerDesc}})
	if err != nil {
		t.Fatal(err)
	}
	if err := img.Tag(c, imgDesc, "v1"); err != nil {
		t.Fatal(err)
	}
	mirror := h.remoteRepo(t, "mirror/controller")
	if _, err := oras.Copy(c, img, "v1", mirror, "v1", oras.DefaultCopyOptions); err != nil {
		t.Fatalf("pushing plain content: %v", err)
	}
	list, err := h.client.ListCapabilities(c, &capcenterv1.ListCapabilitiesRequest{})
	if err != nil || len(list.GetCapabilities()) != 0 {
		t.Fatalf("ListCapabilities = %v, %v; want none", list, err)
	}
	if got, err := oras.Copy(c, mirror, "v1", memory.New(), "", oras.DefaultCopyOptions); err != nil || got.Digest != imgDesc.Digest {
		t.Fatalf("pulling plain content: %v, %v", got, err)
	}

	mem, desc := packInto(t, loadBuiltin(t, "task"))
	repo := h.remoteRepo(t, "task")
	if _, err := oras.Copy(c, mem, desc.Digest.String(), repo, "1.0.0", oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
	locked := newHarness(t, Config{})
	lockedRepo := locked.remoteRepo(t, "task")
	if _, err := oras.Copy(c, mem, desc.Digest.String(), lockedRepo, "1.0.0", oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "deleting without AllowDelete", lockedRepo.Delete(c, desc), "DENIED")
	if err := repo.Delete(c, desc); err != nil {
		t.Fatalf("deleting the version: %v", err)
	}
	_, err = h.client.GetVersion(c, &capcenterv1.GetVersionRequest{Name: "capabilities/task/versions/1.0.0"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("GetVersion after delete: %v, want NotFound", err)
	}
	if _, err := repo.Resolve(c, "1.0.0"); !errors.Is(err, errdef.ErrNotFound) {
		t.Fatalf("resolving the deleted tag: %v", err)
	}
	req, err := http.NewRequestWithContext(c, http.MethodDelete, h.http.URL+"/v2/task/manifests/latest", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("DELETE latest of a capability without versions: %s", resp.Status)
	}
}
