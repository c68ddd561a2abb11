// Package webhook posts alerts to an HTTP endpoint: by default the alert JSON
// exactly as falcosidekick sends it, one request per alert.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
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
	// oneHint is the size of the last single-alert body.
	oneHint atomic.Int64
	// proto is the request every post copies: URL parsed and headers
	// canonicalized once, as they were per alert a visible share of the
	// one-request-per-alert profile. nil: build each request (see post).
	proto *http.Request
	// raw posts plain-HTTP requests without net/http's Transport; nil when
	// the address needs net/http (TLS, a proxy, special custom headers).
	raw *rawClient
	// depth is how many requests a Send goroutine writes together on its
	// connection (pipelining): it starts at 1 and doubles with each run
	// delivered whole, up to depthMax, and a retryable failure sets it back
	// to 1, so an endpoint in trouble gets one request per connection at a
	// time, as without pipelining.
	depth, depthMax atomic.Int64
	// stalls counts pipelined runs in a row whose answers stopped coming
	// after an earlier one came (see sendPipelined).
	stalls atomic.Int64
	// pipes keeps sendPipelined's buffers from one Send to the next (one
	// per connection slot): grown afresh in every Send, they were most of
	// what delivering an alert allocated.
	pipes chan *pipeline
}

// maxPipelineKeep is the largest body buffer kept for the next Send: an
// outsized run (huge alerts) is not pinned for the output's life.
const maxPipelineKeep = 256 << 10

// maxStalls pipelined runs in a row that stall, with no pipelined run
// delivered whole between them, turn pipelining off: the endpoint loses
// requests that arrive together. One is not enough, as a slow answer
// looks the same.
const maxStalls = 3

