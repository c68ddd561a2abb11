package outputtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lannerhq/lanner/outputs"
)

// Request is one request a Recorder received.
type Request struct {
	Method string
	URI    string // path and query
	Header http.Header
	Body   []byte
}

// Recorder is a real HTTP server (httptest, 127.0.0.1) that records every
// request and answers with a status chosen by the test. Its error answers echo
// the request URI and credentials back, the worst case for secret leaks.
type Recorder struct {
	*httptest.Server

	mu       sync.Mutex
	reqs     []Request
	status   int
	header   http.Header
	body     string
	hang     bool
	handler  http.HandlerFunc
	released chan struct{}
}

// NewRecorder starts a plain-HTTP recorder answering 200; closed at test end.
func NewRecorder(t testing.TB) *Recorder {
	r := newRecorder()
	r.Server = httptest.NewServer(r)
	t.Cleanup(r.Close)
	return r
}

// NewTLSRecorder starts an HTTPS recorder (httptest's self-signed cert).
func NewTLSRecorder(t testing.TB) *Recorder {
	r := newRecorder()
	r.Server = httptest.NewTLSServer(r)
	t.Cleanup(r.Close)
	return r
}

func newRecorder() *Recorder {
	return &Recorder{status: http.StatusOK, released: make(chan struct{})}
}

// Close releases hanging handlers and stops the server.
func (r *Recorder) Close() {
	r.mu.Lock()
	select {
	case <-r.released:
	default:
		close(r.released)
	}
	r.mu.Unlock()
	r.Server.Close()
}

// Respond sets the status, extra headers and body of the next answers. An
// empty body on a non-2xx status echoes the request (URI, Authorization and
// every header) to catch outputs that quote error bodies unredacted.
func (r *Recorder) Respond(status int, header http.Header, body string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status, r.header, r.body, r.hang = status, header, body, false
}

// Handle replaces the answer with h (after recording the request).
func (r *Recorder) Handle(h http.HandlerFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handler = h
}

// Hang makes the server never answer until the client gives up.
func (r *Recorder) Hang() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hang = true
}

// Requests returns a copy of what was received so far.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.reqs...)
}

// Bodies returns every received body as a string.
func (r *Recorder) Bodies() []string {
	var out []string
	for _, q := range r.Requests() {
		out = append(out, string(q.Body))
	}
	return out
}

// Reset forgets the recorded requests.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = nil
}

func (r *Recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, Request{Method: req.Method, URI: req.URL.RequestURI(), Header: req.Header.Clone(), Body: body})
	status, header, rbody, hang, h := r.status, r.header, r.body, r.hang, r.handler
	r.mu.Unlock()
	if hang {
		select {
		case <-req.Context().Done():
		case <-r.released:
		}
		return
	}
	if h != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
		h(w, req)
		return
	}
	for k, vs := range header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if rbody == "" && status >= 300 {
		var b strings.Builder
		fmt.Fprintf(&b, "rejected %s %s", req.Method, req.URL.RequestURI())
		for k, vs := range req.Header {
			fmt.Fprintf(&b, " %s=%s", k, strings.Join(vs, ","))
		}
		if u, p, ok := req.BasicAuth(); ok {
			fmt.Fprintf(&b, " user=%s pass=%s", u, p)
		}
		rbody = b.String()
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, rbody)
}

// HTTPTarget is where the kit wants the output under test to send.
type HTTPTarget struct {
	URL  string // scheme://127.0.0.1:port, no path
	Deps outputs.Deps
}

// StatusCase is one row of the status table.
type StatusCase struct {
	Status     int
	RetryAfter string // Retry-After header to send, if any
	Want       string // "ok", "retry" or "permanent"
	WantAfter  time.Duration
}

