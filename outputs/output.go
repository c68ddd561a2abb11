// Package outputs defines the contract between the router's delivery queue and
// each destination, plus helpers every destination reuses. A destination only
// sends once and classifies its failure; the router's queue owns retries,
// backoff, batching bounds and dead letters for all of them alike.
package outputs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lannerhq/lanner/alert"
)

// Message is one alert queued for one output. Overrides carry per-route
// settings for this output (for example a Slack channel) chosen by the route
// that sent the alert here; outputs ignore keys they do not know.
type Message struct {
	Alert     *alert.Alert
	Overrides map[string]string
}

// Output delivers batches of alerts to one destination.
type Output interface {
	// Send delivers the batch once. It returns nil when every message was
	// delivered. Otherwise the error says what to do: see Permanent,
	// RetryAfter and PartialError. Any other error is treated as retryable
	// (network failures, timeouts). The messages and their alerts are
	// shared with other outputs and the router: Send must not modify them.
	Send(ctx context.Context, batch []Message) error
	// Close releases connections. Send is not called after Close.
	Close() error
}

// permanentError marks a failure that retrying cannot fix (4xx other than
// 408/429, a rejected document, a bad payload).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent wraps err so the queue dead-letters instead of retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// RetryAfterError asks the queue to wait at least After before the next try
// (HTTP 429/503 with a Retry-After header).
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
}
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter wraps err with a minimum wait before the next attempt.
func RetryAfter(err error, after time.Duration) error {
	return &RetryAfterError{After: after, Err: err}
}

// PartialError reports a batch in which some messages failed and the rest were
// delivered (an Elasticsearch _bulk reply, for instance). Failed maps the index
// of each failed message in the batch to its own error, itself classified by
// Permanent / RetryAfter. Messages not in Failed were delivered.
type PartialError struct {
	Failed map[int]error
}

func (e *PartialError) Error() string {
	for _, err := range e.Failed {
		return fmt.Sprintf("%d of the batch failed, e.g.: %v", len(e.Failed), err)
	}
	return "partial failure"
}

// ErrNotAttempted marks a message of a PartialError that Send did not try,
// because the destination failed the batch's messages before it (a stalled
// endpoint answering 503 to each, Slack's 429). The queue sends it again with
// the rest and does not count it as a failed attempt.
var ErrNotAttempted = errors.New("not sent: the destination failed earlier messages of the batch")

// IsRetryable reports whether a failure may succeed on a later attempt.
// Context cancellation by the caller is retryable: the alert stays queued.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var p *permanentError
	return !errors.As(err, &p)
}

// RetryAfterOf returns the wait the destination asked for, or 0.
func RetryAfterOf(err error) time.Duration {
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		return ra.After
	}
	return 0
}

// Deps are what the router hands every output constructor.
type Deps struct {
	Logger *slog.Logger
}

// falcoPayload is falcosidekick's FalcoPayload: the alert in the field order
// and with the omitempty rules falcosidekick uses when it forwards an alert.
type falcoPayload struct {
	UUID         string         `json:"uuid,omitempty"`
	Output       string         `json:"output"`
	Priority     alert.Priority `json:"priority"`
	Rule         string         `json:"rule"`
	Time         time.Time      `json:"time"`
	OutputFields alert.Fields   `json:"output_fields"`
	Source       string         `json:"source"`
	Tags         []string       `json:"tags,omitempty"`
	Hostname     string         `json:"hostname,omitempty"`
}

// FalcoJSON encodes a as falcosidekick forwards an alert (its webhook body,
// its Loki JSON line), so receivers built for falcosidekick read it unchanged.
func FalcoJSON(a *alert.Alert) ([]byte, error) {
	return json.Marshal(falcoPayload{
		UUID: a.UUID, Output: a.Output, Priority: a.Priority, Rule: a.Rule, Time: a.Time,
		OutputFields: a.OutputFields, Source: a.Source, Tags: a.Tags, Hostname: a.Hostname,
	})
}
