package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/client"
)

var crashSeed = flag.Uint64("crash.seed", 0, "seed of TestCrashSafety's kill times and bundles; 0 takes one from the clock, and the seed used is printed on failure")

// The bounds of TestCrashSafety.
const (
	crashRounds  = 20
	crashWorkers = 8
	// crashMinRun and crashMaxRun bound how long each round publishes
	// before capd is killed.
	crashMinRun = 100 * time.Millisecond
	crashMaxRun = 800 * time.Millisecond
	// crashPerRound bounds the versions one worker publishes in a round.
	crashPerRound = 40
	// crashCallTimeout bounds every call a worker makes.
	crashCallTimeout = 10 * time.Second
	// crashYankEvery is how many acknowledged publishes a worker makes
	// between two yanks of its previous version.
	crashYankEvery = 4
)

// crashState is what the test expects of one version.
type crashState struct {
	p packed
	// acked is set once capd acknowledged the publish; until then the
	// version may or may not be visible.
	acked bool
	// yanked is the state capd last acknowledged; yankUnsure is set when
	// a yank was sent but not acknowledged, until a check reads whether a
	// kill cut it before or after its commit.
	yanked, yankUnsure bool
	// pulled is set once the version was pulled whole.
	pulled bool
}

// crashLedger is every version the workers have tried to publish.
type crashLedger struct {
	mu       sync.Mutex
	versions map[string]*crashState // by name@version
	// killed is set just before capd is killed: a failure before it is a
	// bug, one after it is the crash.
	killed atomic.Bool
	errs   []error
}

