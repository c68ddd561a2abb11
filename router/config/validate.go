package config

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
)

var outputNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// CompileRegex compiles a matcher regex the way routes use it: anchored, so
// it must match the whole value.
func CompileRegex(expr string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + expr + ")$")
}

// Validate checks the configuration's meaning: listeners, TLS files, unique
// output and route names, routes that name known outputs, compilable
// matchers and sane queue and throttle settings. Load calls it.
func (c *Config) Validate() error {
	errs := &errList{}
	f := c.File
	httpLine := c.HTTP.listenLine
	if httpLine == 0 {
		httpLine = c.HTTP.line
	}
	checkListen(errs, f, httpLine, "http.listen", c.HTTP.Listen)
	checkListen(errs, f, c.GRPC.line, "grpc.listen", c.GRPC.Listen)
	checkTLS(errs, f, "http.tls", c.HTTP.TLS)
	checkTLS(errs, f, "grpc.tls", c.GRPC.TLS)
	if c.HTTP.MaxBodyBytes <= 0 {
		errs.add(f, c.HTTP.line, "http.max_body_bytes: must be positive")
	}
	if c.DataDir == "" {
		errs.add(f, 0, "data_dir: must not be empty")
	}
	if c.Dedup.Window < 0 {
		errs.add(f, 0, "dedup.window: must not be negative")
	}

	outputs := map[string]*OutputSpec{}
	for i := range c.Outputs {
		o := &c.Outputs[i]
		what := fmt.Sprintf("outputs[%d]", i)
		if o.Name != "" {
			what = fmt.Sprintf("output %q", o.Name)
		}
		switch {
		case o.Name == "":
			errs.add(o.File, o.Line, "%s: name is required", what)
		case !outputNameRE.MatchString(o.Name):
			errs.add(o.File, o.Line, "%s: name may contain only letters, digits, '_', '.' and '-', and must start with a letter or digit", what)
		case outputs[o.Name] != nil:
			prev := outputs[o.Name]
			errs.add(o.File, o.Line, "%s: defined twice (also at %s)", what, position(prev.File, prev.Line))
		default:
			outputs[o.Name] = o
		}
		if o.Type == "" {
			errs.add(o.File, o.Line, "%s: type is required (one of %v)", what, outputTypes)
		} else if !slices.Contains(outputTypes, o.Type) {
			errs.add(o.File, o.Line, "%s: unknown type %q (one of %v)", what, o.Type, outputTypes)
		}
		if o.MinimumPriority != 0 && !o.MinimumPriority.Valid() {
			errs.add(o.File, o.Line, "%s: invalid minimumpriority", what)
		}
		checkQueue(errs, o.File, what, o.Queue, o.Line)
	}

	routes := map[string]int{}
	for i := range c.Routes {
		r := &c.Routes[i]
		what := fmt.Sprintf("route %q", r.Name)
		switch {
		case r.Name == DefaultRouteName:
			errs.add(r.File, r.Line, "%s: the name %q is reserved for the default route", what, DefaultRouteName)
		case r.Name == "":
			errs.add(r.File, r.Line, "routes[%d]: name must not be empty", i)
		case routes[r.Name] != 0:
			errs.add(r.File, r.Line, "%s: defined twice (also at line %d)", what, routes[r.Name])
		default:
			routes[r.Name] = max(r.Line, 1)
		}
		switch {
		case r.Drop && len(r.Outputs) > 0:
			errs.add(r.File, r.Line, "%s: a drop route delivers nothing; remove its outputs or drop", what)
		case r.Drop && r.Continue:
			errs.add(r.File, r.Line, "%s: drop and continue contradict each other", what)
		case r.Drop && r.Throttle != nil:
			errs.add(r.File, r.Line, "%s: a drop route has nothing to throttle", what)
		case !r.Drop && len(r.Outputs) == 0:
			errs.add(r.File, r.Line, "%s: needs outputs (or drop: true)", what)
		}
		checkRouteOutputs(errs, r.File, what, r.Outputs, outputs)
		checkMatch(errs, r.File, what, &r.Match)
		if t := r.Throttle; t != nil {
			if t.Limit < 1 {
				errs.add(r.File, t.Line, "%s: throttle.limit must be at least 1", what)
			}
			if t.Window <= 0 {
				errs.add(r.File, t.Line, "%s: throttle.window must be a positive duration", what)
			}
			if t.MaxKeys < 0 {
				errs.add(r.File, t.Line, "%s: throttle.max_keys must not be negative", what)
			}
			for _, k := range t.Key {
				if k == "" {
					errs.add(r.File, t.Line, "%s: throttle.key has an empty name", what)
				}
			}
		}
	}
	if c.Default != nil {
		checkRouteOutputs(errs, f, "default", c.Default.Outputs, outputs)
	}
	return errs.join()
}

func position(file string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", file, line)
	}
	return file
}

