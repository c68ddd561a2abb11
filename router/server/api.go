package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/router/ingest"
	"github.com/lannerhq/lanner/router/queue"
)

// api serves health, metrics and the outputs / dead-letter API. The API
// under /api/v1/outputs requires the ingest token when one is configured:
// dead letters hold alert contents and replay/purge change state.
type api struct {
	s     *Server
	token ingest.Token
}

func (a *api) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		ingest.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !a.s.ready.Load() {
			ingest.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
			return
		}
		ingest.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.s.reg, promhttp.HandlerOpts{Registry: a.s.reg}))
	mux.HandleFunc("GET /api/v1/outputs", a.auth(a.listOutputs))
	mux.HandleFunc("GET /api/v1/outputs/{name}/deadletters", a.auth(a.listDead))
	mux.HandleFunc("GET /api/v1/outputs/{name}/deadletters/{id}", a.auth(a.getDead))
	// Replay and purge change state and the web UI puts them in a browser:
	// refuse cross-site browser requests (CSRF), e.g. a form on another
	// site posting a JSON-looking text/plain body when no token is set.
	csrf := http.NewCrossOriginProtection()
	mux.Handle("POST /api/v1/outputs/{name}/deadletters/replay", csrf.Handler(a.auth(a.replayDead)))
	mux.Handle("DELETE /api/v1/outputs/{name}/deadletters", csrf.Handler(a.auth(a.purgeDead)))
}

func (a *api) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !a.token.CheckHeader(r.Header.Get("Authorization")) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lanner"`)
			apiError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		h(w, r)
	}
}

func apiError(w http.ResponseWriter, code int, msg string) {
	ingest.WriteJSON(w, code, map[string]string{"error": msg})
}

// OutputInfo is one entry of GET /api/v1/outputs.
type OutputInfo struct {
	Name string `json:"name"`
	// Type is empty for a queue left on disk by an output no longer in the
	// config (Configured false).
	Type            string `json:"type"`
	Configured      bool   `json:"configured"`
	State           string `json:"state"`
	MinimumPriority string `json:"minimum_priority,omitempty"`
	QueueDepth      int64  `json:"queue_depth"`
	QueueBytes      int64  `json:"queue_bytes"`
	Delivered       int64  `json:"delivered"`
	Failed          int64  `json:"failed"`
	Retries         int64  `json:"retries"`
	DeadLetters     int64  `json:"dead_letters"`
	Dropped         int64  `json:"dropped"`
	Rejected        int64  `json:"rejected"`
	Duplicates      int64  `json:"duplicates"`
	LastError       string `json:"last_error,omitempty"`
}

// Outputs describes every configured output and every queue on disk.
func (s *Server) Outputs() []OutputInfo {
	s.mu.Lock()
	specs := s.cfg.Outputs
	s.mu.Unlock()
	seen := map[string]bool{}
	var list []OutputInfo
	add := func(name, typ, minPrio string, configured bool) {
		st := s.store.Stats(name)
		list = append(list, OutputInfo{
			Name: name, Type: typ, Configured: configured, State: st.State, MinimumPriority: minPrio,
			QueueDepth: st.Depth, QueueBytes: st.Bytes, Delivered: st.Delivered, Failed: st.Failed,
			Retries: st.Retries, DeadLetters: st.DeadLetters, Dropped: st.Dropped, Rejected: st.Rejected,
			Duplicates: st.Duplicates, LastError: st.LastError,
		})
	}
	for _, spec := range specs {
		seen[spec.Name] = true
		mp := ""
		if spec.MinimumPriority.Valid() {
			mp = spec.MinimumPriority.String()
		}
		add(spec.Name, spec.Type, mp, true)
	}
	for _, name := range s.store.Outputs() {
		if !seen[name] {
			add(name, "", "", false)
		}
	}
	return list
}

func (a *api) listOutputs(w http.ResponseWriter, _ *http.Request) {
	list := a.s.Outputs()
	if list == nil {
		list = []OutputInfo{}
	}
	ingest.WriteJSON(w, http.StatusOK, map[string]any{"outputs": list})
}

// known reports whether name is a configured output or has a queue on disk.
func (a *api) known(name string) bool {
	for _, o := range a.s.Outputs() {
		if o.Name == name {
			return true
		}
	}
	return false
}

