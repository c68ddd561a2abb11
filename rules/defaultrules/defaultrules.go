// Package defaultrules embeds Lanner's own default ruleset, used by
// lanner-agent when no rules file is given.
package defaultrules

import (
	"embed"
	"io/fs"

	"github.com/lannerhq/lanner/rules/loader"
)

// FS holds the default rules files (*.yaml at its root).
//
//go:embed *.yaml
var FS embed.FS

// Sources returns the default rules files, sorted by name, ready for
// loader.Load. Names are prefixed "<embedded>/" in problem positions.
func Sources() []loader.Source {
	names, _ := fs.Glob(FS, "*.yaml") // sorted; the pattern is constant and valid
	out := make([]loader.Source, 0, len(names))
	for _, n := range names {
		data, err := FS.ReadFile(n)
		if err != nil {
			continue // unreachable: the names come from the embedded FS
		}
		out = append(out, loader.Source{Name: "<embedded>/" + n, Data: data})
	}
	return out
}
