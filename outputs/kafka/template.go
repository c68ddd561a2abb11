package kafka

import (
	"fmt"
	"slices"
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
	fieldMap bool // the template reads .OutputFields as a map (index, range)
}

// withFieldMap is what a template that reads .OutputFields other than
// through field runs on: the alert with output_fields as the map
// falcosidekick-style templates index and range over. The shallower field
// hides the alert's Fields.
type withFieldMap struct {
	*alert.Alert
	OutputFields map[string]any
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
	// It gets the alert's Fields, or the map when the template also reads
	// .OutputFields another way (see readsFieldMap).
	"field": func(fs any, k string) (string, error) {
		switch fs := fs.(type) {
		case alert.Fields:
			if v, ok := fs.Get(k); ok {
				return v.String(), nil
			}
			return "", nil
		case map[string]any:
			if v, ok := fs[k]; ok {
				return alert.FieldString(v), nil
			}
			return "", nil
		}
		return "", fmt.Errorf("field: want .OutputFields, got %T", fs)
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
	f := &field{tmpl: t, fieldMap: readsFieldMap(t)}
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
	var data any = a
	if f.fieldMap {
		data = withFieldMap{Alert: a, OutputFields: a.OutputFields.Map()}
	}
	sb.Reset()
	if err := f.tmpl.Execute(sb, data); err != nil {
		return "", err
	}
	return strings.TrimSpace(sb.String()), nil
}

// readsFieldMap reports whether t (or a template it defines) names
// OutputFields anywhere but as the argument of `field .OutputFields "k"`,
// which looks the key up in the alert's Fields. Only such a template (index,
// range, printing the fields) gets output_fields as a map, built per alert.
func readsFieldMap(t *template.Template) bool {
	for _, d := range t.Templates() {
		if d.Tree != nil && namesOutputFields(d.Tree.Root) {
			return true
		}
	}
	return false
}

func namesOutputFields(n parse.Node) bool {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return false
		}
		return slices.ContainsFunc(n.Nodes, namesOutputFields)
	case *parse.ActionNode:
		return namesOutputFields(n.Pipe)
	case *parse.PipeNode:
		if n == nil {
			return false
		}
		return slices.ContainsFunc(n.Cmds, func(c *parse.CommandNode) bool { return namesOutputFields(c) })
	case *parse.CommandNode:
		for i, arg := range n.Args {
			if i == 1 && isFieldLookup(n) {
				continue
			}
			if namesOutputFields(arg) {
				return true
			}
		}
	case *parse.IfNode:
		return namesOutputFieldsBranch(&n.BranchNode)
	case *parse.RangeNode:
		return namesOutputFieldsBranch(&n.BranchNode)
	case *parse.WithNode:
		return namesOutputFieldsBranch(&n.BranchNode)
	case *parse.TemplateNode:
		return namesOutputFields(n.Pipe)
	case *parse.FieldNode:
		return slices.Contains(n.Ident, "OutputFields")
	case *parse.VariableNode:
		return slices.Contains(n.Ident, "OutputFields")
	case *parse.ChainNode:
		return slices.Contains(n.Field, "OutputFields") || namesOutputFields(n.Node)
	}
	return false
}

func namesOutputFieldsBranch(b *parse.BranchNode) bool {
	return namesOutputFields(b.Pipe) || namesOutputFields(b.List) || namesOutputFields(b.ElseList)
}

// isFieldLookup reports whether c is `field .OutputFields ...`.
func isFieldLookup(c *parse.CommandNode) bool {
	if len(c.Args) < 2 {
		return false
	}
	fn, ok := c.Args[0].(*parse.IdentifierNode)
	if !ok || fn.Ident != "field" {
		return false
	}
	arg, ok := c.Args[1].(*parse.FieldNode)
	return ok && len(arg.Ident) == 1 && arg.Ident[0] == "OutputFields"
}
