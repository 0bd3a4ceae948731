package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"oras.land/oras-go/v2"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/client"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

// The length of the load and the seed of its choices.
var (
	loadDuration = flag.Duration("load.duration", time.Minute, "how long TestLoad and BenchmarkLoad run their load (TestLoad with -short: 5s unless this is set)")
	loadSeed     = flag.Uint64("load.seed", 0, "seed of the load's random choices; 0 takes one from the clock, and the seed used is printed")
)

// The shape of the load and its bounds.
const (
	loadReaders = 50
	loadWriters = 8
	// loadShort is the load's length under -short.
	loadShort = 5 * time.Second
	// loadCallTimeout bounds every call the load makes: one that runs out
	// is an error like any other.
	loadCallTimeout = 10 * time.Second
	// loadSamples is how many latencies each kind of call keeps, a uniform
	// sample of all of them.
	loadSamples = 4096
	// loadFirstErrors is how many errors of each kind are kept to report.
	loadFirstErrors = 5
	// loadMaxVersions bounds the versions a writer publishes; past it, the
	// writer only yanks and deprecates.
	loadMaxVersions = 2000
	// loadMaxBody bounds what one HTTP answer may hold.
	loadMaxBody = 8 << 20
	// loadVerifyInFlight is how many pulls check the acknowledged writes at
	// once after the load.
	loadVerifyInFlight = 8
)

// opKind is a kind of call the load makes.
type opKind int

// The kinds of call: reads, then writes.
const (
	opGetVersion opKind = iota
	opSearch
	opListVersions
	opRESTSearch
	opRESTLatest
	opV2Manifest
	opV2Blob
	opPull
	opPublish
	opYank
	opDeprecate
	numOps
)

// opNames names the kinds of call in reports.
var opNames = [numOps]string{
	"gRPC GetVersion", "gRPC ListCapabilities query", "gRPC ListVersions",
	"REST search", "REST latest version", "/v2/ manifest GET", "/v2/ blob GET",
	"gRPC PullBundle", "gRPC PublishBundle", "gRPC Yank/Unyank", "gRPC Deprecate/Undeprecate",
}

// weighted is a kind of read and how often, among the others, it is made.
type weighted struct {
	op     opKind
	weight int
}

// readMix is what the readers of the full load do; pulls are the rarest.
var readMix = []weighted{
	{opGetVersion, 3}, {opSearch, 2}, {opListVersions, 2}, {opRESTSearch, 2},
	{opRESTLatest, 3}, {opV2Manifest, 3}, {opV2Blob, 3}, {opPull, 1},
}

// v2Mix is what the readers do when they compare capd's /v2/ with the peer.
var v2Mix = []weighted{{opV2Manifest, 1}, {opV2Blob, 1}}

// pick draws a kind of read from mix.
func pick(rng *rand.Rand, mix []weighted) opKind {
	total := 0
	for _, w := range mix {
		total += w.weight
	}
	n := rng.IntN(total)
	for _, w := range mix {
		if n < w.weight {
			return w.op
		}
		n -= w.weight
	}
	return mix[len(mix)-1].op
}

// opStats is what the load saw of one kind of call.
type opStats struct {
	mu      sync.Mutex
	n, errs int64
	first   []string        // the first loadFirstErrors errors
	samples []time.Duration // a reservoir sample of the successful calls' latencies
	max     time.Duration
	rng     *rand.Rand
}

// reset empties s; rng draws its reservoir sample.
func (s *opStats) reset(rng *rand.Rand) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n, s.errs, s.first, s.samples, s.max, s.rng = 0, 0, nil, nil, 0, rng
}

// add records one call that took d and failed with err (or not).
func (s *opStats) add(d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	s.max = max(s.max, d)
	if err != nil {
		s.errs++
		if len(s.first) < loadFirstErrors {
			s.first = append(s.first, err.Error())
		}
		return
	}
	// Algorithm R: the ok-th success replaces a sample with probability
	// loadSamples/ok.
	if ok := s.n - s.errs; len(s.samples) < loadSamples {
		s.samples = append(s.samples, d)
	} else if i := s.rng.Int64N(ok); i < loadSamples {
		s.samples[i] = d
	}
}

