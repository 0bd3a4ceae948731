package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/registry/remote"
)

// How much the OCI pull benchmark pulls.
var (
	benchPulls  = flag.Int("bench.pulls", 1000, "pulls of a small bundle each OCI pull-rate measurement makes")
	benchRounds = flag.Int("bench.oras-rounds", 5, "oras pulls of the 100 MiB bundle from each server, alternating")
)

// orasInFlight is how many oras processes (or oras-go pulls) run at once in
// the pull-rate measurements.
const orasInFlight = 8

// ociSide is a registry the OCI benchmark pulls from: capd's /v2/ or the
// peer's.
type ociSide struct {
	name string
	host string // host:port, plain HTTP
}

// repo returns an oras-go client of repository name on s, with the same
// HTTP client for both servers.
func (s ociSide) repo(name string) *remote.Repository {
	r, err := remote.NewRepository(s.host + "/" + name)
	if err != nil {
		panic(err) // names come from the benchmarks and are valid
	}
	r.PlainHTTP = true
	r.Client = peerHTTP
	return r
}

// ociSides returns capd's side and the peer's, in that order.
func ociSides(pr *pair) [2]ociSide {
	return [2]ociSide{
		{name: "capd", host: strings.TrimPrefix(pr.d.http, "http://")},
		{name: "peer", host: pr.p.addr},
	}
}

// orasCLI runs the real oras binary, isolated from the user's oras cache
// and registry credentials, writing pulls under dir (on the benchmark
// filesystem, the same for both servers).
type orasCLI struct {
	bin string
	env []string
	dir string
}

// newOrasCLI installs oras when .tmp/bin lacks it and makes a folder for
// its output that is removed when b ends.
func newOrasCLI(b *testing.B) *orasCLI {
	b.Helper()
	bin := binaries(b).tool(b, "oras")
	dir, err := os.MkdirTemp(*benchDir, "capcenter-oras-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = os.RemoveAll(dir) })
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "ORAS_CACHE=") || strings.HasPrefix(kv, "DOCKER_CONFIG=")
	})
	env = append(env, "DOCKER_CONFIG="+filepath.Join(dir, "docker"))
	return &orasCLI{bin: bin, env: env, dir: dir}
}

// pull runs `oras pull --plain-http HOST/REPO:TAG -o out` and checks that
// it exits 0 having fetched p's manifest. Each run is bounded by runEnv's
// timeout.
func (o *orasCLI) pull(ctx context.Context, s ociSide, repo string, p packed, out string) error {
	ref := s.host + "/" + repo + ":" + p.tag
	stdout, stderr, code, err := runEnv(ctx, o.env, o.bin, "pull", "--plain-http", ref, "-o", out)
	if err != nil {
		return fmt.Errorf("oras pull %s: %w\n%s%s", ref, err, stdout, stderr)
	}
	if code != 0 {
		return fmt.Errorf("oras pull %s: exit %d\n%s%s", ref, code, stdout, stderr)
	}
	// oras prints "Digest: …" only when it wrote every blob, and it does
	// not write the config; the short digest it shows of the manifest is
	// the check left.
	if short := p.desc.Digest.Encoded()[:12]; !strings.Contains(stdout, short) {
		return fmt.Errorf("oras pull %s: manifest %s is not in its output:\n%s", ref, short, stdout)
	}
	return nil
}

// checkPulled fails unless dir holds every layer of p under its title with
// the layer's digest: what `oras pull` should have written.
func checkPulled(dir string, p packed) error {
	var m ocispec.Manifest
	if err := json.Unmarshal(p.manifest, &m); err != nil {
		return err
	}
	if len(m.Layers) == 0 {
		return errors.New("the manifest has no layers to check")
	}
	for _, l := range m.Layers {
		title := l.Annotations[ocispec.AnnotationTitle]
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(title)))
		if err != nil {
			return fmt.Errorf("pulled %s: %w", title, err)
		}
		if got := digest.FromBytes(data); got != l.Digest {
			return fmt.Errorf("pulled %s: digest %s, want %s", title, got, l.Digest)
		}
	}
	return nil
}

