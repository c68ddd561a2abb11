package config

import (
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"
)

const redacted = "<redacted>"

// Redacted renders the configuration as YAML with every secret masked: the
// ingest token, secret settings (password, apikey, token, webhookurl, ...),
// custom header values, URL passwords, and any value read from a *_file.
// Safe to log.
func (c *Config) Redacted() string {
	type output struct {
		Name            string     `yaml:"name"`
		Type            string     `yaml:"type"`
		Sidekick        bool       `yaml:"falcosidekick,omitempty"`
		MinimumPriority string     `yaml:"minimumpriority,omitempty"`
		Queue           QueueSpec  `yaml:"queue,omitempty"`
		Settings        *yaml.Node `yaml:"settings,omitempty"`
	}
	view := struct {
		HTTP struct {
			Listen       string    `yaml:"listen"`
			TLS          TLSConfig `yaml:"tls,omitempty"`
			MaxBodyBytes int64     `yaml:"max_body_bytes"`
		} `yaml:"http"`
		GRPC struct {
			Listen string    `yaml:"listen"`
			TLS    TLSConfig `yaml:"tls,omitempty"`
		} `yaml:"grpc"`
		Ingest       map[string]string `yaml:"ingest,omitempty"`
		DataDir      string            `yaml:"data_dir"`
		Debug        bool              `yaml:"debug"`
		CustomFields map[string]string `yaml:"customfields,omitempty"`
		Dedup        string            `yaml:"dedup_window"`
		UI           struct {
			Enabled      bool `yaml:"enabled"`
			RecentAlerts int  `yaml:"recent_alerts"`
		} `yaml:"ui"`
		Outputs []output     `yaml:"outputs,omitempty"`
		Routes  []RouteSpec  `yaml:"routes,omitempty"`
		Default *DefaultSpec `yaml:"default,omitempty"`
	}{}
	view.HTTP.Listen, view.HTTP.TLS, view.HTTP.MaxBodyBytes = c.HTTP.Listen, c.HTTP.TLS, c.HTTP.MaxBodyBytes
	view.GRPC.Listen, view.GRPC.TLS = c.GRPC.Listen, c.GRPC.TLS
	if c.Ingest.AuthToken != "" {
		view.Ingest = map[string]string{"auth_token": redacted}
	}
	view.DataDir, view.Debug, view.CustomFields = c.DataDir, c.Debug, c.CustomFields
	view.Dedup = c.Dedup.Window.String()
	view.UI.Enabled, view.UI.RecentAlerts = c.UI.Enabled, c.UI.RecentAlerts
	for _, o := range c.Outputs {
		ov := output{Name: o.Name, Type: o.Type, Sidekick: o.Sidekick, Queue: o.Queue}
		if o.MinimumPriority.Valid() {
			ov.MinimumPriority = o.MinimumPriority.String()
		}
		if o.Settings != nil {
			ov.Settings = c.redactNode(o.Settings, "", 0)
		}
		view.Outputs = append(view.Outputs, ov)
	}
	view.Routes, view.Default = c.Routes, c.Default
	if c.Default != nil {
		d := *c.Default
		d.Outputs = redactRouteOutputs(d.Outputs)
		view.Default = &d
	}
	view.Routes = make([]RouteSpec, len(c.Routes))
	for i, r := range c.Routes {
		r.Outputs = redactRouteOutputs(r.Outputs)
		view.Routes[i] = r
	}
	out, err := yaml.Marshal(view)
	if err != nil {
		return "<unprintable config: " + err.Error() + ">"
	}
	return string(out)
}

// redactRouteOutputs masks overrides of secret settings (a per-route Slack
// webhook URL, say).
func redactRouteOutputs(ros []RouteOutput) []RouteOutput {
	out := make([]RouteOutput, len(ros))
	for i, ro := range ros {
		out[i] = ro
		if len(ro.Overrides) == 0 {
			continue
		}
		out[i].Overrides = make(map[string]string, len(ro.Overrides))
		for k, v := range ro.Overrides {
			if IsSecretKey(k) {
				v = redacted
			}
			out[i].Overrides[k] = v
		}
	}
	return out
}

// String is Redacted, so printing a Config never leaks a secret.
func (c *Config) String() string { return c.Redacted() }

// redactNode deep-copies n, masking secrets. key is the mapping key n is the
// value of (lowercased), depth bounds alias expansion.
func (c *Config) redactNode(n *yaml.Node, key string, depth int) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || depth > 32 {
		return &yaml.Node{Kind: yaml.ScalarNode, Value: "..."}
	}
	cp := &yaml.Node{Kind: n.Kind, Tag: n.Tag, Value: n.Value, Style: n.Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle | yaml.LiteralStyle | yaml.FlowStyle)}
	switch n.Kind {
	case yaml.ScalarNode:
		if IsSecretKey(key) || c.isSecretValue(n.Value) {
			cp.Value, cp.Tag, cp.Style = redacted, "!!str", 0
		} else {
			cp.Value = redactURL(n.Value)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			cp.Content = append(cp.Content, c.redactNode(k, "", depth+1))
			childKey := strings.ToLower(k.Value)
			if key == "customheaders" {
				childKey = "secret" // header values often carry credentials
			}
			cp.Content = append(cp.Content, c.redactNode(n.Content[i+1], childKey, depth+1))
		}
	default:
		for _, item := range n.Content {
			cp.Content = append(cp.Content, c.redactNode(item, key, depth+1))
		}
	}
	return cp
}

func (c *Config) isSecretValue(v string) bool {
	for _, s := range c.secretValues {
		if v == s {
			return true
		}
	}
	return false
}

// redactURL masks the password of a URL with user info.
func redactURL(s string) string {
	if !strings.Contains(s, "@") || !strings.Contains(s, "://") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
		return u.String()
	}
	return s
}
