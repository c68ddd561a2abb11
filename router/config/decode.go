package config

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/lannerhq/lanner/alert"
)

// maxNodes bounds the nodes one config may expand to through aliases, so a
// crafted file ("billion laughs") cannot make loading explode.
const maxNodes = 200_000

// decoder walks yaml.v3 nodes by hand so that every problem carries its line
// and all problems are collected in one pass.
type decoder struct {
	file   string
	errs   *errList
	budget int
	// envNames names the environment variables behind nodes with Line < 0.
	envNames []string
}

func (d *decoder) errf(n *yaml.Node, format string, args ...any) {
	file, line := d.file, 0
	if n != nil {
		line = n.Line
	}
	if line < 0 && -line <= len(d.envNames) {
		file, line = "$"+d.envNames[-line-1], 0
	}
	d.errs.add(file, line, format, args...)
}

// resolve follows aliases, charging the node budget.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.budget++
	if d.budget == maxNodes {
		d.errf(n, "document too complex (more than %d nodes after expanding aliases)", maxNodes)
	}
	return n
}

func (d *decoder) exhausted() bool { return d.budget >= maxNodes }

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return "a scalar"
	}
	return "nothing"
}

// field handles the value of one known key.
type field func(key, val *yaml.Node)

// mapping decodes a mapping whose keys must all be in fields. what names the
// section in messages ("http.tls", "routes[2].match").
func (d *decoder) mapping(n *yaml.Node, what string, fields map[string]field) {
	d.entries(n, what, func(k, v *yaml.Node) {
		f, ok := fields[k.Value]
		if !ok {
			d.errf(k, "%s: unknown key %q%s", what, k.Value, suggest(k.Value, fields))
			return
		}
		f(k, v)
	})
}

// entries calls fn for each key of a mapping and its value node as written
// (an alias is not resolved), reporting non-string and duplicate keys.
func (d *decoder) entries(n *yaml.Node, what string, fn func(k, v *yaml.Node)) {
	n = d.resolve(n)
	if isNull(n) || d.exhausted() {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errf(n, "%s: expected a mapping, got %s", what, kindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			d.errf(k, "%s: keys must be strings", what)
			continue
		}
		if seen[k.Value] {
			d.errf(k, "%s: duplicate key %q", what, k.Value)
			continue
		}
		seen[k.Value] = true
		fn(k, n.Content[i+1])
	}
}

// suggest names the closest known key, or lists the known keys when there
// are few enough to read.
func suggest[V any](key string, fields map[string]V) string {
	best, bestDist := "", 3
	for k := range fields {
		if d := editDistance(strings.ToLower(key), k); d < bestDist || (d == bestDist && k < best) {
			best, bestDist = k, d
		}
	}
	if best != "" && bestDist <= 2 {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	if len(fields) <= 16 {
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return " (known: " + strings.Join(keys, ", ") + ")"
	}
	return ""
}

// editDistance is the Levenshtein distance between short keys.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func knownKeys(fields map[string]field) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// pairs iterates a mapping of arbitrary keys (customfields, overrides).
func (d *decoder) pairs(n *yaml.Node, what string, fn func(k, v *yaml.Node)) {
	d.entries(n, what, func(k, v *yaml.Node) { fn(k, d.resolve(v)) })
}

func (d *decoder) list(n *yaml.Node, what string, fn func(i int, item *yaml.Node)) {
	n = d.resolve(n)
	if isNull(n) || d.exhausted() {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errf(n, "%s: expected a list, got %s", what, kindName(n))
		return
	}
	for i, item := range n.Content {
		if d.exhausted() {
			return
		}
		fn(i, item)
	}
}

func (d *decoder) str(n *yaml.Node, what string) string {
	n = d.resolve(n)
	if isNull(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		d.errf(n, "%s: expected a string, got %s", what, kindName(n))
		return ""
	}
	return n.Value
}

func (d *decoder) strMap(n *yaml.Node, what string) map[string]string {
	out := map[string]string{}
	d.pairs(n, what, func(k, v *yaml.Node) {
		out[k.Value] = d.str(v, what+"."+k.Value)
	})
	return out
}

func (d *decoder) strList(n *yaml.Node, what string) []string {
	n = d.resolve(n)
	if n != nil && n.Kind == yaml.ScalarNode && !isNull(n) {
		return []string{n.Value} // a single item may be written without brackets
	}
	var out []string
	d.list(n, what, func(i int, item *yaml.Node) {
		out = append(out, d.str(item, fmt.Sprintf("%s[%d]", what, i)))
	})
	return out
}

func (d *decoder) boolean(n *yaml.Node, what string) bool {
	n = d.resolve(n)
	if isNull(n) {
		return false
	}
	if n.Kind == yaml.ScalarNode {
		switch strings.ToLower(n.Value) {
		case "true":
			return true
		case "false":
			return false
		}
	}
	d.errf(n, "%s: expected true or false, got %s", what, describe(n))
	return false
}

func (d *decoder) integer(n *yaml.Node, what string, min, max int64) int64 {
	n = d.resolve(n)
	if isNull(n) {
		return 0
	}
	if n.Kind == yaml.ScalarNode {
		if v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
			if v < min || v > max {
				d.errf(n, "%s: %d is out of range [%d, %d]", what, v, min, max)
				return 0
			}
			return v
		}
	}
	d.errf(n, "%s: expected an integer, got %s", what, describe(n))
	return 0
}

// size accepts a plain byte count or a number with a unit (KiB, MiB, GiB, KB, MB, GB).
func (d *decoder) size(n *yaml.Node, what string) int64 {
	n = d.resolve(n)
	if isNull(n) {
		return 0
	}
	if n.Kind == yaml.ScalarNode {
		if v, ok := parseSize(n.Value); ok {
			return v
		}
	}
	d.errf(n, "%s: expected a size in bytes such as 1048576 or 64MiB, got %s", what, describe(n))
	return 0
}

func parseSize(s string) (int64, bool) {
	s = strings.TrimSpace(strings.ReplaceAll(s, "_", ""))
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > math.MaxInt64/mult {
		return 0, false
	}
	return v * mult, true
}

func (d *decoder) duration(n *yaml.Node, what string) time.Duration {
	n = d.resolve(n)
	if isNull(n) {
		return 0
	}
	if n.Kind == yaml.ScalarNode {
		if v, err := time.ParseDuration(n.Value); err == nil && v >= 0 {
			return v
		}
	}
	d.errf(n, "%s: expected a non-negative duration such as 30s, 5m or 1h, got %s", what, describe(n))
	return 0
}

func (d *decoder) priority(n *yaml.Node, what string) alert.Priority {
	s := d.str(n, what)
	if s == "" {
		return alert.PriorityUnset
	}
	p, err := alert.ParsePriority(s)
	if err != nil {
		d.errf(d.resolve(n), "%s: %v", what, err)
	}
	return p
}

// describe shows a scalar's value briefly; only used for non-secret keys.
func describe(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		return kindName(n)
	}
	v := n.Value
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	return strconv.Quote(v)
}
