package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/memory"

	"github.com/capcenter/capcenter/capabilities"
)

// seeded is a pair whose capd and peer hold the same seeded catalog.
type seeded struct {
	*pair
	caps, versions int
	// capdSeed is how long publishing the catalog to capd over gRPC took;
	// peerSeed how long writing it into the peer's storage took.
	capdSeed, peerSeed time.Duration
}

// large is the 100 000-version catalog, seeded once and shared by the
// benchmarks that need it; TestMain stops it.
var large struct {
	once sync.Once
	s    *seeded
	err  error
}

// largeCatalog returns the shared catalog of bench.caps × bench.versions.
func largeCatalog(b *testing.B) *seeded {
	b.Helper()
	large.once.Do(func() {
		dir, err := os.MkdirTemp(*benchDir, "capcenter-bench-")
		if err != nil {
			large.err = err
			return
		}
		pr, closeAll := startPair(b, dir)
		shared.atExit(closeAll)
		large.s, large.err = seed(b.Context(), pr, *benchCaps, *benchVersions)
	})
	if large.err != nil {
		b.Fatal(large.err)
	}
	if large.s == nil {
		b.Fatal("seeding the large catalog failed in an earlier benchmark")
	}
	return large.s
}

// seedBundle returns version v of seeded capability i: a controller bundle
// with one small ConfigMap, the cheapest kind to check, described in words
// the search benchmark looks for (group gNN holds every 100th capability).
func seedBundle(base *capabilities.Bundle, i, v int) *capabilities.Bundle {
	c := *base
	c.Metadata.Name = fmt.Sprintf("seed-%05d", i)
	c.Metadata.Version = fmt.Sprintf("1.%d.0", v)
	c.Metadata.Description = fmt.Sprintf("Seeded capability %d in group g%02d, for the benchmarks.", i, i%100)
	c.Metadata.Keywords = []string{"seed", fmt.Sprintf("g%02d", i%100)}
	return &c
}

// seed publishes caps × versions bundles to capd over gRPC, 16 in flight,
// then writes the same artifacts straight into the peer's storage layout:
// over HTTP the peer would take many minutes (six requests a version), and
// seeding is not what the benchmarks compare.
func seed(ctx context.Context, pr *pair, caps, versions int) (*seeded, error) {
	base, err := controllerBundle(ctx, "seed", "1.0.0", "", nil, configMap("settings", 300))
	if err != nil {
		return nil, err
	}
	s := &seeded{pair: pr, caps: caps, versions: versions}
	each := func(f func(name string, p packed) error) func(n int) error {
		return func(n int) error {
			b := seedBundle(base, n/versions, n%versions)
			p, err := pack(ctx, b)
			if err == nil {
				err = f(b.Metadata.Name, p)
			}
			if err != nil {
				return fmt.Errorf("seeding %s@%s: %w", b.Metadata.Name, b.Metadata.Version, err)
			}
			return nil
		}
	}
	s.capdSeed, err = inFlight(caps*versions, 16, each(func(_ string, p packed) error { return pr.publishCapd(ctx, p) }))
	if err != nil {
		return nil, err
	}
	layout := registryLayout(filepath.Join(pr.root, "docker", "registry", "v2"))
	s.peerSeed, err = inFlight(caps*versions, 16, each(layout.put))
	return s, err
}

// registryLayout writes artifacts into the filesystem layout of the
// distribution registry (docker/registry/v2 under its root directory).
type registryLayout string

func (l registryLayout) put(repo string, p packed) error {
	descs := []digest.Digest{digest.FromBytes(p.manifest)}
	if err := l.blob(descs[0], p.manifest); err != nil {
		return err
	}
	for _, data := range p.blobs {
		d := digest.FromBytes(data)
		if err := l.blob(d, data); err != nil {
			return err
		}
		if err := l.link(d, repo, "_layers", "sha256", d.Encoded()); err != nil {
			return err
		}
	}
	m := descs[0]
	for _, path := range [][]string{
		{"_manifests", "revisions", "sha256", m.Encoded()},
		{"_manifests", "tags", p.tag, "index", "sha256", m.Encoded()},
		{"_manifests", "tags", p.tag, "current"},
	} {
		if err := l.link(m, repo, path...); err != nil {
			return err
		}
	}
	return nil
}

func (l registryLayout) blob(d digest.Digest, data []byte) error {
	dir := filepath.Join(string(l), "blobs", "sha256", d.Encoded()[:2], d.Encoded())
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "data"), data, 0o644)
}

func (l registryLayout) link(d digest.Digest, repo string, path ...string) error {
	dir := filepath.Join(append([]string{string(l), "repositories", repo}, path...)...)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "link"), []byte(d.String()), 0o644)
}

