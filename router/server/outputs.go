package server

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/elasticsearch"
	"github.com/lannerhq/lanner/outputs/kafka"
	"github.com/lannerhq/lanner/outputs/loki"
	"github.com/lannerhq/lanner/outputs/slack"
	"github.com/lannerhq/lanner/outputs/webhook"
	"github.com/lannerhq/lanner/router/config"
	"github.com/lannerhq/lanner/router/queue"
)

// outputType knows how to check and build one kind of output from its
// config.OutputSpec.
type outputType struct {
	// check decodes and validates the settings without connecting anywhere.
	check func(spec config.OutputSpec) error
	// build makes the output (it may dial, as Kafka's does).
	build func(spec config.OutputSpec, d outputs.Deps) (outputs.Output, error)
}

// typed wires an output package whose Config has Validate and whose New
// builds the output, so each registry entry is one line.
func typed[C any, PC interface {
	*C
	Validate() error
}, O outputs.Output](newOut func(C, outputs.Deps) (O, error)) outputType {
	decode := func(spec config.OutputSpec) (C, error) {
		var c C
		if err := config.DecodeSettings(spec, PC(&c)); err != nil {
			return c, err
		}
		return c, nil
	}
	return outputType{
		check: func(spec config.OutputSpec) error {
			c, err := decode(spec)
			if err != nil {
				return err
			}
			return PC(&c).Validate()
		},
		build: func(spec config.OutputSpec, d outputs.Deps) (outputs.Output, error) {
			c, err := decode(spec)
			if err != nil {
				return nil, err
			}
			return newOut(c, d)
		},
	}
}

// outputTypes is the registry of output types built into this binary. An
// explicit map (rather than init-time registration) keeps it greppable and
// makes a missing type a startup error instead of a silent no-op.
func outputTypes() map[string]outputType {
	return map[string]outputType{
		"webhook":       typed(webhook.New),
		"slack":         typed(slack.New),
		"kafka":         typed(kafka.New),
		"elasticsearch": typed(elasticsearch.New),
		"loki":          typed(loki.New),
	}
}

// knownTypes lists the registry's type names for error messages.
func knownTypes(types map[string]outputType) string {
	names := make([]string, 0, len(types))
	for n := range types {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func lookupType(types map[string]outputType, spec config.OutputSpec) (outputType, error) {
	t, ok := types[spec.Type]
	if !ok {
		return outputType{}, fmt.Errorf("output %q: type %q is not available in this build (available: %s)",
			spec.Name, spec.Type, knownTypes(types))
	}
	return t, nil
}

// CheckSettings validates one output's settings without connecting anywhere;
// it is the config.SettingsCheck of `lanner-router check-config`.
func CheckSettings(spec config.OutputSpec) error {
	t, err := lookupType(outputTypes(), spec)
	if err != nil {
		return err
	}
	return t.check(spec)
}

// queueOptions turns an output's queue settings into the queue's options;
// zero values keep the queue's defaults.
func queueOptions(q config.QueueSpec) queue.OutputOptions {
	o := queue.DefaultOutputOptions()
	if q.MaxEntries > 0 {
		o.MaxEntries = int(q.MaxEntries)
	}
	if q.MaxBytes > 0 {
		o.MaxBytes = q.MaxBytes
	}
	if q.Overflow == config.OverflowDropOldest {
		o.Overflow = queue.OverflowDropOldest
	}
	if q.Concurrency > 0 {
		o.Concurrency = q.Concurrency
	}
	if q.BatchSize > 0 {
		o.BatchSize = q.BatchSize
	}
	if q.BatchWait > 0 {
		o.BatchWait = q.BatchWait
	}
	if q.MaxAttempts > 0 {
		o.MaxAttempts = q.MaxAttempts
	}
	if q.MaxAge > 0 {
		o.MaxAge = q.MaxAge
	}
	if q.BackoffInitial > 0 {
		o.BackoffInitial = q.BackoffInitial
	}
	if q.BackoffMax > 0 {
		o.BackoffMax = q.BackoffMax
	}
	if o.BackoffMax < o.BackoffInitial {
		o.BackoffMax = o.BackoffInitial
	}
	return o
}

// fingerprint identifies what an output was built from, so that a reload
// restarts only the outputs whose type, settings or queue options changed.
// (minimumpriority and routes live in the router and need no restart.)
func fingerprint(spec config.OutputSpec) string {
	settings := ""
	if spec.Settings != nil {
		b, err := yaml.Marshal(spec.Settings)
		if err != nil {
			settings = fmt.Sprintf("unmarshalable:%p", spec.Settings) // always differs: restart
		} else {
			settings = string(b)
		}
	}
	return fmt.Sprintf("%s\x00%+v\x00%s", spec.Type, queueOptions(spec.Queue), settings)
}
