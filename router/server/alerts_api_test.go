package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/router/recent"
)

func recentOf(t *testing.T, h *harness, query, token string) (int, RecentReply, string) {
	t.Helper()
	code, body := h.do(http.MethodGet, "/api/v1/alerts/recent"+query, token, "", nil)
	var rep RecentReply
	if code == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatalf("reply %q: %v", body, err)
		}
	}
	return code, rep, body
}

func alertJSON(uuid, prio, rule, source, output string) string {
	return fmt.Sprintf(`{"uuid":%q,"time":"2026-11-22T10:00:00Z","priority":%q,"rule":%q,"source":%q,"output":%q,`+
		`"output_fields":{"proc.name":"cat","user.uid":0},"tags":["t1"],"hostname":"node-1"}`, uuid, prio, rule, source, output)
}

func TestRecentAlertsAPI(t *testing.T) {
	s := newSink(t)
	h := startRouter(t, "outputs:\n"+webhookOutput("sink", s.URL, "")+webhookOutput("other", s.URL, "")+
		"routes:\n  - name: crit\n    match: {priority: {at_least: critical}}\n    outputs: [{name: other}]\n"+
		"  - name: drop-noise\n    match: {rule: {equals: noise}}\n    drop: true\n"+
		"default: {outputs: [{name: sink}]}\n")
	posts := []string{
		alertJSON("00000000-0000-4000-8000-000000000001", "Warning", "Read sensitive file", "syscall", "cat /etc/shadow"),
		alertJSON("00000000-0000-4000-8000-000000000002", "Critical", "Terminal shell", "syscall", "bash -i"),
		alertJSON("00000000-0000-4000-8000-000000000003", "Notice", "K8s audit", "k8s_audit", "user bob"),
		alertJSON("00000000-0000-4000-8000-000000000004", "Debug", "noise", "syscall", "noisy"),
	}
	for _, p := range posts {
		if code, body := h.post("/", p); code != http.StatusOK {
			t.Fatalf("POST / = %d %s", code, body)
		}
	}
	// A duplicate is acknowledged but not recorded twice.
	if code, body := h.post("/", posts[0]); code != http.StatusOK || !strings.Contains(body, "duplicate") {
		t.Fatalf("replay = %d %s", code, body)
	}
	// Batch ingest is recorded too.
	if code, body := h.post("/api/v1/alerts", "["+alertJSON("00000000-0000-4000-8000-000000000005", "Error", "Write below etc", "syscall", "touch /etc/x")+"]"); code != http.StatusOK {
		t.Fatalf("batch = %d %s", code, body)
	}

	code, rep, body := recentOf(t, h, "", "")
	if code != http.StatusOK {
		t.Fatalf("recent = %d %s", code, body)
	}
	if len(rep.Alerts) != 5 || rep.Latest != 5 || rep.Total != 5 || rep.Capacity != 1000 || rep.Matched != 5 {
		t.Fatalf("reply: %d alerts, latest %d, total %d, capacity %d, matched %d", len(rep.Alerts), rep.Latest, rep.Total, rep.Capacity, rep.Matched)
	}
	if rep.Counts["Warning"] != 1 || rep.Counts["Emergency"] != 0 || len(rep.Counts) != 8 {
		t.Errorf("counts %v", rep.Counts)
	}
	first := rep.Alerts[0]
	if first.Seq != 5 || first.Alert.Rule != "Write below etc" || fmt.Sprint(first.Outputs) != "[sink]" || first.Received.IsZero() {
		t.Errorf("newest = %+v", first)
	}
	if crit := rep.Alerts[3]; crit.Alert.Rule != "Terminal shell" || fmt.Sprint(crit.Outputs) != "[other]" {
		t.Errorf("critical alert: %+v", crit)
	}
	if noise := rep.Alerts[1]; noise.Alert.Rule != "noise" || noise.Outputs == nil || len(noise.Outputs) != 0 {
		t.Errorf("dropped alert: %+v", noise)
	}
	mustContain(t, body, `"output_fields":{"proc.name":"cat","user.uid":0}`)

	tests := []struct {
		query string
		rules []string
	}{
		{"?min_priority=error", []string{"Write below etc", "Terminal shell"}},
		{"?min_priority=WARN&limit=1", []string{"Write below etc"}},
		{"?rule=TERMINAL", []string{"Terminal shell"}},
		{"?source=k8s_audit", []string{"K8s audit"}},
		{"?output=other", []string{"Terminal shell"}},
		{"?q=shadow", []string{"Read sensitive file"}},
		{"?after=3", []string{"Write below etc", "noise"}},
		{"?before=3&limit=5", []string{"Terminal shell", "Read sensitive file"}},
		{"?q=nothing-like-this", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			code, rep, body := recentOf(t, h, tt.query, "")
			if code != http.StatusOK {
				t.Fatalf("%d %s", code, body)
			}
			var rules []string
			for _, a := range rep.Alerts {
				rules = append(rules, a.Alert.Rule)
			}
			if fmt.Sprint(rules) != fmt.Sprint(tt.rules) {
				t.Errorf("rules %q, want %q", rules, tt.rules)
			}
		})
	}

	bad := []struct{ query, want string }{
		{"?min_priority=loud", "min_priority: unknown priority"},
		{"?limit=0", "limit: want an integer from 1 to 1000"},
		{"?limit=1001", "limit:"},
		{"?limit=x", "limit:"},
		{"?after=-1", "after: want a sequence number"},
		{"?before=1.5", "before:"},
		{"?priority=Warning", `unknown query parameter \"priority\"`},
		{"?rule=a&rule=b", "rule: given 2 times"},
		{"?q=" + strings.Repeat("x", 1100), "q: longer than 1024 bytes"},
	}
	for _, tt := range bad {
		code, body := h.do(http.MethodGet, "/api/v1/alerts/recent"+tt.query, "", "", nil)
		if code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", tt.query[:min(len(tt.query), 40)], code, body)
			continue
		}
		mustContain(t, body, tt.want)
	}
}

