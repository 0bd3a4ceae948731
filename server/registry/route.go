package registry

import (
	"net/http"
	"regexp"
	"strings"
)

// The shapes of names and tags the distribution spec allows.
var (
	namePattern = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagPattern  = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// maxNameLength bounds a repository name, as the spec advises clients to
// expect.
const maxNameLength = 255

// endpoint is what a /v2/ path addresses.
type endpoint int

const (
	endpointBase endpoint = iota + 1
	endpointCatalog
	endpointTags
	endpointManifest
	endpointBlob
	endpointUploads // POST …/blobs/uploads/
	endpointUpload  // …/blobs/uploads/<id>
	endpointReferrers
)

// route is a parsed /v2/ path.
type route struct {
	endpoint endpoint
	name     string
	// ref is the tag or digest, the blob digest, the upload ID or the
	// referrers' subject.
	ref string
}

// parseRoute reads a request path. The repository name is everything
// between /v2/ and the endpoint's own segments, which are matched from
// the end, so a name may hold segments like "blobs". It fails with
// NAME_INVALID for a name the spec does not allow and 404 for paths that
// are no endpoint.
func parseRoute(path string) (route, *apiError) {
	rest, ok := strings.CutPrefix(path, "/v2/")
	switch {
	case path == "/v2" || path == "/v2/":
		return route{endpoint: endpointBase}, nil
	case !ok:
		return route{}, notFound(path)
	case rest == "_catalog":
		return route{endpoint: endpointCatalog}, nil
	}
	seg := strings.Split(rest, "/")
	n := len(seg)
	var r route
	switch {
	case n >= 3 && seg[n-2] == "tags" && seg[n-1] == "list":
		r = route{endpoint: endpointTags, name: join(seg[:n-2])}
	case n >= 3 && seg[n-2] == "manifests":
		r = route{endpoint: endpointManifest, name: join(seg[:n-2]), ref: seg[n-1]}
	case n >= 4 && seg[n-3] == "blobs" && seg[n-2] == "uploads" && seg[n-1] == "":
		r = route{endpoint: endpointUploads, name: join(seg[:n-3])}
	case n >= 4 && seg[n-3] == "blobs" && seg[n-2] == "uploads":
		r = route{endpoint: endpointUpload, name: join(seg[:n-3]), ref: seg[n-1]}
	case n >= 3 && seg[n-2] == "blobs" && seg[n-1] == "uploads":
		r = route{endpoint: endpointUploads, name: join(seg[:n-2])}
	case n >= 3 && seg[n-2] == "blobs":
		r = route{endpoint: endpointBlob, name: join(seg[:n-2]), ref: seg[n-1]}
	case n >= 3 && seg[n-2] == "referrers":
		r = route{endpoint: endpointReferrers, name: join(seg[:n-2]), ref: seg[n-1]}
	default:
		return route{}, notFound(path)
	}
	if r.ref == "" && r.endpoint != endpointTags && r.endpoint != endpointUploads {
		return route{}, notFound(path)
	}
	if len(r.name) > maxNameLength || !namePattern.MatchString(r.name) {
		return route{}, fail(http.StatusBadRequest, codeNameInvalid, "repository name %q: want lowercase path components of letters and digits separated by '.', '_', '__' or '-', at most %d characters", clip(r.name), maxNameLength)
	}
	return r, nil
}

func join(seg []string) string { return strings.Join(seg, "/") }

func notFound(path string) *apiError {
	return fail(http.StatusNotFound, codeUnsupported, "%q is no endpoint of the distribution API", clip(path))
}

// clip shortens what a client sent before it is quoted back.
func clip(s string) string {
	const most = 300
	if len(s) > most {
		return s[:most] + "…"
	}
	return s
}
