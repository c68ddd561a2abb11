// Package config loads lanner-router's configuration: Lanner's own YAML, plus
// falcosidekick's config.yaml keys and environment variables, so that an
// existing falcosidekick deployment can switch to Lanner unchanged.
//
// Decoding is strict (unknown keys are errors) and collects every problem of a
// file in one pass, each reported as "file:line: message".
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/lannerhq/lanner/alert"
)

// Defaults of the embedded configuration.
const (
	DefaultHTTPListen      = "0.0.0.0:2801"
	DefaultGRPCListen      = "0.0.0.0:2802"
	DefaultDataDir         = "./lanner-data"
	DefaultMaxBodyBytes    = 1 << 20
	DefaultDedupWindow     = time.Hour
	DefaultThrottleMaxKeys = 10_000
	// DefaultRouteName names the catch-all route in traces and metrics; no
	// user route may take it.
	DefaultRouteName = "default"
	// maxFileBytes bounds the config file and secret files read at load.
	maxFileBytes = 16 << 20
)

// Output types Lanner knows. Each has a package under outputs/.
var outputTypes = []string{"webhook", "slack", "kafka", "elasticsearch", "loki"}

// Queue overflow policies.
const (
	OverflowReject     = "reject"
	OverflowDropOldest = "drop_oldest"
)

// Config is the whole router configuration.
type Config struct {
	// File is the config file it was loaded from ("" for defaults + env).
	File string

	HTTP   HTTPConfig
	GRPC   GRPCConfig
	Ingest IngestConfig
	// DataDir holds the durable queues and the alert store.
	DataDir string
	Debug   bool
	// CustomFields are added to every alert's output_fields (see route.Enrich).
	CustomFields map[string]string
	Dedup        DedupConfig
	UI           UIConfig
	Outputs      []OutputSpec
	Routes       []RouteSpec
	// Default is used when no route matched; nil means every output.
	Default *DefaultSpec
	// Sidekick holds falcosidekick-wide settings that outputs may honour.
	Sidekick SidekickConfig
	// Warnings are accepted-but-unused settings (for example a disabled
	// falcosidekick output Lanner does not implement); log them at startup.
	Warnings []string

	// secretFields records where secrets were found, for Redacted.
	secretValues []string
}

// HTTPConfig is the HTTP listener (Falco JSON ingest, API, UI, metrics).
type HTTPConfig struct {
	Listen       string
	TLS          TLSConfig
	MaxBodyBytes int64
	line         int
	listenLine   int
}

// GRPCConfig is the gRPC ingest listener.
type GRPCConfig struct {
	Listen string
	TLS    TLSConfig
	line   int
}

// TLSConfig enables TLS on a listener when CertFile is set, and mutual TLS
// when ClientCAFile is set too.
type TLSConfig struct {
	CertFile     string `yaml:"cert_file,omitempty"`
	KeyFile      string `yaml:"key_file,omitempty"`
	ClientCAFile string `yaml:"client_ca_file,omitempty"`
	line         int
}

// Enabled reports whether the listener serves TLS.
func (t TLSConfig) Enabled() bool { return t.CertFile != "" }

// IngestConfig protects ingest.
type IngestConfig struct {
	// AuthToken, when set, is required as "Authorization: Bearer TOKEN" on
	// HTTP ingest and as "authorization" metadata on gRPC. A secret.
	AuthToken string
}

// DedupConfig drops replays of an alert uuid within Window (0 disables).
type DedupConfig struct {
	Window time.Duration
}

// UIConfig is the web UI (/ui/) and the store of recent alerts behind it.
type UIConfig struct {
	// Enabled serves the web UI at /ui/ (default true).
	Enabled bool
	// RecentAlerts is how many recently accepted alerts are kept in memory
	// for the UI and GET /api/v1/alerts/recent (default 1000; 0 turns the
	// store and its endpoints off).
	RecentAlerts int
}

// Defaults and bound of ui.recent_alerts.
const (
	DefaultRecentAlerts = 1000
	MaxRecentAlerts     = 1_000_000
)

