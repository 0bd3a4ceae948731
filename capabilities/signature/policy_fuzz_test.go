package signature

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParsePolicy feeds ParsePolicy hostile YAML; the seed corpus in
// testdata/fuzz/FuzzParsePolicy holds alias bombs, deep nesting, odd
// scalars and paths. Every certificate path reads one valid CA, except
// paths containing "missing", which fail.
func FuzzParsePolicy(f *testing.F) {
	ca, err := os.ReadFile(filepath.Join("testdata", "policy", "certs", "registry-ca.pem"))
	if err != nil {
		f.Fatal(err)
	}
	readFile := func(name string) ([]byte, error) {
		if strings.Contains(name, "missing") {
			return nil, fmt.Errorf("open %s: %w", name, os.ErrNotExist)
		}
		return ca, nil
	}
	example, err := os.ReadFile(filepath.Join("testdata", "policy", "example.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Fuzz(func(t *testing.T, data []byte) {
		pol, err := ParsePolicy(data, "trust.yaml", readFile)
		if err != nil {
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("ParsePolicy error %v does not wrap ErrInvalidPolicy", err)
			}
			if pol != nil {
				t.Fatalf("ParsePolicy returned a policy and the error %v", err)
			}
			if !strings.HasPrefix(err.Error(), "trust.yaml:") {
				t.Fatalf("ParsePolicy error %q does not name the file", err)
			}
			return
		}
		if len(pol.Rules) == 0 {
			t.Fatal("ParsePolicy accepted a policy without rules")
		}
		for i, r := range pol.Rules {
			if r.Name == "" || len(r.Match) == 0 || len(r.Registry) == 0 || r.RequireAuthor && len(r.Authors) == 0 {
				t.Fatalf("ParsePolicy accepted rules[%d] = %+v", i, r)
			}
			for _, p := range r.Match {
				if checkPattern(p) != "" {
					t.Fatalf("ParsePolicy accepted the pattern %q", p)
				}
			}
		}
	})
}

// FuzzParseCertificates feeds ParseCertificates hostile PEM.
func FuzzParseCertificates(f *testing.F) {
	ca, err := os.ReadFile(filepath.Join("testdata", "policy", "certs", "registry-ca.pem"))
	if err != nil {
		f.Fatal(err)
	}
	s := string(ca)
	for _, seed := range []string{
		s,
		s + s,
		"# comment\n" + s + "\n\n",
		"",
		"\x00\xff garbage",
		s + "trailing",
		s[:len(s)/2],
		s[:len(s)/2] + s,
		strings.Replace(s, "CERTIFICATE", "PRIVATE KEY", 2),
		strings.Replace(s, "-----END CERTIFICATE-----", "-----END PRIVATE KEY-----", 1),
		strings.ReplaceAll(s, "\n", "\r\n"),
		strings.Replace(s, "M", "!", 1),
		"-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\nMAA=\n-----END CERTIFICATE-----\n",
		"-----BEGIN CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n" + s,
		"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
		"-----BEGIN \x00-----\n-----END \x00-----\n",
		strings.Repeat("-----BEGIN X-----\n", 100),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCertificates(data)
		if err != nil {
			if certs != nil {
				t.Fatalf("ParseCertificates returned certificates and the error %v", err)
			}
			return
		}
		if len(certs) == 0 {
			t.Fatal("ParseCertificates accepted data without certificates")
		}
		for i, c := range certs {
			if c == nil {
				t.Fatalf("ParseCertificates returned a nil certificates[%d]", i)
			}
		}
	})
}