// BenchmarkPublishAtScale publishes new small bundles, 8 in flight, to a
// capd and a peer that already hold 1 000 and then 100 000 versions. Goal:
// no degradation at 100 000.
func BenchmarkPublishAtScale(b *testing.B) {
	rates := map[int][2]float64{}
	small := func(b *testing.B) *seeded {
		pr := benchPair(b)
		s, err := seed(b.Context(), pr, *benchSmall, *benchVersions)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	for i, setup := range []func(*testing.B) *seeded{small, largeCatalog} {
		size := []int{*benchSmall, *benchCaps}[i] * *benchVersions
		b.Run(fmt.Sprintf("versions=%d", size), func(b *testing.B) {
			s := setup(b)
			total := s.caps * s.versions
			b.Logf("seeded %d versions: capd over gRPC in %s (%.0f/s); peer storage written in %s",
				total, s.capdSeed.Round(time.Millisecond), float64(total)/s.capdSeed.Seconds(), s.peerSeed.Round(time.Millisecond))
			var capdRate, peerRate float64
			for range b.N {
				b.StopTimer()
				ps := webservices(b, *benchPublish)
				b.StartTimer()
				capdRate, peerRate = publishRates(b, s.pair, ps, 8)
			}
			b.ReportMetric(capdRate, "capd-pub/s")
			b.ReportMetric(peerRate, "peer-pub/s")
			b.ReportMetric(float64(total), "versions")
			rates[total] = [2]float64{capdRate, peerRate}
			record(fmt.Sprintf("publish, 8 in flight, at %d versions (bundles/s)", total),
				fmt.Sprintf("%.0f", capdRate), fmt.Sprintf("%.0f", peerRate), "-")
			if i == 1 {
				record(fmt.Sprintf("seeding %d versions over gRPC, 16 in flight", total),
					fmt.Sprintf("%s (%.0f/s)", s.capdSeed.Round(time.Second), float64(total)/s.capdSeed.Seconds()),
					"written to storage directly", "-")
			}
		})
	}
	if len(rates) == 2 {
		lo, hi := rates[*benchSmall**benchVersions], rates[*benchCaps**benchVersions]
		record("publish at large ÷ at small catalog", fmt.Sprintf("%.2f", hi[0]/lo[0]), fmt.Sprintf("%.2f", hi[1]/lo[1]),
			"no degradation (≥ 0.8): "+met(hi[0] >= 0.8*lo[0]))
	}
}

// BenchmarkPull100MiB pulls a bundle of about 100 MiB (13 ConfigMaps just
// under the 8 MiB file limit) from capd with the client and from the peer
// with oras.Copy, into memory. Goal: capd ≥ peer.
func BenchmarkPull100MiB(b *testing.B) {
	pr := benchPair(b, "--max-bundle-size", fmt.Sprint(256*mib))
	p := bigBundle(b)
	ctx := b.Context()
	if err := pr.publishCapd(ctx, p); err != nil {
		b.Fatalf("publishing %d MiB to capd: %v", p.size()/mib, err)
	}
	if err := pr.publishPeer(ctx, "big", p, p.tag); err != nil {
		b.Fatalf("publishing %d MiB to the peer: %v", p.size()/mib, err)
	}
	var capdTime, peerTime time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := pullCapd(ctx, pr, p); err != nil {
			b.Fatalf("pulling from capd: %v", err)
		}
		capdTime += time.Since(start)
		start = time.Now()
		if err := pullPeer(ctx, pr, "big", p); err != nil {
			b.Fatalf("pulling from the peer: %v", err)
		}
		peerTime += time.Since(start)
	}
	size := float64(p.size()) / mib * float64(b.N)
	capdRate, peerRate := size/capdTime.Seconds(), size/peerTime.Seconds()
	b.ReportMetric(capdRate, "capd-MiB/s")
	b.ReportMetric(peerRate, "peer-MiB/s")
	b.SetBytes(p.size())
	full := fullPullRate(b, pr, p)
	b.ReportMetric(full, "capd-unpacked-MiB/s")
	record(fmt.Sprintf("pull a %d MiB bundle, digests verified (MiB/s)", p.size()/mib), fmt.Sprintf("%.0f", capdRate), fmt.Sprintf("%.0f", peerRate),
		"≥ peer: "+met(capdRate >= peerRate))
	record("  the same, then unpacked and validated (client.Pull)", fmt.Sprintf("%.0f", full), "-", "-")
}

// pullCapd pulls p from capd into memory with the client, which verifies
// every digest: the same work as pullPeer.
func pullCapd(ctx context.Context, pr *pair, p packed) error {
	pulled, err := pr.cl.PullContent(ctx, "big", p.tag, capabilities.Limits{MaxBundleSize: 256 * mib})
	if err != nil {
		return err
	}
	if pulled.Manifest.Digest != p.desc.Digest {
		return fmt.Errorf("pulled %s, want %s", pulled.Manifest.Digest, p.desc.Digest)
	}
	return nil
}