func TestRecentAlertsAuthAndOff(t *testing.T) {
	s := newSink(t)
	h := startRouter(t, "ingest: {auth_token: s3cret}\nui: {recent_alerts: 3}\noutputs:\n"+webhookOutput("sink", s.URL, ""))
	for i := 0; i < 5; i++ {
		if code, body := h.do(http.MethodPost, "/", "s3cret", "", []byte(falcoAlert(""))); code != http.StatusOK {
			t.Fatalf("POST / = %d %s", code, body)
		}
	}
	for _, p := range []string{"/api/v1/alerts/recent", "/api/v1/alerts/stream"} {
		if code, _ := h.do(http.MethodGet, p, "", "", nil); code != http.StatusUnauthorized {
			t.Errorf("%s without token = %d, want 401", p, code)
		}
		if code, _ := h.do(http.MethodGet, p, "wrong", "", nil); code != http.StatusUnauthorized {
			t.Errorf("%s with a wrong token = %d, want 401", p, code)
		}
	}
	code, rep, body := recentOf(t, h, "", "s3cret")
	if code != http.StatusOK || len(rep.Alerts) != 3 || rep.Capacity != 3 || rep.Total != 5 || rep.Alerts[0].Seq != 5 {
		t.Fatalf("recent = %d %s", code, body)
	}

	off := startRouter(t, "ui: {recent_alerts: 0}\noutputs:\n"+webhookOutput("sink", s.URL, ""))
	if code, body := off.post("/", falcoAlert("")); code != http.StatusOK {
		t.Fatalf("POST / = %d %s", code, body)
	}
	code, body = off.do(http.MethodGet, "/api/v1/alerts/recent", "", "", nil)
	if code != http.StatusNotFound {
		t.Fatalf("store off: %d %s", code, body)
	}
	mustContain(t, body, "ui.recent_alerts: 0")
}

// Alerts recorded by reference must not change when later requests reuse
// the ingest buffers: a guard against Decode ever aliasing pooled memory.
func TestRecentAlertsSurviveBufferReuse(t *testing.T) {
	s := newSink(t)
	h := startRouter(t, "outputs:\n"+webhookOutput("sink", s.URL, ""))
	want := alertJSON("00000000-0000-4000-8000-0000000000aa", "Warning", "first rule", "syscall", "first output")
	if code, body := h.post("/", want); code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	for i := 0; i < 200; i++ {
		a := alertJSON(fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1000), "Debug", "zzzzzzzzzzzzzzzzzz", "xxxxxxx", strings.Repeat("y", 40))
		code, body := h.post("/", a)
		if code != http.StatusOK {
			t.Fatalf("%d %s", code, body)
		}
		code, body = h.post("/api/v1/alerts", a+"\n")
		if code != http.StatusOK {
			t.Fatalf("%d %s", code, body)
		}
	}
	_, rep, _ := recentOf(t, h, "?q=first", "")
	if len(rep.Alerts) != 1 {
		t.Fatalf("%d alerts", len(rep.Alerts))
	}
	a := rep.Alerts[0].Alert
	if a.Rule != "first rule" || a.Output != "first output" || a.Source != "syscall" || a.Hostname != "node-1" ||
		a.UUID != "00000000-0000-4000-8000-0000000000aa" || fmt.Sprint(a.OutputFields.Map()) != "map[proc.name:cat user.uid:0]" {
		t.Errorf("recorded alert changed: %+v", a)
	}
}

