package install

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
	"k8s.io/apimachinery/pkg/version"
)

// ServerVersion returns the API server's git version, e.g. "v1.35.4". It
// fails with the server's or the transport's error.
func (in *Installer) ServerVersion(ctx context.Context) (string, error) {
	raw, err := in.kube.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	if err != nil {
		return "", fmt.Errorf("get server version: %w", err)
	}
	var info version.Info
	if err := json.Unmarshal(raw, &info); err != nil {
		return "", fmt.Errorf("get server version: %w", err)
	}
	return info.GitVersion, nil
}

// checkKubernetes fails with ErrIncompatible, naming every item whose
// requires.kubernetes range server does not satisfy. Only the server's
// MAJOR.MINOR.PATCH counts: vendors append pre-release or build parts
// ("v1.35.4-gke.100", "v1.35.4+k3s1") that would otherwise fall outside
// every range without a pre-release.
func checkKubernetes(server string, items []*Item) error {
	v, err := semver.NewVersion(server)
	if err != nil {
		return fmt.Errorf("server version %q: %w", server, err)
	}
	core := semver.New(v.Major(), v.Minor(), v.Patch(), "", "")
	var refused []string
	for _, it := range items {
		r := it.Bundle.Metadata.Requires.Kubernetes
		if r == "" {
			continue
		}
		c, err := semver.NewConstraint(r)
		if err != nil {
			return fmt.Errorf("%s: requires.kubernetes %q: %w", it.Name, r, ErrInvalid)
		}
		if !c.Check(core) {
			refused = append(refused, fmt.Sprintf("%s@%s requires kubernetes %s", it.Name, it.Version, r))
		}
	}
	if len(refused) > 0 {
		return fmt.Errorf("server is %s: %s: %w", server, strings.Join(refused, "; "), ErrIncompatible)
	}
	return nil
}