// opFigures is the summary of one kind of call.
type opFigures struct {
	op            opKind
	n, errs       int64
	rate          float64 // calls a second
	p50, p99, max time.Duration
	first         []string
}

// figures summarizes s over elapsed.
func (s *opStats) figures(op opKind, elapsed time.Duration) opFigures {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := opFigures{op: op, n: s.n, errs: s.errs, rate: float64(s.n) / elapsed.Seconds(), max: s.max, first: slices.Clone(s.first)}
	if len(s.samples) > 0 {
		f.p50, f.p99 = percentiles(slices.Clone(s.samples))
	}
	return f
}

// readTarget is a version the readers read, with what every answer about
// it must say: a built-in, fixed for the whole load, or a writer's newest
// acknowledged version, from which the catalog may only have moved on.
type readTarget struct {
	name, version string
	manifest      digest.Digest
	blobs         []ocispec.Descriptor // built-ins only
	// patch is the writer's version's patch number; -1 for a built-in.
	patch int
}

// load is the mixed load on one server: readers and writers against capd,
// or readers of /v2/ only (against capd or the peer).
type load struct {
	cl      *client.Client // capd's gRPC API; nil when only /v2/ is read
	rest    string         // capd's REST gateway, http://host:port
	v2      string         // the /v2/ API read, http://host:port
	hc      *http.Client
	mix     []weighted
	builtin []readTarget
	writers []*writer
	seed    uint64
	stats   [numOps]opStats
	elapsed time.Duration
}

// newLoad returns a load of mix on the /v2/ API at v2, seeded with seed.
func newLoad(seed uint64, mix []weighted, v2 string) *load {
	l := &load{
		v2:   v2,
		mix:  mix,
		seed: seed,
		hc: &http.Client{Timeout: loadCallTimeout, Transport: &http.Transport{
			MaxIdleConns: 2 * (loadReaders + loadWriters), MaxIdleConnsPerHost: loadReaders + loadWriters,
		}},
	}
	l.resetStats()
	return l
}

// resetStats forgets what the load measured so far.
func (l *load) resetStats() {
	for i := range l.stats {
		l.stats[i].reset(rand.New(rand.NewPCG(l.seed, 1<<32|uint64(i))))
	}
}

// call runs f with a context bounded by loadCallTimeout, and records its
// latency and error as a call of kind op.
func (l *load) call(ctx context.Context, op opKind, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, loadCallTimeout)
	defer cancel()
	start := time.Now()
	err := f(ctx)
	l.stats[op].add(time.Since(start), err)
	return err
}

// run runs the readers and writers until d has passed: each starts no call
// after that, and finishes the one it is making.
func (l *load) run(ctx context.Context, d time.Duration) {
	l.resetStats()
	start := time.Now()
	end := start.Add(d)
	going := func() bool { return ctx.Err() == nil && time.Now().Before(end) }
	var wg sync.WaitGroup
	for i := range loadReaders {
		rng := rand.New(rand.NewPCG(l.seed, uint64(i)))
		wg.Go(func() {
			for going() {
				l.read(ctx, rng)
			}
		})
	}
	for i, w := range l.writers {
		rng := rand.New(rand.NewPCG(l.seed, uint64(loadReaders+i)))
		wg.Go(func() {
			for going() {
				w.write(ctx, l, rng)
			}
		})
	}
	wg.Wait()
	l.elapsed = time.Since(start)
	l.hc.CloseIdleConnections()
}

// target draws what a read asks for: a built-in or, half the time when
// there are writers and the read can take one, a writer's newest version.
func (l *load) target(rng *rand.Rand, op opKind) readTarget {
	if len(l.writers) > 0 && op != opV2Blob && rng.IntN(2) == 0 {
		w := l.writers[rng.IntN(len(l.writers))]
		a := w.latest.Load()
		return readTarget{name: w.name, version: a.version, manifest: a.manifest, patch: a.n}
	}
	return l.builtin[rng.IntN(len(l.builtin))]
}

