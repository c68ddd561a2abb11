package ship

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/lannerhq/lanner/router/ingest"
	"github.com/lannerhq/lanner/router/ingestpb"
)

type pki struct {
	dir                                      string
	ca                                       *x509.Certificate
	caKey                                    *ecdsa.PrivateKey
	caFile, srvCert, srvKey, cliCert, cliKey string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lanner test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, _ = x509.ParseCertificate(der)
	p.caKey = key
	p.caFile = p.write(t, "ca.crt", "CERTIFICATE", der)
	p.srvCert, p.srvKey = p.issue(t, "router", x509.ExtKeyUsageServerAuth, 2)
	p.cliCert, p.cliKey = p.issue(t, "agent", x509.ExtKeyUsageClientAuth, 3)
	return p
}

func (p *pki) write(t *testing.T, name, typ string, der []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (p *pki) issue(t *testing.T, cn string, usage x509.ExtKeyUsage, serial int64) (string, string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return p.write(t, cn+".crt", "CERTIFICATE", der), p.write(t, cn+".key", "EC PRIVATE KEY", kder)
}

func startTLSRouter(t *testing.T, p *pki, rec *recorder) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(p.srvCert, p.srvKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(p.ca)
	creds := credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(creds))
	ingestpb.RegisterIngestServer(srv, ingest.NewGRPC(ingest.GRPCConfig{Pipeline: rec}))
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func TestSenderMutualTLS(t *testing.T) {
	p := newPKI(t)
	rec := &recorder{uuids: map[string]int{}}
	addr := startTLSRouter(t, p, rec)

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
	sp := run(TLSConfig{Enabled: true, CAFile: p.caFile}, 500*time.Millisecond)
	if sp.Len() != 20 || rec.count() != 0 {
		t.Fatalf("without a client cert: spool %d, router got %d", sp.Len(), rec.count())
	}
	// Wrong CA for the server: refused as well.
	other := newPKI(t)
	sp = run(TLSConfig{Enabled: true, CAFile: other.caFile, CertFile: p.cliCert, KeyFile: p.cliKey}, 500*time.Millisecond)
	if sp.Len() != 20 || rec.count() != 0 {
		t.Fatalf("with an untrusted server: spool %d, router got %d", sp.Len(), rec.count())
	}
	// Mutual TLS: delivered.
	sp = run(TLSConfig{Enabled: true, CAFile: p.caFile, CertFile: p.cliCert, KeyFile: p.cliKey}, 5*time.Second)
	if sp.Len() != 0 || rec.count() != 20 {
		t.Fatalf("with mTLS: spool %d, router got %d", sp.Len(), rec.count())
	}
}