// DefaultStatusTable is the table every HTTP output must pass.
func DefaultStatusTable() []StatusCase {
	c := []StatusCase{
		{Status: 200, Want: "ok"}, {Status: 201, Want: "ok"}, {Status: 204, Want: "ok"},
		{Status: 400, Want: "permanent"}, {Status: 401, Want: "permanent"}, {Status: 403, Want: "permanent"},
		{Status: 404, Want: "permanent"}, {Status: 413, Want: "permanent"}, {Status: 422, Want: "permanent"},
		{Status: 408, Want: "retry"}, {Status: 429, Want: "retry"}, {Status: 500, Want: "retry"},
		{Status: 502, Want: "retry"}, {Status: 503, Want: "retry"}, {Status: 504, Want: "retry"},
		{Status: 429, RetryAfter: "7", Want: "retry", WantAfter: 7 * time.Second},
		{Status: 503, RetryAfter: "3", Want: "retry", WantAfter: 3 * time.Second},
	}
	return c
}

// HTTPSuite runs the whole kit against an HTTP output.
type HTTPSuite struct {
	// New builds the output under test sending to target (the kit's
	// Recorder or a down address). Fail the test on a config error.
	New func(t testing.TB, target HTTPTarget) outputs.Output
	// Secrets are the credentials New configured: none may appear in an
	// error or a log line.
	Secrets []string
	// Golden names testdata/<Golden>.golden, the canonical form of the
	// requests made for GoldenAlerts alerts (default 2) sent as one batch.
	// Empty skips the golden check.
	Golden       string
	GoldenAlerts int
	// OK is the body the recorder answers on success (Slack's API wants
	// {"ok":true}); empty answers "".
	OK string
	// Statuses overrides DefaultStatusTable.
	Statuses []StatusCase
	// Decode turns a compressed or binary request body into the bytes the
	// golden file and the marker search use (Loki: snappy-protobuf).
	Decode func(Request) []byte
}

func (s HTTPSuite) decoded(reqs []Request) []Request {
	if s.Decode == nil {
		return reqs
	}
	out := make([]Request, len(reqs))
	for i, q := range reqs {
		q.Body = s.Decode(q)
		out[i] = q
	}
	return out
}

func (s HTTPSuite) bodies(r *Recorder) func() []string {
	return func() []string {
		var out []string
		for _, q := range s.decoded(r.Requests()) {
			out = append(out, string(q.Body))
		}
		return out
	}
}

// Run runs every check as a subtest.
func (s HTTPSuite) Run(t *testing.T) {
	t.Run("golden", s.testGolden)
	t.Run("status", s.testStatus)
	t.Run("cancel", s.testCancel)
	t.Run("refused-no-secrets", s.testNetworkSecrets)
	t.Run("down-then-back", func(t *testing.T) { s.testDownThenBack(t, CheckDownThenBack) })
	t.Run("down-then-back-queue", func(t *testing.T) { s.testDownThenBack(t, CheckDownThenBackQueue) })
}

func (s HTTPSuite) build(t testing.TB, url string) (outputs.Output, *LogBuffer) {
	log, buf := CaptureLogs()
	out := s.New(t, HTTPTarget{URL: url, Deps: outputs.Deps{Logger: log}})
	t.Cleanup(func() { _ = out.Close() })
	return out, buf
}

