package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/router/ingest"
	"github.com/lannerhq/lanner/router/recent"
)

// Limits of the recent-alerts API.
const (
	defaultRecentLimit = 100
	// maxStreams bounds concurrent GET /api/v1/alerts/stream clients.
	maxStreams = 64
	// streamBatch is the most alerts one stream event carries; more that
	// arrived at once are reported as skipped.
	streamBatch = 200
	// streamCoalesce gathers the alerts of a burst into one event.
	streamCoalesce = 250 * time.Millisecond
	// streamWriteTimeout: a client that takes longer to accept an event is
	// dropped (and counted), so a slow reader holds nothing for long.
	streamWriteTimeout = 10 * time.Second
	streamHeartbeat    = 15 * time.Second
)

// alertsAPI serves GET /api/v1/alerts/recent and /stream from the store of
// recent alerts. It needs the same bearer token as the outputs API.
type alertsAPI struct {
	api     *api
	store   *recent.Store // nil: the store is off (ui.recent_alerts: 0)
	streams atomic.Int64
	// writeTimeout is streamWriteTimeout (nanoseconds); tests shorten it.
	writeTimeout atomic.Int64
	clients      prometheus.Gauge
	dropped      prometheus.Counter
	refused      prometheus.Counter
}

func newAlertsAPI(a *api, store *recent.Store, reg prometheus.Registerer) *alertsAPI {
	x := &alertsAPI{api: a, store: store,
		clients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lanner_alert_stream_clients", Help: "Clients connected to GET /api/v1/alerts/stream.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lanner_alert_stream_dropped_total", Help: "Stream clients disconnected because they did not keep up.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lanner_alert_stream_refused_total", Help: "Stream connections refused because too many were open.",
		}),
	}
	x.writeTimeout.Store(int64(streamWriteTimeout))
	reg.MustRegister(x.clients, x.dropped, x.refused)
	return x
}

func (x *alertsAPI) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/alerts/recent", x.api.auth(x.recentAlerts))
	mux.HandleFunc("GET /api/v1/alerts/stream", x.api.auth(x.stream))
}

// RecentAlert is one entry of GET /api/v1/alerts/recent.
type RecentAlert struct {
	Seq      uint64       `json:"seq"`
	Received time.Time    `json:"received"`
	Outputs  []string     `json:"outputs"`
	Alert    *alert.Alert `json:"alert"`
}

// RecentReply is the body of GET /api/v1/alerts/recent.
type RecentReply struct {
	Alerts []RecentAlert `json:"alerts"`
	// Latest is the newest seq in the store: poll with after=latest.
	Latest uint64 `json:"latest"`
	// Matched counts the stored alerts that match the filters (alerts holds
	// the newest limit of them).
	Matched  int `json:"matched"`
	Capacity int `json:"capacity"`
	// Total and Counts are the alerts accepted since start (all, and by
	// priority; every priority is listed).
	Total  uint64            `json:"total"`
	Counts map[string]uint64 `json:"counts"`
}

var recentParams = []string{"min_priority", "rule", "source", "hostname", "output", "q", "after", "before", "limit"}

// parseFilter reads the query parameters; the error names the bad one.
func parseFilter(q url.Values, capacity int, paging bool) (recent.Filter, error) {
	f := recent.Filter{Limit: defaultRecentLimit}
	for k, v := range q {
		if !slices.Contains(recentParams, k) || (!paging && (k == "before" || k == "limit")) {
			return f, fmt.Errorf("unknown query parameter %q", k)
		}
		if len(v) > 1 {
			return f, fmt.Errorf("%s: given %d times, want once", k, len(v))
		}
		if len(v[0]) > 1024 {
			return f, fmt.Errorf("%s: longer than 1024 bytes", k)
		}
	}
	f.Rule, f.Source, f.Hostname, f.Output, f.Text = q.Get("rule"), q.Get("source"), q.Get("hostname"), q.Get("output"), q.Get("q")
	if v := q.Get("min_priority"); v != "" {
		p, err := alert.ParsePriority(v)
		if err != nil {
			return f, fmt.Errorf("min_priority: %w", err)
		}
		f.MinPriority = p
	}
	seq := func(name string) (uint64, error) {
		v := q.Get(name)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: want a sequence number (an integer ≥ 0), got %q", name, v)
		}
		return n, nil
	}
	var err error
	if f.After, err = seq("after"); err != nil {
		return f, err
	}
	if f.Before, err = seq("before"); err != nil {
		return f, err
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > capacity {
			return f, fmt.Errorf("limit: want an integer from 1 to %d, got %q", capacity, v)
		}
		f.Limit = n
	}
	return f, nil
}

func (x *alertsAPI) disabled(w http.ResponseWriter) bool {
	if x.store == nil {
		apiError(w, http.StatusNotFound, "the store of recent alerts is off (ui.recent_alerts: 0)")
		return true
	}
	return false
}

