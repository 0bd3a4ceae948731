package main

import (
	"fmt"
	"strings"

	"github.com/capcenter/capcenter/capabilities"
)

// oamDependency is the dependency every definition bundle carries: the CRDs
// that let a cluster without KubeVela hold OAM definition objects.
var oamDependency = capabilities.Dependency{Name: "oam-definitions", Version: "^1.0.0"}

// scaffold returns a new bundle of kind k named name, ready to lint.
func scaffold(name string, k capabilities.Kind) (*capabilities.Bundle, error) {
	short := capabilities.ShortName(name)
	m := capabilities.Metadata{
		Name:        name,
		Version:     "0.1.0",
		Kind:        k,
		Description: fmt.Sprintf("TODO: one sentence on what %s does.", short),
		Keywords:    []string{string(k)},
	}
	b := &capabilities.Bundle{}
	var example string
	switch k {
	case capabilities.KindComponent:
		b.Template = []byte(fmt.Sprintf(componentScaffold, short))
		example = "image: nginx:1.27\nport: 80\n"
	case capabilities.KindTrait:
		m.AppliesTo = []string{"deployments.apps"}
		b.Template = []byte(fmt.Sprintf(traitScaffold, short))
		example = "annotations:\n  team: platform\n"
	case capabilities.KindPolicy:
		b.Template = []byte(fmt.Sprintf(policyScaffold, short))
		example = "namespaces: [default]\n"
	case capabilities.KindController:
		b.Manifests = []capabilities.File{{Name: "manifests/deployment.yaml", Data: []byte(strings.ReplaceAll(controllerScaffold, "NAME", short))}}
	default:
		return nil, fmt.Errorf("--kind %q: want component, trait, policy or controller", k)
	}
	if k.HasTemplate() {
		m.Dependencies = []capabilities.Dependency{oamDependency}
		b.Examples = []capabilities.File{{Name: "examples/basic.yaml", Data: []byte(example)}}
	}
	b.Metadata = m
	b.Readme = generateReadme(m, nil)
	return b, nil
}

const componentScaffold = `%[1]q: {
	type:        "component"
	description: "TODO: what this workload runs."
	labels: {}
	annotations: {}
	attributes: workload: definition: {
		apiVersion: "apps/v1"
		kind:       "Deployment"
	}
}

template: {
	output: {
		apiVersion: "apps/v1"
		kind:       "Deployment"
		metadata: {
			name: context.name
			labels: "app.oam.dev/component": context.name
		}
		spec: {
			replicas: parameter.replicas
			selector: matchLabels: "app.oam.dev/component": context.name
			template: {
				metadata: labels: "app.oam.dev/component": context.name
				spec: containers: [{
					name:  context.name
					image: parameter.image
					if parameter.port != _|_ {
						ports: [{containerPort: parameter.port}]
					}
				}]
			}
		}
	}

	parameter: {
		// +usage=The container image to run
		image: string
		// +usage=How many pods to run
		replicas: *1 | int & >=0
		// +usage=The port the container listens on
		port?: int & >0 & <65536
	}
}
`

const traitScaffold = `%[1]q: {
	type:        "trait"
	description: "TODO: what this trait changes on a workload."
	labels: {}
	annotations: {}
	attributes: {
		appliesToWorkloads: ["deployments.apps"]
		podDisruptive: true
	}
}

template: {
	patch: spec: template: metadata: annotations: {
		for k, v in parameter.annotations {
			(k): v
		}
	}

	parameter: {
		// +usage=Annotations to put on the workload's pods
		annotations: [string]: string
	}
}
`

const policyScaffold = `%[1]q: {
	type:        "policy"
	description: "TODO: what this policy decides."
	labels: {}
	annotations: {}
}

template: {
	parameter: {
		// +usage=The namespaces the policy covers
		namespaces: [...string]
	}
}
`

const controllerScaffold = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: NAME-controller
  namespace: default
  labels:
    app.kubernetes.io/name: NAME-controller
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: NAME-controller
  template:
    metadata:
      labels:
        app.kubernetes.io/name: NAME-controller
    spec:
      containers:
        - name: controller
          image: example.com/NAME-controller:0.1.0
`
