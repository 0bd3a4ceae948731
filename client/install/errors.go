package install

import "errors"

// ErrIncompatible is wrapped when a capability's requires.kubernetes range
// does not admit the API server's version. Install reports it before it
// applies anything.
var ErrIncompatible = errors.New("kubernetes version not supported")

// ErrForbidden is wrapped when the caller may not create or patch some of the
// objects a plan would apply, as SelfSubjectAccessReviews report it. Install
// reports it, listing every such object, before it applies anything.
var ErrForbidden = errors.New("not permitted")

// ErrNotEstablished is wrapped when a CustomResourceDefinition a bundle
// applied does not become Established within Config.EstablishTimeout.
var ErrNotEstablished = errors.New("custom resource definition not established")

// ErrUnknownKind is wrapped when a manifest's apiVersion and kind name no
// resource the API server serves nor a CustomResourceDefinition of the plan.
var ErrUnknownKind = errors.New("unknown kind")

// ErrInvalid is wrapped when Install is called with items that cannot be
// installed as given: no bundle, a bundle whose name or version differs
// from its item, a dependency that is neither earlier in the plan nor
// installed.
var ErrInvalid = errors.New("invalid install request")

// ErrNotInstalled is wrapped when Uninstall is asked to remove a capability
// that has no install record.
var ErrNotInstalled = errors.New("not installed")

// ErrHasDependents is wrapped when Uninstall would remove a capability that
// another installed capability, not removed with it, lists among its
// dependencies. The error names every such dependent.
var ErrHasDependents = errors.New("has installed dependents")
