// Package templates holds Lanner's default message templates (embedded) and
// the helper functions every template can use. A user file replaces a
// default; Load parses it and executes it once against a sample alert, so a
// broken template is a configuration error at startup, never a failure (or a
// panic) when an alert is sent.
package templates

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/lannerhq/lanner/alert"
)

//go:embed *.tmpl
var defaults embed.FS

// The embedded defaults.
const (
	Slack   = "slack.tmpl"   // a Slack message (JSON: text, attachments, blocks)
	Webhook = "webhook.tmpl" // an example webhook body (the default body is the alert JSON)
	Text    = "text.tmpl"    // one plain text line
)

// Data is what every template receives. The alert's fields are promoted, so
// falcosidekick's {{ .Rule }}, {{ .Output }}, {{ index .OutputFields "k" }}
// and {{ range $k, $v := .OutputFields }} work unchanged.
type Data struct {
	*alert.Alert
	// OutputFields hides the alert's Fields behind the map falcosidekick's
	// templates index and range over (text/template's index takes maps, not
	// a slice of pairs). Execute fills it from the alert when it is nil. The
	// alert's own output_fields is what {{ json . }} writes.
	OutputFields map[string]any `json:"-"`
	// Format is the output's layout hint (Slack outputformat: all, text, fields).
	Format string
	// Text is extra text an output rendered before this template (Slack
	// messageformat), empty if none.
	Text string
}

// Field is one output_fields entry rendered as text.
type Field struct {
	Key   string
	Value string
}

// Funcs returns the helper functions available to templates:
//
//	priorityColor P   hex colour for a priority ("#e20b0b" for Critical…)
//	priorityEmoji P   an emoji for a priority
//	truncate N S      S cut to N characters, ending in "…" when cut
//	json V            V as JSON (strings quoted and escaped: safe inside JSON)
//	upper S, lower S  case
//	join SEP LIST     strings.Join
//	field KEY         in a pipeline, the text of output_fields[KEY] ("" if absent): {{ field "k8s.pod.name" . }}
//	fields .          the output fields sorted by key, as .Key/.Value pairs
//	default D V       V, or D when V is empty
//	formatTime L T    T formatted with Go layout L ("2006-01-02 15:04:05")
//	rfc3339 T         T as RFC 3339 with nanoseconds, UTC
//	replace OLD NEW S strings.ReplaceAll
//	first N LIST      the first N elements
func Funcs() template.FuncMap {
	return template.FuncMap{
		"priorityColor": PriorityColor,
		"priorityEmoji": priorityEmoji,
		"truncate":      func(n int, v any) string { return Truncate(n, str(v)) },
		"json":          toJSON,
		"upper":         func(v any) string { return strings.ToUpper(str(v)) },
		"lower":         func(v any) string { return strings.ToLower(str(v)) },
		"join":          join,
		"field":         field,
		"fields":        fields,
		"default":       dflt,
		"formatTime":    func(layout string, t time.Time) string { return t.Format(layout) },
		"rfc3339":       func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
		"replace":       func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
		"first":         first,
	}
}

// PriorityColor is the colour Slack (and similar) show for a priority,
// falcosidekick's palette.
func PriorityColor(p alert.Priority) string {
	switch p {
	case alert.PriorityEmergency:
		return "#e20b0b"
	case alert.PriorityAlert:
		return "#ff5400"
	case alert.PriorityCritical:
		return "#ff9000"
	case alert.PriorityError:
		return "#ffc700"
	case alert.PriorityWarning:
		return "#ffff00"
	case alert.PriorityNotice:
		return "#5bffb5"
	case alert.PriorityInformational:
		return "#68c2ff"
	default:
		return "#ccfff2"
	}
}

func priorityEmoji(p alert.Priority) string {
	switch {
	case p >= alert.PriorityCritical:
		return ":rotating_light:"
	case p >= alert.PriorityWarning:
		return ":warning:"
	default:
		return ":information_source:"
	}
}

