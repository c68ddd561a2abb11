package config_test

import (
	"testing"

	"github.com/lannerhq/lanner/outputs/elasticsearch"
	"github.com/lannerhq/lanner/outputs/kafka"
	"github.com/lannerhq/lanner/outputs/loki"
	"github.com/lannerhq/lanner/outputs/slack"
	"github.com/lannerhq/lanner/outputs/webhook"
	"github.com/lannerhq/lanner/router/config"
)

func TestScratchSidekickKeys(t *testing.T) {
	vals := map[string]string{"mutualtls": "false", "checkcert": "true", "topiccreation": "false", "tls": "false", "async": "false", "minimumpriority": "debug", "customheaders": "A:b", "hostport": "http://127.0.0.1:1", "address": "http://127.0.0.1:1", "webhookurl": "https://x/y"}
	targets := map[string]any{"webhook": &webhook.Config{}, "slack": &slack.Config{}, "kafka": &kafka.Config{}, "elasticsearch": &elasticsearch.Config{}, "loki": &loki.Config{}}
	for sec, into := range targets {
		m := map[string]string{}
		for _, k := range config.SidekickKeys(sec) {
			v, ok := vals[k]
			if !ok {
				v = "x"
			}
			m[upper(sec)+"_"+upper(k)] = v
		}
		cfg, err := config.Load("", func(k string) (string, bool) { v, ok := m[k]; return v, ok })
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range cfg.Outputs {
			if o.Name == sec {
				if err := config.DecodeSettings(o, into); err != nil {
					t.Errorf("%s: %v", sec, err)
				}
			}
		}
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}
