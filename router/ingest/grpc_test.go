package ingest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/lannerhq/lanner/router/ingestpb"
)

func startGRPC(t *testing.T, cfg GRPCConfig) ingestpb.IngestClient {
	client, _ := startGRPCService(t, cfg)
	return client
}

// startGRPCService serves the ingest service with its codec, as the router does.
func startGRPCService(t *testing.T, cfg GRPCConfig) (ingestpb.IngestClient, *GRPC) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	svc := NewGRPC(cfg)
	srv := grpc.NewServer(grpc.ForceServerCodecV2(svc.Codec()))
	ingestpb.RegisterIngestServer(srv, svc)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return ingestpb.NewIngestClient(conn), svc
}

// Batches read from many HTTP/2 frames are decoded from gRPC's buffers,
// which go back once the alerts are decoded: after accepted batches, a
// bad alert, and a batch over the limit that ends the stream, the codec
// holds nothing.
func TestGRPCGivesBuffersBack(t *testing.T) {
	client, svc := startGRPCService(t, GRPCConfig{Pipeline: &fixedPipeline{res: Result{Status: StatusQueued}}, MaxBatchAlerts: 300})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := client.Ingest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	batch := func(n int) *ingestpb.AlertBatch {
		b := &ingestpb.AlertBatch{BatchId: fmt.Sprint(n)}
		for i := range n {
			b.Alerts = append(b.Alerts, fmt.Appendf(nil, `{"rule":"r","priority":"Warning","time":"2026-01-02T03:04:05Z","output":"%s","uuid":"00000000-0000-4000-8000-%012d"}`, strings.Repeat("o", 900), i))
		}
		return b
	}
	for _, n := range []int{1, 200, 300} {
		b := batch(n)
		b.Alerts[0] = []byte(`{"rule":"r"}`) // rejected: no priority
		if err := st.Send(b); err != nil {
			t.Fatal(err)
		}
		ack, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if int(ack.Accepted) != n-1 || len(ack.Rejected) != 1 || ack.Rejected[0].Index != 0 {
			t.Fatalf("batch of %d: ack %v", n, ack)
		}
	}
	if err := st.Send(batch(301)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("batch over the limit: %v, want InvalidArgument", err)
	}
	if n := svc.codec.holding(); n != 0 {
		t.Fatalf("codec still holds %d batches", n)
	}
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