// SidekickConfig carries falcosidekick's global settings.
type SidekickConfig struct {
	// MutualTLSFilesPath is where falcosidekick looks for client.crt,
	// client.key and ca.crt when an output sets mutualtls (default /etc/certs).
	MutualTLSFilesPath string
	// CheckCert is falcosidekick's global checkcert (default true).
	CheckCert bool
}

// QueueSpec tunes one output's durable queue. Zero values mean "the queue's
// default" (see router/queue).
type QueueSpec struct {
	MaxEntries     int64         `yaml:"max_entries,omitempty"`
	MaxBytes       int64         `yaml:"max_bytes,omitempty"`
	Overflow       string        `yaml:"overflow,omitempty"` // OverflowReject (default) or OverflowDropOldest
	Concurrency    int           `yaml:"concurrency,omitempty"`
	BatchSize      int           `yaml:"batch_size,omitempty"`
	BatchWait      time.Duration `yaml:"batch_wait,omitempty"`
	MaxAttempts    int           `yaml:"max_attempts,omitempty"`
	MaxAge         time.Duration `yaml:"max_age,omitempty"`
	BackoffInitial time.Duration `yaml:"backoff_initial,omitempty"`
	BackoffMax     time.Duration `yaml:"backoff_max,omitempty"`
	line           int
}

// OutputSpec is one configured output. The type-specific settings stay a raw
// YAML node until the output package decodes them with DecodeSettings.
type OutputSpec struct {
	Name string
	Type string
	// MinimumPriority filters every alert sent to this output, whatever route
	// chose it (falcosidekick semantics). Unset means all priorities.
	MinimumPriority alert.Priority
	Queue           QueueSpec
	// Settings is the mapping under the key named like the type (or the
	// falcosidekick section), without minimumpriority, with *_file secrets
	// already read. Nil when there were none.
	Settings *yaml.Node
	// File and Line locate the output's definition ("$VAR" for env-only).
	File string
	Line int
	// Sidekick is true when the output came from a falcosidekick section or
	// environment variables.
	Sidekick bool

	// envNames maps settings nodes that came from the environment (their
	// Line is -(i+1)) to the variable's name, for error messages.
	envNames []string
}

// RouteSpec is one route, matched in order.
type RouteSpec struct {
	Name     string        `yaml:"name"`
	Match    Match         `yaml:"match,omitempty"`
	Outputs  []RouteOutput `yaml:"outputs,omitempty"`
	Continue bool          `yaml:"continue,omitempty"`
	Drop     bool          `yaml:"drop,omitempty"`
	Throttle *ThrottleSpec `yaml:"throttle,omitempty"`
	File     string        `yaml:"-"`
	Line     int           `yaml:"-"`
}

// RouteOutput names an output a route sends to, with per-route overrides of
// the output's settings (for example a Slack channel).
type RouteOutput struct {
	Name      string            `yaml:"name"`
	Overrides map[string]string `yaml:"overrides,omitempty"`
	Line      int               `yaml:"-"`
}

// Match is a conjunction: every set matcher must hold. An empty Match matches
// every alert.
type Match struct {
	Priority     *PriorityMatch `yaml:"priority,omitempty"`
	Rule         *StringMatch   `yaml:"rule,omitempty"`
	Source       *StringMatch   `yaml:"source,omitempty"`
	Hostname     *StringMatch   `yaml:"hostname,omitempty"`
	Tags         *TagsMatch     `yaml:"tags,omitempty"`
	OutputFields []FieldMatch   `yaml:"output_fields,omitempty"`
}

// PriorityMatch compares the alert priority. Exactly excludes the others.
type PriorityMatch struct {
	AtLeast alert.Priority `yaml:"at_least,omitempty"`
	AtMost  alert.Priority `yaml:"at_most,omitempty"`
	Exactly alert.Priority `yaml:"exactly,omitempty"`
	Line    int            `yaml:"-"`
}

// String matcher operators.
const (
	OpEquals = "equals"
	OpGlob   = "glob"
	OpRegex  = "regex"
	OpExists = "exists" // output_fields only
)

// StringMatch tests one string. Regexes are anchored (they must match the
// whole value); globs support '*', '?' and '\' escapes, and '*' crosses '/'.
type StringMatch struct {
	Op    string `yaml:"op"`
	Value string `yaml:"value,omitempty"`
	Line  int    `yaml:"-"`
}

