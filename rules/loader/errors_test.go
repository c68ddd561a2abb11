package loader

import (
	"strings"
	"testing"
)

func TestLoadProblems(t *testing.T) {
	cases := []struct {
		name string
		srcs []Source
		want []string
	}{
		{
			name: "all problems of a file in one run, positions in folded and quoted scalars",
			srcs: []Source{src("r.yaml",
				"- macro: m1",                       // 1
				"  condition: >",                    // 2
				"    proc.name = a",                 // 3
				"    and undefined_macro",           // 4
				"- rule: R1",                        // 5
				"  desc: d",                         // 6
				`  condition: "proc.name in (a, b"`, // 7
				"  output: o",                       // 8
				"  priority: loud",                  // 9
				"- rule: R2",                        // 10
				"  desc: d",                         // 11
				"  condition: m1 and proc.name in (no_such_list) or nolist", // 12
				"  output: o",             // 13
				"  priority: info",        // 14
				"  colour: red",           // 15
				"- rule: R3",              // 16
				"  condition: |",          // 17
				"    evt.type = open and", // 18
				"      fd.name = x y",     // 19
				"  output: o",             // 20
				"  priority: info",        // 21
			)},
			want: []string{
				"r.yaml:4:9: undefined macro 'undefined_macro' used in filter",
				"r.yaml:7:33: rule 'R1': syntax error: expected a ')' token",
				"r.yaml:9:13: invalid priority 'loud' (want one of Emergency, Alert, Critical, Error, Warning, Notice, Informational, Debug)",
				"r.yaml:12:52: undefined macro 'nolist' used in filter",
				"r.yaml:15:3: warning: unknown key 'colour' in rule (ignored)",
				"r.yaml:16:3: item has no mapping for key 'desc'",
				"r.yaml:19:19: rule 'R3': syntax error: unexpected token after 'x', expecting 'or', 'and'",
			},
		},
		{
			name: "YAML error",
			srcs: []Source{src("y.yaml",
				"- rule: R",
				"  desc: d",
				"   output: o",
				"- rule: S",
			)},
			want: []string{"y.yaml:3:1: invalid YAML: line 3: mapping values are not allowed in this context"},
		},
		{
			name: "structure errors",
			srcs: []Source{src("s.yaml",
				"rule: not a sequence",
			), src("t.yaml",
				"- just a string",
				"- list: l",
				"  items: notalist",
				"- macro: bad name",
				"  condition: a",
				"- something: else",
			)},
			want: []string{
				"s.yaml:1:1: rules content is not a YAML sequence of items",
				"t.yaml:1:3: unexpected element type: each item should be a YAML mapping (rule, macro, list, ...)",
				"t.yaml:3:10: value of 'items' must be a sequence, got a scalar",
				"t.yaml:4:10: invalid macro name 'bad name': it must match [a-zA-Z]+[a-zA-Z0-9_]*",
				"t.yaml:6:3: warning: unknown top level item (ignored): expected rule, macro, list, required_engine_version or required_plugin_versions",
			},
		},
		{
			name: "appends and overrides of undefined things, unbalanced override",
			srcs: []Source{src("o.yaml",
				"- list: l",                    // 1
				"  items: [a]",                 // 2
				"  append: true",               // 3
				"- macro: m",                   // 4
				"  condition: a",               // 5
				"  override:",                  // 6
				"    condition: append",        // 7
				"- rule: R",                    // 8
				"  condition: and x",           // 9
				"  override:",                  // 10
				"    condition: append",        // 11
				"- rule: S",                    // 12
				"  enabled: false",             // 13
				"- rule: T",                    // 14
				"  desc: d",                    // 15
				"  condition: evt.type = open", // 16
				"  output: o",                  // 17
				"  priority: info",             // 18
				"- rule: T",                    // 19
				"  condition: and x",           // 20
				"  output: more",               // 21
				"  override:",                  // 22
				"    condition: append",        // 23
				"    priority: replace",        // 24
				"    source: replace",          // 25
			)},
			want: []string{
				"o.yaml:1:3: list 'l' has 'append' key or an append override but no list by that name already exists",
				"o.yaml:1:3: warning: 'append' is deprecated: use 'override: {items: append}'",
				"o.yaml:4:3: macro 'm' has 'append' key or an append override but no macro by that name already exists",
				"o.yaml:8:3: rule 'R' has an override but no rule by that name already exists",
				"o.yaml:12:3: rule 'S' has 'enabled' key but no rule by that name already exists",
				"o.yaml:12:3: warning: using 'enabled' alone to toggle a rule is deprecated: use 'override: {enabled: replace}'",
				"o.yaml:19:3: a replace override for 'priority' was specified but 'priority' is not defined",
				"o.yaml:21:3: unexpected key 'output': no corresponding entry under 'override' is defined",
				"o.yaml:25:5: key 'source' cannot be replaced",
			},
		},
		{
			name: "exceptions errors",
			srcs: []Source{src("e.yaml",
				"- rule: R",                          // 1
				"  desc: d",                          // 2
				"  condition: evt.type = open",       // 3
				"  output: o",                        // 4
				"  priority: info",                   // 5
				"  exceptions:",                      // 6
				"    - name: a",                      // 7
				"      fields: [proc.name, fd.name]", // 8
				"      comps: [=]",                   // 9
				"      values: [[x, y]]",             // 10
				"    - name: b",                      // 11
				"      fields: proc.name",            // 12
				"      comps: =",                     // 13
				"    - name: c",                      // 14
				"      fields: [proc.name]",          // 15
				"      comps: [like]",                // 16
				"    - name: d",                      // 17
				"      fields: [proc.name, fd.name]", // 18
				"      values: [[x]]",                // 19
			)},
			want: []string{
				"e.yaml:7:7: rule exception 'a': fields and comps lists must have equal length",
				"e.yaml:13:14: rule exception 'b': when fields is a single value, comps must be one of (in, pmatch, intersects)",
				"e.yaml:16:15: rule exception 'c': 'like' is not a supported comparison operator",
				"e.yaml:19:16: rule exception 'd': fields and values lists must have equal length",
			},
		},
		{
			name: "errors in appended text point into the appending file",
			srcs: []Source{
				src("a.yaml",
					"- macro: m",                 // 1
					"  condition: proc.name = a", // 2
					"- rule: R",                  // 3
					"  desc: d",                  // 4
					"  condition: >-",            // 5
					"    evt.type = open",        // 6
					"  output: o",                // 7
					"  priority: info",           // 8
				),
				src("b.yaml",
					"- macro: m",            // 1
					"  condition: or nope",  // 2
					"  override:",           // 3
					"    condition: append", // 4
					"- rule: R",             // 5
					"  condition: |-",       // 6
					"    and",               // 7
					"      missing_macro",   // 8
					"  override:",           // 9
					"    condition: append", // 10
				),
			},
			want: []string{
				"b.yaml:2:17: undefined macro 'nope' used in filter",
				"b.yaml:8:7: undefined macro 'missing_macro' used in filter",
			},
		},
		{
			name: "a missing condition is reported once",
			srcs: []Source{src("m.yaml",
				"- rule: R",
				"  desc: d",
				"  output: o",
				"  priority: info",
			)},
			want: []string{"m.yaml:1:3: item has no mapping for key 'condition'"},
		},
		{
			name: "engine version and plugins",
			srcs: []Source{src("v.yaml",
				"- required_engine_version: 0.99.0",
				"- required_engine_version: nonsense",
				"- required_plugin_versions:",
				"    - name: container",
				"      version: 0.4.0",
				"    - name: k8saudit",
				"      version: 0.1.0",
			)},
			want: []string{
				"v.yaml:1:28: rules require engine version 0.99.0, but Lanner implements engine version " + EngineVersion,
				"v.yaml:2:28: unable to parse engine version 'nonsense' as a semver string: expected \"x.y.z\"",
				"v.yaml:6:7: warning: plugin 'k8saudit' is not available in Lanner (container and k8s fields are built in); rules of its source are skipped",
			},
		},
		{
			name: "redefinition in the same file warns, macro cycle and visibility",
			srcs: []Source{src("d.yaml",
				"- macro: a",                 // 1
				"  condition: b",             // 2
				"- macro: b",                 // 3
				"  condition: proc.name = x", // 4
				"- macro: b",                 // 5
				"  condition: c",             // 6
				"- macro: c",                 // 7
				"  condition: proc.name = y", // 8
			)},
			want: []string{
				"d.yaml:2:14: undefined macro 'b' used in filter",
				"d.yaml:5:3: warning: macro 'b' redefines the macro defined at line 3",
				"d.yaml:6:14: undefined macro 'c' used in filter",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, got := load(t, tc.srcs...)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}
