package webhook

import (
	"time"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/internal/alertjson"
)

// appendFalcoJSON appends exactly the bytes outputs.FalcoJSON would produce
// for a, without reflection: it is the webhook's per-alert hot path. What it
// does not handle byte-for-byte itself (out-of-range times, invalid
// priorities) goes through encoding/json, so the result and the errors stay
// identical.
func appendFalcoJSON(dst []byte, a *alert.Alert) ([]byte, error) {
	if _, off := a.Time.Zone(); !a.Priority.Valid() || a.Time.Year() < 0 || a.Time.Year() > 9999 || off <= -24*3600 || off >= 24*3600 {
		b, err := outputs.FalcoJSON(a) // the same error falcosidekick's shape gives
		return append(dst, b...), err
	}
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
	dst = alertjson.AppendFields(dst, a.OutputFields)
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
