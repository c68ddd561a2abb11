// Package slack posts alerts to Slack through an incoming webhook or a bot
// token (chat.postMessage), one message per alert, rendered from
// templates/slack.tmpl (or a user file) and kept within Slack's limits.
package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"text/template"

	"github.com/slack-go/slack"

	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/httpout"
	"github.com/lannerhq/lanner/templates"
)

// Slack's limits (https://api.slack.com/methods/chat.postMessage, Block Kit).
const (
	maxText          = 40_000 // message text
	maxAttachText    = 8_000  // attachment text/pretext/fallback, shown collapsed beyond ~700
	maxTitle         = 250
	maxFieldTitle    = 150
	maxFieldValue    = 2_000
	maxFields        = 40
	maxAttachments   = 20
	maxBlocks        = 50
	maxBlockText     = 3_000 // section text and each section field
	maxHeaderText    = 150
	maxSectionFields = 10
)

// Output is the Slack output.
type Output struct {
	cfg    Config
	client *http.Client
	api    *slack.Client // bot token mode; nil with a webhook
	tmpl   *template.Template
	prefix *template.Template // messageformat; nil when unset
	redact *httpout.Redactor
	log    *slog.Logger
}

// New validates c, loads the templates and builds the output.
func New(c Config, d outputs.Deps) (*Output, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	hc, err := httpout.NewClient(httpout.ClientConfig{Timeout: c.Timeout, TLS: c.TLS, MaxConnsPerHost: 4})
	if err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	// Non-2xx answers become classified errors inside the transport, so both
	// slack-go paths (webhook and Web API) keep the status and Retry-After.
	hc.Transport = classifying{hc.Transport}
	o := &Output{cfg: c, client: hc, redact: httpout.NewRedactor(c.secrets()...), log: d.Logger}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.tmpl, err = templates.Load(c.TemplateFile, templates.Slack); err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	if c.MessageFormat != "" {
		if o.prefix, err = templates.Parse("messageformat", c.MessageFormat); err != nil {
			return nil, fmt.Errorf("slack: messageformat: %w", err)
		}
	}
	// The template must yield a Slack message for every format: check now.
	for _, f := range []string{"all", "text", "fields"} {
		if _, err := o.render(templates.Data{Alert: templates.Sample(), Format: f}, nil); err != nil {
			return nil, fmt.Errorf("slack: template: %w", err)
		}
	}
	if c.Token != "" {
		o.api = slack.New(c.Token, slack.OptionHTTPClient(hc), slack.OptionAPIURL(c.APIURL))
	}
	mode := "webhook"
	if o.api != nil {
		mode = "chat.postMessage"
	}
	o.log.Debug("slack output ready", "mode", mode, "channel", c.Channel, "outputformat", c.OutputFormat)
	return o, nil
}

// Message renders the Slack message for one alert (exported for tests and
// previews).
func (o *Output) Message(m outputs.Message) (*slack.WebhookMessage, error) {
	return o.render(templates.Data{Alert: m.Alert, Format: o.cfg.OutputFormat}, m.Overrides)
}

func (o *Output) render(d templates.Data, overrides map[string]string) (*slack.WebhookMessage, error) {
	if o.prefix != nil {
		t, err := templates.Execute(o.prefix, templates.Data{Alert: d.Alert, Format: d.Format})
		if err != nil {
			return nil, err
		}
		d.Text = string(t)
	}
	raw, err := templates.Execute(o.tmpl, d)
	if err != nil {
		return nil, err
	}
	msg := &slack.WebhookMessage{}
	if err := json.Unmarshal(raw, msg); err != nil {
		return nil, fmt.Errorf("template %s did not render a Slack message (JSON): %w", o.tmpl.Name(), err)
	}
	channel, username, icon := o.cfg.Channel, o.cfg.Username, o.cfg.Icon
	if v := overrides["channel"]; v != "" {
		channel = v
	}
	if v := overrides["username"]; v != "" {
		username = v
	}
	if v := overrides["icon"]; v != "" {
		icon = v
	}
	if msg.Channel == "" {
		msg.Channel = channel
	}
	if msg.Username == "" {
		msg.Username = username
	}
	if msg.IconURL == "" && msg.IconEmoji == "" {
		if strings.HasPrefix(icon, ":") && strings.HasSuffix(icon, ":") {
			msg.IconEmoji = icon
		} else {
			msg.IconURL = icon
		}
	}
	if o.cfg.Footer != "" {
		for i := range msg.Attachments {
			msg.Attachments[i].Footer = o.cfg.Footer
		}
	}
	limit(msg)
	return msg, nil
}