// DeadLetterInfo is one dead letter in API replies.
type DeadLetterInfo struct {
	ID        string            `json:"id"`
	Output    string            `json:"output"`
	Alert     *alert.Alert      `json:"alert"`
	Overrides map[string]string `json:"overrides,omitempty"`
	Attempts  int               `json:"attempts"`
	Reason    string            `json:"reason"`
	FirstTry  time.Time         `json:"first_try"`
	LastTry   time.Time         `json:"last_try"`
	DeadAt    time.Time         `json:"dead_at"`
}

func deadInfo(d queue.DeadLetter) DeadLetterInfo {
	return DeadLetterInfo{ID: d.ID, Output: d.Output, Alert: d.Alert, Overrides: d.Overrides, Attempts: d.Attempts,
		Reason: d.Reason, FirstTry: d.FirstTry, LastTry: d.LastTry, DeadAt: d.DeadAt}
}

func (a *api) output(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.PathValue("name")
	if !a.known(name) {
		apiError(w, http.StatusNotFound, "no output named "+strconv.Quote(name))
		return "", false
	}
	return name, true
}

// listDead: ?after=ID&limit=N pages through the dead letters; the reply's
// next is the after of the following page ("" at the end).
func (a *api) listDead(w http.ResponseWriter, r *http.Request) {
	name, ok := a.output(w, r)
	if !ok {
		return
	}
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			apiError(w, http.StatusBadRequest, "limit: want a positive integer")
			return
		}
		limit = n
	}
	list, next, err := a.s.store.DeadLetters(name, r.URL.Query().Get("after"), limit)
	if err != nil {
		a.storeError(w, err)
		return
	}
	out := make([]DeadLetterInfo, len(list))
	for i, d := range list {
		out[i] = deadInfo(d)
	}
	ingest.WriteJSON(w, http.StatusOK, map[string]any{"deadletters": out, "next": next})
}

func (a *api) getDead(w http.ResponseWriter, r *http.Request) {
	name, ok := a.output(w, r)
	if !ok {
		return
	}
	d, err := a.s.store.DeadLetter(name, r.PathValue("id"))
	if err != nil {
		a.storeError(w, err)
		return
	}
	ingest.WriteJSON(w, http.StatusOK, deadInfo(d))
}

// deadSelection is the body of replay and purge: some ids, or all.
type deadSelection struct {
	IDs []string `json:"ids"`
	All bool     `json:"all"`
}

func readSelection(w http.ResponseWriter, r *http.Request) ([]string, bool) {
	var sel deadSelection
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<20))
	if err == nil {
		err = json.Unmarshal(body, &sel)
	}
	switch {
	case err != nil:
		apiError(w, http.StatusBadRequest, `body: want {"ids": ["..."]} or {"all": true}: `+err.Error())
		return nil, false
	case sel.All && len(sel.IDs) > 0:
		apiError(w, http.StatusBadRequest, `body: give either ids or "all": true, not both`)
		return nil, false
	case !sel.All && len(sel.IDs) == 0:
		apiError(w, http.StatusBadRequest, `body: no ids given (use {"all": true} for every dead letter)`)
		return nil, false
	}
	return slices.Clip(sel.IDs), true // nil means all to the store
}

func (a *api) replayDead(w http.ResponseWriter, r *http.Request) {
	name, ok := a.output(w, r)
	if !ok {
		return
	}
	ids, ok := readSelection(w, r)
	if !ok {
		return
	}
	n, err := a.s.store.Replay(name, ids)
	if errors.Is(err, queue.ErrFull) {
		ingest.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"replayed": n, "error": "the output's queue is full; replay the rest later"})
		return
	}
	if err != nil {
		a.storeError(w, err)
		return
	}
	a.s.log.Info("dead letters replayed", "output", name, "count", n)
	ingest.WriteJSON(w, http.StatusOK, map[string]int{"replayed": n})
}

func (a *api) purgeDead(w http.ResponseWriter, r *http.Request) {
	name, ok := a.output(w, r)
	if !ok {
		return
	}
	ids, ok := readSelection(w, r)
	if !ok {
		return
	}
	n, err := a.s.store.Purge(name, ids)
	if err != nil {
		a.storeError(w, err)
		return
	}
	a.s.log.Info("dead letters purged", "output", name, "count", n)
	ingest.WriteJSON(w, http.StatusOK, map[string]int{"purged": n})
}

func (a *api) storeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, queue.ErrNotFound):
		apiError(w, http.StatusNotFound, "not found")
	case errors.Is(err, queue.ErrClosed):
		apiError(w, http.StatusServiceUnavailable, "the router is stopping")
	default:
		a.s.log.Error("api: queue store", "err", err)
		apiError(w, http.StatusInternalServerError, "queue store error")
	}
}
