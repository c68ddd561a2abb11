package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lannerhq/lanner/alert"
)

// env builds a lookupEnv from pairs, never touching the process environment.
func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustLoad(t *testing.T, yml string, lookup func(string) (string, bool)) *Config {
	t.Helper()
	path := ""
	if yml != "" {
		path = writeFile(t, "config.yaml", yml)
	}
	cfg, err := Load(path, lookup)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg
}

func output(t *testing.T, cfg *Config, name string) OutputSpec {
	t.Helper()
	for _, o := range cfg.Outputs {
		if o.Name == name {
			return o
		}
	}
	t.Fatalf("no output %q in %v", name, cfg.Outputs)
	return OutputSpec{}
}

// Config structs shaped like the output packages' (falcosidekick key names).
type webhookConf struct {
	Address       string            `yaml:"address"`
	Method        string            `yaml:"method"`
	CustomHeaders map[string]string `yaml:"customheaders"`
	MutualTLS     bool              `yaml:"mutualtls"`
	CheckCert     bool              `yaml:"checkcert"`
	Timeout       time.Duration     `yaml:"timeout"`
	TLS           struct {
		CAFile string `yaml:"ca_file"`
	} `yaml:"tls"`
}

type esConf struct {
	HostPort      string            `yaml:"hostport"`
	Index         string            `yaml:"index"`
	Suffix        string            `yaml:"suffix"`
	Type          string            `yaml:"type"`
	Username      string            `yaml:"username"`
	Password      string            `yaml:"password"`
	CustomHeaders map[string]string `yaml:"customheaders"`
}

func TestDefaults(t *testing.T) {
	cfg := mustLoad(t, "", nil)
	if cfg.HTTP.Listen != "0.0.0.0:2801" || cfg.GRPC.Listen != "0.0.0.0:2802" ||
		cfg.DataDir != "./lanner-data" || cfg.HTTP.MaxBodyBytes != 1<<20 ||
		cfg.Dedup.Window != time.Hour || len(cfg.Outputs) != 0 || cfg.Default != nil {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
	// An empty file or a file of comments is the defaults too.
	if cfg := mustLoad(t, "# nothing\n", nil); cfg.HTTP.Listen != DefaultHTTPListen {
		t.Fatal("comment-only file changed defaults")
	}
}

func TestLannerConfig(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("s3cret-token\n"), 0o600)
	cfg := mustLoad(t, `
http:
  listen: 127.0.0.1:9801
  max_body_bytes: 2MiB
grpc: {listen: "127.0.0.1:9802"}
ingest: {auth_token_file: `+tokenFile+`}
data_dir: /var/lib/lanner
debug: true
customfields: {cluster: prod, env: eu}
dedup: {window: 10m}
outputs:
  - name: hooks
    type: webhook
    minimumpriority: warning
    queue: {max_entries: 1000, max_bytes: 64MiB, overflow: drop_oldest, concurrency: 4, batch_size: 50, batch_wait: 20ms, max_attempts: 10, max_age: 24h, backoff_initial: 100ms, backoff_max: 1m}
    webhook: {address: "http://127.0.0.1:9999/in", method: PUT, customheaders: {X-A: b}, timeout: 5s}
routes:
  - name: crit
    match:
      priority: {at_least: critical}
      rule: {glob: "Read *"}
      tags: {any_of: [a, b], all_of: [c]}
      source: syscall
      hostname: {regex: "node-[0-9]+"}
      output_fields: {"k8s.ns.name": {equals: prod}, "container.id": {exists: true}}
    outputs: [hooks, {name: hooks, overrides: {channel: "#sec"}}]
    continue: true
    throttle: {key: [rule, hostname], limit: 10, window: 1m}
  - name: noise
    match: {rule: "Noisy"}
    drop: true
default: {outputs: []}
`, nil)
	if cfg.HTTP.Listen != "127.0.0.1:9801" || cfg.HTTP.MaxBodyBytes != 2<<20 || cfg.GRPC.Listen != "127.0.0.1:9802" {
		t.Errorf("listeners: %+v %+v", cfg.HTTP, cfg.GRPC)
	}
	if cfg.Ingest.AuthToken != "s3cret-token" {
		t.Errorf("auth token from file: got %q", cfg.Ingest.AuthToken)
	}
	if !cfg.Debug || cfg.DataDir != "/var/lib/lanner" || cfg.Dedup.Window != 10*time.Minute {
		t.Errorf("globals: %+v", cfg)
	}
	if !reflect.DeepEqual(cfg.CustomFields, map[string]string{"cluster": "prod", "env": "eu"}) {
		t.Errorf("customfields: %v", cfg.CustomFields)
	}
	o := output(t, cfg, "hooks")
	wantQ := QueueSpec{MaxEntries: 1000, MaxBytes: 64 << 20, Overflow: OverflowDropOldest, Concurrency: 4, BatchSize: 50,
		BatchWait: 20 * time.Millisecond, MaxAttempts: 10, MaxAge: 24 * time.Hour, BackoffInitial: 100 * time.Millisecond, BackoffMax: time.Minute}
	o.Queue.line = 0
	if o.Type != "webhook" || o.MinimumPriority != alert.PriorityWarning || o.Queue != wantQ || o.Sidekick {
		t.Errorf("output: %+v", o)
	}
	var wc webhookConf
	if err := DecodeSettings(o, &wc); err != nil {
		t.Fatal(err)
	}
	if wc.Address != "http://127.0.0.1:9999/in" || wc.Method != "PUT" || wc.CustomHeaders["X-A"] != "b" || wc.Timeout != 5*time.Second {
		t.Errorf("settings: %+v", wc)
	}
	r := cfg.Routes[0]
	if r.Name != "crit" || !r.Continue || r.Drop || r.Match.Priority.AtLeast != alert.PriorityCritical ||
		r.Match.Rule.Op != OpGlob || r.Match.Source.Op != OpEquals || r.Match.Source.Value != "syscall" ||
		r.Match.Hostname.Op != OpRegex || len(r.Match.OutputFields) != 2 ||
		!reflect.DeepEqual(r.Match.Tags.AnyOf, []string{"a", "b"}) ||
		r.Throttle.Limit != 10 || r.Throttle.Window != time.Minute || !reflect.DeepEqual(r.Throttle.Key, []string{"rule", "hostname"}) {
		t.Errorf("route: %+v", r)
	}
	if r.Outputs[1].Overrides["channel"] != "#sec" {
		t.Errorf("overrides: %+v", r.Outputs)
	}
	if !cfg.Routes[1].Drop || cfg.Default == nil || len(cfg.Default.Outputs) != 0 {
		t.Errorf("drop/default: %+v %+v", cfg.Routes[1], cfg.Default)
	}
	if s := cfg.Redacted(); strings.Contains(s, "s3cret-token") {
		t.Errorf("Redacted leaks the token:\n%s", s)
	}
}