// read makes one read drawn from the load's mix.
func (l *load) read(ctx context.Context, rng *rand.Rand) {
	op := pick(rng, l.mix)
	t := l.target(rng, op)
	blob := -1
	if op == opV2Blob {
		blob = rng.IntN(len(t.blobs))
	}
	_ = l.call(ctx, op, func(ctx context.Context) error { return l.readOnce(ctx, op, t, blob) })
}

// readOnce makes the read op of t and checks its answer; blob is the index
// of the blob an opV2Blob reads.
func (l *load) readOnce(ctx context.Context, op opKind, t readTarget, blob int) error {
	ref := t.name + "@" + t.version
	switch op {
	case opGetVersion:
		v, err := l.cl.GetVersion(ctx, t.name, t.version)
		if err != nil {
			return err
		}
		return sameVersion(ref, v, t.version, t.manifest)
	case opSearch:
		resp, err := l.cl.ListCapabilities(ctx, client.Query{Text: t.name, PageSize: 100})
		if err != nil {
			return err
		}
		return found(t.name, resp.GetCapabilities())
	case opListVersions:
		vs, err := l.cl.ListVersions(ctx, t.name)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if v.GetVersion() == t.version {
				return sameVersion(ref, v, t.version, t.manifest)
			}
		}
		return fmt.Errorf("ListVersions %s: %d versions, not %s", t.name, len(vs), t.version)
	case opRESTSearch:
		var resp capcenterv1.ListCapabilitiesResponse
		query := url.Values{"query": {t.name}, "page_size": {"100"}}
		if err := l.getProto(ctx, "/v1/capabilities?"+query.Encode(), &resp); err != nil {
			return err
		}
		return found(t.name, resp.GetCapabilities())
	case opRESTLatest:
		var v capcenterv1.Version
		if err := l.getProto(ctx, "/v1/capabilities/"+t.name+"/versions/latest", &v); err != nil {
			return err
		}
		return t.isLatest(&v)
	case opV2Manifest:
		body, err := l.get(ctx, l.v2, "/v2/"+t.name+"/manifests/"+t.version, ocispec.MediaTypeImageManifest)
		if err != nil {
			return err
		}
		return sameBytes("manifest of "+ref, body, ocispec.Descriptor{Digest: t.manifest, Size: int64(len(body))})
	case opV2Blob:
		d := t.blobs[blob]
		body, err := l.get(ctx, l.v2, "/v2/"+t.name+"/blobs/"+d.Digest.String(), "")
		if err != nil {
			return err
		}
		return sameBytes("blob of "+ref, body, d)
	case opPull:
		p, err := l.cl.PullContent(ctx, t.name, t.version, capabilities.Limits{})
		if err != nil {
			return err
		}
		return sameDigest("pull of "+ref, p.Manifest.Digest, t.manifest)
	}
	return fmt.Errorf("%s is not a read", opNames[op])
}

// isLatest checks v, the answer for t's latest version: t itself for a
// built-in, t or a newer version for a writer's.
func (t readTarget) isLatest(v *capcenterv1.Version) error {
	if v.GetCapability() != t.name {
		return fmt.Errorf("latest of %s is %s@%s", t.name, v.GetCapability(), v.GetVersion())
	}
	if t.patch < 0 {
		return sameVersion(t.name+"@latest", v, t.version, t.manifest)
	}
	if n, err := writerPatch(v.GetVersion()); err != nil || n < t.patch {
		return fmt.Errorf("latest of %s is %s, older than the acknowledged %s", t.name, v.GetVersion(), t.version)
	}
	return nil
}

// sameVersion checks that v is version with manifest digest want.
func sameVersion(ref string, v *capcenterv1.Version, version string, want digest.Digest) error {
	if v.GetVersion() != version {
		return fmt.Errorf("%s: answered %s", ref, v.GetVersion())
	}
	return sameDigest(ref, digest.Digest(v.GetDigest()), want)
}