// limit truncates a message to Slack's limits, cutting text cleanly (whole
// characters, an ellipsis) rather than letting Slack reject it.
func limit(m *slack.WebhookMessage) {
	m.Text = templates.Truncate(maxText, m.Text)
	if len(m.Attachments) > maxAttachments {
		m.Attachments = m.Attachments[:maxAttachments]
	}
	for i := range m.Attachments {
		a := &m.Attachments[i]
		a.Text = templates.Truncate(maxAttachText, a.Text)
		a.Pretext = templates.Truncate(maxAttachText, a.Pretext)
		a.Fallback = templates.Truncate(maxAttachText, a.Fallback)
		a.Title = templates.Truncate(maxTitle, a.Title)
		if len(a.Fields) > maxFields {
			a.Fields = a.Fields[:maxFields]
		}
		for j := range a.Fields {
			a.Fields[j].Title = templates.Truncate(maxFieldTitle, a.Fields[j].Title)
			a.Fields[j].Value = templates.Truncate(maxFieldValue, a.Fields[j].Value)
		}
	}
	if m.Blocks == nil {
		return
	}
	if len(m.Blocks.BlockSet) > maxBlocks {
		m.Blocks.BlockSet = m.Blocks.BlockSet[:maxBlocks]
	}
	for _, b := range m.Blocks.BlockSet {
		switch s := b.(type) {
		case *slack.SectionBlock:
			limitText(s.Text, maxBlockText)
			if len(s.Fields) > maxSectionFields {
				s.Fields = s.Fields[:maxSectionFields]
			}
			for _, f := range s.Fields {
				limitText(f, maxBlockText)
			}
		case *slack.HeaderBlock:
			limitText(s.Text, maxHeaderText)
		case *slack.ContextBlock:
			for _, e := range s.ContextElements.Elements {
				if t, ok := e.(*slack.TextBlockObject); ok {
					limitText(t, maxBlockText)
				}
			}
		}
	}
}

func limitText(t *slack.TextBlockObject, n int) {
	if t != nil {
		t.Text = templates.Truncate(n, t.Text)
	}
}

// Send posts one message per alert, in order. On a failure it stops: the
// alerts before were delivered, the failed one and the rest are reported in
// a PartialError (the rest with the same error, so a 429 pauses them all).
func (o *Output) Send(ctx context.Context, batch []outputs.Message) error {
	for i, m := range batch {
		err := o.post(ctx, m)
		if err == nil {
			continue
		}
		if len(batch) == 1 {
			return err
		}
		// Stop at the first failure (most often Slack's 429): the rest wait
		// for the retry, which honours the Retry-After of failed[i], without
		// an attempt counted against them.
		failed := make(map[int]error, len(batch)-i)
		failed[i] = err
		for j := i + 1; j < len(batch); j++ {
			failed[j] = outputs.ErrNotAttempted
		}
		return &outputs.PartialError{Failed: failed}
	}
	return nil
}

func (o *Output) post(ctx context.Context, m outputs.Message) error {
	msg, err := o.Message(m)
	if err != nil {
		return outputs.Permanent(fmt.Errorf("slack: %w", err))
	}
	if o.api == nil {
		err = slack.PostWebhookCustomHTTPContext(ctx, o.cfg.WebhookURL, o.client, msg)
	} else {
		opts := []slack.MsgOption{
			slack.MsgOptionText(msg.Text, false),
			slack.MsgOptionAttachments(msg.Attachments...),
			slack.MsgOptionUsername(msg.Username),
		}
		if msg.Blocks != nil && len(msg.Blocks.BlockSet) > 0 {
			opts = append(opts, slack.MsgOptionBlocks(msg.Blocks.BlockSet...))
		}
		if msg.IconEmoji != "" {
			opts = append(opts, slack.MsgOptionIconEmoji(msg.IconEmoji))
		} else if msg.IconURL != "" {
			opts = append(opts, slack.MsgOptionIconURL(msg.IconURL))
		}
		_, _, err = o.api.PostMessageContext(ctx, msg.Channel, opts...)
	}
	if err = classify(err); err == nil {
		return nil // a 2xx other than 200, which slack-go reports as an error
	}
	return o.redact.Error(fmt.Errorf("slack: %w", httpout.RedactURLError(err)))
}

// classify maps slack-go's errors onto the queue's decision. HTTP statuses
// were already classified by the transport.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return outputs.RetryAfter(err, rl.RetryAfter)
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		return httpout.ClassifyStatus(sc.Code, "", err)
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout", "team_added_to_org":
			return err
		}
		// channel_not_found, not_in_channel, invalid_auth, msg_too_long…:
		// the same message would fail again.
		return outputs.Permanent(err)
	}
	return err // network errors, timeouts, cancellation: retry
}

// classifying turns non-2xx HTTP answers into classified errors (bounded
// body, Retry-After honoured) before slack-go sees them.
type classifying struct{ next http.RoundTripper }

func (c classifying) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err != nil || (resp.StatusCode >= 200 && resp.StatusCode < 300) {
		return resp, err
	}
	cerr := httpout.Classify(resp, nil)
	httpout.DrainClose(resp.Body)
	return nil, cerr
}

// Close releases idle connections.
func (o *Output) Close() error {
	o.client.CloseIdleConnections()
	return nil
}

var _ outputs.Output = (*Output)(nil)
