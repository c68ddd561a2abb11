package ship

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/router/ingest"
	"github.com/lannerhq/lanner/router/ingestpb"
)

// recorder is the pipeline behind the router's real gRPC ingest service in
// these tests: it keeps every alert it is handed, and can refuse (queue full)
// the first few batches.
type recorder struct {
	mu       sync.Mutex
	uuids    map[string]int
	fullLeft int
}

func (r *recorder) Submit(_ context.Context, alerts []*alert.Alert) ([]ingest.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := make([]ingest.Result, len(alerts))
	if r.fullLeft > 0 {
		r.fullLeft--
		for i := range res {
			res[i] = ingest.Result{Status: ingest.StatusFull, Full: []string{"test"}}
		}
		return res, nil
	}
	for i, a := range alerts {
		r.uuids[a.UUID]++
		res[i] = ingest.Result{Status: ingest.StatusQueued}
	}
	return res, nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.uuids)
}

func startRouter(t *testing.T, addr string, rec *recorder, token string) (string, func()) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lis net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may linger briefly after a stop
		if lis, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	ingestpb.RegisterIngestServer(srv, ingest.NewGRPC(ingest.GRPCConfig{Pipeline: rec, Token: ingest.NewToken(token)}))
	go srv.Serve(lis)
	return lis.Addr().String(), srv.Stop
}

func spoolAlerts(t *testing.T, sp *Spool, from, n int) {
	t.Helper()
	var recs [][]byte
	for i := from; i < from+n; i++ {
		recs = append(recs, []byte(fmt.Sprintf(
			`{"uuid":"u-%d","time":"2026-11-22T10:00:00Z","priority":"Warning","rule":"r","output":"o","output_fields":{"n":%d}}`, i, i)))
	}
	if err := sp.Append(recs); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSenderSurvivesRouterOutage(t *testing.T) {
	sp, err := OpenSpool(SpoolConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{uuids: map[string]int{}, fullLeft: 1}
	addr, stop := startRouter(t, "", rec, "s3cret")
	s, err := NewSender(SenderConfig{Addr: addr, Spool: sp, Token: "s3cret", BatchSize: 100,
		BackoffInitial: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()

	spoolAlerts(t, sp, 0, 250)
	waitFor(t, "first 250 alerts", func() bool { return rec.count() == 250 })

	stop() // the router goes away; alerts pile up in the spool
	spoolAlerts(t, sp, 250, 500)
	time.Sleep(200 * time.Millisecond)
	if sp.Len() == 0 {
		t.Fatal("spool drained with the router down")
	}
	_, stop = startRouter(t, addr, rec, "s3cret")
	defer stop()
	waitFor(t, "all 750 alerts after the outage", func() bool { return rec.count() == 750 })
	waitFor(t, "spool empty", func() bool { return sp.Len() == 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestSenderWrongTokenKeepsAlerts(t *testing.T) {
	sp, _ := OpenSpool(SpoolConfig{Dir: t.TempDir()})
	rec := &recorder{uuids: map[string]int{}}
	addr, stop := startRouter(t, "", rec, "right")
	defer stop()
	s, _ := NewSender(SenderConfig{Addr: addr, Spool: sp, Token: "wrong",
		BackoffInitial: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	spoolAlerts(t, sp, 0, 10)
	s.Run(ctx)
	if rec.count() != 0 || sp.Len() != 10 {
		t.Fatalf("router got %d, spool holds %d; want 0 and 10", rec.count(), sp.Len())
	}
}
