package elasticsearch

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/httpout"
)

// Defaults applied by Validate (falcosidekick's, where it has one).
const (
	DefaultIndex            = "falco"
	DefaultSuffix           = "daily"
	DefaultNumberOfShards   = 3
	DefaultNumberOfReplicas = 3
	DefaultTimeout          = 10 * time.Second
	// defaultMutualTLSDir is falcosidekick's mutualtlsfilespath default.
	defaultMutualTLSDir = "/etc/certs"
)

// Config is one Elasticsearch output. Keys follow falcosidekick's
// `elasticsearch:` section; Lanner adds apikey_file, password_file,
// datastream, skipproductcheck, tls files and timeout.
type Config struct {
	// HostPort is the base URL, e.g. https://es.example:9200 (a path prefix
	// such as http://zinc:4080/es is kept).
	HostPort string `yaml:"hostport"`
	// Index is the index name, or the data stream name with DataStream.
	Index string `yaml:"index"`
	// Type is accepted for falcosidekick compatibility and ignored:
	// Elasticsearch 8 has no mapping types.
	Type string `yaml:"type"`
	// Suffix rotates the index by the alert's date (UTC): daily
	// (falco-2026.11.22), monthly (falco-2026.11), annually (falco-2026) or
	// none. Ignored for data streams.
	Suffix string `yaml:"suffix"`
	// DataStream writes to the data stream named Index with op_type create;
	// documents get an @timestamp field. The stream needs a matching index
	// template with data_stream enabled (createindextemplate makes one).
	DataStream bool `yaml:"datastream"`

	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	// APIKey is the base64 "id:key" credential; it wins over username/password.
	APIKey     string `yaml:"apikey"`
	APIKeyFile string `yaml:"apikey_file"`
	// CustomHeaders are added to every request.
	CustomHeaders map[string]string `yaml:"customheaders"`

	// CreateIndexTemplate installs an index template (mappings for the alert
	// fields) before the first write; like falcosidekick it turns
	// FlattenFields on.
	CreateIndexTemplate bool `yaml:"createindextemplate"`
	NumberOfShards      int  `yaml:"numberofshards"`
	NumberOfReplicas    int  `yaml:"numberofreplicas"`
	// FlattenFields replaces '.' with '_' in output_fields keys, avoiding
	// mapping conflicts such as container.image vs container.image.repository.
	FlattenFields bool `yaml:"flattenfields"`
	// Pipeline is an ingest pipeline every document goes through.
	Pipeline string `yaml:"pipeline"`
	// EnableCompression gzips request bodies.
	EnableCompression bool `yaml:"enablecompression"`

	// MutualTLS and CheckCert are falcosidekick's TLS switches: mutualtls
	// loads client.crt, client.key and ca.crt from /etc/certs unless the tls
	// files are set; checkcert: false skips server certificate checks.
	MutualTLS bool              `yaml:"mutualtls"`
	CheckCert *bool             `yaml:"checkcert"`
	TLS       httpout.TLSConfig `yaml:"tls"`
	// SkipProductCheck accepts servers that do not answer with
	// X-Elastic-Product: Elasticsearch (OpenSearch, some ES-compatible
	// servers), which the official client otherwise refuses.
	SkipProductCheck bool `yaml:"skipproductcheck"`
	// Timeout bounds one _bulk request.
	Timeout time.Duration `yaml:"timeout"`

	// Batching and MaxConcurrentRequests are falcosidekick's; accepted and
	// ignored, since the router's queue batches (batch_size) and runs
	// workers (concurrency) for every output.
	Batching              map[string]any `yaml:"batching"`
	MaxConcurrentRequests int            `yaml:"maxconcurrentrequests"`
}

