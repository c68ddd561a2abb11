// Package alertjson encodes an alert in Falco's JSON shape without
// reflection, for outputs that encode every alert on their hot path (Kafka,
// Elasticsearch). With zero Options the bytes equal encoding/json's
// Marshal of the alert; the tests hold it to that.
package alertjson

import (
	"time"

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
		dst = alert.AppendJSONString(dst, a.UUID)
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
	dst = alert.AppendJSONString(dst, a.Rule)
	dst = append(dst, `,"output":`...)
	dst = alert.AppendJSONString(dst, a.Output)
	dst = append(dst, `,"output_fields":`...)
	if e.FlattenFields {
		dst = a.OutputFields.AppendJSONKeys(dst, appendFlatKey) // falcosidekick's flattenfields
	} else {
		dst = a.OutputFields.AppendJSON(dst)
	}
	if a.Source != "" {
		dst = append(dst, `,"source":`...)
		dst = alert.AppendJSONString(dst, a.Source)
	}
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

func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

func appendFlatKey(dst []byte, k string) []byte {
	start := len(dst)
	dst = alert.AppendJSONString(dst, k)
	for i := start; i < len(dst); i++ {
		if dst[i] == '.' {
			dst[i] = '_'
		}
	}
	return dst
}
