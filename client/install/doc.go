/*
Package install applies verified capability bundles to a Kubernetes cluster
with server-side apply, and records what it installed in the cluster itself.

# Installing

An Installer is made from a rest.Config the caller loads (from a kubeconfig,
or in-cluster). Install takes a plan: Items in dependency order, each a
bundle already pulled and verified by client.PullVerified and pinned to its
digest. Before applying anything, Install checks every item it will apply:
its requires.kubernetes range against the server's version, that every
manifest's kind is served or defined by a CustomResourceDefinition of the
plan, and, through SelfSubjectAccessReviews, that the caller may create and
patch every object. Any failure there lists every offending item or object
and leaves the cluster untouched.

Each item is then applied in tiers: CustomResourceDefinitions, waiting until
each is Established; Namespaces; ServiceAccounts and RBAC; every other
manifest; and last the OAM definition object (a core.oam.dev/v1beta1
ComponentDefinition, TraitDefinition or PolicyDefinition named after the
capability's short name, in Config.DefinitionNamespace, "vela-system" by
default). Controller bundles have no definition object. The definition's
spec is the template header's attributes, as `vela def apply` writes them,
with spec.schematic.cue.template holding the template; a trait's
appliesToWorkloads defaults to the metadata's appliesTo.

Every object is applied by Config.FieldManager ("capctl") with Force set:
the objects belong to the capability, so fields another manager changed are
taken back. Every object is labeled capcenter.io/capability and
capcenter.io/version and annotated capcenter.io/digest. Label values cannot
hold "/", so names are encoded by EncodeName ("acme/gateway" becomes
"acme.gateway"; DNS labels hold no ".", so this is reversible); see
LabelValue for versions with build metadata and long names.

# Records

Each capability has one ConfigMap, RecordName(name) = "capcenter.<encoded
name>", in Config.RecordNamespace ("capcenter-system"), holding a Record as
JSON: name, version, digest, dependencies, the objects applied and a state.
It is written "installing" before the first apply, and "installed" or
"failed at <object>" after. Install skips an item whose record shows its
digest installed (no apply at all); Options.Repair applies it anyway, which
repairs drift. A record left installing or failed is applied again, which
resumes it: server-side apply is idempotent.

The record is what the other operations build on. An upgrade (an Install
of an item whose record holds another digest) applies the new version,
then deletes the objects Record.Objects lists that the new version no
longer has, and writes the record last; until then the record keeps them
in Record.Prune, so an interrupted upgrade still prunes them when resumed.
Uninstall deletes Record.Objects in reverse tier order, then the record,
after checking that no other record lists the capability among its
Dependencies (or, with Cascade, removing those dependents first). Both
delete an object only while it still carries the capability's label, so
that an object another capability or a person took over is never deleted.
Diff applies every object of a plan with server-side dry run and compares
the result with the live object, and lists what an upgrade would prune.

# Caveats

A dry run cannot check objects whose kind or namespace the plan itself would
create: the server has neither yet. Such objects are reported as Deferred
rather than failing the dry run.

Namespaces Install creates for itself (the record and definition namespaces)
are created plainly and belong to no capability, so that uninstalling one
never deletes them.

Two Installs (or an Install and an Uninstall) of the same capability at
once race on its record; the last write wins. Uninstall and pruning
request deletes and do not wait for finalizers: a namespace or
CustomResourceDefinition may still be terminating when they return. Neither
checks delete permission beforehand, so a refused delete stops them
midway; the record is kept and running them again finishes the job. When a
plan moves an object from one capability to another, the new owner's
label protects it from the old one's prune only once the new owner has
applied it: put the new owner earlier in the plan. Discovery of served kinds (for mapping manifests to resources)
is not bounded by the context; the requests are short.
*/
package install