// TagsMatch tests the alert's tags.
type TagsMatch struct {
	AnyOf  []string `yaml:"any_of,omitempty"`
	AllOf  []string `yaml:"all_of,omitempty"`
	NoneOf []string `yaml:"none_of,omitempty"`
	Line   int      `yaml:"-"`
}

// FieldMatch tests one output_fields key, compared on alert.FieldString.
type FieldMatch struct {
	Key         string `yaml:"key"`
	StringMatch `yaml:",inline"`
}

// ThrottleSpec allows at most Limit alerts per key per Window through a route.
type ThrottleSpec struct {
	// Key names alert attributes (rule, priority, source, hostname, tags) or
	// output_fields keys; an empty Key throttles the route as a whole.
	Key     []string      `yaml:"key,omitempty"`
	Limit   int           `yaml:"limit"`
	Window  time.Duration `yaml:"window"`
	MaxKeys int           `yaml:"max_keys,omitempty"`
	Line    int           `yaml:"-"`
}

// DefaultSpec is the route used when no route matched.
type DefaultSpec struct {
	Outputs []RouteOutput `yaml:"outputs"`
	Line    int           `yaml:"-"`
}

// Defaults returns the embedded configuration: no outputs, no routes.
func Defaults() *Config {
	return &Config{
		HTTP:         HTTPConfig{Listen: DefaultHTTPListen, MaxBodyBytes: DefaultMaxBodyBytes},
		GRPC:         GRPCConfig{Listen: DefaultGRPCListen},
		DataDir:      DefaultDataDir,
		CustomFields: map[string]string{},
		Dedup:        DedupConfig{Window: DefaultDedupWindow},
		UI:           UIConfig{Enabled: true, RecentAlerts: DefaultRecentAlerts},
		Sidekick:     SidekickConfig{MutualTLSFilesPath: "/etc/certs", CheckCert: true},
	}
}

