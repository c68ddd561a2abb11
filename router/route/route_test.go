package route

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/router/config"
)

func loadConfig(t testing.TB, yml string) *config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p, nil)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

func newRouter(t testing.TB, yml string, reg prometheus.Registerer) *Router {
	t.Helper()
	r, err := New(loadConfig(t, yml), nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mkAlert(prio alert.Priority, rule string, mods ...func(*alert.Alert)) *alert.Alert {
	a := &alert.Alert{
		Time: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), Priority: prio, Rule: rule,
		Output: "x", Source: "syscall", Hostname: "node-1",
		Tags: []string{"filesystem", "mitre_credential_access"},
		OutputFields: alert.MustFields(map[string]any{
			"fd.name": "/etc/shadow", "proc.name": "cat", "user.uid": json.Number("0"),
			"k8s.ns.name": "prod", "container.id": nil,
		}),
	}
	for _, m := range mods {
		m(a)
	}
	return a
}

// targets renders a decision as "output@route" strings for comparison.
func targets(d Decision) []string {
	out := []string{}
	for _, t := range d.Targets {
		s := t.Output + "@" + t.Route
		if len(t.Overrides) > 0 {
			b, _ := json.Marshal(t.Overrides)
			s += string(b)
		}
		out = append(out, s)
	}
	return out
}

const outputsYAML = `
outputs:
  - {name: hooks, type: webhook}
  - {name: slack, type: slack, minimumpriority: warning}
  - {name: kafka, type: kafka, minimumpriority: critical}
`

func TestRoute(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		alert   *alert.Alert
		want    []string
		dropped bool
	}{
		{
			name:   "no routes: every output at or above its minimumpriority (falcosidekick)",
			config: outputsYAML,
			alert:  mkAlert(alert.PriorityError, "r"),
			want:   []string{"hooks@default", "slack@default"},
		},
		{
			name:   "no routes, emergency reaches all",
			config: outputsYAML,
			alert:  mkAlert(alert.PriorityEmergency, "r"),
			want:   []string{"hooks@default", "slack@default", "kafka@default"},
		},
		{
			name:   "no routes, debug only to outputs without minimumpriority",
			config: outputsYAML,
			alert:  mkAlert(alert.PriorityDebug, "r"),
			want:   []string{"hooks@default"},
		},
		{
			name: "first matching route wins",
			config: outputsYAML + `
routes:
  - {name: a, match: {rule: r}, outputs: [slack]}
  - {name: b, match: {rule: r}, outputs: [hooks]}
`,
			alert: mkAlert(alert.PriorityError, "r"),
			want:  []string{"slack@a"},
		},
		{
			name: "continue keeps matching, an output listed twice gets the alert once",
			config: outputsYAML + `
routes:
  - {name: a, match: {rule: r}, outputs: [slack], continue: true}
  - {name: b, match: {rule: r}, outputs: [hooks, slack]}
  - {name: c, outputs: [kafka]}
`,
			alert: mkAlert(alert.PriorityEmergency, "r"),
			want:  []string{"slack@a", "hooks@b"},
		},
		{
			name: "no route matched: default route",
			config: outputsYAML + `
routes:
  - {name: a, match: {rule: other}, outputs: [slack]}
default: {outputs: [kafka]}
`,
			alert: mkAlert(alert.PriorityEmergency, "r"),
			want:  []string{"kafka@default"},
		},
		{
			name: "no route matched and no default: every output",
			config: outputsYAML + `
routes:
  - {name: a, match: {rule: other}, outputs: [slack]}
`,
			alert: mkAlert(alert.PriorityWarning, "r"),
			want:  []string{"hooks@default", "slack@default"},
		},
		{
			name: "empty default delivers nothing",
			config: outputsYAML + `
routes:
  - {name: a, match: {rule: other}, outputs: [slack]}
default: {outputs: []}
`,
			alert: mkAlert(alert.PriorityWarning, "r"),
			want:  []string{},
		},
		{
			name: "minimumpriority filters outputs a route chose",
			config: outputsYAML + `
routes:
  - {name: a, outputs: [kafka, slack, hooks]}
`,
			alert: mkAlert(alert.PriorityNotice, "r"),
			want:  []string{"hooks@a"},
		},
		{
			name: "drop route stops routing, nothing delivered",
			config: outputsYAML + `
routes:
  - {name: keep, outputs: [hooks], continue: true}
  - {name: noise, match: {tags: {any_of: [filesystem]}}, drop: true}
  - {name: rest, outputs: [slack]}
`,
			alert:   mkAlert(alert.PriorityError, "r"),
			want:    []string{},
			dropped: true,
		},
		{
			name: "overrides travel with the target",
			config: outputsYAML + `
routes:
  - name: a
    outputs: [{name: slack, overrides: {channel: "#sec"}}]
`,
			alert: mkAlert(alert.PriorityError, "r"),
			want:  []string{`slack@a{"channel":"#sec"}`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRouter(t, tc.config, nil)
			d := r.Route(tc.alert, time.Now())
			if got := targets(d); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("targets %q, want %q\n%s", got, tc.want, Explain(d))
			}
			if d.Dropped != tc.dropped {
				t.Errorf("dropped %v, want %v", d.Dropped, tc.dropped)
			}
			for _, tg := range d.Targets {
				if tg.Alert != tc.alert {
					t.Error("unchanged alert was copied")
				}
			}
			// Targets, the untraced hot path, decides the same, into a
			// reused slice.
			buf := make([]Target, 1, 8)
			fast := targets(Decision{Targets: r.Targets(tc.alert, time.Now(), buf)})
			if !reflect.DeepEqual(fast, tc.want) {
				t.Errorf("Targets gives %q, Route %q", fast, tc.want)
			}
		})
	}
}

