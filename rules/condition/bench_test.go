package condition

import (
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"
)

// BenchmarkParseOfficial parses every macro and rule condition of Falco's
// three official rules files (one iteration parses all of them).
func BenchmarkParseOfficial(b *testing.B) {
	var conds []string
	for _, n := range []string{"falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"} {
		data, err := os.ReadFile(filepath.Join(falcoTestdata, n))
		if err != nil {
			b.Skipf("Falco rules files not available: %v", err)
		}
		var items []map[string]any
		if err := yaml.Unmarshal(data, &items); err != nil {
			b.Fatal(err)
		}
		for _, it := range items {
			if c, ok := it["condition"].(string); ok {
				conds = append(conds, c)
			}
		}
	}
	bytes := 0
	for _, c := range conds {
		bytes += len(c)
	}
	b.SetBytes(int64(bytes))
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range conds {
			if _, err := Parse(c); err != nil {
				b.Fatal(err)
			}
		}
	}
}
