package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/outputtest"
	"github.com/lannerhq/lanner/router/queue"
)

// benchAlerts is the fixed workload, so -benchtime 1x is meaningful.
const benchAlerts = 50_000

// benchIndexWait bounds the wait for ZincSearch to make every document
// searchable (it indexes asynchronously, well after answering _bulk).
const benchIndexWait = 5 * time.Minute

// benchZincEnv is how the benchmarks run ZincSearch: one shard per index
// and 10,240-document indexing batches (fewer, larger segments: less
// merging), snappy instead of zstd for stored segments. Everything is
// still indexed and searchable; together these cut Zinc's CPU per document
// by roughly 10% (see BENCHMARKS.md).
func benchZincEnv() []string {
	return []string{"ZINC_SHARD_NUM=1", "ZINC_BATCH_SIZE=10240", "ZINC_ICE_COMPRESSOR=snappy"}
}

// BenchmarkDeliveredThroughQueue measures alerts/s from the first Enqueue
// into the durable queue (fsync'd) until every alert is searchable in
// ZincSearch (counted with a search, not from the _bulk answers: Zinc
// acknowledges a _bulk once it is in its write-ahead log and indexes it
// later). acked/s is the rate at which the queue saw them acknowledged.
// alerts/cpu-s divides by the CPU time of this process only (queue +
// output); zinc-alerts/cpu-s by Zinc's, indexing included.
func BenchmarkDeliveredThroughQueue(b *testing.B) {
	msgs := outputtest.Alerts(0, 4096)
	for range b.N {
		z := startZincEnv(b, benchZincEnv()...)
		o, err := New(Config{HostPort: z.URL, Username: z.User, Password: z.Pass, Index: "bench", Suffix: "none"}, outputs.Deps{})
		if err != nil {
			b.Fatal(err)
		}
		q, err := queue.Open(queue.Options{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler), DedupWindow: -1})
		if err != nil {
			b.Fatal(err)
		}
		opts := queue.DefaultOutputOptions()
		opts.BatchSize = 1000
		opts.Concurrency = 4
		if err := q.StartOutput("es", o, opts); err != nil {
			b.Fatal(err)
		}
		cpu0, zcpu0 := outputtest.CPUTime(), z.cpuTime()
		b.ResetTimer()
		start := time.Now()
		enqueue(b, q, "es", msgs, benchAlerts)
		waitDelivered(b, q, "es", benchAlerts, benchIndexWait)
		acked, cpu := time.Since(start), outputtest.CPUTime()-cpu0
		z.waitCount(b, "bench", benchAlerts, benchIndexWait)
		el := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(benchAlerts)/el.Seconds(), "alerts/s")
		b.ReportMetric(float64(benchAlerts)/acked.Seconds(), "acked/s")
		b.ReportMetric(float64(benchAlerts)/cpu.Seconds(), "alerts/cpu-s")
		b.ReportMetric(float64(benchAlerts)/(z.cpuTime()-zcpu0).Seconds(), "zinc-alerts/cpu-s")
		b.ReportMetric(0, "ns/op")
		if st := q.Stats("es"); st.DeadLetters != 0 {
			b.Errorf("dead letters: %d", st.DeadLetters)
		}
		_ = q.Close()
		_ = o.Close()
	}
}