// Truncate cuts s to at most n characters (runes), ending in "…" when cut.
func Truncate(n int, s string) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// str renders any template value as text (priorities, numbers, fields).
func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case fmt.Stringer:
		return x.String()
	default:
		return alert.FieldString(v)
	}
}

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func join(sep string, v any) string {
	switch l := v.(type) {
	case []string:
		return strings.Join(l, sep)
	case []any:
		s := make([]string, len(l))
		for i, x := range l {
			s[i] = alert.FieldString(x)
		}
		return strings.Join(s, sep)
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// field accepts Data, *alert.Alert, alert.Fields or a map, so it works
// wherever a template is.
func field(key string, v any) (string, error) {
	f, err := outputFields(v)
	if err != nil {
		return "", err
	}
	x, ok := f.Get(key)
	if !ok {
		return "", nil
	}
	return x.String(), nil
}

// outputFields finds the output fields in whatever a template was given:
// Data or *Data (its alert's), *alert.Alert, alert.Fields or a map (such as
// Data.OutputFields).
func outputFields(v any) (alert.Fields, error) {
	switch d := v.(type) {
	case Data:
		if d.Alert != nil {
			return d.Alert.OutputFields, nil
		}
	case *Data:
		if d != nil && d.Alert != nil {
			return d.Alert.OutputFields, nil
		}
	case *alert.Alert:
		if d != nil {
			return d.OutputFields, nil
		}
	case alert.Fields:
		return d, nil
	case map[string]any:
		return alert.FieldsFromMap(d)
	}
	return nil, nil
}

func fields(v any) ([]Field, error) {
	f, err := outputFields(v)
	if err != nil {
		return nil, err
	}
	f = f.Sorted()
	out := make([]Field, len(f))
	for i, e := range f {
		out[i] = Field{Key: e.Key, Value: e.Value.String()}
	}
	return out, nil
}

func dflt(d, v any) any {
	switch x := v.(type) {
	case nil:
		return d
	case string:
		if x == "" {
			return d
		}
	}
	return v
}

func first(n int, v any) any {
	switch l := v.(type) {
	case []string:
		return l[:min(n, len(l))]
	case []Field:
		return l[:min(n, len(l))]
	case []any:
		return l[:min(n, len(l))]
	}
	return v
}

// Sample is the alert every template is tried against at load time.
func Sample() *alert.Alert {
	return &alert.Alert{
		UUID:     "9b2d3e4f-0000-4000-8000-000000000001",
		Time:     time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC),
		Priority: alert.PriorityWarning,
		Rule:     "Read sensitive file untrusted",
		Output:   "10:00:00.123456789: Warning Sensitive file opened for reading by non-trusted program (file=/etc/shadow user=root command=cat /etc/shadow)",
		OutputFields: alert.MustFields(map[string]any{
			"evt.type": "openat", "fd.name": "/etc/shadow", "proc.name": "cat",
			"user.name": "root", "user.uid": json.Number("0"), "k8s.pod.name": "web-0", "proc.tty": nil,
		}),
		Source:   "syscall",
		Tags:     []string{"filesystem", "mitre_credential_access"},
		Hostname: "node-1",
	}
}

// Load returns the template in userFile, or the embedded default named
// defaultName when userFile is empty. It fails (never panics) on a missing
// file, a syntax error, an unknown function, or an execution error against
// Sample().
func Load(userFile, defaultName string) (*template.Template, error) {
	var name, text string
	if userFile != "" {
		b, err := os.ReadFile(userFile)
		if err != nil {
			return nil, fmt.Errorf("template: %w", err)
		}
		name, text = filepath.Base(userFile), string(b)
	} else {
		b, err := defaults.ReadFile(defaultName)
		if err != nil {
			return nil, fmt.Errorf("template: no embedded default %q", defaultName)
		}
		name, text = defaultName, string(b)
	}
	t, err := Parse(name, text)
	if err != nil {
		if userFile != "" {
			return nil, fmt.Errorf("template file %s: %w", userFile, err)
		}
		return nil, err
	}
	return t, nil
}

// Parse parses an inline template (e.g. Slack messageformat) and checks it
// against Sample() like Load.
func Parse(name, text string) (*template.Template, error) {
	t, err := template.New(name).Funcs(Funcs()).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	for _, f := range []string{"all", "text", "fields"} {
		if _, err := Execute(t, Data{Alert: Sample(), Format: f, Text: "sample"}); err != nil {
			return nil, fmt.Errorf("template %s does not render a sample alert: %w", name, err)
		}
	}
	return t, nil
}

// Default returns the text of an embedded default (for docs and tests).
func Default(name string) (string, error) {
	b, err := defaults.ReadFile(name)
	return string(b), err
}

// Execute renders t with d, filling d.OutputFields from the alert when it is
// nil. Template code cannot panic the caller: a panic inside a helper is
// returned as an error.
func Execute(t *template.Template, d Data) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("template %s: panic: %v", t.Name(), r)
		}
	}()
	if d.OutputFields == nil && d.Alert != nil {
		d.OutputFields = d.Alert.OutputFields.Map()
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("template %s: %w", t.Name(), err)
	}
	return b.Bytes(), nil
}
