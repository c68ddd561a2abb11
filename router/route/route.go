// Package route decides which outputs each alert goes to: Lanner's ordered
// routes (matchers, continue, drop, throttle, default) on top of
// falcosidekick's per-output minimumpriority.
package route

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/router/config"
)

// Target is one delivery: an alert for one output.
type Target struct {
	Output string
	// Route is the route that chose the output (config.DefaultRouteName when
	// no route matched or none are configured).
	Route string
	// Overrides are the route's settings for this output; shared, read-only.
	Overrides map[string]string
	// Alert is what to deliver: the routed alert itself, or a copy when a
	// throttle added the suppressed count (SuppressedField).
	Alert *alert.Alert
}

// Decision is the outcome of routing one alert.
type Decision struct {
	Targets []Target
	// Dropped is set when a drop route matched: nothing is delivered.
	Dropped bool
	// Trace says, step by step, why (see Explain); Route fills it, Targets
	// does not.
	Trace   []string
	tracing bool
}

// Router routes alerts. It is safe for concurrent use.
type Router struct {
	logger   *slog.Logger
	outputs  []outputInfo
	routes   []*compiledRoute
	def      []routeTarget
	traceCap int

	defaultMatched prometheus.Counter
}

type outputInfo struct {
	name    string
	minPrio alert.Priority
	// Precomputed trace lines keep Route allocation-free apart from its two
	// slices.
	traceBelowMin string
	traceDup      string
}

type routeTarget struct {
	out       int
	overrides map[string]string
}

type compiledRoute struct {
	name      string
	matchers  []matcher
	targets   []routeTarget
	cont      bool
	drop      bool
	throttle  *throttle
	matched   prometheus.Counter
	dropped   prometheus.Counter
	throttled prometheus.Counter

	traceNoMatch   []string // per matcher
	traceMatched   string
	traceDropped   string
	traceThrottled string
	traceCarried   string
}

// New compiles cfg's routes (regexes and globs once, here) and registers the
// routing metrics on reg (nil: not registered). Registering again on the same
// registry, as a reload does, reuses the existing metrics.
func New(cfg *config.Config, logger *slog.Logger, reg prometheus.Registerer) (*Router, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	r := &Router{logger: logger, defaultMatched: m.matched.WithLabelValues(config.DefaultRouteName)}
	index := map[string]int{}
	for i, o := range cfg.Outputs {
		index[o.Name] = i
		min := ""
		if o.MinimumPriority.Valid() {
			min = o.MinimumPriority.String()
		}
		r.outputs = append(r.outputs, outputInfo{
			name:          o.Name,
			minPrio:       o.MinimumPriority,
			traceBelowMin: fmt.Sprintf("output %q skipped: priority below its minimumpriority %s", o.Name, min),
			traceDup:      fmt.Sprintf("output %q already chosen by an earlier route", o.Name),
		})
	}
	targets := func(ros []config.RouteOutput, where string) ([]routeTarget, error) {
		out := make([]routeTarget, 0, len(ros))
		for _, ro := range ros {
			i, ok := index[ro.Name]
			if !ok {
				return nil, fmt.Errorf("route: %s: unknown output %q", where, ro.Name)
			}
			out = append(out, routeTarget{out: i, overrides: ro.Overrides})
		}
		return out, nil
	}
	for _, rs := range cfg.Routes {
		ms, err := compileMatch(rs.Match)
		if err != nil {
			return nil, fmt.Errorf("route: route %q: %w", rs.Name, err)
		}
		ts, err := targets(rs.Outputs, fmt.Sprintf("route %q", rs.Name))
		if err != nil {
			return nil, err
		}
		cr := &compiledRoute{
			name:      rs.Name,
			matchers:  ms,
			targets:   ts,
			cont:      rs.Continue,
			drop:      rs.Drop,
			matched:   m.matched.WithLabelValues(rs.Name),
			dropped:   m.dropped.WithLabelValues(rs.Name),
			throttled: m.throttled.WithLabelValues(rs.Name),

			traceMatched:   fmt.Sprintf("route %q matched", rs.Name),
			traceDropped:   fmt.Sprintf("route %q matched: drop", rs.Name),
			traceThrottled: fmt.Sprintf("route %q matched: throttled (over its limit for this key)", rs.Name),
			traceCarried:   fmt.Sprintf("route %q matched: throttle window reopened, suppressed count added as %s", rs.Name, SuppressedField),
		}
		if cr.cont {
			cr.traceMatched += " (continue)"
		}
		for _, mm := range ms {
			cr.traceNoMatch = append(cr.traceNoMatch, fmt.Sprintf("route %q: no match: %s", rs.Name, mm.describe()))
		}
		if rs.Throttle != nil {
			if rs.Throttle.Limit < 1 || rs.Throttle.Window <= 0 {
				return nil, fmt.Errorf("route: route %q: throttle needs limit >= 1 and a positive window", rs.Name)
			}
			cr.throttle = newThrottle(rs.Throttle, m.evicted.WithLabelValues(rs.Name))
		}
		r.routes = append(r.routes, cr)
	}
	if cfg.Default != nil {
		if r.def, err = targets(cfg.Default.Outputs, "default"); err != nil {
			return nil, err
		}
	} else {
		for i := range r.outputs {
			r.def = append(r.def, routeTarget{out: i})
		}
	}
	// Room for one line per route, one per output and the default's.
	r.traceCap = len(r.routes) + 2*len(r.outputs) + 2
	return r, nil
}

const traceDefault = "no route matched: default route"

