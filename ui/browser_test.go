package ui_test

// Browser tests: a real headless Chromium against a real router (real
// queue on disk, real webhook outputs to local sinks) started in-process on
// 127.0.0.1. They skip when Chromium is not installed, and fail instead when
// LANNER_REQUIRE_BACKENDS=1 (CI); scripts/setup.d/50-chromium.sh installs it.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/lannerhq/lanner/router/config"
	"github.com/lannerhq/lanner/router/server"
)

// chromiumPath finds the browser, or skips (fails under CI's
// LANNER_REQUIRE_BACKENDS=1).
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LANNER_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium is not installed (run scripts/setup.d/50-chromium.sh)"
	if os.Getenv("LANNER_REQUIRE_BACKENDS") == "1" {
		t.Fatal(msg + " and LANNER_REQUIRE_BACKENDS=1")
	}
	t.Skip(msg)
	return ""
}

// sink is a webhook receiver that records uuids and can be made to fail.
type sink struct {
	*httptest.Server
	fail  atomic.Bool // answer 400: a permanent failure, dead-lettered at once
	mu    sync.Mutex
	uuids map[string]int
}

func newSink(t *testing.T) *sink {
	s := &sink{uuids: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if s.fail.Load() {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var docs []struct{ UUID string }
		if bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")) {
			_ = json.Unmarshal(body, &docs)
		} else {
			docs = make([]struct{ UUID string }, 1)
			_ = json.Unmarshal(body, &docs[0])
		}
		s.mu.Lock()
		for _, d := range docs {
			s.uuids[d.UUID]++
		}
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sink) got(uuid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.uuids[uuid] > 0
}

type router struct {
	base string
}

// startRouter runs a router on extra config (outputs, routes, ...) until the
// test ends.
func startRouter(t *testing.T, extra string) *router {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "router.yaml")
	yml := "data_dir: " + filepath.Join(dir, "data") + "\nhttp: {listen: 127.0.0.1:0}\ngrpc: {listen: 127.0.0.1:0}\n" + extra
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(cfg, server.Options{Logger: slog.New(slog.DiscardHandler), Version: "test", ShutdownTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("router: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("router did not stop")
		}
	})
	return &router{base: "http://" + srv.HTTPAddr().String()}
}

func (r *router) post(t *testing.T, token, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.base+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST / = %d %s", resp.StatusCode, b)
	}
}

// browser starts a headless Chromium (killed at cleanup) and returns its
// context, bounded by timeout, and a function that reports the page's
// JavaScript exceptions and console errors so far.
func browser(t *testing.T, timeout time.Duration) (context.Context, func() []string) {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	ctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser() // closes the tab and the browser
		cancelAlloc()   // kills the process if still there, removes nothing of ours
		cancelTimeout()
	})
	var mu sync.Mutex
	var problems []string
	if err := chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text+" "+describe(ev.ExceptionDetails.Exception))
		case *log.EventEntryAdded:
			// Network errors (an expected 401) are not the page's fault;
			// CSP violations and script errors are.
			if ev.Entry.Level == log.EntryLevelError && ev.Entry.Source != log.EntrySourceNetwork {
				problems = append(problems, "console: "+ev.Entry.Text)
			}
		}
	}); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return bctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

func describe(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	return o.Description
}

const step = 20 * time.Second

// waitJS polls a JavaScript predicate until it is truthy.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(step), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, step)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// setField sets a filter field as a user would (the form's input event).
func setField(t *testing.T, ctx context.Context, id, value string) {
	t.Helper()
	b, _ := json.Marshal(value)
	evalJS[bool](t, ctx, `(() => { const e = document.getElementById('`+id+`'); e.value = `+string(b)+`;
		e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`)
}

func falcoAlert(uuid, priority, rule, output string, fields map[string]any) string {
	b, _ := json.Marshal(map[string]any{
		"uuid": uuid, "time": time.Now().UTC().Format(time.RFC3339Nano), "priority": priority, "rule": rule,
		"output": output, "output_fields": fields, "source": "syscall", "tags": []string{"filesystem", "mitre_credential_access"},
		"hostname": "node-1",
	})
	return string(b)
}

