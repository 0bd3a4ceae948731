package capabilities

import "time"

// Default bounds on a bundle. A capability is text: a template, a few
// manifests and docs, so these leave ample room while keeping a hostile
// upload cheap to refuse.
const (
	DefaultMaxBundleSize = 64 << 20
	DefaultMaxFileSize   = 8 << 20
	DefaultMaxFiles      = 256
	DefaultEvalTimeout   = 10 * time.Second

	// maxManifestSize bounds an OCI manifest read while unpacking.
	maxManifestSize = 4 << 20
)

// Limits bound what reading, unpacking and evaluating a bundle may consume.
// A zero field takes its default.
type Limits struct {
	// MaxBundleSize bounds the sum of all file sizes, in bytes.
	MaxBundleSize int64
	// MaxFileSize bounds any one file, in bytes.
	MaxFileSize int64
	// MaxFiles bounds the number of files.
	MaxFiles int
	// EvalTimeout bounds each CUE evaluation.
	EvalTimeout time.Duration
	// Evaluator runs the CUE evaluations (checking template.cue, rendering);
	// nil evaluates in this process (see InProcess), where an evaluation
	// past EvalTimeout is abandoned but runs on. Package evalproc runs them
	// in child processes that are killed instead.
	Evaluator Evaluator
}

func (l Limits) withDefaults() Limits {
	if l.MaxBundleSize <= 0 {
		l.MaxBundleSize = DefaultMaxBundleSize
	}
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = DefaultMaxFileSize
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	if l.EvalTimeout <= 0 {
		l.EvalTimeout = DefaultEvalTimeout
	}
	return l
}