// falcosidekick's config.yaml keys, case-insensitive inside sections as viper
// makes them, with its documented defaults filled in.
func TestSidekickFile(t *testing.T) {
	cfg := mustLoad(t, `
listenaddress: 127.0.0.1
listenport: 2901
debug: true
customfields:
  Akey: AValue
mutualtlsfilespath: /etc/mycerts
webhook:
  address: http://127.0.0.1:8080/hook
  customHeaders:
    Authorization: Bearer xyz
  minimumpriority: error
elasticsearch:
  hostport: http://127.0.0.1:9200
  username: elastic
  password: changeme
slack:
  webhookurl: ""
  outputformat: all
teams:
  webhookurl: ""
  outputformat: all
`, nil)
	if cfg.HTTP.Listen != "127.0.0.1:2901" || !cfg.Debug || cfg.CustomFields["Akey"] != "AValue" || cfg.Sidekick.MutualTLSFilesPath != "/etc/mycerts" {
		t.Errorf("globals: listen=%s debug=%v cf=%v", cfg.HTTP.Listen, cfg.Debug, cfg.CustomFields)
	}
	if len(cfg.Outputs) != 2 {
		t.Fatalf("want webhook and elasticsearch enabled (slack has no URL), got %+v", cfg.Outputs)
	}
	wh := output(t, cfg, "webhook")
	if !wh.Sidekick || wh.Type != "webhook" || wh.MinimumPriority != alert.PriorityError {
		t.Errorf("webhook spec: %+v", wh)
	}
	var wc webhookConf
	if err := DecodeSettings(wh, &wc); err != nil {
		t.Fatal(err)
	}
	if wc.Method != "POST" || wc.CustomHeaders["Authorization"] != "Bearer xyz" {
		t.Errorf("webhook settings: %+v", wc)
	}
	var ec esConf
	if err := DecodeSettings(output(t, cfg, "elasticsearch"), &ec); err != nil {
		t.Fatal(err)
	}
	if ec.Index != "falco" || ec.Suffix != "daily" || ec.Password != "changeme" {
		t.Errorf("elasticsearch settings: %+v", ec)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], `"teams"`) {
		t.Errorf("warnings: %q", cfg.Warnings)
	}
	red := cfg.Redacted()
	for _, secret := range []string{"changeme", "Bearer xyz"} {
		if strings.Contains(red, secret) {
			t.Errorf("Redacted leaks %q:\n%s", secret, red)
		}
	}
}