func TestBrowserUI(t *testing.T) {
	chromiumPath(t) // skip before starting anything
	good, bad := newSink(t), newSink(t)
	bad.fail.Store(true)
	r := startRouter(t, "outputs:\n"+
		"  - {name: sink, type: webhook, webhook: {address: "+good.URL+"}}\n"+
		"  - {name: flaky, type: webhook, webhook: {address: "+bad.URL+"}, queue: {max_attempts: 1}}\n"+
		"routes:\n  - {name: flaky, match: {rule: {equals: to-flaky}}, outputs: [{name: flaky}]}\n"+
		"default: {outputs: [{name: sink}]}\n")
	ctx, problems := browser(t, 3*time.Minute)

	do(t, ctx, "open the UI", chromedp.Navigate(r.base+"/ui"))
	if u := evalJS[string](t, ctx, `location.pathname`); u != "/ui/" {
		t.Errorf("/ui led to %q", u)
	}

	t.Run("outputs", func(t *testing.T) {
		waitJS(t, ctx, "the outputs table", `document.querySelector('#outputs tr[data-output="sink"]') !== null`)
		row := evalJS[[]string](t, ctx, `Array.from(document.querySelectorAll('#outputs tr[data-output="sink"] td')).map(td => td.textContent)`)
		if len(row) < 8 || row[0] != "sink" || row[1] != "webhook" || row[2] != "running" || row[3] != "0" {
			t.Errorf("sink row %q", row)
		}
	})

	const u1, u2 = "00000000-0000-4000-8000-0000000000c1", "00000000-0000-4000-8000-0000000000c2"
	t.Run("alerts appear live, filter, detail", func(t *testing.T) {
		r.post(t, "", falcoAlert(u1, "Critical", "Read sensitive file untrusted", "file=/etc/shadow proc=cat",
			map[string]any{"fd.name": "/etc/shadow", "proc.name": "cat", "user.uid": 0}))
		r.post(t, "", falcoAlert(u2, "Notice", "Terminal shell in container", "shell=bash", map[string]any{"proc.name": "bash"}))
		waitJS(t, ctx, "the alerts in the list", `document.querySelector('#alerts tr[data-uuid="`+u1+`"]') && document.querySelector('#alerts tr[data-uuid="`+u2+`"]')`)
		if cls := evalJS[string](t, ctx, `document.querySelector('#alerts tr[data-uuid="`+u1+`"] .prio').className`); cls != "prio p-critical" {
			t.Errorf("priority badge class %q", cls)
		}
		waitJS(t, ctx, "the counts", `document.querySelector('#counts li[data-priority="Critical"]') !== null`)

		// Filter by text: only the shell alert stays.
		do(t, ctx, "type a filter", chromedp.SendKeys(chromedp.ID("f-q"), "bash"))
		waitJS(t, ctx, "the filtered list", `document.querySelector('#alerts tr[data-uuid="`+u1+`"]') === null && document.querySelector('#alerts tr[data-uuid="`+u2+`"]') !== null`)
		// Minimum priority: only the critical one.
		setField(t, ctx, "f-q", "")
		setField(t, ctx, "f-priority", "Warning")
		waitJS(t, ctx, "the priority filter", `document.querySelector('#alerts tr[data-uuid="`+u2+`"]') === null && document.querySelector('#alerts tr[data-uuid="`+u1+`"]') !== null`)
		setField(t, ctx, "f-priority", "")
		waitJS(t, ctx, "the list again", `document.querySelector('#alerts tr[data-uuid="`+u2+`"]') !== null`)

		// Detail view.
		do(t, ctx, "open the detail", chromedp.Click(chromedp.CSS(`#alerts tr[data-uuid="`+u1+`"]`)))
		waitJS(t, ctx, "the detail", `!document.getElementById('detail').hidden`)
		got := evalJS[map[string]string](t, ctx, `({
			uuid: document.querySelector('#detail dd[data-field="uuid"]').textContent,
			rule: document.querySelector('#detail dd[data-field="rule"]').textContent,
			outputs: document.querySelector('#detail dd[data-field="outputs"]').textContent,
			tags: document.querySelector('#detail dd[data-field="tags"]').textContent,
			output: document.getElementById('detail-output').textContent,
			fd: document.querySelector('#detail-output-fields tr[data-key="fd.name"] td:last-child').textContent,
			uid: document.querySelector('#detail-output-fields tr[data-key="user.uid"] td:last-child').textContent,
		})`)
		want := map[string]string{"uuid": u1, "rule": "Read sensitive file untrusted", "outputs": "sink",
			"tags": "filesystemmitre_credential_access", "output": "file=/etc/shadow proc=cat", "fd": "/etc/shadow", "uid": "0"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("detail %s = %q, want %q", k, got[k], v)
			}
		}
		do(t, ctx, "close the detail", chromedp.Click(chromedp.ID("detail-close")))
		waitJS(t, ctx, "the detail to close", `document.getElementById('detail').hidden`)
	})

	t.Run("dead letters: replay and purge", func(t *testing.T) {
		const d1, d2 = "00000000-0000-4000-8000-0000000000d1", "00000000-0000-4000-8000-0000000000d2"
		r.post(t, "", falcoAlert(d1, "Error", "to-flaky", "first", nil))
		t.Cleanup(func() {
			if t.Failed() {
				resp, err := http.Get(r.base + "/api/v1/outputs")
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					t.Logf("outputs: %s", b)
				}
			}
		})
		waitJS(t, ctx, "a dead letter in the outputs table", `document.querySelector('#outputs tr[data-output="flaky"] button')?.textContent === "1"`)
		do(t, ctx, "open the dead letters", chromedp.Click(chromedp.CSS(`#outputs tr[data-output="flaky"] button`)))
		waitJS(t, ctx, "the dead letter list", `!document.getElementById('dead-section').hidden && document.querySelectorAll('#dead tbody tr').length === 1`)

		do(t, ctx, "inspect", chromedp.Click(chromedp.CSS(`#dead tbody tr td:last-child button.secondary`)))
		waitJS(t, ctx, "the dead letter detail", `document.querySelector('#detail dd[data-field="uuid"]')?.textContent === "`+d1+`" && document.querySelector('#detail dd[data-field="reason"]') !== null`)

		bad.fail.Store(false)
		do(t, ctx, "replay", chromedp.Click(chromedp.CSS(`#dead tbody tr td:last-child button:not(.secondary)`)))
		waitJS(t, ctx, "the replay message", `document.getElementById('dead-message').textContent === "Replayed 1 dead letter."`)
		deadline := time.Now().Add(step)
		for !bad.got(d1) {
			if time.Now().After(deadline) {
				t.Fatal("the replayed alert was not delivered")
			}
			time.Sleep(20 * time.Millisecond)
		}
		waitJS(t, ctx, "the empty list", `!document.getElementById('dead-empty').hidden`)

		bad.fail.Store(true)
		r.post(t, "", falcoAlert(d2, "Error", "to-flaky", "second", nil))
		waitJS(t, ctx, "the second dead letter", `document.querySelector('#outputs tr[data-output="flaky"] button')?.textContent === "1"`)
		do(t, ctx, "reopen the dead letters", chromedp.Click(chromedp.CSS(`#outputs tr[data-output="flaky"] button`)))
		waitJS(t, ctx, "the dead letter list", `document.querySelectorAll('#dead tbody tr').length === 1`)
		do(t, ctx, "purge all", chromedp.Click(chromedp.ID("dead-purge-all")))
		waitJS(t, ctx, "the confirmation", `document.getElementById('confirm-dialog').open`)
		// Cancel keeps it.
		do(t, ctx, "cancel", chromedp.Click(chromedp.ID("confirm-cancel")))
		waitJS(t, ctx, "the dialog to close", `!document.getElementById('confirm-dialog').open`)
		if n := evalJS[int](t, ctx, `document.querySelectorAll('#dead tbody tr').length`); n != 1 {
			t.Fatalf("cancelled purge removed rows: %d left", n)
		}
		do(t, ctx, "purge all again", chromedp.Click(chromedp.ID("dead-purge-all")))
		waitJS(t, ctx, "the confirmation", `document.getElementById('confirm-dialog').open`)
		do(t, ctx, "confirm", chromedp.Click(chromedp.ID("confirm-ok")))
		waitJS(t, ctx, "the purge message", `document.getElementById('dead-message').textContent === "Purged 1 dead letter."`)
		waitJS(t, ctx, "the dead letter count", `document.querySelector('#outputs tr[data-output="flaky"] button')?.textContent === "0"`)
	})

	t.Run("show older", func(t *testing.T) {
		var batch strings.Builder
		for i := 0; i < 250; i++ {
			batch.WriteString(falcoAlert(fmt.Sprintf("00000000-0000-4000-8000-%012d", 900000+i), "Informational", fmt.Sprintf("bulk %03d", i), "o", nil))
			batch.WriteByte('\n')
		}
		resp, err := http.Post(r.base+"/api/v1/alerts", "application/x-ndjson", strings.NewReader(batch.String()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("batch: %d", resp.StatusCode)
		}
		setField(t, ctx, "f-rule", "bulk")
		waitJS(t, ctx, "the first page", `document.querySelectorAll('#alerts tbody tr').length === 200 && !document.getElementById('alerts-older').hidden`)
		do(t, ctx, "show older", chromedp.Click(chromedp.ID("alerts-older")))
		waitJS(t, ctx, "the older alerts", `document.querySelectorAll('#alerts tbody tr').length === 250 && document.getElementById('alerts-older').hidden`)
		if last := evalJS[string](t, ctx, `document.querySelector('#alerts tbody tr:last-child td.rule').textContent`); last != "bulk 000" {
			t.Errorf("oldest row %q", last)
		}
		setField(t, ctx, "f-rule", "")
		waitJS(t, ctx, "the unfiltered list", `document.querySelectorAll('#alerts tbody tr').length === 200`)
	})

	t.Run("XSS renders as text", func(t *testing.T) {
		const ux = "00000000-0000-4000-8000-0000000000e1"
		img := `<img src=x onerror="window.__xss=1">`
		script := `<script>window.__xss=2</script>`
		r.post(t, "", falcoAlert(ux, "Warning", `<b>bold</b><img src=x onerror=window.__xss=3>`, img+script,
			map[string]any{"fd.name": img, "proc.cmdline": script, `<img src=x onerror=window.__xss=4>`: "k"}))
		waitJS(t, ctx, "the hostile alert", `document.querySelector('#alerts tr[data-uuid="`+ux+`"]') !== null`)
		do(t, ctx, "open its detail", chromedp.Click(chromedp.CSS(`#alerts tr[data-uuid="`+ux+`"]`)))
		waitJS(t, ctx, "its detail", `document.querySelector('#detail dd[data-field="uuid"]')?.textContent === "`+ux+`"`)
		time.Sleep(300 * time.Millisecond) // give any injected handler the chance to run
		got := evalJS[map[string]any](t, ctx, `({
			flag: window.__xss === undefined ? null : window.__xss,
			imgs: document.querySelectorAll('img').length,
			scripts: document.scripts.length,
			handlers: document.querySelectorAll('[onerror]').length,
			bold: document.querySelectorAll('#alerts b, #detail b').length,
			output: document.getElementById('detail-output').textContent,
			field: document.querySelector('#detail-output-fields tr[data-key="fd.name"] td:last-child').textContent,
			key: document.querySelector('#detail-output-fields tr[data-key="<img src=x onerror=window.__xss=4>"]') !== null,
			rule: document.querySelector('#alerts tr[data-uuid="`+ux+`"] td.rule').textContent,
		})`)
		if got["flag"] != nil {
			t.Errorf("injected script ran: window.__xss = %v", got["flag"])
		}
		if got["imgs"] != float64(0) || got["scripts"] != float64(1) || got["handlers"] != float64(0) || got["bold"] != float64(0) {
			t.Errorf("injected elements exist: %v", got)
		}
		if got["output"] != img+script || got["field"] != img || got["key"] != true || got["rule"] != `<b>bold</b><img src=x onerror=window.__xss=3>` {
			t.Errorf("hostile text not shown as text: %v", got)
		}
	})

	t.Run("layout fits 1280px", func(t *testing.T) {
		if w := evalJS[int](t, ctx, `document.documentElement.scrollWidth`); w > 1280 {
			t.Errorf("page is %dpx wide at a 1280px window", w)
		}
	})

	// LANNER_UI_SCREENSHOT=file.png saves what the page looked like, for people.
	if path := os.Getenv("LANNER_UI_SCREENSHOT"); path != "" {
		if buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			_ = os.WriteFile(path, buf, 0o644)
		}
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("page errors (CSP violations, exceptions):\n%s", strings.Join(p, "\n"))
	}
}