// BenchmarkOCIPull pulls from capd's OCI distribution API (/v2/ on its
// HTTP address) and from the peer's the same artifacts, with the real oras
// CLI and with oras-go:
//
//   - the ~100 MiB bundle, `oras pull` to a folder, after a warm-up round
//     five rounds alternating between the servers (median MiB/s). Goal:
//     capd ≥ 1.5× the peer;
//   - a small bundle (webservice), 1 000 `oras pull`s 8 in flight, where
//     the oras process's own start and work dominate;
//   - the same bundle, 1 000 oras.Copy pulls into memory, one at a time
//     alternating between the servers (with p50/p99 latency), and 1 000
//     8 in flight.
//
// The throughput runs go capd, peer, peer, capd with half the pulls each.
// Every pull is checked: the CLI's exit code and the manifest it fetched,
// then (off the clock) the files it wrote against the layer digests; the
// library's copy verifies each blob and the manifest digest is compared.
func BenchmarkOCIPull(b *testing.B) {
	pr := benchPair(b, "--max-bundle-size", strconv.Itoa(256*mib))
	o := newOrasCLI(b)
	sides := ociSides(pr)
	b.Run("100MiB", func(b *testing.B) {
		p := bigBundle(b)
		publishBoth(b, pr, "big", p)
		b.ResetTimer()
		var rates, best [2]float64
		for range b.N {
			rates, best = orasBigRates(b, o, sides, p)
		}
		b.ReportMetric(rates[0], "capd-MiB/s")
		b.ReportMetric(rates[1], "peer-MiB/s")
		record(fmt.Sprintf("oras pull a %d MiB bundle, median of %d (MiB/s)", p.size()/mib, *benchRounds),
			fmt.Sprintf("%.0f (best %.0f)", rates[0], best[0]),
			fmt.Sprintf("%.0f (best %.0f; capd %.2f×)", rates[1], best[1], rates[0]/rates[1]),
			"≥ 1.5× peer: "+met(rates[0] >= 1.5*rates[1]))
	})
	b.Run("small", func(b *testing.B) {
		p := webservices(b, 1)[0]
		publishBoth(b, pr, "webservice", p)
		b.ResetTimer()
		for range b.N {
			smallPulls(b, o, sides, p)
		}
	})
}

// publishBoth publishes p to capd and, as repository repo, to the peer.
func publishBoth(b *testing.B, pr *pair, repo string, p packed) {
	b.Helper()
	if err := pr.publishCapd(b.Context(), p); err != nil {
		b.Fatalf("publishing %s@%s (%d KiB) to capd: %v", repo, p.tag, p.size()>>10, err)
	}
	if err := pr.publishPeer(b.Context(), repo, p, p.tag); err != nil {
		b.Fatalf("publishing %s@%s (%d KiB) to the peer: %v", repo, p.tag, p.size()>>10, err)
	}
}

// orasBigRates pulls p ("big") with oras from each side, one warm-up
// round then bench.oras-rounds rounds, the side that goes first changing
// every round, checking and removing the files after each pull. It returns
// each side's median and best rates in MiB/s.
func orasBigRates(b *testing.B, o *orasCLI, sides [2]ociSide, p packed) (median, best [2]float64) {
	b.Helper()
	var times [2][]time.Duration
	for round := range *benchRounds + 1 {
		for _, i := range [2]int{round % 2, 1 - round%2} {
			s := sides[i]
			out := filepath.Join(o.dir, fmt.Sprintf("big-%s-%d", s.name, round))
			start := time.Now()
			err := o.pull(b.Context(), s, "big", p, out)
			d := time.Since(start)
			if err == nil {
				err = checkPulled(out, p)
			}
			if err != nil {
				b.Fatalf("%s: %v", s.name, err)
			}
			_ = os.RemoveAll(out)
			if round > 0 {
				times[i] = append(times[i], d)
			}
		}
	}
	mibs := float64(p.size()) / mib
	for i, ts := range times {
		slices.Sort(ts)
		b.Logf("%s: oras pull of %d MiB took %v (sorted)", sides[i].name, p.size()/mib, ts)
		median[i], best[i] = mibs/ts[len(ts)/2].Seconds(), mibs/ts[0].Seconds()
	}
	return median, best
}

// abba is the order in which the throughput measurements visit the
// sides, each time with half the pulls: capd, peer, peer, capd, so that
// neither always goes first.
var abba = [4]int{0, 1, 1, 0}

