package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"
)

// Bounds on waiting for the processes the tests start.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 20 * time.Second
	// requestTimeout bounds every single request a test makes.
	requestTimeout = 30 * time.Second
)

// httpClient is the only HTTP client the tests use: loopback, bounded.
var httpClient = &http.Client{Timeout: requestTimeout}

// env is what every test and benchmark of the package shares: the binaries,
// built once, and the fixtures TestMain tears down after the last one.
type env struct {
	once     sync.Once
	err      error
	root     string // the repository root
	bin      string // a temporary folder holding capd and capctl
	capd     string
	capctl   string
	toolsMu  sync.Mutex
	mu       sync.Mutex
	teardown []func()
}

var shared = &env{}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	shared.close()
	printSummary(os.Stdout)
	os.Exit(code)
}

// binaries builds capd and capctl the first time it is called and returns
// the shared environment; it fails tb when they do not build.
func binaries(tb testing.TB) *env {
	tb.Helper()
	shared.once.Do(func() { shared.err = shared.build() })
	if shared.err != nil {
		tb.Fatalf("building the binaries: %v", shared.err)
	}
	return shared
}

func (e *env) build() error {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return err
	}
	e.root = root
	if e.bin, err = os.MkdirTemp("", "capcenter-e2e-bin-"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", e.bin+string(filepath.Separator), "./cmd/capd", "./cmd/capctl")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/capd ./cmd/capctl: %w\n%s", err, out)
	}
	e.capd = filepath.Join(e.bin, "capd")
	e.capctl = filepath.Join(e.bin, "capctl")
	return nil
}

// tool returns the path of a tool pinned in hack/tools.sh, installing it
// into .tmp/bin when it is missing; it fails tb when it cannot.
func (e *env) tool(tb testing.TB, name string) string {
	tb.Helper()
	e.toolsMu.Lock()
	defer e.toolsMu.Unlock()
	path := filepath.Join(e.root, ".tmp", "bin", name)
	if _, err := os.Stat(path); err == nil {
		return path
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(e.root, "hack", "tools.sh"), name)
	cmd.Dir = e.root
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s is not in .tmp/bin and `hack/tools.sh %s` failed (it needs the Go module proxy): %v\n%s", name, name, err, out)
	}
	if _, err := os.Stat(path); err != nil {
		tb.Fatalf("hack/tools.sh %s did not install %s: %v", name, path, err)
	}
	return path
}

// atExit registers f to run once every test and benchmark has finished.
func (e *env) atExit(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.teardown = append(e.teardown, f)
}

func (e *env) close() {
	e.mu.Lock()
	fs := e.teardown
	e.teardown = nil
	e.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
	if e.bin != "" {
		_ = os.RemoveAll(e.bin)
	}
}

// run runs one of the binaries with a bounded time and returns its stdout,
// stderr and exit code; err is set only when it could not run at all.
func run(ctx context.Context, bin string, args ...string) (stdout, stderr string, code int, err error) {
	return runEnv(ctx, nil, bin, args...)
}

// runEnv is run with environ as the process's environment (nil: this
// process's).
func runEnv(ctx context.Context, environ []string, bin string, args ...string) (stdout, stderr string, code int, err error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr, cmd.Env = &out, &errb, environ
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && ctx.Err() == nil {
		return out.String(), errb.String(), exit.ExitCode(), nil
	}
	return out.String(), errb.String(), 0, err
}

// lockedBuffer collects a process's output from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a server the tests started: capd or the peer registry.
type process struct {
	name    string
	cmd     *exec.Cmd
	logs    *lockedBuffer
	exited  chan struct{}
	waitErr error
}

func startProcess(name, bin string, args []string, stdout io.Writer) (*process, error) {
	p := &process{name: name, logs: &lockedBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.CommandContext(context.Background(), bin, args...)
	p.cmd.Stdout = io.MultiWriter(p.logs, stdout)
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// pid is the process id, for reading its memory use.
func (p *process) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits for the process to exit; it fails when the
// process does not exit in time or exits with an error.
func (p *process) stop() error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s had already exited: %w\n%s", p.name, p.waitErr, p.logs)
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		p.kill()
		return fmt.Errorf("%s did not exit within %s of SIGTERM\n%s", p.name, stopTimeout, p.logs)
	}
	if p.waitErr != nil {
		return fmt.Errorf("%s exited with %w after SIGTERM\n%s", p.name, p.waitErr, p.logs)
	}
	return nil
}

