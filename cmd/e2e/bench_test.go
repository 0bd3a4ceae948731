package e2e

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/client"
)

// The size of the large catalog, and of the small one it is compared with.
var (
	benchCaps     = flag.Int("bench.caps", 10000, "capabilities in the large catalog the benchmarks seed")
	benchVersions = flag.Int("bench.versions", 10, "versions of each capability in the seeded catalogs")
	benchSmall    = flag.Int("bench.small-caps", 100, "capabilities in the small catalog (times bench.versions)")
	benchPublish  = flag.Int("bench.publishes", 200, "bundles each publish-rate measurement publishes")
	benchDir      = flag.String("bench.dir", defaultBenchDir(), "where capd and the peer keep their data during benchmarks")
)

// defaultBenchDir is /dev/shm when it is a writable folder, the temporary
// folder otherwise. Both servers store the same way, so the comparison
// stays fair, and removing a 100 000-version store from a disk (well over
// a million small files for the peer) takes minutes.
func defaultBenchDir() string {
	if f, err := os.CreateTemp("/dev/shm", "capcenter-probe-"); err == nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return "/dev/shm"
	}
	return os.TempDir()
}

// mib is a mebibyte.
const mib = 1 << 20

// peerHTTP is the HTTP client oras-go drives the peer registry with.
var peerHTTP = &http.Client{
	Timeout:   5 * time.Minute,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64},
}

// pair is a capd and a peer registry, each with its own temporary storage.
type pair struct {
	d    *capd
	cl   *client.Client
	p    *peer
	root string // the peer's storage root
}

