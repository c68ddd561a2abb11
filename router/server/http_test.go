package server

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestIngestDeliversToWebhook(t *testing.T) {
	s := newSink(t)
	h := startRouter(t, "outputs:\n"+webhookOutput("sink", s.URL, ""))
	code, body := h.post("/", falcoAlert(""))
	if code != http.StatusOK {
		t.Fatalf("POST / = %d %s", code, body)
	}
	mustContain(t, body, `"status":"queued"`)
	mustContain(t, body, `"outputs":["sink"]`)
	uuid := uuidOf(t, body)
	waitFor(t, "delivery", 10*time.Second, func() bool { return s.got(uuid) > 0 })

	// An alert without uuid gets one, and it is the one delivered.
	code, body = h.post("/", `{"rule":"r","priority":"info","time":"2026-11-22T10:00:00Z","output":"o"}`)
	if code != http.StatusOK {
		t.Fatalf("POST / = %d %s", code, body)
	}
	uuid = uuidOf(t, body)
	if len(uuid) != 36 {
		t.Fatalf("assigned uuid %q", uuid)
	}
	waitFor(t, "delivery", 10*time.Second, func() bool { return s.got(uuid) > 0 })

	// A replay of the same uuid is acknowledged but not delivered twice.
	code, body = h.post("/", falcoAlert(uuid))
	if code != http.StatusOK {
		t.Fatalf("replay = %d %s", code, body)
	}
	mustContain(t, body, `"status":"duplicate"`)

	// falcosidekick's POST /test sends a test alert through the same path.
	code, body = h.post("/test", "")
	if code != http.StatusOK {
		t.Fatalf("POST /test = %d %s", code, body)
	}
	uuid = uuidOf(t, body)
	waitFor(t, "test alert delivery", 10*time.Second, func() bool { return s.got(uuid) > 0 })

	// Falco's http_output with compress_uploads sends gzip.
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, _ = zw.Write([]byte(falcoAlert("")))
	_ = zw.Close()
	code, body = h.do(http.MethodPost, "/", "", "gzip", zb.Bytes())
	if code != http.StatusOK {
		t.Fatalf("gzip POST / = %d %s", code, body)
	}
	uuid = uuidOf(t, body)
	waitFor(t, "gzip delivery", 10*time.Second, func() bool { return s.got(uuid) > 0 })

	var outs struct{ Outputs []OutputInfo }
	waitFor(t, "delivered count", 10*time.Second, func() bool {
		code, body = h.do(http.MethodGet, "/api/v1/outputs", "", "", nil)
		if code != http.StatusOK {
			t.Fatalf("outputs = %d %s", code, body)
		}
		if err := json.Unmarshal([]byte(body), &outs); err != nil {
			t.Fatal(err)
		}
		// The queue counts a batch as delivered once it has settled it, so
		// both conditions hold together; checking the depth too keeps the
		// test honest if that order ever changes.
		return len(outs.Outputs) == 1 && outs.Outputs[0].Delivered == 4 && outs.Outputs[0].QueueDepth == 0
	})
	if o := outs.Outputs[0]; o.Name != "sink" || o.Type != "webhook" || o.State != "running" || o.Duplicates != 1 || o.QueueDepth != 0 {
		t.Errorf("outputs = %+v", outs.Outputs)
	}
}