// kill ends the process at once, if it is still running.
func (p *process) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// capd is a running capd.
type capd struct {
	*process
	data string
	grpc string // host:port
	http string // http://host:port
}

// addrLines finds capd's two "listening on" lines in its stdout.
type addrLines struct {
	mu   sync.Mutex
	part []byte
	grpc string
	http string
	done chan struct{}
}

func (a *addrLines) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.grpc != "" && a.http != "" {
		return len(p), nil
	}
	a.part = append(a.part, p...)
	for {
		i := bytes.IndexByte(a.part, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimSpace(string(a.part[:i]))
		a.part = a.part[i+1:]
		if v, ok := strings.CutPrefix(line, "capd: grpc listening on "); ok {
			a.grpc = v
		}
		if v, ok := strings.CutPrefix(line, "capd: http listening on "); ok {
			a.http = strings.TrimSuffix(v, "/")
		}
		if a.grpc != "" && a.http != "" {
			close(a.done)
			break
		}
	}
	return len(p), nil
}

// launchCapd starts capd on ephemeral loopback ports with data as its
// folder, waits for its addresses and for /healthz to answer 200.
func launchCapd(e *env, data string, extra ...string) (*capd, error) {
	args := append([]string{"--data", data, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, extra...)
	lines := &addrLines{done: make(chan struct{})}
	p, err := startProcess("capd", e.capd, args, lines)
	if err != nil {
		return nil, err
	}
	select {
	case <-lines.done:
	case <-p.exited:
		return nil, fmt.Errorf("capd exited before listening: %w\n%s", p.waitErr, p.logs)
	case <-time.After(startTimeout):
		p.kill()
		return nil, fmt.Errorf("capd printed no addresses within %s\n%s", startTimeout, p.logs)
	}
	c := &capd{process: p, data: data, grpc: lines.grpc, http: lines.http}
	if err := waitHTTP(c.http+"/healthz", p); err != nil {
		p.kill()
		return nil, err
	}
	return c, nil
}

// startCapd is launchCapd for one test: it fails tb when capd does not
// start, and kills capd when the test ends if the test has not stopped it.
func startCapd(tb testing.TB, data string, extra ...string) *capd {
	tb.Helper()
	c, err := launchCapd(binaries(tb), data, extra...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.kill)
	return c
}

// waitHTTP polls url until it answers 200, p exits or startTimeout passes.
func waitHTTP(url string, p *process) error {
	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited while waiting for %s: %w\n%s", p.name, url, p.waitErr, p.logs)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 within %s (last: %w)\n%s", url, startTimeout, err, p.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a loopback port nobody listens on at the moment.
func freePort() (int, error) {
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// peer is a running distribution registry.
type peer struct {
	*process
	addr string // host:port
}

// launchRegistry starts the distribution registry with a temporary
// filesystem root on a loopback port and waits for /v2/ to answer.
func launchRegistry(bin, root string) (*peer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	config := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
`, filepath.Join(root, "storage"), addr)
	path := filepath.Join(root, "config.yml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		return nil, err
	}
	p, err := startProcess("registry", bin, []string{"serve", path}, io.Discard)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP("http://"+addr+"/v2/", p); err != nil {
		p.kill()
		return nil, err
	}
	return &peer{process: p, addr: addr}, nil
}

// rss returns the resident set size of process pid in bytes, from
// /proc/PID/status.
func rss(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// figure is one line of the benchmark summary.
type figure struct {
	name, capd, peer, goal string
}

// summary collects the benchmark figures that TestMain prints at the end.
var summary struct {
	mu   sync.Mutex
	rows []figure
}

// record adds a line to the summary table.
func record(name, capdValue, peerValue, goal string) {
	summary.mu.Lock()
	defer summary.mu.Unlock()
	summary.rows = append(summary.rows, figure{name, capdValue, peerValue, goal})
}

func printSummary(w io.Writer) {
	summary.mu.Lock()
	defer summary.mu.Unlock()
	if len(summary.rows) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nbenchmark storage for both servers: %s\n", *benchDir)
	fmt.Fprintln(tw, "figure\tcapd\tpeer (distribution)\tgoal")
	fmt.Fprintln(tw, "------\t----\t-------------------\t----")
	for _, r := range summary.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.name, r.capd, r.peer, r.goal)
	}
	_ = tw.Flush()
}

// scanLines splits s into trimmed non-empty lines.
func scanLines(s string) []string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
