package slack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/outputtest"
	"github.com/lannerhq/lanner/router/queue"
)

const (
	hookSecret = "T0LANNER/B0LANNER/xXhookSECRETxX42"
	botToken   = "xoxb-1111-2222-s3cr3tb0tt0k3n"
)

func newOutput(t testing.TB, c Config) *Output {
	t.Helper()
	log, _ := outputtest.CaptureLogs()
	o, err := New(c, outputs.Deps{Logger: log})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = o.Close() })
	return o
}

func TestConformanceWebhook(t *testing.T) {
	outputtest.HTTPSuite{
		New: func(t testing.TB, tg outputtest.HTTPTarget) outputs.Output {
			o, err := New(Config{WebhookURL: tg.URL + "/services/" + hookSecret, Channel: "#alerts"}, tg.Deps)
			if err != nil {
				t.Fatal(err)
			}
			return o
		},
		Secrets: []string{hookSecret, "xXhookSECRETxX42"},
		Golden:  "slack-webhook",
		OK:      "ok",
	}.Run(t)
}

func TestConformanceBotToken(t *testing.T) {
	outputtest.HTTPSuite{
		New: func(t testing.TB, tg outputtest.HTTPTarget) outputs.Output {
			o, err := New(Config{Token: botToken, APIURL: tg.URL + "/api/", Channel: "C0ALERTS", OutputFormat: "text"}, tg.Deps)
			if err != nil {
				t.Fatal(err)
			}
			return o
		},
		Secrets: []string{botToken},
		Golden:  "slack-token",
		OK:      `{"ok":true,"channel":"C0ALERTS","ts":"1.0"}`,
	}.Run(t)
}

// slackServer is slacktest with handlers that record incoming-webhook and
// chat.postMessage posts.
type slackServer struct {
	*slacktest.Server
	mu    sync.Mutex
	hooks []slack.WebhookMessage
	posts []url.Values
	// limit > 0 answers 429 (Retry-After: 1) beyond limit messages per second.
	limit     int
	window    time.Time
	inWindow  int
	throttled atomic.Int64
}

func newSlackServer(t testing.TB, limit int) *slackServer {
	s := &slackServer{limit: limit}
	s.Server = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/services/", func(w http.ResponseWriter, r *http.Request) {
			if !s.admit(w) {
				return
			}
			var m slack.WebhookMessage
			if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
				http.Error(w, "invalid_payload", 400)
				return
			}
			s.mu.Lock()
			s.hooks = append(s.hooks, m)
			s.mu.Unlock()
			_, _ = io.WriteString(w, "ok")
		})
		c.Handle("/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
			if !s.admit(w) {
				return
			}
			_ = r.ParseForm()
			if r.Header.Get("Authorization") != "Bearer "+botToken && r.PostForm.Get("token") != botToken {
				_, _ = io.WriteString(w, `{"ok":false,"error":"invalid_auth"}`)
				return
			}
			if r.PostForm.Get("channel") == "C0MISSING" {
				_, _ = io.WriteString(w, `{"ok":false,"error":"channel_not_found"}`)
				return
			}
			s.mu.Lock()
			s.posts = append(s.posts, r.PostForm)
			s.mu.Unlock()
			_, _ = io.WriteString(w, `{"ok":true,"channel":"`+r.PostForm.Get("channel")+`","ts":"1.0"}`)
		})
	})
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

func (s *slackServer) admit(w http.ResponseWriter) bool {
	if s.limit <= 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if now.Sub(s.window) >= time.Second {
		s.window, s.inWindow = now, 0
	}
	if s.inWindow >= s.limit {
		s.throttled.Add(1)
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return false
	}
	s.inWindow++
	return true
}

func (s *slackServer) webhookURL() string {
	return "http://" + s.ServerAddr + "/services/" + hookSecret
}

func (s *slackServer) delivered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.hooks) + len(s.posts)
}

