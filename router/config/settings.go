package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// DecodeSettings decodes an output's type-specific settings into into (a
// pointer to the output package's Config struct, whose yaml tags name the
// keys). Decoding is strict: a key that into has no field for is an error.
// Fields the settings do not mention keep their values, so set defaults in
// into before calling. Errors are "file:line: message" ("$VAR: message" for
// values from the environment) and never contain secret values.
func DecodeSettings(spec OutputSpec, into any) error {
	rv := reflect.ValueOf(into)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("config: DecodeSettings needs a non-nil pointer, got %T", into)
	}
	if spec.Settings == nil {
		return nil
	}
	errs := &errList{}
	d := &decoder{file: spec.File, errs: errs, envNames: spec.envNames}
	what := spec.Type
	if spec.Name != "" {
		what = fmt.Sprintf("output %q", spec.Name)
	}
	checkKnown(d, spec.Settings, rv.Type().Elem(), what)
	if err := spec.Settings.Decode(into); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			secrets := secretValues(spec.Settings, "", 0, nil)
			for _, msg := range te.Errors {
				// yaml.v3 quotes the offending value: mask it if it is a secret.
				for _, s := range secrets {
					msg = strings.ReplaceAll(msg, s, redacted)
				}
				d.errs.addErr(typeError(d, what, msg))
			}
		} else {
			d.errs.add(spec.File, spec.Line, "%s: %v", what, err)
		}
	}
	return errs.join()
}

// secretValues collects the scalar values under secret keys (and custom
// header values) of a settings tree.
func secretValues(n *yaml.Node, key string, depth int, out []string) []string {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || depth > 32 {
		return out
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if IsSecretKey(key) && n.Value != "" {
			out = append(out, n.Value)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			child := strings.ToLower(n.Content[i].Value)
			if key == "customheaders" {
				child = "secret"
			}
			out = secretValues(n.Content[i+1], child, depth+1, out)
		}
	default:
		for _, item := range n.Content {
			out = secretValues(item, key, depth+1, out)
		}
	}
	return out
}

var typeErrorRE = regexp.MustCompile(`^line (-?\d+): (.*)$`)

func typeError(d *decoder, what, msg string) *Error {
	m := typeErrorRE.FindStringSubmatch(msg)
	if m == nil {
		return &Error{File: d.file, Msg: what + ": " + msg}
	}
	line, _ := strconv.Atoi(m[1])
	file := d.file
	if line < 0 && -line <= len(d.envNames) {
		file, line = "$"+d.envNames[-line-1], 0
	}
	return &Error{File: file, Line: line, Msg: what + ": " + m[2]}
}

var (
	yamlUnmarshaler = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// checkKnown reports mapping keys that have no field in t, recursively.
func checkKnown(d *decoder, n *yaml.Node, t reflect.Type, what string) {
	n = d.resolve(n)
	if isNull(n) || d.exhausted() {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(yamlUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // yaml.v3 reports the type mismatch
		}
		fields, open := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := d.resolve(n.Content[i])
			ft, ok := fields[k.Value]
			if !ok {
				if !open {
					d.errf(k, "%s: unknown key %q%s", what, k.Value, suggest(k.Value, fields))
				}
				continue
			}
			checkKnown(d, n.Content[i+1], ft, what+"."+k.Value)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := d.resolve(n.Content[i])
			checkKnown(d, n.Content[i+1], t.Elem(), what+"."+k.Value)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, item := range n.Content {
			checkKnown(d, item, t.Elem(), fmt.Sprintf("%s[%d]", what, i))
		}
	}
}

// yamlFields maps each yaml key of struct t to its field type, following
// yaml.v3's rules (tag name, else the lowercased field name; ",inline").
// open is true when an inline map accepts any other key.
func yamlFields(t reflect.Type) (fields map[string]reflect.Type, open bool) {
	fields = map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch ft.Kind() {
			case reflect.Struct:
				sub, subOpen := yamlFields(ft)
				for k, v := range sub {
					fields[k] = v
				}
				open = open || subOpen
			case reflect.Map:
				open = true
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields, open
}
