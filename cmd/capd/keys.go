package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/capcenter/capcenter/capabilities/signature"
)

// The local key folder, DATA/keys: a root CA that never leaves the
// machine, the signing key it issued, and the certificates of signing keys
// rotated out, which stay published so that older signatures keep
// verifying.
const (
	keysDir         = "keys"
	caKeyFile       = "ca.key"
	caCertFile      = "ca.crt"
	signingKeyFile  = "signing.key"
	signingCertFile = "signing.crt"
	previousDir     = "previous"
)

// errKeysExist is returned by keys init when the folder already has keys.
var errKeysExist = errors.New("keys already exist")

// localKeys is the key folder of one data folder.
type localKeys struct{ dir string }

func keysIn(data string) localKeys { return localKeys{dir: filepath.Join(data, keysDir)} }

func (k localKeys) path(name string) string { return filepath.Join(k.dir, name) }

// exists reports whether the folder holds a signing key.
func (k localKeys) exists() bool {
	_, err := os.Stat(k.path(signingKeyFile))
	return err == nil
}

// init creates a local CA and a signing key it issues. It fails with
// errKeysExist when any key or certificate is already there (a CA that
// clients trust is never replaced behind their back), and when a file
// cannot be written.
func (k localKeys) init() (*signature.KeyPair, error) {
	for _, f := range []string{caKeyFile, caCertFile, signingKeyFile, signingCertFile} {
		if _, err := os.Lstat(k.path(f)); !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w: remove the folder's keys to start over (clients that trust its CA will stop verifying)", k.path(f), errKeysExist)
		}
	}
	if err := os.MkdirAll(k.dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(k.dir, 0o700); err != nil {
		return nil, err
	}
	ca, err := signature.NewCA(signature.CertOptions{CommonName: "capd local CA", Organization: "capcenter"})
	if err != nil {
		return nil, err
	}
	if err := writeKeyPair(k.path(caKeyFile), k.path(caCertFile), ca); err != nil {
		return nil, err
	}
	return k.issue(ca)
}

// issue issues a new signing key from ca and writes it, replacing the
// current one.
func (k localKeys) issue(ca *signature.KeyPair) (*signature.KeyPair, error) {
	kp, err := signature.Issue(ca, signature.CertOptions{
		CommonName:   "capd signing " + time.Now().UTC().Format("2006-01-02T15:04:05Z"),
		Organization: "capcenter",
	})
	if err != nil {
		return nil, err
	}
	return kp, writeKeyPair(k.path(signingKeyFile), k.path(signingCertFile), kp)
}

// rotate moves the current signing certificate to previous/ (its key is
// deleted) and issues a new signing key from the local CA. It fails when
// the folder has no local CA key (keys configured by flag are rotated by
// whoever issued them) or a file cannot be read or written.
func (k localKeys) rotate() (old, cur *signature.KeyPair, err error) {
	ca, err := readKeyPair(k.path(caKeyFile), k.path(caCertFile))
	if err != nil {
		return nil, nil, fmt.Errorf("rotate needs the local CA that `capd keys init` creates: %w", err)
	}
	old, err = readKeyPair(k.path(signingKeyFile), k.path(signingCertFile))
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(k.path(previousDir), 0o700); err != nil {
		return nil, nil, err
	}
	keep := filepath.Join(k.path(previousDir), fmt.Sprintf("%s-%s.crt", old.Leaf().NotBefore.UTC().Format("20060102T150405Z"), signature.Fingerprint(old.Leaf())[:16]))
	if err := writeAtomic(keep, signature.EncodeCertificates(old.Chain...), 0o644); err != nil {
		return nil, nil, err
	}
	if cur, err = k.issue(ca); err != nil {
		return nil, nil, err
	}
	return old, cur, nil
}

