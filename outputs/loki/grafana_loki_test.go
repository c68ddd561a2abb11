package loki

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/outputtest"
	"github.com/lannerhq/lanner/router/queue"
)

// grafanaLokiConfig is a single-binary Loki on 127.0.0.1 with local storage.
const grafanaLokiConfig = `auth_enabled: true
server:
  http_listen_address: 127.0.0.1
  http_listen_port: %s
  grpc_listen_address: 127.0.0.1
  grpc_listen_port: %s
  log_level: warn
common:
  instance_addr: 127.0.0.1
  path_prefix: %[3]s
  storage:
    filesystem:
      chunks_directory: %[3]s/chunks
      rules_directory: %[3]s/rules
  replication_factor: 1
  ring:
    kvstore:
      store: inmemory
schema_config:
  configs:
    - from: 2020-10-24
      store: tsdb
      object_store: filesystem
      schema: v13
      index:
        prefix: index_
        period: 24h
limits_config:
  reject_old_samples: false
  discover_service_name: []
  discover_log_levels: false
ingester:
  lifecycler:
    min_ready_duration: 0s
    final_sleep: 0s
pattern_ingester:
  enabled: false
analytics:
  reporting_enabled: false
frontend:
  scheduler_dns_lookup_period: 200ms
frontend_worker:
  dns_lookup_duration: 200ms
`

// grafanaLoki starts the real Grafana Loki (multi-tenant) and returns its URL.
func grafanaLoki(tb testing.TB) string {
	// Optional backend: required only when the setup was asked to build it.
	if p, _ := outputtest.FindBackend("loki"); p == "" && os.Getenv("LANNER_BACKENDS_LOKI") != "1" {
		tb.Skip("Grafana Loki not built (LANNER_BACKENDS_LOKI=1 scripts/setup.d/41-loki.sh builds it, ~8 min)")
	}
	bin := outputtest.BackendBinary(tb, "loki")
	dir := tb.TempDir()
	_, httpPort, _ := net.SplitHostPort(outputtest.FreeAddr(tb))
	_, grpcPort, _ := net.SplitHostPort(outputtest.FreeAddr(tb))
	cfg := filepath.Join(dir, "loki.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(grafanaLokiConfig, httpPort, grpcPort, dir)), 0o644); err != nil {
		tb.Fatal(err)
	}
	base := "http://127.0.0.1:" + httpPort
	log := outputtest.StartProcess(tb, base+"/ready", bin, "-config.file="+cfg)
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("loki output:\n%s", log.String())
		}
	})
	return base
}

// TestGrafanaLoki pushes JSON and snappy-protobuf to the real Grafana Loki
// (built by scripts/setup.d/41-loki.sh when LANNER_BACKENDS_LOKI=1) and
// reads the streams back with LogQL, labels and tenant included.
func TestGrafanaLoki(t *testing.T) {
	base := grafanaLoki(t)
	for _, pb := range []bool{false, true} {
		t.Run(fmt.Sprintf("protobuf=%v", pb), func(t *testing.T) {
			o := newOutput(t, Config{HostPort: base, Tenant: tenant, Protobuf: pb, Format: "json", Labels: []string{"k8s.ns.name"}}, outputs.Deps{})
			first := 300
			if pb {
				first = 400
			}
			msgs := outputtest.Alerts(first, 12)
			now := time.Now().Add(-time.Minute)
			for i, m := range msgs {
				m.Alert.Time = now.Add(time.Duration(i) * time.Millisecond)
			}
			if err := o.Send(context.Background(), msgs); err != nil {
				t.Fatal(err)
			}
			a := msgs[1].Alert
			q := fmt.Sprintf(`{rule=%q, hostname=%q, k8s_ns_name="default"} |= %q`, a.Rule, a.Hostname, outputtest.Marker(first+1))
			streams := queryLoki(t, base, q, now.Add(-time.Minute), 1)
			if len(streams) != 1 || len(streams[0].Values) != 1 {
				t.Fatalf("query back %s: %+v", q, streams)
			}
			s := streams[0]
			if s.Stream["priority"] != a.Priority.String() || s.Stream["source"] != "syscall" || s.Stream["tags"] != "filesystem,mitre_credential_access" {
				t.Errorf("labels: %v", s.Stream)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(s.Values[0][1]), &got); err != nil || got["uuid"] != a.UUID {
				t.Errorf("line: %s (%v)", s.Values[0][1], err)
			}
			if s.Values[0][0] != fmt.Sprint(a.Time.UnixNano()) {
				t.Errorf("timestamp %s, want %d", s.Values[0][0], a.Time.UnixNano())
			}
			all := queryLoki(t, base, fmt.Sprintf(`{source="syscall"} |= "lanner-conf-00%d"`, first/100), now.Add(-time.Minute), 12)
			n := 0
			for _, s := range all {
				n += len(s.Values)
			}
			if n != 12 {
				t.Errorf("got %d of 12 back", n)
			}
		})
	}
}

type lokiStream struct {
	Stream map[string]string
	Values [][2]string
}

func queryLoki(t *testing.T, base, q string, start time.Time, want int) []lokiStream {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		u := base + "/loki/api/v1/query_range?" + url.Values{"query": {q}, "start": {fmt.Sprint(start.UnixNano())}, "limit": {"1000"}}.Encode()
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("X-Scope-OrgID", tenant)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Data struct{ Result []lokiStream }
		}
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("query %s: %d %v", q, resp.StatusCode, err)
		}
		n := 0
		for _, s := range r.Data.Result {
			n += len(s.Values)
		}
		if n >= want || time.Now().After(deadline) {
			return r.Data.Result
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// BenchmarkGrafanaLoki: 50,000 alerts from the durable queue to the real
// Grafana Loki, snappy-protobuf. Skipped unless Loki was built.
func BenchmarkGrafanaLoki(b *testing.B) {
	const n = 50_000
	base := grafanaLoki(b)
	msgs := outputtest.Alerts(0, n)
	now := time.Now().Add(-time.Hour)
	for i, m := range msgs {
		m.Alert.Time = now.Add(time.Duration(i) * time.Microsecond)
	}
	opts := queue.DefaultOutputOptions()
	opts.Concurrency, opts.BatchSize = 4, 1000
	for b.Loop() {
		o := newOutput(b, Config{HostPort: base, Tenant: tenant, Protobuf: true}, outputs.Deps{})
		res := outputtest.RunThroughQueue(b, outputtest.QueueRun{Out: o, Msgs: msgs, Options: &opts})
		outputtest.ReportQueueBench(b, res)
	}
}
