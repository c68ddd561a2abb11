package loader

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ReadFiles reads rules files in the order given. A directory contributes
// its *.yaml and *.yml files (not recursively), sorted by name, as Falco
// reads a rules directory.
func ReadFiles(paths ...string) ([]Source, error) {
	var out []Source
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("rules file: %w", err)
		}
		if !st.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("rules file: %w", err)
			}
			out = append(out, Source{Name: p, Data: data})
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("rules directory: %w", err)
		}
		var names []string
		for _, e := range entries {
			n := e.Name()
			if e.Type().IsRegular() && (strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			fp := filepath.Join(p, n)
			data, err := os.ReadFile(fp)
			if err != nil {
				return nil, fmt.Errorf("rules file: %w", err)
			}
			out = append(out, Source{Name: fp, Data: data})
		}
	}
	return out, nil
}
