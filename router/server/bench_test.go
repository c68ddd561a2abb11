package server

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/router/config"
	"github.com/lannerhq/lanner/router/ingestpb"
	"github.com/lannerhq/lanner/router/queue"
	"github.com/lannerhq/lanner/router/route"
)

// benchPipeline routes everything to one webhook output (never started)
// over a fresh queue, closed when the benchmark ends.
func benchPipeline(b *testing.B) *pipeline {
	b.Helper()
	cfg := config.Defaults()
	cfg.Outputs = []config.OutputSpec{{Name: "sink", Type: "webhook"}}
	r, err := route.New(cfg, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	store, err := queue.Open(queue.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	p := &pipeline{store: store}
	p.routing.Store(&routing{router: r})
	return p
}

// BenchmarkSubmitBatch measures the gRPC/batch path without the network:
// decode, enrich, route and one durable Enqueue per batch of 1000 alerts.
func BenchmarkSubmitBatch(b *testing.B) {
	p := benchPipeline(b)
	docs := make([][]byte, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for range b.N {
		for i := range docs {
			n++
			docs[i] = []byte(falcoAlert(fmt.Sprintf("00000000-0000-4000-8000-%012d", n)))
		}
		alerts := make([]*alert.Alert, len(docs))
		for i, d := range docs {
			a, err := alert.Decode(d)
			if err != nil {
				b.Fatal(err)
			}
			alerts[i] = a
		}
		if _, err := p.Submit(context.Background(), alerts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(docs))/b.Elapsed().Seconds(), "alerts/s")
}

// BenchmarkGRPCIngest streams batches of 1000 alerts to a real router (real
// queue on disk, webhook output to a real sink) and reports alerts/s.
func BenchmarkGRPCIngest(b *testing.B) {
	s := newSink(b)
	h := startRouter(b, "outputs:\n"+webhookOutput("sink", s.URL, "      batch: true\n"))
	st := openStream(b, dialGRPC(b, h.srv.GRPCAddr().String(), nil), "")
	batch := &ingestpb.AlertBatch{}
	n := 0
	b.ResetTimer()
	for range b.N {
		batch.Alerts = batch.Alerts[:0]
		for range 1000 {
			n++
			batch.Alerts = append(batch.Alerts, []byte(falcoAlert(fmt.Sprintf("22222222-0000-4000-8000-%012d", n))))
		}
		if err := st.Send(batch); err != nil {
			b.Fatal(err)
		}
		if _, err := st.Recv(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "alerts/s")
}

// BenchmarkHTTPIngest posts single alerts, as Falco does.
func BenchmarkHTTPIngest(b *testing.B) {
	s := newSink(b)
	h := startRouter(b, "outputs:\n"+webhookOutput("sink", s.URL, "      batch: true\n"))
	b.SetParallelism(16)
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := falcoAlert(fmt.Sprintf("33333333-0000-4000-8000-%012d", n.Add(1)))
			resp, err := testClient.Post(h.base+"/", "application/json", strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
}
