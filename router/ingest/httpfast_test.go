//go:build linux

package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/lannerhq/lanner/alert"
)

// fixedPipeline answers every alert the same way.
type fixedPipeline struct {
	res Result
	err error
}

func (p *fixedPipeline) Submit(_ context.Context, alerts []*alert.Alert) ([]Result, error) {
	if p.err != nil {
		return nil, p.err
	}
	out := make([]Result, len(alerts))
	for i := range out {
		out[i] = p.res
	}
	return out, nil
}

// testServer runs the ingest handlers on a real http.Server, behind the
// fast listener or not.
func testServer(t testing.TB, cfg HTTPConfig, fast bool) (addr string, fl *fastListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return testServerOn(t, ln, cfg, fast)
}

func testServerOn(t testing.TB, ln net.Listener, cfg HTTPConfig, fast bool) (addr string, fl *fastListener) {
	t.Helper()
	mux := http.NewServeMux()
	NewHTTP(cfg).Register(mux)
	addr = ln.Addr().String()
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 10 * time.Second}
	if fast {
		ln = NewHTTP(cfg).FastListener(ln, FastConfig{ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 10 * time.Second, IdleTimeout: 10 * time.Second})
		fl = ln.(*fastListener)
	}
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(done) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return addr, fl
}

// exchange writes raw to a new connection and reads one answer per
// request; the body is returned with the response.
func exchange(t *testing.T, addr, raw string, answers int) []*http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var out []*http.Response
	for range answers {
		resp, err := http.ReadResponse(br, nil)
		for err == nil && resp.StatusCode == http.StatusContinue {
			resp, err = http.ReadResponse(br, nil)
		}
		if err != nil {
			t.Fatalf("reading answer %d: %v", len(out)+1, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		out = append(out, resp)
	}
	return out
}

const fastAlert = `{"uuid":"0d8e3a4c-5f1e-4b2a-9c3d-000000000001","rule":"r","priority":"Warning","time":"2026-11-22T10:00:00Z","output":"x","output_fields":{"a":1}}`

func post(path, body string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: lanner\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", path, len(body))
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

func gzipped(s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte(s))
	_ = zw.Close()
	return b.String()
}

// Every request gets the same answer (status, headers that matter, body)
// from the fast listener as from net/http alone, and the fast path takes
// exactly the requests it should.
func TestFastListenerMatchesNetHTTP(t *testing.T) {
	ok := &fixedPipeline{res: Result{Status: StatusQueued, Outputs: []string{"sink"}}}
	full := &fixedPipeline{res: Result{Status: StatusFull, Full: []string{"sink"}}}
	broken := &fixedPipeline{err: errors.New("store closed")}
	big := `{"uuid":"u","rule":"` + strings.Repeat("x", 300) + `","priority":"Warning","time":"2026-11-22T10:00:00Z"}`
	tests := []struct {
		name string
		pipe Pipeline
		tok  string
		raw  string
		fast bool // answered by the fast path
		code int
	}{
		{"alert", ok, "", post("/", fastAlert), true, 200},
		{"alert, keep-alive", ok, "", post("/", fastAlert, "Connection: keep-alive"), true, 200},
		{"alert, identity encoding", ok, "", post("/", fastAlert, "Content-Encoding: identity"), true, 200},
		{"alert, right token", ok, "tok", post("/", fastAlert, "Authorization: Bearer tok"), true, 200},
		{"queue full", full, "", post("/", fastAlert), true, 503},
		{"store error", broken, "", post("/", fastAlert), true, 503},
		{"missing rule", ok, "", post("/", `{"priority":"Warning","time":"2026-11-22T10:00:00Z"}`), true, 400},
		{"malformed json", ok, "", post("/", `{"rule":`), true, 400},
		{"empty body", ok, "", post("/", ``), true, 400},
		{"invalid utf-8", ok, "", post("/", "{\"rule\":\"\xff\",\"priority\":\"Warning\",\"time\":\"2026-11-22T10:00:00Z\"}"), true, 400},
		{"over the body limit", ok, "", post("/", big), false, 413},
		{"wrong token", ok, "tok", post("/", fastAlert, "Authorization: Bearer nope"), false, 401},
		{"no token", ok, "tok", post("/", fastAlert), false, 401},
		{"gzip", ok, "", post("/", gzipped(fastAlert), "Content-Encoding: gzip"), false, 200},
		{"chunked", ok, "", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
			strconv.FormatInt(int64(len(fastAlert)), 16) + "\r\n" + fastAlert + "\r\n0\r\n\r\n", false, 200},
		{"expect 100-continue", ok, "", post("/", fastAlert, "Expect: 100-continue"), true, 200},
		{"expect 100-continue, bad alert", ok, "", post("/", `{}`, "Expect: 100-continue"), true, 400},
		{"other expectation", ok, "", post("/", fastAlert, "Expect: something"), false, 417},
		{"no host", ok, "", "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", false, 400},
		{"two hosts", ok, "", post("/", fastAlert, "Host: other"), false, 400},
		{"two lengths", ok, "", post("/", fastAlert, "Content-Length: 3"), false, 400},
		{"http/1.0", ok, "", strings.Replace(post("/", fastAlert), "HTTP/1.1", "HTTP/1.0", 1), false, 200},
		{"test endpoint", ok, "", post("/test", ""), false, 200},
		{"batch endpoint", ok, "", post("/api/v1/alerts", "["+fastAlert+"]"), false, 200},
		{"ping", ok, "", "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n", false, 200},
		{"unknown path", ok, "", post("/nope", fastAlert), false, 404},
		{"bad header name", ok, "", post("/", fastAlert, "Bad Name: x"), false, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := HTTPConfig{Pipeline: tt.pipe, Token: NewToken(tt.tok), MaxBodyBytes: 256}
			plainAddr, _ := testServer(t, cfg, false)
			fastAddr, fl := testServer(t, cfg, true)
			want := exchange(t, plainAddr, tt.raw, 1)[0]
			got := exchange(t, fastAddr, tt.raw, 1)[0]
			if got.StatusCode != tt.code || want.StatusCode != tt.code {
				t.Fatalf("status: fast listener %d, net/http %d, want %d", got.StatusCode, want.StatusCode, tt.code)
			}
			gb, _ := io.ReadAll(got.Body)
			wb, _ := io.ReadAll(want.Body)
			if tt.name == "test endpoint" { // a fresh uuid each time
				gb, wb = gb[:9], wb[:9]
			}
			if !bytes.Equal(gb, wb) {
				t.Errorf("body:\n fast    %q\n net/http %q", gb, wb)
			}
			for _, h := range []string{"Content-Type", "Content-Length", "Retry-After", "WWW-Authenticate"} {
				if got.Header.Get(h) != want.Header.Get(h) {
					t.Errorf("%s: fast %q, net/http %q", h, got.Header.Get(h), want.Header.Get(h))
				}
			}
			if (got.Header.Get("Date") == "") != (want.Header.Get("Date") == "") {
				t.Errorf("Date: fast %q, net/http %q", got.Header.Get("Date"), want.Header.Get("Date"))
			}
			if served := fl.served.Load() == 1; served != tt.fast {
				t.Errorf("served by the fast path: %v, want %v (handed over: %d)", served, tt.fast, fl.handed.Load())
			}
		})
	}
}

