package install

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"
)

// Record states. A failed record's state is StateFailedPrefix followed by
// the object that failed, e.g. "failed at Deployment capcenter-rollout/x",
// or by "prune" when deleting what an earlier version left failed.
const (
	StateInstalling   = "installing"
	StateInstalled    = "installed"
	StateFailedPrefix = "failed at "
)

// recordKey is the ConfigMap data key holding a record's JSON.
const recordKey = "record.json"

// A Record is what Install keeps in the cluster about one capability: one
// ConfigMap per capability, named RecordName(Name), in the record
// namespace. It lists every object applied, so that an upgrade can prune
// what a new version dropped and an uninstall can delete exactly what was
// installed, and the dependencies, so that an uninstall can refuse while
// dependents remain.
type Record struct {
	Name         string      `json:"name"`
	Version      string      `json:"version"`
	Digest       string      `json:"digest"`
	Kind         string      `json:"kind"`
	Dependencies []string    `json:"dependencies,omitempty"`
	Objects      []ObjectRef `json:"objects"`
	// Prune lists the objects an earlier version applied that this one
	// dropped; they are deleted once this version is installed, and kept
	// here until then so that a resumed upgrade still deletes them.
	Prune []ObjectRef `json:"prune,omitempty"`
	// State is StateInstalling, StateInstalled or StateFailedPrefix + object.
	State string `json:"state"`
	// Error is the error that failed the install, if it failed.
	Error string `json:"error,omitempty"`
	// Time is when State was last set.
	Time time.Time `json:"time"`
}

// Installed reports whether the record says its capability is fully
// installed.
func (r *Record) Installed() bool { return r.State == StateInstalled }

// Failed reports whether the last install of the capability failed.
func (r *Record) Failed() bool { return strings.HasPrefix(r.State, StateFailedPrefix) }

// List returns the install records in the cluster, sorted by name. It fails
// with the API server's error (e.g. forbidden to list ConfigMaps in the
// record namespace) or when a record's JSON is malformed, naming the
// ConfigMap.
func (in *Installer) List(ctx context.Context) ([]Record, error) {
	cms, err := in.kube.CoreV1().ConfigMaps(in.cfg.RecordNamespace).List(ctx, metav1.ListOptions{LabelSelector: LabelRecord + "=true"})
	if err != nil {
		return nil, fmt.Errorf("list install records in %s: %w", in.cfg.RecordNamespace, err)
	}
	var out []Record
	for _, cm := range cms.Items {
		var r Record
		if err := json.Unmarshal([]byte(cm.Data[recordKey]), &r); err != nil {
			return nil, fmt.Errorf("install record %s/%s: %w", cm.Namespace, cm.Name, err)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Record) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// records returns List's records by capability name.
func (in *Installer) records(ctx context.Context) (map[string]Record, error) {
	list, err := in.List(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]Record, len(list))
	for _, r := range list {
		m[r.Name] = r
	}
	return m, nil
}

// writeRecord stores r with server-side apply, stamping it with the time.
func (in *Installer) writeRecord(ctx context.Context, r *Record) error {
	r.Time = time.Now().UTC().Truncate(time.Second)
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("%s: encode install record: %w", r.Name, err)
	}
	cm := applycorev1.ConfigMap(RecordName(r.Name), in.cfg.RecordNamespace).
		WithLabels(map[string]string{
			LabelRecord:     "true",
			LabelCapability: LabelValue(r.Name),
			LabelVersion:    LabelValue(r.Version),
		}).
		WithAnnotations(map[string]string{AnnotationDigest: r.Digest}).
		WithData(map[string]string{recordKey: string(data)})
	_, err = in.kube.CoreV1().ConfigMaps(in.cfg.RecordNamespace).Apply(ctx, cm, in.applyOptions(false))
	if err != nil {
		return fmt.Errorf("%s: write install record: %w", r.Name, err)
	}
	return nil
}
