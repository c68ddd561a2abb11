package ship

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/lannerhq/lanner/outputs/outputtest"
	"github.com/lannerhq/lanner/router/ingest"
	"github.com/lannerhq/lanner/router/ingestpb"
)

func startTLSRouter(t *testing.T, certs *outputtest.Certs, rec *recorder) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(certs.ServerTLS(true))))
	ingestpb.RegisterIngestServer(srv, ingest.NewGRPC(ingest.GRPCConfig{Pipeline: rec}))
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func TestSenderMutualTLS(t *testing.T) {
	certs := outputtest.NewCerts(t)
	rec := &recorder{uuids: map[string]int{}}
	addr := startTLSRouter(t, certs, rec)

	run := func(tc TLSConfig, d time.Duration) *Spool {
		sp, err := OpenSpool(SpoolConfig{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		spoolAlerts(t, sp, 0, 20)
		s, err := NewSender(SenderConfig{Addr: addr, TLS: tc, Spool: sp,
			BackoffInitial: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		go s.Run(ctx)
		for ctx.Err() == nil && sp.Len() > 0 {
			time.Sleep(10 * time.Millisecond)
		}
		<-ctx.Done()
		return sp
	}

	// No client certificate: the router refuses, the alerts stay spooled.
	sp := run(TLSConfig{Enabled: true, CAFile: certs.CAFile}, 500*time.Millisecond)
	if sp.Len() != 20 || rec.count() != 0 {
		t.Fatalf("without a client cert: spool %d, router got %d", sp.Len(), rec.count())
	}
	// A server signed by a CA the agent does not trust: refused as well.
	other := outputtest.NewCerts(t)
	sp = run(TLSConfig{Enabled: true, CAFile: other.CAFile, CertFile: certs.ClientCertFile, KeyFile: certs.ClientKeyFile}, 500*time.Millisecond)
	if sp.Len() != 20 || rec.count() != 0 {
		t.Fatalf("with an untrusted server: spool %d, router got %d", sp.Len(), rec.count())
	}
	// Mutual TLS: delivered.
	sp = run(TLSConfig{Enabled: true, CAFile: certs.CAFile, CertFile: certs.ClientCertFile, KeyFile: certs.ClientKeyFile}, 5*time.Second)
	if sp.Len() != 0 || rec.count() != 20 {
		t.Fatalf("with mTLS: spool %d, router got %d", sp.Len(), rec.count())
	}
}
