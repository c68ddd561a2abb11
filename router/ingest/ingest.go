// Package ingest is the router's front door: Falco's HTTP POST, a batch HTTP
// endpoint and the gRPC stream. It parses and validates alerts, authenticates
// the caller and turns the pipeline's verdicts into status codes and acks. It
// knows nothing of routes or queues: those sit behind the Pipeline interface,
// so an answer is only ever given after Pipeline.Submit returned.
package ingest

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannerhq/lanner/alert"
)

// Status is what happened to one alert.
type Status uint8

// Statuses, as reported per alert in replies and as the status label of
// lanner_ingest_alerts_total.
const (
	// StatusQueued: durably queued for every output it routes to (or it routes
	// to none: nothing is left to do).
	StatusQueued Status = iota
	// StatusDuplicate: its uuid was already queued for all its outputs.
	StatusDuplicate
	// StatusRejected: invalid; resending it unchanged cannot help.
	StatusRejected
	// StatusFull: at least one of its output queues is full (or the store is
	// unavailable); resend later. Outputs that did queue it dedup the resend.
	StatusFull
)

var statusNames = [...]string{"queued", "duplicate", "rejected", "full"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "unknown"
}

// Result is the pipeline's verdict on one alert.
type Result struct {
	Status Status
	// Outputs the alert was queued for (StatusQueued / StatusDuplicate).
	Outputs []string
	// Full names the outputs whose queue refused it (StatusFull).
	Full []string
}

// Pipeline enriches, routes and durably queues valid alerts. Submit returns
// one Result per alert, in order, and returns only once every queued alert is
// on disk. An error means nothing can be said about any of them (the store
// failed or is closing): the caller answers "retry later".
type Pipeline interface {
	Submit(ctx context.Context, alerts []*alert.Alert) ([]Result, error)
}

// Transport labels for lanner_ingest_alerts_total{source}. The label is the
// ingest path, not the alert's own source field, which is caller-chosen and
// would make the metric's cardinality unbounded.
const (
	SourceHTTP  = "http"
	SourceBatch = "batch"
	SourceGRPC  = "grpc"
)

// Metrics are the ingest counters. Create them once per registry.
type Metrics struct {
	Requests *prometheus.CounterVec // endpoint, code
	Alerts   *prometheus.CounterVec // source, status

	// The HTTP fast path (FastListener).
	FastConnections prometheus.Gauge     // connections it serves
	FastGroup       prometheus.Histogram // requests per Submit
	FastLatency     prometheus.Histogram // seconds from a request's first byte to its answer
	FastHandoffs    prometheus.Counter   // connections handed to net/http
}

// NewMetrics registers the ingest metrics with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lanner_ingest_requests_total",
			Help: "Ingest requests (HTTP) and batches (gRPC) by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		Alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lanner_ingest_alerts_total",
			Help: "Alerts received, by ingest path (http, batch, grpc) and outcome (queued, duplicate, rejected, full).",
		}, []string{"source", "status"}),
		FastConnections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lanner_ingest_http_fast_connections",
			Help: "Connections the HTTP fast path (POST / on plain HTTP) is serving.",
		}),
		FastGroup: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "lanner_ingest_http_fast_group_requests",
			Help:    "Requests the HTTP fast path queued with one durable commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11), // 1 … 1024 (fastMaxGroup)
		}),
		FastLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "lanner_ingest_http_fast_request_seconds",
			Help:    "Time from a request's first byte to its answer on the HTTP fast path: how long a sender waits for its alert to be queued durably.",
			Buckets: prometheus.ExponentialBuckets(100e-6, 2, 14), // 100µs … 0.8s
		}),
		FastHandoffs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lanner_ingest_http_fast_handoffs_total",
			Help: "Connections the HTTP fast path handed to the general HTTP server (another endpoint, encoding, or size).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Requests, m.Alerts, m.FastConnections, m.FastGroup, m.FastLatency, m.FastHandoffs)
	}
	return m
}

// alertCounters caches the label lookups for one source so the hot path does
// not hash label values per alert.
type alertCounters [len(statusNames)]prometheus.Counter

func (m *Metrics) forSource(source string) *alertCounters {
	var c alertCounters
	for i, name := range statusNames {
		c[i] = m.Alerts.WithLabelValues(source, name)
	}
	return &c
}

// Token holds a bearer token for constant-time checks; the zero value means
// auth is off.
type Token struct {
	sum [sha256.Size]byte
	on  bool
}

// NewToken returns a checker for token; an empty token turns auth off.
func NewToken(token string) Token {
	if token == "" {
		return Token{}
	}
	return Token{sum: sha256.Sum256([]byte(token)), on: true}
}

// Enabled reports whether a token is required.
func (t Token) Enabled() bool { return t.on }

// CheckHeader checks an "Authorization: Bearer <token>" value. Hashing both
// sides first makes the comparison independent of the tokens' lengths too.
func (t Token) CheckHeader(v string) bool {
	if !t.on {
		return true
	}
	const prefix = "bearer "
	if len(v) < len(prefix) || !strings.EqualFold(v[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(v[len(prefix):])))
	return subtle.ConstantTimeCompare(got[:], t.sum[:]) == 1
}

// retryAfter is what the router tells a client to wait when a queue is full.
const retryAfter = time.Second