func TestBadInputsKeepServing(t *testing.T) {
	s := newSink(t)
	h := startRouter(t, "http:\n  listen: 127.0.0.1:0\n  max_body_bytes: 4096\noutputs:\n"+webhookOutput("sink", s.URL, ""))
	const tm = `"time":"2026-11-22T10:00:00Z"`
	tests := []struct {
		name string
		body string
		code int
		want string // in the error message
	}{
		{"empty", "", 400, "empty body"},
		{"malformed JSON", `{"rule":"r",`, 400, "malformed JSON"},
		{"not an object", `[1,2,3]`, 400, "JSON object"},
		{"missing rule", `{"priority":"Warning",` + tm + `}`, 400, `"rule"`},
		{"missing priority", `{"rule":"r",` + tm + `}`, 400, `"priority"`},
		{"missing time", `{"rule":"r","priority":"Warning"}`, 400, `"time"`},
		{"unknown priority", `{"rule":"r","priority":"Loud",` + tm + `}`, 400, "unknown priority"},
		{"rule not a string", `{"rule":7,"priority":"Warning",` + tm + `}`, 400, `"rule"`},
		{"time not a string", `{"rule":"r","priority":"Warning","time":1}`, 400, `"time"`},
		{"bad time", `{"rule":"r","priority":"Warning","time":"now"}`, 400, `"time"`},
		{"tags not strings", `{"rule":"r","priority":"Warning",` + tm + `,"tags":[1]}`, 400, `"tags"`},
		{"output_fields not an object", `{"rule":"r","priority":"Warning",` + tm + `,"output_fields":[]}`, 400, `"output_fields"`},
		{"invalid UTF-8", "{\"rule\":\"\xc3\x28\",\"priority\":\"Warning\"," + tm + "}", 400, "UTF-8"},
		{"too large", `{"rule":"` + strings.Repeat("x", 5000) + `","priority":"Warning",` + tm + `}`, 413, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := h.post("/", tt.body)
			if code != tt.code {
				t.Fatalf("code = %d (%s), want %d", code, body, tt.code)
			}
			var e struct{ Error string }
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
				t.Fatalf("body %q is not {\"error\": ...}", body)
			}
			mustContain(t, e.Error, tt.want)
			// The server keeps serving.
			if code, body := h.post("/", falcoAlert("")); code != http.StatusOK {
				t.Fatalf("valid alert after bad input: %d %s", code, body)
			}
		})
	}
	// A gzip bomb is bounded by the decoded size.
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, _ = zw.Write(bytes.Repeat([]byte(" "), 1<<20))
	_ = zw.Close()
	if code, body := h.do(http.MethodPost, "/", "", "gzip", zb.Bytes()); code != http.StatusRequestEntityTooLarge {
		t.Errorf("gzip bomb: %d %s", code, body)
	}
	if code, _ := h.do(http.MethodPost, "/", "", "br", []byte("x")); code != http.StatusUnsupportedMediaType {
		t.Errorf("unknown encoding: %d", code)
	}
	if code, _ := h.do(http.MethodGet, "/", "", "", nil); code != http.StatusMethodNotAllowed {
		t.Errorf("GET / = %d", code)
	}
	// Metrics count what happened.
	_, metrics := h.do(http.MethodGet, "/metrics", "", "", nil)
	for _, want := range []string{
		`lanner_ingest_requests_total{code="400",endpoint="/"}`,
		`lanner_ingest_requests_total{code="413",endpoint="/"}`,
		`lanner_ingest_alerts_total{source="http",status="rejected"}`,
		`lanner_ingest_alerts_total{source="http",status="queued"}`,
		`go_goroutines`, `process_resident_memory_bytes`, `lanner_build_info{version="test"} 1`,
	} {
		mustContain(t, metrics, want)
	}
}

func TestIngestAuth(t *testing.T) {
	s := newSink(t)
	h := startRouter(t, "ingest:\n  auth_token: s3cret-token\noutputs:\n"+webhookOutput("sink", s.URL, ""))
	for _, tok := range []string{"", "wrong", "s3cret-token-longer", "s3cret-toke"} {
		code, body := h.do(http.MethodPost, "/", tok, "", []byte(falcoAlert("")))
		if code != http.StatusUnauthorized {
			t.Errorf("token %q: %d %s", tok, code, body)
		}
		if strings.Contains(body, "s3cret") {
			t.Errorf("reply leaks the token: %s", body)
		}
		if code, _ := h.do(http.MethodGet, "/api/v1/outputs", tok, "", nil); code != http.StatusUnauthorized {
			t.Errorf("API with token %q: %d", tok, code)
		}
	}
	if code, body := h.do(http.MethodPost, "/", "s3cret-token", "", []byte(falcoAlert(""))); code != http.StatusOK {
		t.Errorf("right token: %d %s", code, body)
	}
	if code, body := h.do(http.MethodPost, "/api/v1/alerts", "s3cret-token", "", []byte(falcoAlert(""))); code != http.StatusOK {
		t.Errorf("batch with right token: %d %s", code, body)
	}
	if code, _ := h.do(http.MethodGet, "/api/v1/outputs", "s3cret-token", "", nil); code != http.StatusOK {
		t.Errorf("API with right token: %d", code)
	}
	// Health and metrics stay open for probes and scrapers.
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, _ := h.do(http.MethodGet, p, "", "", nil); code != http.StatusOK {
			t.Errorf("GET %s = %d", p, code)
		}
	}
}

