// Package elasticsearch is the Elasticsearch output: one `_bulk` request per
// Send through the official go-elasticsearch v8 client, with per-item
// results. Document ids are the alert uuids, so a retried batch overwrites
// (or, for data streams, conflicts with) what a previous attempt stored
// instead of duplicating it.
package elasticsearch

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/elastic-transport-go/v8/elastictransport"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/httpout"
	"github.com/lannerhq/lanner/outputs/internal/alertjson"
)

// ndjson is the _bulk body's media type.
var ndjson = map[string]string{"Content-Type": "application/x-ndjson"}

// OverrideIndex is the Message.Overrides key a route uses to write to
// another index (base name; the suffix still applies).
const OverrideIndex = "index"

// Output indexes alerts into Elasticsearch.
type Output struct {
	cfg    Config
	tp     *elastictransport.Client
	es     *esapi.API
	log    *slog.Logger
	redact *httpout.Redactor
	layout string // index suffix time layout; "" for none

	tmplMu   sync.Mutex
	tmplDone bool
}

var _ outputs.Output = (*Output)(nil)

// New builds the output. It does not contact the server: the index template
// (if asked for) is installed before the first write.
func New(c Config, d outputs.Deps) (*Output, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hc, err := httpout.NewClient(httpout.ClientConfig{Timeout: c.Timeout, TLS: c.TLS})
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: %w", err)
	}
	header := http.Header{}
	for k, v := range c.CustomHeaders {
		header.Set(k, v)
	}
	u, err := url.Parse(strings.TrimRight(c.HostPort, "/"))
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: hostport: %w", err)
	}
	// The low-level client (elastictransport + esapi) rather than the root
	// package, which links the ~900 packages of the typed API.
	topts := []elastictransport.Option{
		elastictransport.WithUserAgent("lanner"),
		elastictransport.WithURLs(u),
		elastictransport.WithHeader(header),
		elastictransport.WithTransport(&productCheck{rt: hc.Transport, skip: c.SkipProductCheck}),
		elastictransport.WithDisableRetry(), // the router's queue retries, with backoff and dead letters
	}
	switch {
	case c.APIKey != "":
		topts = append(topts, elastictransport.WithAPIKey(c.APIKey))
	case c.Username != "":
		topts = append(topts, elastictransport.WithBasicAuth(c.Username, c.Password))
	}
	if c.EnableCompression {
		topts = append(topts, elastictransport.WithCompression())
	}
	tp, err := elastictransport.NewClient(topts...)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: %w", httpout.NewRedactor(c.Password, c.APIKey).Error(err))
	}
	secrets := []string{c.Password, c.APIKey}
	if c.Username != "" && c.Password != "" {
		secrets = append(secrets, base64.StdEncoding.EncodeToString([]byte(c.Username+":"+c.Password)))
	}
	for _, v := range c.CustomHeaders {
		secrets = append(secrets, v) // falcosidekick documents them for authentication
	}
	if c.Type != "" && c.Type != "_doc" {
		log.Warn("elasticsearch: type is ignored (Elasticsearch 8 has no mapping types)", "type", c.Type)
	}
	return &Output{
		cfg:    c,
		tp:     tp,
		es:     esapi.New(tp),
		log:    log,
		redact: httpout.NewRedactor(secrets...),
		layout: suffixLayouts[c.Suffix],
	}, nil
}

