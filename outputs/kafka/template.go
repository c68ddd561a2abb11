package kafka

import (
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/lannerhq/lanner/alert"
)

// field is a compiled topic or key template. Most topics are constants:
// those skip template execution on the hot path.
type field struct {
	constant string
	isConst  bool
	get      func(*alert.Alert) string // set for a bare {{ .Field }}
	tmpl     *template.Template
}

// getters resolve the bare one-field templates (the default key is
// `{{ .Hostname }}`) without running the template engine.
var getters = map[string]func(*alert.Alert) string{
	"Hostname": func(a *alert.Alert) string { return a.Hostname },
	"Rule":     func(a *alert.Alert) string { return a.Rule },
	"Source":   func(a *alert.Alert) string { return a.Source },
	"Priority": func(a *alert.Alert) string { return a.Priority.String() },
	"UUID":     func(a *alert.Alert) string { return a.UUID },
}

// funcs are the helpers topic and key templates may use. They take `any` so
// that `{{ .Priority | lower }}` works on the Priority type.
var funcs = template.FuncMap{
	"lower": func(v any) string { return strings.ToLower(fmt.Sprint(v)) },
	"upper": func(v any) string { return strings.ToUpper(fmt.Sprint(v)) },
	"replace": func(old, new string, v any) string {
		return strings.ReplaceAll(fmt.Sprint(v), old, new)
	},
	// field returns an output_fields value as text, "" when absent, so a key
	// like `{{ field .OutputFields "k8s.ns.name" }}` never renders "<no value>".
	"field": func(m map[string]any, k string) string {
		v, ok := m[k]
		if !ok {
			return ""
		}
		return alert.FieldString(v)
	},
	"default": func(def string, v any) string {
		if s := fmt.Sprint(v); v != nil && s != "" && s != "<no value>" {
			return s
		}
		return def
	},
}

func parseTemplate(name, text string) (*field, error) {
	t, err := template.New(name).Option("missingkey=zero").Funcs(funcs).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f := &field{tmpl: t}
	if t.Tree == nil || t.Tree.Root == nil || len(t.Tree.Root.Nodes) == 0 {
		f.isConst = true
		return f, nil
	}
	if len(t.Tree.Root.Nodes) == 1 {
		switch n := t.Tree.Root.Nodes[0].(type) {
		case *parse.TextNode:
			f.isConst, f.constant = true, string(n.Text)
		case *parse.ActionNode:
			if p := n.Pipe; len(p.Decl) == 0 && len(p.Cmds) == 1 && len(p.Cmds[0].Args) == 1 {
				if fn, ok := p.Cmds[0].Args[0].(*parse.FieldNode); ok && len(fn.Ident) == 1 {
					f.get = getters[fn.Ident[0]]
				}
			}
		}
	}
	return f, nil
}

func (f *field) render(a *alert.Alert, sb *strings.Builder) (string, error) {
	if f.isConst {
		return f.constant, nil
	}
	if f.get != nil {
		return strings.TrimSpace(f.get(a)), nil
	}
	sb.Reset()
	if err := f.tmpl.Execute(sb, a); err != nil {
		return "", err
	}
	return strings.TrimSpace(sb.String()), nil
}