// pullPeer copies p from the peer into memory with oras-go, which verifies
// every digest.
func pullPeer(ctx context.Context, pr *pair, repo string, p packed) error {
	desc, err := oras.Copy(ctx, pr.p.repo(repo), p.tag, memory.New(), p.tag, oras.DefaultCopyOptions)
	if err == nil && desc.Digest != p.desc.Digest {
		err = fmt.Errorf("pulled %s, want %s", desc.Digest, p.desc.Digest)
	}
	return err
}

// fullPullRate is what `capctl pull` does before writing files: the
// verified transfer, then Unpack, which parses and validates every file
// (YAML parsing dominates for a bundle of large manifests), in MiB/s.
func fullPullRate(b *testing.B, pr *pair, p packed) float64 {
	b.Helper()
	start := time.Now()
	pulled, err := pr.cl.Pull(b.Context(), "big", p.tag, capabilities.Limits{MaxBundleSize: 256 * mib})
	if err != nil {
		b.Fatal(err)
	}
	if pulled.Manifest.Digest != p.desc.Digest {
		b.Fatalf("pulled %s, want %s", pulled.Manifest.Digest, p.desc.Digest)
	}
	return float64(p.size()) / mib / time.Since(start).Seconds()
}

// BenchmarkListLatency measures REST latency against the large catalog:
// listing and searching capabilities and listing one's versions, beside
// the peer's catalog and tag list. Goal: capd p99 < 5 ms.
func BenchmarkListLatency(b *testing.B) {
	s := largeCatalog(b)
	ctx := b.Context()
	const n = 300
	repo := fmt.Sprintf("seed-%05d", s.caps/2)
	for _, tc := range []struct {
		name       string
		capdPath   string
		capdQuery  url.Values
		peerPath   string
		peerQuery  url.Values
		withinGoal bool
	}{
		{"list 100", "/v1/capabilities", url.Values{"page_size": {"100"}}, "/v2/_catalog", url.Values{"n": {"100"}}, true},
		{"search", "/v1/capabilities", url.Values{"query": {"g42"}, "page_size": {"100"}}, "", nil, true},
		{"versions", "/v1/capabilities/" + repo + "/versions", nil, "/v2/" + repo + "/tags/list", nil, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var capdDs, peerDs []time.Duration
			for range b.N {
				ds, err := latencies(ctx, s.d.http, tc.capdPath, tc.capdQuery, n)
				if err != nil {
					b.Fatal(err)
				}
				capdDs = append(capdDs, ds...)
				if tc.peerPath != "" {
					ds, err := latencies(ctx, "http://"+s.p.addr, tc.peerPath, tc.peerQuery, n)
					if err != nil {
						b.Fatal(err)
					}
					peerDs = append(peerDs, ds...)
				}
			}
			c50, c99 := percentiles(capdDs)
			b.ReportMetric(ms(c50), "capd-p50-ms")
			b.ReportMetric(ms(c99), "capd-p99-ms")
			peer := "no search API"
			if len(peerDs) > 0 {
				p50, p99 := percentiles(peerDs)
				b.ReportMetric(ms(p50), "peer-p50-ms")
				b.ReportMetric(ms(p99), "peer-p99-ms")
				peer = fmt.Sprintf("p50 %.2f / p99 %.2f", ms(p50), ms(p99))
			}
			record(fmt.Sprintf("REST %s at %d versions (ms)", tc.name, s.caps*s.versions),
				fmt.Sprintf("p50 %.2f / p99 %.2f", ms(c50), ms(c99)), peer, "p99 < 5 ms: "+met(c99 < 5*time.Millisecond))
		})
	}
}

// BenchmarkRSS reads the resident memory of capd and the peer holding the
// large catalog, after the other benchmarks have used them. Goal: capd
// < 150 MiB.
func BenchmarkRSS(b *testing.B) {
	s := largeCatalog(b)
	var capdRSS, peerRSS int64
	for range b.N {
		var err error
		if capdRSS, err = rss(s.d.pid()); err != nil {
			b.Fatal(err)
		}
		if peerRSS, err = rss(s.p.pid()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(capdRSS)/mib, "capd-RSS-MiB")
	b.ReportMetric(float64(peerRSS)/mib, "peer-RSS-MiB")
	record(fmt.Sprintf("RSS at %d versions (MiB)", s.caps*s.versions),
		fmt.Sprintf("%.0f", float64(capdRSS)/mib), fmt.Sprintf("%.0f", float64(peerRSS)/mib),
		"< 150 MiB: "+met(capdRSS < 150*mib))
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
