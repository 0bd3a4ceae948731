package e2e

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// conformanceTimeout bounds one run of the conformance suite: a few
// seconds against capd or the peer registry, some 850 checks in all.
const conformanceTimeout = 5 * time.Minute

// conformancePeer turns TestOCIConformancePeer on.
var conformancePeer = flag.Bool("oci.conformance-peer", false,
	"TestOCIConformancePeer: run the OCI conformance suite against the distribution registry too and log its counts (it fails some checks)")

// conformanceSwitches are every switch of the conformance suite, as
// environment variables, with the key results.yaml reports it under and the
// value the tests set. All four workflows (pull, push, content discovery,
// content management), every kind of content distribution-spec v1.1
// defines, and the checks the suite keeps for the unreleased "1.1+dev"
// (upload cancel, digest headers, tags as parameters) are on. Only sparse
// manifests, whose blobs were never pushed, are off: capd refuses a
// manifest before its blobs, as the spec allows.
var conformanceSwitches = []struct {
	env, key string
	on       bool
}{
	{"OCI_API_PING", "apis.ping", true},
	{"OCI_API_PULL", "apis.pull", true},
	{"OCI_API_PUSH", "apis.push", true},
	{"OCI_API_BLOBS_ATOMIC", "apis.blobs.atomic", true},
	{"OCI_API_BLOBS_DELETE", "apis.blobs.delete", true},
	{"OCI_API_BLOBS_MOUNT_ANONYMOUS", "apis.blobs.mountAnonymous", true},
	{"OCI_API_MANIFESTS_ATOMIC", "apis.manifests.atomic", true},
	{"OCI_API_MANIFESTS_DELETE", "apis.manifests.delete", true},
	{"OCI_API_TAGS_ATOMIC", "apis.tags.atomic", true},
	{"OCI_API_TAGS_DELETE", "apis.tags.delete", true},
	{"OCI_API_TAGS_LIST", "apis.tags.list", true},
	{"OCI_API_REFERRER", "apis.referrer", true},
	{"OCI_DATA_IMAGE", "data.image", true},
	{"OCI_DATA_INDEX", "data.index", true},
	{"OCI_DATA_INDEX_LIST", "data.indexList", true},
	{"OCI_DATA_ARTIFACT", "data.artifact", true},
	{"OCI_DATA_SUBJECT", "data.subject", true},
	{"OCI_DATA_SUBJECT_MISSING", "data.subjectMissing", true},
	{"OCI_DATA_ARTIFACT_LIST", "data.artifactList", true},
	{"OCI_DATA_SUBJECT_LIST", "data.subjectList", true},
	{"OCI_DATA_DATA_FIELD", "data.dataField", true},
	{"OCI_DATA_NONDISTRIBUTABLE", "data.nondistributable", true},
	{"OCI_DATA_CUSTOM_FIELDS", "data.customFields", true},
	{"OCI_DATA_NO_LAYERS", "data.noLayers", true},
	{"OCI_DATA_EMPTY_BLOB", "data.emptyBlob", true},
	{"OCI_DATA_SHA512", "data.sha512", true},
	{"OCI_API_BLOBS_UPLOAD_CANCEL", "apis.blobs.uploadCancel", true},
	{"OCI_API_BLOBS_DIGEST_HEADER", "apis.blobs.digestHeader", true},
	{"OCI_API_MANIFESTS_DIGEST_HEADER", "apis.manifests.digestHeader", true},
	{"OCI_API_MANIFESTS_TAG_PARAM", "apis.manifests.tagParam", true},
	{"OCI_DATA_SPARSE", "data.sparse", false},
}

// TestOCIConformance runs the OCI distribution-spec conformance suite, the
// real binary, against the /v2/ API of a fresh capd with every v1.1 check
// on: no check may fail.
func TestOCIConformance(t *testing.T) {
	t.Parallel()
	e := binaries(t)
	conformance := e.tool(t, "conformance")
	d := startCapd(t, t.TempDir(), "--log-level", "warn")
	res := runConformance(t, conformance, requireV2(t, d))
	t.Logf("OCI conformance against capd: %s", res)
	if res.total <= 700 {
		t.Errorf("the conformance suite ran %d checks; with every v1.1 check on it runs over 700\n%s", res.total, res.stdout)
	}
	if res.failed+res.errored > 0 {
		t.Errorf("capd failed %d conformance checks (%d errors):\n%s", res.failed, res.errored, res.failures())
	}
	if err := d.stop(); err != nil {
		t.Error(err)
	}
}

