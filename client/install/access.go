package install

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/sync/errgroup"
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
	var unique []access
	seen := map[access]bool{}
	for _, a := range objs {
		if !seen[a] {
			seen[a] = true
			unique = append(unique, a)
		}
	}
	// One review per object and verb, a few at once: serially they made a
	// large install wait on round trips. Results keep the objects' order.
	denied := make([][]string, len(unique))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxParallelReviews)
	for i, a := range unique {
		g.Go(func() error {
			for _, verb := range applyVerbs {
				ok, err := in.allowed(gctx, a, verb)
				if err != nil {
					return fmt.Errorf("check access to %s: %w", a.ref, err)
				}
				if !ok {
					denied[i] = append(denied[i], verb)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	var lines []string
	for i, verbs := range denied {
		if len(verbs) > 0 {
			lines = append(lines, fmt.Sprintf("%s (%s)", unique[i].ref, strings.Join(verbs, ", ")))
		}
	}
	if len(lines) > 0 {
		return fmt.Errorf("%w: may not apply %d objects:\n  %s", ErrForbidden, len(lines), strings.Join(lines, "\n  "))
	}
	return nil
}

// maxParallelReviews bounds the access reviews in flight.
const maxParallelReviews = 8

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
