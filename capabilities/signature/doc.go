// Package signature signs capability bundles and verifies their
// signatures, in the Notary Project format: a JWS envelope with an x509
// certificate chain, stored as an OCI referrer whose subject is the bundle
// manifest, so that the notation CLI and any registry that keeps referrers
// can read it.
//
// Two roles sign a version. The registry (capd) signs every version it
// publishes; authors co-sign versions afterwards. The role is recorded in an
// annotation of the signature manifest for display only: a verifier decides
// which role a signature counts for by which of its trust policy's
// certificate authorities the signature chains to, never by the annotation.
//
// The package signs and checks with notation-go and notation-core-go; it
// adds what capcenter needs around them: key and certificate generation for
// a local CA (capd keys init), inspection of an uploaded envelope against
// the digest it claims to sign, a trust policy per capability name, and a
// verdict over all of a version's signatures that says, for each one that
// fails, why.
package signature
