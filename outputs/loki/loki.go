// Package loki pushes alerts to Grafana Loki's push API (or anything that
// speaks it, such as VictoriaLogs): one request per batch, alerts grouped
// into streams by label set, JSON or snappy-compressed protobuf.
package loki

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/httpout"
)

// maxLabelValueLen is Loki's default max_label_value_length.
const maxLabelValueLen = 2048

// overflowValue replaces a label value beyond the cardinality bound.
const overflowValue = "other"

// Output is the Loki output.
type Output struct {
	cfg    Config
	url    string
	client *http.Client
	redact *httpout.Redactor
	log    *slog.Logger
	labels []labelKey // configured output_fields labels, sanitized

	guardMu sync.Mutex
	seen    map[string]map[string]struct{} // label name -> admitted values
	warned  map[string]bool
	over    atomic.Int64
}

type labelKey struct{ field, name string }

// New validates c and builds the output.
func New(c Config, d outputs.Deps) (*Output, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	client, err := httpout.NewClient(httpout.ClientConfig{Timeout: c.Timeout, TLS: c.TLS})
	if err != nil {
		return nil, fmt.Errorf("loki: %w", err)
	}
	o := &Output{
		cfg: c, url: strings.TrimRight(c.HostPort, "/") + c.Endpoint, client: client,
		redact: httpout.NewRedactor(c.secrets()...), log: d.Logger,
		seen: map[string]map[string]struct{}{}, warned: map[string]bool{},
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	for _, f := range c.Labels {
		o.labels = append(o.labels, labelKey{field: f, name: LabelName(f)})
	}
	o.log.Debug("loki output ready", "url", httpout.RedactURL(o.url), "format", c.Format, "protobuf", c.Protobuf)
	return o, nil
}

// LabelName turns a field name into a valid Loki label name
// ([a-zA-Z_][a-zA-Z0-9_]*): other characters become '_'.
func LabelName(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) > 0 && s[0] >= '0' && s[0] <= '9' {
		b = append([]byte{'_'}, s...)
		for i := 1; i < len(b); i++ {
			c := b[i]
			if !(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
				b[i] = '_'
			}
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

// Overflowed counts label values replaced by "other" since New.
func (o *Output) Overflowed() int64 { return o.over.Load() }

// guard admits value for label name unless the label already has
// MaxLabelValues distinct values; then it returns "other".
func (o *Output) guard(name, value string) string {
	if name == "priority" { // eight values at most
		return value
	}
	o.guardMu.Lock()
	defer o.guardMu.Unlock()
	vals := o.seen[name]
	if vals == nil {
		vals = map[string]struct{}{}
		o.seen[name] = vals
	}
	if _, ok := vals[value]; ok {
		return value
	}
	if len(vals) < o.cfg.MaxLabelValues {
		vals[value] = struct{}{}
		return value
	}
	o.over.Add(1)
	if !o.warned[name] {
		o.warned[name] = true // once per label: a log line per alert would flood
		o.log.Warn("loki label has too many distinct values; new ones are sent as \"other\"",
			"label", name, "max_label_values", o.cfg.MaxLabelValues)
	}
	return overflowValue
}

type label struct{ name, value string }

// streamLabels returns the alert's labels, sorted by name.
func (o *Output) streamLabels(a *alert.Alert) []label {
	ls := make([]label, 0, 5+len(o.labels))
	add := func(name, v string) {
		if v == "" {
			return // Loki drops empty labels
		}
		if len(v) > maxLabelValueLen {
			v = strings.ToValidUTF8(v[:maxLabelValueLen], "")
		}
		ls = append(ls, label{name, o.guard(name, v)})
	}
	add("rule", a.Rule)
	add("priority", a.Priority.String())
	add("source", a.Source)
	add("hostname", a.Hostname)
	add("tags", strings.Join(a.Tags, ","))
	for _, k := range o.labels {
		if v, ok := a.OutputFields.Get(k.field); ok && !v.IsNull() {
			add(k.name, v.String())
		}
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].name < ls[j].name })
	// A configured field may share a name with a built-in label: keep the first.
	return slices.CompactFunc(ls, func(x, y label) bool { return x.name == y.name })
}

// promLabels renders labels as Loki's protobuf push wants them: {a="x", b="y"}.
func promLabels(ls []label) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(l.name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(l.value))
	}
	b.WriteByte('}')
	return b.String()
}

type entry struct {
	ts   time.Time
	line string
}

type stream struct {
	key     string // promLabels, also the grouping key
	labels  []label
	entries []entry
}

