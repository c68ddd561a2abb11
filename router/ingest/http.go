package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lannerhq/lanner/alert"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for HTTPConfig's limits.
const (
	DefaultMaxBodyBytes   = 1 << 20  // one alert: Falco's are a few KiB
	DefaultMaxBatchBytes  = 32 << 20 // POST /api/v1/alerts
	DefaultMaxBatchAlerts = 10000
	// At most this many requests are read and queued at once (more wait for
	// a slot), which bounds ingest memory to about limit × body size however
	// many clients connect.
	DefaultMaxInFlight      = 1024
	DefaultMaxBatchInFlight = 16
)

// HTTPConfig configures the HTTP ingest handlers.
type HTTPConfig struct {
	Logger   *slog.Logger
	Pipeline Pipeline
	Metrics  *Metrics
	// Token, when enabled, is required as "Authorization: Bearer <token>".
	Token Token
	// MaxBodyBytes bounds POST / bodies (after gzip decoding); 0 = default.
	MaxBodyBytes int64
	// MaxBatchBytes bounds POST /api/v1/alerts bodies; 0 = default.
	MaxBatchBytes int64
	// MaxBatchAlerts bounds the alerts in one batch request; 0 = default.
	MaxBatchAlerts int
	// MaxInFlight and MaxBatchInFlight bound the requests of POST / (and
	// /test) and of POST /api/v1/alerts being handled at once by net/http;
	// 0 = default. The fast path (FastListener) bounds itself: one request
	// per connection, in at most fastMaxGroups Submits at once.
	MaxInFlight      int
	MaxBatchInFlight int
}

// FastConfig carries the net/http server's timeouts, which the fast path
// applies the same way. Zero means none.
type FastConfig struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
}

// HTTP serves Falco's http_output (POST /) and the batch endpoint.
type HTTP struct {
	cfg       HTTPConfig
	single    *alertCounters
	batch     *alertCounters
	bufs      sync.Pool
	replyBufs sync.Pool // *[]byte for replyOne
	jsonType  []string  // shared Content-Type value: net/http only reads it
	// okOne and okTest are the 200 request counters, looked up once: the
	// label lookup showed in the per-alert profile.
	okOne, okTest prometheus.Counter
	slots         chan struct{}
	batchSlot     chan struct{}
}

// NewHTTP returns the HTTP ingest handlers.
func NewHTTP(cfg HTTPConfig) *HTTP {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxBatchBytes <= 0 {
		cfg.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if cfg.MaxBatchAlerts <= 0 {
		cfg.MaxBatchAlerts = DefaultMaxBatchAlerts
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.MaxBatchInFlight <= 0 {
		cfg.MaxBatchInFlight = DefaultMaxBatchInFlight
	}
	h := &HTTP{cfg: cfg, slots: make(chan struct{}, cfg.MaxInFlight), batchSlot: make(chan struct{}, cfg.MaxBatchInFlight)}
	h.single = cfg.Metrics.forSource(SourceHTTP)
	h.batch = cfg.Metrics.forSource(SourceBatch)
	h.bufs.New = func() any { return new(bytes.Buffer) }
	h.replyBufs.New = func() any { b := make([]byte, 0, 256); return &b }
	h.jsonType = []string{"application/json"}
	h.okOne = cfg.Metrics.Requests.WithLabelValues(endpointOne, "200")
	h.okTest = cfg.Metrics.Requests.WithLabelValues(endpointTest, "200")
	return h
}

// Register adds the ingest routes to mux.
func (h *HTTP) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /{$}", h.serveOne)
	mux.HandleFunc("POST /api/v1/alerts", h.serveBatch)
	mux.HandleFunc("POST /test", h.serveTest)
	// falcosidekick's liveness probe path, for drop-in replacements.
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "pong\n")
	})
}

const (
	endpointOne   = "/"
	endpointBatch = "/api/v1/alerts"
	endpointTest  = "/test"
)

