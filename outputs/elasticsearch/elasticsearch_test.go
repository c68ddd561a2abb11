package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/httpout"
	"github.com/lannerhq/lanner/outputs/outputtest"
	"github.com/lannerhq/lanner/router/config"
	"gopkg.in/yaml.v3"
)

const (
	testUser = "lanner"
	testPass = "es-pass-never-in-logs"
	testKey  = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
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

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte(testPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := false
	tests := []struct {
		name    string
		c       Config
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{name: "defaults", c: Config{HostPort: "http://es:9200"}, check: func(t *testing.T, c Config) {
			if c.Index != "falco" || c.Suffix != "daily" || c.NumberOfShards != 3 || c.NumberOfReplicas != 3 || c.Timeout != DefaultTimeout || c.FlattenFields {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "no hostport", c: Config{}, wantErr: "hostport is required"},
		{name: "not a URL", c: Config{HostPort: "es:9200"}, wantErr: "want http(s)"},
		{name: "credentials in URL", c: Config{HostPort: "http://u:" + testPass + "@es:9200"}, wantErr: "not in the URL"},
		{name: "bad suffix", c: Config{HostPort: "http://es", Suffix: "hourly"}, wantErr: "suffix"},
		{name: "uppercase index", c: Config{HostPort: "http://es", Index: "Falco"}, wantErr: "lowercase"},
		{name: "index with star", c: Config{HostPort: "http://es", Index: "fal*co"}, wantErr: "must not contain"},
		{name: "template flattens", c: Config{HostPort: "http://es", CreateIndexTemplate: true}, check: func(t *testing.T, c Config) {
			if !c.FlattenFields {
				t.Error("createindextemplate did not turn flattenfields on")
			}
		}},
		{name: "password_file", c: Config{HostPort: "http://es", Username: "u", PasswordFile: pw}, check: func(t *testing.T, c Config) {
			if c.Password != testPass {
				t.Errorf("password = %q", c.Password)
			}
		}},
		{name: "apikey_file", c: Config{HostPort: "http://es", APIKeyFile: pw}, check: func(t *testing.T, c Config) {
			if c.APIKey != testPass {
				t.Errorf("apikey = %q", c.APIKey)
			}
		}},
		{name: "password and file", c: Config{HostPort: "http://es", Username: "u", Password: "x", PasswordFile: pw}, wantErr: "not both"},
		{name: "password without user", c: Config{HostPort: "http://es", Password: "x"}, wantErr: "without username"},
		{name: "checkcert false", c: Config{HostPort: "https://es", CheckCert: &f}, check: func(t *testing.T, c Config) {
			if !c.TLS.InsecureSkipVerify {
				t.Error("checkcert: false did not skip verification")
			}
		}},
		{name: "mutualtls default files", c: Config{HostPort: "https://es", MutualTLS: true}, wantErr: "/etc/certs/"},
		{name: "bad header", c: Config{HostPort: "http://es", CustomHeaders: map[string]string{"A B": "x"}}, wantErr: "header name"},
		{name: "falcosidekick extras accepted", c: Config{HostPort: "http://es", Type: "_doc", Batching: map[string]any{"enabled": true}, MaxConcurrentRequests: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			err := c.Validate()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), testPass) {
					t.Errorf("secret in %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestIndexNames(t *testing.T) {
	a := outputtest.Alert(0) // 2026-11-22
	tests := []struct {
		c    Config
		over string
		want string
	}{
		{Config{Suffix: "daily"}, "", "falco-2026.11.22"},
		{Config{Suffix: "monthly"}, "", "falco-2026.11"},
		{Config{Suffix: "annually"}, "", "falco-2026"},
		{Config{Suffix: "none"}, "", "falco"},
		{Config{Index: "sec", Suffix: "daily"}, "audit", "audit-2026.11.22"},
		{Config{Suffix: "daily"}, "Bad*Index", "falco-2026.11.22"},
		{Config{DataStream: true}, "", "falco"},
	}
	for _, tt := range tests {
		tt.c.HostPort = "http://127.0.0.1:1"
		o := newOutput(t, tt.c, outputs.Deps{})
		m := outputs.Message{Alert: a}
		if tt.over != "" {
			m.Overrides = map[string]string{OverrideIndex: tt.over}
		}
		if got := o.indexFor(m); got != tt.want {
			t.Errorf("%+v override %q: %s, want %s", tt.c.Suffix, tt.over, got, tt.want)
		}
	}
}

// TestConformance runs the shared kit: golden _bulk request, status table,
// cancellation, no secret in errors or logs, down then back.
func TestConformance(t *testing.T) {
	outputtest.HTTPSuite{
		New: func(t testing.TB, target outputtest.HTTPTarget) outputs.Output {
			// The kit's recorder is not Elasticsearch: it sends no product header.
			return newOutput(t, Config{HostPort: target.URL, Username: testUser, Password: testPass, SkipProductCheck: true,
				CustomHeaders: map[string]string{"X-Tenant": "blue-team"}, Pipeline: "falco-enrich"}, target.Deps)
		},
		Secrets:      []string{testPass},
		Golden:       "bulk",
		GoldenAlerts: 3,
		OK:           bulkOK(1000),
	}.Run(t)
	t.Run("apikey", func(t *testing.T) {
		outputtest.HTTPSuite{
			New: func(t testing.TB, target outputtest.HTTPTarget) outputs.Output {
				return newOutput(t, Config{HostPort: target.URL, APIKey: testKey, SkipProductCheck: true, Suffix: "none"}, target.Deps)
			},
			Secrets: []string{testKey},
			OK:      bulkOK(1000),
		}.Run(t)
	})
}

// esServer answers like Elasticsearch 8: the product header and the body.
func esServer(t *testing.T, status int, body []byte) (*httptest.Server, *[][]byte) {
	var mu sync.Mutex
	var got [][]byte
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, b)
		mu.Unlock()
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s, &got
}

// bulkOK is a successful _bulk answer with n items, for test servers
// answering batches of up to n documents (the output checks that every
// document it sent has a result).
func bulkOK(n int) string {
	item := `{"index":{"_index":"falco","_id":"x","status":201,"result":"created"}}`
	return `{"took":3,"errors":false,"acknowledged":true,"items":[` + strings.TrimSuffix(strings.Repeat(item+",", n), ",") + `]}`
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRecordedBulkResponses feeds recorded Elasticsearch 8 _bulk answers:
// 200 with per-item failures must become a PartialError with the right
// classification for each item.
func TestRecordedBulkResponses(t *testing.T) {
	tests := []struct {
		fixture    string
		datastream bool
		n          int
		want       map[int]string // index -> "retry" | "permanent:<text>"
	}{
		{"bulk_mixed.json", false, 6, map[int]string{
			1: "retry", 2: "permanent:mapper_parsing_exception", 4: "retry", 5: "permanent:document_parsing_exception",
		}},
		{"bulk_datastream.json", true, 3, map[int]string{2: "permanent:only write ops with an op_type of create"}},
		{"bulk_zinc_error.json", false, 2, map[int]string{0: "retry", 1: "retry"}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			s, _ := esServer(t, 200, fixture(t, tt.fixture))
			o := newOutput(t, Config{HostPort: s.URL, DataStream: tt.datastream}, outputs.Deps{})
			err := o.Send(context.Background(), outputtest.Alerts(0, tt.n))
			if tt.fixture == "bulk_zinc_error.json" {
				outputtest.RequireRetryable(t, err)
				if !strings.Contains(err.Error(), "disk quota") {
					t.Errorf("reason lost: %v", err)
				}
				return
			}
			var pe *outputs.PartialError
			if !errors.As(err, &pe) {
				t.Fatalf("want *outputs.PartialError, got %v", err)
			}
			if len(pe.Failed) != len(tt.want) {
				t.Errorf("failed = %v, want %d items", pe.Failed, len(tt.want))
			}
			for i, w := range tt.want {
				e := pe.Failed[i]
				if e == nil {
					t.Errorf("item %d: not failed", i)
					continue
				}
				kind, text, _ := strings.Cut(w, ":")
				if (kind == "retry") != outputs.IsRetryable(e) {
					t.Errorf("item %d: want %s, got %v", i, kind, e)
				}
				if !strings.Contains(e.Error(), text) {
					t.Errorf("item %d: %v does not say %q", i, e, text)
				}
			}
		})
	}
}

func TestWholeRequestAnswers(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   string
	}{
		{401, `{"error":{"type":"security_exception","reason":"missing authentication credentials"},"status":401}`, "permanent"},
		{403, `{"error":{"type":"security_exception","reason":"action [indices:data/write/bulk] is unauthorized"},"status":403}`, "permanent"},
		{429, `{"error":{"type":"es_rejected_execution_exception","reason":"rejected execution"},"status":429}`, "retry"},
		{503, `{"error":{"type":"cluster_block_exception","reason":"blocked by: [SERVICE_UNAVAILABLE/2/no master]"},"status":503}`, "retry"},
		{200, `not json`, "retry"},
		// ZincSearch's answer to a gzip body it cannot read: nothing stored.
		{200, `{"took":0,"errors":false,"items":[]}`, "permanent"},
	}
	for _, tt := range tests {
		s, _ := esServer(t, tt.status, []byte(tt.body))
		o := newOutput(t, Config{HostPort: s.URL, Username: testUser, Password: testPass}, outputs.Deps{})
		err := o.Send(context.Background(), outputtest.Alerts(0, 2))
		if tt.want == "retry" {
			outputtest.RequireRetryable(t, err)
		} else {
			outputtest.RequirePermanent(t, err)
		}
		var pe *outputs.PartialError
		if errors.As(err, &pe) {
			t.Errorf("%d: a whole-request failure came back as partial: %v", tt.status, err)
		}
		outputtest.AssertNoSecrets(t, []string{testPass}, err.Error())
	}
}

func TestProductCheck(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, bulkOK(100))
	}))
	defer s.Close()
	o := newOutput(t, Config{HostPort: s.URL}, outputs.Deps{})
	err := o.Send(context.Background(), outputtest.Alerts(0, 1))
	outputtest.RequirePermanent(t, err)
	if !strings.Contains(err.Error(), "skipproductcheck") {
		t.Errorf("error does not explain the fix: %v", err)
	}
	o2 := newOutput(t, Config{HostPort: s.URL, SkipProductCheck: true}, outputs.Deps{})
	if err := o2.Send(context.Background(), outputtest.Alerts(0, 1)); err != nil {
		t.Errorf("skipproductcheck: %v", err)
	}
}

