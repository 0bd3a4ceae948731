package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/capcenter/capcenter/capabilities"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

// A RenderedObject is one object a server-side render produced.
type RenderedObject struct {
	// Role is "output" for a component's main object, "workload" for the
	// patched workload of a trait, and the outputs key otherwise.
	Role string
	// Object holds numbers as json.Number, as local renders do.
	Object capabilities.Object
}

// Render renders version of capability name on the server with opts'
// Parameters, Context and Workload (its WorkloadOutputs, Limits and
// Context.AppRevisionNum are not sent: the server applies its own bounds).
// It returns the objects in apply order. Numbers travel as JSON numbers, so
// integers beyond 2^53 lose precision. It fails with ErrNotFound when there
// is no such version, ErrInvalidArgument naming each parameter that is
// unknown, missing or of the wrong type, and ErrDeadlineExceeded or
// ErrResourceExhausted when the evaluation runs past the server's bound.
func (c *Client) Render(ctx context.Context, name, version string, opts capabilities.RenderOptions) ([]RenderedObject, error) {
	rn, err := versionName(name, version)
	if err != nil {
		return nil, err
	}
	subject := Ref(name, orLatest(version))
	req := &capcenterv1.RenderTemplateRequest{Name: rn, Context: &capcenterv1.RenderContext{
		Name:           opts.Context.Name,
		Namespace:      opts.Context.Namespace,
		AppName:        opts.Context.AppName,
		AppRevision:    opts.Context.AppRevision,
		ClusterVersion: opts.Context.ClusterVersion.GitVersion,
	}}
	if req.Parameters, err = toStruct(opts.Parameters); err != nil {
		return nil, fmt.Errorf("%s: parameters: %w: %w", subject, ErrInvalidArgument, err)
	}
	if opts.Workload != nil {
		if req.Workload, err = toStruct(opts.Workload); err != nil {
			return nil, fmt.Errorf("%s: workload: %w: %w", subject, ErrInvalidArgument, err)
		}
	}
	resp, err := c.rpc.RenderTemplate(ctx, req, callOptions()...)
	if err != nil {
		return nil, wrapStatus(ctx, subject, err)
	}
	objs := make([]RenderedObject, 0, len(resp.GetObjects()))
	for _, o := range resp.GetObjects() {
		obj, err := fromStruct(o.GetObject())
		if err != nil {
			return nil, protocolError(subject, "object %q: %v", o.GetRole(), err)
		}
		objs = append(objs, RenderedObject{Role: o.GetRole(), Object: obj})
	}
	return objs, nil
}

// toStruct converts JSON-shaped data (json.Number included) to a Struct,
// through JSON.
func toStruct(m map[string]any) (*structpb.Struct, error) {
	if m == nil {
		return nil, nil
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	s := &structpb.Struct{}
	return s, protojson.Unmarshal(data, s)
}

// fromStruct converts a Struct to an Object whose numbers are json.Number.
func fromStruct(s *structpb.Struct) (capabilities.Object, error) {
	data, err := protojson.Marshal(s)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj capabilities.Object
	return obj, dec.Decode(&obj)
}