// readBody reads at most limit bytes of the (possibly gzip-encoded) body into
// a pooled buffer. The returned code is the HTTP status to answer on error.
func (h *HTTP) readBody(w http.ResponseWriter, r *http.Request, limit int64) (*bytes.Buffer, int, error) {
	enc := r.Header.Get("Content-Encoding")
	plain := enc == "" || strings.EqualFold(enc, "identity")
	var body io.Reader = r.Body
	if !plain || r.ContentLength < 0 || r.ContentLength > limit {
		// A body of a known length within the limit cannot grow past it
		// (net/http stops at Content-Length), so only the others need the
		// MaxBytesReader, one allocation less per usual request.
		body = http.MaxBytesReader(w, r.Body, limit)
	}
	if !plain {
		if !strings.EqualFold(enc, "gzip") {
			return nil, http.StatusUnsupportedMediaType, fmt.Errorf("unsupported Content-Encoding %q (want gzip or none)", enc)
		}
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, statusForReadErr(err), fmt.Errorf("bad gzip body: %w", err)
		}
		defer zr.Close()
		// The decoded size is bounded too: a small gzip bomb must not expand
		// into memory without limit.
		body = &limitedReader{r: zr, n: limit}
	}
	buf := h.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	if _, err := buf.ReadFrom(body); err != nil {
		h.putBuf(buf)
		return nil, statusForReadErr(err), fmt.Errorf("reading body: %w", err)
	}
	return buf, 0, nil
}

func (h *HTTP) putBuf(b *bytes.Buffer) {
	if b.Cap() > 4*DefaultMaxBodyBytes {
		return // let a rare huge batch buffer go rather than pin it
	}
	h.bufs.Put(b)
}

var errTooLarge = errors.New("request body too large")

func statusForReadErr(err error) int {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || errors.Is(err, errTooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// limitedReader fails with errTooLarge past n bytes, unlike io.LimitReader,
// which would silently truncate.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return n, errTooLarge
	}
	return n, err
}