func TestAlertStream(t *testing.T) {
	s := newSink(t)
	h := startRouter(t, "outputs:\n"+webhookOutput("sink", s.URL, ""))
	if code, body := h.post("/", alertJSON("00000000-0000-4000-8000-000000000b01", "Warning", "before", "syscall", "o")); code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	open := func(query string) (*http.Response, *bufio.Reader) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.base+"/api/v1/alerts/stream"+query, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		return resp, bufio.NewReader(resp.Body)
	}
	// next reads events up to the next one named name and returns its data.
	next := func(r *bufio.Reader, name string) string {
		t.Helper()
		var event string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading stream: %v", err)
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == name:
				return strings.TrimPrefix(line, "data: ")
			}
		}
	}
	_, live := open("?min_priority=warning")
	mustContain(t, next(live, "hello"), `"latest":1`)
	_, replay := open("?after=0")
	var ev StreamEvent
	if err := json.Unmarshal([]byte(next(replay, "alerts")), &ev); err != nil || len(ev.Alerts) != 1 || ev.Alerts[0].Alert.Rule != "before" {
		t.Fatalf("replayed event %+v, %v", ev, err)
	}

	for _, a := range []string{
		alertJSON("00000000-0000-4000-8000-000000000b02", "Debug", "filtered out", "syscall", "o"),
		alertJSON("00000000-0000-4000-8000-000000000b03", "Error", "live one", "syscall", "o"),
	} {
		if code, body := h.post("/", a); code != http.StatusOK {
			t.Fatalf("%d %s", code, body)
		}
	}
	ev = StreamEvent{}
	if err := json.Unmarshal([]byte(next(live, "alerts")), &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Alerts) != 1 || ev.Alerts[0].Alert.Rule != "live one" || ev.Latest != 3 || ev.Skipped != 0 {
		t.Errorf("live event %+v", ev)
	}
	if code, body := h.do(http.MethodGet, "/api/v1/alerts/stream?limit=3", "", "", nil); code != http.StatusBadRequest {
		t.Errorf("stream with limit: %d %s", code, body)
	}
	// Open streams end when the router stops, so shutdown does not wait
	// for its timeout.
	start := time.Now()
	h.stop()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("stopping with open streams took %s", d)
	}
	for { // the stream has ended (bounded by ctx)
		if _, err := live.ReadString('\n'); err != nil {
			break
		}
	}
}

