// Package webhook posts alerts to an HTTP endpoint: by default the alert JSON
// exactly as falcosidekick sends it, one request per alert.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"

	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"text/template"

	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/httpout"
	"github.com/lannerhq/lanner/templates"
)

// Output is the webhook output.
type Output struct {
	cfg    Config
	client *http.Client
	tmpl   *template.Template // nil: the alert JSON
	redact *httpout.Redactor
	log    *slog.Logger
	// batchHint is the size of the last batch body (batch mode).
	batchHint atomic.Int64
}

// New validates c and builds the output.
func New(c Config, d outputs.Deps) (*Output, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	client, err := httpout.NewClient(httpout.ClientConfig{Timeout: c.Timeout, TLS: c.TLS, MaxConnsPerHost: c.Concurrency})
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	o := &Output{cfg: c, client: client, redact: httpout.NewRedactor(c.secrets()...), log: d.Logger}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if c.TemplateFile != "" {
		if o.tmpl, err = templates.Load(c.TemplateFile, templates.Webhook); err != nil {
			return nil, fmt.Errorf("webhook: %w", err)
		}
		if c.Batch { // the array must stay valid JSON
			b, _ := templates.Execute(o.tmpl, templates.Data{Alert: templates.Sample()})
			if !json.Valid(b) {
				return nil, fmt.Errorf("webhook: batch: template %s must render JSON", c.TemplateFile)
			}
		}
	}
	o.log.Debug("webhook output ready", "address", httpout.RedactURL(c.Address), "method", c.Method, "batch", c.Batch)
	return o, nil
}

// Body renders the request body for one alert.
func (o *Output) Body(m outputs.Message) ([]byte, error) {
	return o.appendBody(nil, m)
}

// appendBody appends the body for one alert to dst, so a batch is encoded
// into one buffer without a copy per alert.
func (o *Output) appendBody(dst []byte, m outputs.Message) ([]byte, error) {
	if o.tmpl == nil {
		return appendFalcoJSON(dst, m.Alert)
	}
	b, err := templates.Execute(o.tmpl, templates.Data{Alert: m.Alert})
	return append(dst, b...), err
}

// Send posts the batch: one request per alert, at most Concurrency at once,
// or one JSON array with batch: true.
func (o *Output) Send(ctx context.Context, batch []outputs.Message) error {
	if len(batch) == 0 {
		return nil
	}
	if o.cfg.Batch {
		// Sized from the last batch: one allocation in the steady state. Not
		// pooled: the transport may still read a body after Do returns.
		buf := make([]byte, 0, o.batchHint.Load()+1024)
		buf = append(buf, '[')
		for i, m := range batch {
			if i > 0 {
				buf = append(buf, ',')
			}
			var err error
			if buf, err = o.appendBody(buf, m); err != nil {
				return outputs.Permanent(fmt.Errorf("webhook: %w", err))
			}
		}
		buf = append(buf, ']')
		o.batchHint.Store(int64(len(buf)))
		return o.post(ctx, buf)
	}
	if len(batch) == 1 {
		return o.sendOne(ctx, batch[0])
	}
	errs := make([]error, len(batch))
	sem := make(chan struct{}, o.cfg.Concurrency)
	var wg sync.WaitGroup
	for i, m := range batch {
		sem <- struct{}{}
		wg.Add(1)
		go func() { // owned by this Send; bounded by sem; ends with its request
			defer func() { <-sem; wg.Done() }()
			errs[i] = o.sendOne(ctx, m)
		}()
	}
	wg.Wait()
	return combine(errs)
}

func (o *Output) sendOne(ctx context.Context, m outputs.Message) error {
	b, err := o.Body(m)
	if err != nil {
		return outputs.Permanent(fmt.Errorf("webhook: %w", err))
	}
	return o.post(ctx, b)
}

func (o *Output) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, o.cfg.Method, o.cfg.Address, bytes.NewReader(body))
	if err != nil {
		return outputs.Permanent(o.redact.Error(fmt.Errorf("webhook: %w", httpout.RedactURLError(err))))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "lanner")
	for k, v := range o.cfg.CustomHeaders {
		req.Header.Set(k, v)
	}
	resp, err := o.client.Do(req)
	if resp != nil {
		defer httpout.DrainClose(resp.Body)
	}
	if err := httpout.Classify(resp, err); err != nil {
		return o.redact.Error(fmt.Errorf("webhook: %w", err))
	}
	return nil
}

// combine turns per-alert results into one error: nil when all succeeded; the
// first error when all failed retryably (the whole batch is retried, with the
// longest Retry-After asked); otherwise a PartialError.
func combine(errs []error) error {
	failed := map[int]error{}
	allRetryable := true
	var worst error
	for i, err := range errs {
		if err == nil {
			continue
		}
		failed[i] = err
		if !outputs.IsRetryable(err) {
			allRetryable = false
		}
		if worst == nil || outputs.RetryAfterOf(err) > outputs.RetryAfterOf(worst) {
			worst = err
		}
	}
	switch {
	case len(failed) == 0:
		return nil
	case len(failed) == len(errs) && allRetryable:
		return worst
	default:
		return &outputs.PartialError{Failed: failed}
	}
}

// Close releases idle connections.
func (o *Output) Close() error {
	o.client.CloseIdleConnections()
	return nil
}

var _ outputs.Output = (*Output)(nil)