// TestOCIConformancePeer runs the same suite against the distribution
// registry when -oci.conformance-peer is set. The peer fails some checks, so
// only the counts are checked: they show the reading of the results is
// right. v3.1.2 as launchRegistry configures it, deletes off, passes 460,
// fails 143 and skips 391 of 994 checks (with storage.delete on it passes
// 826 and skips 25).
func TestOCIConformancePeer(t *testing.T) {
	if !*conformancePeer {
		t.Skip("set -oci.conformance-peer to run the conformance suite against the distribution registry")
	}
	t.Parallel()
	e := binaries(t)
	conformance := e.tool(t, "conformance")
	p, err := launchRegistry(e.tool(t, "registry"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	res := runConformance(t, conformance, p.addr)
	t.Logf("OCI conformance against the distribution registry: %s\nits failures:\n%s", res, res.failures())
	if res.total <= 700 || res.passed == 0 {
		t.Errorf("the conformance suite ran %d checks, %d passed\n%s", res.total, res.passed, res.stdout)
	}
}

// conformanceResult is what one run of the conformance suite reports.
type conformanceResult struct {
	total, passed, failed, errored, skipped, disabled int
	// failedChecks lists the checks that failed or errored, with their messages.
	failedChecks []junitCase
	// apis and data are the status of each API and each kind of content.
	apis, data map[string]string
	stdout     string
}

func (r conformanceResult) String() string {
	var notPass []string
	for _, m := range []map[string]string{r.apis, r.data} {
		for k, v := range m {
			if v != "Pass" {
				notPass = append(notPass, k+": "+v)
			}
		}
	}
	slices.Sort(notPass)
	return fmt.Sprintf("%d checks: %d pass, %d fail, %d error, %d skip, %d disabled; not passing: %s",
		r.total, r.passed, r.failed, r.errored, r.skipped, r.disabled, strings.Join(notPass, ", "))
}

// failures lists the failed checks, one per line with its messages, at
// most 60 of them.
func (r conformanceResult) failures() string {
	var b strings.Builder
	for i, c := range r.failedChecks {
		if i == 60 {
			fmt.Fprintf(&b, "... and %d more\n", len(r.failedChecks)-i)
			break
		}
		msg := strings.ReplaceAll(strings.TrimSpace(c.Errors), "\n", "\n      ")
		if len(msg) > 600 {
			msg = msg[:600] + "..."
		}
		fmt.Fprintf(&b, "  %s: %s\n      %s\n", c.Status, c.Name, msg)
	}
	return b.String()
}

// junitReport is the part of the suite's junit.xml the tests read. The
// counts are checks; a test case can hold several.
type junitReport struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Skipped  int `xml:"skipped,attr"`
	Disabled int `xml:"disabled,attr"`
	Suites   []struct {
		Cases []junitCase `xml:"testcase"`
	} `xml:"testsuite"`
}

// junitCase is one test case: its name, its status (passed, skipped,
// failure or error) and its error messages.
type junitCase struct {
	Name   string `xml:"name,attr"`
	Status string `xml:"status,attr"`
	Errors string `xml:"system-out"`
}

// runConformance runs the conformance suite against the registry at host
// (plain HTTP) and reads its results. It fails t when the suite does not
// run to its end or its results do not add up; failed checks are for the
// caller to judge.
func runConformance(t *testing.T, bin, host string) conformanceResult {
	t.Helper()
	results := t.TempDir()
	environ := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"OCI_VERSION=1.1", "OCI_REGISTRY=" + host, "OCI_TLS=disabled",
		"OCI_REPO1=conformance/repo1", "OCI_REPO2=conformance/repo2",
		"OCI_RESULTS_DIR=" + results, "OCI_LOG=warn",
		// The names older suites read; this one still honors them, below
		// the ones above.
		"OCI_ROOT_URL=http://" + host, "OCI_NAMESPACE=conformance/repo1", "OCI_CROSSMOUNT_NAMESPACE=conformance/repo2",
		"OCI_TEST_PULL=1", "OCI_TEST_PUSH=1", "OCI_TEST_CONTENT_DISCOVERY=1", "OCI_TEST_CONTENT_MANAGEMENT=1",
	}
	for _, s := range conformanceSwitches {
		environ = append(environ, s.env+"="+strconv.FormatBool(s.on))
	}
	// runEnv caps every process at 2 minutes; the suite gets its own bound.
	ctx, cancel := context.WithTimeout(t.Context(), conformanceTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin)
	// The suite reads oci-conformance.yaml from its working folder, if any.
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = t.TempDir(), environ, &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if ctx.Err() != nil || (err != nil && !errors.As(err, &exit)) {
		t.Fatalf("the conformance suite did not run to its end within %s: %v\n%s", conformanceTimeout, err, tail(stderr.String(), 4000))
	}
	// It exits 1 when a check fails, and 0 when its configuration does not
	// load: only the results say how it went.
	res := readConformance(t, results)
	res.stdout = stdout.String()
	checkSummary(t, res, stderr.String())
	checkSettings(t, filepath.Join(results, "results.yaml"), host)
	if (exit != nil) != (res.failed+res.errored > 0) {
		t.Errorf("the conformance suite exited with %v, yet its junit.xml counts %d failures and %d errors", err, res.failed, res.errored)
	}
	return res
}

