// Package store persists capability bundles: OCI content (blobs and
// manifests) and the catalog index over it. Store is the contract every
// backend meets; the embedded backend keeps content on disk through oras-go
// and the index in bbolt.
package store