// fail records an error a worker met while capd was running.
func (l *crashLedger) fail(err error) {
	if l.killed.Load() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

// crashWorker publishes versions of one capability and yanks some.
type crashWorker struct {
	name   string
	rng    *rand.Rand
	next   int
	queue  []packed // tried, not acknowledged: published again first
	acked  int
	latest string // the last version acknowledged
}

// bundle packs the worker's next version: the shared settings layer every
// version has (so publishes reuse stored blobs) and a layer of its own.
func (w *crashWorker) bundle(ctx context.Context) (packed, error) {
	version := fmt.Sprintf("1.%d.0", w.next)
	w.next++
	own := configMap(fmt.Sprintf("v%d", w.next), 200+w.rng.IntN(4000))
	b, err := controllerBundle(ctx, w.name, version, "Published while capd is killed.", []string{"crash"}, configMap("settings", 300), own)
	if err != nil {
		return packed{}, err
	}
	return pack(ctx, b)
}

// round publishes until ctx ends, capd dies or crashPerRound versions,
// retrying first what the last round left unacknowledged.
func (w *crashWorker) round(ctx context.Context, cl *client.Client, l *crashLedger) {
	for range crashPerRound {
		if ctx.Err() != nil {
			return
		}
		if len(w.queue) == 0 {
			p, err := w.bundle(ctx)
			if err != nil {
				l.fail(err)
				return
			}
			l.mu.Lock()
			l.versions[w.name+"@"+p.tag] = &crashState{p: p}
			l.mu.Unlock()
			w.queue = append(w.queue, p)
		}
		p := w.queue[0]
		if !w.publish(ctx, cl, l, p) {
			return
		}
		w.queue = w.queue[1:]
	}
}

// publish publishes p and, every crashYankEvery acknowledgements, yanks
// the version before it. It reports whether capd acknowledged p; a yank
// that fails is recorded, and left for the next check to read.
func (w *crashWorker) publish(ctx context.Context, cl *client.Client, l *crashLedger, p packed) bool {
	ref := w.name + "@" + p.tag
	cctx, cancel := context.WithTimeout(ctx, crashCallTimeout)
	defer cancel()
	v, _, err := cl.PublishContent(cctx, p.store, p.desc)
	for errors.Is(err, client.ErrResourceExhausted) && w.backOff(cctx) {
		// capd takes a bounded number of publishes at once: retry.
		v, _, err = cl.PublishContent(cctx, p.store, p.desc)
	}
	if err != nil {
		l.fail(fmt.Errorf("publish %s: %w", ref, err))
		return false
	}
	if v.GetDigest() != p.desc.Digest.String() {
		l.fail(fmt.Errorf("publish %s acknowledged digest %s, want %s", ref, v.GetDigest(), p.desc.Digest))
	}
	l.mu.Lock()
	l.versions[ref].acked = true
	l.mu.Unlock()
	prev := w.latest
	w.latest, w.acked = p.tag, w.acked+1
	if prev == "" || w.acked%crashYankEvery != 0 {
		return true
	}
	prevRef := w.name + "@" + prev
	l.mu.Lock()
	l.versions[prevRef].yankUnsure = true
	l.mu.Unlock()
	if _, err := cl.Yank(cctx, w.name, prev, "superseded"); err != nil {
		l.fail(fmt.Errorf("yank %s: %w", prevRef, err))
		return true
	}
	l.mu.Lock()
	l.versions[prevRef].yanked, l.versions[prevRef].yankUnsure = true, false
	l.mu.Unlock()
	return true
}

// backOff waits 20 to 100 ms, and reports false when ctx ended first.
func (w *crashWorker) backOff(ctx context.Context) bool {
	t := time.NewTimer(20*time.Millisecond + time.Duration(w.rng.Int64N(int64(80*time.Millisecond))))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// crashListing is one version as capd lists it.
type crashListing struct {
	digest             string
	yanked, deprecated bool
}

// TestCrashSafety publishes with 8 clients into a real capd and kills it
// with SIGKILL at random moments, crashRounds times, restarting it on the
// same data folder. After each restart every acknowledged version must be
// listed with its digest and state and pull whole, and every listed
// version must pull whole (no version is visible without all its
// content). At the end, `capd reindex` must rebuild the same catalog, and
// `capd gc` must leave every version pullable.
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	e := binaries(t)
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("TestCrashSafety seed: rerun with -crash.seed=%d", seed)
		}
	})
	rng := rand.New(rand.NewPCG(seed, 0))
	ctx := deadline(t, 3*time.Minute)
	data := t.TempDir()
	l := &crashLedger{versions: map[string]*crashState{}}
	workers := make([]*crashWorker, crashWorkers)
	for i := range workers {
		workers[i] = &crashWorker{name: fmt.Sprintf("crash-%d", i), rng: rand.New(rand.NewPCG(seed, uint64(i+1)))}
	}
	start := time.Now()
	for r := range crashRounds {
		c := startCapd(t, data, "--log-level", "warn")
		cl := dialCrash(t, c)
		crashCheck(ctx, t, cl, l, workers, rng, fmt.Sprintf("after restart %d", r))
		l.killed.Store(false)
		rctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for _, w := range workers {
			wg.Go(func() { w.round(rctx, cl, l) })
		}
		time.Sleep(crashMinRun + time.Duration(rng.Int64N(int64(crashMaxRun-crashMinRun))))
		l.killed.Store(true)
		c.kill()
		cancel()
		wg.Wait()
		_ = cl.Close()
		if len(l.errs) > 0 {
			t.Fatalf("round %d: calls failed while capd ran: %v", r, errors.Join(l.errs...))
		}
	}
	t.Logf("%d rounds of publishing and SIGKILL in %s", crashRounds, time.Since(start).Round(time.Millisecond))

	// Publish what was never acknowledged, then compare the live index
	// with the one capd reindex rebuilds from content.
	c := startCapd(t, data, "--log-level", "warn")
	cl := dialCrash(t, c)
	crashCheck(ctx, t, cl, l, workers, rng, "after the last restart")
	l.killed.Store(false)
	for _, w := range workers {
		for _, p := range w.queue {
			if !w.publish(ctx, cl, l, p) {
				t.Fatalf("publishing %s@%s again: %v", w.name, p.tag, errors.Join(l.errs...))
			}
		}
		w.queue = nil
	}
	// A yank a kill cut is applied or not, as the check found: the store
	// writes its state record only after the commit, so Reindex below must
	// agree with the live index either way.
	live := crashList(ctx, t, cl, workers)
	if acked := crashAcked(l); len(live) != acked {
		t.Errorf("capd lists %d versions; %d were acknowledged and every one was published again until it was", len(live), acked)
	}
	_ = cl.Close()
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}
	crashRunCapd(ctx, t, e, "reindex", "--data", data)
	c = startCapd(t, data, "--log-level", "warn")
	cl = dialCrash(t, c)
	if rebuilt := crashList(ctx, t, cl, workers); !maps.Equal(live, rebuilt) {
		t.Errorf("after capd reindex the catalog differs:\n%s", crashDiff(live, rebuilt))
	}
	_ = cl.Close()
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}

	// Collect garbage (nothing spared by age), then pull every version.
	t.Log(strings.TrimSpace(crashRunCapd(ctx, t, e, "gc", "--data", data, "--grace", "0")))
	c = startCapd(t, data, "--log-level", "warn")
	cl = dialCrash(t, c)
	defer cl.Close()
	if after := crashList(ctx, t, cl, workers); !maps.Equal(live, after) {
		t.Errorf("after capd gc the catalog differs:\n%s", crashDiff(live, after))
	}
	for _, s := range l.versions {
		s.pulled = false
	}
	crashCheck(ctx, t, cl, l, workers, rng, "after capd gc")
	if err := c.stop(); err != nil {
		t.Error(err)
	}
	t.Logf("%d versions published through %d kills, reindexed, collected and pulled in %s", len(live), crashRounds, time.Since(start).Round(time.Millisecond))
}