// sameDigest checks got against want.
func sameDigest(what string, got, want digest.Digest) error {
	if got != want {
		return fmt.Errorf("%s: digest %s, want %s", what, got, want)
	}
	return nil
}

// sameBytes checks data against d's digest and size.
func sameBytes(what string, data []byte, d ocispec.Descriptor) error {
	if int64(len(data)) != d.Size {
		return fmt.Errorf("%s: %d bytes, want %d", what, len(data), d.Size)
	}
	return sameDigest(what, digest.FromBytes(data), d.Digest)
}

// found checks that a search for name found it.
func found(name string, cs []*capcenterv1.Capability) error {
	for _, c := range cs {
		if c.GetCapability() == name {
			return nil
		}
	}
	return fmt.Errorf("a search for %q did not find it among %d results", name, len(cs))
}

// get GETs base+path and returns the body of a 200 answer; any other
// status is an error.
func (l *load) get(ctx context.Context, base, path, accept string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := l.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, loadMaxBody))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %.200s", path, resp.StatusCode, body)
	}
	return body, nil
}

// getProto GETs a REST resource of capd and decodes it into m.
func (l *load) getProto(ctx context.Context, path string, m proto.Message) error {
	body, err := l.get(ctx, l.rest, path, "")
	if err != nil {
		return err
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, m); err != nil {
		return fmt.Errorf("GET %s: decoding %.200s: %w", path, body, err)
	}
	return nil
}

// discover reads manifest ref of repository name from the /v2/ API at base,
// checks it against want, and returns it as a read target.
func (l *load) discover(ctx context.Context, base, name, ref string, want digest.Digest) (readTarget, error) {
	ctx, cancel := context.WithTimeout(ctx, loadCallTimeout)
	defer cancel()
	body, err := l.get(ctx, base, "/v2/"+name+"/manifests/"+ref, ocispec.MediaTypeImageManifest)
	if err != nil {
		return readTarget{}, err
	}
	if err := sameDigest("manifest of "+name+"@"+ref, digest.FromBytes(body), want); err != nil {
		return readTarget{}, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return readTarget{}, fmt.Errorf("manifest of %s@%s: %w", name, ref, err)
	}
	blobs := append([]ocispec.Descriptor{m.Config}, m.Layers...)
	return readTarget{name: name, version: ref, manifest: want, blobs: blobs, patch: -1}, nil
}

// writer publishes versions 1.0.0, 1.0.1, … of a capability of its own,
// and now and then yanks or deprecates (or lifts that from) one of them.
type writer struct {
	name string
	// acked are the versions capd acknowledged, oldest first; failed, the
	// versions whose publish failed, which capd may or may not hold. Only
	// the writer's goroutine touches them while the load runs.
	acked  []ackedVersion
	failed map[string]bool
	next   int
	// latest is the newest acknowledged version, for the readers.
	latest atomic.Pointer[ackedVersion]
}

// ackedVersion is a version capd acknowledged, and what it must answer.
type ackedVersion struct {
	n        int // the patch number
	version  string
	manifest digest.Digest
	yanked   bool
	// deprecated is whether the version is deprecated; unsure, whether a
	// yank or deprecation of it failed, leaving its state unknown.
	deprecated, unsure bool
}

// writerPatch parses the patch number of a writer's version.
func writerPatch(version string) (int, error) {
	rest, ok := strings.CutPrefix(version, "1.0.")
	if !ok {
		return 0, fmt.Errorf("%q is not a version a writer publishes", version)
	}
	return strconv.Atoi(rest)
}

// write makes one write: mostly a publish, one time in five (and always
// once the writer has published loadMaxVersions) a yank or deprecation.
func (w *writer) write(ctx context.Context, l *load, rng *rand.Rand) {
	switch {
	case len(w.acked) >= 2 && (rng.IntN(5) == 0 || w.next >= loadMaxVersions):
		w.mark(ctx, l, rng)
	case w.next < loadMaxVersions:
		_ = w.publish(ctx, l, rng)
	default: // nothing left to do: every publish failed
		time.Sleep(100 * time.Millisecond)
	}
}

