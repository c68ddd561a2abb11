package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/httpout"
)

// Config is the webhook output's configuration. The keys are falcosidekick's
// (address, method, customheaders, mutualtls, checkcert) plus Lanner's.
type Config struct {
	// Address is the URL alerts are sent to (WEBHOOK_ADDRESS).
	Address string `yaml:"address"`
	// AddressFile reads Address from a file (when the URL carries a token).
	AddressFile string `yaml:"address_file"`
	// Method is POST (default) or PUT.
	Method string `yaml:"method"`
	// CustomHeaders are added to every request (WEBHOOK_CUSTOMHEADERS).
	CustomHeaders map[string]string `yaml:"customheaders"`
	// CustomHeadersFile maps a header name to a file holding its value
	// (e.g. Authorization: /run/secrets/webhook-token).
	CustomHeadersFile map[string]string `yaml:"customheaders_file"`
	// MutualTLS requires a client certificate (tls.cert_file/key_file).
	MutualTLS bool `yaml:"mutualtls"`
	// CheckCert verifies the server certificate (default true).
	CheckCert *bool `yaml:"checkcert"`
	// Timeout bounds one request (default 10s).
	Timeout time.Duration `yaml:"timeout"`
	// TemplateFile renders the body with a Go template instead of the
	// alert JSON (see templates/webhook.tmpl for an example).
	TemplateFile string `yaml:"template_file"`
	// TLS: CA, client certificate, skip-verify.
	TLS httpout.TLSConfig `yaml:"tls"`
	// Batch sends a batch as one JSON array instead of one request per alert.
	Batch bool `yaml:"batch"`
	// Concurrency bounds the requests in flight for one batch (default 8).
	Concurrency int `yaml:"concurrency"`
	// Pipeline is how many requests (one alert each) are written together
	// on one plain-HTTP connection before their answers are read (HTTP/1.1
	// pipelining; default 8). 1 sends one request at a time.
	Pipeline int `yaml:"pipeline"`
}

// Validate applies defaults and checks the configuration; it reads *_file
// secrets so a missing file fails at startup.
func (c *Config) Validate() error {
	if c.AddressFile != "" {
		a, err := outputs.ReadSecretFile("webhook", "address", c.AddressFile)
		if err != nil {
			return err
		}
		c.Address = a
	}
	if c.Address == "" {
		return errors.New("webhook: address is required")
	}
	u, err := url.Parse(c.Address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("webhook: address %q is not an http(s) URL", httpout.RedactURL(c.Address))
	}
	c.Method = strings.ToUpper(strings.TrimSpace(c.Method))
	switch c.Method {
	case "":
		c.Method = http.MethodPost
	case http.MethodPost, http.MethodPut:
	default:
		return fmt.Errorf("webhook: method %q: want POST or PUT", c.Method)
	}
	for h, f := range c.CustomHeadersFile {
		v, err := outputs.ReadSecretFile("webhook", "customheaders", f)
		if err != nil {
			return fmt.Errorf("%w (header %s)", err, h)
		}
		if c.CustomHeaders == nil {
			c.CustomHeaders = map[string]string{}
		}
		c.CustomHeaders[h] = v
	}
	if err := (httpout.Transport{Timeout: &c.Timeout, CheckCert: c.CheckCert, MutualTLS: c.MutualTLS, TLS: &c.TLS}).Apply("webhook"); err != nil {
		return err
	}
	if c.Concurrency == 0 {
		c.Concurrency = 8
	}
	if c.Concurrency < 0 {
		return errors.New("webhook: concurrency must be positive")
	}
	if c.Pipeline == 0 {
		c.Pipeline = 8
	}
	if c.Pipeline < 0 || c.Pipeline > 64 {
		return errors.New("webhook: pipeline must be between 1 and 64")
	}
	return nil
}

// secrets lists what must never be logged: header values and URL credentials.
func (c *Config) secrets() []string {
	var s []string
	if u, err := url.Parse(c.Address); err == nil {
		if p, ok := u.User.Password(); ok {
			s = append(s, p)
		}
		if u.User != nil {
			s = append(s, u.User.String())
		}
		for _, vs := range u.Query() {
			s = append(s, vs...)
		}
	}
	for _, v := range c.CustomHeaders {
		s = append(s, v)
		// "Bearer xyz": mask the token alone too, wherever it is echoed.
		if _, tok, ok := strings.Cut(v, " "); ok {
			s = append(s, tok)
		}
	}
	return s
}