// Load reads the config file at path ("" for defaults and environment only),
// applies falcosidekick's environment variables through lookupEnv (nil for
// none; os.LookupEnv in production) and validates the result. The error joins
// every problem found, each "file:line: message" (see Problems).
func Load(path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	cfg := Defaults()
	cfg.File = path
	errs := &errList{}
	var root *yaml.Node
	if path != "" {
		data, err := readLimited(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		root, err = parseYAML(path, data)
		if err != nil {
			return nil, err
		}
	}
	d := &decoder{file: path, errs: errs}
	sk := &sidekick{d: d, cfg: cfg, env: lookupEnv, sections: map[string]*yaml.Node{}}
	if root != nil {
		decodeTop(d, sk, cfg, root)
	}
	sk.apply()
	if err := errs.join(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxFileBytes)
	}
	return data, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// parseYAML parses one YAML document into its root node, turning yaml.v3's
// syntax errors into "file:line: message".
func parseYAML(path string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // empty file: defaults
		}
		return nil, yamlError(path, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{File: path, Line: extra.Line, Msg: "only one YAML document is allowed"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(path, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

func yamlError(path string, err error) error {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: path, Line: line, Msg: m[2]}
	}
	return &Error{File: path, Msg: msg}
}

// decodeTop decodes the top-level mapping: Lanner's keys plus
// falcosidekick's, which may be mixed in one file.
func decodeTop(d *decoder, sk *sidekick, cfg *Config, root *yaml.Node) {
	root = d.resolve(root)
	if isNull(root) {
		return
	}
	if root.Kind != yaml.MappingNode {
		d.errf(root, "expected a mapping at the top level, got %s", kindName(root))
		return
	}
	fields := map[string]field{
		"http": func(_, v *yaml.Node) { decodeHTTP(d, &cfg.HTTP, v) },
		"grpc": func(_, v *yaml.Node) { decodeGRPC(d, &cfg.GRPC, v) },
		"ingest": func(_, v *yaml.Node) {
			var token, tokenFile string
			var line int
			d.mapping(v, "ingest", map[string]field{
				"auth_token":      func(k, v *yaml.Node) { token, line = d.str(v, "ingest.auth_token"), k.Line },
				"auth_token_file": func(k, v *yaml.Node) { tokenFile, line = d.str(v, "ingest.auth_token_file"), k.Line },
			})
			cfg.Ingest.AuthToken = d.secret(line, "ingest.auth_token", token, tokenFile)
			cfg.rememberSecret(cfg.Ingest.AuthToken)
		},
		"data_dir": func(_, v *yaml.Node) { cfg.DataDir = d.str(v, "data_dir") },
		"debug":    func(_, v *yaml.Node) { cfg.Debug = d.boolean(v, "debug") },
		"customfields": func(_, v *yaml.Node) {
			for k, val := range d.strMap(v, "customfields") {
				cfg.CustomFields[k] = val
			}
		},
		"dedup": func(_, v *yaml.Node) {
			d.mapping(v, "dedup", map[string]field{
				"window": func(_, v *yaml.Node) { cfg.Dedup.Window = d.duration(v, "dedup.window") },
			})
		},
		"ui": func(_, v *yaml.Node) {
			d.mapping(v, "ui", map[string]field{
				"enabled": func(_, v *yaml.Node) { cfg.UI.Enabled = d.boolean(v, "ui.enabled") },
				"recent_alerts": func(_, v *yaml.Node) {
					cfg.UI.RecentAlerts = int(d.integer(v, "ui.recent_alerts", 0, MaxRecentAlerts))
				},
			})
		},
		"outputs": func(_, v *yaml.Node) {
			d.list(v, "outputs", func(i int, item *yaml.Node) {
				if o, ok := decodeOutput(d, cfg, item, fmt.Sprintf("outputs[%d]", i)); ok {
					cfg.Outputs = append(cfg.Outputs, o)
				}
			})
		},
		"routes": func(_, v *yaml.Node) {
			d.list(v, "routes", func(i int, item *yaml.Node) {
				cfg.Routes = append(cfg.Routes, decodeRoute(d, item, i))
			})
		},
		"default": func(k, v *yaml.Node) {
			if isNull(d.resolve(v)) {
				return // "default:" with nothing is the same as no default
			}
			def := &DefaultSpec{Line: k.Line, Outputs: []RouteOutput{}}
			d.mapping(v, "default", map[string]field{
				"outputs": func(_, v *yaml.Node) { def.Outputs = decodeRouteOutputs(d, v, "default.outputs") },
			})
			cfg.Default = def
		},
	}
	sk.addTopFields(fields)
	// falcosidekick (viper) reads top-level keys case-insensitively
	// ("Slack:", "customFields:"); accept that spelling too.
	folded := &yaml.Node{Kind: yaml.MappingNode, Tag: root.Tag, Line: root.Line, Column: root.Column}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		if _, ok := fields[k.Value]; !ok && k.Kind == yaml.ScalarNode {
			if lower := strings.ToLower(k.Value); fields[lower] != nil {
				lk := *k
				lk.Value = lower
				k = &lk
			}
		}
		folded.Content = append(folded.Content, k, root.Content[i+1])
	}
	d.mapping(folded, "config", fields)
}

func decodeHTTP(d *decoder, h *HTTPConfig, n *yaml.Node) {
	h.line = d.resolve(n).Line
	d.mapping(n, "http", map[string]field{
		"listen": func(k, v *yaml.Node) {
			h.Listen, h.listenLine = d.str(v, "http.listen"), k.Line
		},
		"tls":            func(_, v *yaml.Node) { decodeTLS(d, &h.TLS, v, "http.tls") },
		"max_body_bytes": func(_, v *yaml.Node) { h.MaxBodyBytes = d.size(v, "http.max_body_bytes") },
	})
}

func decodeGRPC(d *decoder, g *GRPCConfig, n *yaml.Node) {
	g.line = d.resolve(n).Line
	d.mapping(n, "grpc", map[string]field{
		"listen": func(_, v *yaml.Node) { g.Listen = d.str(v, "grpc.listen") },
		"tls":    func(_, v *yaml.Node) { decodeTLS(d, &g.TLS, v, "grpc.tls") },
	})
}

func decodeTLS(d *decoder, t *TLSConfig, n *yaml.Node, what string) {
	t.line = d.resolve(n).Line
	d.mapping(n, what, map[string]field{
		"cert_file":      func(_, v *yaml.Node) { t.CertFile = d.str(v, what+".cert_file") },
		"key_file":       func(_, v *yaml.Node) { t.KeyFile = d.str(v, what+".key_file") },
		"client_ca_file": func(_, v *yaml.Node) { t.ClientCAFile = d.str(v, what+".client_ca_file") },
	})
}

// secret returns value, or the content of file when set (trailing newline
// trimmed). Setting both is an error. Neither the value nor the file content
// ever appears in a message.
func (d *decoder) secret(line int, what, value, file string) string {
	if file == "" {
		return value
	}
	if value != "" {
		d.errs.add(d.file, line, "%s: set either %s or %s_file, not both", what, what, what)
		return ""
	}
	data, err := readLimited(file)
	if err != nil {
		d.errs.add(d.file, line, "%s_file: %v", what, err)
		return ""
	}
	return strings.TrimRight(string(data), "\r\n")
}

func (c *Config) rememberSecret(s string) {
	if s != "" {
		c.secretValues = append(c.secretValues, s)
	}
}

func decodeOutput(d *decoder, cfg *Config, n *yaml.Node, what string) (OutputSpec, bool) {
	n = d.resolve(n)
	o := OutputSpec{File: d.file, Line: n.Line}
	if n.Kind != yaml.MappingNode {
		d.errf(n, "%s: expected a mapping with name and type, got %s", what, kindName(n))
		return o, false
	}
	// The settings key is named like the type, so read the type first.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if d.resolve(n.Content[i]).Value == "type" {
			o.Type = d.str(n.Content[i+1], what+".type")
		}
	}
	var settings, settingsKey *yaml.Node
	var minPrio *yaml.Node
	fields := map[string]field{
		"name":            func(_, v *yaml.Node) { o.Name = d.str(v, what+".name") },
		"type":            func(*yaml.Node, *yaml.Node) {},
		"minimumpriority": func(_, v *yaml.Node) { minPrio = v },
		"queue":           func(_, v *yaml.Node) { o.Queue = decodeQueue(d, v, what+".queue") },
	}
	for _, t := range outputTypes {
		fields[t] = func(k, v *yaml.Node) {
			if t != o.Type {
				d.errf(k, "%s: settings key %q does not match type %q", what, t, o.Type)
				return
			}
			settings, settingsKey = v, k
		}
	}
	d.mapping(n, what, fields)
	if o.Name != "" {
		what = fmt.Sprintf("output %q", o.Name)
	}
	if settings != nil {
		o.Settings = cleanSettings(d, cfg, settings, what+"."+settingsKey.Value, &minPrio)
	}
	if minPrio != nil {
		o.MinimumPriority = d.priority(minPrio, what+".minimumpriority")
	}
	return o, true
}

