package config

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// falcosidekick compatibility: its top-level keys and output sections in the
// config file, and its environment variables (which override the file, as in
// falcosidekick). Keys inside a falcosidekick section are case-insensitive,
// as viper makes them.

// sidekickOutputs lists, per supported section, the keys falcosidekick
// documents; their <SECTION>_<KEY> environment variables are read. Keys a
// file sets beyond these are read from the environment too.
var sidekickOutputs = map[string][]string{
	"webhook":       {"address", "method", "customheaders", "mutualtls", "checkcert", "minimumpriority"},
	"slack":         {"webhookurl", "channel", "footer", "icon", "username", "outputformat", "messageformat", "minimumpriority"},
	"kafka":         {"hostport", "topic", "topiccreation", "sasl", "tls", "username", "password", "async", "requiredacks", "compression", "balancer", "clientid", "minimumpriority"},
	"elasticsearch": {"hostport", "index", "type", "suffix", "username", "password", "apikey", "customheaders", "mutualtls", "checkcert", "pipeline", "minimumpriority"},
	"loki":          {"hostport", "user", "apikey", "tenant", "format", "endpoint", "extralabels", "customheaders", "mutualtls", "checkcert", "minimumpriority"},
}

// SidekickKeys lists the keys falcosidekick documents for a supported output
// section (minimumpriority included, which Lanner takes out of the settings).
// An output package's Config should accept all the others, so that an
// existing falcosidekick config.yaml decodes; its tests can check that.
func SidekickKeys(section string) []string {
	return append([]string(nil), sidekickOutputs[section]...)
}

// sidekickAddressKey is the key whose non-empty value enables each output.
var sidekickAddressKey = map[string]string{
	"webhook": "address", "slack": "webhookurl", "kafka": "hostport",
	"elasticsearch": "hostport", "loki": "hostport",
}

// SidekickDefaults are falcosidekick's documented defaults that Lanner fills
// in for outputs configured the falcosidekick way, when the key is not set.
// Output packages must accept these keys.
func SidekickDefaults(section string) map[string]string {
	switch section {
	case "webhook":
		return map[string]string{"method": "POST"}
	case "slack":
		return map[string]string{"outputformat": "all"}
	case "kafka":
		return map[string]string{"requiredacks": "NONE", "compression": "NONE"}
	case "elasticsearch":
		return map[string]string{"index": "falco", "suffix": "daily"}
	case "loki":
		return map[string]string{"endpoint": "/loki/api/v1/push"}
	}
	return nil
}

// sidekickUnsupported are falcosidekick output sections Lanner does not
// implement: accepted (with a warning) while disabled, an error when enabled.
var sidekickUnsupported = []string{
	"alertmanager", "aws", "azure", "cliq", "cloudevents", "datadog", "datadoglogs", "discord",
	"dogstatsd", "dynatrace", "falcosidekickui", "fission", "gcp", "googlechat", "gotify", "grafana",
	"grafanaoncall", "influxdb", "kafkarest", "kubeless", "logstash", "mattermost", "mqtt", "n8n",
	"nats", "nodered", "openfaas", "openobserve", "opsgenie", "otlp", "pagerduty", "policyreport",
	"prometheus", "quickwit", "rabbitmq", "redis", "rocketchat", "smtp", "splunk", "spyderbat",
	"stan", "statsd", "sumologic", "syslog", "talon", "teams", "tekton", "telegram", "timescaledb",
	"wavefront", "webex", "webui", "yandex", "zincsearch", "zoho",
}

// sidekickEnablingKeys are keys that, non-empty, enable a falcosidekick output.
var sidekickEnablingKeys = map[string]bool{
	"webhookurl": true, "hostport": true, "address": true, "apikey": true, "url": true,
	"functionname": true, "function": true, "topicarn": true, "loggroup": true, "bucket": true,
	"forwarder": true, "routingkey": true, "projectid": true, "endpoint": true, "name": true,
	"token": true, "chatid": true, "host": true,
}

// sidekickEnablingEnv are the enabling keys probed in the environment for
// unsupported outputs (a short list: generic names such as HOST or NAME could
// be set for other reasons).
var sidekickEnablingEnv = []string{"webhookurl", "hostport", "address", "apikey", "functionname", "routingkey", "forwarder"}

// sidekickIgnoredGlobals are falcosidekick global keys Lanner accepts without
// acting on them (a warning says so when they are set).
var sidekickIgnoredGlobals = []string{
	"templatedfields", "bracketreplacer", "outputfieldformat", "tlsserver", "tlsclient",
	"mutualtlsclient", "mutualtlsfilespath_deprecated", "otlpmetrics",
}

type sidekick struct {
	d        *decoder
	cfg      *Config
	env      func(string) (string, bool)
	sections map[string]*yaml.Node

	listenAddress     string
	listenPort        int
	listenSet         bool
	listenLine        int
	unsupportedInFile map[string]bool
}

