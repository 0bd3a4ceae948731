// Package capabilities is the bundle domain of capcenter: it loads a
// capability bundle from a folder, validates it, renders its template, and
// packs it into (or unpacks it from) an OCI artifact.
//
// A bundle is a folder with capability.yaml (the metadata), template.cue (an
// OAM X-Definition exactly as KubeVela's `vela def` writes it), optional
// manifests/*.yaml (controller objects: CRDs, RBAC, Deployments), README.md
// and examples/*.yaml (sample parameters). [Load] reads one and checks
// everything: the name grammar, strict semver, dependency ranges, that the
// CUE compiles and agrees with the metadata, that every manifest is a
// Kubernetes object and that every example renders. It reports all problems
// at once in a [ValidationError], each naming its file and, where there is
// one, line and column.
//
// [Bundle.Render] evaluates the template with parameters and a [Context]
// in a fresh CUE context each time, bounded in time. Checking a template
// and rendering it go through an [Evaluator] (Limits.Evaluator), whose
// requests and results are plain data: nil evaluates in this process
// ([InProcess]), while package evalproc evaluates in worker processes it
// can kill. Components yield their
// output and outputs; traits yield the workload with their patch merged in
// (see the +patchKey and +patchStrategy annotations in patch.go) and their
// outputs. [Definition.ParameterSchema] derives a JSON Schema from the
// parameter block.
//
// [Pack] writes a bundle into any oras-go content store as one OCI image
// manifest whose artifactType is [ArtifactType]: a config blob with the
// metadata, definition header and parameter schema, and one layer per file
// titled with its path. Nothing time-dependent goes in, so a bundle always
// packs to the same digest. [Unpack] reverses it and trusts nothing: sizes
// are checked against [Limits] before a blob is read, reads stop at the
// declared size, digests are verified, and file names that could escape a
// folder are refused.
//
// # Errors
//
// Content problems wrap [ErrInvalid] (most as a *[ValidationError]); limits
// wrap [ErrTooLarge]; escaping paths and symlinks wrap [ErrUnsafePath]; a
// render that evaluates too long wraps [ErrTimeout], while Load reports a
// template too slow to check as one more problem of its *[ValidationError]
// (so it wraps [ErrInvalid]). Errors from the
// content store (such as oras-go's errdef.ErrNotFound) pass through wrapped.
//
// # Caveats
//
// CUE evaluation cannot be interrupted: in process, when a render passes
// its time bound, Render returns [ErrTimeout] at once but the abandoned
// evaluation runs on in its goroutine until it ends, and one that
// allocates without bound ends the whole process. Servers evaluating
// templates they do not trust set an evalproc.Pool as Limits.Evaluator.
// [ParseDefinition], and [Definition.ParameterSchema] of what it returns,
// evaluate in process; a bundle's definition carries the schema its
// Evaluator derived. The package never logs and never touches the network.
package capabilities
