package resolve

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden explanations in testdata/explain")

// marker separates a golden file's scenario from the explanation expected.
const marker = "-- explanation --\n"

// TestExplain resolves each scenario in testdata/explain and compares the
// outcome (for these, mostly a conflict's explanation) with the text after
// the marker. Run with -update to rewrite it, then read every file.
func TestExplain(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/explain/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			scenarioText, want, _ := strings.Cut(string(data), marker)
			got := outcome(parseScenario(t, scenarioText).resolve()) + "\n"
			if *update {
				if err := os.WriteFile(file, []byte(scenarioText+marker+got), 0o600); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}
