package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/lannerhq/lanner/agent"
	"github.com/lannerhq/lanner/agent/ship"
)

// runAgent parses `lanner-agent run` flags and runs the agent until ctx ends.
func runAgent(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var rules multiFlag
	fs.Var(&rules, "r", "Falco rules file or directory (repeatable; later files override earlier ones). Default: the embedded ruleset")
	stdout := fs.Bool("stdout", false, "print each alert as one JSON line on stdout (the default when --router is not set)")
	router := fs.String("router", "", "stream alerts to the router's gRPC ingest at HOST:PORT")
	tokenFile := fs.String("token-file", "", "file holding the router's ingest bearer token (or env LANNER_INGEST_TOKEN)")
	tlsOn := fs.Bool("tls", false, "connect to the router with TLS")
	caFile := fs.String("tls-ca", "", "CA certificate to verify the router (default: system roots)")
	certFile := fs.String("tls-cert", "", "client certificate for mTLS")
	keyFile := fs.String("tls-key", "", "client key for mTLS")
	serverName := fs.String("tls-server-name", "", "expected router certificate name")
	spoolDir := fs.String("spool-dir", "/var/lib/lanner-agent/spool", "where alerts wait while the router is unreachable")
	spoolMax := fs.Int64("spool-max-bytes", 256<<20, "bound of the on-disk spool; the oldest alerts go first (counted)")
	metrics := fs.String("metrics-addr", "127.0.0.1:2803", "serve Prometheus metrics here (empty disables)")
	hostname := fs.String("hostname", "", "hostname put in alerts (default: the host's)")
	hostRoot := fs.String("host-root", "/", "the host's root filesystem (for passwd/group)")
	procRoot := fs.String("proc-root", "/proc", "the host's procfs")
	allMatches := fs.Bool("all-matches", false, "raise an alert for every matching rule, not only the first")
	ringBytes := fs.Int("ring-bytes", 8<<20, "size of each per-CPU ring buffer (a power of two); larger rings absorb longer bursts")
	fs.SetOutput(os.Stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	token := os.Getenv("LANNER_INGEST_TOKEN")
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fmt.Errorf("token file: %w", err)
		}
		token = string(trimSpace(b))
	}
	var out io.Writer
	if *stdout || *router == "" {
		out = os.Stdout
	}
	reload := make(chan struct{}, 1)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()
	return agent.Run(ctx, agent.Config{
		RulesPaths: rules, Stdout: out, Router: *router, Token: token,
		TLS: ship.TLSConfig{Enabled: *tlsOn || *caFile != "" || *certFile != "", CAFile: *caFile,
			CertFile: *certFile, KeyFile: *keyFile, ServerName: *serverName},
		SpoolDir: *spoolDir, SpoolMaxBytes: *spoolMax, MetricsAddr: *metrics,
		Hostname: *hostname, HostRoot: *hostRoot, ProcRoot: *procRoot, AllMatches: *allMatches, RingSize: *ringBytes,
		Reload: reload, Logger: logger,
	})
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
