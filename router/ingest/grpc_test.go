package ingest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/lannerhq/lanner/router/ingestpb"
)

func startGRPC(t *testing.T, cfg GRPCConfig) ingestpb.IngestClient {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	ingestpb.RegisterIngestServer(srv, NewGRPC(cfg))
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return ingestpb.NewIngestClient(conn)
}

// Batches beyond MaxInFlight wait for a slot, whatever the number of
// streams, and are all handled once slots free up.
func TestGRPCBoundsBatchesInFlight(t *testing.T) {
	const streams, limit = 5, 2
	p := &gatedPipeline{entered: make(chan struct{}, streams), release: make(chan struct{})}
	client := startGRPC(t, GRPCConfig{Pipeline: p, MaxInFlight: limit})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	acks := make(chan *ingestpb.Ack, streams)
	for i := range streams {
		wg.Go(func() {
			st, err := client.Ingest(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			doc := fmt.Sprintf(`{"rule":"r","priority":"Warning","time":"2026-01-02T03:04:05Z","output":"o","uuid":"00000000-0000-4000-8000-%012d"}`, i)
			if err := st.Send(&ingestpb.AlertBatch{BatchId: fmt.Sprint(i), Alerts: [][]byte{[]byte(doc)}}); err != nil {
				t.Error(err)
				return
			}
			ack, err := st.Recv()
			if err != nil {
				t.Error(err)
				return
			}
			acks <- ack
			_ = st.CloseSend()
		})
	}
	// Exactly limit batches get in; the others wait.
	for range limit {
		select {
		case <-p.entered:
		case <-ctx.Done():
			t.Fatal("batches did not reach the pipeline")
		}
	}
	select {
	case <-p.entered:
		t.Fatalf("a batch beyond the limit of %d reached the pipeline", limit)
	case <-time.After(200 * time.Millisecond):
	}
	close(p.release)
	wg.Wait()
	close(acks)
	n := 0
	for a := range acks {
		if a.Accepted != 1 {
			t.Errorf("batch %s: accepted %d, want 1", a.BatchId, a.Accepted)
		}
		n++
	}
	if n != streams {
		t.Errorf("%d acks, want %d", n, streams)
	}
}