// The fast path's answers are net/http's bytes, the Date's value aside.
func TestFastListenerSameBytes(t *testing.T) {
	for name, pipe := range map[string]Pipeline{
		"200": &fixedPipeline{res: Result{Status: StatusDuplicate, Outputs: []string{"a", "b"}}},
		"503": &fixedPipeline{res: Result{Status: StatusFull, Full: []string{"a"}}},
	} {
		t.Run(name, func(t *testing.T) {
			var answers [2]string
			for i, fast := range []bool{true, false} {
				addr, _ := testServer(t, HTTPConfig{Pipeline: pipe}, fast)
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.WriteString(c, post("/", fastAlert, "Connection: keep-alive")); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 4096)
				n, err := c.Read(buf)
				c.Close()
				if err != nil {
					t.Fatal(err)
				}
				lines := strings.Split(string(buf[:n]), "\r\n")
				for j, l := range lines {
					if strings.HasPrefix(l, "Date: ") {
						lines[j] = "Date: X"
					}
				}
				answers[i] = strings.Join(lines, "\r\n")
			}
			if answers[0] != answers[1] {
				t.Fatalf("fast path:\n%s\nnet/http:\n%s", answers[0], answers[1])
			}
		})
	}
}

// On one connection: fast answers (a bad alert too), a request handed to
// net/http mid-stream (which keeps the connection from then on), pipelined
// requests in one write, answered in order.
func TestFastListenerKeepAlive(t *testing.T) {
	addr, fl := testServer(t, HTTPConfig{Pipeline: &fixedPipeline{res: Result{Outputs: []string{"sink"}}}}, true)
	bad := post("/", `{"rule":"r"}`)
	ping := "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"
	raw := post("/", fastAlert) + bad + post("/", fastAlert) + ping + post("/", fastAlert)
	resps := exchange(t, addr, raw, 5)
	for i, want := range []int{200, 400, 200, 200, 200} {
		if resps[i].StatusCode != want {
			t.Errorf("answer %d: %d, want %d", i, resps[i].StatusCode, want)
		}
	}
	if fl.served.Load() != 3 || fl.handed.Load() != 1 {
		t.Errorf("served %d, handed %d; want 3 and 1", fl.served.Load(), fl.handed.Load())
	}
	m := fl.h.cfg.Metrics
	if got := metricValue(t, m.FastHandoffs); got != 1 {
		t.Errorf("handoffs metric %v, want 1", got)
	}
	// The connection is net/http's now: the fast path no longer counts it.
	waitMetric(t, m.FastConnections, 0)
}

