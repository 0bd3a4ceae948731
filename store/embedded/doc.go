// Package embedded is the store.Store that runs inside one capd process:
// content on local disk, an index in a bbolt file next to it, and the
// searchable catalog in memory.
//
// # Layout
//
// Open(dir, opts) uses two things under dir:
//
//   - dir/content is an OCI image layout's blob directory, written through
//     oras-go's content/oci.Storage. Every blob and manifest is a file
//     named by its digest; oras verifies size and digest as it writes.
//     No index.json is kept: oras-go's oci.Store rewrites that file on
//     every tag, so publishing would slow down as the store grows.
//   - dir/index.db is a bbolt file with four buckets: capabilities (one key
//     per name), versions (name NUL version → the immutable version as
//     JSON, with the list of its referrers), digests (manifest digest → name NUL version) and state (name
//     NUL version → yanked/deprecated and their messages).
//
// # Publishing
//
// Publish copies the config and layers from the caller's staged content
// (skipping blobs already stored), then the manifest, then the blobs and
// manifests of the version's referrers (its signatures), then writes a
// publish record, and only then commits the index in one bbolt
// transaction that checks immutability. A version is visible from that
// commit on and not before; a failed publish leaves only unreferenced
// blobs behind. The in-memory catalog is updated right after the commit,
// under the same lock that orders commits.
//
// # Records: what makes the index derived data
//
// Content carries no wall clock and no mutable state, so the store writes
// two kinds of small OCI artifacts next to each capability manifest, as
// its referrers (subject = the capability manifest): a publish record
// (artifactType application/vnd.capcenter.publish.v1+json; its config
// holds the name, version and publish time) and, on every SetState, a state
// record (application/vnd.capcenter.state.v1+json; the whole state after
// the change and a sequence number that only grows). Reindex walks every
// blob, keeps the capability manifests that have a publish record, asks
// the caller's store.Describer for their catalog fields, applies each
// version's newest state record, and replaces the whole index in one
// transaction. The original Created time comes back from the publish
// record, so a rebuilt index answers exactly as before.
//
// # Referrers
//
// Any other manifest whose subject is a capability manifest is one of the
// version's referrers: a Notary Project signature, stored by Publish with
// the version or later by AddReferrer (an author's co-signature). The store
// keeps them generically: the index entry of a version lists each one's
// digest, size, artifact type and annotations, ordered by creation time,
// so reading a version never reads content. AddReferrer pushes the blobs
// and the manifest, then adds it to the entry in a transaction that reads
// the entry again, so concurrent additions to one version all land.
// Reindex finds referrers the same way it finds records: every manifest
// with a subject that is not a record.
//
// # Repositories
//
// The store is also the OCI registry behind /v2/ (store.Repositories). A
// capability's repository is read from the capability index: its version
// tags and "latest" from the catalog, its bundle manifests from the
// digests bucket, and its blobs and referrer manifests from a per-repository
// set built from content the first time /v2/ reads the repository and
// dropped whenever a publish, referrer or delete changes the capability.
// Plain content lives in five more buckets (oci.repos, oci.blobs,
// oci.manifests, oci.tags, oci.subjects), written by PushBlob, MountBlob,
// PutManifest and the deletes, each in one transaction. Blob bytes are
// stored once whatever the repository; a repository sees a blob only once
// it is pushed or mounted there, and deleting it there removes the link,
// never the bytes.
//
// DeleteVersion removes a version's index entries in one transaction and
// then deletes its publish record from content, so Reindex does not bring
// it back; its other content stays on disk, unreferenced, until GC.
//
// # Garbage collection
//
// GC removes the blobs nothing in the index reaches: everything of an
// indexed version (manifest, config, layers, referrers with their blobs,
// and every publish and state record of it with its config) and all plain
// content (linked blobs, manifests and what they reference) is kept;
// content of deleted versions, of failed or uncommitted publishes and
// their stray referrers and records goes, as do ingest files older than
// the grace period. It is safe while publishes run: every call that
// writes content holds the store's content lock for reading from its
// first check of the content (which may find a blob already stored and
// reuse it) until its index commit, and GC holds it for writing while it
// decides and removes, so content in flight is either committed before
// GC looks or written after it is done. A grace period (an hour by
// default) additionally spares recently written files. Calls that write
// content wait while GC runs.
//
// ListCapabilities never reads bbolt: the catalog keeps one summary per
// capability with its lowercase search text, in two lists sorted by name
// and by update time, and a query is one scan of a list (well under a
// millisecond for 10 000 capabilities). Page tokens carry the sort key of
// the last item and a hash of the query, so pages stay stable while new
// versions are published and a token cannot be replayed on another query.
//
// # Caveats
//
// bbolt allows one writer at a time and holds an exclusive file lock for
// as long as the store is open: a second Open of the same dir, in this
// process or another, fails after Options.LockTimeout (one second by
// default) rather than waiting forever. Scale-out is a different backend,
// not several processes over one dir.
//
// Every index commit is fsynced (unless Options.NoSync); publishes that
// commit while another commit runs share the next transaction, so publish
// throughput is bounded by the disk's sync latency, not by the size of the
// index.
//
// Opening loads every version's catalog fields into memory, which takes
// time and memory proportional to the number of versions.
//
// Reindex recovers every version whose manifest, blobs and publish record
// are in content, with its newest state. It cannot recover a version whose
// publish record was lost, and it does recover a publish whose record was
// written but whose commit never happened (a crash between the two): the
// content was complete, so the version becomes visible. When two published
// manifests claim the same version (only possible after such a crash), the
// one published first wins. Likewise a SetState cut between its state
// record and its commit leaves the live index with the old state, and
// Reindex applies the new one; a later acknowledged SetState wins over it
// either way (its sequence number is higher). Reindex reads every blob up to 4 MiB to find
// manifests, and blocks publishes and state changes while it runs.
//
// Reindex takes as a referrer every referrer manifest in content whose
// subject is a published version, whether or not a commit made it visible:
// one written by an AddReferrer or Publish that failed afterwards (a
// crash, a canceled context), or by a publish that lost a race to an
// equal publish (which ignores its referrers), comes back on Reindex when
// its subject is published. A referrer manifest is written only after all
// its blobs, so it comes back complete.
//
// Plain content is not derived data: content does not say which
// repository a blob or manifest was pushed to, so Reindex leaves the oci.*
// buckets as they are and cannot rebuild them if index.db is lost. A plain
// tag that equals a capability version's tag in the same repository is
// hidden by the version (plain tags naming a version are refused, but a
// version published later shadows one).
//
// Content is deleted only by GC (and the publish record of a deleted
// version): blobs of failed publishes, of deleted versions and unlinked
// plain content stay on disk until it runs. After GC, Reindex no longer
// restores a version whose publish record was written but never
// committed, nor a referrer that no commit made visible: GC keeps what the
// index reaches, not what Reindex could find. GC refuses to remove
// anything while the index references a manifest that content lacks (a
// disk that lost writes): run Reindex first.
//
// Content writes are not fsynced: oras-go writes each blob to an ingest
// file and renames it into place without syncing either, while the index
// commit is fsynced. A killed process loses nothing written (the page
// cache survives it), but a power loss or kernel crash can leave an
// indexed version whose blobs are empty or missing.
package embedded