// BenchmarkDeliveredThroughQueueVictoriaLogs is the same run against
// another server that accepts the Elasticsearch _bulk API: VictoriaLogs
// (its /insert/elasticsearch endpoint, installed for the Loki output's
// tests). It is a log store, not Elasticsearch (it ignores _index and _id
// and answers 201 for every item), so this is no stand-in for an
// Elasticsearch node: it shows what the queue and the output deliver when
// the server is not the bottleneck. Alerts are counted back with LogsQL.
func BenchmarkDeliveredThroughQueueVictoriaLogs(b *testing.B) {
	msgs := outputtest.Alerts(0, 4096)
	for range b.N {
		bin := outputtest.BackendBinary(b, "victoria-logs")
		addr := outputtest.FreeAddr(b)
		outputtest.StartProcess(b, "http://"+addr+"/health", bin,
			"-storageDataPath="+b.TempDir(), "-httpListenAddr="+addr, "-loggerLevel=WARN",
			"-retentionPeriod=100y", "-futureRetention=100y")
		base := "http://" + addr
		o, err := New(Config{HostPort: base + "/insert/elasticsearch", Index: "bench", Suffix: "none"}, outputs.Deps{})
		if err != nil {
			b.Fatal(err)
		}
		q, err := queue.Open(queue.Options{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler), DedupWindow: -1})
		if err != nil {
			b.Fatal(err)
		}
		opts := queue.DefaultOutputOptions()
		opts.BatchSize = 1000
		opts.Concurrency = 4
		if err := q.StartOutput("es", o, opts); err != nil {
			b.Fatal(err)
		}
		cpu0 := outputtest.CPUTime()
		b.ResetTimer()
		start := time.Now()
		enqueue(b, q, "es", msgs, benchAlerts)
		waitDelivered(b, q, "es", benchAlerts, benchIndexWait)
		acked, cpu := time.Since(start), outputtest.CPUTime()-cpu0
		waitVLCount(b, base, benchAlerts, benchIndexWait)
		el := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(benchAlerts)/el.Seconds(), "alerts/s")
		b.ReportMetric(float64(benchAlerts)/acked.Seconds(), "acked/s")
		b.ReportMetric(float64(benchAlerts)/cpu.Seconds(), "alerts/cpu-s")
		b.ReportMetric(0, "ns/op")
		if st := q.Stats("es"); st.DeadLetters != 0 {
			b.Errorf("dead letters: %d", st.DeadLetters)
		}
		_ = q.Close()
		_ = o.Close()
	}
}

