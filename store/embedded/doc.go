// Package embedded is the store.Store that runs inside one capd process:
// content on local disk, an index in a bbolt file next to it, and the
// searchable catalog in memory.
//
// # Layout
//
// Open(dir, opts) uses two things under dir:
//
//   - dir/content is an OCI image layout's blob directory
//     (blobs/<algorithm>/<encoded digest>), which oras-go's content/oci
//     and other tools read. Every blob and manifest is a file named by its
//     digest. The store writes each one itself (ingest.go): to a file of
//     its own under content/ingest, verified against its size and digest,
//     fsynced, then renamed into place; the blob directory is fsynced
//     before any index commit that references what was renamed into it
//     (once for all the files of a call, which are fsynced in parallel).
//     So a power loss cannot leave the index naming an empty or missing
//     blob. No index.json is kept: oras-go's oci.Store rewrites that file
//     on every tag, so publishing would slow down as the store grows.
//   - dir/record.key holds the store's record key: 32 random bytes that
//     authenticate the records the store writes (below). Open creates it
//     (mode 0600; written to a temporary file, synced, renamed, the
//     folder synced) when it is missing. It is not under content/, which
//     /v2/ serves from: no client can read it.
//   - dir/index.db is a bbolt file with the capability buckets:
//     capabilities (one key per name), versions (name NUL version → the
//     immutable version as JSON, with the list of its referrers and of
//     the records that name them), digests
//     (manifest digest → name NUL version) and state (name NUL version →
//     yanked/deprecated and their messages); the plain-content buckets
//     (below); the outbox (below); and meta, whose sequence numbers the
//     repository records.
//
// # Publishing
//
// Publish copies the config and layers from the caller's staged content
// (skipping blobs already stored), then the manifest, then the blobs and
// manifests of the version's referrers (its signatures), all synced, and
// only then commits the index in one bbolt transaction that checks
// immutability and promises the publish record (see the outbox below),
// which it then writes. A version is visible from that commit on and not
// before; a failed publish leaves only unreferenced blobs behind. The
// in-memory catalog is updated right after the commit, under the same
// lock that orders commits.
//
// # Records: what makes the index derived data
//
// Content carries no wall clock and no mutable state, so the store writes
// three kinds of small OCI artifacts next to each capability manifest, as
// its referrers (subject = the capability manifest): a publish record
// (artifactType application/vnd.capcenter.publish.v1+json; its config
// holds the name, version and publish time); on every SetState, a state
// record (application/vnd.capcenter.state.v1+json; the whole state after
// the change and a sequence number that only grows); and, for every
// referrer a commit gives the version (below), a referrer record
// (application/vnd.capcenter.referrer.v1+json; its config holds the
// referrer manifest's descriptor). Plain content has
// repository records (application/vnd.capcenter.repository.v1+json, an
// empty config and the change in an annotation, no subject): one per
// change to the plain-content buckets, numbered by a sequence the index
// keeps (reporecord.go). Reindex walks every blob, keeps the capability
// manifests that have a publish record, asks the caller's
// store.Describer for their catalog fields, applies each version's newest
// state record, attaches the referrers its referrer records name, replays
// the repository records in sequence order through
// the same code that made the changes, and replaces the whole index in
// one transaction. The original Created time comes back from the publish
// record, so a rebuilt index answers exactly as before.
//
// # Authenticated records
//
// PushBlob stores whatever bytes a client sends, so content may hold
// manifests that parse as records and that the store never wrote: a
// client allowed to push to one repository could otherwise upload a
// capability manifest and a publish record claiming another team's name,
// a state record yanking someone else's version, a signature of someone
// else's version with a referrer record of it, or repository records
// rewriting other repositories, for the next Reindex to apply. So every
// record the store writes carries an HMAC-SHA256 under the record key, in
// its vnd.capcenter.record.mac annotation, over a length-prefixed
// encoding of everything Reindex and GC act on: the manifest's media type
// and artifact type, its subject's digest, its created annotation, its
// config's media type, digest and size (content is read verified, so the
// digest fixes the publish or state record's JSON), a repository record's
// change, and its number of layers (recordkey.go). Reindex and GC check
// it with hmac.Equal and treat a record whose MAC is missing or wrong as
// the blob it is: Reindex ignores it, GC does not keep it as a record, and
// both count it (ReindexStats.Unauthenticated, GCStats.Unauthenticated;
// the store logs nothing). A genuine record's MAC copied onto a changed
// record does not verify.
//
// The index records which key sealed the records of what it holds (its
// id, in meta). When Open finds the index not recorded under the current
// key — an index older than record keys, or a key file that was lost and
// created anew while index.db survived — it trusts the live index and
// records it again under the key, in one transaction, the way it adopts
// plain content that predates repository records: one repository record
// per blob link and per manifest with its tags, a new publish record per
// version (which the version's entry then names, instead of the old
// one), a state record per version whose state changed, and a referrer
// record per referrer. Reindex afterwards rebuilds the same index; the
// old, unsealed records are garbage for GC. This costs one Open about two
// small files per version, per referrer and per plain manifest or link.
// An index recorded under the key before referrer records existed has
// no records.referrers mark in meta: Open writes (in one transaction) a
// referrer record of each of its referrers, which the entries then name,
// and sets the mark, so its referrers survive a later Reindex.
//
// # The outbox: records as a function of the index
//
// Every change that content must record commits, in the same transaction
// as the change, a promise of the record's bytes in the outbox bucket (or,
// for DeleteVersion, of removing the publish and referrer records); the
// call then writes
// the record and returns. Open, Reindex and GC first keep every promise
// left in the outbox (a process killed between a commit and its record).
// The record is not synced when written: its promise stays in the index
// until a checkpoint (every 64 promises kept, and at Close) syncs the
// records of all of them in parallel and deletes them, so a power loss
// before that loses nothing either: the next Open writes them again. So content never
// holds a record of a change the index did not commit, the index never
// holds a change whose record content will not get, and a reindex answers
// what the live index answers: a yank cut by a kill is either not
// committed (and gone from both) or committed (and in both once the store
// is opened again). A record write that fails returns an error although
// the change is committed, and is retried by the next Open, Reindex or GC.
//
// # Referrers
//
// A version's referrers are the manifests whose subject is its capability
// manifest that a commit made visible: a Notary Project signature, stored
// by Publish with the version or later by AddReferrer (an author's
// co-signature). The store keeps them generically: the index entry of a
// version lists each one's digest, size, artifact type and annotations,
// ordered by creation time, so reading a version never reads content.
// AddReferrer pushes the blobs and the manifest, then adds it to the
// entry in a transaction that reads the entry again, so concurrent
// additions to one version all land.
//
// A manifest in content whose subject is a published manifest proves
// nothing: a client may push a fake signature as blobs, and a failed
// AddReferrer or Publish leaves its referrer behind. So the commit that
// adds referrers (Publish's, AddReferrer's) also promises, through the
// outbox, a sealed referrer record of each, which the version's entry
// names; GC keeps the records an entry names, and DeleteVersion removes
// them with the publish record. Reindex attaches a referrer only when an
// authentic referrer record of the version's manifest names it and
// content holds its manifest; the other manifests whose subject is an
// indexed version are counted in ReindexStats.Unrecorded. Referrers are
// never removed from a version, so there are no records of removal. So
// Reindex gives a version exactly the referrers the live index has.
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
// PutManifest and the deletes, each in one transaction with its
// repository record's promise. Blob bytes are stored once whatever the
// repository; a repository sees a blob only once it is pushed or mounted
// there, and deleting it there removes the link, never the bytes. Blob
// links are recorded one by one rather than derived from the manifests
// that reference them, so that Reindex rebuilds exactly what the live
// index holds, including blobs pushed but not yet referenced (an upload
// in progress) and blobs unlinked while a manifest still names them. An
// index from before repository records is recorded as it stands (one
// record per link and per manifest with its tags) the first time Open
// sees it.
//
// DeleteVersion removes a version's index entries in one transaction that
// promises the removal of its publish and referrer records, then removes
// them, so Reindex does not bring it back (nor its referrers, should the
// same manifest be published again); its other content stays on disk,
// unreferenced, until GC.
//
// # Garbage collection
//
// GC removes the blobs nothing in the index reaches: everything of an
// indexed version (manifest, config, layers, referrers with their blobs,
// the referrer records its entry names, and every publish and state
// record of it with its config), all plain
// content (linked blobs, manifests and what they reference) and every
// repository record is kept; content of deleted versions, of failed
// publishes and their stray referrers and records goes, as do ingest
// files older than the grace period. GC first keeps the outbox's
// promises. It is safe while publishes run: every call that writes
// content holds the store's content lock for reading from its first check
// of the content (which may find a blob already stored and reuse it)
// until its index commit and its record are done, and GC holds it for
// writing while it decides and removes, so content in flight is either
// committed before GC looks or written after it is done. A grace period (an hour by
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
// are in content, with its newest state and the referrers its referrer
// records name, and the plain content its repository records describe,
// counting only records sealed with the store's key. It cannot recover a change whose record
// never reached content: one committed to an index.db that was lost
// before the call returned. Content written before the outbox existed may
// hold a publish or state record whose commit never happened (a crash
// between the two), which Reindex applies and the live index does not;
// when two published manifests claim the same version (only possible
// after such a crash), the one published first wins. Reindex reads every
// blob up to 4 MiB to find manifests, and blocks every index write while
// it runs.
//
// A store whose index was recorded under its key before referrer records
// existed, and that lost its index.db before an Open recorded its
// referrers, has no referrer records: Reindex restores its versions
// without their referrers (counting them in ReindexStats.Unrecorded).
// Options.TrustUnauthenticatedRecords recovers them, with whatever else
// has their subject. A referrer manifest is written only after all its
// blobs, so a referrer comes back complete.
//
// Repository records are never collected: every plain change (each blob
// push, mount, tag and delete) leaves one small file in content for good,
// and Reindex replays them all.
//
// The record key is what Reindex trusts: back it up with content. It sits
// beside content/ and index.db in the data folder, so a copy of the
// folder has it. Reindex of a store that lost both index.db and
// record.key trusts none of its records (Open creates a new key, under
// which none verifies) and rebuilds an empty index, as it does for a
// store from before record keys that lost its index.db before an Open
// recorded it. Options.TrustUnauthenticatedRecords recovers those: its
// Reindex acts on every record, as Reindex did before record keys,
// forged ones included, attaches every manifest whose subject is a
// published manifest as a referrer, as Reindex did before referrer
// records, and records what it rebuilt under the new key.
// A key that leaks lets whoever holds it forge records: replace it by
// removing record.key while index.db is intact (Open records the index
// under a new key), then run GC.
//
// The MAC proves that the store wrote a record, not that it is current:
// a genuine record removed from content (the publish record of a deleted
// version, a record GC collected) that comes back, byte for byte, counts
// again. Neither /v2/ nor the capability API names a record, so only
// someone who read the data folder has their bytes.
//
// A plain tag that equals a capability version's
// tag in the same repository is hidden by the version (plain tags naming
// a version are refused, but a version published later shadows one).
//
// State records are matched to versions by manifest digest: if a version
// is deleted and the same manifest published again under the same name
// and version before GC removes the old records, Reindex applies the old
// incarnation's newest state to it.
//
// Content is deleted only by GC (and the publish and referrer records of
// a deleted version): blobs of failed publishes, of deleted versions and
// unlinked plain content stay on disk until it runs. After GC, Reindex no
// longer restores a version whose publish record was written but never
// committed: GC keeps what the index reaches, not what Reindex could
// find. GC refuses to remove anything while the index references a
// manifest that content lacks (a disk that lost writes): run Reindex
// first.
//
// Syncing content costs publishing: a publish syncs its new files (in
// parallel) and the blob directory before its index commit, where it used
// to sync the index alone, which about halves the rate of publishes one
// after another on one disk; its records (the publish record, and a
// referrer record per signature) are synced later, with those of 63
// other changes.
// Every plain push pays the same. Options.NoSync skips all of it, for
// benchmarks and throwaway stores.
package embedded