// The router configured purely with falcosidekick's environment variables.
func TestSidekickEnv(t *testing.T) {
	cfg := mustLoad(t, "", env(
		"LISTENADDRESS", "127.0.0.1", "LISTENPORT", "3801", "DEBUG", "true",
		"CUSTOMFIELDS", "cluster:prod,url:http://x:1",
		"WEBHOOK_ADDRESS", "http://127.0.0.1:1/h", "WEBHOOK_METHOD", "PUT",
		"WEBHOOK_CUSTOMHEADERS", "Authorization:Bearer t,X-B:c", "WEBHOOK_MINIMUMPRIORITY", "warning",
		"WEBHOOK_CHECKCERT", "false",
		"SLACK_WEBHOOKURL", "https://hooks.slack.com/services/A/B/C", "SLACK_CHANNEL", "#falco",
		"SLACK_USERNAME", "bot", "SLACK_OUTPUTFORMAT", "text", "SLACK_MINIMUMPRIORITY", "critical",
		"KAFKA_HOSTPORT", "127.0.0.1:9092", "KAFKA_TOPIC", "falco", "KAFKA_COMPRESSION", "GZIP",
		"KAFKA_REQUIREDACKS", "ALL", "KAFKA_MINIMUMPRIORITY", "notice",
		"ELASTICSEARCH_HOSTPORT", "http://127.0.0.1:9200", "ELASTICSEARCH_INDEX", "alerts",
		"ELASTICSEARCH_SUFFIX", "monthly", "ELASTICSEARCH_USERNAME", "u", "ELASTICSEARCH_PASSWORD", "12345",
		"ELASTICSEARCH_MINIMUMPRIORITY", "debug",
		"LOKI_HOSTPORT", "http://127.0.0.1:3100", "LOKI_TENANT", "t1", "LOKI_MINIMUMPRIORITY", "",
		"LOKI_ENDPOINT", "",
	))
	if cfg.HTTP.Listen != "127.0.0.1:3801" || !cfg.Debug {
		t.Errorf("listen/debug: %s %v", cfg.HTTP.Listen, cfg.Debug)
	}
	if !reflect.DeepEqual(cfg.CustomFields, map[string]string{"cluster": "prod", "url": "http://x:1"}) {
		t.Errorf("customfields: %v", cfg.CustomFields)
	}
	want := map[string]alert.Priority{
		"webhook": alert.PriorityWarning, "slack": alert.PriorityCritical, "kafka": alert.PriorityNotice,
		"elasticsearch": alert.PriorityDebug, "loki": alert.PriorityUnset,
	}
	if len(cfg.Outputs) != len(want) {
		t.Fatalf("outputs: %+v", cfg.Outputs)
	}
	for name, prio := range want {
		if o := output(t, cfg, name); o.MinimumPriority != prio || o.Type != name || !o.Sidekick {
			t.Errorf("%s: %+v", name, o)
		}
	}
	var wc webhookConf
	wc.CheckCert = true
	if err := DecodeSettings(output(t, cfg, "webhook"), &wc); err != nil {
		t.Fatal(err)
	}
	if wc.Method != "PUT" || wc.CheckCert || !reflect.DeepEqual(wc.CustomHeaders, map[string]string{"Authorization": "Bearer t", "X-B": "c"}) {
		t.Errorf("webhook: %+v", wc)
	}
	var ec esConf
	if err := DecodeSettings(output(t, cfg, "elasticsearch"), &ec); err != nil {
		t.Fatal(err)
	}
	if ec.Index != "alerts" || ec.Suffix != "monthly" || ec.Password != "12345" {
		t.Errorf("elasticsearch: %+v", ec)
	}
	var loki map[string]string
	if err := DecodeSettings(output(t, cfg, "loki"), &loki); err != nil {
		t.Fatal(err)
	}
	if loki["endpoint"] != "/loki/api/v1/push" || loki["tenant"] != "t1" || loki["hostport"] != "http://127.0.0.1:3100" {
		t.Errorf("loki: %v", loki)
	}
	var kafka map[string]string
	DecodeSettings(output(t, cfg, "kafka"), &kafka)
	if kafka["requiredacks"] != "ALL" || kafka["compression"] != "GZIP" || kafka["topic"] != "falco" {
		t.Errorf("kafka: %v", kafka)
	}
	var slack map[string]string
	DecodeSettings(output(t, cfg, "slack"), &slack)
	if slack["outputformat"] != "text" || slack["channel"] != "#falco" || slack["username"] != "bot" {
		t.Errorf("slack: %v", slack)
	}
	if red := cfg.Redacted(); strings.Contains(red, "hooks.slack.com") || strings.Contains(red, "12345") || strings.Contains(red, "Bearer t") {
		t.Errorf("Redacted leaks a secret:\n%s", red)
	}
}