// metricValue reads a gauge or counter.
func metricValue(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Gauge != nil {
		return d.Gauge.GetValue()
	}
	return d.Counter.GetValue()
}

// waitMetric waits for the reactor goroutine to bring g to want.
func waitMetric(t *testing.T, g prometheus.Gauge, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for metricValue(t, g) != want {
		if time.Now().After(deadline) {
			t.Fatalf("gauge %v, want %v", metricValue(t, g), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A request arriving in small pieces is still served by the fast path.
func TestFastListenerSlowClient(t *testing.T) {
	addr, fl := testServer(t, HTTPConfig{Pipeline: &fixedPipeline{}}, true)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	raw := post("/", fastAlert)
	for i := 0; i < len(raw); i += 40 {
		if _, err := io.WriteString(c, raw[i:min(i+40, len(raw))]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || fl.served.Load() != 1 {
		t.Fatalf("status %d, served by the fast path: %d", resp.StatusCode, fl.served.Load())
	}
}

// Shutdown closes idle fast-path connections and waits for a request in
// progress, which still gets its answer.
func TestFastListenerShutdown(t *testing.T) {
	g := &gatedPipeline{entered: make(chan struct{}, 1), release: make(chan struct{})}
	mux := http.NewServeMux()
	h := NewHTTP(HTTPConfig{Pipeline: g})
	h.Register(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := h.FastListener(ln, FastConfig{})
	srv := &http.Server{Handler: mux}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(fl) }()
	// Shutdown closes only the listeners Serve has registered: wait until
	// Serve is accepting (it answers a request the fast path hands over),
	// or a Shutdown racing ahead of it returns at once.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	busy, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_ = busy.SetDeadline(time.Now().Add(10 * time.Second))
	_ = idle.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(busy, post("/", fastAlert)); err != nil {
		t.Fatal(err)
	}
	<-g.entered
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	// The idle connection is closed.
	if _, err := idle.Read(make([]byte, 1)); err == nil {
		t.Fatal("idle connection still open during shutdown")
	}
	select {
	case <-shut:
		t.Fatal("Shutdown returned with a request in progress")
	case <-time.After(100 * time.Millisecond):
	}
	close(g.release)
	resp, err = http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("request in progress: %v, %v", resp, err)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
}

// Many clients at once through the fast path: every answer arrives.
func TestFastListenerConcurrent(t *testing.T) {
	addr, fl := testServer(t, HTTPConfig{Pipeline: &fixedPipeline{}, MaxInFlight: 3}, true)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			for range 50 {
				if _, err := io.WriteString(c, post("/", fastAlert)); err != nil {
					errs <- err
					return
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if fl.served.Load() != 400 {
		t.Errorf("fast path served %d of 400", fl.served.Load())
	}
}

// FuzzParseFastHead: a head the fast path accepts must parse with
// net/http's own reader as the same request (POST /, the same length and
// token, no transfer coding).
func FuzzParseFastHead(f *testing.F) {
	for _, s := range []string{
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nAuthorization: Bearer t\r\nAuthorization: x\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 05\r\nConnection: Keep-Alive\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\n Content-Length: 5\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX: a\rb\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a b\r\nContent-Length: 1\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		i := bytes.Index(head, []byte("\r\n\r\n"))
		if i < 0 {
			return
		}
		head = head[:i+4]
		fh, ok := parseFastHead(head, 1<<20)
		if !ok {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err != nil {
			t.Fatalf("accepted a head net/http rejects: %v\n%q", err, head)
		}
		if req.Method != "POST" || req.RequestURI != "/" || req.ProtoMinor != 1 {
			t.Fatalf("request %s %s HTTP/1.%d", req.Method, req.RequestURI, req.ProtoMinor)
		}
		if req.ContentLength != fh.length || len(req.TransferEncoding) > 0 || fh.length > 1<<20 {
			t.Fatalf("length %d (fast %d), transfer encoding %v", req.ContentLength, fh.length, req.TransferEncoding)
		}
		if got := req.Header.Get("Authorization"); got != string(fh.auth) {
			t.Fatalf("authorization %q, fast %q", got, fh.auth)
		}
		if req.Close {
			t.Fatal("accepted a Connection: close request")
		}
		if e := req.Header.Get("Expect"); (e != "") != fh.expect || (fh.expect && !strings.EqualFold(e, "100-continue")) {
			t.Fatalf("Expect %q, fast %v", e, fh.expect)
		}
	})
}

// Requests larger than the fast path's buffer go to net/http whole: a big
// valid alert, and a head with a large header field.
func TestFastListenerLargeRequests(t *testing.T) {
	addr, fl := testServer(t, HTTPConfig{Pipeline: &fixedPipeline{}}, true)
	bigAlert := `{"uuid":"u1","rule":"r","priority":"Warning","time":"2026-11-22T10:00:00Z","output":"` +
		strings.Repeat("x", 40<<10) + `"}`
	bigHead := post("/", fastAlert, "X-Big: "+strings.Repeat("y", 20<<10))
	resps := exchange(t, addr, post("/", bigAlert)+bigHead, 2)
	for i, r := range resps {
		if r.StatusCode != 200 {
			b, _ := io.ReadAll(r.Body)
			t.Errorf("answer %d: %d %s", i, r.StatusCode, b)
		}
	}
	if fl.served.Load() != 0 || fl.handed.Load() != 1 {
		t.Errorf("served %d, handed %d; want 0 and 1", fl.served.Load(), fl.handed.Load())
	}
}

// BenchmarkIngestOne: one POST / per round trip on one keep-alive
// connection, through the fast listener or net/http alone (pipeline stub,
// so this is the HTTP work alone, client included).
func BenchmarkIngestOne(b *testing.B) {
	for _, fast := range []bool{true, false} {
		name := "nethttp"
		if fast {
			name = "fast"
		}
		b.Run(name, func(b *testing.B) {
			addr, _ := testServer(b, HTTPConfig{Pipeline: &fixedPipeline{res: Result{Outputs: []string{"sink"}}}}, fast)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := []byte(post("/", fastAlert))
			br := bufio.NewReader(c)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				if resp.StatusCode != 200 {
					b.Fatal(resp.Status)
				}
			}
		})
	}
}

// The idle and header timeouts close connections as net/http's do.
func TestFastListenerTimeouts(t *testing.T) {
	mux := http.NewServeMux()
	h := NewHTTP(HTTPConfig{Pipeline: &fixedPipeline{}})
	h.Register(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := h.FastListener(ln, FastConfig{ReadHeaderTimeout: 150 * time.Millisecond, IdleTimeout: 150 * time.Millisecond})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(fl) }()
	defer srv.Close()
	for name, send := range map[string]string{"idle": "", "head cut short": "POST / HTTP/1.1\r\nHost: x\r\n"} {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, send); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
				t.Fatalf("read: %v, want EOF (closed by the server)", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("closed after %s", d)
			}
		})
	}
}

// alertN is fastAlert with uuid n.
func alertN(n int) string {
	return strings.Replace(fastAlert, "000000000001", fmt.Sprintf("%012d", n), 1)
}

// readAnswers reads n answers and returns their status codes and bodies.
func readAnswers(t *testing.T, br *bufio.Reader, n int) (codes []int, bodies []string) {
	t.Helper()
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", len(codes)+1, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, resp.StatusCode)
		bodies = append(bodies, string(b))
	}
	return codes, bodies
}

// Requests sent back to back on one connection (pipelined) are answered in
// order; after the client shuts down its sending side, the last one is
// still answered and then the connection is closed.
func TestFastListenerPipelined(t *testing.T) {
	addr, fl := testServer(t, HTTPConfig{Pipeline: &fixedPipeline{res: Result{Status: StatusQueued, Outputs: []string{"sink"}}}}, true)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, post("/", alertN(1))+post("/", `{"rule":`)+post("/", alertN(3))); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	codes, bodies := readAnswers(t, br, 3)
	if codes[0] != 200 || codes[1] != 400 || codes[2] != 200 ||
		!strings.Contains(bodies[0], alertN(1)[9:45]) || !strings.Contains(bodies[2], alertN(3)[9:45]) {
		t.Fatalf("answers %v %q", codes, bodies)
	}
	if _, err := io.WriteString(c, post("/", alertN(4))); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if codes, _ := readAnswers(t, br, 1); codes[0] != 200 {
		t.Fatalf("after the half-close: %v", codes)
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("connection not closed after the half-close: %v", err)
	}
	if fl.served.Load() != 4 {
		t.Errorf("fast path served %d of 4", fl.served.Load())
	}
	m := fl.h.cfg.Metrics
	waitMetric(t, m.FastConnections, 0)
	var hist dto.Metric
	if err := m.FastGroup.Write(&hist); err != nil {
		t.Fatal(err)
	}
	// One request in progress per connection: each went alone.
	if h := hist.GetHistogram(); h.GetSampleCount() != 4 || h.GetSampleSum() != 4 {
		t.Errorf("groups: %d, requests %v; want 4 and 4", h.GetSampleCount(), h.GetSampleSum())
	}
	// Every answer's wait is timed, the 400's too.
	if err := m.FastLatency.Write(&hist); err != nil {
		t.Fatal(err)
	}
	if h := hist.GetHistogram(); h.GetSampleCount() != 4 || h.GetSampleSum() <= 0 {
		t.Errorf("request times: %d samples, sum %v; want 4, positive", h.GetSampleCount(), h.GetSampleSum())
	}
}

// A client that does not read its answers while it pipelines requests:
// answers the socket cannot take wait for it (EPOLLOUT), and every answer
// arrives, in order, once it reads.
func TestFastListenerSlowReader(t *testing.T) {
	ln, err := (&net.ListenConfig{Control: sockBuf(syscall.SO_SNDBUF)}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr, fl := testServerOn(t, ln, HTTPConfig{Pipeline: &fixedPipeline{res: Result{Status: StatusQueued, Outputs: []string{"sink"}}}}, true)
	const n = 400
	c, wrote := sendUnread(t, addr, n)
	// Let the answers back up.
	deadline := time.Now().Add(5 * time.Second)
	for fl.served.Load() < 40 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if s := fl.served.Load(); s >= n {
		t.Fatalf("all %d answered without the client reading: the socket buffers did not fill", s)
	}
	codes, bodies := readAnswers(t, bufio.NewReader(c), n)
	for i := range n {
		if codes[i] != 200 || !strings.Contains(bodies[i], alertN(i)[9:45]) {
			t.Fatalf("answer %d: %d %q", i, codes[i], bodies[i])
		}
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if fl.waited.Load() == 0 {
		t.Error("every answer fit the socket at once: the EPOLLOUT path was not exercised")
	}
}

// failGroupPipeline refuses any batch of more than one alert that holds
// rule "bad", and a lone "bad" alert too.
type failGroupPipeline struct {
	gate    chan struct{} // closed: Submit proceeds
	entered chan int      // the size of each Submit
}

func (p *failGroupPipeline) Submit(_ context.Context, alerts []*alert.Alert) ([]Result, error) {
	p.entered <- len(alerts)
	<-p.gate
	for _, a := range alerts {
		if a.Rule == "bad" {
			return nil, errors.New("store error")
		}
	}
	out := make([]Result, len(alerts))
	for i := range out {
		out[i] = Result{Status: StatusQueued, Outputs: []string{"sink"}}
	}
	return out, nil
}

// Requests that complete while fastMaxGroups groups are being queued wait
// and are queued together; when such a group's Submit fails, each alert is
// tried alone, so only the one that cannot be queued gets a 503.
func TestFastListenerGroupFailure(t *testing.T) {
	p := &failGroupPipeline{gate: make(chan struct{}), entered: make(chan int, 64)}
	addr, _ := testServer(t, HTTPConfig{Pipeline: p}, true)
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		return c, bufio.NewReader(c)
	}
	var readers []*bufio.Reader
	for i := range fastMaxGroups { // one group each, all held at the gate
		c, br := dial()
		if _, err := io.WriteString(c, post("/", alertN(i))); err != nil {
			t.Fatal(err)
		}
		if got := <-p.entered; got != 1 {
			t.Fatalf("group %d has %d alerts", i, got)
		}
		readers = append(readers, br)
	}
	bad := strings.Replace(alertN(99), `"rule":"r"`, `"rule":"bad"`, 1)
	for _, body := range []string{alertN(10), bad, alertN(11)} {
		c, br := dial()
		if _, err := io.WriteString(c, post("/", body)); err != nil {
			t.Fatal(err)
		}
		readers = append(readers, br)
	}
	time.Sleep(200 * time.Millisecond) // the three wait in one pending group
	close(p.gate)
	var codes []int
	for _, br := range readers {
		c, _ := readAnswers(t, br, 1)
		codes = append(codes, c[0])
	}
	want := []int{200, 200, 200, 200, 200, 503, 200}
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Fatalf("codes %v, want %v", codes, want)
	}
	sizes := []int{}
	for range 4 {
		sizes = append(sizes, <-p.entered)
	}
	if fmt.Sprint(sizes) != "[3 1 1 1]" {
		t.Errorf("Submit sizes after the first %d: %v, want the group of 3, then each alone", fastMaxGroups, sizes)
	}
}

func TestTickFor(t *testing.T) {
	for _, tt := range []struct {
		cfg  FastConfig
		want time.Duration
	}{
		{FastConfig{}, 0},
		{FastConfig{IdleTimeout: 2 * time.Minute, ReadHeaderTimeout: 10 * time.Second}, time.Second},
		{FastConfig{ReadHeaderTimeout: 150 * time.Millisecond}, 15 * time.Millisecond},
		{FastConfig{WriteTimeout: time.Millisecond}, 10 * time.Millisecond},
	} {
		if got := tickFor(tt.cfg); got != tt.want {
			t.Errorf("tickFor(%+v) = %s, want %s", tt.cfg, got, tt.want)
		}
	}
}

// sockBuf sets a socket buffer (SO_SNDBUF or SO_RCVBUF) to 4 KiB, so that a
// few answers fill it.
func sockBuf(opt int) func(_, _ string, rc syscall.RawConn) error {
	return func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt, 4096)
		}); err != nil {
			return err
		}
		return serr
	}
}