func TestQueueFullAnswers503(t *testing.T) {
	s := newSink(t)
	s.setStall(true)
	h := startRouter(t, "outputs:\n"+webhookOutput("slow", s.URL, "    queue:\n      max_entries: 3\n      concurrency: 1\n      batch_size: 1\n"))
	accepted := 0
	var full string
	for i := 0; i < 10; i++ {
		code, body := h.post("/", falcoAlert(""))
		if code == http.StatusOK {
			accepted++
			continue
		}
		if code != http.StatusServiceUnavailable {
			t.Fatalf("code %d %s", code, body)
		}
		full = body
		break
	}
	if accepted != 3 {
		t.Errorf("accepted %d alerts into a queue bounded at 3", accepted)
	}
	mustContain(t, full, `queue full for output(s) slow`)

	// The batch endpoint reports the same per alert, with 503.
	code, body := h.post("/api/v1/alerts", "["+falcoAlert("")+","+`{"rule":1}`+"]")
	if code != http.StatusServiceUnavailable {
		t.Fatalf("batch = %d %s", code, body)
	}
	mustContain(t, body, `"status":"full"`)
	mustContain(t, body, `"status":"rejected"`)

	// Once the sink recovers, the queue drains and ingest accepts again.
	s.setStall(false)
	waitFor(t, "drain", 15*time.Second, func() bool { return s.count() == 3 })
	waitFor(t, "accepting again", 15*time.Second, func() bool {
		code, _ := h.post("/", falcoAlert(""))
		return code == http.StatusOK
	})
	_, metrics := h.do(http.MethodGet, "/metrics", "", "", nil)
	mustContain(t, metrics, `lanner_ingest_requests_total{code="503",endpoint="/"}`)
	mustContain(t, metrics, `lanner_ingest_alerts_total{source="http",status="full"}`)
}

func TestBatchEndpoint(t *testing.T) {
	s := newSink(t)
	h := startRouter(t, "outputs:\n"+webhookOutput("sink", s.URL, ""))
	dup := falcoAlert("")
	if code, body := h.post("/", dup); code != 200 {
		t.Fatal(code, body)
	}
	array := "[" + falcoAlert("") + "," + `{"rule":"r"}` + "," + dup + "," + falcoAlert("") + "]"
	code, body := h.post("/api/v1/alerts", array)
	if code != http.StatusOK {
		t.Fatalf("array = %d %s", code, body)
	}
	var rep struct {
		Queued, Duplicates, Rejected, Full int
		Results                            []struct {
			Index               int
			UUID, Status, Error string
		}
	}
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Queued != 2 || rep.Duplicates != 1 || rep.Rejected != 1 || len(rep.Results) != 4 {
		t.Fatalf("reply %s", body)
	}
	wantStatus := []string{"queued", "rejected", "duplicate", "queued"}
	for i, r := range rep.Results {
		if r.Index != i || r.Status != wantStatus[i] {
			t.Errorf("result %d = %+v, want %s", i, r, wantStatus[i])
		}
	}
	mustContain(t, rep.Results[1].Error, `"priority"`)
	waitFor(t, "batch delivered", 10*time.Second, func() bool {
		return s.got(rep.Results[0].UUID) > 0 && s.got(rep.Results[3].UUID) > 0
	})

	// NDJSON, blank lines ignored.
	nd := falcoAlert("") + "\n\n" + falcoAlert("") + "\n" + "{bad json\n"
	code, body = h.post("/api/v1/alerts", nd)
	if code != http.StatusOK {
		t.Fatalf("ndjson = %d %s", code, body)
	}
	mustContain(t, body, `"queued":2`)
	mustContain(t, body, `"rejected":1`)

	// Everything rejected: 400; malformed array: 400; empty: 400.
	for _, bad := range []string{`[{"rule":1}]`, `[{"rule":"r"},`, ``, `[]`} {
		if code, body := h.post("/api/v1/alerts", bad); code != http.StatusBadRequest {
			t.Errorf("%q = %d %s", bad, code, body)
		}
	}
}

func TestNoOutputsAcceptsAndSaysSo(t *testing.T) {
	h := startRouter(t, "")
	code, body := h.post("/", falcoAlert(""))
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	mustContain(t, body, `"outputs":[]`)
	code, body = h.do(http.MethodGet, "/api/v1/outputs", "", "", nil)
	if code != 200 || strings.TrimSpace(body) != `{"outputs":[]}` {
		t.Errorf("outputs = %d %s", code, body)
	}
}