// readConformance reads junit.xml and results.yaml from the suite's
// results folder.
func readConformance(t *testing.T, dir string) conformanceResult {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if err != nil {
		t.Fatalf("the conformance suite wrote no junit.xml (did its configuration load?): %v", err)
	}
	var j junitReport
	if err := xml.Unmarshal(raw, &j); err != nil {
		t.Fatalf("junit.xml: %v", err)
	}
	res := conformanceResult{
		total: j.Tests, failed: j.Failures, errored: j.Errors, skipped: j.Skipped, disabled: j.Disabled,
		passed: j.Tests - j.Failures - j.Errors - j.Skipped - j.Disabled,
	}
	for _, s := range j.Suites {
		for _, c := range s.Cases {
			if c.Status == "failure" || c.Status == "error" {
				res.failedChecks = append(res.failedChecks, c)
			}
		}
	}
	var report struct {
		APIs map[string]string `yaml:"apis"`
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(readFile(t, filepath.Join(dir, "results.yaml")), &report); err != nil {
		t.Fatalf("results.yaml: %v", err)
	}
	res.apis, res.data = report.APIs, report.Data
	return res
}

// summaryLine is a count in the summary the suite prints, e.g.
// "  Pass..........................:        743".
var summaryLine = regexp.MustCompile(`(?m)^\s+(Disabled|Skip|Pass|FAIL|Error|Total)\.*:\s+(\d+)$`)

// checkSummary fails t unless the counts read from junit.xml are the ones
// the suite printed, and some checks failed whenever a test case did.
func checkSummary(t *testing.T, res conformanceResult, stderr string) {
	t.Helper()
	want := map[string]int{
		"Disabled": res.disabled, "Skip": res.skipped, "Pass": res.passed,
		"FAIL": res.failed, "Error": res.errored, "Total": res.total,
	}
	got := map[string]int{}
	for _, m := range summaryLine.FindAllStringSubmatch(res.stdout, -1) {
		got[m[1]], _ = strconv.Atoi(m[2])
	}
	for k, n := range want {
		if v, ok := got[k]; !ok || v != n {
			t.Errorf("junit.xml counts %s %d; the suite printed %d (found: %t)\n%s\n%s", k, n, v, ok, tail(res.stdout, 2000), tail(stderr, 2000))
		}
	}
	if len(res.failedChecks) > 0 && res.failed+res.errored == 0 {
		t.Errorf("junit.xml has %d failed test cases and counts no failed check", len(res.failedChecks))
	}
}

// checkSettings fails t unless results.yaml shows that the suite ran
// against host with every switch as conformanceSwitches sets it: a
// misspelled variable would otherwise leave a default in place unnoticed.
func checkSettings(t *testing.T, path, host string) {
	t.Helper()
	var report struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(readFile(t, path), &report); err != nil {
		t.Fatalf("results.yaml: %v", err)
	}
	flat := map[string]any{}
	flatten("", report.Config, flat)
	for key, want := range map[string]any{"registry": host, "tls": "disabled", "version": "1.1", "repo1": "conformance/repo1", "repo2": "conformance/repo2"} {
		if flat[key] != want {
			t.Errorf("results.yaml: config.%s is %v, want %v", key, flat[key], want)
		}
	}
	for _, s := range conformanceSwitches {
		if flat[s.key] != s.on {
			t.Errorf("results.yaml: config.%s is %v; %s=%t did not take", s.key, flat[s.key], s.env, s.on)
		}
	}
}

// flatten adds every leaf of the YAML mapping m to out under its dotted path.
func flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			flatten(prefix+k+".", sub, out)
			continue
		}
		out[prefix+k] = v
	}
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
