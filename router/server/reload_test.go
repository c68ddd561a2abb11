package server

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lannerhq/lanner/router/config"
)

func TestReload(t *testing.T) {
	sinkA, sinkB, sinkC := newSink(t), newSink(t), newSink(t)
	retry := "    queue:\n      backoff_initial: 20ms\n      backoff_max: 50ms\n"
	h := startRouter(t, "outputs:\n"+webhookOutput("a", sinkA.URL, retry))
	code, body := h.post("/", falcoAlert(""))
	if code != 200 {
		t.Fatal(code, body)
	}
	first := uuidOf(t, body)
	waitFor(t, "delivery to A", 10*time.Second, func() bool { return sinkA.got(first) > 0 })

	// A fails: alerts wait in a's queue on disk.
	sinkA.status.Store(http.StatusInternalServerError)
	var waiting []string
	for range 5 {
		code, body := h.post("/", falcoAlert(""))
		if code != 200 {
			t.Fatal(code, body)
		}
		waiting = append(waiting, uuidOf(t, body))
	}

	// New config: a now points at B, and c is added. Reload through the
	// channel, as SIGHUP does.
	h.writeConfig("customfields:\n  reloaded: yes\noutputs:\n" + webhookOutput("a", sinkB.URL, retry) + webhookOutput("c", sinkC.URL, ""))
	h.reload <- struct{}{}
	waitFor(t, "reload", 10*time.Second, func() bool {
		_, m := h.do(http.MethodGet, "/metrics", "", "", nil)
		return strings.Contains(m, `lanner_config_reloads_total{result="ok"} 1`)
	})
	// What was queued for a before the reload reaches a's new address.
	waitFor(t, "queued alerts delivered after reload", 15*time.Second, func() bool {
		for _, u := range waiting {
			if sinkB.got(u) == 0 {
				return false
			}
		}
		return true
	})
	code, body = h.post("/", falcoAlert(""))
	if code != 200 {
		t.Fatal(code, body)
	}
	mustContain(t, body, `"outputs":["a","c"]`)
	u := uuidOf(t, body)
	waitFor(t, "delivery to both", 10*time.Second, func() bool { return sinkB.got(u) > 0 && sinkC.got(u) > 0 })

	// A broken config is refused and the running one stays.
	for _, bad := range []string{
		"outputs: [\n", // YAML syntax
		"outputs:\n  - name: x\n    type: slack\n", // a type without settings / not built
		"outputs:\n" + webhookOutput("a", "not-a-url", ""),
	} {
		h.writeConfig(bad)
		if err := h.srv.Reload(); err == nil {
			t.Errorf("reload of %q succeeded", bad)
		}
	}
	_, m := h.do(http.MethodGet, "/metrics", "", "", nil)
	mustContain(t, m, "lanner_config_last_reload_successful 0")
	code, body = h.post("/", falcoAlert(""))
	if code != 200 {
		t.Fatal(code, body)
	}
	mustContain(t, body, `"outputs":["a","c"]`)

	// Removing an output keeps its queue visible, stopped.
	sinkC.status.Store(http.StatusServiceUnavailable)
	h.writeConfig("outputs:\n" + webhookOutput("a", sinkB.URL, retry))
	if err := h.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range h.srv.Outputs() {
		if o.Name == "c" {
			found = true
			if o.Configured || o.State != "stopped" {
				t.Errorf("removed output = %+v", o)
			}
		}
	}
	if !found {
		t.Error("the removed output's queue is not listed")
	}
}

func TestStartupErrors(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"bad webhook", "outputs:\n" + webhookOutput("w", "ftp://x", ""), "not an http(s) URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			h := &harness{t: t, dataDir: dir + "/data", cfgPath: dir + "/r.yaml"}
			h.writeConfig(tc.body)
			_, err := checkStart(h.cfgPath)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if _, statErr := os.Stat(dir + "/data/queue"); statErr == nil {
				t.Error("a config that cannot start still created the queue store")
			}
		})
	}
}

func TestUnbuiltOutputTypeIsAnError(t *testing.T) {
	spec := config.OutputSpec{Name: "s", Type: "loki"}
	_, err := lookupType(map[string]outputType{"webhook": {}}, spec)
	if err == nil || !strings.Contains(err.Error(), `output "s": type "loki" is not available in this build (available: webhook)`) {
		t.Fatalf("err = %v", err)
	}
	for _, typ := range []string{"webhook", "slack", "kafka", "elasticsearch", "loki"} {
		if _, ok := outputTypes()[typ]; !ok {
			t.Errorf("output type %q is not registered", typ)
		}
	}
}

// checkStart loads path and builds a router from it, closing it again if
// that worked.
func checkStart(path string) (*Server, error) {
	cfg, err := config.Load(path, nil)
	if err != nil {
		return nil, err
	}
	s, err := New(cfg, Options{})
	if err != nil {
		return nil, err
	}
	_ = s.httpLn.Close()
	_ = s.grpcLn.Close()
	s.closeAll()
	return s, nil
}