func TestWebhookMessageRendered(t *testing.T) {
	srv := newSlackServer(t, 0)
	o := newOutput(t, Config{WebhookURL: srv.webhookURL(), Channel: "#falco", Icon: ":shield:", Footer: "prod cluster",
		MessageFormat: `Alert: rule *{{ .Rule }}* by user *{{ index .OutputFields "user.name" }}*`})
	a := outputtest.Alert(1) // Critical
	msgs := []outputs.Message{{Alert: a}, {Alert: outputtest.Alert(2), Overrides: map[string]string{"channel": "#oncall", "username": "sec-bot", "icon": "https://example.com/i.png"}}}
	if err := o.Send(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	if len(srv.hooks) != 2 {
		t.Fatalf("got %d posts", len(srv.hooks))
	}
	m := srv.hooks[0]
	if m.Channel != "#falco" || m.Username != DefaultUsername || m.IconEmoji != ":shield:" {
		t.Errorf("channel/username/icon: %q %q %q", m.Channel, m.Username, m.IconEmoji)
	}
	if m.Text != "Alert: rule *Terminal shell in container* by user *root*" {
		t.Errorf("messageformat text: %q", m.Text)
	}
	at := m.Attachments[0]
	if at.Footer != "prod cluster" {
		t.Errorf("footer %q", at.Footer)
	}
	if at.Color != "#ff9000" || !strings.Contains(at.Title, a.Rule) || at.Text != a.Output {
		t.Errorf("attachment: color %q title %q text %q", at.Color, at.Title, at.Text)
	}
	fields := map[string]string{}
	for _, f := range at.Fields {
		fields[f.Title] = f.Value
	}
	for k, v := range map[string]string{"priority": "Critical", "hostname": a.Hostname, "tags": "filesystem, mitre_credential_access", "fd.name": "/etc/shadow", "proc.pid": "4001", "proc.tty": "<NA>"} {
		if fields[k] != v {
			t.Errorf("field %s = %q, want %q", k, fields[k], v)
		}
	}
	o2 := srv.hooks[1]
	if o2.Channel != "#oncall" || o2.Username != "sec-bot" || o2.IconURL != "https://example.com/i.png" {
		t.Errorf("route overrides not applied: %q %q %q", o2.Channel, o2.Username, o2.IconURL)
	}
}

func TestBotTokenMessageRendered(t *testing.T) {
	srv := newSlackServer(t, 0)
	o := newOutput(t, Config{Token: botToken, APIURL: srv.GetAPIURL(), Channel: "C0ALERTS", OutputFormat: "fields"})
	if err := o.Send(context.Background(), []outputs.Message{{Alert: outputtest.Alert(0), Overrides: map[string]string{"channel": "C0ROUTE"}}}); err != nil {
		t.Fatal(err)
	}
	p := srv.posts[0]
	if p.Get("channel") != "C0ROUTE" || p.Get("username") != DefaultUsername || p.Get("icon_url") != DefaultIcon {
		t.Errorf("post: %v", p)
	}
	var at []slack.Attachment
	if err := json.Unmarshal([]byte(p.Get("attachments")), &at); err != nil {
		t.Fatal(err)
	}
	if at[0].Text != "" || len(at[0].Fields) < 5 {
		t.Errorf("outputformat fields: text %q, %d fields", at[0].Text, len(at[0].Fields))
	}
	// Slack API errors: a missing channel is permanent, secrets stay out.
	o2 := newOutput(t, Config{Token: botToken, APIURL: srv.GetAPIURL(), Channel: "C0MISSING"})
	err := o2.Send(context.Background(), outputtest.Alerts(0, 1))
	outputtest.RequirePermanent(t, err)
	if !strings.Contains(err.Error(), "channel_not_found") {
		t.Errorf("error: %v", err)
	}
	outputtest.AssertNoSecrets(t, []string{botToken}, err.Error())
}

func TestRateLimited(t *testing.T) {
	srv := newSlackServer(t, 2)
	o := newOutput(t, Config{WebhookURL: srv.webhookURL()})
	err := o.Send(context.Background(), outputtest.Alerts(0, 4))
	var pe *outputs.PartialError
	if !asPartial(err, &pe) || len(pe.Failed) != 2 || pe.Failed[0] != nil || pe.Failed[2] == nil {
		t.Fatalf("want 2 delivered then a partial failure, got %v", err)
	}
	if outputs.RetryAfterOf(pe.Failed[2]) != time.Second || !outputs.IsRetryable(pe.Failed[2]) {
		t.Errorf("alert 2: %v, want retryable after 1s", pe.Failed[2])
	}
	if !errors.Is(pe.Failed[3], outputs.ErrNotAttempted) {
		t.Errorf("alert 3: %v, want not attempted", pe.Failed[3])
	}
	if srv.throttled.Load() != 1 {
		t.Errorf("the output hammered the server: %d throttled requests, want 1", srv.throttled.Load())
	}
	outputtest.AssertNoSecrets(t, []string{hookSecret}, err.Error(), pe.Failed[2].Error())
}

func asPartial(err error, pe **outputs.PartialError) bool {
	p, ok := err.(*outputs.PartialError)
	*pe = p
	return ok
}

func TestTruncation(t *testing.T) {
	srv := newSlackServer(t, 0)
	o := newOutput(t, Config{WebhookURL: srv.webhookURL(), MessageFormat: "{{ .Output }}{{ .Output }}"})
	a := outputtest.Alert(0)
	a.Output = strings.Repeat("é", 30_000) // multi-byte: cut on characters
	a.Rule = strings.Repeat("r", 1000)
	for i := range 100 {
		a.OutputFields = a.OutputFields.Set(strings.Repeat("k", 10)+string(rune('a'+i%26))+string(rune('a'+i/26)), alert.StringValue(strings.Repeat("v", 5000)))
	}
	if err := o.Send(context.Background(), []outputs.Message{{Alert: a}}); err != nil {
		t.Fatal(err)
	}
	m := srv.hooks[0]
	at := m.Attachments[0]
	if n := utf8.RuneCountInString(m.Text); n != maxText || !strings.HasSuffix(m.Text, "…") {
		t.Errorf("text: %d runes", n)
	}
	if n := utf8.RuneCountInString(at.Text); n != maxAttachText || !utf8.ValidString(at.Text) {
		t.Errorf("attachment text: %d runes", n)
	}
	if len(at.Fields) != maxFields || utf8.RuneCountInString(at.Fields[len(at.Fields)-1].Value) > maxFieldValue {
		t.Errorf("fields: %d", len(at.Fields))
	}
	if utf8.RuneCountInString(at.Title) > maxTitle {
		t.Errorf("title: %d", len(at.Title))
	}
}

func TestBlocksTemplateTruncated(t *testing.T) {
	srv := newSlackServer(t, 0)
	f := filepath.Join(t.TempDir(), "blocks.tmpl")
	tm := `{"blocks": [{"type": "header", "text": {"type": "plain_text", "text": {{ json .Rule }}}},
  {"type": "section", "text": {"type": "mrkdwn", "text": {{ json .Output }}}}]}`
	if err := os.WriteFile(f, []byte(tm), 0o644); err != nil {
		t.Fatal(err)
	}
	o := newOutput(t, Config{WebhookURL: srv.webhookURL(), TemplateFile: f})
	a := outputtest.Alert(0)
	a.Output, a.Rule = strings.Repeat("x", 5000), strings.Repeat("y", 500)
	if err := o.Send(context.Background(), []outputs.Message{{Alert: a}}); err != nil {
		t.Fatal(err)
	}
	bs := srv.hooks[0].Blocks.BlockSet
	if len(bs) != 2 {
		t.Fatalf("blocks: %d", len(bs))
	}
	if n := len(bs[0].(*slack.HeaderBlock).Text.Text); n > maxHeaderText*3 || utf8.RuneCountInString(bs[0].(*slack.HeaderBlock).Text.Text) != maxHeaderText {
		t.Errorf("header: %d", n)
	}
	if n := utf8.RuneCountInString(bs[1].(*slack.SectionBlock).Text.Text); n != maxBlockText {
		t.Errorf("section: %d", n)
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "text.tmpl")
	_ = os.WriteFile(notJSON, []byte("{{ .Rule }}"), 0o644)
	badFn := filepath.Join(dir, "fn.tmpl")
	_ = os.WriteFile(badFn, []byte("{{ nope .Rule }}"), 0o644)
	cases := []struct {
		name string
		c    Config
		want string
	}{
		{"nothing", Config{}, "webhookurl or token"},
		{"both", Config{WebhookURL: "https://h/services/x", Token: "t"}, "not both"},
		{"token without channel", Config{Token: "t"}, "needs a channel"},
		{"bad url", Config{WebhookURL: "hooks.slack.com/services/SECRET"}, "not an http(s) URL"},
		{"outputformat", Config{WebhookURL: "https://h/services/x", OutputFormat: "pretty"}, "outputformat"},
		{"messageformat", Config{WebhookURL: "https://h/services/x", MessageFormat: "{{ .Nope }}"}, "messageformat"},
		{"template not JSON", Config{WebhookURL: "https://h/services/x", TemplateFile: notJSON}, "did not render a Slack message"},
		{"template function", Config{WebhookURL: "https://h/services/x", TemplateFile: badFn}, `"nope" not defined`},
		{"token file", Config{TokenFile: filepath.Join(dir, "none"), Channel: "c"}, "token_file"},
	}
	for _, c := range cases {
		_, err := New(c.c, outputs.Deps{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: secret in %v", c.name, err)
		}
	}
	tf := filepath.Join(dir, "token")
	_ = os.WriteFile(tf, []byte(botToken+"\n"), 0o600)
	c := Config{TokenFile: tf, Channel: "C1", OutputFormat: "field"}
	if err := c.Validate(); err != nil || c.Token != botToken || c.OutputFormat != "fields" || c.Username != DefaultUsername || c.APIURL != DefaultAPIURL {
		t.Errorf("defaults: %+v %v", c, err)
	}
}

// BenchmarkRateLimited delivers 400 alerts through the real durable queue to
// slacktest limited to 100 messages/s: the output must reach the limit and
// back off on 429 instead of hammering (few throttled requests).
func BenchmarkRateLimited(b *testing.B) {
	const n, limit = 400, 100
	for b.Loop() {
		srv := newSlackServer(b, limit)
		o := newOutput(b, Config{WebhookURL: srv.webhookURL()})
		opts := queue.DefaultOutputOptions()
		opts.Concurrency, opts.BatchSize = 2, 50
		res := outputtest.RunThroughQueue(b, outputtest.QueueRun{Out: o, Msgs: outputtest.Alerts(0, n), Options: &opts})
		outputtest.ReportQueueBench(b, res)
		b.ReportMetric(float64(srv.throttled.Load()), "throttled")
		b.ReportMetric(res.PerSec/limit*100, "%of-limit")
		if got := srv.delivered(); got < n {
			b.Fatalf("server saw %d of %d", got, n)
		}
	}
}

// FuzzMessage: whatever an alert carries (it comes from the network), the
// default template renders a valid message within Slack's limits.
func FuzzMessage(f *testing.F) {
	f.Add("Terminal shell", "out \"quoted\" <b>", "k8s.pod.name", "web-0")
	f.Add("", strings.Repeat("é", 9000), "", "\x00\xff")
	o, err := New(Config{WebhookURL: "http://127.0.0.1:1/services/x"}, outputs.Deps{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, rule, output, key, value string) {
		a := outputtest.Alert(0)
		a.Rule, a.Output = rule, output
		a.OutputFields = a.OutputFields.Set(key, alert.StringValue(value))
		m, err := o.Message(outputs.Message{Alert: a})
		if err != nil {
			t.Fatal(err)
		}
		if utf8.RuneCountInString(m.Attachments[0].Text) > maxAttachText {
			t.Fatal("attachment text over the limit")
		}
	})
}
