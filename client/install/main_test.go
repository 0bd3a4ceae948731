package install_test

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// kubeVersion is the control plane hack/kube-assets.sh builds.
const kubeVersion = "v1.35.4"

// Started once for the whole test binary by TestMain.
var (
	testEnv    *envtest.Environment
	restConfig *rest.Config
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

// runTests starts one API server and etcd for every test, or fails: the
// installer is tested against a real API server only, never skipped.
func runTests(m *testing.M) int {
	dir, err := assetsDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	testEnv = &envtest.Environment{BinaryAssetsDirectory: dir, ControlPlaneStartTimeout: 2 * time.Minute}
	start := time.Now()
	restConfig, err = testEnv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: start envtest:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "envtest: control plane from %s started in %s\n", dir, time.Since(start).Round(time.Millisecond))
	code := m.Run()
	if err := testEnv.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop envtest:", err)
	}
	return code
}

// assetsDir is $KUBEBUILDER_ASSETS, or .tmp/kube/<version> at the repository
// root; it fails when kube-apiserver or etcd is missing there.
func assetsDir() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, ".tmp", "kube", kubeVersion)
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return "", fmt.Errorf("envtest binaries missing (%w): run hack/kube-assets.sh to build them into .tmp/kube/%s, or set KUBEBUILDER_ASSETS", err, kubeVersion)
		}
	}
	return dir, nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// applyRecorder records, in order, the server-side apply requests made
// through a rest.Config it wraps, as "PATH" (plus " dryRun" for dry runs).
type applyRecorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *applyRecorder) add(req *http.Request) {
	if req.Method != http.MethodPatch || !strings.HasPrefix(req.Header.Get("Content-Type"), "application/apply-patch") {
		return
	}
	call := req.URL.Path
	if req.URL.Query().Has("dryRun") {
		call += " dryRun"
	}
	r.mu.Lock()
	r.calls = append(r.calls, call)
	r.mu.Unlock()
}

func (r *applyRecorder) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func (r *applyRecorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = nil
}

// recordingTransport feeds an applyRecorder; each client built from a
// recording config has its own, over its own transport.
type recordingTransport struct {
	rec  *applyRecorder
	next http.RoundTripper
}

func (t recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.rec.add(req)
	return t.next.RoundTrip(req)
}

// recording returns a copy of cfg whose applies rec records.
func recording(cfg *rest.Config) (*rest.Config, *applyRecorder) {
	rec := &applyRecorder{}
	c := rest.CopyConfig(cfg)
	c.Wrap(func(rt http.RoundTripper) http.RoundTripper { return recordingTransport{rec, rt} })
	return c, rec
}
