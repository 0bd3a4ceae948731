// Package registry serves the OCI distribution API (distribution-spec
// v1.1) at /v2/ over a store.Repositories: pull, push, content discovery
// and content management, as the spec's conformance suite checks them.
//
// # What a repository is
//
// A capability is a repository of its name; its tags are its versions
// (store.Tag turns "+" into "_") and "latest"; its manifests are its
// bundles and their referrers (the Notary Project signatures capd and
// authors made). All of that comes from the capability index, so every
// OCI client — oras, crane, skopeo, notation, Flux — pulls a capability
// and verifies its signatures without capcenter code. Any other content
// pushed here (controller images mirrored for an air-gapped cluster,
// SBOMs) is plain: stored per repository, never in the catalog.
//
// # Pushing into the catalog
//
// A pushed OCI image manifest whose artifactType is Config.ArtifactType is
// a bundle: the Publisher validates, signs and publishes it exactly like
// PublishBundle, and a bundle that does not validate, or is pushed to
// another repository than its name or under another tag than its version,
// is MANIFEST_INVALID, so the catalog never holds what it cannot serve. A
// manifest whose subject is a bundle goes to the Publisher as a referrer
// of that version (a signature is inspected first). DELETE of a version's
// tag or digest removes the version.
//
// # Uploads
//
// Blobs arrive whole (POST or PUT with ?digest=, streamed into the store,
// which verifies the digest as it writes) or in chunks (PATCH), which are
// appended to a file of the session under Config.UploadDir until the
// closing PUT. A chunk must start where the session ends (416 with the
// session's Range otherwise), so a client can resume; one request at a
// time may work on a session. Sessions idle for Config.UploadTTL are
// dropped when the next one starts; at most Config.MaxUploads are open and
// no blob may exceed Config.MaxBlobSize. Digests are sha256 or sha512.
//
// # Access
//
// A Config.Authorizer sees every request whose path parses, before it is
// served, with its Authorization header, its repository ("" for /v2/ and
// the catalog) and its Action: pull for GET and HEAD, push for uploads and
// manifest PUTs, delete for DELETE of a manifest, tag or blob. A mount
// also asks for pull on the repository it mounts from, and uploads
// instead when that is refused. Unauthenticated is answered 401
// UNAUTHORIZED with `WWW-Authenticate: Basic realm="<Config.Realm>"`, which
// makes docker, oras and crane send their login; PermissionDenied is 403
// DENIED. The context the Authorizer returns is the one the Publisher
// gets. Without an Authorizer anyone who reaches the API may do anything.
//
// # Errors
//
// Every error is the spec's JSON body ({"errors":[{"code","message"}]})
// with its HTTP status: NAME_INVALID for a name the spec does not allow,
// BLOB_UNKNOWN, MANIFEST_UNKNOWN and NAME_UNKNOWN for what is missing,
// DIGEST_INVALID when bytes do not match, MANIFEST_BLOB_UNKNOWN for a
// manifest pushed before its blobs, MANIFEST_INVALID naming the field,
// SIZE_INVALID over a limit, DENIED (405) for content a capability version
// owns, BLOB_UPLOAD_UNKNOWN for a session that is gone, TOOMANYREQUESTS
// when sessions run out. Unexpected errors are logged and answered as
// UNKNOWN "internal error".
//
// # Caveats
//
// Manifests whose blobs or child manifests are not in the repository are
// refused (the spec allows either), except layers with URLs or of a
// non-distributable type. Deleting a capability version is up to the
// Publisher (capd needs an admin token, or --allow-delete without
// tokens). A mount names the repository it mounts from: a blob is never mounted by
// its digest alone, since knowing a digest is no right to its bytes.
package registry
