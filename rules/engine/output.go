package engine

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/rules/condition"
	"github.com/lannerhq/lanner/rules/fields"
	"github.com/lannerhq/lanner/rules/loader"
)

// outputFormat is a compiled output string: literal text and fields in turn.
type outputFormat struct {
	parts []outPart
	// output_fields' sources, each name once, sorted by name: the order of
	// the alert's Fields
	fields []*source
}

type outPart struct {
	lit string
	src *source
}

func isFieldByte(c byte) bool {
	return c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// compileOutput parses %field, %field[arg], %field.arg and %(field) in an
// output format, as Falco's formatter does. Unknown fields are errors at
// their position (via the loader's text map when there is one).
func compileOutput(cc *condCompiler, format string, m *loader.TextMap, rulePos condition.Pos) *outputFormat {
	of := &outputFormat{}
	seen := map[string]bool{}
	posAt := func(off int) condition.Pos {
		if m != nil {
			return m.Pos(off)
		}
		return rulePos
	}
	var lit strings.Builder
	i := 0
	for i < len(format) {
		c := format[i]
		if c != '%' || i+1 >= len(format) {
			lit.WriteByte(c)
			i++
			continue
		}
		start := i
		j := i + 1
		paren := format[j] == '('
		if paren {
			j++
		}
		k := j
		for k < len(format) && isFieldByte(format[k]) {
			k++
		}
		name := strings.TrimRight(format[j:k], ".")
		k = j + len(name)
		if name == "" {
			lit.WriteByte(c)
			i++
			continue
		}
		arg, hasArg := "", false
		if k < len(format) && format[k] == '[' {
			if end := strings.IndexByte(format[k:], ']'); end > 0 {
				arg, hasArg = format[k+1:k+end], true
				k += end + 1
			}
		}
		if paren {
			if k >= len(format) || format[k] != ')' {
				cc.errorf(posAt(start), "output: missing ')' after %%(%s", name)
				return of.done()
			}
			k++
		}
		if name == "container.info" && !hasArg {
			// Falco's placeholder for the container's identity
			lit.WriteString("container_id=")
			of.addField(&lit, cc, fields.ContainerID, seen)
			lit.WriteString(" container_name=")
			of.addField(&lit, cc, fields.ContainerName, seen)
			i = k
			continue
		}
		f, a, err := cc.reg.Resolve(name, arg, hasArg)
		if err != nil {
			// libsinsp takes the longest known field name: "%fd.name." is fd.name
			// then "."; try shorter dotted prefixes before giving up.
			resolved := false
			for d := strings.LastIndexByte(name, '.'); d > 0 && !hasArg; d = strings.LastIndexByte(name[:d], '.') {
				if g, b, err2 := cc.reg.Resolve(name[:d], "", false); err2 == nil {
					f, a, resolved = g, b, true
					k = j + d
					break
				}
			}
			if !resolved {
				if errors.Is(err, fields.ErrUnknownField) {
					cc.unknown++
				}
				cc.errorf(posAt(start), "output: %v", err)
				i = k
				continue
			}
		}
		if lit.Len() > 0 {
			of.parts = append(of.parts, outPart{lit: lit.String()})
			lit.Reset()
		}
		src := cc.fieldSource(f, a)
		of.parts = append(of.parts, outPart{src: src})
		if !seen[src.name] {
			seen[src.name] = true
			of.fields = append(of.fields, src)
		}
		i = k
	}
	if lit.Len() > 0 {
		of.parts = append(of.parts, outPart{lit: lit.String()})
	}
	return of.done()
}

// done sorts the output_fields sources by name, once per rule, so that
// Alert builds sorted Fields without sorting them per alert.
func (of *outputFormat) done() *outputFormat {
	slices.SortFunc(of.fields, func(a, b *source) int { return strings.Compare(a.name, b.name) })
	return of
}

// addField appends the pending literal and then field id.
func (of *outputFormat) addField(lit *strings.Builder, cc *condCompiler, id fields.ID, seen map[string]bool) {
	if lit.Len() > 0 {
		of.parts = append(of.parts, outPart{lit: lit.String()})
		lit.Reset()
	}
	src := cc.fieldSource(cc.reg.Field(id), fields.Arg{Index: -1})
	of.parts = append(of.parts, outPart{src: src})
	if !seen[src.name] {
		seen[src.name] = true
		of.fields = append(of.fields, src)
	}
}

// AlertMeta is what an alert needs beyond the rule and the event.
type AlertMeta struct {
	// Time is the event's time; zero means evt.rawtime (in UTC), or now if
	// the event has none. The output text prints it in Time's location (pass
	// a local time to print local time as Falco does); the alert's time
	// field is always UTC.
	Time     time.Time
	Hostname string
}

// NaText is what Falco prints for a field without a value.
const NaText = "<NA>"

// Alert formats a match as a Falco alert: output "<time>: <Priority>
// <rule output>" with <NA> for missing values, and output_fields holding
// each field of the output with its JSON type (null when missing).
// Formatting allocates; it runs only on matches.
func (e *Engine) Alert(r *Rule, ev fields.Event, meta AlertMeta) *alert.Alert {
	t := meta.Time
	if t.IsZero() {
		if ns, ok := ev.Int(fields.EvtRawtime, fields.Arg{Index: -1}); ok {
			t = time.Unix(0, ns).UTC()
		} else {
			t = time.Now()
		}
	}
	fc := formatCtx{ev: ev, t: t, host: meta.Hostname}
	var b strings.Builder
	b.WriteString(t.Format("15:04:05.000000000"))
	b.WriteString(": ")
	b.WriteString(r.Priority.String())
	b.WriteByte(' ')
	ofields := alert.Fields{} // {}, not null, when the rule has no output
	if r.out != nil {
		for _, p := range r.out.parts {
			if p.src == nil {
				b.WriteString(p.lit)
				continue
			}
			s, ok := fc.text(p.src)
			if !ok {
				s = NaText
			}
			b.WriteString(s)
		}
		ofields = make(alert.Fields, len(r.out.fields))
		for i, src := range r.out.fields {
			ofields[i] = alert.Field{Key: src.name, Value: fc.value(src)}
		}
	}
	a := &alert.Alert{
		Time:         t.UTC(),
		Priority:     r.Priority,
		Rule:         r.Name,
		Output:       b.String(),
		OutputFields: ofields,
		Source:       r.Source,
		Tags:         append([]string(nil), r.Tags...),
		Hostname:     meta.Hostname,
	}
	a.EnsureUUID()
	return a
}

type formatCtx struct {
	ev   fields.Event
	t    time.Time
	host string
}

// derived fills in fields that the engine can compute when the event has
// no value for them: the time renderings and the hostname.
func (fc *formatCtx) derived(src *source) (string, bool) {
	if src.kind != srcField {
		return "", false
	}
	switch src.id {
	case fields.EvtTime:
		return fc.t.Format("15:04:05.000000000"), true
	case fields.EvtTimeS:
		return fc.t.Format("15:04:05"), true
	case fields.EvtTimeISO8601:
		return fc.t.UTC().Format("2006-01-02T15:04:05.000000000Z"), true
	case fields.EvtDatetime:
		return fc.t.Format("2006-01-02 15:04:05.000000000"), true
	case fields.EvtDatetimeS:
		return fc.t.Format("2006-01-02 15:04:05"), true
	case fields.EvtHostname:
		return fc.host, fc.host != ""
	}
	return "", false
}

func (fc *formatCtx) text(src *source) (string, bool) {
	if s, ok := src.firstString(fc.ev); ok {
		return s, true
	}
	if src.kind == srcField && src.id == fields.EvtRawtime {
		return uitoa(uint64(fc.t.UnixNano())), true
	}
	return fc.derived(src)
}

// value returns an output_fields value with its JSON type: a string, a
// number, a boolean, or null when the event has no value.
func (fc *formatCtx) value(src *source) alert.Value {
	ev := fc.ev
	switch {
	case src.typ.IsString():
		// Events may return views of reused buffers; output_fields
		// outlive the event, so they get their own copy.
		if s, ok := fc.text(src); ok {
			return alert.StringValue(strings.Clone(s))
		}
	case src.typ.IsNumeric():
		for k := 0; k < maxValues; k++ {
			v, ok, more := src.intAt(ev, k)
			if ok {
				if src.typ.IsUnsigned() {
					return alert.UintValue(uint64(v))
				}
				return alert.IntValue(v)
			}
			if !more {
				break
			}
		}
		if src.kind == srcField && src.id == fields.EvtRawtime {
			return alert.UintValue(uint64(fc.t.UnixNano()))
		}
	case src.typ == fields.TypeBool:
		for k := 0; k < maxValues; k++ {
			v, ok, more := src.boolAt(ev, k)
			if ok {
				return alert.BoolValue(v)
			}
			if !more {
				break
			}
		}
	default:
		if s, ok := src.firstString(ev); ok {
			return alert.StringValue(strings.Clone(s))
		}
	}
	return alert.NullValue()
}