// previous returns the certificates in previous/, oldest file first.
func (k localKeys) previous() ([]*x509.Certificate, error) {
	entries, err := os.ReadDir(k.path(previousDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".crt") {
			continue
		}
		p := k.path(filepath.Join(previousDir, e.Name()))
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		cs, err := signature.ParseCertificates(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		certs = append(certs, cs...)
	}
	return certs, nil
}

// writeKeyPair replaces the key and certificate files, each atomically
// (written beside, synced, renamed), the certificate last: a crash between
// the two renames leaves a key that does not match its certificate, which
// capd refuses at start with a message naming both files.
func writeKeyPair(keyPath, certPath string, kp *signature.KeyPair) error {
	key, err := signature.EncodeKey(kp.Key)
	if err != nil {
		return err
	}
	if err := writeAtomic(keyPath, key, 0o600); err != nil {
		return err
	}
	return writeAtomic(certPath, signature.EncodeCertificates(kp.Chain...), 0o644)
}

// writeAtomic writes data to path through a temporary file in the same
// folder, with mode perm whatever the umask or an older file said.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

func readKeyPair(keyPath, certPath string) (*signature.KeyPair, error) {
	key, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	cert, err := os.ReadFile(certPath)
	if err != nil {
		return nil, err
	}
	if filepath.Base(keyPath) == caKeyFile {
		return signature.ParseCA(key, keyPath, cert, certPath)
	}
	return signature.ParseKeyPair(key, keyPath, cert, certPath)
}

// loadSigner returns the signer capd serves with and the certificates of
// earlier keys: the files --signing-key and --signing-cert name when set,
// else the data folder's local keys, created on first use. It fails when
// only one of the two flags is set or the keys do not load.
func loadSigner(cfg config, log *slog.Logger) (*signature.Signer, []*x509.Certificate, error) {
	local := keysIn(cfg.data)
	var kp *signature.KeyPair
	var err error
	switch {
	case (cfg.signingKey == "") != (cfg.signingCert == ""):
		return nil, nil, errors.New("--signing-key and --signing-cert go together")
	case cfg.signingKey != "":
		kp, err = readKeyPair(cfg.signingKey, cfg.signingCert)
	case local.exists():
		kp, err = readKeyPair(local.path(signingKeyFile), local.path(signingCertFile))
	default:
		kp, err = local.init()
		if err == nil {
			log.Warn("no signing key configured: created a local CA and signing key; trust it with `capctl trust fetch`",
				"dir", local.dir, "ca", signature.Fingerprint(kp.Root()))
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("signing key: %w", err)
	}
	signer, err := signature.NewSigner(kp)
	if err != nil {
		return nil, nil, fmt.Errorf("signing key: %w", err)
	}
	if cfg.signingKey != "" {
		// Keys from another PKI: the local folder's retired certificates
		// (and its CA) are not this server's to publish.
		return signer, nil, nil
	}
	previous, err := local.previous()
	if err != nil {
		return nil, nil, fmt.Errorf("previous certificates: %w", err)
	}
	return signer, previous, nil
}

// keysCommand runs `capd keys init` or `capd keys rotate` on cfg.data.
func keysCommand(cfg config, stdout io.Writer) error {
	k := keysIn(cfg.data)
	switch cfg.keysAction {
	case "init":
		kp, err := k.init()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "capd: created a local CA and a signing key in %s\n", k.dir)
		printCert(stdout, "CA", kp.Root())
		printCert(stdout, "signing", kp.Leaf())
	case "rotate":
		old, cur, err := k.rotate()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "capd: rotated the signing key in %s; restart capd to sign with the new one\n", k.dir)
		printCert(stdout, "retired", old.Leaf())
		printCert(stdout, "signing", cur.Leaf())
		printCert(stdout, "CA", cur.Root())
	default:
		return fmt.Errorf("unknown keys action %q: want init or rotate", cfg.keysAction)
	}
	return nil
}

func printCert(w io.Writer, label string, c *x509.Certificate) {
	fmt.Fprintf(w, "  %-8s %s\n           SHA-256 %s, valid until %s\n", label, c.Subject, signature.Fingerprint(c), c.NotAfter.UTC().Format(time.DateOnly))
}