// Environment variables override the file, as in falcosidekick.
func TestSidekickEnvOverridesFile(t *testing.T) {
	cfg := mustLoad(t, `
webhook:
  address: http://file/
  method: PUT
  minimumpriority: debug
`, env("WEBHOOK_ADDRESS", "http://env/", "WEBHOOK_MINIMUMPRIORITY", "alert", "LISTENPORT", "4000"))
	o := output(t, cfg, "webhook")
	var wc webhookConf
	if err := DecodeSettings(o, &wc); err != nil {
		t.Fatal(err)
	}
	if wc.Address != "http://env/" || wc.Method != "PUT" || o.MinimumPriority != alert.PriorityAlert {
		t.Errorf("got %+v prio %v", wc, o.MinimumPriority)
	}
	if cfg.HTTP.Listen != "0.0.0.0:4000" {
		t.Errorf("LISTENPORT: %s", cfg.HTTP.Listen)
	}
	// Top-level keys are case-insensitive, as with viper.
	cfg = mustLoad(t, "Webhook: {Address: http://x/}\nCustomFields: {a: b}\nListenPort: 2999\n", nil)
	if len(cfg.Outputs) != 1 || cfg.CustomFields["a"] != "b" || cfg.HTTP.Listen != ":2999" {
		t.Errorf("case-folded keys: %+v %v %s", cfg.Outputs, cfg.CustomFields, cfg.HTTP.Listen)
	}
	// A section whose address is set only by env is enabled; without an
	// address it stays disabled even if other keys are set.
	cfg = mustLoad(t, "", env("WEBHOOK_METHOD", "PUT"))
	if len(cfg.Outputs) != 0 {
		t.Errorf("webhook without address enabled: %+v", cfg.Outputs)
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("hunter2\n"), 0o600)
	cfg := mustLoad(t, `
outputs:
  - name: es
    type: elasticsearch
    elasticsearch: {hostport: "http://127.0.0.1:9200", username: u, password_file: `+pw+`}
`, env("ELASTICSEARCH_HOSTPORT", "http://127.0.0.1:9201", "ELASTICSEARCH_PASSWORD_FILE", pw))
	for _, name := range []string{"es", "elasticsearch"} {
		var ec esConf
		if err := DecodeSettings(output(t, cfg, name), &ec); err != nil {
			t.Fatal(err)
		}
		if ec.Password != "hunter2" {
			t.Errorf("%s: password from file: %q", name, ec.Password)
		}
	}
	if strings.Contains(cfg.Redacted(), "hunter2") {
		t.Error("Redacted leaks a file secret")
	}
	// Missing file: the error names the key and path, never a value.
	_, err := Load(writeFile(t, "c.yaml", `
ingest: {auth_token_file: /nonexistent/token}
`), nil)
	if err == nil || !strings.Contains(err.Error(), "ingest.auth_token_file") {
		t.Errorf("want auth_token_file error, got %v", err)
	}
}