func TestBrowserToken(t *testing.T) {
	chromiumPath(t)
	s := newSink(t)
	r := startRouter(t, "ingest: {auth_token: s3cret-token}\noutputs:\n  - {name: sink, type: webhook, webhook: {address: "+s.URL+"}}\n")
	r.post(t, "s3cret-token", falcoAlert("00000000-0000-4000-8000-0000000000f1", "Warning", "needs a token", "o", nil))
	ctx, _ := browser(t, 2*time.Minute)
	do(t, ctx, "open the UI", chromedp.Navigate(r.base+"/ui/"))
	waitJS(t, ctx, "the token prompt", `document.getElementById('token-dialog').open`)
	do(t, ctx, "a wrong token", chromedp.SendKeys(chromedp.ID("token-input"), "wrong"), chromedp.Click(chromedp.ID("token-save")))
	waitJS(t, ctx, "the prompt again", `document.getElementById('token-dialog').open`)
	do(t, ctx, "the right token", chromedp.SetValue(chromedp.ID("token-input"), "s3cret-token"), chromedp.Click(chromedp.ID("token-save")))
	waitJS(t, ctx, "the outputs", `document.querySelector('#outputs tr[data-output="sink"]') !== null`)
	waitJS(t, ctx, "the alert", `document.querySelector('#alerts tr[data-uuid="00000000-0000-4000-8000-0000000000f1"]') !== null`)
	if tok := evalJS[string](t, ctx, `sessionStorage.getItem('lanner.token')`); tok != "s3cret-token" {
		t.Errorf("session token %q", tok)
	}
	if tok := evalJS[any](t, ctx, `localStorage.getItem('lanner.token')`); tok != nil {
		t.Errorf("token in localStorage: %v", tok)
	}
}