// cleanSettings copies a settings mapping without minimumpriority (returned
// through minPrio) and with each secret *_file key replaced by its content.
func cleanSettings(d *decoder, cfg *Config, n *yaml.Node, what string, minPrio **yaml.Node) *yaml.Node {
	n = d.resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errf(n, "%s: expected a mapping, got %s", what, kindName(n))
		return nil
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	keys := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys[strings.ToLower(d.resolve(n.Content[i]).Value)] = true
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := d.resolve(n.Content[i]), n.Content[i+1]
		name := k.Value
		switch {
		case strings.EqualFold(name, "minimumpriority"):
			if *minPrio != nil {
				d.errf(k, "%s: minimumpriority is set twice (at the output and in its settings)", what)
			}
			*minPrio = v
			continue
		case strings.HasSuffix(name, "_file") && IsSecretKey(strings.TrimSuffix(name, "_file")):
			base := strings.TrimSuffix(name, "_file")
			if keys[strings.ToLower(base)] {
				d.errf(k, "%s: set either %s or %s, not both", what, base, name)
				continue
			}
			val := d.secret(k.Line, what+"."+base, "", d.str(v, what+"."+name))
			cfg.rememberSecret(val)
			out.Content = append(out.Content,
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: base, Line: k.Line, Column: k.Column},
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: val, Line: k.Line, Column: k.Column})
			continue
		case IsSecretKey(name):
			if rv := d.resolve(v); rv.Kind == yaml.ScalarNode {
				cfg.rememberSecret(rv.Value)
			}
		}
		out.Content = append(out.Content, k, v)
	}
	return out
}

