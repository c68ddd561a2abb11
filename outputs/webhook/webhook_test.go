package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/httpout"
	"github.com/lannerhq/lanner/outputs/outputtest"
	"github.com/lannerhq/lanner/router/queue"
)

const (
	testToken = "s3cr3t-webhook-token"
	testPass  = "hunter2-password"
)

func newOutput(t testing.TB, c Config, d outputs.Deps) *Output {
	t.Helper()
	o, err := New(c, d)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = o.Close() })
	return o
}

func TestConformance(t *testing.T) {
	outputtest.HTTPSuite{
		New: func(t testing.TB, tg outputtest.HTTPTarget) outputs.Output {
			addr := strings.Replace(tg.URL, "://", "://lanner:"+testPass+"@", 1) + "/hook?token=" + testToken
			return newOutput(t, Config{
				Address:       addr,
				CustomHeaders: map[string]string{"Authorization": "Bearer " + testToken, "X-Team": "secops"},
			}, tg.Deps)
		},
		Secrets: []string{testToken, testPass},
		Golden:  "webhook",
	}.Run(t)
}

func TestConformanceBatch(t *testing.T) {
	outputtest.HTTPSuite{
		New: func(t testing.TB, tg outputtest.HTTPTarget) outputs.Output {
			return newOutput(t, Config{Address: tg.URL + "/hook", Method: "PUT", Batch: true,
				CustomHeaders: map[string]string{"X-Api-Key": testToken}}, tg.Deps)
		},
		Secrets: []string{testToken},
		Golden:  "webhook-batch",
	}.Run(t)
}

// The default body is the alert in falcosidekick's shape, decodable by alert.Decode.
func TestBodyIsFalcoJSON(t *testing.T) {
	rec := outputtest.NewRecorder(t)
	o := newOutput(t, Config{Address: rec.URL}, outputs.Deps{})
	in := outputtest.Alert(3)
	if err := o.Send(context.Background(), []outputs.Message{{Alert: in}}); err != nil {
		t.Fatal(err)
	}
	reqs := rec.Requests()
	if len(reqs) != 1 || reqs[0].Method != "POST" || reqs[0].Header.Get("Content-Type") != "application/json" {
		t.Fatalf("requests: %+v", reqs)
	}
	got, err := alert.Decode(reqs[0].Body)
	if err != nil {
		t.Fatal(err)
	}
	gotPID, _ := got.OutputFields.Get("proc.pid")
	inPID, _ := in.OutputFields.Get("proc.pid")
	if got.UUID != in.UUID || got.Rule != in.Rule || got.Priority != in.Priority || !got.Time.Equal(in.Time) || gotPID != inPID {
		t.Errorf("round trip: got %+v", got)
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(reqs[0].Body, &keys)
	for _, k := range []string{"uuid", "output", "priority", "rule", "time", "output_fields", "source", "tags", "hostname"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("missing key %q", k)
		}
	}
}

