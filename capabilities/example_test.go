package capabilities_test

import (
	"context"
	"fmt"
	"log"

	"oras.land/oras-go/v2/content/memory"

	"github.com/capcenter/capcenter/capabilities"
)

// Load a bundle folder and render its template, as `capctl render` does.
func ExampleLoad() {
	ctx := context.Background()
	b, err := capabilities.Load(ctx, "testdata/good/webapp", capabilities.Limits{})
	if err != nil {
		log.Fatal(err)
	}
	params := map[string]any{"image": "nginx:1.27", "port": 8080}
	if err := capabilities.SetParameter(params, "replicas=2", false); err != nil {
		log.Fatal(err)
	}
	r, err := b.Render(ctx, capabilities.RenderOptions{
		Parameters: params,
		Context:    capabilities.Context{Name: "shop", Namespace: "prod"},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, obj := range r.Objects() {
		meta := obj["metadata"].(map[string]any)
		fmt.Println(obj["kind"], meta["name"])
	}
	fmt.Println("replicas:", r.Output["spec"].(map[string]any)["replicas"])

	// Parameters that do not fit the template are named in the error.
	_, err = b.Render(ctx, capabilities.RenderOptions{Parameters: map[string]any{"replicas": 2}})
	fmt.Println(err)
	// Output:
	// Deployment shop
	// Service shop
	// replicas: 2
	// parameter.image: required, not set (want string)
}

// Every problem of a bundle is reported at once, each in its file.
func ExampleValidationError() {
	_, err := capabilities.Load(context.Background(), "testdata/bad/several-problems", capabilities.Limits{})
	for _, p := range capabilities.Problems(err) {
		fmt.Println(p)
	}
	// Output:
	// capability.yaml:4:1: unknown field "owner"
	// capability.yaml:2:10: version: "v1" is not strict semver 2.0 (MAJOR.MINOR.PATCH, e.g. 1.0.0)
	// template.cue:12:22: output.apiVersion: conflicting values "v2" and "v1"
	// manifests/sa.yaml:1:1: document 1: kind: required, a non-empty string
}

// Pack a bundle into an OCI store and unpack it again. Any oras-go content
// store works: memory, an OCI layout on disk, a remote registry.
func ExamplePack() {
	ctx := context.Background()
	b, err := capabilities.Load(ctx, "testdata/good/webapp", capabilities.Limits{})
	if err != nil {
		log.Fatal(err)
	}
	store := memory.New()
	desc, err := capabilities.Pack(ctx, store, b)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(desc.MediaType)
	fmt.Println(desc.ArtifactType)

	again, err := capabilities.Unpack(ctx, store, desc, capabilities.Limits{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(again.Metadata.Name, again.Metadata.Version)
	for _, f := range again.Files() {
		fmt.Println(" ", f.Name)
	}
	// Output:
	// application/vnd.oci.image.manifest.v1+json
	// application/vnd.capcenter.capability.v1
	// acme/webapp 1.2.0
	//   capability.yaml
	//   template.cue
	//   manifests/configmap.yaml
	//   README.md
	//   examples/basic.yaml
}