// publish packs and publishes the writer's next version, a controller
// bundle with one ConfigMap of a random size, and checks capd's answer.
func (w *writer) publish(ctx context.Context, l *load, rng *rand.Rand) error {
	n := w.next
	w.next++
	version := fmt.Sprintf("1.0.%d", n)
	b, err := controllerBundle(ctx, w.name, version, "A capability the load test publishes versions of.",
		[]string{"loadtest"}, configMap("load", 256+rng.IntN(4096)))
	var p packed
	if err == nil {
		p, err = pack(ctx, b)
	}
	if err != nil {
		l.stats[opPublish].add(0, err)
		return err
	}
	err = l.call(ctx, opPublish, func(ctx context.Context) error {
		v, created, err := l.cl.PublishContent(ctx, p.store, p.desc)
		switch {
		case err != nil:
			return err
		case !created:
			return fmt.Errorf("publish %s@%s: acknowledged as already there", w.name, version)
		default:
			return sameVersion("publish "+w.name+"@"+version, v, version, p.desc.Digest)
		}
	})
	if err != nil {
		w.failed[version] = true
		return err
	}
	a := ackedVersion{n: n, version: version, manifest: p.desc.Digest}
	w.acked = append(w.acked, a)
	w.latest.Store(&a)
	return nil
}

// mark yanks or deprecates one of the writer's versions, or lifts that,
// and checks the answer. It never touches the newest version, so that the
// capability's latest version is always the newest acknowledged or a newer
// one.
func (w *writer) mark(ctx context.Context, l *load, rng *rand.Rand) {
	a := &w.acked[rng.IntN(len(w.acked)-1)]
	ref := w.name + "@" + a.version
	op, state := opYank, &a.yanked
	if rng.IntN(2) == 0 {
		op, state = opDeprecate, &a.deprecated
	}
	err := l.call(ctx, op, func(ctx context.Context) error {
		var v *capcenterv1.Version
		var err error
		switch {
		case op == opYank && *state:
			v, err = l.cl.Unyank(ctx, w.name, a.version)
		case op == opYank:
			v, err = l.cl.Yank(ctx, w.name, a.version, "yanked by the load test")
		case *state:
			v, err = l.cl.Undeprecate(ctx, w.name, a.version)
		default:
			v, err = l.cl.Deprecate(ctx, w.name, a.version, "deprecated by the load test")
		}
		if err != nil {
			return err
		}
		if got := v.GetYanked(); op == opYank && got == *state {
			return fmt.Errorf("%s: yanked is still %t", ref, got)
		}
		if got := v.GetDeprecated(); op == opDeprecate && got == *state {
			return fmt.Errorf("%s: deprecated is still %t", ref, got)
		}
		return nil
	})
	if err != nil {
		a.unsure = true
		return
	}
	*state = !*state
}

// verify lists the writer's versions and checks that capd holds every
// acknowledged one, with its digest and its last yank and deprecation, and
// nothing it did not acknowledge but versions whose publish failed.
func (w *writer) verify(ctx context.Context, cl *client.Client) []string {
	ctx, cancel := context.WithTimeout(ctx, loadCallTimeout)
	defer cancel()
	vs, err := cl.ListVersions(ctx, w.name)
	if err != nil {
		return []string{err.Error()}
	}
	listed := map[string]*capcenterv1.Version{}
	for _, v := range vs {
		listed[v.GetVersion()] = v
	}
	var lost []string
	for _, a := range w.acked {
		ref := w.name + "@" + a.version
		v, ok := listed[a.version]
		delete(listed, a.version)
		switch {
		case !ok:
			lost = append(lost, ref+": acknowledged, not listed")
		case v.GetDigest() != a.manifest.String():
			lost = append(lost, fmt.Sprintf("%s: listed with digest %s, acknowledged %s", ref, v.GetDigest(), a.manifest))
		case !a.unsure && (v.GetYanked() != a.yanked || v.GetDeprecated() != a.deprecated):
			lost = append(lost, fmt.Sprintf("%s: yanked %t, deprecated %t; want %t, %t", ref, v.GetYanked(), v.GetDeprecated(), a.yanked, a.deprecated))
		}
	}
	for version := range listed {
		if !w.failed[version] {
			lost = append(lost, w.name+"@"+version+": listed, never published")
		}
	}
	return lost
}

