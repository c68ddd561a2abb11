// Package alertjson encodes an alert in Falco's JSON shape without
// reflection, for outputs that encode every alert on their hot path (Kafka,
// Elasticsearch). With zero Options the bytes equal encoding/json's
// Marshal of the alert; the tests hold it to that.
package alertjson

import (
	"time"
	"unicode/utf8"

	"github.com/lannerhq/lanner/alert"
)

// Options change the document for destinations that need another shape.
type Options struct {
	// FlattenFields replaces '.' with '_' in output_fields keys, so that
	// "container.image" and "container.image.repository" do not collide in
	// an Elasticsearch mapping (falcosidekick's flattenfields).
	FlattenFields bool
	// Timestamp adds "@timestamp" (the alert time) first, which
	// Elasticsearch data streams require.
	Timestamp bool
}

// Encoder encodes alerts with its Options.
type Encoder struct {
	Options
}

// Append appends the JSON document of a to dst.
func (e *Encoder) Append(dst []byte, a *alert.Alert) ([]byte, error) {
	dst = append(dst, '{')
	if e.Timestamp {
		dst = append(dst, `"@timestamp":`...)
		dst = appendTime(dst, a.Time)
		dst = append(dst, ',')
	}
	if a.UUID != "" {
		dst = append(dst, `"uuid":`...)
		dst = AppendString(dst, a.UUID)
		dst = append(dst, ',')
	}
	dst = append(dst, `"time":`...)
	dst = appendTime(dst, a.Time)
	p, err := a.Priority.MarshalText()
	if err != nil {
		return dst, err
	}
	dst = append(dst, `,"priority":"`...)
	dst = append(dst, p...)
	dst = append(dst, `","rule":`...)
	dst = AppendString(dst, a.Rule)
	dst = append(dst, `,"output":`...)
	dst = AppendString(dst, a.Output)
	dst = append(dst, `,"output_fields":`...)
	dst = appendFields(dst, a.OutputFields, e.FlattenFields)
	if a.Source != "" {
		dst = append(dst, `,"source":`...)
		dst = AppendString(dst, a.Source)
	}
	if len(a.Tags) > 0 {
		dst = append(dst, `,"tags":[`...)
		for i, t := range a.Tags {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, t)
		}
		dst = append(dst, ']')
	}
	if a.Hostname != "" {
		dst = append(dst, `,"hostname":`...)
		dst = AppendString(dst, a.Hostname)
	}
	return append(dst, '}'), nil
}

func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

// AppendFields appends output_fields as encoding/json writes them: null for
// nil Fields, else an object with sorted keys. Fields from the decoders are
// already sorted, so this walks them once, with no sort and no allocation.
func AppendFields(dst []byte, f alert.Fields) []byte {
	return appendFields(dst, f, false)
}

func appendFields(dst []byte, f alert.Fields, flatten bool) []byte {
	if f == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '{')
	for i, e := range f.Sorted() {
		if i > 0 {
			dst = append(dst, ',')
		}
		if flatten {
			dst = appendFlatKey(dst, e.Key)
		} else {
			dst = AppendString(dst, e.Key)
		}
		dst = append(dst, ':')
		if e.Value.Kind() == alert.KindString {
			dst = AppendString(dst, e.Value.String())
		} else {
			// Numbers as written, true/false, null, and arrays and objects
			// in encoding/json's compact form: the bytes it would write.
			dst = append(dst, e.Value.JSONText()...)
		}
	}
	return append(dst, '}')
}

func appendFlatKey(dst []byte, k string) []byte {
	start := len(dst)
	dst = AppendString(dst, k)
	for i := start; i < len(dst); i++ {
		if dst[i] == '.' {
			dst[i] = '_'
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// plainASCII marks the ASCII bytes a JSON string carries as they are
// (encoding/json also escapes <, > and &): one table load per byte instead
// of six comparisons on the long output texts.
var plainASCII = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// AppendString appends s as a JSON string, escaped exactly as encoding/json
// does (HTML-safe, invalid UTF-8 as U+FFFD, U+2028/U+2029 escaped).
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if plainASCII[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