// Each matcher, in both directions.
func TestMatchers(t *testing.T) {
	set := func(f func(a *alert.Alert)) func(*alert.Alert) { return f }
	tests := []struct {
		match string
		alert *alert.Alert
		want  bool
	}{
		{`priority: {at_least: error}`, mkAlert(alert.PriorityError, "r"), true},
		{`priority: {at_least: error}`, mkAlert(alert.PriorityWarning, "r"), false},
		{`priority: {at_most: notice}`, mkAlert(alert.PriorityNotice, "r"), true},
		{`priority: {at_most: notice}`, mkAlert(alert.PriorityWarning, "r"), false},
		{`priority: {at_least: notice, at_most: error}`, mkAlert(alert.PriorityWarning, "r"), true},
		{`priority: {exactly: error}`, mkAlert(alert.PriorityError, "r"), true},
		{`priority: {exactly: error}`, mkAlert(alert.PriorityCritical, "r"), false},
		{`rule: "Read sensitive file"`, mkAlert(alert.PriorityError, "Read sensitive file"), true},
		{`rule: {equals: "Read sensitive file"}`, mkAlert(alert.PriorityError, "Read sensitive file untrusted"), false},
		{`rule: {glob: "Read sensitive*"}`, mkAlert(alert.PriorityError, "Read sensitive file untrusted"), true},
		{`rule: {glob: "*shell*"}`, mkAlert(alert.PriorityError, "Read sensitive file"), false},
		{`rule: {regex: "Read .* file( untrusted)?"}`, mkAlert(alert.PriorityError, "Read sensitive file untrusted"), true},
		{`rule: {regex: "sensitive"}`, mkAlert(alert.PriorityError, "Read sensitive file"), false}, // anchored
		{`tags: {any_of: [network, filesystem]}`, mkAlert(alert.PriorityError, "r"), true},
		{`tags: {any_of: [network, process]}`, mkAlert(alert.PriorityError, "r"), false},
		{`tags: {all_of: [filesystem, mitre_credential_access]}`, mkAlert(alert.PriorityError, "r"), true},
		{`tags: {all_of: [filesystem, network]}`, mkAlert(alert.PriorityError, "r"), false},
		{`tags: {none_of: [network]}`, mkAlert(alert.PriorityError, "r"), true},
		{`tags: {none_of: [filesystem]}`, mkAlert(alert.PriorityError, "r"), false},
		{`tags: {any_of: [x]}`, mkAlert(alert.PriorityError, "r", set(func(a *alert.Alert) { a.Tags = nil })), false},
		{`source: syscall`, mkAlert(alert.PriorityError, "r"), true},
		{`source: k8s_audit`, mkAlert(alert.PriorityError, "r"), false},
		{`hostname: {glob: "node-*"}`, mkAlert(alert.PriorityError, "r"), true},
		{`hostname: {regex: "node-[0-9]+"}`, mkAlert(alert.PriorityError, "r"), true},
		{`hostname: {equals: node-2}`, mkAlert(alert.PriorityError, "r"), false},
		{`output_fields: {"k8s.ns.name": prod}`, mkAlert(alert.PriorityError, "r"), true},
		{`output_fields: {"k8s.ns.name": {equals: dev}}`, mkAlert(alert.PriorityError, "r"), false},
		{`output_fields: {"fd.name": {glob: "/etc/*"}}`, mkAlert(alert.PriorityError, "r"), true},
		{`output_fields: {"fd.name": {regex: "/etc/(shadow|passwd)"}}`, mkAlert(alert.PriorityError, "r"), true},
		{`output_fields: {"user.uid": "0"}`, mkAlert(alert.PriorityError, "r"), true}, // numbers compare as text
		{`output_fields: {"container.id": {exists: true}}`, mkAlert(alert.PriorityError, "r"), true},
		{`output_fields: {"container.id": "<NA>"}`, mkAlert(alert.PriorityError, "r"), true},
		{`output_fields: {"k8s.pod.name": {exists: true}}`, mkAlert(alert.PriorityError, "r"), false},
		{`output_fields: {"k8s.pod.name": {glob: "*"}}`, mkAlert(alert.PriorityError, "r"), false}, // absent never matches
		{`{}`, mkAlert(alert.PriorityDebug, "r"), true},
		{`{priority: {at_least: warning}, rule: {glob: "R*"}, source: syscall, output_fields: {"proc.name": cat}}`, mkAlert(alert.PriorityError, "Rx"), true},
		{`{priority: {at_least: warning}, rule: {glob: "R*"}, source: syscall, output_fields: {"proc.name": sh}}`, mkAlert(alert.PriorityError, "Rx"), false},
	}
	for _, tc := range tests {
		t.Run(tc.match, func(t *testing.T) {
			r := newRouter(t, `
outputs: [{name: hit, type: webhook}, {name: miss, type: webhook}]
routes:
  - name: m
    match:
      `+tc.match+`
    outputs: [hit]
default: {outputs: [miss]}
`, nil)
			d := r.Route(tc.alert, time.Now())
			got := len(d.Targets) == 1 && d.Targets[0].Output == "hit"
			if got != tc.want {
				t.Errorf("matched %v, want %v\n%s", got, tc.want, Explain(d))
			}
		})
	}
}