// A stream client that stops reading is disconnected and counted, and
// ingest carries on at full speed meanwhile.
func TestAlertStreamSlowClientDropped(t *testing.T) {
	s := newSink(t)
	h := startRouter(t, "outputs:\n"+webhookOutput("sink", s.URL, ""))
	h.srv.alerts.writeTimeout.Store(int64(300 * time.Millisecond))
	c, err := net.Dial("tcp", h.srv.HTTPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.(*net.TCPConn).SetReadBuffer(4096)
	if _, err := io.WriteString(c, "GET /api/v1/alerts/stream HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// Never read from c again. Wait until the stream is subscribed.
	waitFor(t, "the stream", 5*time.Second, func() bool { return h.srv.alerts.streams.Load() == 1 })

	big := strings.Repeat("x", 4000)
	var batch strings.Builder
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; h.srv.alerts.streams.Load() > 0; i++ {
		if time.Now().After(deadline) {
			t.Fatal("the slow stream was never dropped")
		}
		batch.Reset()
		for j := 0; j < 200; j++ {
			batch.WriteString(alertJSON(fmt.Sprintf("00000000-0000-4000-8000-%06d%06d", i, j), "Warning", "r", "syscall", big))
			batch.WriteByte('\n')
		}
		start := time.Now()
		code, body := h.post("/api/v1/alerts", batch.String())
		if code != http.StatusOK {
			t.Fatalf("batch = %d %s", code, body[:min(len(body), 200)])
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("ingest took %s while a stream client stalled", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, metrics := h.do(http.MethodGet, "/metrics", "", "", nil)
	mustContain(t, metrics, "lanner_alert_stream_dropped_total 1")
	mustContain(t, metrics, "lanner_alert_stream_clients 0")
}

// FuzzRecentFilter: query strings are untrusted. Parsing never panics, an
// accepted filter is within bounds, and querying with it never panics.
func FuzzRecentFilter(f *testing.F) {
	for _, seed := range []string{"", "min_priority=warning&limit=5", "after=18446744073709551615", "q=%ff%fe&rule=%00",
		"limit=-1", "before=1&after=2", "source=a&source=b", "x=1", "min_priority=Info&output=slack&hostname=h"} {
		f.Add(seed)
	}
	store := recent.New(recent.Config{Size: 4})
	for i := 0; i < 6; i++ {
		store.Add(&alert.Alert{Rule: "r", Priority: alert.Priority(1 + i), Output: "ÄÖ x"}, []string{"slack"}, time.Now())
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for _, paging := range []bool{true, false} {
			flt, err := parseFilter(q, store.Cap(), paging)
			if err != nil {
				if err.Error() == "" {
					t.Fatal("empty error")
				}
				continue
			}
			if flt.Limit < 1 || flt.Limit > store.Cap() && flt.Limit != defaultRecentLimit {
				t.Fatalf("limit %d", flt.Limit)
			}
			res := store.Query(flt)
			if len(res.Entries) > store.Cap() {
				t.Fatalf("%d entries", len(res.Entries))
			}
		}
	})
}

func TestUIMounted(t *testing.T) {
	h := startRouter(t, "")
	code, body := h.do(http.MethodGet, "/ui/", "", "", nil)
	if code != http.StatusOK || !strings.Contains(body, "<title>Lanner router</title>") {
		t.Fatalf("GET /ui/ = %d", code)
	}
	resp, err := testClient.Get(h.base + "/ui/app.js")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") ||
		resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("ETag") == "" {
		t.Errorf("app.js: %d %v", resp.StatusCode, resp.Header)
	}
	// GET / is not taken over: POST / is Falco's ingest path.
	if code, _ := h.do(http.MethodGet, "/", "", "", nil); code != http.StatusMethodNotAllowed {
		t.Errorf("GET / = %d", code)
	}

	off := startRouter(t, "ui: {enabled: false}")
	if code, _ := off.do(http.MethodGet, "/ui/", "", "", nil); code != http.StatusNotFound {
		t.Errorf("ui disabled: GET /ui/ = %d", code)
	}
	if code, _, body := recentOf(t, off, "", ""); code != http.StatusOK {
		t.Errorf("ui disabled: the recent-alerts API = %d %s", code, body)
	}
}

// BenchmarkSubmitRecording is BenchmarkSubmitBatch's pipeline (decode,
// enrich, route, one durable Enqueue per 1,000 alerts) with the store of
// recent alerts off and on: allocs/op must be the same.
func BenchmarkSubmitRecording(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("recent=%v", on), func(b *testing.B) {
			p := benchPipeline(b)
			if on {
				p.recent = recent.New(recent.Config{})
			}
			docs := make([][]byte, 1000)
			alerts := make([]*alert.Alert, len(docs))
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				for i := range docs {
					n++
					docs[i] = []byte(falcoAlert(fmt.Sprintf("00000000-0000-4000-8000-%012d", n)))
					var err error
					if alerts[i], err = alert.Decode(docs[i]); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				if _, err := p.Submit(context.Background(), alerts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The UI's state-changing calls are refused when a browser sends them from
// another site (CSRF), and allowed from the UI's own origin and from tools.
func TestDeadLetterActionsRefuseCrossSite(t *testing.T) {
	h := startRouter(t, "outputs:\n"+webhookOutput("sink", "http://127.0.0.1:1", ""))
	send := func(method, path string, hdr map[string]string) int {
		req, _ := http.NewRequest(method, h.base+path, strings.NewReader(`{"all":true}`))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"cross-site form", map[string]string{"Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"}, http.StatusForbidden},
		{"foreign origin", map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{"same origin", map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}, http.StatusOK},
		{"curl", nil, http.StatusOK},
	} {
		for _, m := range []struct{ method, path string }{
			{http.MethodPost, "/api/v1/outputs/sink/deadletters/replay"},
			{http.MethodDelete, "/api/v1/outputs/sink/deadletters"},
		} {
			if got := send(m.method, m.path, tc.hdr); got != tc.want {
				t.Errorf("%s: %s %s = %d, want %d", tc.name, m.method, m.path, got, tc.want)
			}
		}
	}
}