func TestIndexTemplate(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	var tmpl []byte
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		if strings.HasPrefix(r.URL.Path, "/_index_template/") {
			tmpl = b
		}
		mu.Unlock()
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		_, _ = io.WriteString(w, bulkOK(100))
	}))
	defer s.Close()
	o := newOutput(t, Config{HostPort: s.URL, CreateIndexTemplate: true, NumberOfShards: 1, NumberOfReplicas: 1}, outputs.Deps{})
	for range 2 {
		if err := o.Send(context.Background(), outputtest.Alerts(0, 2)); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"PUT /_index_template/falco", "POST /_bulk", "POST /_bulk"}
	if strings.Join(paths, ",") != strings.Join(want, ",") {
		t.Errorf("requests %v, want %v", paths, want)
	}
	var ind bytes.Buffer
	if err := json.Indent(&ind, tmpl, "", "  "); err != nil {
		t.Fatal(err)
	}
	outputtest.Golden(t, "index_template", ind.Bytes())
}

func TestFlattenAndDataStreamBody(t *testing.T) {
	s, bodies := esServer(t, 200, []byte(bulkOK(100)))
	o := newOutput(t, Config{HostPort: s.URL, DataStream: true, FlattenFields: true, Index: "logs-falco-default"}, outputs.Deps{})
	if err := o.Send(context.Background(), outputtest.Alerts(0, 2)); err != nil {
		t.Fatal(err)
	}
	outputtest.Golden(t, "bulk_datastream_body", (*bodies)[0])
}

