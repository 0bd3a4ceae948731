package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/client/install"
)

// BenchmarkInstall20 installs 20 capabilities (the built-ins and three
// scaffolded ones) into a real API server with capctl install — resolve,
// pull, verify, check, apply in tiers, record — and, on a second API
// server in the same run, applies the same objects with kubectl apply
// --server-side the way a person would: CRDs and namespaces, kubectl wait
// for the CRDs, then the rest. It records both times and the ratio.
func BenchmarkInstall20(b *testing.B) {
	e := binaries(b)
	kubectl := filepath.Join(e.root, ".tmp", "kube", kubeVersion, "kubectl")
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		kubectl = filepath.Join(dir, "kubectl")
	}
	d := startCapd(b, b.TempDir(), "--log-level", "warn")
	u := &user{e: e, server: d.grpc, policy: filepath.Join(b.TempDir(), "trust.yaml")}
	var names []string
	var bundles []*capabilities.Bundle
	dirs := make([]string, 0, 20)
	for _, n := range builtinNames() {
		dirs = append(dirs, builtinDir(e, n))
	}
	for _, n := range []string{"acme/bench-a", "acme/bench-b", "acme/bench-c"} {
		dir := filepath.Join(b.TempDir(), "bundle")
		u.mustCapctl(b, "init", n, "--dir", dir)
		dirs = append(dirs, dir)
	}
	for _, dir := range dirs {
		u.mustCapctl(b, "push", dir)
		bl := loadDir(b, dir)
		bundles = append(bundles, bl)
		names = append(names, bl.Metadata.Name)
	}
	if len(names) != 20 {
		b.Fatalf("%d capabilities, want 20", len(names))
	}
	u.mustCapctl(b, "trust", "fetch", "--yes")

	capctlCluster := startCluster(b, e)
	start := time.Now()
	u.mustCapctl(b, append([]string{"install", "--kubeconfig", capctlCluster}, names...)...)
	capctlTime := time.Since(start)

	// The same objects for kubectl: CRDs and namespaces first, then the rest.
	var first, rest bytes.Buffer
	first.WriteString("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + install.DefaultDefinitionNamespace + "\n")
	for _, bl := range bundles {
		objs, err := install.Objects(install.Item{Name: bl.Metadata.Name, Version: bl.Metadata.Version, Bundle: bl}, install.DefaultDefinitionNamespace)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range objs {
			data, err := yaml.Marshal(o.Object)
			if err != nil {
				b.Fatal(err)
			}
			dst := &rest
			if slices.Contains([]string{"CustomResourceDefinition", "Namespace"}, o.GetKind()) {
				dst = &first
			}
			dst.WriteString("---\n")
			dst.Write(data)
		}
	}
	files := b.TempDir()
	firstFile, restFile := filepath.Join(files, "first.yaml"), filepath.Join(files, "rest.yaml")
	if err := os.WriteFile(firstFile, first.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(restFile, rest.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	kubectlCluster := startCluster(b, e)
	start = time.Now()
	for _, args := range [][]string{
		{"apply", "--server-side", "--field-manager", "bench", "-f", firstFile},
		{"wait", "--for", "condition=established", "--timeout", "60s", "crd", "--all"},
		{"apply", "--server-side", "--field-manager", "bench", "-f", restFile},
	} {
		out, errOut, code, err := run(b.Context(), kubectl, append([]string{"--kubeconfig", kubectlCluster}, args...)...)
		if err != nil || code != 0 {
			b.Fatalf("kubectl %v: exit %d, %v\n%s%s", args, code, err, out, errOut)
		}
	}
	kubectlTime := time.Since(start)

	ratio := capctlTime.Seconds() / kubectlTime.Seconds()
	b.ReportMetric(capctlTime.Seconds(), "capctl-s")
	b.ReportMetric(kubectlTime.Seconds(), "kubectl-s")
	record("install 20 capabilities into a real API server (s)",
		fmt.Sprintf("%.2f (capctl install)", capctlTime.Seconds()),
		fmt.Sprintf("%.2f (kubectl apply --server-side; capctl %.1f×)", kubectlTime.Seconds(), ratio),
		"≤ 1.0×: "+met(ratio <= 1.0))
}
