// Package resolve chooses versions of capabilities so that every
// dependency, Kubernetes range and installed version is respected, and
// explains in plain English why when no choice works.
//
// # Algorithm
//
// [Resolve] implements PubGrub (Natalie Weizenbaum, 2018). Every fact is an
// incompatibility: a set of terms that must not all hold ("rollout 2.1.0"
// and "not rollout-controller >=2.0.0"). The solver alternates unit
// propagation (an incompatibility with all terms but one satisfied forces
// the negation of the last) with decisions (the newest allowed version of
// the most constrained package). When an incompatibility is satisfied, the
// solver derives new ones from it and the causes of its satisfiers until one
// points at an earlier decision, learns it, and jumps back there. The
// learned incompatibilities, each derived from two causes, form the proof
// that [*Conflict] prints when the request itself becomes impossible.
//
// A term's versions are a bitset over the versions the source lists, plus
// one bit for "not selected", so negative and positive terms are the same
// type and every set operation is exact. Ranges are parsed once per
// resolution and evaluated once per version string.
//
// # Version rules
//
// Within the versions a range admits, the newest stable one is preferred. A
// prerelease is admitted only by a range that names a prerelease
// ("^2.0.0-rc.1"); a yanked version only by a range that pins it exactly
// ("=1.2.0" or "1.2.0") or when it is the installed version being kept.
// These rules apply to every range that constrains a capability, so a
// yanked version pinned by one dependency and reached by "^1" from another
// is not used.
//
// # Caveats
//
// A cycle among the chosen versions is reported as an [ErrCycle] error
// rather than avoided: the solver does not search for an acyclic
// alternative. A conflict found many decisions after its causes is undone
// one level at a time rather than by one jump back to the causes (see
// backjumpLevel): on large registries that avoids redoing thousands of
// unrelated decisions, but the proof of a conflict reached that way can be
// longer than PubGrub's. On Synthetic registries, whose random ranges
// conflict far more than real ones, the work grows about linearly with the
// packages reached (see BenchmarkResolve).
package resolve
