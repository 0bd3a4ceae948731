package registry

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxPage bounds one page of tags or repositories; a client asking for
// more gets this many and a Link to the rest.
const maxPage = 1000

// pageParams reads n and last. n absent is "all" (0 with all true).
func pageParams(q url.Values) (n int, all bool, last string, aerr *apiError) {
	last = q.Get("last")
	ns := q.Get("n")
	if ns == "" {
		return 0, true, last, nil
	}
	n, err := strconv.Atoi(ns)
	if err != nil || n < 0 {
		return 0, false, "", fail(http.StatusBadRequest, codeUnsupported, "n=%q: want a count of at least 0", clip(ns))
	}
	return min(n, maxPage), false, last, nil
}

// paged trims list (fetched with one extra item) to n and sets the Link
// header to the next page when there is one.
func paged(w http.ResponseWriter, path string, list []string, n int, all bool) []string {
	if all || len(list) <= n {
		return list
	}
	list = list[:n]
	next := url.Values{"n": {strconv.Itoa(n)}, "last": {list[n-1]}}
	w.Header().Set("Link", fmt.Sprintf("<%s?%s>; rel=\"next\"", path, next.Encode()))
	return list
}

// tags answers GET …/tags/list.
func (h *Handler) tags(w http.ResponseWriter, r *http.Request, rt route) error {
	n, all, last, aerr := pageParams(r.URL.Query())
	if aerr != nil {
		return aerr
	}
	fetch := n + 1
	if all {
		fetch = 0
	}
	tags, err := h.store.Tags(r.Context(), rt.name, last, fetch)
	if err != nil {
		return storeError(err, codeNameUnknown)
	}
	if !all && n == 0 {
		tags = nil
	}
	tags = paged(w, "/v2/"+rt.name+"/tags/list", tags, n, all || n == 0)
	return writeJSON(w, r, "application/json", struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{rt.name, nonNil(tags)})
}

// catalog answers GET /v2/_catalog.
func (h *Handler) catalog(w http.ResponseWriter, r *http.Request) error {
	n, all, last, aerr := pageParams(r.URL.Query())
	if aerr != nil {
		return aerr
	}
	fetch := n + 1
	if all {
		fetch = 0
	}
	repos, err := h.store.ListRepositories(r.Context(), last, fetch)
	if err != nil {
		return storeError(err, codeNameUnknown)
	}
	if !all && n == 0 {
		repos = nil
	}
	repos = paged(w, "/v2/_catalog", repos, n, all || n == 0)
	return writeJSON(w, r, "application/json", struct {
		Repositories []string `json:"repositories"`
	}{nonNil(repos)})
}

// referrers answers GET …/referrers/<digest>, filtered by artifactType.
func (h *Handler) referrers(w http.ResponseWriter, r *http.Request, rt route) error {
	d, aerr := parseDigest("digest", rt.ref)
	if aerr != nil {
		return aerr
	}
	refs, err := h.store.Referrers(r.Context(), rt.name, d)
	if err != nil {
		return storeError(err, codeManifestUnknown)
	}
	if at := r.URL.Query().Get("artifactType"); at != "" {
		kept := refs[:0]
		for _, ref := range refs {
			if ref.ArtifactType == at {
				kept = append(kept, ref)
			}
		}
		refs = kept
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	if refs == nil {
		refs = []ocispec.Descriptor{}
	}
	index := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: refs}
	index.SchemaVersion = 2
	return writeJSON(w, r, ocispec.MediaTypeImageIndex, index)
}

func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// writeJSON answers 200 with v as JSON (headers only for HEAD).
func writeJSON(w http.ResponseWriter, r *http.Request, contentType string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	hdr := w.Header()
	hdr.Set("Content-Type", contentType)
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return nil
}
