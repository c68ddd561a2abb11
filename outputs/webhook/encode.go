package webhook

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/internal/alertjson"
)

// appendFalcoJSON appends exactly the bytes outputs.FalcoJSON would produce
// for a, without reflection: it is the webhook's per-alert hot path. Anything
// it does not handle byte-for-byte itself (unusual output_fields value types,
// strings needing escapes, out-of-range times, invalid priorities) goes
// through encoding/json, so the result and the errors stay identical.
func appendFalcoJSON(dst []byte, a *alert.Alert) ([]byte, error) {
	if _, off := a.Time.Zone(); !a.Priority.Valid() || a.Time.Year() < 0 || a.Time.Year() > 9999 || off <= -24*3600 || off >= 24*3600 {
		b, err := outputs.FalcoJSON(a) // the same error falcosidekick's shape gives
		return append(dst, b...), err
	}
	start := len(dst)
	dst = append(dst, '{')
	if a.UUID != "" {
		dst = append(dst, `"uuid":`...)
		dst = alertjson.AppendString(dst, a.UUID)
		dst = append(dst, ',')
	}
	dst = append(dst, `"output":`...)
	dst = alertjson.AppendString(dst, a.Output)
	dst = append(dst, `,"priority":`...)
	dst = alertjson.AppendString(dst, a.Priority.String())
	dst = append(dst, `,"rule":`...)
	dst = alertjson.AppendString(dst, a.Rule)
	dst = append(dst, `,"time":"`...)
	dst = a.Time.AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","output_fields":`...)
	var err error
	if dst, err = appendFields(dst, a.OutputFields); err != nil {
		b, err := outputs.FalcoJSON(a)
		return append(dst[:start], b...), err
	}
	dst = append(dst, `,"source":`...)
	dst = alertjson.AppendString(dst, a.Source)
	if len(a.Tags) > 0 {
		dst = append(dst, `,"tags":[`...)
		for i, t := range a.Tags {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = alertjson.AppendString(dst, t)
		}
		dst = append(dst, ']')
	}
	if a.Hostname != "" {
		dst = append(dst, `,"hostname":`...)
		dst = alertjson.AppendString(dst, a.Hostname)
	}
	return append(dst, '}'), nil
}

// appendFields encodes output_fields with sorted keys, as encoding/json does.
func appendFields(dst []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(dst, "null"...), nil
	}
	var buf [48]alertjson.Field
	fields := alertjson.SortedFields(buf[:0], m)
	dst = append(dst, '{')
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = alertjson.AppendString(dst, f.Key)
		dst = append(dst, ':')
		var err error
		if dst, err = appendValue(dst, f.Value); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func appendValue(dst []byte, v any) ([]byte, error) {
	switch t := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return alertjson.AppendString(dst, t), nil
	case bool:
		return strconv.AppendBool(dst, t), nil
	case json.Number:
		if t != "" && isPlainInt(string(t)) {
			return append(dst, t...), nil
		}
	}
	b, err := json.Marshal(v) // floats, nested objects and arrays: rarer
	return append(dst, b...), err
}

// isPlainInt reports whether s is a JSON integer (encoding/json writes a
// valid json.Number as it is).
func isPlainInt(s string) bool {
	if s[0] == '-' {
		s = s[1:]
	}
	if s == "" || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