// secretKeys are settings whose values are secrets: they accept a *_file
// variant and are masked by Redacted. Compared lowercased.
var secretKeys = map[string]bool{
	"password": true, "apikey": true, "api_key": true, "token": true, "bottoken": true,
	"bot_token": true, "webhookurl": true, "secret": true, "auth_token": true,
	"sasl_password": true, "accesskey": true, "secretkey": true,
}

// IsSecretKey reports whether a setting (or route override) named k holds a
// secret that must never be printed.
func IsSecretKey(k string) bool { return secretKeys[strings.ToLower(k)] }

func decodeQueue(d *decoder, n *yaml.Node, what string) QueueSpec {
	q := QueueSpec{line: d.resolve(n).Line}
	d.mapping(n, what, map[string]field{
		"max_entries": func(_, v *yaml.Node) { q.MaxEntries = d.integer(v, what+".max_entries", 0, 1<<40) },
		"max_bytes":   func(_, v *yaml.Node) { q.MaxBytes = d.size(v, what+".max_bytes") },
		"overflow":    func(_, v *yaml.Node) { q.Overflow = d.str(v, what+".overflow") },
		"concurrency": func(_, v *yaml.Node) { q.Concurrency = int(d.integer(v, what+".concurrency", 0, 1024)) },
		"batch_size":  func(_, v *yaml.Node) { q.BatchSize = int(d.integer(v, what+".batch_size", 0, 100_000)) },
		"batch_wait":  func(_, v *yaml.Node) { q.BatchWait = d.duration(v, what+".batch_wait") },
		"max_attempts": func(_, v *yaml.Node) {
			q.MaxAttempts = int(d.integer(v, what+".max_attempts", 0, 1_000_000))
		},
		"max_age":         func(_, v *yaml.Node) { q.MaxAge = d.duration(v, what+".max_age") },
		"backoff_initial": func(_, v *yaml.Node) { q.BackoffInitial = d.duration(v, what+".backoff_initial") },
		"backoff_max":     func(_, v *yaml.Node) { q.BackoffMax = d.duration(v, what+".backoff_max") },
	})
	return q
}

func decodeRoute(d *decoder, n *yaml.Node, i int) RouteSpec {
	n = d.resolve(n)
	r := RouteSpec{File: d.file, Line: n.Line}
	what := fmt.Sprintf("routes[%d]", i)
	d.mapping(n, what, map[string]field{
		"name":     func(_, v *yaml.Node) { r.Name = d.str(v, what+".name") },
		"match":    func(_, v *yaml.Node) { r.Match = decodeMatch(d, v, what+".match") },
		"outputs":  func(_, v *yaml.Node) { r.Outputs = decodeRouteOutputs(d, v, what+".outputs") },
		"continue": func(_, v *yaml.Node) { r.Continue = d.boolean(v, what+".continue") },
		"drop":     func(_, v *yaml.Node) { r.Drop = d.boolean(v, what+".drop") },
		"throttle": func(k, v *yaml.Node) {
			t := &ThrottleSpec{Line: k.Line}
			d.mapping(v, what+".throttle", map[string]field{
				"key":      func(_, v *yaml.Node) { t.Key = d.strList(v, what+".throttle.key") },
				"limit":    func(_, v *yaml.Node) { t.Limit = int(d.integer(v, what+".throttle.limit", 0, 1<<31-1)) },
				"window":   func(_, v *yaml.Node) { t.Window = d.duration(v, what+".throttle.window") },
				"max_keys": func(_, v *yaml.Node) { t.MaxKeys = int(d.integer(v, what+".throttle.max_keys", 0, 10_000_000)) },
			})
			r.Throttle = t
		},
	})
	if r.Name == "" {
		r.Name = fmt.Sprintf("route-%d", i+1)
	}
	return r
}

