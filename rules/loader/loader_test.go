package loader

import (
	"strings"
	"testing"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/rules/condition"
)

// src builds a Source from lines joined by newlines (tabs are not allowed in
// YAML indentation, so tests write spaces).
func src(name string, lines ...string) Source {
	return Source{Name: name, Data: []byte(strings.Join(lines, "\n") + "\n")}
}

func load(t *testing.T, srcs ...Source) (map[string]*Rule, []string) {
	t.Helper()
	rs, probs := Load(srcs...)
	rules := map[string]*Rule{}
	for _, r := range rs.Rules {
		rules[r.Name] = r
	}
	var ps []string
	for _, p := range probs {
		ps = append(ps, p.String())
	}
	return rules, ps
}

func TestLoadFeatures(t *testing.T) {
	cases := []struct {
		name  string
		srcs  []Source
		conds map[string]string // rule → printed condition
		check func(t *testing.T, rules map[string]*Rule)
	}{
		{
			name: "lists and macros expand",
			srcs: []Source{src("a.yaml",
				"- list: shells",
				"  items: [bash, sh]",
				"- list: all_shells",
				"  items: [shells, zsh, \"fish shell\"]",
				"- macro: spawned",
				"  condition: evt.type in (execve, execveat)",
				"- macro: shell_spawned",
				"  condition: spawned and proc.name in (all_shells)",
				"- rule: R",
				"  desc: d",
				"  condition: shell_spawned and not proc.pname in (shells, sshd)",
				"  output: shell %proc.name",
				"  priority: WARNING",
				"  tags: [b, a, b]",
			)},
			conds: map[string]string{
				"R": `(evt.type in (execve, execveat) and proc.name in (bash, sh, zsh, "fish shell")) and not proc.pname in (bash, sh, sshd)`,
			},
			check: func(t *testing.T, rules map[string]*Rule) {
				r := rules["R"]
				if r.Priority != alert.PriorityWarning || r.Output != "shell %proc.name" || r.Description != "d" ||
					strings.Join(r.Tags, ",") != "a,b" || !r.Enabled || r.Source != "syscall" {
					t.Errorf("rule fields: %+v", r)
				}
			},
		},
		{
			name: "list name as a bare list operand and a single value",
			srcs: []Source{src("a.yaml",
				"- list: shells",
				"  items: [bash, sh]",
				"- list: one",
				"  items: [cat]",
				"- rule: R",
				"  desc: d",
				"  condition: proc.name in shells or proc.name = one or proc.name = oneof shells or proc.name = 'shells'",
				"  output: o",
				"  priority: info",
			)},
			conds: map[string]string{
				"R": `proc.name in (bash, sh) or proc.name = cat or proc.name = oneof (bash, sh) or proc.name = "shells"`,
			},
		},
		{
			name: "lists refer to lists defined later, quoted names stay strings",
			srcs: []Source{src("a.yaml",
				"- list: a",
				"  items: [b, x, '\"b\"']",
				"- list: b",
				"  items: [c, y]",
				"- list: c",
				"  items: [z]",
				"- rule: R",
				"  desc: d",
				"  condition: proc.name in (a)",
				"  output: o",
				"  priority: info",
			)},
			conds: map[string]string{"R": `proc.name in (z, y, x, "b")`},
		},
		{
			name: "YAML anchors and several documents",
			srcs: []Source{src("a.yaml",
				"- list: a",
				"  items: &shared [p, q]",
				"---",
				"- list: b",
				"  items: *shared",
				"- rule: R",
				"  desc: d",
				"  condition: proc.name in (b)",
				"  output: o",
				"  priority: info",
			)},
			conds: map[string]string{"R": `proc.name in (p, q)`},
		},
		{
			name: "append true across files",
			srcs: []Source{
				src("a.yaml",
					"- list: shells",
					"  items: [bash]",
					"- macro: m",
					"  condition: proc.name in (shells)",
					"- rule: R",
					"  desc: d",
					"  condition: m",
					"  output: o",
					"  priority: notice",
				),
				src("b.yaml",
					"- list: shells",
					"  items: [zsh]",
					"  append: true",
					"- macro: m",
					"  condition: or proc.name = x",
					"  append: true",
					"- rule: R",
					"  condition: and fd.name = /etc",
					"  append: true",
				),
			},
			conds: map[string]string{
				"R": `(proc.name in (bash, zsh) or proc.name = x) and fd.name = /etc`,
			},
		},
		{
			name: "override append and replace",
			srcs: []Source{
				src("a.yaml",
					"- list: l",
					"  items: [a]",
					"- rule: R",
					"  desc: d",
					"  condition: proc.name = x",
					"  output: first",
					"  priority: notice",
					"  tags: [t1]",
				),
				src("b.yaml",
					"- list: l",
					"  items: [b]",
					"  override:",
					"    items: append",
					"- rule: R",
					"  condition: or proc.name in (l)",
					"  output: second",
					"  tags: [t2]",
					"  priority: critical",
					"  enabled: false",
					"  override:",
					"    condition: append",
					"    output: append",
					"    tags: append",
					"    priority: replace",
					"    enabled: replace",
				),
			},
			conds: map[string]string{"R": `proc.name = x or proc.name in (a, b)`},
			check: func(t *testing.T, rules map[string]*Rule) {
				r := rules["R"]
				if r.Output != "first second" || r.Priority != alert.PriorityCritical || r.Enabled ||
					strings.Join(r.Tags, ",") != "t1,t2" {
					t.Errorf("rule fields: %+v", r)
				}
			},
		},
		{
			name: "override replace condition and list items",
			srcs: []Source{
				src("a.yaml",
					"- list: l",
					"  items: [a]",
					"- rule: R",
					"  desc: d",
					"  condition: proc.name = x",
					"  output: o",
					"  priority: notice",
				),
				src("b.yaml",
					"- list: l",
					"  items: [b]",
					"  override:",
					"    items: replace",
					"- rule: R",
					"  condition: proc.name in (l)",
					"  override:",
					"    condition: replace",
				),
			},
			conds: map[string]string{"R": `proc.name in (b)`},
		},
		{
			name: "enabled toggling across files",
			srcs: []Source{
				src("a.yaml",
					"- rule: R",
					"  desc: d",
					"  condition: proc.name = x",
					"  output: o",
					"  priority: notice",
					"  enabled: false",
				),
				src("b.yaml",
					"- rule: R",
					"  enabled: true",
				),
			},
			conds: map[string]string{"R": `proc.name = x`},
			check: func(t *testing.T, rules map[string]*Rule) {
				if !rules["R"].Enabled {
					t.Error("rule R should be re-enabled")
				}
			},
		},
		{
			name: "redefinition in a later file replaces",
			srcs: []Source{
				src("a.yaml",
					"- macro: m",
					"  condition: proc.name = a",
					"- rule: R",
					"  desc: d",
					"  condition: m",
					"  output: o",
					"  priority: notice",
				),
				src("b.yaml",
					"- macro: m",
					"  condition: proc.name = b",
				),
			},
			conds: map[string]string{"R": `proc.name = b`},
		},
		{
			name: "exceptions with Falco's defaults",
			srcs: []Source{src("a.yaml",
				"- list: ok_names",
				"  items: [n1, n2]",
				"- rule: R",
				"  desc: d",
				"  condition: evt.type = open",
				"  output: o",
				"  priority: notice",
				"  exceptions:",
				"    - name: single",
				"      fields: proc.name",
				"      values: [a, \"b c\"]",
				"    - name: pairs",
				"      fields: [proc.name, fd.name]",
				"      values:",
				"        - [x, /tmp/a b]",
				"        - [y, /tmp/c]",
				"    - name: with_comps",
				"      fields: [proc.name, fd.name, fd.directory]",
				"      comps: [in, startswith, in]",
				"      values:",
				"        - [ok_names, /var, [/etc, /usr]]",
				"    - name: empty",
				"      fields: [proc.name]",
			)},
			conds: map[string]string{
				"R": `evt.type = open and not proc.name in (a, "b c") and not ((proc.name = x and fd.name = "/tmp/a b") or (proc.name = y and fd.name = /tmp/c)) and not (proc.name in (n1, n2) and fd.name startswith /var and fd.directory in (/etc, /usr))`,
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rules, probs := load(t, tc.srcs...)
			for _, p := range probs {
				if !strings.Contains(p, "warning: ") {
					t.Errorf("problem: %s", p)
				}
			}
			for name, want := range tc.conds {
				r := rules[name]
				if r == nil {
					t.Fatalf("rule %q not loaded", name)
				}
				if got := condition.String(r.Condition); got != want {
					t.Errorf("rule %q condition:\n got %s\nwant %s", name, got, want)
				}
				condition.Inspect(r.Condition, func(n condition.Node) bool {
					if _, ok := n.(*condition.Identifier); ok {
						t.Errorf("rule %q: unresolved identifier %s", name, condition.String(n))
					}
					return true
				})
			}
			if tc.check != nil {
				tc.check(t, rules)
			}
		})
	}
}