func (s *sidekick) addTopFields(fields map[string]field) {
	d := s.d
	fields["listenaddress"] = func(k, v *yaml.Node) {
		s.listenAddress, s.listenSet, s.listenLine = d.str(v, "listenaddress"), true, k.Line
	}
	fields["listenport"] = func(k, v *yaml.Node) {
		s.listenPort, s.listenSet, s.listenLine = int(d.integer(v, "listenport", 1, 65535)), true, k.Line
	}
	fields["mutualtlsfilespath"] = func(_, v *yaml.Node) {
		s.cfg.Sidekick.MutualTLSFilesPath = d.str(v, "mutualtlsfilespath")
	}
	fields["checkcert"] = func(_, v *yaml.Node) { s.cfg.Sidekick.CheckCert = d.boolean(v, "checkcert") }
	for name := range sidekickOutputs {
		fields[name] = func(_, v *yaml.Node) { s.sections[name] = v }
	}
	s.unsupportedInFile = map[string]bool{}
	for _, name := range sidekickUnsupported {
		fields[name] = func(k, v *yaml.Node) {
			s.unsupportedInFile[name] = true
			if key := s.enabledKey(v); key != "" {
				d.errf(k, "falcosidekick output %q is enabled (%s is set) but Lanner does not support it (supported: webhook, slack, kafka, elasticsearch, loki)", name, key)
				return
			}
			s.cfg.Warnings = append(s.cfg.Warnings, fmt.Sprintf("%s: falcosidekick output %q is not supported by Lanner; its disabled section is ignored", s.at(k), name))
		}
	}
	for _, name := range sidekickIgnoredGlobals {
		fields[name] = func(k, v *yaml.Node) {
			if !isNull(d.resolve(v)) {
				s.cfg.Warnings = append(s.cfg.Warnings, fmt.Sprintf("%s: falcosidekick setting %q is not supported by Lanner and is ignored", s.at(k), name))
			}
		}
	}
}

func (s *sidekick) at(n *yaml.Node) string {
	return fmt.Sprintf("%s:%d", s.d.file, n.Line)
}

// enabledKey returns the dotted path of the first non-empty enabling key
// anywhere under n, or "".
func (s *sidekick) enabledKey(n *yaml.Node) string {
	n = s.d.resolve(n)
	if n == nil || n.Kind != yaml.MappingNode || s.d.exhausted() {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := s.d.resolve(n.Content[i]), s.d.resolve(n.Content[i+1])
		key := strings.ToLower(k.Value)
		if v.Kind == yaml.ScalarNode && !isNull(v) && v.Value != "" && sidekickEnablingKeys[key] {
			return key
		}
		if sub := s.enabledKey(v); sub != "" {
			return key + "." + sub
		}
	}
	return ""
}

// envNode makes a scalar for an environment value. Its negative Line indexes
// the variable name so messages can name it.
func (d *decoder) envNode(name, value string) *yaml.Node {
	d.envNames = append(d.envNames, name)
	return &yaml.Node{Kind: yaml.ScalarNode, Value: value, Line: -len(d.envNames)}
}

// lookup returns a non-empty environment value (falcosidekick ignores empty ones).
func (s *sidekick) lookup(name string) (string, bool) {
	v, ok := s.env(name)
	return v, ok && v != ""
}

func (s *sidekick) apply() {
	s.applyListen()
	if v, ok := s.lookup("DEBUG"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			s.d.errs.add("$DEBUG", 0, "expected true or false, got %q", v)
		}
		s.cfg.Debug = b
	}
	if v, ok := s.lookup("CUSTOMFIELDS"); ok {
		for k, val := range parseKV(v) {
			s.cfg.CustomFields[k] = val
		}
	}
	names := make([]string, 0, len(sidekickOutputs))
	for name := range sidekickOutputs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s.output(name)
	}
	for _, name := range sidekickUnsupported {
		for _, key := range sidekickEnablingEnv {
			env := strings.ToUpper(name + "_" + key)
			if _, ok := s.lookup(env); ok {
				s.d.errs.add("$"+env, 0, "falcosidekick output %q is enabled but Lanner does not support it (supported: webhook, slack, kafka, elasticsearch, loki)", name)
			}
		}
	}
}