func TestTemplateBody(t *testing.T) {
	rec := outputtest.NewRecorder(t)
	f := filepath.Join(t.TempDir(), "body.tmpl")
	if err := os.WriteFile(f, []byte(`{"text": {{ json (printf "%s on %s" .Rule .Hostname) }}, "pod": {{ json (field "k8s.pod.name" .) }}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	o := newOutput(t, Config{Address: rec.URL, TemplateFile: f}, outputs.Deps{})
	if err := o.Send(context.Background(), outputtest.Alerts(0, 1)); err != nil {
		t.Fatal(err)
	}
	want := `{"text": "Read sensitive file untrusted on node-0", "pod": "web-0"}`
	if got := string(rec.Requests()[0].Body); got != want {
		t.Errorf("body %s, want %s", got, want)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.tmpl")
	_ = os.WriteFile(bad, []byte("{{ .Nope }}"), 0o644)
	f := false
	cases := []struct {
		name string
		c    Config
		want string
	}{
		{"no address", Config{}, "address is required"},
		{"not http", Config{Address: "ftp://x"}, "not an http(s) URL"},
		{"method", Config{Address: "http://x", Method: "DELETE"}, "want POST or PUT"},
		{"template", Config{Address: "http://x", TemplateFile: bad}, "bad.tmpl"},
		{"missing template", Config{Address: "http://x", TemplateFile: filepath.Join(dir, "none")}, "no such file"},
		{"mtls without cert", Config{Address: "https://x", MutualTLS: true}, "mutualtls"},
		{"cert without key", Config{Address: "https://x", TLS: httpoutTLS("c", "")}, "together"},
		{"missing ca", Config{Address: "https://x", CheckCert: &f, TLS: httpoutCA(filepath.Join(dir, "none.pem"))}, "ca_file"},
		{"pipeline", Config{Address: "http://x", Pipeline: 65}, "pipeline must be between 1 and 64"},
		{"header file", Config{Address: "http://x", CustomHeadersFile: map[string]string{"Authorization": filepath.Join(dir, "none")}}, "customheaders_file"},
	}
	for _, c := range cases {
		_, err := New(c.c, outputs.Deps{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
	c := Config{Address: "http://x"}
	if err := c.Validate(); err != nil || c.Method != "POST" || c.Timeout.String() != "10s" || c.Concurrency != 8 || c.Pipeline != 8 {
		t.Errorf("defaults: %+v %v", c, err)
	}
}

func TestSecretsFromFiles(t *testing.T) {
	rec := outputtest.NewRecorder(t)
	dir := t.TempDir()
	af, hf := filepath.Join(dir, "addr"), filepath.Join(dir, "auth")
	_ = os.WriteFile(af, []byte(rec.URL+"/x?k="+testToken+"\n"), 0o600)
	_ = os.WriteFile(hf, []byte("Bearer "+testToken+"\n"), 0o600)
	o := newOutput(t, Config{AddressFile: af, CustomHeadersFile: map[string]string{"Authorization": hf}}, outputs.Deps{})
	if err := o.Send(context.Background(), outputtest.Alerts(0, 1)); err != nil {
		t.Fatal(err)
	}
	q := rec.Requests()[0]
	if q.Header.Get("Authorization") != "Bearer "+testToken || !strings.Contains(q.URI, testToken) {
		t.Errorf("got %s %v", q.URI, q.Header)
	}
	rec.Respond(401, nil, "")
	err := o.Send(context.Background(), outputtest.Alerts(0, 1))
	outputtest.RequirePermanent(t, err)
	outputtest.AssertNoSecrets(t, []string{testToken}, err.Error())
}

// Partial failure: one alert of three rejected, the rest delivered.
func TestPartial(t *testing.T) {
	rec := outputtest.NewRecorder(t)
	o := newOutput(t, Config{Address: rec.URL}, outputs.Deps{})
	msgs := outputtest.Alerts(0, 3)
	rec.Handle(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 1<<16)
		k, _ := r.Body.Read(b)
		if strings.Contains(string(b[:k]), outputtest.Marker(1)) {
			w.WriteHeader(422)
			return
		}
		w.WriteHeader(200)
	})
	err := o.Send(context.Background(), msgs)
	pe, ok := err.(*outputs.PartialError)
	if !ok || len(pe.Failed) != 1 || pe.Failed[1] == nil || outputs.IsRetryable(pe.Failed[1]) {
		t.Fatalf("want a partial error failing alert 1 permanently, got %v", err)
	}
}

// A stalled endpoint (503 to every request) gets about one window of
// requests per batch, not one per alert; the alerts not tried are marked so
// the queue does not count an attempt for them.
func TestStalledEndpointStopsBatch(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	const conc, n = 4, 200
	o := newOutput(t, Config{Address: srv.URL, Concurrency: conc}, outputs.Deps{})
	err := o.Send(context.Background(), outputtest.Alerts(0, n))
	pe, ok := err.(*outputs.PartialError)
	if !ok || len(pe.Failed) != n {
		t.Fatalf("want a partial error covering all %d alerts, got %v", n, err)
	}
	tried := int(requests.Load())
	if tried < conc || tried > 2*conc {
		t.Errorf("%d requests for a batch of %d against a stalled endpoint, want %d..%d", tried, n, conc, 2*conc)
	}
	var notTried int
	for i, e := range pe.Failed {
		switch {
		case errors.Is(e, outputs.ErrNotAttempted):
			notTried++
		case !outputs.IsRetryable(e) || !strings.Contains(e.Error(), "503"):
			t.Errorf("alert %d: %v, want a retryable 503", i, e)
		}
	}
	if notTried != n-tried {
		t.Errorf("%d alerts marked not attempted, want %d", notTried, n-tried)
	}

	// After a healthy run the output pipelines: the first failing batch
	// gets at most one pipelined run per connection, the next one request
	// per connection at a time again.
	requests.Store(0)
	o.depth.Store(int64(o.cfg.Pipeline))
	_ = o.Send(context.Background(), outputtest.Alerts(0, n))
	if tried, most := int(requests.Load()), 2*conc*o.cfg.Pipeline; tried > most {
		t.Errorf("%d requests for a failing batch after pipelining, want at most %d", tried, most)
	}
	requests.Store(0)
	_ = o.Send(context.Background(), outputtest.Alerts(0, n))
	if tried := int(requests.Load()); tried < conc || tried > 2*conc {
		t.Errorf("%d requests for the next batch, want %d..%d", tried, conc, 2*conc)
	}
}

// One alert failing retryably among healthy ones does not stop the batch.
func TestOneFailingAlertDoesNotStopBatch(t *testing.T) {
	rec := outputtest.NewRecorder(t)
	// One request at a time, the failing alert first: it alone must not
	// look like a failing endpoint.
	o := newOutput(t, Config{Address: rec.URL, Concurrency: 1}, outputs.Deps{})
	rec.Handle(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), outputtest.Marker(0)) {
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(200)
	})
	err := o.Send(context.Background(), outputtest.Alerts(0, 50))
	pe, ok := err.(*outputs.PartialError)
	if !ok || len(pe.Failed) != 1 || pe.Failed[0] == nil || !outputs.IsRetryable(pe.Failed[0]) {
		t.Fatalf("want a partial error failing alert 0 retryably, got %v", err)
	}
}

func httpoutTLS(cert, key string) tlsConfig { return tlsConfig{CertFile: cert, KeyFile: key} }
func httpoutCA(ca string) tlsConfig         { return tlsConfig{CAFile: ca} }

type tlsConfig = httpout.TLSConfig

// TLS: trusted through ca_file, refused without it, accepted with checkcert:
// false; mTLS: the server requires a client certificate signed by its CA.
func TestTLSAndMutualTLS(t *testing.T) {
	pki := outputtest.NewCerts(t)
	for _, mtls := range []bool{false, true} {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
		srv.TLS = pki.ServerTLS(mtls)
		srv.StartTLS()
		t.Cleanup(srv.Close)
		send := func(c Config) error {
			c.Address = srv.URL
			o := newOutput(t, c, outputs.Deps{})
			return o.Send(context.Background(), outputtest.Alerts(0, 1))
		}
		client := tlsConfig{CAFile: pki.CAFile, CertFile: pki.ClientCertFile, KeyFile: pki.ClientKeyFile}
		if err := send(Config{MutualTLS: true, TLS: client}); err != nil {
			t.Fatalf("mtls=%v, CA and client cert: %v", mtls, err)
		}
		if err := send(Config{}); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("mtls=%v, no CA: want a certificate error, got %v", mtls, err)
		}
		err := send(Config{TLS: tlsConfig{CAFile: pki.CAFile}})
		if mtls {
			outputtest.RequireRetryable(t, err) // handshake refused: a network error
		} else if err != nil {
			t.Fatalf("CA only: %v", err)
		}
		f := false
		if err := send(Config{CheckCert: &f, TLS: tlsConfig{CertFile: pki.ClientCertFile, KeyFile: pki.ClientKeyFile}}); err != nil {
			t.Fatalf("mtls=%v, checkcert false: %v", mtls, err)
		}
	}
}

// BenchmarkDeliverThroughQueue: a fixed backlog of 50,000 alerts in the real
// durable queue, delivered to a real HTTP sink (one request per alert, as
// falcosidekick sends them). Meaningful at -benchtime 1x.
func BenchmarkDeliverThroughQueue(b *testing.B) {
	const n = 50_000
	for _, batch := range []bool{false, true} {
		b.Run(map[bool]string{false: "per-alert", true: "batch"}[batch], func(b *testing.B) {
			var got atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				got.Add(1)
				w.WriteHeader(200)
			}))
			defer srv.Close()
			msgs := outputtest.Alerts(0, n)
			opts := queue.DefaultOutputOptions()
			opts.Concurrency, opts.BatchSize = 4, 200
			for b.Loop() {
				o := newOutput(b, Config{Address: srv.URL, Batch: batch, Concurrency: 16}, outputs.Deps{})
				res := outputtest.RunThroughQueue(b, outputtest.QueueRun{Out: o, Msgs: msgs, Options: &opts})
				outputtest.ReportQueueBench(b, res)
			}
		})
	}
}

// BenchmarkSendOnly: the output alone (no queue), 50,000 alerts in batches of
// 200, one request per alert: what the output costs without the queue.
func BenchmarkSendOnly(b *testing.B) {
	const n = 50_000
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(200)
	}))
	defer srv.Close()
	msgs := outputtest.Alerts(0, n)
	for b.Loop() {
		o := newOutput(b, Config{Address: srv.URL, Concurrency: 16}, outputs.Deps{})
		start := time.Now()
		if _, err := outputtest.DeliverAll(context.Background(), o, msgs, 200); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(n/time.Since(start).Seconds(), "alerts/s")
		b.ReportMetric(0, "ns/op")
	}
}