// dialCrash connects a client to c.
func dialCrash(t *testing.T, c *capd) *client.Client {
	t.Helper()
	cl, err := client.Dial(c.grpc)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// crashRunCapd runs a capd sub-command and returns its stdout, failing t
// when it does not exit 0.
func crashRunCapd(ctx context.Context, t *testing.T, e *env, args ...string) string {
	t.Helper()
	out, errOut, code, err := run(ctx, e.capd, args...)
	if err != nil || code != 0 {
		t.Fatalf("capd %s: exit %d, %v\n%s%s", strings.Join(args, " "), code, err, out, errOut)
	}
	return out
}

// crashCheck checks what capd lists against the ledger: every
// acknowledged version with its digest and state, every listed version one
// that was published, and pulls whole every listed version not pulled
// before (and a few that were, again).
func crashCheck(ctx context.Context, t *testing.T, cl *client.Client, l *crashLedger, workers []*crashWorker, rng *rand.Rand, when string) {
	t.Helper()
	listed := crashList(ctx, t, cl, workers)
	l.mu.Lock()
	defer l.mu.Unlock()
	for ref, s := range l.versions {
		got, ok := listed[ref]
		switch {
		case !ok && s.acked:
			t.Fatalf("%s: %s was acknowledged but capd does not list it", when, ref)
		case !ok:
			continue
		case got.digest != s.p.desc.Digest.String():
			t.Fatalf("%s: %s is listed as %s, published as %s", when, ref, got.digest, s.p.desc.Digest)
		case s.yankUnsure:
			s.yanked, s.yankUnsure = got.yanked, false
		case got.yanked != s.yanked || got.deprecated:
			t.Fatalf("%s: %s is listed yanked=%v deprecated=%v, want yanked=%v and not deprecated", when, ref, got.yanked, got.deprecated, s.yanked)
		}
		if s.pulled && rng.IntN(20) != 0 {
			continue
		}
		name, version, _ := strings.Cut(ref, "@")
		pulled, err := cl.Pull(ctx, name, version, capabilities.Limits{})
		if err != nil {
			t.Fatalf("%s: %s is listed but does not pull whole: %v", when, ref, err)
		}
		if pulled.Manifest.Digest != s.p.desc.Digest {
			t.Fatalf("%s: %s pulled as %s, published as %s", when, ref, pulled.Manifest.Digest, s.p.desc.Digest)
		}
		s.pulled = true
	}
	for ref := range listed {
		if _, ok := l.versions[ref]; !ok {
			t.Fatalf("%s: capd lists %s, which was never published", when, ref)
		}
	}
}

// crashList lists every version of the workers' capabilities.
func crashList(ctx context.Context, t *testing.T, cl *client.Client, workers []*crashWorker) map[string]crashListing {
	t.Helper()
	out := map[string]crashListing{}
	for _, w := range workers {
		cctx, cancel := context.WithTimeout(ctx, crashCallTimeout)
		vs, err := cl.ListVersions(cctx, w.name)
		cancel()
		if errors.Is(err, client.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("listing %s: %v", w.name, err)
		}
		for _, v := range vs {
			out[w.name+"@"+v.GetVersion()] = crashListing{digest: v.GetDigest(), yanked: v.GetYanked(), deprecated: v.GetDeprecated()}
		}
	}
	return out
}

// crashAcked counts the acknowledged versions.
func crashAcked(l *crashLedger) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.versions {
		if s.acked {
			n++
		}
	}
	return n
}

// crashDiff describes how two listings differ, one line a version.
func crashDiff(want, got map[string]crashListing) string {
	var lines []string
	for _, ref := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[ref]; !ok || g != want[ref] {
			lines = append(lines, fmt.Sprintf("  %s: %+v, want %+v (listed: %v)", ref, g, want[ref], ok))
		}
	}
	for _, ref := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[ref]; !ok {
			lines = append(lines, fmt.Sprintf("  %s: %+v, not listed before", ref, got[ref]))
		}
	}
	return strings.Join(lines, "\n")
}