// Streams groups a batch into streams, sorted by label set, entries by time.
func (o *Output) streams(batch []outputs.Message) ([]*stream, error) {
	by := map[string]*stream{}
	for _, m := range batch {
		ls := o.streamLabels(m.Alert)
		key := promLabels(ls)
		s := by[key]
		if s == nil {
			s = &stream{key: key, labels: ls}
			by[key] = s
		}
		line := m.Alert.Output
		if o.cfg.Format == "json" {
			b, err := outputs.FalcoJSON(m.Alert)
			if err != nil {
				return nil, err
			}
			line = string(b)
		}
		s.entries = append(s.entries, entry{m.Alert.Time, line})
	}
	out := make([]*stream, 0, len(by))
	for _, s := range by {
		sort.SliceStable(s.entries, func(i, j int) bool { return s.entries[i].ts.Before(s.entries[j].ts) })
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, nil
}

// Payload builds the request body and its Content-Type for a batch.
func (o *Output) Payload(batch []outputs.Message) ([]byte, string, error) {
	ss, err := o.streams(batch)
	if err != nil {
		return nil, "", err
	}
	if o.cfg.Protobuf {
		return snappy.Encode(nil, encodeProto(ss)), "application/x-protobuf", nil
	}
	return encodeJSON(ss), "application/json", nil
}

// encodeJSON writes {"streams":[{"stream":{...},"values":[["ns","line"],...]}]}.
func encodeJSON(ss []*stream) []byte {
	var b bytes.Buffer
	b.WriteString(`{"streams":[`)
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"stream":{`)
		for j, l := range s.labels {
			if j > 0 {
				b.WriteByte(',')
			}
			writeJSONString(&b, l.name)
			b.WriteByte(':')
			writeJSONString(&b, l.value)
		}
		b.WriteString(`},"values":[`)
		for j, e := range s.entries {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`["`)
			b.WriteString(strconv.FormatInt(e.ts.UnixNano(), 10))
			b.WriteString(`",`)
			writeJSONString(&b, e.line)
			b.WriteByte(']')
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func writeJSONString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s) // a string always marshals
	b.Write(q)
}

// encodeProto writes Loki's logproto.PushRequest by hand:
//
//	PushRequest   { repeated StreamAdapter streams = 1; }
//	StreamAdapter { string labels = 1; repeated EntryAdapter entries = 2; }
//	EntryAdapter  { google.protobuf.Timestamp timestamp = 1; string line = 2; }
//	Timestamp     { int64 seconds = 1; int32 nanos = 2; }
func encodeProto(ss []*stream) []byte {
	var req []byte
	for _, s := range ss {
		var sb []byte
		sb = protowire.AppendTag(sb, 1, protowire.BytesType)
		sb = protowire.AppendString(sb, s.key)
		for _, e := range s.entries {
			var ts []byte
			if sec := e.ts.Unix(); sec != 0 {
				ts = protowire.AppendTag(ts, 1, protowire.VarintType)
				ts = protowire.AppendVarint(ts, uint64(sec))
			}
			if ns := e.ts.Nanosecond(); ns != 0 {
				ts = protowire.AppendTag(ts, 2, protowire.VarintType)
				ts = protowire.AppendVarint(ts, uint64(ns))
			}
			var eb []byte
			eb = protowire.AppendTag(eb, 1, protowire.BytesType)
			eb = protowire.AppendBytes(eb, ts)
			eb = protowire.AppendTag(eb, 2, protowire.BytesType)
			eb = protowire.AppendString(eb, e.line)
			sb = protowire.AppendTag(sb, 2, protowire.BytesType)
			sb = protowire.AppendBytes(sb, eb)
		}
		req = protowire.AppendTag(req, 1, protowire.BytesType)
		req = protowire.AppendBytes(req, sb)
	}
	return req
}

// Send pushes the whole batch in one request.
func (o *Output) Send(ctx context.Context, batch []outputs.Message) error {
	if len(batch) == 0 {
		return nil
	}
	body, ctype, err := o.Payload(batch)
	if err != nil {
		return outputs.Permanent(fmt.Errorf("loki: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url, bytes.NewReader(body))
	if err != nil {
		return outputs.Permanent(o.redact.Error(fmt.Errorf("loki: %w", httpout.RedactURLError(err))))
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("User-Agent", "lanner")
	if o.cfg.Tenant != "" {
		req.Header.Set("X-Scope-OrgID", o.cfg.Tenant)
	}
	if o.cfg.User != "" {
		req.SetBasicAuth(o.cfg.User, o.cfg.APIKey)
	}
	for k, v := range o.cfg.CustomHeaders {
		req.Header.Set(k, v)
	}
	resp, err := o.client.Do(req)
	if resp != nil {
		defer httpout.DrainClose(resp.Body)
	}
	if err := httpout.Classify(resp, err); err != nil {
		return o.redact.Error(fmt.Errorf("loki: %w", err))
	}
	return nil
}

// Close releases idle connections.
func (o *Output) Close() error {
	o.client.CloseIdleConnections()
	return nil
}

var _ outputs.Output = (*Output)(nil)
