package loader_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lannerhq/lanner/rules/engine"
	"github.com/lannerhq/lanner/rules/loader"
)

func readOfficial(b *testing.B) []loader.Source {
	var srcs []loader.Source
	for _, n := range []string{"falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"} {
		p := filepath.Join("../../../shared/testdata/falco", n)
		data, err := os.ReadFile(p)
		if err != nil {
			b.Skipf("Falco rules files not available: %v", err)
		}
		srcs = append(srcs, loader.Source{Name: p, Data: data})
	}
	return srcs
}

// BenchmarkLoadOfficial loads and compiles Falco's three official rules files
// stacked (target: < 100 ms per iteration).
func BenchmarkLoadOfficial(b *testing.B) {
	srcs := readOfficial(b)
	b.ReportAllocs()
	for b.Loop() {
		rs, probs := loader.Load(srcs...)
		if loader.HasErrors(probs) {
			b.Fatal(probs)
		}
		if _, probs := engine.Compile(rs, engine.Options{}); loader.HasErrors(probs) {
			b.Fatal(probs)
		}
	}
}

// BenchmarkLoadOfficialLoaderOnly is the loader's share of BenchmarkLoadOfficial.
func BenchmarkLoadOfficialLoaderOnly(b *testing.B) {
	srcs := readOfficial(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, probs := loader.Load(srcs...); loader.HasErrors(probs) {
			b.Fatal(probs)
		}
	}
}
