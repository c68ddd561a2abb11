package config

import "testing"

func TestUIConfig(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		enabled bool
		recent  int
	}{
		{"defaults", "", true, DefaultRecentAlerts},
		{"off", "ui: {enabled: false}", false, DefaultRecentAlerts},
		{"size", "ui: {recent_alerts: 50_000}", true, 50000},
		{"store off", "ui: {recent_alerts: 0}", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustLoad(t, tt.yaml, nil)
			if cfg.UI.Enabled != tt.enabled || cfg.UI.RecentAlerts != tt.recent {
				t.Errorf("UI = %+v, want enabled %v recent %d", cfg.UI, tt.enabled, tt.recent)
			}
		})
	}
}
