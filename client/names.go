package client

import (
	"fmt"
	"strings"

	"github.com/capcenter/capcenter/capabilities"
)

// Latest is the version that names a capability's highest version that is
// not yanked.
const Latest = "latest"

// capabilityName returns the resource name of capability name, or an error
// wrapping ErrInvalidArgument when name is not a capability name.
func capabilityName(name string) (string, error) {
	if err := capabilities.ValidateName(name); err != nil {
		return "", fmt.Errorf("%q: %w: %w", name, ErrInvalidArgument, err)
	}
	return "capabilities/" + name, nil
}

// versionName returns the resource name of a version; version "" means
// Latest. It fails like capabilityName, and for a version holding a slash
// or space.
func versionName(name, version string) (string, error) {
	parent, err := capabilityName(name)
	if err != nil {
		return "", err
	}
	if version == "" {
		version = Latest
	}
	if strings.ContainsAny(version, "/ \t\n") {
		return "", fmt.Errorf("%s: %w: version %q", Ref(name, version), ErrInvalidArgument, version)
	}
	return parent + "/versions/" + version, nil
}

// Ref returns the short form people write for a version, "name@version",
// or just name when version is empty.
func Ref(name, version string) string {
	if version == "" {
		return name
	}
	return name + "@" + version
}

// ParseRef splits "name[@version]" into name and version; version is empty
// when ref has none. It fails with an error wrapping ErrInvalidArgument
// when the name is not a capability name, or the version is empty after @
// or holds another @.
func ParseRef(ref string) (name, version string, err error) {
	name, version, hasVersion := strings.Cut(ref, "@")
	switch {
	case hasVersion && version == "":
		return "", "", fmt.Errorf("%q: %w: empty version after @", ref, ErrInvalidArgument)
	case strings.Contains(version, "@"):
		return "", "", fmt.Errorf("%q: %w: more than one @", ref, ErrInvalidArgument)
	}
	if _, err := versionName(name, version); err != nil {
		return "", "", err
	}
	return name, version, nil
}
