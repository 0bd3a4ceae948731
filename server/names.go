package server

import (
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	"google.golang.org/grpc/codes"

	"github.com/capcenter/capcenter/capabilities"
)

// Resource names, after AIP-122.
const (
	collection = "capabilities/"
	versions   = "versions"
	// latest names the highest version that is not yanked.
	latest = "latest"
)

// capabilityName is the resource name of a capability.
func capabilityName(capability string) string {
	return collection + capability
}

// versionName is the resource name of a version.
func versionName(capability, version string) string {
	return collection + capability + "/" + versions + "/" + version
}

// parseCapabilityName reads `capabilities/{capability}`, where the
// capability may carry a namespace. field names the request field in the
// InvalidArgument error it fails with.
func parseCapabilityName(field, name string) (string, error) {
	rest, ok := strings.CutPrefix(name, collection)
	if !ok {
		return "", badName(field, name, "capabilities/{capability}", "want the prefix "+collection)
	}
	if err := capabilities.ValidateName(rest); err != nil {
		return "", badName(field, name, "capabilities/{capability}", err.Error())
	}
	return rest, nil
}

// parseVersionName reads `capabilities/{capability}/versions/{version}`,
// the name field of a request. The version is a strict semver version, or
// "latest" when allowLatest. It fails with InvalidArgument naming the field.
func parseVersionName(name string, allowLatest bool) (capability, version string, err error) {
	const field, form = "name", "capabilities/{capability}/versions/{version}"
	rest, ok := strings.CutPrefix(name, collection)
	if !ok {
		return "", "", badName(field, name, form, "want the prefix "+collection)
	}
	parts := strings.Split(rest, "/")
	n := len(parts)
	if n < 3 || n > 4 || parts[n-2] != versions {
		return "", "", badName(field, name, form, "want a capability ([namespace/]name), then /versions/ and a version")
	}
	capability, version = strings.Join(parts[:n-2], "/"), parts[n-1]
	if err := capabilities.ValidateName(capability); err != nil {
		return "", "", badName(field, name, form, err.Error())
	}
	if version == latest {
		if !allowLatest {
			return "", "", badName(field, name, form, "this call needs an exact version, not latest")
		}
		return capability, version, nil
	}
	if _, err := semver.StrictNewVersion(version); err != nil {
		return "", "", badName(field, name, form, "version "+strconv.Quote(version)+" is not a semver version (like 1.2.3): "+err.Error())
	}
	return capability, version, nil
}

// badName is the InvalidArgument error for a malformed resource name.
func badName(field, name, form, why string) error {
	return statusError(codes.InvalidArgument, "%s: %s is not %s: %s", field, strconv.Quote(name), form, why)
}