// verifyWrites checks every writer's versions, then pulls every
// acknowledged version, verifying every digest, and returns what is wrong.
func (l *load) verifyWrites(ctx context.Context) []string {
	var mu sync.Mutex
	var lost []string
	type pull struct {
		name string
		a    ackedVersion
	}
	var pulls []pull
	for _, w := range l.writers {
		lost = append(lost, w.verify(ctx, l.cl)...)
		for _, a := range w.acked {
			pulls = append(pulls, pull{w.name, a})
		}
	}
	_, _ = inFlight(len(pulls), loadVerifyInFlight, func(i int) error {
		ctx, cancel := context.WithTimeout(ctx, loadCallTimeout)
		defer cancel()
		ref := pulls[i].name + "@" + pulls[i].a.version
		p, err := l.cl.PullContent(ctx, pulls[i].name, pulls[i].a.version, capabilities.Limits{})
		if err == nil {
			err = sameDigest("pull of "+ref, p.Manifest.Digest, pulls[i].a.manifest)
		}
		if err != nil {
			mu.Lock()
			lost = append(lost, err.Error())
			mu.Unlock()
		}
		return err
	})
	return lost
}

// acked counts the versions the writers got acknowledged.
func (l *load) acked() int {
	n := 0
	for _, w := range l.writers {
		n += len(w.acked)
	}
	return n
}

// capdLoad prepares the full load on d: every capability d holds (the
// built-ins it seeded) as read targets, and loadWriters writers, named
// prefix-0 …, each with its first version published.
func capdLoad(tb testing.TB, d *capd, cl *client.Client, seed uint64, prefix string) *load {
	tb.Helper()
	ctx := tb.Context()
	l := newLoad(seed, readMix, d.http)
	l.cl, l.rest = cl, d.http
	for c, err := range cl.Capabilities(ctx, client.Query{}) {
		if err != nil {
			tb.Fatal(err)
		}
		v, err := cl.GetVersion(ctx, c.GetCapability(), "")
		if err != nil {
			tb.Fatal(err)
		}
		t, err := l.discover(ctx, l.v2, v.GetCapability(), v.GetVersion(), digest.Digest(v.GetDigest()))
		if err != nil {
			tb.Fatal(err)
		}
		l.builtin = append(l.builtin, t)
	}
	if len(l.builtin) == 0 {
		tb.Fatal("capd holds no capability: was it started with --seed-builtin?")
	}
	rng := rand.New(rand.NewPCG(seed, 1<<33))
	for i := range loadWriters {
		w := &writer{name: fmt.Sprintf("%s-%d", prefix, i), failed: map[string]bool{}}
		if err := w.publish(ctx, l, rng); err != nil {
			tb.Fatalf("the first version of %s: %v", w.name, err)
		}
		l.writers = append(l.writers, w)
	}
	return l
}

// figures summarizes every kind of call the load made.
func (l *load) figures() []opFigures {
	var fs []opFigures
	for op := range numOps {
		if f := l.stats[op].figures(op, l.elapsed); f.n > 0 {
			fs = append(fs, f)
		}
	}
	return fs
}

// total sums the calls and rates of the figures of kinds in [from, to).
func total(fs []opFigures, from, to opKind) (n, errs int64, rate float64) {
	for _, f := range fs {
		if f.op >= from && f.op < to {
			n, errs, rate = n+f.n, errs+f.errs, rate+f.rate
		}
	}
	return n, errs, rate
}

// table prints the figures, one line a kind of call.
func table(fs []opFigures) string {
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "call\tcalls\tcalls/s\tp50 ms\tp99 ms\tmax ms\terrors\t")
	for _, f := range fs {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.2f\t%.2f\t%.1f\t%d\t\n", opNames[f.op], f.n, f.rate, ms(f.p50), ms(f.p99), ms(f.max), f.errs)
	}
	_ = tw.Flush()
	return sb.String()
}

