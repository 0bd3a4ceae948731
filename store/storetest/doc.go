// Package storetest is the conformance suite every store.Store backend
// runs, the way distribution's storage drivers all run one testsuites
// package: Run checks the contract (publish and its atomicity, immutable
// versions, concurrent publishes, search, paging, latest, state changes,
// not found, canceled contexts, Close) and RunReindex checks that an
// index rebuilt from content alone answers every query as before.
//
// A backend's test gives Run an Opener that makes a fresh, empty store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return mustOpen(t) })
//	}
//
// The suite builds its content with Publication, small OCI artifacts of
// ArtifactType in oras-go's memory store, and reads them back in Reindex
// with Describe. It does not import the capabilities package, so a
// backend's tests do not depend on CUE. Checks fail the test through t;
// nothing here is meant for production code.
package storetest
