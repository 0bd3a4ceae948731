package main

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capcenter/capcenter/capabilities/signature"
)

func TestKeysInitRotateAndLoad(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	var out bytes.Buffer
	if err := keysCommand(config{data: data, keysAction: "init"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{caKeyFile, caCertFile, signingKeyFile, signingCertFile} {
		if _, err := os.Stat(filepath.Join(data, keysDir, f)); err != nil {
			t.Errorf("keys init did not write %s: %v", f, err)
		}
	}
	if info, err := os.Stat(filepath.Join(data, keysDir, signingKeyFile)); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the signing key is not private to its owner: %v, %v", info.Mode(), err)
	}
	if err := keysCommand(config{data: data, keysAction: "init"}, &out); !errors.Is(err, errKeysExist) {
		t.Errorf("a second keys init = %v; want errKeysExist", err)
	}
	log := slog.New(slog.DiscardHandler)
	first, previous, err := loadSigner(config{data: data}, log)
	if err != nil || len(previous) != 0 {
		t.Fatalf("loadSigner = %v, %d previous; want the keys init made and none previous", err, len(previous))
	}
	if !strings.Contains(out.String(), signature.Fingerprint(first.KeyPair().Root())) {
		t.Errorf("keys init did not print the CA's fingerprint:\n%s", out.String())
	}

	out.Reset()
	if err := keysCommand(config{data: data, keysAction: "rotate"}, &out); err != nil {
		t.Fatal(err)
	}
	second, previous, err := loadSigner(config{data: data}, log)
	if err != nil {
		t.Fatal(err)
	}
	oldFP, newFP := signature.Fingerprint(first.KeyPair().Leaf()), signature.Fingerprint(second.KeyPair().Leaf())
	switch {
	case oldFP == newFP:
		t.Error("rotate kept the signing certificate")
	case signature.Fingerprint(first.KeyPair().Root()) != signature.Fingerprint(second.KeyPair().Root()):
		t.Error("rotate changed the CA; clients would stop trusting older signatures")
	case len(previous) == 0 || signature.Fingerprint(previous[0]) != oldFP:
		t.Errorf("after rotate, previous certificates = %d; want the retired one first", len(previous))
	case !strings.Contains(out.String(), oldFP) || !strings.Contains(out.String(), newFP):
		t.Errorf("rotate did not print both fingerprints:\n%s", out.String())
	}

	// Keys named by flag win over the folder's.
	key, cert := filepath.Join(data, keysDir, signingKeyFile), filepath.Join(data, keysDir, signingCertFile)
	other := t.TempDir()
	if _, _, err := loadSigner(config{data: other, signingKey: key, signingCert: cert}, log); err != nil {
		t.Errorf("loadSigner with --signing-key/--signing-cert: %v", err)
	}
	if _, err := os.Stat(filepath.Join(other, keysDir)); err == nil {
		t.Error("loadSigner with configured keys created local ones")
	}
	if _, _, err := loadSigner(config{data: other, signingKey: key}, log); err == nil || !strings.Contains(err.Error(), "go together") {
		t.Errorf("--signing-key alone = %v; want an error", err)
	}
	if _, _, err := loadSigner(config{data: other, signingKey: key, signingCert: filepath.Join(data, keysDir, caCertFile)}, log); !errors.Is(err, signature.ErrInvalidKey) {
		t.Errorf("a key with another certificate = %v; want ErrInvalidKey", err)
	}
	if err := keysCommand(config{data: other, keysAction: "rotate"}, &out); err == nil || !strings.Contains(err.Error(), "capd keys init") {
		t.Errorf("rotate without a local CA = %v; want a pointer to keys init", err)
	}

	// A folder that lost its signing key keeps its CA: capd refuses to
	// start rather than make a new CA no client trusts.
	if err := os.Remove(filepath.Join(data, keysDir, signingKeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadSigner(config{data: data}, log); !errors.Is(err, errKeysExist) {
		t.Errorf("loadSigner without the signing key = %v; want errKeysExist, the CA kept", err)
	}
	if got := readFileOrEmpty(filepath.Join(data, keysDir, caCertFile)); !strings.Contains(got, "CERTIFICATE") {
		t.Error("the CA certificate is gone")
	}
}

func readFileOrEmpty(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}