func TestAlertWithoutUUIDAndBadPriority(t *testing.T) {
	s, bodies := esServer(t, 200, []byte(bulkOK(100)))
	o := newOutput(t, Config{HostPort: s.URL}, outputs.Deps{})
	batch := outputtest.Alerts(0, 3)
	batch[0].Alert.UUID = ""
	batch[1].Alert.Priority = alert.PriorityUnset
	err := o.Send(context.Background(), batch)
	var pe *outputs.PartialError
	if !errors.As(err, &pe) || len(pe.Failed) != 1 || outputs.IsRetryable(pe.Failed[1]) {
		t.Fatalf("want item 1 permanent, got %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string((*bodies)[0])), "\n")
	if len(lines) != 4 || strings.Contains(lines[0], "_id") {
		t.Errorf("body:\n%s", (*bodies)[0])
	}
}

// FuzzResults: whatever a server answers with 200, reading it never panics
// and every item ends delivered or failed.
func FuzzResults(f *testing.F) {
	for _, n := range []string{"bulk_mixed.json", "bulk_datastream.json", "bulk_zinc_error.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"errors":true,"items":[{"index":{"status":"x"}}]}`))
	f.Add([]byte(`{"errors":true,"error":{"type":"x","reason":"y"},"items":null}`))
	o := &Output{redact: nil}
	f.Fuzz(func(t *testing.T, body []byte) {
		from := []int{0, 1, 2}
		var failed map[int]error
		err := o.results(bytes.NewReader(body), from, &failed)
		if err != nil && len(failed) != 0 {
			t.Errorf("both a whole error and item failures: %v %v", err, failed)
		}
		for i := range failed {
			if i < 0 || i > 2 {
				t.Errorf("failure for unknown item %d", i)
			}
		}
	})
}

// TestZincSearch indexes alerts into a real ES-compatible server and
// searches them back.
func TestZincSearch(t *testing.T) {
	z := startZinc(t)
	log, logs := outputtest.CaptureLogs()
	o := newOutput(t, Config{HostPort: z.URL, Username: z.User, Password: z.Pass, CreateIndexTemplate: true, NumberOfShards: 1, NumberOfReplicas: 1}, outputs.Deps{Logger: log})
	batch := outputtest.Alerts(0, 50)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := o.Send(ctx, batch); err != nil {
		t.Fatalf("Send: %v", err)
	}
	// A retry of the same batch must not duplicate: ids are the uuids.
	if err := o.Send(ctx, batch[:10]); err != nil {
		t.Fatalf("resend: %v", err)
	}
	z.waitDocs(t, "falco-2026.11.22", len(batch))
	time.Sleep(1500 * time.Millisecond) // let a duplicate, if any, become searchable too
	docs := z.search(t, "falco-2026.11.22", 200)
	if len(docs) != len(batch) {
		t.Errorf("%d documents, want %d (a retry duplicated?)", len(docs), len(batch))
	}
	byID := map[string]map[string]any{}
	for _, d := range docs {
		byID[d["_id"].(string)] = d
	}
	for _, m := range batch {
		d := byID[m.Alert.UUID]
		if d == nil {
			t.Errorf("alert %s not found", m.Alert.UUID)
			continue
		}
		if d["rule"] != m.Alert.Rule || d["priority"] != m.Alert.Priority.String() || d["hostname"] != m.Alert.Hostname || !strings.Contains(fmt.Sprint(d["output"]), outputtest.Marker(indexOf(batch, m.Alert.UUID))) {
			t.Errorf("document %s = %v", m.Alert.UUID, d)
		}
	}
	outputtest.AssertNoSecrets(t, []string{z.Pass}, logs.String())

	// Wrong password: a permanent error (401) without the password in it.
	bad := newOutput(t, Config{HostPort: z.URL, Username: z.User, Password: z.Pass + "-wrong"}, outputs.Deps{})
	err := bad.Send(ctx, outputtest.Alerts(100, 1))
	outputtest.RequirePermanent(t, err)
	outputtest.AssertNoSecrets(t, []string{z.Pass}, err.Error())

	// Zinc cannot read gzip bodies and answers 200 with no items, storing
	// nothing: that must fail (dead letters), never count as delivered.
	gz := newOutput(t, Config{HostPort: z.URL, Username: z.User, Password: z.Pass, EnableCompression: true, Index: "gz", Suffix: "none"}, outputs.Deps{})
	err = gz.Send(ctx, outputtest.Alerts(200, 3))
	outputtest.RequirePermanent(t, err)
	if !strings.Contains(err.Error(), "nothing was stored") {
		t.Errorf("gzip to Zinc: %v", err)
	}
}

func indexOf(b []outputs.Message, uuid string) int {
	for i, m := range b {
		if m.Alert.UUID == uuid {
			return i
		}
	}
	return -1
}

// TestZincDataStreamAndSuffixes: op_type create with @timestamp into a data
// stream, and a monthly index, both searched back from ZincSearch.
func TestZincDataStreamAndSuffixes(t *testing.T) {
	z := startZinc(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ds := newOutput(t, Config{HostPort: z.URL, Username: z.User, Password: z.Pass, Index: "logs-falco-default", DataStream: true, CreateIndexTemplate: true}, outputs.Deps{})
	if err := ds.Send(ctx, outputtest.Alerts(0, 5)); err != nil {
		t.Fatalf("data stream Send: %v", err)
	}
	monthly := newOutput(t, Config{HostPort: z.URL, Username: z.User, Password: z.Pass, Suffix: "monthly"}, outputs.Deps{})
	if err := monthly.Send(ctx, outputtest.Alerts(10, 3)); err != nil {
		t.Fatalf("monthly Send: %v", err)
	}
	docs := z.waitDocs(t, "logs-falco-default", 5)
	for _, d := range docs {
		if d["@timestamp"] == nil {
			t.Errorf("data stream document without @timestamp: %v", d)
		}
		if _, dotted := d["output_fields"].(map[string]any)["proc.name"]; dotted {
			t.Errorf("template did not flatten fields: %v", d["output_fields"])
		}
	}
	z.waitDocs(t, "falco-2026.11", 3)
}

// TestTLS: a server with the test CA's certificate, with and without a
// required client certificate; checkcert: false without the CA.
func TestTLS(t *testing.T) {
	certs := outputtest.NewCerts(t)
	f := false
	tests := []struct {
		name          string
		requireClient bool
		c             Config
		wantOK        bool
	}{
		{"ca", false, Config{TLS: httpoutTLS(certs.CAFile, "", "")}, true},
		{"mutual", true, Config{TLS: httpoutTLS(certs.CAFile, certs.ClientCertFile, certs.ClientKeyFile)}, true},
		{"mutual-without-cert", true, Config{TLS: httpoutTLS(certs.CAFile, "", "")}, false},
		{"checkcert-false", false, Config{CheckCert: &f}, true},
		{"untrusted", false, Config{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Elastic-Product", "Elasticsearch")
				_, _ = io.WriteString(w, bulkOK(100))
			}))
			s.TLS = certs.ServerTLS(tt.requireClient)
			s.Config.ErrorLog = stdlog.New(io.Discard, "", 0) // the failing handshakes are expected
			s.StartTLS()
			defer s.Close()
			tt.c.HostPort = s.URL
			o := newOutput(t, tt.c, outputs.Deps{})
			err := o.Send(context.Background(), outputtest.Alerts(0, 1))
			if tt.wantOK && err != nil {
				t.Fatalf("Send: %v", err)
			}
			if !tt.wantOK {
				outputtest.RequireRetryable(t, err) // a handshake failure is a network error
			}
		})
	}
}

func httpoutTLS(ca, cert, key string) httpout.TLSConfig {
	return httpout.TLSConfig{CAFile: ca, CertFile: cert, KeyFile: key}
}

// TestFalcosidekickKeys: every key falcosidekick documents for
// `elasticsearch:` decodes strictly into Config (minimumpriority is the
// router's), plus the keys of newer falcosidekick versions.
func TestFalcosidekickKeys(t *testing.T) {
	sample := map[string]string{
		"hostport": `"https://es:9200"`, "index": `"falco"`, "type": `"_doc"`, "suffix": `"daily"`,
		"username": `"u"`, "password": `"p"`, "apikey": `"k"`, "customheaders": `{X-A: "1", X-B: "2"}`,
		"mutualtls": "false", "checkcert": "true", "pipeline": `"p1"`,
		// newer falcosidekick keys
		"flattenfields": "false", "createindextemplate": "false", "numberofshards": "3", "numberofreplicas": "3",
		"enablecompression": "false", "batching": "{enabled: true, batchsize: 5242880, flushinterval: 1s}",
		"maxconcurrentrequests": "1",
	}
	var doc strings.Builder
	keys := append(config.SidekickKeys("elasticsearch"), "flattenfields", "createindextemplate", "numberofshards",
		"numberofreplicas", "enablecompression", "batching", "maxconcurrentrequests")
	for _, k := range keys {
		if k == "minimumpriority" {
			continue
		}
		v, ok := sample[k]
		if !ok {
			t.Fatalf("falcosidekick key %q has no sample value here: add it and make sure Config accepts it", k)
		}
		fmt.Fprintf(&doc, "%s: %s\n", k, v)
	}
	dec := yaml.NewDecoder(strings.NewReader(doc.String()))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("decode:\n%s\n%v", doc.String(), err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if c.CustomHeaders["X-B"] != "2" || c.Pipeline != "p1" {
		t.Errorf("decoded %+v", c)
	}
}