// sendUnread dials with a 4 KiB receive buffer and writes n requests back
// to back without reading; the write's result arrives on wrote.
func sendUnread(t *testing.T, addr string, n int) (c net.Conn, wrote <-chan error) {
	t.Helper()
	c, err := (&net.Dialer{Control: sockBuf(syscall.SO_RCVBUF)}).Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	var reqs strings.Builder
	for i := range n {
		reqs.WriteString(post("/", alertN(i)))
	}
	done := make(chan error, 1)
	go func() { _, err := io.WriteString(c, reqs.String()); done <- err }()
	return c, done
}

// An answer the client never reads: the write timeout closes the
// connection, as net/http's write deadline does.
func TestFastListenerWriteTimeout(t *testing.T) {
	ln, err := (&net.ListenConfig{Control: sockBuf(syscall.SO_SNDBUF)}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h := NewHTTP(HTTPConfig{Pipeline: &fixedPipeline{}})
	h.Register(mux)
	fl := h.FastListener(ln, FastConfig{WriteTimeout: 200 * time.Millisecond}).(*fastListener)
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(fl) }()
	defer srv.Close()
	const n = 400
	c, _ := sendUnread(t, ln.Addr().String(), n) // the write fails once the server closes
	deadline := time.Now().Add(5 * time.Second)
	for fl.waited.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Second) // several ticks past the write timeout
	br := bufio.NewReader(c)
	for i := range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			if i == 0 {
				t.Logf("closed before any answer was read: %v", err)
			}
			return // closed, as it should be
		}
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	t.Fatalf("all %d answers arrived: the write timeout did not close the connection", n)
}

