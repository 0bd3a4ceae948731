package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/capcenter/capcenter/capabilities"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
	"github.com/capcenter/capcenter/store"
)

// kinds maps the store's kind strings to the API's enum.
var kinds = map[string]capcenterv1.Kind{
	string(capabilities.KindComponent):  capcenterv1.Kind_KIND_COMPONENT,
	string(capabilities.KindTrait):      capcenterv1.Kind_KIND_TRAIT,
	string(capabilities.KindPolicy):     capcenterv1.Kind_KIND_POLICY,
	string(capabilities.KindController): capcenterv1.Kind_KIND_CONTROLLER,
}

// kindToProto returns the enum of a kind string; unknown kinds are
// KIND_UNSPECIFIED.
func kindToProto(k string) capcenterv1.Kind {
	return kinds[k]
}

// kindFromProto returns the kind string of an enum value: "" for
// KIND_UNSPECIFIED (no filter). It fails for values the API does not define.
func kindFromProto(k capcenterv1.Kind) (string, error) {
	if k == capcenterv1.Kind_KIND_UNSPECIFIED {
		return "", nil
	}
	for s, e := range kinds {
		if e == k {
			return s, nil
		}
	}
	return "", fmt.Errorf("kind: unknown value %d: %w", k, store.ErrInvalidArgument)
}

// capabilityToProto maps a catalog entry.
func capabilityToProto(c store.Capability) *capcenterv1.Capability {
	return &capcenterv1.Capability{
		Name:          capabilityName(c.Name),
		Capability:    c.Name,
		Kind:          kindToProto(c.Kind),
		Description:   c.Description,
		Keywords:      c.Keywords,
		LatestVersion: c.Latest,
		VersionCount:  int32(min(c.Versions, math.MaxInt32)),
		UpdateTime:    timestamp(c.Updated),
	}
}

// versionToProto maps a version. It fails when the stored parameter schema
// is not a JSON object.
func versionToProto(v store.Version) (*capcenterv1.Version, error) {
	out := &capcenterv1.Version{
		Name:               versionName(v.Name, v.Version),
		Capability:         v.Name,
		Version:            v.Version,
		Kind:               kindToProto(v.Kind),
		Description:        v.Description,
		Keywords:           v.Keywords,
		Digest:             v.Digest,
		Size:               v.Size,
		KubernetesRange:    v.Kubernetes,
		AppliesTo:          v.AppliesTo,
		Readme:             v.Readme,
		Source:             v.Source,
		Yanked:             v.Yanked,
		YankReason:         v.YankReason,
		Deprecated:         v.Deprecated,
		DeprecationMessage: v.DeprecationMessage,
		CreateTime:         timestamp(v.Created),
		Signatures:         signaturesToProto(v.Referrers),
	}
	for _, d := range v.Dependencies {
		out.Dependencies = append(out.Dependencies, &capcenterv1.Dependency{Capability: d.Name, VersionRange: d.Range})
	}
	if len(v.ParameterSchema) > 0 {
		s := &structpb.Struct{}
		if err := protojson.Unmarshal(v.ParameterSchema, s); err != nil {
			return nil, fmt.Errorf("%s@%s: parameter schema: %w", v.Name, v.Version, err)
		}
		out.ParameterSchema = s
	}
	return out, nil
}

// timestamp maps a time, leaving the zero time unset.
func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// structToMap turns a Struct into JSON-shaped data with json.Number for
// every number, as capabilities.Object holds it; nil stays nil.
func structToMap(s *structpb.Struct) (map[string]any, error) {
	if s == nil {
		return nil, nil
	}
	data, err := protojson.Marshal(s)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// mapToStruct turns a rendered object into a Struct.
func mapToStruct(m map[string]any) (*structpb.Struct, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	s := &structpb.Struct{}
	if err := protojson.Unmarshal(data, s); err != nil {
		return nil, err
	}
	return s, nil
}
