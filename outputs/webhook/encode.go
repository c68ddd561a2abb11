package webhook

import (
	"time"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/outputs"
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
		dst = alert.AppendJSONString(dst, a.UUID)
		dst = append(dst, ',')
	}
	dst = append(dst, `"output":`...)
	dst = alert.AppendJSONString(dst, a.Output)
	dst = append(dst, `,"priority":`...)
	dst = alert.AppendJSONString(dst, a.Priority.String())
	dst = append(dst, `,"rule":`...)
	dst = alert.AppendJSONString(dst, a.Rule)
	dst = append(dst, `,"time":"`...)
	dst = a.Time.AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","output_fields":`...)
	dst = a.OutputFields.AppendJSON(dst)
	dst = append(dst, `,"source":`...)
	dst = alert.AppendJSONString(dst, a.Source)
	if len(a.Tags) > 0 {
		dst = append(dst, `,"tags":[`...)
		for i, t := range a.Tags {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = alert.AppendJSONString(dst, t)
		}
		dst = append(dst, ']')
	}
	if a.Hostname != "" {
		dst = append(dst, `,"hostname":`...)
		dst = alert.AppendJSONString(dst, a.Hostname)
	}
	return append(dst, '}'), nil
}