// Route decides where a goes. now drives throttle windows (pass time.Now()).
// a is not modified; Targets share it unless a throttle needed a copy.
// Decision.Trace says why, step by step.
func (r *Router) Route(a *alert.Alert, now time.Time) Decision {
	d := Decision{Trace: make([]string, 0, r.traceCap), tracing: true}
	r.route(a, now, &d)
	return d
}

// Targets is Route without the trace, for the ingest hot path: it returns
// a's targets appended to dst[:0] (nil when a drop route matched), so a
// caller can reuse one slice.
func (r *Router) Targets(a *alert.Alert, now time.Time, dst []Target) []Target {
	d := Decision{Targets: dst[:0]}
	r.route(a, now, &d)
	return d.Targets
}

func (d *Decision) step(s string) {
	if d.tracing {
		d.Trace = append(d.Trace, s)
	}
}

func (r *Router) route(a *alert.Alert, now time.Time, d *Decision) {
	matched := false
	for _, rt := range r.routes {
		if failed := rt.firstFailing(a); failed >= 0 {
			d.step(rt.traceNoMatch[failed])
			continue
		}
		matched = true
		rt.matched.Inc()
		if rt.drop {
			rt.dropped.Inc()
			d.Dropped, d.Targets = true, nil
			d.step(rt.traceDropped)
			return
		}
		deliver := a
		trace := rt.traceMatched
		if rt.throttle != nil {
			ok, carried := rt.throttle.allow(a, now)
			if !ok {
				rt.throttled.Inc()
				d.step(rt.traceThrottled)
				if !rt.cont {
					break
				}
				continue
			}
			if carried > 0 {
				deliver = withSuppressed(a, carried)
				trace = rt.traceCarried
			}
		}
		d.step(trace)
		r.addTargets(d, rt.targets, rt.name, deliver)
		if !rt.cont {
			break
		}
	}
	if !matched {
		r.defaultMatched.Inc()
		d.step(traceDefault)
		r.addTargets(d, r.def, config.DefaultRouteName, a)
	}
}

func (rt *compiledRoute) firstFailing(a *alert.Alert) int {
	for i, m := range rt.matchers {
		if !m.match(a) {
			return i
		}
	}
	return -1
}

func (r *Router) addTargets(d *Decision, ts []routeTarget, route string, a *alert.Alert) {
next:
	for _, t := range ts {
		o := &r.outputs[t.out]
		if a.Priority < o.minPrio {
			d.step(o.traceBelowMin)
			continue
		}
		for _, have := range d.Targets {
			if have.Output == o.name {
				d.step(o.traceDup)
				continue next
			}
		}
		if d.Targets == nil {
			d.Targets = make([]Target, 0, len(r.outputs))
		}
		d.Targets = append(d.Targets, Target{Output: o.name, Route: route, Overrides: t.overrides, Alert: a})
	}
}

func withSuppressed(a *alert.Alert, n int64) *alert.Alert {
	c := a.Clone()
	c.OutputFields = c.OutputFields.Set(SuppressedField, alert.IntValue(n))
	return c
}

// Enrich adds customfields to the alert's output_fields, replacing fields of
// the same name, as falcosidekick does.
func Enrich(a *alert.Alert, customfields map[string]string) {
	if len(customfields) == 0 {
		return
	}
	if a.OutputFields == nil {
		a.OutputFields = make(alert.Fields, 0, len(customfields))
	}
	for k, v := range customfields {
		a.OutputFields = a.OutputFields.Set(k, alert.StringValue(v))
	}
}

// Explain renders a decision for people (`lanner-router route-test`): where
// the alert goes, which route chose each output, and the trace.
func Explain(d Decision) string {
	var b strings.Builder
	switch {
	case d.Dropped:
		b.WriteString("dropped: delivered to no output\n")
	case len(d.Targets) == 0:
		b.WriteString("delivered to no output\n")
	default:
		fmt.Fprintf(&b, "delivered to %d output(s):\n", len(d.Targets))
		for _, t := range d.Targets {
			fmt.Fprintf(&b, "  %s  (route %q", t.Output, t.Route)
			if len(t.Overrides) > 0 {
				keys := make([]string, 0, len(t.Overrides))
				for k := range t.Overrides {
					keys = append(keys, k)
				}
				sortStrings(keys)
				b.WriteString("; overrides:")
				for _, k := range keys {
					v := t.Overrides[k]
					if config.IsSecretKey(k) {
						v = "<redacted>"
					}
					fmt.Fprintf(&b, " %s=%s", k, v)
				}
			}
			if n, ok := t.Alert.OutputFields.Get(SuppressedField); ok {
				fmt.Fprintf(&b, "; %s=%s", SuppressedField, n)
			}
			b.WriteString(")\n")
		}
	}
	b.WriteString("trace:\n")
	for _, line := range d.Trace {
		b.WriteString("  ")
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

type metrics struct {
	matched, dropped, throttled, evicted *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	var m metrics
	var err error
	vec := func(name, help string) *prometheus.CounterVec {
		cv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"route"})
		if reg == nil || err != nil {
			return cv
		}
		if e := reg.Register(cv); e != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(e, &are) {
				if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
					return existing
				}
			}
			err = fmt.Errorf("route: register %s: %w", name, e)
		}
		return cv
	}
	m.matched = vec("lanner_route_matched_total", "Alerts matched by each route (route=\"default\" when none matched).")
	m.dropped = vec("lanner_route_dropped_total", "Alerts discarded by each drop route.")
	m.throttled = vec("lanner_route_throttled_total", "Alerts suppressed by each route's throttle.")
	m.evicted = vec("lanner_route_throttle_evicted_total", "Live throttle keys evicted because a route reached its max_keys.")
	return &m, err
}