func checkListen(errs *errList, f string, line int, what, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		errs.add(f, line, "%s: %q is not host:port", what, addr)
		return
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		errs.add(f, line, "%s: port %q is not a number 0-65535", what, port)
	}
	if host != "" && net.ParseIP(host) == nil && !hostnameRE.MatchString(host) {
		errs.add(f, line, "%s: %q is not an IP address or host name", what, host)
	}
}

var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)

func checkTLS(errs *errList, f, what string, t TLSConfig) {
	if t.CertFile == "" && t.KeyFile == "" && t.ClientCAFile == "" {
		return
	}
	if t.CertFile == "" || t.KeyFile == "" {
		errs.add(f, t.line, "%s: cert_file and key_file must be set together", what)
	}
	if t.ClientCAFile != "" && t.CertFile == "" {
		errs.add(f, t.line, "%s: client_ca_file (mutual TLS) needs cert_file and key_file", what)
	}
	for _, p := range []struct{ key, path string }{{"cert_file", t.CertFile}, {"key_file", t.KeyFile}, {"client_ca_file", t.ClientCAFile}} {
		if p.path == "" {
			continue
		}
		if _, err := os.Stat(p.path); err != nil {
			errs.add(f, t.line, "%s.%s: %v", what, p.key, err)
		}
	}
}

func checkQueue(errs *errList, f, what string, q QueueSpec, line int) {
	if q.line != 0 {
		line = q.line
	}
	switch q.Overflow {
	case "", OverflowReject, OverflowDropOldest:
	default:
		errs.add(f, line, "%s: queue.overflow must be %s or %s, got %q", what, OverflowReject, OverflowDropOldest, q.Overflow)
	}
	if q.MaxEntries < 0 || q.MaxBytes < 0 || q.Concurrency < 0 || q.BatchSize < 0 || q.MaxAttempts < 0 {
		errs.add(f, line, "%s: queue limits must not be negative", what)
	}
	if q.BackoffInitial > 0 && q.BackoffMax > 0 && q.BackoffInitial > q.BackoffMax {
		errs.add(f, line, "%s: queue.backoff_initial (%s) is greater than queue.backoff_max (%s)", what, q.BackoffInitial, q.BackoffMax)
	}
}

func checkRouteOutputs(errs *errList, f, what string, ros []RouteOutput, outputs map[string]*OutputSpec) {
	for _, ro := range ros {
		switch {
		case ro.Name == "":
			errs.add(f, ro.Line, "%s: an output entry has no name", what)
		case outputs[ro.Name] == nil:
			errs.add(f, ro.Line, "%s: unknown output %q (defined: %v)", what, ro.Name, sortedKeys(outputs))
		}
		for k := range ro.Overrides {
			if k == "" {
				errs.add(f, ro.Line, "%s: output %q has an empty override key", what, ro.Name)
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func checkMatch(errs *errList, f, what string, m *Match) {
	if p := m.Priority; p != nil {
		if p.Exactly != 0 && (p.AtLeast != 0 || p.AtMost != 0) {
			errs.add(f, p.Line, "%s: match.priority: exactly excludes at_least and at_most", what)
		}
		if p.Exactly == 0 && p.AtLeast == 0 && p.AtMost == 0 {
			errs.add(f, p.Line, "%s: match.priority needs at_least, at_most or exactly", what)
		}
		if p.AtLeast != 0 && p.AtMost != 0 && p.AtLeast > p.AtMost {
			errs.add(f, p.Line, "%s: match.priority: at_least %s is above at_most %s, nothing can match", what, p.AtLeast, p.AtMost)
		}
	}
	for _, sm := range []struct {
		name string
		m    *StringMatch
	}{{"rule", m.Rule}, {"source", m.Source}, {"hostname", m.Hostname}} {
		if sm.m != nil {
			checkStringMatch(errs, f, what+": match."+sm.name, sm.m)
		}
	}
	for i := range m.OutputFields {
		fm := &m.OutputFields[i]
		if fm.Key == "" {
			errs.add(f, fm.Line, "%s: match.output_fields has an empty key", what)
		}
		checkStringMatch(errs, f, fmt.Sprintf("%s: match.output_fields[%q]", what, fm.Key), &fm.StringMatch)
	}
	if t := m.Tags; t != nil && len(t.AnyOf)+len(t.AllOf)+len(t.NoneOf) == 0 {
		errs.add(f, t.Line, "%s: match.tags needs any_of, all_of or none_of", what)
	}
}

func checkStringMatch(errs *errList, f, what string, sm *StringMatch) {
	switch sm.Op {
	case OpEquals, OpExists:
	case OpGlob:
		if _, err := CompileGlob(sm.Value); err != nil {
			errs.add(f, sm.Line, "%s: %v", what, err)
		}
	case OpRegex:
		if _, err := CompileRegex(sm.Value); err != nil {
			errs.add(f, sm.Line, "%s: invalid regex: %v", what, err)
		}
	default:
		errs.add(f, sm.Line, "%s: unknown operator %q", what, sm.Op)
	}
}
