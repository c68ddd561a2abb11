package config

import (
	"fmt"
	"regexp"
	"strings"
)

// SettingsCheck validates one output's settings without connecting anywhere
// (typically: DecodeSettings into the output's Config, then its Validate).
type SettingsCheck func(spec OutputSpec) error

// Check is what `lanner-router check-config` runs: it loads and validates
// the config at path and, when checkSettings is not nil, every output's
// settings. On failure the error's text is one "file:line: message" per line
// (see Problems). The returned config (nil when it failed to load) carries
// Warnings worth printing too.
func Check(path string, lookupEnv func(string) (string, bool), checkSettings SettingsCheck) (*Config, error) {
	cfg, err := Load(path, lookupEnv)
	if err != nil {
		return nil, err
	}
	if checkSettings == nil {
		return cfg, nil
	}
	errs := &errList{}
	for _, o := range cfg.Outputs {
		if err := checkSettings(o); err != nil {
			for _, p := range Problems(err) {
				if !positionedRE.MatchString(p) {
					prefix := fmt.Sprintf("output %q: ", o.Name)
					p = position(o.File, o.Line) + ": " + prefix + strings.TrimPrefix(p, prefix)
				}
				errs.addErr(&Error{Msg: p})
			}
		}
	}
	if err := errs.join(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// positionedRE recognises a message that already starts with a position
// ("file:12: ..." or "$VAR: ...").
var positionedRE = regexp.MustCompile(`^(\$[A-Za-z0-9_]+|[^:\s]+:\d+):`)