// FuzzFastListenerStream: any bytes, arriving in any pieces, then the
// client's half-close: the server keeps serving, every answer it writes is
// a well-formed HTTP response, and it closes the connection once the
// client is done.
func FuzzFastListenerStream(f *testing.F) {
	f.Add([]byte(post("/", fastAlert)+post("/", `{"rule":`)), []byte{3, 40, 200})
	f.Add([]byte(post("/", fastAlert, "Expect: 100-continue")), []byte{60})
	f.Add([]byte(post("/api/v1/alerts", "["+fastAlert+"]")+post("/", fastAlert)), []byte{1, 1, 1})
	f.Add([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999\r\n\r\n{"), []byte{})
	f.Add([]byte("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"+post("/", fastAlert)), []byte{10})
	addr, _ := testServer(f, HTTPConfig{Pipeline: &fixedPipeline{res: Result{Status: StatusQueued, Outputs: []string{"sink"}}}}, true)
	f.Fuzz(func(t *testing.T, data, splits []byte) {
		if len(data) > 32<<10 {
			return
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(15 * time.Second))
		go func() {
			rest := data
			for _, s := range splits {
				n := min(int(s), len(rest))
				if _, err := c.Write(rest[:n]); err != nil {
					return
				}
				rest = rest[n:]
			}
			if _, err := c.Write(rest); err == nil {
				_ = c.(*net.TCPConn).CloseWrite()
			}
		}()
		br := bufio.NewReader(c)
		for {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
					return // closed: done
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("connection still open 15s after the client finished: %q", data)
				}
				t.Fatalf("malformed answer: %v (input %q)", err, data)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				return // the server may close mid-body on a bad request
			}
		}
	})
}
