package resolve

import (
	"errors"
	"strings"
)

// ErrUnknown is wrapped by a [Source] for a capability that does not exist.
// [Resolve] reports it too: a [*Conflict] caused by a requirement on an
// unknown capability matches it with [errors.Is].
var ErrUnknown = errors.New("unknown capability")

// ErrNoSolution is wrapped by the [*Conflict] error [Resolve] returns when no
// set of versions satisfies every constraint.
var ErrNoSolution = errors.New("no solution")

// ErrInvalid is wrapped when a request or the data of a [Source] is
// malformed: a version that is not strict semver, a range that does not
// parse, an empty name. The message names the capability, the version and
// the field at fault.
var ErrInvalid = errors.New("invalid input")

// ErrCycle is wrapped when the chosen versions depend on each other in a
// circle, so that no order installs dependencies first. The message spells
// the cycle out, e.g. "a 1.0.0 -> b 2.0.0 -> a 1.0.0".
var ErrCycle = errors.New("dependency cycle")

// Conflict is the error [Resolve] returns when no solution exists. Error
// returns a derivation in plain English, one fact per line, that names where
// every constraint involved came from. It wraps [ErrNoSolution], and also
// matches [ErrUnknown] when a requirement names an unknown capability.
type Conflict struct {
	lines   []string
	unknown bool
}

// Error returns the explanation: the lines of the derivation, joined by
// newlines, ending with the sentence that says version solving failed.
func (c *Conflict) Error() string { return strings.Join(c.lines, "\n") }

// Unwrap returns [ErrNoSolution].
func (c *Conflict) Unwrap() error { return ErrNoSolution }

// Is reports whether target is [ErrUnknown] and the conflict comes from a
// requirement on a capability the source does not know.
func (c *Conflict) Is(target error) bool { return c.unknown && target == ErrUnknown }
