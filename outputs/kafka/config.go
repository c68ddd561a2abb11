package kafka

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/httpout"
)

// Defaults applied by Validate. Topic has none: like falcosidekick, an
// output without a topic is a configuration error.
const (
	DefaultKey          = "{{ .Hostname }}"
	DefaultBalancer     = "hash"
	DefaultCompression  = "none"
	DefaultRequiredAcks = "NONE" // falcosidekick's default; see docs for why ALL is safer
	DefaultTimeout      = 10 * time.Second
	defaultPort         = "9092"
)

// Config is one Kafka output. Keys follow falcosidekick's `kafka:` section
// (hostport, topic, topiccreation, sasl, tls, username, password, async,
// requiredacks, compression, balancer, clientid); Lanner adds key,
// password_file, TLS files and timeout.
type Config struct {
	// HostPort is a comma-separated list of bootstrap brokers; a broker
	// without a port gets 9092.
	HostPort string `yaml:"hostport"`
	// Topic is a Go text/template over the alert, e.g. "falco-{{ .Priority | lower }}".
	Topic string `yaml:"topic"`
	// Key is the message key template. Messages with the same key land in the
	// same partition, so the default (hostname) keeps each host's alerts in
	// order. A key that renders empty sends the message without a key.
	Key string `yaml:"key"`
	// TopicCreation asks the broker to auto-create missing topics (the broker
	// must allow it: auto.create.topics.enable).
	TopicCreation bool `yaml:"topiccreation"`
	// SASL is PLAIN, SCRAM_SHA256 or SCRAM_SHA512 (SCRAM-SHA-256 and
	// SCRAM-SHA-512 are accepted too); empty means no authentication.
	SASL         string `yaml:"sasl"`
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	// TLS is `true`/`false` as in falcosidekick, or a mapping with the TLS
	// files (ca_file, cert_file, key_file, insecure_skip_verify), which turns
	// TLS on.
	TLS TLS `yaml:"tls"`
	// Async exists for falcosidekick compatibility only: Lanner always waits
	// for the broker's answer so the queue knows what was delivered; the queue
	// already keeps senders from blocking.
	Async bool `yaml:"async"`
	// RequiredAcks is NONE, ONE or ALL.
	RequiredAcks string `yaml:"requiredacks"`
	// Compression is none, gzip, snappy, lz4 or zstd.
	Compression string `yaml:"compression"`
	// Balancer picks the partition: hash (FNV-1a of the key, default),
	// round_robin, least_bytes, murmur2 (the Java client's default
	// partitioner) or crc32 (librdkafka's). Keyless messages are spread.
	Balancer string `yaml:"balancer"`
	ClientID string `yaml:"clientid"`
	// Timeout bounds one produce request (write and read of the answer).
	Timeout time.Duration `yaml:"timeout"`
}

// TLS is the `tls` key: a plain boolean (falcosidekick) or the TLS files.
type TLS struct {
	Enabled bool
	httpout.TLSConfig
}

// UnmarshalYAML accepts `tls: true` and `tls: {ca_file: ..., ...}`.
func (t *TLS) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&t.Enabled)
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: tls: want true/false or a mapping", n.Line)
	}
	known := map[string]bool{"enabled": true, "ca_file": true, "cert_file": true, "key_file": true, "insecure_skip_verify": true}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; !known[k] {
			return fmt.Errorf("line %d: tls: unknown key %q", n.Content[i].Line, k)
		}
	}
	var w struct {
		Enabled            *bool  `yaml:"enabled"`
		CAFile             string `yaml:"ca_file"`
		CertFile           string `yaml:"cert_file"`
		KeyFile            string `yaml:"key_file"`
		InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	}
	if err := n.Decode(&w); err != nil {
		return err
	}
	t.TLSConfig = httpout.TLSConfig{CAFile: w.CAFile, CertFile: w.CertFile, KeyFile: w.KeyFile, InsecureSkipVerify: w.InsecureSkipVerify}
	t.Enabled = w.Enabled == nil || *w.Enabled
	return nil
}

// Brokers returns the bootstrap brokers, each with a port.
func (c *Config) Brokers() []string {
	var out []string
	for _, b := range strings.Split(c.HostPort, ",") {
		b = strings.TrimSpace(b)
		if b == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(b); err != nil {
			b = net.JoinHostPort(strings.Trim(b, "[]"), defaultPort)
		}
		out = append(out, b)
	}
	return out
}

// Validate applies the defaults and checks the config. It reads
// password_file, so that a missing secret is a startup error.
func (c *Config) Validate() error {
	if len(c.Brokers()) == 0 {
		return errors.New("kafka: hostport: at least one broker is required")
	}
	if strings.TrimSpace(c.Topic) == "" {
		return errors.New("kafka: topic is required")
	}
	if _, err := parseTemplate("topic", c.Topic); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	if c.Key == "" {
		c.Key = DefaultKey
	}
	if _, err := parseTemplate("key", c.Key); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	if c.Balancer == "" {
		c.Balancer = DefaultBalancer
	}
	if _, err := balancer(c.Balancer); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	if c.Compression == "" {
		c.Compression = DefaultCompression
	}
	if _, err := compression(c.Compression); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	if c.RequiredAcks == "" {
		c.RequiredAcks = DefaultRequiredAcks
	}
	if _, err := requiredAcks(c.RequiredAcks); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Timeout < 0 {
		return errors.New("kafka: timeout must be positive")
	}
	if c.PasswordFile != "" {
		if c.Password != "" {
			return errors.New("kafka: set password or password_file, not both")
		}
		pw, err := outputs.ReadSecretFile("kafka", "password", c.PasswordFile)
		if err != nil {
			return err
		}
		c.Password = pw
		c.PasswordFile = ""
	}
	if c.SASL != "" {
		if _, err := saslName(c.SASL); err != nil {
			return fmt.Errorf("kafka: %w", err)
		}
		if c.Username == "" || c.Password == "" {
			return errors.New("kafka: sasl needs username and password (or password_file)")
		}
	}
	if c.TLS.TLSConfig != (httpout.TLSConfig{}) {
		c.TLS.Enabled = true
	}
	if err := c.TLS.TLSConfig.Validate(); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	return nil
}

// saslName normalises the mechanism name to kafka-go's spelling.
func saslName(s string) (string, error) {
	switch strings.ToUpper(strings.ReplaceAll(s, "-", "_")) {
	case "PLAIN":
		return "PLAIN", nil
	case "SCRAM_SHA256", "SCRAM_SHA_256":
		return "SCRAM-SHA-256", nil
	case "SCRAM_SHA512", "SCRAM_SHA_512":
		return "SCRAM-SHA-512", nil
	}
	return "", fmt.Errorf("sasl: unknown mechanism %q (want PLAIN, SCRAM_SHA256 or SCRAM_SHA512)", s)
}