func (s HTTPSuite) testGolden(t *testing.T) {
	if s.Golden == "" {
		t.Skip("no golden file configured")
	}
	n := s.GoldenAlerts
	if n == 0 {
		n = 2
	}
	rec := NewRecorder(t)
	rec.Respond(200, nil, s.OK)
	out, _ := s.build(t, rec.URL)
	if err := out.Send(context.Background(), Alerts(0, n)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	Golden(t, s.Golden, CanonicalRequests(s.decoded(rec.Requests())))
}

// CanonicalRequests renders requests deterministically for a golden file:
// method, URI, the Content-Type/Content-Encoding and X-/Authorization
// headers, and the body (JSON indented), sorted so concurrency does not matter.
func CanonicalRequests(reqs []Request) []byte {
	var parts []string
	for _, q := range reqs {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s\n", q.Method, q.URI)
		var keys []string
		for k := range q.Header {
			lk := strings.ToLower(k)
			if lk == "content-type" || lk == "content-encoding" || lk == "authorization" || strings.HasPrefix(lk, "x-") {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(q.Header[k], ", "))
		}
		b.WriteString("\n")
		if strings.HasPrefix(q.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			if form, err := url.ParseQuery(string(q.Body)); err == nil {
				keys := make([]string, 0, len(form))
				for k := range form {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					for _, v := range form[k] {
						fmt.Fprintf(&b, "%s = %s\n", k, indentJSON([]byte(v)))
					}
				}
				parts = append(parts, b.String())
				continue
			}
		}
		b.Write(indentJSON(q.Body))
		b.WriteString("\n")
		parts = append(parts, b.String())
	}
	sort.Strings(parts)
	return []byte(strings.Join(parts, "\n"))
}

// indentJSON indents valid JSON, and quotes anything else (binary bodies).
func indentJSON(body []byte) []byte {
	var ind bytes.Buffer
	if json.Valid(body) && json.Indent(&ind, body, "", "  ") == nil {
		return ind.Bytes()
	}
	if utf8.Valid(body) && !bytes.ContainsAny(body, "\x00") {
		return body
	}
	return fmt.Appendf(nil, "%q", body)
}

func (s HTTPSuite) testStatus(t *testing.T) {
	table := s.Statuses
	if table == nil {
		table = DefaultStatusTable()
	}
	rec := NewRecorder(t)
	out, logs := s.build(t, rec.URL)
	for _, c := range table {
		t.Run(fmt.Sprintf("%d%s", c.Status, map[bool]string{true: "-retry-after", false: ""}[c.RetryAfter != ""]), func(t *testing.T) {
			h := http.Header{}
			if c.RetryAfter != "" {
				h.Set("Retry-After", c.RetryAfter)
			}
			body := ""
			if c.Status < 300 {
				body = s.OK
			}
			rec.Respond(c.Status, h, body)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := out.Send(ctx, Alerts(0, 1))
			switch c.Want {
			case "ok":
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				return
			case "retry":
				RequireRetryable(t, err)
			case "permanent":
				RequirePermanent(t, err)
			}
			if got := outputs.RetryAfterOf(err); got != c.WantAfter {
				t.Errorf("RetryAfterOf = %s, want %s (err: %v)", got, c.WantAfter, err)
			}
			AssertNoSecrets(t, s.Secrets, err.Error())
		})
	}
	AssertNoSecrets(t, s.Secrets, logs.String())
	// The Retry-After HTTP-date form.
	t.Run("503-retry-after-date", func(t *testing.T) {
		h := http.Header{}
		h.Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
		rec.Respond(503, h, "")
		err := out.Send(context.Background(), Alerts(0, 1))
		RequireRetryable(t, err)
		if got := outputs.RetryAfterOf(err); got < 60*time.Second || got > 91*time.Second {
			t.Errorf("RetryAfterOf = %s, want about 90s", got)
		}
	})
}

func (s HTTPSuite) testCancel(t *testing.T) {
	rec := NewRecorder(t)
	rec.Hang()
	out, logs := s.build(t, rec.URL)
	CheckContextCancel(t, out, Alerts(0, 3))
	AssertNoSecrets(t, s.Secrets, logs.String())
}

// testNetworkSecrets checks the errors of a refused connection.
func (s HTTPSuite) testNetworkSecrets(t *testing.T) {
	addr := freeAddr(t)
	out, logs := s.build(t, "http://"+addr)
	err := out.Send(context.Background(), Alerts(0, 2))
	RequireRetryable(t, err)
	AssertNoSecrets(t, s.Secrets, err.Error(), logs.String())
}

func (s HTTPSuite) testDownThenBack(t *testing.T, check func(testing.TB, DownThenBack)) {
	addr, listen := downAddr(t)
	out, logs := s.build(t, "http://"+addr)
	rec := newRecorder()
	rec.Respond(200, nil, s.OK)
	rec.Server = httptest.NewUnstartedServer(rec)
	t.Cleanup(func() {
		if rec.URL != "" {
			rec.Close()
		}
	})
	check(t, DownThenBack{
		Out: out,
		Up: func() {
			ln, err := listen()
			if err != nil {
				t.Errorf("listen on %s: %v", addr, err)
				return
			}
			rec.Listener = ln
			rec.Start()
		},
		Received: s.bodies(rec),
		Secrets:  s.Secrets,
	})
	AssertNoSecrets(t, s.Secrets, logs.String())
}

// freeAddr returns a 127.0.0.1 address nobody listens on (for now).
func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}