func (x *alertsAPI) recentAlerts(w http.ResponseWriter, r *http.Request) {
	if x.disabled(w) {
		return
	}
	f, err := parseFilter(r.URL.Query(), x.store.Cap(), true)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	res := x.store.Query(f)
	rep := RecentReply{Alerts: toRecent(res.Entries), Latest: res.Latest, Matched: res.Matched,
		Capacity: x.store.Cap(), Total: res.Total, Counts: make(map[string]uint64, 8)}
	for _, p := range alert.Priorities() {
		rep.Counts[p.String()] = res.Counts[p]
	}
	w.Header().Set("Cache-Control", "no-store")
	ingest.WriteJSON(w, http.StatusOK, rep)
}

func toRecent(es []recent.Entry) []RecentAlert {
	out := make([]RecentAlert, len(es))
	for i, e := range es {
		outs := e.Outputs
		if outs == nil {
			outs = []string{}
		}
		out[i] = RecentAlert{Seq: e.Seq, Received: e.Received, Outputs: outs, Alert: e.Alert}
	}
	return out
}

// StreamEvent is the data of each "alerts" event of the stream.
type StreamEvent struct {
	// Alerts that arrived since the previous event and match, oldest first.
	Alerts []RecentAlert `json:"alerts"`
	Latest uint64        `json:"latest"`
	// Skipped counts alerts this stream did not send because too many
	// arrived at once (at most; some may not have matched the filters).
	Skipped uint64 `json:"skipped"`
}

// stream serves Server-Sent Events: an "alerts" event (JSON StreamEvent) for
// each burst of new matching alerts, a comment as heartbeat. It starts after
// the query's after (default: the newest alert now). Ingest never waits for
// a stream: the stream reads the shared ring at its own pace, and a client
// too slow to take an event within streamWriteTimeout is dropped.
func (x *alertsAPI) stream(w http.ResponseWriter, r *http.Request) {
	if x.disabled(w) {
		return
	}
	f, err := parseFilter(r.URL.Query(), x.store.Cap(), false)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	if x.streams.Add(1) > maxStreams {
		x.streams.Add(-1)
		x.refused.Inc()
		apiError(w, http.StatusServiceUnavailable, fmt.Sprintf("too many alert streams open (limit %d)", maxStreams))
		return
	}
	defer x.streams.Add(-1)
	x.clients.Inc()
	defer x.clients.Dec()

	signal, unsubscribe := x.store.Subscribe()
	defer unsubscribe()
	latest := x.store.Latest()
	last := f.After
	if r.URL.Query().Get("after") == "" || last > latest {
		last = latest
	}
	rc := http.NewResponseController(w)
	// The server's read timeout would end a long-lived stream; it reads
	// nothing more anyway.
	_ = rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	ctx := r.Context()
	write := func(b []byte) bool {
		if err := rc.SetWriteDeadline(time.Now().Add(time.Duration(x.writeTimeout.Load()))); err != nil {
			return false
		}
		_, err := w.Write(b)
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			// A stalled client, not one that left (net/http cancels ctx
			// on any write error, so the deadline is what tells them apart).
			if errors.Is(err, os.ErrDeadlineExceeded) {
				x.dropped.Inc()
			}
			return false
		}
		return true
	}
	if !write(fmt.Appendf(nil, "retry: 2000\nevent: hello\ndata: {\"latest\":%d}\n\n", last)) {
		return
	}
	heartbeat := time.NewTicker(streamHeartbeat)
	defer heartbeat.Stop()
	pending := last < latest // the client asked for alerts it missed
	for {
		if !pending {
			select {
			case <-ctx.Done():
				return
			case <-x.api.s.draining: // the router stops: streams never go idle
				return
			case <-heartbeat.C:
				if !write([]byte(": ping\n\n")) {
					return
				}
				continue
			case <-signal:
			}
			// Gather the rest of a burst into one event.
			select {
			case <-ctx.Done():
				return
			case <-x.api.s.draining:
				return
			case <-time.After(streamCoalesce):
			}
		}
		pending = false
		q := f
		q.After, q.Limit = last, streamBatch
		res := x.store.Query(q)
		if res.Latest <= last {
			continue
		}
		ev := StreamEvent{Latest: res.Latest}
		examined := min(res.Latest-last, uint64(x.store.Cap()))
		ev.Skipped = res.Latest - last - examined + uint64(res.Matched-len(res.Entries))
		last = res.Latest
		if len(res.Entries) == 0 && ev.Skipped == 0 {
			continue
		}
		slices.Reverse(res.Entries)
		ev.Alerts = toRecent(res.Entries)
		data, err := json.Marshal(ev)
		if err != nil {
			x.api.s.log.Error("alert stream: encoding", "err", err)
			return
		}
		var b strings.Builder
		b.Grow(len(data) + 32)
		b.WriteString("event: alerts\ndata: ")
		b.Write(data)
		b.WriteString("\n\n")
		if !write([]byte(b.String())) {
			return
		}
	}
}
