// Package loader reads Falco rules files (lists, macros, rules, exceptions,
// append and override across files) into a resolved Ruleset: every rule's
// condition is a syntax tree with macros expanded, lists expanded and
// exceptions folded in, its positions pointing at the original text.
//
// Load reports every problem it finds, not just the first, as Problems with a
// file:line:col position. The engine (rules/engine) compiles the Ruleset and
// reports what needs the field registry (unknown fields, operator types).
package loader

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/rules/condition"
)

// EngineVersion is the Falco rules engine version Lanner's loader claims to
// implement; files whose required_engine_version is newer fail to load.
const EngineVersion = "0.59.0"

// SyscallSource is the only event source Lanner evaluates. Rules for other
// sources (k8s_audit, plugins) are skipped with a warning, as Falco does for
// sources it has not loaded.
const SyscallSource = "syscall"

// Source is one rules file's content. Name is used in problem positions.
type Source struct {
	Name string
	Data []byte
}

// Severity of a Problem.
type Severity uint8

// Severities.
const (
	SeverityError Severity = iota
	SeverityWarning
)

func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Problem is an error or warning at a position in a rules file.
type Problem struct {
	Pos      condition.Pos
	Severity Severity
	Msg      string
}

// String formats the problem as `file:line:col: message` (warnings carry a
// "warning: " prefix on the message).
func (p Problem) String() string {
	msg := p.Msg
	if p.Severity == SeverityWarning {
		msg = "warning: " + msg
	}
	if p.Pos.File == "" {
		return msg
	}
	if p.Pos.Line == 0 {
		return fmt.Sprintf("%s: %s", p.Pos.File, msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", p.Pos.File, p.Pos.Line, p.Pos.Col, msg)
}

// HasErrors reports whether any problem is an error.
func HasErrors(ps []Problem) bool {
	for _, p := range ps {
		if p.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Ruleset is the result of loading rules files.
type Ruleset struct {
	// Rules in definition order (a redefined rule keeps its first place).
	// Disabled rules are included (Enabled false) so that their errors are
	// still reported; rules of unknown sources and rules whose condition
	// failed to resolve are left out.
	Rules []*Rule
	// RequiredEngineVersion is the highest required_engine_version seen ("" if none).
	RequiredEngineVersion string
	// RequiredPlugins lists required_plugin_versions entries: each inner slice
	// holds a requirement and its alternatives.
	RequiredPlugins [][]PluginVersion
}

// PluginVersion is one entry of required_plugin_versions.
type PluginVersion struct {
	Name    string
	Version string
}

// Rule is one resolved rule.
type Rule struct {
	Name        string
	Description string
	Priority    alert.Priority
	Tags        []string // sorted, unique (Falco keeps tags in a set)
	Source      string
	Enabled     bool
	// Output is the output format string (trimmed); OutputMap maps byte
	// offsets in it to file positions, for errors in %fields.
	Output    string
	OutputMap *TextMap
	// Condition has every macro and list expanded and exceptions folded in as
	// `and not (...)` clauses; it contains no *condition.Identifier. Node
	// positions point into the rules files (Pos.Offset is then the byte
	// offset in Pos.File). Subtrees expanded from a macro, and list items,
	// are shared between rules: treat the tree as read-only (condition.Clone
	// makes a private copy).
	Condition condition.Expr
	// ExceptionFields are the fields named by the rule's exceptions.
	ExceptionFields []string
	// WarnEvttypes and SkipIfUnknownFilter carry the rule keys of the same
	// names: warn when the rule matches no or too many event types; turn
	// unknown-field errors into a warning and skip the rule.
	WarnEvttypes        bool
	SkipIfUnknownFilter bool
	// Pos is where the rule was (last) defined.
	Pos condition.Pos
}

// Load reads the sources in order and resolves them into a Ruleset. Later
// sources may append to, override, redefine, enable or disable what earlier
// ones defined. All problems found are returned, errors and warnings; the
// Ruleset holds every rule that resolved without error.
func Load(sources ...Source) (*Ruleset, []Problem) {
	c := newCollector()
	for _, s := range sources {
		c.read(s)
	}
	rs := c.compile()
	sortProblems(c.problems, c.fileOrder)
	return rs, c.problems
}

// SortProblems orders problems by source (in the order of srcs), then line,
// column and severity (errors first), e.g. after merging the loader's and
// the compiler's problems.
func SortProblems(ps []Problem, srcs []Source) {
	order := make(map[string]int, len(srcs))
	for i, s := range srcs {
		if _, ok := order[s.Name]; !ok {
			order[s.Name] = i
		}
	}
	sortProblems(ps, order)
}

func sortProblems(ps []Problem, order map[string]int) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i].Pos, ps[j].Pos
		if order[a.File] != order[b.File] {
			return order[a.File] < order[b.File]
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return ps[i].Severity < ps[j].Severity
	})
}

// parseVersion parses "x.y.z" or a bare integer N (old style, meaning 0.N.0).
func parseVersion(s string) ([3]int, bool) {
	var v [3]int
	s = strings.TrimSpace(s)
	if s == "" {
		return v, false
	}
	parts := strings.Split(s, ".")
	if len(parts) == 1 {
		n, ok := atoi(parts[0])
		return [3]int{0, n, 0}, ok
	}
	if len(parts) != 3 {
		return v, false
	}
	for i, p := range parts {
		n, ok := atoi(p)
		if !ok {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

func atoi(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func versionLess(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}