func TestThrottle(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := newRouter(t, `
outputs: [{name: hooks, type: webhook}]
routes:
  - name: limited
    outputs: [hooks]
    throttle: {key: [rule, hostname], limit: 2, window: 1m}
`, reg)
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	delivered := func(a *alert.Alert, now time.Time) *alert.Alert {
		d := r.Route(a, now)
		if len(d.Targets) == 0 {
			return nil
		}
		return d.Targets[0].Alert
	}
	a := mkAlert(alert.PriorityError, "r")
	for i := range 5 {
		got := delivered(a, t0.Add(time.Duration(i)*time.Second))
		if (got != nil) != (i < 2) {
			t.Fatalf("alert %d: delivered=%v", i, got != nil)
		}
		if got != nil && got != a {
			t.Fatalf("alert %d: copied although nothing was added", i)
		}
	}
	// Another key is throttled separately.
	other := mkAlert(alert.PriorityError, "r", func(a *alert.Alert) { a.Hostname = "node-2" })
	if delivered(other, t0.Add(5*time.Second)) == nil {
		t.Fatal("other host throttled by the first host's key")
	}
	// Next window: the first delivered alert carries the suppressed count, on
	// a copy; the routed alert is untouched.
	got := delivered(a, t0.Add(time.Minute))
	if got == nil || got == a {
		t.Fatalf("want a copy carrying the count, got %v", got)
	}
	if n, _ := got.OutputFields.Get(SuppressedField); n != alert.IntValue(3) {
		t.Errorf("%s = %v, want 3", SuppressedField, n)
	}
	if _, ok := a.OutputFields.Get(SuppressedField); ok {
		t.Error("input alert modified")
	}
	if got := delivered(a, t0.Add(time.Minute+time.Second)); got != a {
		t.Error("count carried twice")
	}
	if n := counter(t, reg, "lanner_route_throttled_total", "limited"); n != 3 {
		t.Errorf("throttled_total = %v, want 3", n)
	}
	if n := counter(t, reg, "lanner_route_matched_total", "limited"); n != 8 {
		t.Errorf("matched_total = %v, want 8", n)
	}
}