// New validates c and builds the output.
func New(c Config, d outputs.Deps) (*Output, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	client, err := httpout.NewClient(httpout.ClientConfig{Timeout: c.Timeout, TLS: c.TLS, MaxConnsPerHost: c.Concurrency})
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	if tr, ok := client.Transport.(*http.Transport); ok {
		// Answers are only classified and drained: no need to ask for gzip.
		tr.DisableCompression = true
		if c.Batch {
			// A batch body is hundreds of KB: net/http copies it through
			// the write buffer, one write syscall per buffer (4 KiB by
			// default).
			tr.WriteBufferSize = 64 << 10
		}
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
	o.proto = o.newProto()
	o.raw = newRawClient(c)
	o.pipes = make(chan *pipeline, c.Concurrency)
	o.depth.Store(1)
	o.depthMax.Store(int64(c.Pipeline))
	if o.raw == nil {
		o.depthMax.Store(1) // net/http does not pipeline
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
	// Concurrency workers take the alerts in order, rather than a goroutine
	// per alert: fewer goroutine starts and wake-ups per alert.
	errs := make([]error, len(batch))
	var next, delivered, failing atomic.Int64
	// failingEndpoint: a whole window of requests (at least 4) failed
	// retryably and more failed than were delivered. Sending the rest of the
	// batch would only hammer a stalled endpoint (hundreds of 503s per retry
	// round); one failing alert among healthy ones never stops the batch.
	window := int64(max(o.cfg.Concurrency, 4))
	failingEndpoint := func() bool {
		f := failing.Load()
		return f >= window && f > delivered.Load()
	}
	var wg sync.WaitGroup
	// As many goroutines (and connections) as there are runs to send at the
	// current depth: a surplus one would take a connection slot for nothing.
	d := o.depth.Load()
	runs := (int64(len(batch)) + d - 1) / d
	for range min(int64(o.cfg.Concurrency), runs) {
		wg.Add(1)
		go func() { // owned by this Send; ends when the batch is taken
			defer wg.Done()
			var sess *rawSession
			if o.raw != nil {
				var err error
				if sess, err = o.raw.acquire(ctx); err != nil {
					return // cancelled: what is left is not attempted
				}
				defer sess.release()
			}
			pipe := o.takePipeline()
			defer o.keepPipeline(pipe)
			for !failingEndpoint() {
				depth := o.depth.Load()
				i := int(next.Add(depth) - depth)
				if i >= len(batch) {
					return
				}
				j := min(i+int(depth), len(batch))
				if sess == nil { // net/http: depth is 1
					errs[i] = o.sendOne(ctx, batch[i])
				} else {
					o.sendPipelined(ctx, sess, pipe, batch[i:j], errs[i:j])
				}
				whole := true
				for _, err := range errs[i:j] {
					switch {
					case err == nil:
						delivered.Add(1)
					case outputs.IsRetryable(err):
						failing.Add(1)
						whole = false
					}
				}
				if whole {
					if depth < o.depthMax.Load() {
						o.depth.CompareAndSwap(depth, min(2*depth, o.depthMax.Load()))
					}
				} else {
					o.depth.Store(1)
				}
			}
		}()
	}
	wg.Wait()
	for i := min(int(next.Load()), len(batch)); i < len(batch); i++ {
		errs[i] = outputs.ErrNotAttempted
	}
	return combine(errs)
}

// sendOne posts one alert.
func (o *Output) sendOne(ctx context.Context, m outputs.Message) error {
	// Sized from the last body: one allocation instead of a chain of
	// regrowths from empty. Not pooled, as in batch mode.
	b, err := o.appendBody(make([]byte, 0, o.oneHint.Load()+256), m)
	if err != nil {
		return outputs.Permanent(fmt.Errorf("webhook: %w", err))
	}
	o.oneHint.Store(int64(len(b)))
	return o.post(ctx, b)
}

// pipeline is a Send goroutine's buffers for sendPipelined, reused from one
// run of requests to the next.
type pipeline struct {
	buf    []byte   // the bodies, encoded one after the other
	bodies [][]byte // slices of buf
	idx    []int    // bodies[k] is the alert at idx[k] of the run
	ends   []int    // where each body ends in buf
	errs   []error
}

func (o *Output) takePipeline() *pipeline {
	select {
	case p := <-o.pipes:
		return p
	default:
		return &pipeline{}
	}
}

// keepPipeline keeps p for the next Send, unless it grew outsized or enough
// are kept already. No body may be referenced once Send returns.
func (o *Output) keepPipeline(p *pipeline) {
	if cap(p.buf) > maxPipelineKeep {
		return
	}
	clear(p.bodies[:cap(p.bodies)])
	clear(p.errs[:cap(p.errs)])
	select {
	case o.pipes <- p:
	default:
	}
}

// sendPipelined posts run's alerts, one request each, written together on
// sess's connection (HTTP/1.1 pipelining); errs[k] is run[k]'s result.
func (o *Output) sendPipelined(ctx context.Context, sess *rawSession, p *pipeline, run []outputs.Message, errs []error) {
	p.buf, p.bodies, p.idx, p.ends = p.buf[:0], p.bodies[:0], p.idx[:0], p.ends[:0]
	for k, m := range run {
		start := len(p.buf)
		var err error
		if p.buf, err = o.appendBody(p.buf, m); err != nil {
			p.buf = p.buf[:start]
			errs[k] = outputs.Permanent(fmt.Errorf("webhook: %w", err))
			continue
		}
		p.ends = append(p.ends, len(p.buf))
		p.idx = append(p.idx, k)
	}
	start := 0
	for _, end := range p.ends { // slices of p.buf once it stopped growing
		p.bodies = append(p.bodies, p.buf[start:end])
		start = end
	}
	if len(p.bodies) == 0 {
		return
	}
	p.errs = slices.Grow(p.errs[:0], len(p.bodies))[:len(p.bodies)]
	clear(p.errs)
	switch stalled := sess.postAll(p.bodies, p.errs, httpout.Classify); {
	case stalled && o.stalls.Add(1) >= maxStalls && o.depthMax.Swap(1) > 1:
		o.depth.Store(1)
		o.log.Warn("webhook: the endpoint left pipelined requests unanswered after answering the one before them on the same connection, several times in a row; sending one request per connection at a time from now on (set pipeline: 1 to skip pipelining)",
			"address", httpout.RedactURL(o.cfg.Address))
	case !stalled && len(p.bodies) > 1 && !slices.ContainsFunc(p.errs, func(err error) bool { return err != nil }):
		o.stalls.Store(0)
	}
	for k, err := range p.errs {
		errs[p.idx[k]] = o.rawResult(ctx, p.bodies[k], err)
	}
}

// newProto builds the request template, or nil when the address does not
// make a request (post then reports that error per send, as before).
func (o *Output) newProto() *http.Request {
	req, err := http.NewRequest(o.cfg.Method, o.cfg.Address, http.NoBody)
	if err != nil {
		return nil
	}
	o.setHeaders(req.Header)
	return req
}

func (o *Output) setHeaders(h http.Header) {
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "lanner")
	for k, v := range o.cfg.CustomHeaders {
		h.Set(k, v)
	}
}

// post posts body through the raw client, or through net/http when the
// address needs it.
func (o *Output) post(ctx context.Context, body []byte) error {
	if o.raw != nil {
		return o.rawResult(ctx, body, o.raw.post(ctx, body, httpout.Classify))
	}
	return o.postNet(ctx, body)
}

// rawResult turns the raw client's result for body into the output's: a
// redirect is followed by net/http, an error is wrapped and redacted.
func (o *Output) rawResult(ctx context.Context, body []byte, err error) error {
	switch {
	case errors.Is(err, errRedirect):
		return o.postNet(ctx, body)
	case err != nil:
		return o.redact.Error(fmt.Errorf("webhook: %w", err))
	}
	return nil
}

// postNet posts body through net/http.
func (o *Output) postNet(ctx context.Context, body []byte) error {
	var req *http.Request
	if o.proto != nil {
		// A shallow copy shares the URL and the header map, which the
		// client and transport only read.
		req = o.proto.WithContext(ctx)
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		// As http.NewRequest does: lets the transport resend on a keep-alive
		// connection the server closed before reading the request.
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	} else {
		var err error
		req, err = http.NewRequestWithContext(ctx, o.cfg.Method, o.cfg.Address, bytes.NewReader(body))
		if err != nil {
			return outputs.Permanent(o.redact.Error(fmt.Errorf("webhook: %w", httpout.RedactURLError(err))))
		}
		o.setHeaders(req.Header)
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
// worst error when all were tried and failed retryably (the whole batch is
// retried, with the longest Retry-After asked); otherwise a PartialError,
// which keeps apart the alerts that were not tried at all.
func combine(errs []error) error {
	failed := map[int]error{}
	oneForAll := true // every alert tried, and failed retryably
	var worst error
	for i, err := range errs {
		if err == nil {
			continue
		}
		failed[i] = err
		if !outputs.IsRetryable(err) || errors.Is(err, outputs.ErrNotAttempted) {
			oneForAll = false
		}
		if worst == nil || outputs.RetryAfterOf(err) > outputs.RetryAfterOf(worst) {
			worst = err
		}
	}
	switch {
	case len(failed) == 0:
		return nil
	case len(failed) == len(errs) && oneForAll:
		return worst
	default:
		return &outputs.PartialError{Failed: failed}
	}
}

// Close releases idle connections.
func (o *Output) Close() error {
	if o.raw != nil {
		o.raw.close()
	}
	o.client.CloseIdleConnections()
	return nil
}

var _ outputs.Output = (*Output)(nil)
