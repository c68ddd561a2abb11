package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to Load as a config file: it must never
// panic, and whatever it reports must be positioned problems.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.yaml")
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("outputs: [{name: a, type: webhook, webhook: {address: x}}]\nroutes: [{name: r, outputs: [a], match: {rule: {regex: '(a'}}}]"))
	f.Add([]byte("a: &a [1]\nb: *a\n"))
	f.Add([]byte("webhook: {address: http://x, customHeaders: {A: b}}\nlistenport: 1"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "fuzz.yaml")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(p, nil)
		if err != nil {
			for _, prob := range Problems(err) {
				if prob == "" {
					t.Fatalf("empty problem in %q", err)
				}
			}
			return
		}
		_ = cfg.Redacted()
		for _, o := range cfg.Outputs {
			var m map[string]any
			_ = DecodeSettings(o, &m)
		}
	})
}

// A config whose aliases expand to far more nodes than it holds is refused
// quickly instead of being walked.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("outputs: [{name: a, type: webhook}]\nroutes:\n  - name: r0\n    outputs: [a]\n    match:\n      output_fields: &f\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "        k%d: v\n", i)
	}
	for i := 1; i < 500; i++ {
		fmt.Fprintf(&b, "  - {name: r%d, outputs: [a], match: {output_fields: *f}}\n", i)
	}
	p := filepath.Join(t.TempDir(), "bomb.yaml")
	os.WriteFile(p, []byte(b.String()), 0o600)
	_, err := Load(p, nil)
	if err == nil || !strings.Contains(err.Error(), "document too complex") {
		t.Fatalf("want a too-complex error, got %v", err)
	}
	if n := len(Problems(err)); n > maxErrors+1 {
		t.Errorf("%d problems reported; want at most %d", n, maxErrors+1)
	}
}

// FuzzGlob checks the fast '*'-only matcher against the general one.
func FuzzGlob(f *testing.F) {
	f.Add("a*b*c", "aXbYbZc")
	f.Add("*ab*ab*", "abab")
	f.Add("a*a", "a")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		g, err := CompileGlob(pattern)
		if err != nil || g.segs == nil {
			return
		}
		general := g
		general.segs = nil
		if got, want := g.Match(s), general.Match(s); got != want {
			t.Fatalf("%q ~ %q: segments %v, general %v", pattern, s, got, want)
		}
	})
}