func counter(t *testing.T, g prometheus.Gatherer, name, route string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == route {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestThrottleBoundedKeys(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := newRouter(t, `
outputs: [{name: hooks, type: webhook}]
routes:
  - name: per-proc
    outputs: [hooks]
    throttle: {key: [proc.name], limit: 1, window: 1h, max_keys: 64}
`, reg)
	th := r.routes[0].throttle
	now := time.Now()
	for i := range 1000 {
		a := mkAlert(alert.PriorityError, "r", func(a *alert.Alert) {
			a.OutputFields = a.OutputFields.Set("proc.name", alert.StringValue(string(rune('a'+i%26))+strings.Repeat("x", i)))
		})
		if d := r.Route(a, now); len(d.Targets) != 1 {
			t.Fatalf("new key %d throttled", i)
		}
		if th.size() > 64 {
			t.Fatalf("%d keys tracked, cap 64", th.size())
		}
	}
	if n := counter(t, reg, "lanner_route_throttle_evicted_total", "per-proc"); n < 1000-64 {
		t.Errorf("evicted_total = %v, want >= %d", n, 1000-64)
	}
	// Expired windows are reclaimed before live keys.
	before := counter(t, reg, "lanner_route_throttle_evicted_total", "per-proc")
	later := now.Add(2 * time.Hour)
	r.Route(mkAlert(alert.PriorityError, "r", func(a *alert.Alert) { a.OutputFields = a.OutputFields.Set("proc.name", alert.StringValue("fresh")) }), later)
	if after := counter(t, reg, "lanner_route_throttle_evicted_total", "per-proc"); after != before {
		t.Errorf("live keys evicted although expired ones were available: %v -> %v", before, after)
	}
}

// A throttle with no key throttles the route as a whole; an absent field is
// a key of its own.
func TestThrottleKeys(t *testing.T) {
	r := newRouter(t, `
outputs: [{name: hooks, type: webhook}]
routes:
  - {name: all, outputs: [hooks], throttle: {limit: 1, window: 1m}, match: {source: syscall}}
  - {name: by-field, outputs: [hooks], throttle: {key: [k8s.pod.name, tags, priority], limit: 1, window: 1m}}
`, nil)
	now := time.Now()
	if d := r.Route(mkAlert(alert.PriorityError, "a"), now); len(d.Targets) != 1 {
		t.Fatal("first alert throttled")
	}
	if d := r.Route(mkAlert(alert.PriorityError, "b"), now); len(d.Targets) != 0 {
		t.Fatal("route-wide throttle let a second alert through")
	}
	k8s := func(a *alert.Alert) { a.Source = "k8s" }
	if d := r.Route(mkAlert(alert.PriorityError, "a", k8s), now); len(d.Targets) != 1 {
		t.Fatal("first by-field alert throttled")
	}
	if d := r.Route(mkAlert(alert.PriorityError, "b", k8s), now); len(d.Targets) != 0 {
		t.Fatal("same (absent) field value not throttled")
	}
	if d := r.Route(mkAlert(alert.PriorityCritical, "b", k8s), now); len(d.Targets) != 1 {
		t.Fatal("different priority shares the key")
	}
	withPod := func(a *alert.Alert) {
		a.Source = "k8s"
		a.OutputFields = a.OutputFields.Set("k8s.pod.name", alert.StringValue("p"))
	}
	if d := r.Route(mkAlert(alert.PriorityError, "b", withPod), now); len(d.Targets) != 1 {
		t.Fatal("present field shares the absent field's key")
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	yml := outputsYAML + `
routes:
  - {name: noise, match: {rule: noisy}, drop: true}
  - {name: crit, match: {priority: {at_least: critical}}, outputs: [kafka]}
`
	r := newRouter(t, yml, reg)
	r.Route(mkAlert(alert.PriorityError, "noisy"), time.Now())
	r.Route(mkAlert(alert.PriorityCritical, "x"), time.Now())
	r.Route(mkAlert(alert.PriorityError, "x"), time.Now())
	// A reload registers on the same registry and keeps counting.
	r2 := newRouter(t, yml, reg)
	r2.Route(mkAlert(alert.PriorityError, "noisy"), time.Now())
	for _, c := range []struct {
		name, route string
		want        float64
	}{
		{"lanner_route_matched_total", "noise", 2},
		{"lanner_route_dropped_total", "noise", 2},
		{"lanner_route_matched_total", "crit", 1},
		{"lanner_route_matched_total", "default", 1},
	} {
		if got := counter(t, reg, c.name, c.route); got != c.want {
			t.Errorf("%s{route=%q} = %v, want %v", c.name, c.route, got, c.want)
		}
	}
}

func TestExplain(t *testing.T) {
	r := newRouter(t, outputsYAML+`
routes:
  - {name: net, match: {tags: {any_of: [network]}}, outputs: [kafka]}
  - name: fs
    match: {tags: {any_of: [filesystem]}}
    outputs: [kafka, {name: slack, overrides: {channel: "#sec"}}]
`, nil)
	got := Explain(r.Route(mkAlert(alert.PriorityError, "r"), time.Now()))
	want := `delivered to 1 output(s):
  slack  (route "fs"; overrides: channel=#sec)
trace:
  route "net": no match: tags any_of network
  route "fs" matched
  output "kafka" skipped: priority below its minimumpriority Critical
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	r = newRouter(t, outputsYAML+`
routes: [{name: noise, match: {rule: {regex: "r.*"}}, drop: true}]
`, nil)
	got = Explain(r.Route(mkAlert(alert.PriorityError, "r"), time.Now()))
	want = "dropped: delivered to no output\ntrace:\n  route \"noise\" matched: drop\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestEnrich(t *testing.T) {
	a := mkAlert(alert.PriorityError, "r")
	Enrich(a, map[string]string{"cluster": "prod", "proc.name": "override"})
	if v, _ := a.OutputFields.Get("cluster"); v != alert.StringValue("prod") {
		t.Errorf("enrich: %v", a.OutputFields)
	}
	if v, _ := a.OutputFields.Get("proc.name"); v != alert.StringValue("override") || !a.OutputFields.IsSorted() {
		t.Errorf("enrich: %v", a.OutputFields)
	}
	b := &alert.Alert{}
	Enrich(b, map[string]string{"k": "v"})
	if v, _ := b.OutputFields.Get("k"); v != alert.StringValue("v") {
		t.Errorf("nil output_fields: %v", b.OutputFields)
	}
	c := &alert.Alert{}
	Enrich(c, nil)
	if c.OutputFields != nil {
		t.Error("no customfields should leave output_fields alone")
	}
}

// Routes share nothing mutable across goroutines but the throttle, which
// locks: run under -race.
func TestConcurrentRoute(t *testing.T) {
	r := newRouter(t, `
outputs: [{name: hooks, type: webhook}]
routes:
  - {name: t, outputs: [hooks], throttle: {key: [hostname], limit: 100, window: 1s}}
`, nil)
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 500 {
				a := mkAlert(alert.PriorityError, "r", func(a *alert.Alert) { a.Hostname = string(rune('a' + (g+i)%8)) })
				r.Route(a, time.Now())
			}
		}()
	}
	for range 4 {
		<-done
	}
}

// benchConfig has ten routes of the usual kinds; the alert matches the last.
const benchConfig = `
outputs:
  - {name: hooks, type: webhook}
  - {name: slack, type: slack, minimumpriority: warning}
  - {name: kafka, type: kafka}
  - {name: es, type: elasticsearch}
routes:
  - {name: r1, match: {rule: {equals: "Terminal shell in container"}}, outputs: [slack]}
  - {name: r2, match: {priority: {at_least: critical}}, outputs: [slack, hooks]}
  - {name: r3, match: {tags: {any_of: [network, process]}}, outputs: [kafka]}
  - {name: r4, match: {rule: {glob: "*Launch Privileged*"}}, outputs: [slack]}
  - {name: r5, match: {hostname: {glob: "db-*"}}, outputs: [es]}
  - {name: r6, match: {source: k8s_audit}, outputs: [es]}
  - {name: r7, match: {output_fields: {"k8s.ns.name": {equals: kube-system}}}, outputs: [hooks]}
  - {name: r8, match: {rule: {regex: "Write below (etc|root|binary dir)"}}, outputs: [slack]}
  - {name: r9, match: {output_fields: {"proc.name": {glob: "nc*"}}}, outputs: [kafka]}
  - name: r10
    match: {priority: {at_least: warning}, tags: {all_of: [filesystem]}, output_fields: {"fd.name": {glob: "/etc/*"}}}
    outputs: [kafka, hooks, {name: slack, overrides: {channel: "#sec"}}]
`

func BenchmarkRoute(b *testing.B) {
	r := newRouter(b, benchConfig, prometheus.NewRegistry())
	a := mkAlert(alert.PriorityError, "Read sensitive file untrusted")
	now := time.Now()
	if d := r.Route(a, now); len(d.Targets) != 3 {
		b.Fatalf("bench alert routed to %v", targets(d))
	}
	b.ReportAllocs()
	for b.Loop() {
		r.Route(a, now)
	}
}

func BenchmarkRouteThrottled(b *testing.B) {
	r := newRouter(b, `
outputs: [{name: hooks, type: webhook}]
routes:
  - {name: t, outputs: [hooks], throttle: {key: [rule, hostname, proc.name], limit: 1000000000, window: 1h}}
`, prometheus.NewRegistry())
	a := mkAlert(alert.PriorityError, "Read sensitive file untrusted")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		r.Route(a, now)
	}
}

// FuzzRoute routes arbitrary (valid) alerts through a config using every
// matcher kind and a throttle: no panics, and every target is a known output.
func FuzzRoute(f *testing.F) {
	f.Add([]byte(`{"time":"2026-11-22T10:00:00Z","priority":"Error","rule":"Read sensitive file untrusted","output":"x","output_fields":{"fd.name":"/etc/shadow","proc.name":"nc","k8s.ns.name":"kube-system","n":1.5e300},"tags":["filesystem"],"hostname":"db-1","source":"k8s_audit"}`))
	f.Add([]byte(`{"time":"2026-11-22T10:00:00Z","priority":"debug","rule":"\xff","output_fields":null}`))
	r := newRouter(f, benchConfig+`
  - {name: r11, outputs: [hooks], throttle: {key: [rule, tags, fd.name], limit: 1, window: 1m, max_keys: 4}}
`, nil)
	known := map[string]bool{"hooks": true, "slack": true, "kafka": true, "es": true}
	now := time.Now()
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := alert.Decode(data)
		if err != nil {
			return
		}
		d := r.Route(a, now)
		seen := map[string]bool{}
		for _, tg := range d.Targets {
			if !known[tg.Output] || seen[tg.Output] || tg.Alert == nil {
				t.Fatalf("bad target %+v in %s", tg, Explain(d))
			}
			seen[tg.Output] = true
		}
		_ = Explain(d)
	})
}