// startPair starts capd (with capdArgs) and the registry in folders under
// dir; close stops both and removes dir.
func startPair(tb testing.TB, dir string, capdArgs ...string) (pr *pair, closeAll func()) {
	tb.Helper()
	e := binaries(tb)
	registry := e.tool(tb, "registry")
	for _, sub := range []string{"capd", "peer"} {
		if err := os.MkdirAll(dir+"/"+sub, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	d, err := launchCapd(e, dir+"/capd", append([]string{"--log-level", "error"}, capdArgs...)...)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := launchRegistry(registry, dir+"/peer")
	if err != nil {
		d.kill()
		tb.Fatal(err)
	}
	cl, err := client.Dial(d.grpc)
	if err != nil {
		tb.Fatal(err)
	}
	pr = &pair{d: d, cl: cl, p: p, root: dir + "/peer/storage"}
	return pr, func() {
		_ = cl.Close()
		if err := d.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		// The registry exits with the signal, not 0, so its stop is a kill.
		p.kill()
		_ = os.RemoveAll(dir)
	}
}

// benchPair is startPair for one benchmark.
func benchPair(b *testing.B, capdArgs ...string) *pair {
	b.Helper()
	dir, err := os.MkdirTemp(*benchDir, "capcenter-bench-")
	if err != nil {
		b.Fatal(err)
	}
	pr, closeAll := startPair(b, dir, capdArgs...)
	b.Cleanup(closeAll)
	return pr
}

// repo returns an oras-go client of repository name on the peer.
func (p *peer) repo(name string) *remote.Repository {
	r, err := remote.NewRepository(p.addr + "/" + name)
	if err != nil {
		panic(err) // names come from the benchmarks and are valid
	}
	r.PlainHTTP = true
	r.Client = peerHTTP
	return r
}

// publishCapd publishes a packed bundle to capd.
func (pr *pair) publishCapd(ctx context.Context, p packed) error {
	_, _, err := pr.cl.PublishContent(ctx, p.store, p.desc)
	return err
}

// publishPeer copies a packed bundle to the peer, as `oras cp` would.
func (pr *pair) publishPeer(ctx context.Context, name string, p packed, tag string) error {
	_, err := oras.Copy(ctx, p.store, tag, pr.p.repo(name), tag, oras.DefaultCopyOptions)
	return err
}

// inFlight runs f(0…n-1) with at most k calls at a time and returns how
// long all took and the first error.
func inFlight(n, k int, f func(i int) error) (time.Duration, error) {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range k {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), first
}

// minors numbers the batches of webservice copies, so that every batch of
// a run has versions of its own.
var minors atomic.Int64

// webservices packs n copies of the webservice built-in as versions
// 1.<minor>.0 … 1.<minor>.(n-1), with a minor no other batch has.
func webservices(b *testing.B, n int) []packed {
	b.Helper()
	minor := minors.Add(1)
	base := loadDir(b, builtinDir(binaries(b), "webservice"))
	out := make([]packed, n)
	for i := range out {
		out[i] = mustPack(b, withVersion(base, fmt.Sprintf("1.%d.%d", minor, i)))
	}
	return out
}

// publishRates publishes ps to capd and to the peer, k at a time, and
// returns both rates in bundles a second.
func publishRates(b *testing.B, pr *pair, ps []packed, k int) (capdRate, peerRate float64) {
	b.Helper()
	ctx := b.Context()
	capdTime, err := inFlight(len(ps), k, func(i int) error { return pr.publishCapd(ctx, ps[i]) })
	if err != nil {
		b.Logf("capd publish: %v", err)
	}
	peerTime, err := inFlight(len(ps), k, func(i int) error {
		return pr.publishPeer(ctx, "webservice", ps[i], ps[i].tag)
	})
	if err != nil {
		b.Logf("peer publish: %v", err)
	}
	return float64(len(ps)) / capdTime.Seconds(), float64(len(ps)) / peerTime.Seconds()
}

// BenchmarkPublishSmall publishes distinct small bundles (copies of
// webservice) one at a time and 8 in flight. Goal: 8 in flight, capd ≥ 10×
// the peer.
func BenchmarkPublishSmall(b *testing.B) {
	pr := benchPair(b)
	for _, k := range []int{1, 8} {
		b.Run(fmt.Sprintf("inflight=%d", k), func(b *testing.B) {
			var capdRate, peerRate float64
			for range b.N {
				b.StopTimer()
				ps := webservices(b, *benchPublish)
				b.StartTimer()
				capdRate, peerRate = publishRates(b, pr, ps, k)
			}
			b.ReportMetric(capdRate, "capd-pub/s")
			b.ReportMetric(peerRate, "peer-pub/s")
			b.ReportMetric(capdRate/peerRate, "capd/peer")
			goal := "-"
			if k == 8 {
				goal = "≥ 10× peer: " + met(capdRate >= 10*peerRate)
			}
			record(fmt.Sprintf("publish small, %d in flight (bundles/s)", k),
				fmt.Sprintf("%.0f", capdRate), fmt.Sprintf("%.0f (capd %.1f×)", peerRate, capdRate/peerRate), goal)
		})
	}
}

// met says whether a goal is met.
func met(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// percentiles returns the 50th and 99th percentiles of ds.
func percentiles(ds []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(ds)
	return ds[len(ds)*50/100], ds[min(len(ds)-1, len(ds)*99/100)]
}

// latencies GETs base+path n times, after a few warm-up requests, and
// returns each request's latency. Any answer but 200 is an error.
func latencies(ctx context.Context, base, path string, query url.Values, n int) ([]time.Duration, error) {
	ds := make([]time.Duration, 0, n)
	for i := range n + 10 {
		start := time.Now()
		code, body, err := get(ctx, base, path, query)
		d := time.Since(start)
		if err != nil {
			return nil, err
		}
		if code != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %d %s", path, code, body)
		}
		if i >= 10 {
			ds = append(ds, d)
		}
	}
	return ds, nil
}

// bigBundle builds a controller bundle of 13 ConfigMaps just under the
// 8 MiB file limit each: about 100 MiB.
func bigBundle(b *testing.B) packed {
	b.Helper()
	var files []capabilities.File
	for i := range 13 {
		files = append(files, configMap(fmt.Sprintf("big-%02d", i), capabilities.DefaultMaxFileSize-4096))
	}
	bundle, err := controllerBundle(b.Context(), "big", "1.0.0", "About 100 MiB of ConfigMaps.", nil, files...)
	if err != nil {
		b.Fatal(err)
	}
	return mustPack(b, bundle)
}