func (s *sidekick) applyListen() {
	addr, addrOK := s.lookup("LISTENADDRESS")
	portStr, portOK := s.lookup("LISTENPORT")
	if !s.listenSet && !addrOK && !portOK {
		return
	}
	if s.listenSet && s.cfg.HTTP.listenLine != 0 {
		s.d.errs.add(s.d.file, s.listenLine, "listenaddress/listenport conflict with http.listen (line %d); use one of them", s.cfg.HTTP.listenLine)
		return
	}
	host, port, err := net.SplitHostPort(s.cfg.HTTP.Listen)
	if err != nil {
		host, port = "0.0.0.0", "2801"
	}
	if s.listenSet {
		// falcosidekick's "" means all addresses; its default port is 2801.
		host, port = s.listenAddress, "2801"
		if s.listenPort != 0 {
			port = strconv.Itoa(s.listenPort)
		}
	}
	if addrOK {
		host = addr
	}
	if portOK {
		p, err := strconv.Atoi(portStr)
		if err != nil || p < 1 || p > 65535 {
			s.d.errs.add("$LISTENPORT", 0, "expected a port number 1-65535, got %q", portStr)
			return
		}
		port = portStr
	}
	s.cfg.HTTP.Listen = net.JoinHostPort(host, port)
}

// parseKV parses falcosidekick's "key:value,key2:value2" lists. A value may
// itself contain ':' (falcosidekick drops such pairs; Lanner keeps them).
func parseKV(s string) map[string]string {
	out := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(item, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			continue
		}
		out[k] = strings.TrimSpace(v)
	}
	return out
}

// output builds one falcosidekick section (file keys overridden by env) into
// an OutputSpec, if its address key ends up non-empty.
func (s *sidekick) output(name string) {
	d := s.d
	upper := strings.ToUpper(name)
	settings := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	index := map[string]int{} // lowercased key -> index of its value in Content
	spec := OutputSpec{Name: name, Type: name, Sidekick: true, File: d.file}
	set := func(key string, k, v *yaml.Node) {
		if i, ok := index[key]; ok {
			settings.Content[i-1], settings.Content[i] = k, v
			return
		}
		settings.Content = append(settings.Content, k, v)
		index[key] = len(settings.Content) - 1
	}
	if sec := d.resolve(s.sections[name]); !isNull(sec) {
		spec.Line = sec.Line
		settings.Line, settings.Column = sec.Line, sec.Column
		d.pairs(sec, name, func(k, v *yaml.Node) {
			key := strings.ToLower(k.Value)
			if _, dup := index[key]; dup {
				d.errf(k, "%s: duplicate key %q (keys are case-insensitive)", name, k.Value)
				return
			}
			lk := *k
			lk.Value = key
			set(key, &lk, v)
		})
	}
	keys := append([]string(nil), sidekickOutputs[name]...)
	for key := range index {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	keys = compact(keys)
	for _, key := range keys {
		env := upper + "_" + strings.ToUpper(key)
		v, ok := s.lookup(env)
		if !ok {
			continue
		}
		k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}
		if key == "customheaders" {
			node := d.envNode(env, "")
			node.Kind, node.Tag = yaml.MappingNode, "!!map"
			kv := parseKV(v)
			hk := make([]string, 0, len(kv))
			for h := range kv {
				hk = append(hk, h)
			}
			sort.Strings(hk)
			for _, h := range hk {
				node.Content = append(node.Content,
					&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: h, Line: node.Line},
					&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: kv[h], Line: node.Line})
			}
			set(key, k, node)
			continue
		}
		val := d.envNode(env, v)
		if IsSecretKey(key) {
			val.Tag = "!!str" // a secret is text, whatever it looks like
		}
		set(key, k, val)
	}
	// <SECTION>_<SECRET>_FILE: Lanner's addition for secrets in files.
	for _, key := range sidekickOutputs[name] {
		if !IsSecretKey(key) {
			continue
		}
		env := upper + "_" + strings.ToUpper(key) + "_FILE"
		if path, ok := s.lookup(env); ok {
			data, err := readLimited(path)
			if err != nil {
				d.errs.add("$"+env, 0, "%v", err)
				continue
			}
			val := d.envNode(env, strings.TrimRight(string(data), "\r\n"))
			val.Tag = "!!str"
			set(key, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, val)
		}
	}
	addrKey := sidekickAddressKey[name]
	i, ok := index[addrKey]
	if !ok {
		return
	}
	if addr := d.resolve(settings.Content[i]); addr.Kind != yaml.ScalarNode || addr.Value == "" {
		return
	}
	for key, val := range SidekickDefaults(name) {
		if _, ok := index[key]; !ok {
			set(key,
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key, Line: settings.Line},
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: val, Line: settings.Line})
		}
	}
	if spec.Line == 0 {
		spec.File = "$" + upper + "_" + strings.ToUpper(addrKey)
	}
	var minPrio *yaml.Node
	spec.Settings = cleanSettings(d, s.cfg, settings, name, &minPrio)
	if minPrio != nil {
		spec.MinimumPriority = d.priority(minPrio, name+".minimumpriority")
	}
	spec.envNames = d.envNames
	s.cfg.Outputs = append(s.cfg.Outputs, spec)
}

func compact(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}
