package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/lannerhq/lanner/outputs/outputtest"
	"github.com/lannerhq/lanner/router/ingestpb"
)

func dialGRPC(t testing.TB, addr string, creds credentials.TransportCredentials) ingestpb.IngestClient {
	t.Helper()
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return ingestpb.NewIngestClient(conn)
}

func openStream(t testing.TB, c ingestpb.IngestClient, token string) ingestpb.Ingest_IngestClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	st, err := c.Ingest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestGRPCIngestAcksAfterQueueing(t *testing.T) {
	s := newSink(t)
	h := startRouter(t, "outputs:\n"+webhookOutput("sink", s.URL, ""))
	st := openStream(t, dialGRPC(t, h.srv.GRPCAddr().String(), nil), "")

	dup := falcoAlert("")
	var uuids []string
	batch := &ingestpb.AlertBatch{BatchId: "b1"}
	for i := range 50 {
		u := fmt.Sprintf("11111111-0000-4000-8000-%012d", i)
		uuids = append(uuids, u)
		batch.Alerts = append(batch.Alerts, []byte(falcoAlert(u)))
	}
	batch.Alerts = append(batch.Alerts, []byte(`{"rule":"r","priority":"nope","time":"2026-11-22T10:00:00Z"}`), []byte(dup), []byte("not json"))
	// Two batches in flight: acks come back in order.
	if err := st.Send(batch); err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&ingestpb.AlertBatch{BatchId: "b2", Alerts: [][]byte{[]byte(dup)}}); err != nil {
		t.Fatal(err)
	}
	ack, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if ack.BatchId != "b1" || ack.Accepted != 51 || ack.Duplicates != 0 || len(ack.Rejected) != 2 || len(ack.Retry) != 0 {
		t.Fatalf("ack 1 = %v", ack)
	}
	if ack.Rejected[0].Index != 50 || ack.Rejected[1].Index != 52 {
		t.Errorf("rejected = %v", ack.Rejected)
	}
	mustContain(t, ack.Rejected[0].Reason, "priority")
	ack, err = st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if ack.BatchId != "b2" || ack.Accepted != 0 || ack.Duplicates != 1 {
		t.Fatalf("ack 2 = %v", ack)
	}
	// Acknowledged means queued: every one gets delivered.
	waitFor(t, "delivery of the batch", 15*time.Second, func() bool {
		for _, u := range uuids {
			if s.got(u) == 0 {
				return false
			}
		}
		return true
	})
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	_, metrics := h.do(http.MethodGet, "/metrics", "", "", nil)
	mustContain(t, metrics, `lanner_ingest_alerts_total{source="grpc",status="queued"} 51`)
	mustContain(t, metrics, `lanner_ingest_alerts_total{source="grpc",status="rejected"} 2`)
}

func TestGRPCQueueFullAsksRetry(t *testing.T) {
	s := newSink(t)
	s.setStall(true)
	h := startRouter(t, "outputs:\n"+webhookOutput("slow", s.URL, "    queue:\n      max_entries: 5\n      concurrency: 1\n      batch_size: 1\n"))
	st := openStream(t, dialGRPC(t, h.srv.GRPCAddr().String(), nil), "")
	b := &ingestpb.AlertBatch{BatchId: "x"}
	for range 8 {
		b.Alerts = append(b.Alerts, []byte(falcoAlert("")))
	}
	if err := st.Send(b); err != nil {
		t.Fatal(err)
	}
	ack, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if ack.Accepted != 5 || len(ack.Retry) != 3 || ack.RetryAfterMs == 0 {
		t.Fatalf("ack = %v", ack)
	}
	// Resending the whole batch after recovery delivers the rest; the five
	// already queued are deduplicated.
	s.setStall(false)
	waitFor(t, "drain", 15*time.Second, func() bool { return s.count() == 5 })
	b.BatchId = "x-again"
	if err := st.Send(b); err != nil {
		t.Fatal(err)
	}
	if ack, err = st.Recv(); err != nil {
		t.Fatal(err)
	}
	if ack.Accepted != 3 || ack.Duplicates != 5 || len(ack.Retry) != 0 {
		t.Fatalf("ack after recovery = %v", ack)
	}
	waitFor(t, "all delivered", 15*time.Second, func() bool { return s.count() == 8 })
}