// waitVLCount polls VictoriaLogs until n alerts are searchable (it makes
// data searchable about a second after ingest).
func waitVLCount(b *testing.B, base string, n int, limit time.Duration) {
	b.Helper()
	deadline := time.Now().Add(limit)
	for {
		res, err := http.PostForm(base+"/select/logsql/query", url.Values{"query": {"* | stats count() n"}})
		if err != nil {
			b.Fatal(err)
		}
		var r struct {
			N string `json:"n"`
		}
		_ = json.NewDecoder(res.Body).Decode(&r)
		res.Body.Close()
		if got, _ := strconv.Atoi(r.N); got >= n {
			return
		} else if time.Now().After(deadline) {
			b.Fatalf("%d of %d alerts searchable after %s", got, n, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// BenchmarkSendDirect measures the output alone: 50,000 alerts in batches
// of 1000 from 4 concurrent senders, until Zinc acknowledges them (its
// indexing is measured by the other two benchmarks). alerts/cpu-s is the
// output's own cost.
func BenchmarkSendDirect(b *testing.B) {
	msgs := outputtest.Alerts(0, 1000)
	for range b.N {
		z := startZincEnv(b, benchZincEnv()...)
		o, err := New(Config{HostPort: z.URL, Username: z.User, Password: z.Pass, Index: "bench", Suffix: "none"}, outputs.Deps{})
		if err != nil {
			b.Fatal(err)
		}
		cpu0 := outputtest.CPUTime()
		b.ResetTimer()
		el := outputtest.SendConcurrently(b, o, msgs, benchAlerts, 4)
		b.StopTimer()
		b.ReportMetric(float64(benchAlerts)/el.Seconds(), "acked/s")
		b.ReportMetric(float64(benchAlerts)/(outputtest.CPUTime()-cpu0).Seconds(), "alerts/cpu-s")
		b.ReportMetric(0, "ns/op")
		_ = o.Close()
	}
}

// BenchmarkZincCeiling is the server alone: _bulk bodies of our alert
// documents, encoded before the clock starts, posted by 4 plain net/http
// clients (1000 documents each), until all are searchable. It reports
// documents per CPU-second of Zinc and what that allows on this machine's
// cores (ceiling/s) if Zinc had them all. "dynamic" is the index an output
// without createindextemplate gets (Zinc maps every new field itself);
// "nothing-indexed" maps every field with index: false, Zinc's fixed cost
// per document (parse, write-ahead log, stored source) with no indexing at
// all: no setting of the output or its mappings can go below it.
func BenchmarkZincCeiling(b *testing.B) {
	for _, mapping := range []string{"dynamic", "nothing-indexed"} {
		b.Run("mapping="+mapping, func(b *testing.B) {
			for range b.N {
				zincCeiling(b, mapping == "nothing-indexed")
			}
		})
	}
}

func zincCeiling(b *testing.B, noIndex bool) {
	const batch, clients = 1000, 4
	z := startZincEnv(b, benchZincEnv()...)
	o, err := New(Config{HostPort: z.URL, Index: "bench", Suffix: "none"}, outputs.Deps{})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	var bodies [][]byte
	for i := 0; i < benchAlerts; i += batch {
		msgs := outputtest.Alerts(i, batch)
		body, _, failed := o.bulkBody(msgs)
		if len(failed) > 0 {
			b.Fatal(failed)
		}
		bodies = append(bodies, body)
	}
	if noIndex {
		z.put(b, "/bench", nothingIndexed(b, bodies[0]))
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer hc.CloseIdleConnections()
	zcpu0 := z.cpuTime()
	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(bodies); i = int(next.Add(1)) - 1 {
				if err := z.postBulk(hc, bodies[i]); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	acked := time.Since(start)
	z.waitCount(b, "bench", benchAlerts, benchIndexWait)
	el := time.Since(start)
	zcpu := z.cpuTime() - zcpu0
	b.StopTimer()
	perCPU := float64(benchAlerts) / zcpu.Seconds()
	b.ReportMetric(float64(benchAlerts)/el.Seconds(), "docs/s")
	b.ReportMetric(float64(benchAlerts)/acked.Seconds(), "acked/s")
	b.ReportMetric(perCPU, "docs/zinc-cpu-s")
	b.ReportMetric(perCPU*float64(runtime.NumCPU()), "ceiling/s")
	b.ReportMetric(0, "ns/op")
}

// postBulk posts one _bulk body and checks that every item succeeded.
func (z *zinc) postBulk(hc *http.Client, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, z.URL+"/_bulk", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.SetBasicAuth(z.User, z.Pass)
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var r bulkResponse
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil || res.StatusCode != 200 || r.Errors || wholeError(r.Error) != "" {
		return fmt.Errorf("_bulk: %d errors=%v %s %v", res.StatusCode, r.Errors, r.Error, err)
	}
	return nil
}

// put sends a JSON body with PUT and fails the benchmark unless Zinc says 200.
func (z *zinc) put(b *testing.B, path string, body []byte) {
	b.Helper()
	req, _ := http.NewRequest(http.MethodPut, z.URL+path, bytes.NewReader(body))
	req.SetBasicAuth(z.User, z.Pass)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		b.Fatalf("PUT %s: %d %s", path, res.StatusCode, msg)
	}
}

// nothingIndexed returns index-creation mappings that set index: false on
// every field of the first document of a _bulk body (output_fields keys
// included, as Zinc flattens them).
func nothingIndexed(b *testing.B, body []byte) []byte {
	b.Helper()
	lines := strings.SplitN(string(body), "\n", 3)
	var doc map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &doc); err != nil {
		b.Fatal(err)
	}
	typeOf := func(v any) string {
		switch v.(type) {
		case float64:
			return "long"
		case bool:
			return "boolean"
		}
		return "keyword"
	}
	props := map[string]any{}
	for k, v := range doc {
		if sub, ok := v.(map[string]any); ok {
			subProps := map[string]any{}
			for sk, sv := range sub {
				subProps[sk] = map[string]any{"type": typeOf(sv), "index": false}
			}
			props[k] = map[string]any{"properties": subProps}
			continue
		}
		if arr, ok := v.([]any); ok && len(arr) > 0 {
			v = arr[0]
		}
		props[k] = map[string]any{"type": typeOf(v), "index": false}
	}
	props["time"] = map[string]any{"type": "date", "index": false}
	m, err := json.Marshal(map[string]any{"mappings": map[string]any{"properties": props}})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// enqueue queues n alerts (cycling through msgs, each with a unique uuid)
// from 4 producers, 1000 alerts per Enqueue call.
func enqueue(b *testing.B, q *queue.Store, output string, msgs []outputs.Message, n int) {
	b.Helper()
	const producers, chunk = 4, 1000
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			items := make([]queue.Item, 0, chunk)
			for i := p * chunk; i < n; i += producers * chunk {
				items = items[:0]
				for j := i; j < min(i+chunk, n); j++ {
					a := msgs[j%len(msgs)].Alert.Clone()
					a.UUID = fmt.Sprintf("00000000-0000-4000-8000-%012x", j)
					items = append(items, queue.Item{Output: output, Msg: outputs.Message{Alert: a}})
				}
				if _, err := q.Enqueue(context.Background(), items); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

func waitDelivered(b *testing.B, q *queue.Store, output string, n int, limit time.Duration) {
	b.Helper()
	deadline := time.Now().Add(limit)
	for q.Stats(output).Delivered < int64(n) {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d delivered after %s: %+v", q.Stats(output).Delivered, n, limit, q.Stats(output))
		}
		time.Sleep(2 * time.Millisecond)
	}
}
