package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestShow(t *testing.T) {
	t.Parallel()
	addr := mustServe(t)
	digest := rows(mustCapctl(t, "--server", addr, "push", builtin("webservice")))[0][1]
	out := mustCapctl(t, "--server", addr, "show", "webservice")
	fields := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if label, value, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, " ") {
			fields[label] = strings.TrimSpace(value)
		}
	}
	for label, want := range map[string]string{
		"Name": "webservice", "Version": "1.0.0", "Kind": "component", "Digest": digest,
		"State": "active", "Kubernetes": ">=1.25.0",
	} {
		if fields[label] != want {
			t.Errorf("%s: %q, want %q", label, fields[label], want)
		}
	}
	for _, want := range []string{
		"\nDependencies:\n", "oam-definitions  ^1.0.0",
		"\nParameters:\nPARAMETER", "\nimage ",
		"\nREADME:\n\n# webservice",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	var v struct {
		Version string `json:"version"`
		Digest  string `json:"digest"`
	}
	if err := json.Unmarshal([]byte(mustCapctl(t, "--server", addr, "show", "webservice@1.0.0", "-o", "json")), &v); err != nil {
		t.Fatal(err)
	}
	if v.Version != "1.0.0" || v.Digest != digest {
		t.Errorf("show -o json = %+v", v)
	}
	if out := mustCapctl(t, "--server", addr, "show", "webservice", "-o", "yaml"); !strings.Contains(out, "digest: "+digest) {
		t.Errorf("show -o yaml lacks the digest:\n%s", out)
	}
	if _, err := capctl(t, "--server", addr, "show", "webservice@9.9.9"); err == nil || err.Error() != "webservice@9.9.9: not found" {
		t.Errorf("show of a missing version: err = %v", err)
	}
}