// smallPulls measures pulling the small bundle p ("webservice") from each
// side: bench.pulls oras processes 8 in flight, then bench.pulls oras-go
// copies one at a time (alternating sides) and 8 in flight; it records
// the figures.
func smallPulls(b *testing.B, o *orasCLI, sides [2]ociSide, p packed) {
	b.Helper()
	ctx := b.Context()
	repos := [2]*remote.Repository{sides[0].repo("webservice"), sides[1].repo("webservice")}
	n := *benchPulls
	var cliWall, libWall [2]time.Duration
	for _, i := range abba {
		d, err := orasSmall(ctx, o, sides[i], p, n/2)
		if err != nil {
			b.Fatalf("%s: %v", sides[i].name, err)
		}
		cliWall[i] += d
	}
	lat, err := libraryLatencies(ctx, repos, p, n)
	if err != nil {
		b.Fatal(err)
	}
	for _, i := range abba {
		d, err := libraryWall(ctx, repos[i], p, n/2, orasInFlight)
		if err != nil {
			b.Fatalf("%s: %v", sides[i].name, err)
		}
		libWall[i] += d
	}
	var cli, one, eight [2]float64
	var p50, p99 [2]time.Duration
	for i := range sides {
		cli[i] = float64(n/2*2) / cliWall[i].Seconds()
		eight[i] = float64(n/2*2) / libWall[i].Seconds()
		var sum time.Duration
		for _, d := range lat[i] {
			sum += d
		}
		one[i] = float64(n) / sum.Seconds()
		p50[i], p99[i] = percentiles(lat[i])
		b.ReportMetric(cli[i], sides[i].name+"-cli-pulls/s")
		b.ReportMetric(one[i], sides[i].name+"-lib-pulls/s")
		b.ReportMetric(ms(p50[i]), sides[i].name+"-lib-p50-ms")
		b.ReportMetric(ms(p99[i]), sides[i].name+"-lib-p99-ms")
		b.ReportMetric(eight[i], sides[i].name+"-lib8-pulls/s")
	}
	record(fmt.Sprintf("oras pull a %d KiB bundle ×%d, %d in flight (pulls/s)", p.size()>>10, n/2*2, orasInFlight),
		fmt.Sprintf("%.0f", cli[0]), fmt.Sprintf("%.0f (capd %.2f×)", cli[1], cli[0]/cli[1]), "-")
	record(fmt.Sprintf("oras-go pull the same ×%d, one at a time (pulls/s; ms)", n),
		fmt.Sprintf("%.0f (p50 %.2f / p99 %.2f)", one[0], ms(p50[0]), ms(p99[0])),
		fmt.Sprintf("%.0f (p50 %.2f / p99 %.2f; capd %.2f×)", one[1], ms(p50[1]), ms(p99[1]), one[0]/one[1]), "-")
	record(fmt.Sprintf("oras-go pull the same ×%d, %d in flight (pulls/s)", n/2*2, orasInFlight),
		fmt.Sprintf("%.0f", eight[0]), fmt.Sprintf("%.0f (capd %.2f×)", eight[1], eight[0]/eight[1]), "-")
}

// orasSmall runs n `oras pull`s of p from s, 8 in flight, each into a
// folder of its own; off the clock it checks every folder and removes
// them. It returns how long the pulls took.
func orasSmall(ctx context.Context, o *orasCLI, s ociSide, p packed, n int) (time.Duration, error) {
	dir := filepath.Join(o.dir, "small-"+s.name)
	defer os.RemoveAll(dir)
	out := func(i int) string { return filepath.Join(dir, strconv.Itoa(i)) }
	wall, err := inFlight(n, orasInFlight, func(i int) error {
		return o.pull(ctx, s, "webservice", p, out(i))
	})
	if err != nil {
		return 0, err
	}
	for i := range n {
		if err := checkPulled(out(i), p); err != nil {
			return 0, fmt.Errorf("pull %d: %w", i, err)
		}
	}
	return wall, nil
}

// copyOnce copies p from repo into a fresh memory store. oras.Copy
// verifies every blob it stores; a manifest other than p's is an error.
// Every request is bounded by peerHTTP's timeout.
func copyOnce(ctx context.Context, repo *remote.Repository, p packed) error {
	desc, err := oras.Copy(ctx, repo, p.tag, memory.New(), p.tag, oras.DefaultCopyOptions)
	if err == nil && desc.Digest != p.desc.Digest {
		err = fmt.Errorf("pulled %s, want %s", desc.Digest, p.desc.Digest)
	}
	if err != nil {
		return fmt.Errorf("oras-go pull from %s: %w", repo.Reference, err)
	}
	return nil
}

// libraryLatencies copies p n times from each of repos, one copy at a
// time and alternating between them, after ten warm-up copies from each,
// and returns every copy's latency by repository.
func libraryLatencies(ctx context.Context, repos [2]*remote.Repository, p packed, n int) ([2][]time.Duration, error) {
	var ds [2][]time.Duration
	for k := range n + 10 {
		for i, r := range repos {
			start := time.Now()
			if err := copyOnce(ctx, r, p); err != nil {
				return ds, err
			}
			if k >= 10 {
				ds[i] = append(ds[i], time.Since(start))
			}
		}
	}
	return ds, nil
}

// libraryWall copies p from repo n times, k at a time, and returns how
// long all took.
func libraryWall(ctx context.Context, repo *remote.Repository, p packed, n, k int) (time.Duration, error) {
	return inFlight(n, k, func(int) error { return copyOnce(ctx, repo, p) })
}
