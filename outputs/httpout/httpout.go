// Package httpout holds what every HTTP-based output reuses: a client built
// from TLS options and a timeout, the classification of a response into the
// queue's retry decision, connection-friendly body draining, and redaction so
// that no secret (token, password, webhook path) reaches an error or a log.
package httpout

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lannerhq/lanner/outputs"
)

// DefaultTimeout bounds one request when an output does not set its own.
const DefaultTimeout = 10 * time.Second

// maxErrorBody bounds how much of an error response is quoted in the error.
const maxErrorBody = 1 << 10

// TLSConfig is the TLS part of an output's config (yaml key `tls`).
type TLSConfig struct {
	// CAFile is a PEM bundle of CAs trusted in addition to the system pool.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate for mutual TLS.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// InsecureSkipVerify disables server certificate checks (tests only).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// Validate checks that the files exist and that cert and key come together.
func (c TLSConfig) Validate() error {
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("tls: cert_file and key_file must be set together")
	}
	for _, f := range []struct{ key, path string }{{"ca_file", c.CAFile}, {"cert_file", c.CertFile}, {"key_file", c.KeyFile}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("tls: %s: %w", f.key, err)
		}
	}
	return nil
}

// Build returns the *tls.Config, or nil when nothing is set.
func (c TLSConfig) Build() (*tls.Config, error) {
	if c == (TLSConfig{}) {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // opt-in
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: ca_file %s: no PEM certificate found", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// ClientConfig describes the client an output needs.
type ClientConfig struct {
	Timeout time.Duration // per request; DefaultTimeout when 0
	TLS     TLSConfig
	// MaxConnsPerHost bounds parallel connections (0: 16). Idle connections
	// are kept to the same number so bursts reuse them.
	MaxConnsPerHost int
}

// NewClient builds an http.Client from c. It never follows redirects to
// another host with credentials, as net/http already strips them.
func NewClient(c ClientConfig) (*http.Client, error) {
	tc, err := c.TLS.Build()
	if err != nil {
		return nil, err
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxConnsPerHost <= 0 {
		c.MaxConnsPerHost = 16
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   5 * time.Second,
		MaxIdleConns:          c.MaxConnsPerHost * 2,
		MaxIdleConnsPerHost:   c.MaxConnsPerHost,
		MaxConnsPerHost:       c.MaxConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: tr, Timeout: c.Timeout}, nil
}

// StatusError is a non-2xx answer. Body holds at most 1 KiB of it.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("HTTP %d %s", e.Code, http.StatusText(e.Code))
	}
	return fmt.Sprintf("HTTP %d %s: %s", e.Code, http.StatusText(e.Code), e.Body)
}

// Classify turns the result of client.Do into the queue's decision:
// nil for 2xx; retryable for network errors, timeouts, 408, 429 and 5xx;
// outputs.RetryAfter for 429/503 carrying Retry-After; outputs.Permanent for
// the other 4xx (and 1xx/3xx, which a client cannot fix by retrying). It reads
// at most 1 KiB of an error body; the caller still calls DrainClose. URLs in
// network errors are redacted.
func Classify(resp *http.Response, err error) error {
	if err != nil {
		return RedactURLError(err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	se := &StatusError{Code: resp.StatusCode, Body: readBounded(resp.Body)}
	return ClassifyStatus(resp.StatusCode, resp.Header.Get("Retry-After"), se)
}

// ClassifyStatus classifies err, caused by an HTTP status code (with its
// Retry-After header value, possibly empty), for libraries that return the
// status themselves (slack-go, go-elasticsearch).
func ClassifyStatus(code int, retryAfter string, err error) error {
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		if d, ok := ParseRetryAfter(retryAfter, time.Now()); ok {
			return outputs.RetryAfter(err, d)
		}
		return err
	case code == http.StatusRequestTimeout || code >= 500:
		return err
	default:
		return outputs.Permanent(err)
	}
}

// ParseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	// A nonsense header must not park an output for years.
	const maxWait = 24 * time.Hour
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		if s > int64(maxWait/time.Second) { // also keeps the multiplication from overflowing
			return maxWait, true
		}
		return time.Duration(s) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), maxWait), true
}

func readBounded(r io.Reader) string {
	if r == nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(r, maxErrorBody))
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
	return s
}