// Send indexes the batch with one _bulk request and reports per-item results.
func (o *Output) Send(ctx context.Context, batch []outputs.Message) error {
	if len(batch) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	if err := o.ensureTemplate(ctx); err != nil {
		return err
	}
	body, from, failed := o.bulkBody(batch)
	if len(from) > 0 {
		if err := o.bulk(ctx, body, from, &failed); err != nil {
			if len(failed) == 0 {
				return err // the request failed as a whole
			}
			for _, i := range from {
				failed[i] = err
			}
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return &outputs.PartialError{Failed: failed}
}

// Close releases idle connections.
func (o *Output) Close() error {
	return o.tp.Close(context.Background())
}

// bulkBody builds the NDJSON body. from[j] is the batch index of the body's
// j-th document; alerts that cannot be encoded fail permanently at once.
func (o *Output) bulkBody(batch []outputs.Message) ([]byte, []int, map[int]error) {
	enc := alertjson.Encoder{Options: alertjson.Options{FlattenFields: o.cfg.FlattenFields, Timestamp: o.cfg.DataStream}}
	buf := make([]byte, 0, 700*len(batch))
	from := make([]int, 0, len(batch))
	var failed map[int]error
	op := `{"index":{"_index":`
	if o.cfg.DataStream {
		op = `{"create":{"_index":`
	}
	for i, m := range batch {
		if m.Alert == nil {
			failed = addFailure(failed, i, outputs.Permanent(errors.New("elasticsearch: message without alert")))
			continue
		}
		start := len(buf)
		buf = append(buf, op...)
		buf = alert.AppendJSONString(buf, o.indexFor(m))
		if m.Alert.UUID != "" {
			buf = append(buf, `,"_id":`...)
			buf = alert.AppendJSONString(buf, m.Alert.UUID)
		}
		buf = append(buf, "}}\n"...)
		var err error
		if buf, err = enc.Append(buf, m.Alert); err != nil {
			buf = buf[:start]
			failed = addFailure(failed, i, outputs.Permanent(fmt.Errorf("elasticsearch: encode alert: %w", err)))
			continue
		}
		buf = append(buf, '\n')
		from = append(from, i)
	}
	return buf, from, failed
}

func addFailure(m map[int]error, i int, err error) map[int]error {
	if m == nil {
		m = make(map[int]error)
	}
	m[i] = err
	return m
}

// indexFor names the index (or data stream) of one alert. The suffix comes
// from the alert's own time, not the clock, so a retry after midnight lands
// in the same index and overwrites instead of duplicating.
func (o *Output) indexFor(m outputs.Message) string {
	base := o.cfg.Index
	if v := m.Overrides[OverrideIndex]; v != "" && validIndex(v) == nil {
		base = v
	}
	if o.cfg.DataStream || o.layout == "" {
		return base
	}
	t := m.Alert.Time
	if t.IsZero() {
		t = time.Now()
	}
	return base + "-" + t.UTC().Format(o.layout)
}

// bulkResponse is the part of a _bulk answer the output reads.
type bulkResponse struct {
	Errors bool `json:"errors"`
	// Error is set when the server failed the request as a whole but still
	// answered 200 (ZincSearch does, as a string).
	Error json.RawMessage `json:"error"`
	// Items stay raw until a failure needs reading: decoding each into a
	// map was a third of the output's CPU on all-success answers.
	Items []json.RawMessage `json:"items"`
}

type bulkItem struct {
	Index  string     `json:"_index"`
	Status int        `json:"status"`
	Error  *itemError `json:"error"`
}

type itemError struct {
	Type     string     `json:"type"`
	Reason   string     `json:"reason"`
	CausedBy *itemError `json:"caused_by"`
}

func (e *itemError) String() string {
	if e == nil {
		return ""
	}
	s := e.Type + ": " + e.Reason
	if e.CausedBy != nil && e.CausedBy.Reason != "" {
		s += " (caused by " + e.CausedBy.Type + ": " + e.CausedBy.Reason + ")"
	}
	return s
}

// bulk posts the body and records each item's outcome in failed. A non-nil
// return is the failure of the whole request, which applies to every item.
func (o *Output) bulk(ctx context.Context, body []byte, from []int, failed *map[int]error) error {
	opts := []func(*esapi.BulkRequest){o.es.Bulk.WithContext(ctx), o.es.Bulk.WithHeader(ndjson)}
	if o.cfg.Pipeline != "" {
		opts = append(opts, o.es.Bulk.WithPipeline(o.cfg.Pipeline))
	}
	res, err := o.es.Bulk(bytes.NewReader(body), opts...)
	if err != nil {
		return o.transportError(err)
	}
	defer httpout.DrainClose(res.Body)
	if res.StatusCode < 200 || res.StatusCode > 299 {
		err := httpout.Classify(&http.Response{StatusCode: res.StatusCode, Header: res.Header, Body: res.Body}, nil)
		return o.redact.Error(fmt.Errorf("elasticsearch: _bulk: %w", err))
	}
	if res.StatusCode == http.StatusNoContent {
		return nil // a proxy's "accepted, nothing to report"
	}
	return o.results(io.LimitReader(res.Body, 64<<20), from, failed)
}

// results reads a 200 _bulk answer and records each failed item in failed.
// A non-nil return means the answer could not be read: every item is then
// retried (ids make the retry idempotent).
func (o *Output) results(r io.Reader, from []int, failed *map[int]error) error {
	var br bulkResponse
	if err := json.NewDecoder(r).Decode(&br); err != nil {
		return fmt.Errorf("elasticsearch: _bulk: unreadable answer: %w", err)
	}
	whole := wholeError(br.Error)
	if whole != "" {
		// A server that fails the request midway (ZincSearch) still lists
		// items it never stored: retry them all; their ids keep it idempotent.
		return o.redact.Error(fmt.Errorf("elasticsearch: _bulk: %s", whole))
	}
	switch {
	case len(br.Items) == 0 && len(from) > 0:
		// ZincSearch answers a body it cannot read (gzip: it has no
		// support for it) with 200, errors:false and no items, having
		// stored nothing: never count that as delivered.
		return outputs.Permanent(fmt.Errorf("elasticsearch: _bulk: 200 without a result for any of the %d documents: nothing was stored (a gzip body to a server that does not accept compression?)", len(from)))
	case !br.Errors && len(br.Items) >= len(from):
		return nil // every item succeeded
	}
	for j, i := range from {
		if j >= len(br.Items) {
			*failed = addFailure(*failed, i, errors.New("elasticsearch: _bulk: no result for this document"))
			continue
		}
		if err := o.itemResult(br.Items[j]); err != nil {
			*failed = addFailure(*failed, i, err)
		}
	}
	return nil
}

// itemResult classifies one item: 2xx delivered; 409 on create means an
// earlier attempt already stored it (delivered); 429 and 5xx retryable;
// other 4xx (mapping and parse errors) permanent, with the reason.
func (o *Output) itemResult(item json.RawMessage) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(item, &raw); err != nil {
		return fmt.Errorf("elasticsearch: _bulk item: %w", err)
	}
	var it bulkItem
	for _, v := range raw { // one key: index, create, update or delete
		if err := json.Unmarshal(v, &it); err != nil {
			return fmt.Errorf("elasticsearch: _bulk item: %w", err)
		}
	}
	switch {
	case it.Status >= 200 && it.Status < 300 && it.Error == nil:
		return nil
	case it.Status == 0 && it.Error == nil:
		return nil // servers that omit the status report success by its absence of error
	case it.Status == http.StatusConflict && o.cfg.DataStream:
		return nil
	}
	err := fmt.Errorf("elasticsearch: index %s: %d %s", it.Index, it.Status, it.Error)
	if it.Status == http.StatusTooManyRequests || it.Status >= 500 || it.Status == http.StatusRequestTimeout {
		return o.redact.Error(err)
	}
	return o.redact.Error(outputs.Permanent(err))
}

// wholeError returns the request-level error of a 200 answer, if any.
func wholeError(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" || string(raw) == `""` {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var e itemError
	if json.Unmarshal(raw, &e) == nil && e.Type != "" {
		return e.String()
	}
	return string(raw)
}

// errNotElasticsearch is the official clients' product check failing.
var errNotElasticsearch = errors.New("the server is not Elasticsearch (no X-Elastic-Product: Elasticsearch header); set skipproductcheck for ES-compatible servers")

// transportError classifies an error from the client itself: the product
// check (a wrong server: permanent) or the network (retryable).
func (o *Output) transportError(err error) error {
	if errors.Is(err, errNotElasticsearch) {
		return o.redact.Error(outputs.Permanent(fmt.Errorf("elasticsearch: %w", err)))
	}
	return o.redact.Error(fmt.Errorf("elasticsearch: %w", httpout.RedactURLError(err)))
}

// productCheck does what go-elasticsearch's root client does on its first
// successful answer: refuse a server that does not say it is Elasticsearch,
// so a wrong hostport fails loudly. With skip it lets any server through.
type productCheck struct {
	rt   http.RoundTripper
	skip bool
	ok   atomic.Bool
}

func (p *productCheck) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := p.rt.RoundTrip(r)
	if err != nil || p.skip || p.ok.Load() || res.StatusCode < 200 || res.StatusCode > 299 {
		return res, err
	}
	if res.Header.Get("X-Elastic-Product") != "Elasticsearch" {
		httpout.DrainClose(res.Body)
		return nil, errNotElasticsearch
	}
	p.ok.Store(true)
	return res, nil
}