// acquire takes a slot, waiting while all are busy; false when the client
// gave up first.
func acquire(r *http.Request, slots chan struct{}) bool {
	select { // the usual case, without setting up a two-way select
	case slots <- struct{}{}:
		return true
	default:
	}
	select {
	case slots <- struct{}{}:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (h *HTTP) authorized(w http.ResponseWriter, r *http.Request, endpoint string) bool {
	if h.cfg.Token.CheckHeader(r.Header.Get("Authorization")) {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="lanner"`)
	h.fail(w, endpoint, http.StatusUnauthorized, "missing or wrong bearer token")
	return false
}

// oneReply is the answer to POST /.
type oneReply struct {
	UUID    string   `json:"uuid"`
	Status  string   `json:"status"`
	Outputs []string `json:"outputs"`
}

func (h *HTTP) serveOne(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(w, r, endpointOne) || !acquire(r, h.slots) {
		return
	}
	defer func() { <-h.slots }()
	buf, code, err := h.readBody(w, r, h.cfg.MaxBodyBytes)
	if err != nil {
		h.single[StatusRejected].Inc()
		h.fail(w, endpointOne, code, err.Error())
		return
	}
	a, err := alert.Decode(buf.Bytes())
	h.putBuf(buf)
	if err != nil {
		h.rejectOne(w, r.RemoteAddr, err)
		return
	}
	h.submitOne(r.Context(), w, endpointOne, a)
}

// rejectOne answers 400 to POST / for an alert that does not decode; the
// message names the field.
func (h *HTTP) rejectOne(w http.ResponseWriter, remote string, err error) {
	h.single[StatusRejected].Inc()
	h.cfg.Logger.Debug("ingest: alert rejected", "remote", remote, "err", err)
	h.fail(w, endpointOne, http.StatusBadRequest, err.Error())
}

// serveTest is falcosidekick's POST /test: a Debug test alert through the
// normal path, to check that outputs are reachable.
func (h *HTTP) serveTest(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(w, r, endpointTest) || !acquire(r, h.slots) {
		return
	}
	defer func() { <-h.slots }()
	host, _ := os.Hostname()
	a := &alert.Alert{
		Time: time.Now().UTC(), Priority: alert.PriorityDebug, Rule: "Test rule", Source: "debug", Hostname: host,
		Output: "This is a test from lanner-router",
		OutputFields: alert.Fields{
			{Key: "proc.name", Value: alert.StringValue("lanner-router")},
			{Key: "user.name", Value: alert.StringValue("lanner-router")},
		},
		Tags: []string{"test", "example"},
	}
	h.submitOne(r.Context(), w, endpointTest, a)
}

func (h *HTTP) submitOne(ctx context.Context, w http.ResponseWriter, endpoint string, a *alert.Alert) {
	a.EnsureUUID()
	res, err := h.cfg.Pipeline.Submit(ctx, []*alert.Alert{a})
	var rs Result
	if err == nil {
		rs = res[0]
	}
	h.answerOne(w, endpoint, a, rs, err)
}

// answerOne answers a request whose alert the pipeline queued (rs) or could
// not take (err).
func (h *HTTP) answerOne(w http.ResponseWriter, endpoint string, a *alert.Alert, rs Result, err error) {
	if err != nil {
		h.single[StatusFull].Inc()
		h.cfg.Logger.Warn("ingest: cannot queue alert", "uuid", a.UUID, "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Seconds())))
		h.fail(w, endpoint, http.StatusServiceUnavailable, "queue unavailable, retry later")
		return
	}
	h.single[rs.Status].Inc()
	if rs.Status == StatusFull {
		w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Seconds())))
		h.fail(w, endpoint, http.StatusServiceUnavailable,
			"queue full for output(s) "+strings.Join(rs.Full, ", ")+", retry later")
		return
	}
	outs := rs.Outputs
	if outs == nil {
		outs = []string{}
	}
	h.replyOne(w, endpoint, oneReply{UUID: a.UUID, Status: rs.Status.String(), Outputs: outs})
}

// replyOne answers 200 to POST / (and /test): the per-alert hot path, so the
// body is built by hand into a pooled buffer (byte-identical to WriteJSON's,
// which it falls back to for strings needing escapes) and the headers are
// set without canonicalizing their names.
func (h *HTTP) replyOne(w http.ResponseWriter, endpoint string, rep oneReply) {
	bp := h.replyBufs.Get().(*[]byte)
	defer h.replyBufs.Put(bp)
	b, ok := appendOneReply((*bp)[:0], rep)
	*bp = b
	if !ok {
		h.reply(w, endpoint, http.StatusOK, rep)
		return
	}
	if endpoint == endpointOne {
		h.okOne.Inc()
	} else {
		h.okTest.Inc()
	}
	hdr := w.Header()
	hdr["Content-Type"] = h.jsonType
	hdr["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// appendOneReply appends rep as json.Marshal would, plus the newline
// WriteJSON adds; false when a string needs escaping (the caller then uses
// json.Marshal, so escaping rules live in one place).
func appendOneReply(b []byte, rep oneReply) ([]byte, bool) {
	if !plainJSON(rep.UUID) || !plainJSON(rep.Status) {
		return b, false
	}
	b = append(b, `{"uuid":"`...)
	b = append(b, rep.UUID...)
	b = append(b, `","status":"`...)
	b = append(b, rep.Status...)
	b = append(b, `","outputs":[`...)
	for i, o := range rep.Outputs {
		if !plainJSON(o) {
			return b, false
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, o...)
		b = append(b, '"')
	}
	return append(b, "]}\n"...), true
}

// plainJSON reports whether json.Marshal writes s unchanged between quotes:
// printable ASCII without the characters it escapes.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// BatchResult reports one alert of a batch request.
type BatchResult struct {
	Index  int    `json:"index"`
	UUID   string `json:"uuid,omitempty"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// BatchReply is the answer to POST /api/v1/alerts.
type BatchReply struct {
	Queued     int           `json:"queued"`
	Duplicates int           `json:"duplicates"`
	Rejected   int           `json:"rejected"`
	Full       int           `json:"full"`
	Results    []BatchResult `json:"results"`
}

// serveBatch takes a JSON array of alerts or NDJSON (one alert per line).
// Invalid alerts are rejected one by one; the valid ones are queued with one
// Submit. The status is 503 if any alert must be resent (queue full), 400 if
// every alert was rejected, and 200 otherwise; the body reports each alert.
func (h *HTTP) serveBatch(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(w, r, endpointBatch) || !acquire(r, h.batchSlot) {
		return
	}
	defer func() { <-h.batchSlot }()
	buf, code, err := h.readBody(w, r, h.cfg.MaxBatchBytes)
	if err != nil {
		h.fail(w, endpointBatch, code, err.Error())
		return
	}
	defer h.putBuf(buf)
	docs, err := splitBatch(buf.Bytes(), h.cfg.MaxBatchAlerts)
	if err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, errTooManyAlerts) {
			code = http.StatusRequestEntityTooLarge
		}
		h.fail(w, endpointBatch, code, err.Error())
		return
	}
	rep := BatchReply{Results: make([]BatchResult, len(docs))}
	valid := make([]*alert.Alert, 0, len(docs))
	validIdx := make([]int, 0, len(docs))
	for i, doc := range docs {
		rep.Results[i].Index = i
		a, err := alert.Decode(doc)
		if err != nil {
			rep.Results[i].Status = StatusRejected.String()
			rep.Results[i].Error = err.Error()
			rep.Rejected++
			h.batch[StatusRejected].Inc()
			continue
		}
		a.EnsureUUID()
		rep.Results[i].UUID = a.UUID
		valid = append(valid, a)
		validIdx = append(validIdx, i)
	}
	if len(valid) > 0 {
		res, err := h.cfg.Pipeline.Submit(r.Context(), valid)
		if err != nil {
			h.cfg.Logger.Warn("ingest: cannot queue batch", "alerts", len(valid), "err", err)
			for _, i := range validIdx {
				rep.Results[i].Status = StatusFull.String()
				rep.Results[i].Error = "queue unavailable, retry later"
			}
			rep.Full += len(valid)
			h.batch[StatusFull].Add(float64(len(valid)))
		} else {
			for j, rs := range res {
				br := &rep.Results[validIdx[j]]
				br.Status = rs.Status.String()
				h.batch[rs.Status].Inc()
				switch rs.Status {
				case StatusQueued:
					rep.Queued++
				case StatusDuplicate:
					rep.Duplicates++
				case StatusFull:
					rep.Full++
					br.Error = "queue full for output(s) " + strings.Join(rs.Full, ", ")
				}
			}
		}
	}
	code = http.StatusOK
	switch {
	case rep.Full > 0:
		w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Seconds())))
		code = http.StatusServiceUnavailable
	case rep.Rejected == len(docs):
		code = http.StatusBadRequest
	}
	h.reply(w, endpointBatch, code, rep)
}

var errTooManyAlerts = errors.New("too many alerts in one request")

// splitBatch cuts a JSON array or an NDJSON body into one document per alert.
// A malformed array fails as a whole (its elements cannot be told apart); a
// bad NDJSON line is left for Decode to reject on its own.
func splitBatch(body []byte, maxAlerts int) ([][]byte, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errors.New("empty body: expected a JSON array of alerts or NDJSON")
	}
	var docs [][]byte
	if trimmed[0] == '[' {
		var raws []json.RawMessage
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, fmt.Errorf("malformed JSON array: %w", err)
		}
		if len(raws) > maxAlerts {
			return nil, fmt.Errorf("%w: %d (limit %d)", errTooManyAlerts, len(raws), maxAlerts)
		}
		docs = make([][]byte, len(raws))
		for i, r := range raws {
			docs[i] = r
		}
	} else {
		for line := range bytes.SplitSeq(trimmed, []byte{'\n'}) {
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
			if len(docs) == maxAlerts {
				return nil, fmt.Errorf("%w: more than %d", errTooManyAlerts, maxAlerts)
			}
			docs = append(docs, line)
		}
	}
	if len(docs) == 0 {
		return nil, errors.New("no alerts in request")
	}
	return docs, nil
}

type errorReply struct {
	Error string `json:"error"`
}

func (h *HTTP) fail(w http.ResponseWriter, endpoint string, code int, msg string) {
	h.reply(w, endpoint, code, errorReply{Error: msg})
}

func (h *HTTP) reply(w http.ResponseWriter, endpoint string, code int, v any) {
	h.cfg.Metrics.Requests.WithLabelValues(endpoint, strconv.Itoa(code)).Inc()
	WriteJSON(w, code, v)
}

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b = []byte(`{"error":"cannot encode reply"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