// Validate applies the defaults and checks the config. It reads the secret
// files, so a missing secret is a startup error.
func (c *Config) Validate() error {
	if c.HostPort == "" {
		return errors.New("elasticsearch: hostport is required")
	}
	u, err := url.Parse(c.HostPort)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("elasticsearch: hostport %q: want http(s)://host:port", httpout.RedactURL(c.HostPort))
	}
	if u.User != nil {
		return errors.New("elasticsearch: hostport: put credentials in username/password, not in the URL")
	}
	if c.Index == "" {
		c.Index = DefaultIndex
	}
	if err := validIndex(c.Index); err != nil {
		return fmt.Errorf("elasticsearch: index: %w", err)
	}
	if c.Suffix == "" {
		c.Suffix = DefaultSuffix
	}
	if _, ok := suffixLayouts[c.Suffix]; !ok {
		return fmt.Errorf("elasticsearch: suffix %q: want daily, monthly, annually or none", c.Suffix)
	}
	if c.NumberOfShards == 0 {
		c.NumberOfShards = DefaultNumberOfShards
	}
	if c.NumberOfReplicas == 0 {
		c.NumberOfReplicas = DefaultNumberOfReplicas
	}
	if c.NumberOfShards < 0 || c.NumberOfReplicas < 0 {
		return errors.New("elasticsearch: numberofshards and numberofreplicas must not be negative")
	}
	if c.CreateIndexTemplate {
		c.FlattenFields = true
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Timeout < 0 {
		return errors.New("elasticsearch: timeout must be positive")
	}
	if c.Password, err = secret("password", c.Password, c.PasswordFile); err != nil {
		return err
	}
	c.PasswordFile = ""
	if c.APIKey, err = secret("apikey", c.APIKey, c.APIKeyFile); err != nil {
		return err
	}
	c.APIKeyFile = ""
	if c.Password != "" && c.Username == "" {
		return errors.New("elasticsearch: password without username")
	}
	if c.MutualTLS && c.TLS.CertFile == "" && c.TLS.KeyFile == "" {
		c.TLS.CertFile = filepath.Join(defaultMutualTLSDir, "client.crt")
		c.TLS.KeyFile = filepath.Join(defaultMutualTLSDir, "client.key")
		if c.TLS.CAFile == "" {
			c.TLS.CAFile = filepath.Join(defaultMutualTLSDir, "ca.crt")
		}
	}
	if c.CheckCert != nil && !*c.CheckCert && !c.MutualTLS {
		c.TLS.InsecureSkipVerify = true
	}
	if err := c.TLS.Validate(); err != nil {
		return fmt.Errorf("elasticsearch: %w", err)
	}
	for k := range c.CustomHeaders {
		if strings.TrimSpace(k) == "" || strings.ContainsAny(k, " :\r\n") {
			return fmt.Errorf("elasticsearch: customheaders: invalid header name %q", k)
		}
	}
	return nil
}

func secret(key, value, file string) (string, error) {
	if file == "" {
		return value, nil
	}
	if value != "" {
		return "", fmt.Errorf("elasticsearch: set %s or %s_file, not both", key, key)
	}
	return outputs.ReadSecretFile("elasticsearch", key, file)
}

// validIndex applies Elasticsearch's index name rules to the configured base.
func validIndex(s string) error {
	if s != strings.ToLower(s) {
		return fmt.Errorf("%q must be lowercase", s)
	}
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "_") || strings.HasPrefix(s, "+") || s == "." || s == ".." {
		return fmt.Errorf("%q must not start with -, _ or +", s)
	}
	if strings.ContainsAny(s, `\/*?"<>| ,#:`) {
		return fmt.Errorf(`%q must not contain any of \ / * ? " < > | space , # or colon`, s)
	}
	if len(s) > 200 {
		return fmt.Errorf("%q is too long", s)
	}
	return nil
}

// suffixLayouts are the time layouts of falcosidekick's suffixes.
var suffixLayouts = map[string]string{
	"daily":    "2006.01.02",
	"monthly":  "2006.01",
	"annually": "2006",
	"none":     "",
}
