package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
	"github.com/capcenter/capcenter/server/auth"
)

// TestTokenReload runs capd with a token file and anonymous read off,
// replaces the file and sends SIGHUP: the removed token is then refused
// and the added one works. A file that does not parse, sent the same way,
// changes nothing and is named in the log; the log never holds a token.
func TestTokenReload(t *testing.T) {
	t.Parallel()
	e := binaries(t)
	file := filepath.Join(t.TempDir(), "tokens.yaml")
	out, errOut, code, err := run(t.Context(), e.capd, "token", "create", "--name", "old", "--scope", "read", "--file", file)
	if err != nil || code != 0 {
		t.Fatalf("capd token create: %d, %v\n%s", code, err, errOut)
	}
	old := strings.TrimSpace(out)
	d := startCapd(t, t.TempDir(), "--tokens", file, "--anonymous-read=false")
	client := dial(t, d.grpc)
	list := func(token string) codes.Code {
		ctx, cancel := context.WithTimeout(t.Context(), requestTimeout)
		defer cancel()
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		_, err := client.ListCapabilities(ctx, &capcenterv1.ListCapabilitiesRequest{})
		return status.Code(err)
	}
	hangUp := func(want string) {
		t.Helper()
		before := strings.Count(d.logs.String(), want)
		if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(requestTimeout); strings.Count(d.logs.String(), want) == before; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in capd's log after SIGHUP:\n%s", want, d.logs)
			}
		}
	}
	if c := list(old); c != codes.OK {
		t.Fatalf("the old token before the reload: %s", c)
	}

	fresh, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	data, err := auth.AddToken(nil, auth.Entry{Name: "new", SHA256: auth.Hash(fresh), Scopes: []string{auth.ScopeRead}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	hangUp("token file reloaded")
	if c := list(old); c != codes.Unauthenticated {
		t.Errorf("the removed token after the reload: %s, want Unauthenticated", c)
	}
	if c := list(fresh); c != codes.OK {
		t.Errorf("the added token after the reload: %s, want OK", c)
	}

	if err := os.WriteFile(file, []byte("version: 1\ntokens:\n  - name: broken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hangUp("token file not reloaded")
	if c := list(fresh); c != codes.OK {
		t.Errorf("the token after a refused reload: %s, want OK (the old tokens kept)", c)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	logs := d.logs.String()
	_, reloaded, _ := strings.Cut(logs, "token file reloaded")
	if reloaded, _, _ = strings.Cut(reloaded, "\n"); !strings.Contains(reloaded, "tokens=1") || !strings.Contains(logs, file+": line 3") {
		t.Errorf("the log lacks the count of tokens or the refused file and line:\n%s", logs)
	}
	for _, secret := range []string{old, fresh, auth.Hash(old), auth.Hash(fresh)} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a token or a hash:\n%s", logs)
		}
	}
}