func decodeRouteOutputs(d *decoder, n *yaml.Node, what string) []RouteOutput {
	out := []RouteOutput{}
	n = d.resolve(n)
	if n != nil && n.Kind == yaml.ScalarNode && !isNull(n) {
		return append(out, RouteOutput{Name: n.Value, Line: n.Line})
	}
	d.list(n, what, func(i int, item *yaml.Node) {
		item = d.resolve(item)
		w := fmt.Sprintf("%s[%d]", what, i)
		ro := RouteOutput{Line: item.Line}
		if item.Kind == yaml.ScalarNode {
			ro.Name = d.str(item, w)
		} else {
			d.mapping(item, w, map[string]field{
				"name":      func(_, v *yaml.Node) { ro.Name = d.str(v, w+".name") },
				"overrides": func(_, v *yaml.Node) { ro.Overrides = d.strMap(v, w+".overrides") },
			})
		}
		out = append(out, ro)
	})
	return out
}

func decodeMatch(d *decoder, n *yaml.Node, what string) Match {
	var m Match
	d.mapping(n, what, map[string]field{
		"priority": func(k, v *yaml.Node) {
			p := &PriorityMatch{Line: k.Line}
			d.mapping(v, what+".priority", map[string]field{
				"at_least": func(_, v *yaml.Node) { p.AtLeast = d.priority(v, what+".priority.at_least") },
				"at_most":  func(_, v *yaml.Node) { p.AtMost = d.priority(v, what+".priority.at_most") },
				"exactly":  func(_, v *yaml.Node) { p.Exactly = d.priority(v, what+".priority.exactly") },
			})
			m.Priority = p
		},
		"rule":     func(k, v *yaml.Node) { m.Rule = decodeStringMatch(d, k, v, what+".rule", false) },
		"source":   func(k, v *yaml.Node) { m.Source = decodeStringMatch(d, k, v, what+".source", false) },
		"hostname": func(k, v *yaml.Node) { m.Hostname = decodeStringMatch(d, k, v, what+".hostname", false) },
		"tags": func(k, v *yaml.Node) {
			t := &TagsMatch{Line: k.Line}
			d.mapping(v, what+".tags", map[string]field{
				"any_of":  func(_, v *yaml.Node) { t.AnyOf = d.strList(v, what+".tags.any_of") },
				"all_of":  func(_, v *yaml.Node) { t.AllOf = d.strList(v, what+".tags.all_of") },
				"none_of": func(_, v *yaml.Node) { t.NoneOf = d.strList(v, what+".tags.none_of") },
			})
			m.Tags = t
		},
		"output_fields": func(_, v *yaml.Node) {
			d.pairs(v, what+".output_fields", func(k, v *yaml.Node) {
				if sm := decodeStringMatch(d, k, v, fmt.Sprintf("%s.output_fields[%q]", what, k.Value), true); sm != nil {
					m.OutputFields = append(m.OutputFields, FieldMatch{Key: k.Value, StringMatch: *sm})
				}
			})
		},
	})
	return m
}

// decodeStringMatch accepts "value" (shorthand for equals) or a mapping with
// exactly one of equals, glob, regex (and exists for output_fields).
func decodeStringMatch(d *decoder, k, n *yaml.Node, what string, allowExists bool) *StringMatch {
	n = d.resolve(n)
	sm := &StringMatch{Line: k.Line}
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		sm.Op, sm.Value = OpEquals, n.Value
		return sm
	}
	fields := map[string]field{}
	set := func(op string) field {
		return func(k, v *yaml.Node) {
			if sm.Op != "" {
				d.errf(k, "%s: set only one of %s and %s", what, sm.Op, op)
				return
			}
			sm.Op, sm.Line = op, k.Line
			if op == OpExists {
				if !d.boolean(v, what+".exists") {
					d.errf(k, "%s: exists: false is not supported; omit the matcher instead", what)
				}
				return
			}
			sm.Value = d.str(v, what+"."+op)
		}
	}
	for _, op := range []string{OpEquals, OpGlob, OpRegex} {
		fields[op] = set(op)
	}
	if allowExists {
		fields[OpExists] = set(OpExists)
	}
	before := len(d.errs.errs)
	d.mapping(n, what, fields)
	if sm.Op == "" && len(d.errs.errs) == before {
		d.errf(k, "%s: needs one of %s", what, knownKeys(fields))
		return nil
	}
	return sm
}
