package install

import (
	"context"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// applyVerbs are the verbs server-side apply needs: patch, and create for
// an object that does not exist yet.
var applyVerbs = []string{"create", "patch"}

// access is one object to check, by resource.
type access struct {
	gvr       schema.GroupVersionResource
	namespace string
	name      string
	ref       string // how to name it in errors
}

// checkAccess asks the API server, through SelfSubjectAccessReviews,
// whether the caller may create and patch each object. It fails with
// ErrForbidden listing every object (and verb) refused, or with the first
// review's error.
func (in *Installer) checkAccess(ctx context.Context, objs []access) error {
	var denied []string
	seen := map[access]bool{}
	for _, a := range objs {
		if seen[a] {
			continue
		}
		seen[a] = true
		var verbs []string
		for _, verb := range applyVerbs {
			ok, err := in.allowed(ctx, a, verb)
			if err != nil {
				return fmt.Errorf("check access to %s: %w", a.ref, err)
			}
			if !ok {
				verbs = append(verbs, verb)
			}
		}
		if len(verbs) > 0 {
			denied = append(denied, fmt.Sprintf("%s (%s)", a.ref, strings.Join(verbs, ", ")))
		}
	}
	if len(denied) > 0 {
		return fmt.Errorf("%w: may not apply %d objects:\n  %s", ErrForbidden, len(denied), strings.Join(denied, "\n  "))
	}
	return nil
}

func (in *Installer) allowed(ctx context.Context, a access, verb string) (bool, error) {
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: a.namespace, Verb: verb, Group: a.gvr.Group, Version: a.gvr.Version,
			Resource: a.gvr.Resource, Name: a.name,
		},
	}}
	got, err := in.kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return got.Status.Allowed, nil
}
