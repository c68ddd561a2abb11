package loki

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/httpout"
)

// Defaults.
const (
	DefaultEndpoint       = "/loki/api/v1/push"
	DefaultMaxLabelValues = 200
)

// Config is the Loki output's configuration: falcosidekick's keys (hostport,
// endpoint, tenant, user, apikey, extralabels, customheaders, checkcert) plus
// Lanner's.
type Config struct {
	// HostPort is http(s)://host:port (LOKI_HOSTPORT).
	HostPort string `yaml:"hostport"`
	// Endpoint is the push path (LOKI_ENDPOINT), default /loki/api/v1/push.
	// A query string is kept (VictoriaLogs: ?_stream_fields=...).
	Endpoint string `yaml:"endpoint"`
	// Tenant is sent as X-Scope-OrgID (LOKI_TENANT).
	Tenant string `yaml:"tenant"`
	// User and APIKey are basic-auth credentials (Grafana Cloud).
	User       string `yaml:"user"`
	APIKey     string `yaml:"apikey"`
	APIKeyFile string `yaml:"apikey_file"`
	// Format of the log line: text (the alert's output, default) or json
	// (the alert as falcosidekick's JSON).
	Format string `yaml:"format"`
	// Labels are output_fields keys added as labels (dots become
	// underscores), besides rule, priority, source, hostname and tags.
	Labels []string `yaml:"labels"`
	// ExtraLabels is falcosidekick's comma-separated form of Labels.
	ExtraLabels string `yaml:"extralabels"`
	// MaxLabelValues bounds the distinct values of each label (default
	// 200); later new values become "other" and are counted.
	MaxLabelValues int `yaml:"max_label_values"`
	// Protobuf sends snappy-compressed protobuf instead of JSON.
	Protobuf bool `yaml:"protobuf"`
	// CustomHeaders are added to every push.
	CustomHeaders map[string]string `yaml:"customheaders"`
	// CheckCert verifies the server certificate (default true); MutualTLS
	// requires tls.cert_file/key_file.
	CheckCert *bool             `yaml:"checkcert"`
	MutualTLS bool              `yaml:"mutualtls"`
	Timeout   time.Duration     `yaml:"timeout"`
	TLS       httpout.TLSConfig `yaml:"tls"`
}

// Validate applies defaults and checks the settings.
func (c *Config) Validate() error {
	if c.APIKeyFile != "" {
		k, err := outputs.ReadSecretFile("loki", "apikey", c.APIKeyFile)
		if err != nil {
			return err
		}
		c.APIKey = k
	}
	if c.HostPort == "" {
		return errors.New("loki: hostport is required")
	}
	u, err := url.Parse(c.HostPort)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("loki: hostport %q is not an http(s) URL (http://host:port)", httpout.RedactURL(c.HostPort))
	}
	if c.Endpoint == "" {
		c.Endpoint = DefaultEndpoint
	}
	if !strings.HasPrefix(c.Endpoint, "/") {
		c.Endpoint = "/" + c.Endpoint
	}
	c.Format = strings.ToLower(strings.TrimSpace(c.Format))
	switch c.Format {
	case "":
		c.Format = "text"
	case "text", "json":
	default:
		return fmt.Errorf("loki: format %q: want text or json", c.Format)
	}
	for _, l := range strings.Split(c.ExtraLabels, ",") {
		if l = strings.TrimSpace(l); l != "" {
			c.Labels = append(c.Labels, l)
		}
	}
	c.ExtraLabels = ""
	if c.MaxLabelValues == 0 {
		c.MaxLabelValues = DefaultMaxLabelValues
	}
	if c.MaxLabelValues < 0 {
		return errors.New("loki: max_label_values must be positive")
	}
	if (c.User == "") != (c.APIKey == "") {
		return errors.New("loki: user and apikey must be set together")
	}
	if err := (httpout.Transport{Timeout: &c.Timeout, CheckCert: c.CheckCert, MutualTLS: c.MutualTLS, TLS: &c.TLS}).Apply("loki"); err != nil {
		return err
	}
	return nil
}

func (c *Config) secrets() []string {
	s := []string{c.APIKey}
	if c.User != "" { // what basic auth puts on the wire
		s = append(s, base64.StdEncoding.EncodeToString([]byte(c.User+":"+c.APIKey)))
	}
	for _, v := range c.CustomHeaders {
		s = append(s, v)
		if _, tok, ok := strings.Cut(v, " "); ok {
			s = append(s, tok)
		}
	}
	if u, err := url.Parse(c.HostPort); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			s = append(s, p)
		}
	}
	return s
}