// Problems are reported all at once, sorted by line, each "file:line: msg".
func TestAllErrorsInOnePass(t *testing.T) {
	path := writeFile(t, "bad.yaml", `http:
  listen: nope
  bogus: 1
outputs:
  - name: a
    type: webhook
    minimumpriority: loud
routes:
  - name: r
    outputs: [missing]
`)
	_, err := Load(path, nil)
	got := Problems(err)
	want := []string{
		path + ":3: http: unknown key \"bogus\" (known: listen, max_body_bytes, tls)",
		path + ":7: output \"a\".minimumpriority: unknown priority \"loud\" (want one of Emergency, Alert, Critical, Error, Warning, Notice, Informational, Debug)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decode problems:\n got %q\nwant %q", got, want)
	}
	// Semantic problems come together too, once decoding succeeded.
	path = writeFile(t, "bad2.yaml", `http: {listen: nope}
outputs:
  - {name: a, type: webhook}
  - {name: a, type: pager}
routes:
  - name: r
    outputs: [missing]
`)
	_, err = Load(path, nil)
	got = Problems(err)
	want = []string{
		path + ":1: http.listen: \"nope\" is not host:port",
		path + ":4: output \"a\": defined twice (also at " + path + ":3)",
		path + ":4: output \"a\": unknown type \"pager\" (one of [webhook slack kafka elasticsearch loki])",
		path + ":7: route \"r\": unknown output \"missing\" (defined: [a])",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("validate problems:\n got %q\nwant %q", got, want)
	}
}

var update = flag.Bool("update", false, "rewrite the # want: lines of testdata/invalid fixtures")

// Every file in testdata/invalid holds one mistake and, in "# want:"
// comments, the exact problems it must produce ("FILE" stands for its path).
func TestInvalidFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			lookup := map[string]string{}
			for _, line := range strings.Split(string(data), "\n") {
				if w, ok := strings.CutPrefix(line, "# want: "); ok {
					want = append(want, strings.ReplaceAll(w, "FILE", f))
				}
				if e, ok := strings.CutPrefix(line, "# env: "); ok {
					k, v, _ := strings.Cut(e, "=")
					lookup[k] = v
				}
			}
			_, err = Load(f, func(k string) (string, bool) { v, ok := lookup[k]; return v, ok })
			got := Problems(err)
			if *update {
				var keep []string
				for _, line := range strings.Split(string(data), "\n") {
					if !strings.HasPrefix(line, "# want: ") {
						keep = append(keep, line)
					}
				}
				var head []string
				for _, g := range got {
					head = append(head, "# want: "+strings.ReplaceAll(g, f, "FILE"))
				}
				out := strings.TrimRight(strings.Join(keep, "\n"), "\n") + "\n" + strings.Join(head, "\n") + "\n"
				if err := os.WriteFile(f, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if len(want) == 0 {
				t.Fatal("fixture has no # want: line")
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("\n got %q\nwant %q", got, want)
			}
		})
	}
}

func TestDecodeSettingsStrict(t *testing.T) {
	path := writeFile(t, "c.yaml", `outputs:
  - name: h
    type: webhook
    webhook:
      address: http://x
      adress: typo
      timeout: soon
      tls: {ca_file: /ca, cafile: /x}
`)
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wc webhookConf
	got := Problems(DecodeSettings(output(t, cfg, "h"), &wc))
	want := []string{
		path + `:6: output "h": unknown key "adress" (did you mean "address"?)`,
		path + `:7: output "h": cannot unmarshal !!str ` + "`soon`" + ` into time.Duration`,
		path + `:8: output "h".tls: unknown key "cafile" (did you mean "ca_file"?)`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("\n got %q\nwant %q", got, want)
	}
	// A bad value from the environment names the variable.
	cfg = mustLoad(t, "", env("WEBHOOK_ADDRESS", "http://x", "WEBHOOK_CHECKCERT", "maybe"))
	got = Problems(DecodeSettings(output(t, cfg, "webhook"), &wc))
	want = []string{`$WEBHOOK_CHECKCERT: output "webhook": cannot unmarshal !!str ` + "`maybe`" + ` into bool`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("\n got %q\nwant %q", got, want)
	}
}

