package server

import (
	"context"
	"fmt"
	"testing"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/router/config"
	"github.com/lannerhq/lanner/router/queue"
	"github.com/lannerhq/lanner/router/route"
)

// BenchmarkSubmitBatch measures the gRPC/batch path without the network:
// decode, enrich, route and one durable Enqueue per batch of 1000 alerts.
func BenchmarkSubmitBatch(b *testing.B) {
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
	defer store.Close()
	p := &pipeline{store: store}
	p.routing.Store(&routing{router: r})
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