func TestGRPCAuthAndTLS(t *testing.T) {
	certs := outputtest.NewCerts(t)
	s := newSink(t)
	h := startRouter(t, fmt.Sprintf("ingest:\n  auth_token: tok\noutputs:\n%s"+
		"grpc:\n  listen: 127.0.0.1:0\n  tls:\n    cert_file: %s\n    key_file: %s\n    client_ca_file: %s\n",
		webhookOutput("sink", s.URL, ""), certs.ServerCertFile, certs.ServerKeyFile, certs.CAFile))
	addr := h.srv.GRPCAddr().String()
	client, err := tls.LoadX509KeyPair(certs.ClientCertFile, certs.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	mtls := credentials.NewTLS(&tls.Config{RootCAs: certs.CAPool, Certificates: []tls.Certificate{client}})
	noCert := credentials.NewTLS(&tls.Config{RootCAs: certs.CAPool})

	send := func(creds credentials.TransportCredentials, token string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if token != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		}
		st, err := dialGRPC(t, addr, creds).Ingest(ctx)
		if err != nil {
			return err
		}
		if err := st.Send(&ingestpb.AlertBatch{BatchId: "a", Alerts: [][]byte{[]byte(falcoAlert(""))}}); err != nil {
			_, rerr := st.Recv()
			return rerr
		}
		_, err = st.Recv()
		return err
	}
	if err := send(mtls, "tok"); err != nil {
		t.Fatalf("mTLS with the right token: %v", err)
	}
	if err := send(mtls, "bad"); status.Code(err) != codes.Unauthenticated {
		t.Errorf("wrong token: %v", err)
	}
	if err := send(mtls, ""); status.Code(err) != codes.Unauthenticated {
		t.Errorf("no token: %v", err)
	}
	if err := send(noCert, "tok"); err == nil {
		t.Error("a client without a certificate was accepted")
	}
	if err := send(nil, "tok"); err == nil {
		t.Error("a plaintext client was accepted")
	}
}

func TestHTTPTLS(t *testing.T) {
	certs := outputtest.NewCerts(t)
	h := startRouter(t, fmt.Sprintf("http:\n  listen: 127.0.0.1:0\n  tls:\n    cert_file: %s\n    key_file: %s\n    client_ca_file: %s\n",
		certs.ServerCertFile, certs.ServerKeyFile, certs.CAFile))
	url := "https://" + h.srv.HTTPAddr().String() + "/healthz"
	client, err := tls.LoadX509KeyPair(certs.ClientCertFile, certs.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	withCert := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.CAPool, Certificates: []tls.Certificate{client}}}}
	resp, err := withCert.Get(url)
	if err != nil {
		t.Fatalf("mTLS GET: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
	noCert := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.CAPool}}}
	if resp, err := noCert.Get(url); err == nil {
		resp.Body.Close()
		t.Error("a client without a certificate was served")
	}
	_ = os.Remove(certs.ServerKeyFile) // loaded at start; not needed again
}

func TestShutdownEndsOpenStreams(t *testing.T) {
	s := newSink(t)
	h := startRouter(t, "outputs:\n"+webhookOutput("sink", s.URL, ""))
	st := openStream(t, dialGRPC(t, h.srv.GRPCAddr().String(), nil), "")
	if err := st.Send(&ingestpb.AlertBatch{BatchId: "1", Alerts: [][]byte{[]byte(falcoAlert(""))}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	// The stream stays open, as an agent's does; shutdown must not wait for
	// it to end by itself.
	start := time.Now()
	h.stop()
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("shutdown took %s with an idle stream open", d)
	}
	if _, err := st.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("stream after shutdown: %v, want Unavailable", err)
	}
}