func TestCheck(t *testing.T) {
	path := writeFile(t, "c.yaml", `outputs:
  - name: h
    type: webhook
    webhook: {address: http://x, nope: 1}
`)
	_, err := Check(path, nil, func(o OutputSpec) error {
		var wc webhookConf
		return DecodeSettings(o, &wc)
	})
	want := path + `:4: output "h": unknown key "nope" (known: address, checkcert, customheaders, method, mutualtls, timeout, tls)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	// Unpositioned errors (an output's own Validate) get the output's position.
	_, err = Check(path, nil, func(o OutputSpec) error {
		return errors.Join(errors.New(`output "h": address is required`), errors.New("timeout too short"))
	})
	want = path + ":2: output \"h\": address is required\n" + path + ":2: output \"h\": timeout too short"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	if _, err := Check("", nil, nil); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pat, s string
		want   bool
	}{
		{"Read*", "Read sensitive file", true},
		{"*sensitive*", "Read sensitive file", true},
		{"*.sh", "/usr/bin/x.sh", true},
		{"/etc/*", "/etc/ssl/certs", true},
		{"a?c", "abc", true},
		{"a?c", "aéc", true},
		{"a?c", "ac", false},
		{`a\*`, "a*", true},
		{`a\*`, "ab", false},
		{"", "", true},
		{"", "x", false},
		{"*", "", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
	} {
		g, err := CompileGlob(tc.pat)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.Match(tc.s); got != tc.want {
			t.Errorf("%q ~ %q = %v, want %v", tc.pat, tc.s, got, tc.want)
		}
	}
	if _, err := CompileGlob(`abc\`); err == nil {
		t.Error("trailing escape accepted")
	}
}

func TestSizes(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "1MiB": 1 << 20, "64 KiB": 64 << 10, "2GB": 2e9, "10B": 10} {
		if got, ok := parseSize(in); !ok || got != want {
			t.Errorf("%s: %d %v", in, got, ok)
		}
	}
	for _, in := range []string{"-1", "1XB", "", "99999999999GiB"} {
		if _, ok := parseSize(in); ok {
			t.Errorf("%q accepted", in)
		}
	}
}

// The example files in testdata/valid load cleanly.
func TestValidFixtures(t *testing.T) {
	cfg, err := Load("testdata/valid/lanner.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Outputs) != 5 || len(cfg.Routes) != 4 || cfg.Routes[3].Name != "route-4" || len(cfg.Warnings) != 0 {
		t.Errorf("lanner.yaml: %d outputs, %d routes, warnings %q", len(cfg.Outputs), len(cfg.Routes), cfg.Warnings)
	}
	cfg, err = Load("testdata/valid/falcosidekick.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range cfg.Outputs {
		names = append(names, o.Name)
	}
	if !reflect.DeepEqual(names, []string{"loki", "slack", "webhook"}) {
		t.Errorf("enabled outputs %v", names)
	}
	if cfg.HTTP.Listen != ":2801" {
		t.Errorf("listen %q (falcosidekick's empty listenaddress means all addresses)", cfg.HTTP.Listen)
	}
	if len(cfg.Warnings) != 1 {
		t.Errorf("warnings %q", cfg.Warnings)
	}
}

// No problem report ever contains a secret value.
func TestSecretsNotInErrors(t *testing.T) {
	const secret = "hunter2-very-secret"
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte(secret), 0o600)
	path := writeFile(t, "c.yaml", `
ingest: {auth_token: `+secret+`, auth_token_file: `+pw+`}
outputs:
  - name: es
    type: elasticsearch
    elasticsearch: {hostport: "http://u:`+secret+`@h", password: `+secret+`, password_file: `+pw+`, apikey: [`+secret+`]}
  - name: s
    type: slack
    slack: {webhookurl: {x: `+secret+`}}
`)
	_, err := Load(path, env("SLACK_WEBHOOKURL", secret, "KAFKA_HOSTPORT", "h", "KAFKA_PASSWORD", secret))
	if err == nil {
		t.Fatal("want errors")
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error leaks the secret:\n%v", err)
	}
	cfg := mustLoad(t, "", env("KAFKA_HOSTPORT", "h", "KAFKA_PASSWORD", secret, "KAFKA_ASYNC", "notabool"))
	var kc struct {
		HostPort string `yaml:"hostport"`
		Password int    `yaml:"password"` // wrong type on purpose
		Async    bool   `yaml:"async"`
	}
	err = DecodeSettings(output(t, cfg, "kafka"), &kc)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("DecodeSettings error %v leaks or is missing", err)
	}
	if strings.Contains(cfg.Redacted(), secret) {
		t.Error("Redacted leaks the secret")
	}
	// A per-route override of a secret setting is masked too.
	cfg = mustLoad(t, `
outputs: [{name: s, type: slack}]
routes: [{name: r, outputs: [{name: s, overrides: {webhookurl: `+secret+`, channel: "#a"}}]}]
default: {outputs: [{name: s, overrides: {webhookurl: `+secret+`}}]}
`, nil)
	if red := cfg.Redacted(); strings.Contains(red, secret) || !strings.Contains(red, "#a") {
		t.Errorf("route overrides not redacted as expected:\n%s", red)
	}
}
