package install

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Labels and annotations every applied object carries, and the label that
// marks install records.
const (
	// LabelCapability holds the capability's name encoded by LabelValue.
	LabelCapability = "capcenter.io/capability"
	// LabelVersion holds the capability's version encoded by LabelValue.
	LabelVersion = "capcenter.io/version"
	// AnnotationDigest holds the bundle digest the object was applied from.
	AnnotationDigest = "capcenter.io/digest"
	// LabelRecord marks the ConfigMaps that are install records.
	LabelRecord = "capcenter.io/record"
	// AnnotationDescription is where KubeVela reads a definition's
	// description.
	AnnotationDescription = "definition.oam.dev/description"
)

// maxLabelValue is the longest label value Kubernetes accepts.
const maxLabelValue = 63

// EncodeName turns a capability name "[namespace/]name" into a form
// Kubernetes names and label values accept: "/" becomes ".". Each part of a
// capability name is a DNS label, which never holds a ".", so the encoding
// is reversible ("acme/gateway" ⇄ "acme.gateway").
func EncodeName(name string) string { return strings.ReplaceAll(name, "/", ".") }

// DecodeName reverses EncodeName.
func DecodeName(encoded string) string { return strings.ReplaceAll(encoded, ".", "/") }

// LabelValue returns s as a label value: "/" becomes "." (see EncodeName)
// and "+" (semver build metadata) becomes "_". A result longer than 63
// characters keeps its first 52 and ends in "-" and 10 hex digits of its
// SHA-256, so that it stays unique; the full value is always in the record
// and the annotations.
func LabelValue(s string) string {
	v := strings.NewReplacer("/", ".", "+", "_").Replace(s)
	if len(v) <= maxLabelValue {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return v[:52] + "-" + hex.EncodeToString(sum[:])[:10]
}

// RecordName is the name of the ConfigMap recording capability name.
func RecordName(name string) string { return "capcenter." + EncodeName(name) }
