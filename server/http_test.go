package server

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// get fetches url and returns the status and body.
func get(t *testing.T, url string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body, resp.Header
}

func TestGateway(t *testing.T) {
	t.Parallel()
	h, ps := seeded(t)
	tests := []struct {
		name string
		path string
		code int
		want string
	}{
		{"list", "/v1/capabilities?kind=KIND_TRAIT", 200, `"name":"capabilities/scaler"`},
		{"list by query", "/v1/capabilities?query=deployment&page_size=10", 200, `"totalSize":`},
		{"get", "/v1/capabilities/webservice", 200, `"latestVersion":"1.0.0"`},
		{"get version", "/v1/capabilities/webservice/versions/1.0.0", 200, `"digest":"` + ps["webservice"].digest},
		{"versions", "/v1/capabilities/scaler/versions", 200, `"version":"1.0.0"`},
		{"unknown capability", "/v1/capabilities/acme/nothing", 404, `"code":5`},
		{"malformed page token", "/v1/capabilities?page_token=nope", 400, `"code":3`},
		{"malformed version", "/v1/capabilities/webservice/versions/one", 400, `"message":"name:`},
		{"openapi", "/openapi.json", 200, `"swagger"`},
		{"health", "/healthz", 200, "ok"},
		{"download unknown", "/v1/capabilities/webservice/versions/2.0.0:download", 404, `"message":`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, body, _ := get(t, h.http.URL+tt.path)
			compact := strings.ReplaceAll(string(body), " ", "")
			if code != tt.code || !strings.Contains(compact, tt.want) {
				t.Fatalf("GET %s = %d %s; want %d containing %s", tt.path, code, body, tt.code, tt.want)
			}
			if code >= 400 && !json.Valid(body) {
				t.Fatalf("error body is not JSON: %s", body)
			}
		})
	}
}

func TestDownload(t *testing.T) {
	t.Parallel()
	h, ps := seeded(t)
	url := h.http.URL + "/v1/capabilities/webservice/versions/latest:download"
	code, body, header := get(t, url)
	if code != 200 || header.Get("Content-Type") != "application/x-tar" {
		t.Fatalf("download = %d %s %s", code, header, body)
	}
	if _, again, _ := get(t, url); !bytes.Equal(body, again) {
		t.Error("two downloads of one version differ")
	}
	files := map[string][]byte{}
	var names []string
	tr := tar.NewReader(bytes.NewReader(body))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		files[hdr.Name] = data
		if hdr.Typeflag == tar.TypeReg && strings.HasPrefix(hdr.Name, "blobs/sha256/") {
			if d := digest.FromBytes(data); d.Encoded() != strings.TrimPrefix(hdr.Name, "blobs/sha256/") {
				t.Errorf("%s holds content of digest %s", hdr.Name, d)
			}
		}
	}
	want := ps["webservice"]
	if names[0] != "oci-layout" || names[1] != "index.json" {
		t.Errorf("entries = %v; want oci-layout and index.json first", names)
	}
	if !bytes.Contains(files["index.json"], []byte(want.digest)) || !bytes.Contains(files["index.json"], []byte(`"1.0.0"`)) {
		t.Errorf("index.json = %s; want the manifest tagged 1.0.0", files["index.json"])
	}
	if m := files["blobs/sha256/"+strings.TrimPrefix(want.digest, "sha256:")]; !bytes.Equal(m, want.manifest) {
		t.Errorf("manifest blob = %s; want the published manifest", m)
	}
	var total int
	for _, n := range names {
		if strings.HasPrefix(n, "blobs/sha256/") && n != "blobs/sha256/" {
			total += len(files[n])
		}
	}
	if total != len(want.manifest)+len(want.payload) {
		t.Errorf("blobs hold %d bytes; want %d", total, len(want.manifest)+len(want.payload))
	}
}
