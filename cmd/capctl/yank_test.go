package main

import (
	"strings"
	"testing"
)

func TestYankAndDeprecate(t *testing.T) {
	t.Parallel()
	addr := mustServe(t)
	dir := mustInit(t, "web", "1.0.0")
	mustCapctl(t, "--server", addr, "push", dir)
	setVersion(t, dir, "1.0.1")
	mustCapctl(t, "--server", addr, "push", dir)
	for _, tc := range []struct {
		args   string
		want   string
		latest string
	}{
		{"yank web@1.0.1 --reason broken", "web@1.0.1: yanked: broken\n", "1.0.0"},
		{"deprecate web@1.0.1 --message later", "web@1.0.1: yanked: broken; deprecated: later\n", "1.0.0"},
		{"yank web@1.0.1 --undo", "web@1.0.1: deprecated: later\n", "1.0.1"},
		{"deprecate web@1.0.1 --undo", "web@1.0.1: active\n", "1.0.1"},
	} {
		out := mustCapctl(t, append([]string{"--server", addr}, strings.Fields(tc.args)...)...)
		if out != tc.want {
			t.Errorf("%s printed %q, want %q", tc.args, out, tc.want)
		}
		if got := rows(mustCapctl(t, "--server", addr, "search", "web"))[1][2]; got != tc.latest {
			t.Errorf("after %s, latest = %s, want %s", tc.args, got, tc.latest)
		}
	}
}

func TestYankAndDeprecateNeedAnExactVersion(t *testing.T) {
	t.Parallel()
	addr := mustServe(t)
	for _, tc := range []struct{ args, want string }{
		{"yank web", "want NAME@VERSION"},
		{"yank web@latest", "want NAME@VERSION"},
		{"deprecate web", "want NAME@VERSION"},
		{"yank web@1.0.0 --undo --reason x", "--reason does not go with --undo"},
		{"deprecate web@1.0.0 --undo --message x", "--message does not go with --undo"},
		{"yank web@1.0.0", "web@1.0.0: not found"},
		{"deprecate web@1.0.0", "web@1.0.0: not found"},
	} {
		_, err := capctl(t, append([]string{"--server", addr}, strings.Fields(tc.args)...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}