func TestRoutesAndCustomFields(t *testing.T) {
	crit, all := newSink(t), newSink(t)
	h := startRouter(t, "customfields:\n  cluster: prod\noutputs:\n"+
		webhookOutput("crit", crit.URL, "")+webhookOutput("all", all.URL, "")+
		"routes:\n  - name: critical\n    match:\n      priority: {at_least: Critical}\n    outputs: [crit]\n    continue: true\n"+
		"default:\n  outputs: [all]\n")
	code, body := h.post("/", strings.Replace(falcoAlert(""), "Warning", "Critical", 1))
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	mustContain(t, body, `"outputs":["crit"`)
	u := uuidOf(t, body)
	waitFor(t, "critical delivered", 10*time.Second, func() bool { return crit.got(u) > 0 })
	code, body = h.post("/", falcoAlert(""))
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	mustContain(t, body, `"outputs":["all"]`)
	u = uuidOf(t, body)
	waitFor(t, "warning delivered", 10*time.Second, func() bool { return all.got(u) > 0 })
	if crit.got(u) != 0 {
		t.Error("a Warning went to the critical output")
	}
}

func TestDeadLetterAPI(t *testing.T) {
	s := newSink(t)
	s.status.Store(http.StatusBadRequest) // permanent: dead-letter at once
	h := startRouter(t, "outputs:\n"+webhookOutput("sink", s.URL, "    queue:\n      max_attempts: 1\n"))
	var uuids []string
	for range 3 {
		code, body := h.post("/", falcoAlert(""))
		if code != 200 {
			t.Fatal(code, body)
		}
		uuids = append(uuids, uuidOf(t, body))
	}
	type dlList struct {
		Deadletters []DeadLetterInfo
		Next        string
	}
	var list dlList
	waitFor(t, "dead letters", 10*time.Second, func() bool {
		code, body := h.do(http.MethodGet, "/api/v1/outputs/sink/deadletters", "", "", nil)
		if code != 200 {
			t.Fatalf("list = %d %s", code, body)
		}
		list = dlList{}
		_ = json.Unmarshal([]byte(body), &list)
		return len(list.Deadletters) == 3
	})
	d0 := list.Deadletters[0]
	if d0.Alert == nil || d0.Alert.UUID != uuids[0] || d0.Reason == "" || d0.Attempts < 1 {
		t.Errorf("dead letter %+v", d0)
	}
	code, body := h.do(http.MethodGet, "/api/v1/outputs/sink/deadletters/"+d0.ID, "", "", nil)
	if code != 200 {
		t.Fatalf("get = %d %s", code, body)
	}
	mustContain(t, body, uuids[0])
	if code, _ := h.do(http.MethodGet, "/api/v1/outputs/sink/deadletters/nope", "", "", nil); code != http.StatusNotFound {
		t.Errorf("unknown id = %d", code)
	}
	if code, _ := h.do(http.MethodGet, "/api/v1/outputs/nope/deadletters", "", "", nil); code != http.StatusNotFound {
		t.Errorf("unknown output = %d", code)
	}
	// Paging.
	code, body = h.do(http.MethodGet, "/api/v1/outputs/sink/deadletters?limit=2", "", "", nil)
	if code != 200 {
		t.Fatal(code, body)
	}
	var page dlList
	_ = json.Unmarshal([]byte(body), &page)
	if len(page.Deadletters) != 2 || page.Next == "" {
		t.Errorf("page 1 = %s", body)
	}
	// Replay needs a selection.
	if code, _ := h.do(http.MethodPost, "/api/v1/outputs/sink/deadletters/replay", "", "", []byte(`{}`)); code != 400 {
		t.Errorf("empty selection = %d", code)
	}
	// Purge one, replay the rest after the sink is fixed.
	code, body = h.do(http.MethodDelete, "/api/v1/outputs/sink/deadletters", "", "", []byte(fmt.Sprintf(`{"ids":[%q]}`, d0.ID)))
	if code != 200 {
		t.Fatal(code, body)
	}
	mustContain(t, body, `"purged":1`)
	s.status.Store(0)
	code, body = h.do(http.MethodPost, "/api/v1/outputs/sink/deadletters/replay", "", "", []byte(`{"all":true}`))
	if code != 200 {
		t.Fatal(code, body)
	}
	mustContain(t, body, `"replayed":2`)
	waitFor(t, "replayed delivery", 10*time.Second, func() bool { return s.got(uuids[1]) > 0 && s.got(uuids[2]) > 0 })
	if s.got(uuids[0]) != 0 {
		t.Error("the purged alert was delivered")
	}
}