// DrainClose reads what is left of a body (bounded) and closes it, so the
// connection goes back to the pool instead of being torn down.
func DrainClose(body io.ReadCloser) {
	if body == nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}

// RedactURL returns u without userinfo, with query values masked and with the
// secret part of a Slack webhook path (/services/T/B/SECRET) masked. Unparsable
// input is masked whole.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "<redacted-url>"
	}
	return redactParsed(p).String()
}

func redactParsed(p *url.URL) *url.URL {
	c := *p
	if c.User != nil {
		c.User = url.User("redacted")
	}
	if c.RawQuery != "" {
		q := c.Query()
		for k := range q {
			q[k] = []string{"redacted"}
		}
		c.RawQuery = q.Encode()
	}
	if i := strings.Index(c.Path, "/services/"); i >= 0 {
		c.Path = c.Path[:i] + "/services/redacted"
		c.RawPath = ""
	}
	return &c
}

// RedactURLError rewrites the URL inside a *url.Error (what http.Client.Do
// returns) so that the error text carries no credentials.
func RedactURLError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	c := *ue
	c.URL = RedactURL(ue.URL)
	return &c
}

// Redactor masks known secret strings (tokens, passwords, full webhook URLs)
// in error texts, keeping the error's classification.
type Redactor struct {
	secrets []string
}

// NewRedactor masks each non-empty secret (and its URL-escaped form).
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	for _, s := range secrets {
		if len(s) < 4 { // masking "a" everywhere would only garble messages
			continue
		}
		r.secrets = append(r.secrets, s)
		if e := url.QueryEscape(s); e != s {
			r.secrets = append(r.secrets, e)
		}
		if e := url.PathEscape(s); e != s {
			r.secrets = append(r.secrets, e)
		}
	}
	return r
}

// String masks every secret in s.
func (r *Redactor) String(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, "<redacted>")
	}
	return s
}

func (r *Redactor) leaks(s string) bool {
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			return true
		}
	}
	return false
}

// Error returns err unchanged when its text holds no secret; otherwise an
// error with the same classification (permanent, retry-after, partial,
// context cancellation) whose text and whose chain hold no secret.
func (r *Redactor) Error(err error) error {
	if err == nil || r == nil || !r.leaks(err.Error()) {
		return err
	}
	var pe *outputs.PartialError
	if errors.As(err, &pe) {
		c := &outputs.PartialError{Failed: make(map[int]error, len(pe.Failed))}
		for i, e := range pe.Failed {
			c.Failed[i] = r.Error(e)
		}
		return c
	}
	var ra *outputs.RetryAfterError
	if errors.As(err, &ra) {
		return outputs.RetryAfter(r.plain(ra.Err), ra.After)
	}
	if !outputs.IsRetryable(err) {
		return outputs.Permanent(r.plain(err))
	}
	return r.plain(err)
}

func (r *Redactor) plain(err error) error {
	e := &redactedError{msg: r.String(err.Error())}
	switch {
	case errors.Is(err, context.Canceled):
		e.cause = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		e.cause = context.DeadlineExceeded
	}
	return e
}

// redactedError keeps only a scrubbed message, plus the context sentinel the
// original wrapped so errors.Is still works for callers.
type redactedError struct {
	msg   string
	cause error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.cause }

// Transport is the connection settings HTTP outputs share, under
// falcosidekick's names, pointed at the fields of an output's Config.
type Transport struct {
	Timeout   *time.Duration
	CheckCert *bool // falcosidekick's checkcert: false skips verification
	MutualTLS bool
	TLS       *TLSConfig
}

// Apply defaults the timeout, folds checkcert into the TLS settings and
// validates them; name prefixes the errors ("webhook: ...").
func (t Transport) Apply(name string) error {
	if *t.Timeout == 0 {
		*t.Timeout = DefaultTimeout
	}
	if *t.Timeout < 0 {
		return fmt.Errorf("%s: timeout must be positive", name)
	}
	if t.CheckCert != nil && !*t.CheckCert {
		t.TLS.InsecureSkipVerify = true
	}
	if t.MutualTLS && t.TLS.CertFile == "" {
		return fmt.Errorf("%s: mutualtls needs tls.cert_file and tls.key_file", name)
	}
	if err := t.TLS.Validate(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
