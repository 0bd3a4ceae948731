package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSearch(t *testing.T) {
	t.Parallel()
	addr := mustServe(t)
	mustCapctl(t, "--server", addr, "push", builtin("webservice"), builtin("worker"), builtin("scaler"), builtin("hpa"))
	for _, tc := range []struct {
		args  []string
		names []string
	}{
		{nil, []string{"hpa", "scaler", "webservice", "worker"}},
		{[]string{"--kind", "trait"}, []string{"hpa", "scaler"}},
		{[]string{"--limit", "3"}, []string{"hpa", "scaler", "webservice"}},
		{[]string{"--kind", "component", "--limit", "1"}, []string{"webservice"}},
		{[]string{"--keyword", "deployment", "--kind", "component"}, []string{"webservice", "worker"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			rs := rows(mustCapctl(t, append([]string{"--server", addr, "search"}, tc.args...)...))
			if strings.Join(rs[0], " ") != "NAME KIND LATEST DESCRIPTION" {
				t.Errorf("header = %v", rs[0])
			}
			var names []string
			for _, r := range rs[1:] {
				names = append(names, r[0])
				if r[2] != "1.0.0" {
					t.Errorf("row %v: want LATEST 1.0.0", r)
				}
			}
			if strings.Join(names, ",") != strings.Join(tc.names, ",") {
				t.Errorf("found %v, want %v", names, tc.names)
			}
		})
	}
	rs := rows(mustCapctl(t, "--server", addr, "search", "scale", "--kind", "trait"))
	if len(rs) < 2 || rs[1][0] != "hpa" && rs[1][0] != "scaler" || rs[1][1] != "trait" {
		t.Errorf("search scale --kind trait = %v, want scaling traits", rs)
	}
	var list []struct {
		Capability    string `json:"capability"`
		Kind          string `json:"kind"`
		LatestVersion string `json:"latestVersion"`
	}
	if err := json.Unmarshal([]byte(mustCapctl(t, "--server", addr, "search", "-o", "json", "--limit", "1")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Capability != "hpa" || list[0].Kind != "KIND_TRAIT" || list[0].LatestVersion != "1.0.0" {
		t.Errorf("search -o json = %+v", list)
	}
}

func TestSearchRefusesBadFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ args, want string }{
		{"--sort size", `--sort "size"`},
		{"--kind workflow", `--kind "workflow"`},
		{"--limit -1", "--limit -1"},
		{"-o xml", `-o "xml"`},
	} {
		_, err := capctl(t, append([]string{"--server", "127.0.0.1:1", "search"}, strings.Fields(tc.args)...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("search %s: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}
