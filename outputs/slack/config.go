package slack

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/httpout"
)

// falcosidekick's defaults, kept so its users see the same messages.
const (
	DefaultUsername = "Falcosidekick"
	DefaultIcon     = "https://raw.githubusercontent.com/falcosecurity/falcosidekick/master/imgs/falcosidekick_color.png"
	DefaultAPIURL   = "https://slack.com/api/"
)

// Config is the Slack output's configuration: falcosidekick's keys
// (webhookurl, channel, username, icon, outputformat, messageformat) plus a
// bot token for chat.postMessage and a message template file.
type Config struct {
	// WebhookURL is an incoming webhook (SLACK_WEBHOOKURL); its path is a secret.
	WebhookURL     string `yaml:"webhookurl"`
	WebhookURLFile string `yaml:"webhookurl_file"`
	// Token is a bot token (xoxb-…) used with chat.postMessage instead of
	// a webhook; Channel is then required.
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
	// APIURL is Slack's Web API base (tests point it elsewhere).
	APIURL string `yaml:"apiurl"`
	// Channel, Username and Icon (an image URL or an :emoji:) default per
	// output; a route may override each through Message.Overrides.
	Channel  string `yaml:"channel"`
	Username string `yaml:"username"`
	Icon     string `yaml:"icon"`
	// OutputFormat is all (default), text (no fields) or fields (no output text).
	OutputFormat string `yaml:"outputformat"`
	// MessageFormat is a Go template rendered as the text above the message.
	MessageFormat string `yaml:"messageformat"`
	// TemplateFile replaces templates/slack.tmpl.
	TemplateFile string `yaml:"template_file"`
	// Footer replaces the default template's footer (Lanner · uuid).
	Footer string `yaml:"footer"`
	// CheckCert verifies the server certificate (default true); MutualTLS
	// requires tls.cert_file/key_file.
	CheckCert *bool `yaml:"checkcert"`
	MutualTLS bool  `yaml:"mutualtls"`
	// Timeout bounds one request (default 10s).
	Timeout time.Duration     `yaml:"timeout"`
	TLS     httpout.TLSConfig `yaml:"tls"`
}

// Validate applies defaults, reads *_file secrets and checks the settings.
func (c *Config) Validate() error {
	if c.WebhookURLFile != "" {
		u, err := outputs.ReadSecretFile("slack", "webhookurl", c.WebhookURLFile)
		if err != nil {
			return err
		}
		c.WebhookURL = u
	}
	if c.TokenFile != "" {
		tok, err := outputs.ReadSecretFile("slack", "token", c.TokenFile)
		if err != nil {
			return err
		}
		c.Token = tok
	}
	switch {
	case c.WebhookURL == "" && c.Token == "":
		return errors.New("slack: webhookurl or token is required")
	case c.WebhookURL != "" && c.Token != "":
		return errors.New("slack: set webhookurl or token, not both")
	case c.Token != "" && c.Channel == "":
		return errors.New("slack: token needs a channel (chat.postMessage)")
	}
	if c.WebhookURL != "" {
		u, err := url.Parse(c.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("slack: webhookurl %q is not an http(s) URL", httpout.RedactURL(c.WebhookURL))
		}
	}
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	if !strings.HasSuffix(c.APIURL, "/") {
		c.APIURL += "/"
	}
	if c.Username == "" {
		c.Username = DefaultUsername
	}
	if c.Icon == "" {
		c.Icon = DefaultIcon
	}
	c.OutputFormat = strings.ToLower(strings.TrimSpace(c.OutputFormat))
	switch c.OutputFormat {
	case "":
		c.OutputFormat = "all"
	case "all", "text", "fields":
	case "field": // falcosidekick's docs spell it both ways
		c.OutputFormat = "fields"
	default:
		return fmt.Errorf("slack: outputformat %q: want all, text or fields", c.OutputFormat)
	}
	if err := (httpout.Transport{Timeout: &c.Timeout, CheckCert: c.CheckCert, MutualTLS: c.MutualTLS, TLS: &c.TLS}).Apply("slack"); err != nil {
		return err
	}
	return nil
}

func (c *Config) secrets() []string {
	s := []string{c.Token}
	if c.WebhookURL != "" {
		s = append(s, c.WebhookURL)
		if u, err := url.Parse(c.WebhookURL); err == nil {
			if i := strings.Index(u.Path, "/services/"); i >= 0 {
				tail := u.Path[i+len("/services/"):]
				s = append(s, tail, tail[strings.LastIndex(tail, "/")+1:])
			}
		}
	}
	return s
}