// loadLength is how long TestLoad runs its load: -load.duration, or
// loadShort under -short when -load.duration is not set.
func loadLength() time.Duration {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "load.duration" })
	if testing.Short() && !set {
		return min(loadShort, *loadDuration)
	}
	return *loadDuration
}

// seedOf returns -load.seed, or one from the clock when it is 0.
func seedOf(tb testing.TB) uint64 {
	tb.Helper()
	seed := *loadSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	tb.Logf("load seed %d (rerun with -load.seed=%d)", seed, seed)
	return seed
}

// capdErrors returns the lines capd logged at level ERROR.
func capdErrors(d *capd) []string {
	var errs []string
	for _, line := range scanLines(d.logs.String()) {
		if strings.Contains(line, "level=ERROR") {
			errs = append(errs, line)
		}
	}
	return errs
}

// TestLoad runs the load on a capd seeded with the built-ins: 50 readers
// reading through gRPC, REST and /v2/, and 8 writers publishing, yanking
// and deprecating, for -load.duration. Every call must succeed within
// loadCallTimeout, every acknowledged write must be listed and pull with
// its digest, and capd must log no error. It is not parallel: it would
// starve the other tests of the CPU, and their load would blur its
// figures.
func TestLoad(t *testing.T) {
	d := startCapd(t, t.TempDir(), "--seed-builtin", "--log-level", "warn")
	cl, err := client.Dial(d.grpc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	l := capdLoad(t, d, cl, seedOf(t), "load-writer")
	length := loadLength()
	t.Logf("%d readers and %d writers for %s on %d built-ins", loadReaders, loadWriters, length, len(l.builtin))
	l.run(t.Context(), length)
	fs := l.figures()
	_, _, reads := total(fs, opGetVersion, opPublish)
	_, _, writes := total(fs, opPublish, numOps)
	t.Logf("%.1f s: %.0f reads/s, %.0f writes/s, %d versions acknowledged\n%s", l.elapsed.Seconds(), reads, writes, l.acked(), table(fs))
	for _, f := range fs {
		if f.errs > 0 {
			t.Errorf("%s: %d of %d calls failed; the first:\n  %s", opNames[f.op], f.errs, f.n, strings.Join(f.first, "\n  "))
		}
	}
	start := time.Now()
	lost := l.verifyWrites(t.Context())
	t.Logf("checked the %d acknowledged versions in %s", l.acked(), time.Since(start).Round(time.Millisecond))
	if len(lost) > 0 {
		t.Errorf("%d lost or wrong writes; the first:\n  %s", len(lost), strings.Join(lost[:min(len(lost), 10)], "\n  "))
	}
	if n, err := rss(d.pid()); err == nil {
		t.Logf("capd RSS after the load: %.0f MiB", float64(n)/mib)
	}
	if errs := capdErrors(d); len(errs) > 0 {
		t.Errorf("capd logged %d errors; the first:\n  %s", len(errs), strings.Join(errs[:min(len(errs), 5)], "\n  "))
	}
	if err := d.stop(); err != nil {
		t.Error(err)
	}
}

// BenchmarkLoad runs TestLoad's load on capd for -load.duration and
// records the rate and latency of every kind of call, then has the 50
// readers GET /v2/ manifests and blobs only, from capd and then from the
// peer holding the same content, for a quarter of that each. Like the
// other benchmarks it reports and never fails: errors and lost writes show
// in the goal column and in the log.
func BenchmarkLoad(b *testing.B) {
	pr := benchPair(b, "--seed-builtin")
	seed := seedOf(b)
	var l *load
	var lost []string
	for i := range b.N {
		b.StopTimer()
		l = capdLoad(b, pr.d, pr.cl, seed, fmt.Sprintf("load-%d", i))
		b.StartTimer()
		l.run(b.Context(), *loadDuration)
		b.StopTimer()
		lost = l.verifyWrites(b.Context())
		b.StartTimer()
	}
	fs := l.figures()
	_, readErrs, reads := total(fs, opGetVersion, opPublish)
	_, writeErrs, writes := total(fs, opPublish, numOps)
	b.Logf("%.1f s: %d versions acknowledged\n%s", l.elapsed.Seconds(), l.acked(), table(fs))
	reportLoadErrors(b, fs, lost)
	b.ReportMetric(reads, "reads/s")
	b.ReportMetric(writes, "writes/s")
	record(fmt.Sprintf("load: %d readers + %d writers, %s (reads/s, writes/s)", loadReaders, loadWriters, *loadDuration),
		fmt.Sprintf("%.0f, %.0f", reads, writes), "-",
		"no error, no lost write: "+met(readErrs+writeErrs == 0 && len(lost) == 0))
	for _, f := range fs {
		record("load: "+opNames[f.op]+" (calls/s, p50 / p99 ms)", perCall(f), "-", "-")
	}
	compareV2(b, pr, l)
}

// compareV2 runs the /v2/ reads of l's built-ins alone on capd, then on the
// peer, once oras-go has copied the built-ins there from capd, and records
// both side by side.
func compareV2(b *testing.B, pr *pair, full *load) {
	b.Helper()
	ctx := b.Context()
	peerHost := pr.p.addr
	capdHost := strings.TrimPrefix(pr.d.http, "http://")
	for _, t := range full.builtin {
		src := ociSide{host: capdHost}.repo(t.name)
		if _, err := oras.Copy(ctx, src, t.version, pr.p.repo(t.name), t.version, oras.DefaultCopyOptions); err != nil {
			b.Fatalf("copying %s@%s to the peer: %v", t.name, t.version, err)
		}
	}
	d := max(loadShort, *loadDuration/4)
	var sides [2][]opFigures
	for i, base := range []string{pr.d.http, "http://" + peerHost} {
		l := newLoad(full.seed, v2Mix, base)
		l.builtin = full.builtin
		l.run(ctx, d)
		sides[i] = l.figures()
		reportLoadErrors(b, sides[i], nil)
		b.Logf("/v2/ reads only from %s for %s:\n%s", []string{"capd", "the peer"}[i], d, table(sides[i]))
	}
	for _, op := range []opKind{opV2Manifest, opV2Blob} {
		c, p := figuresOf(sides[0], op), figuresOf(sides[1], op)
		unit := strings.Fields(opNames[op])[1] + "s/s"
		b.ReportMetric(c.rate, "capd-"+unit)
		b.ReportMetric(p.rate, "peer-"+unit)
		record(fmt.Sprintf("load, /v2/ reads only, %d readers, %s: %s (calls/s, p50 / p99 ms)", loadReaders, d, opNames[op]),
			perCall(c), perCall(p), "-")
	}
}

// figuresOf returns the figures of op among fs, zero when op made no call.
func figuresOf(fs []opFigures, op opKind) opFigures {
	for _, f := range fs {
		if f.op == op {
			return f
		}
	}
	return opFigures{op: op}
}

// perCall formats a kind of call's rate and latencies for the summary.
func perCall(f opFigures) string {
	s := fmt.Sprintf("%.0f/s, %.2f / %.2f", f.rate, ms(f.p50), ms(f.p99))
	if f.errs > 0 {
		s += fmt.Sprintf(", %d errors", f.errs)
	}
	return s
}

// reportLoadErrors logs every kind of call that failed and the lost writes.
func reportLoadErrors(b *testing.B, fs []opFigures, lost []string) {
	b.Helper()
	for _, f := range fs {
		if f.errs > 0 {
			b.Logf("%s: %d of %d calls failed; the first:\n  %s", opNames[f.op], f.errs, f.n, strings.Join(f.first, "\n  "))
		}
	}
	if len(lost) > 0 {
		b.Logf("%d lost or wrong writes; the first:\n  %s", len(lost), strings.Join(lost[:min(len(lost), 10)], "\n  "))
	}
}
