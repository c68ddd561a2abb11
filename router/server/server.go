// Package server wires lanner-router together: the durable queue, the
// outputs, the routes, HTTP (ingest, API, metrics) and gRPC ingest, plus
// config reload and graceful shutdown.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/router/config"
	"github.com/lannerhq/lanner/router/ingest"
	"github.com/lannerhq/lanner/router/ingestpb"
	"github.com/lannerhq/lanner/router/queue"
	"github.com/lannerhq/lanner/router/recent"
	"github.com/lannerhq/lanner/router/route"
	"github.com/lannerhq/lanner/ui"
)

// Options are what the caller supplies besides the config.
type Options struct {
	Logger *slog.Logger
	// Version is reported by lanner_build_info.
	Version string
	// LookupEnv reads falcosidekick's environment variables on reload
	// (os.LookupEnv in production; nil: none).
	LookupEnv func(string) (string, bool)
	// Reload triggers a config reload on every receive (SIGHUP).
	Reload <-chan struct{}
	// Routes, when set, registers extra handlers (the web UI) on the mux.
	Routes func(mux *http.ServeMux)
	// ShutdownTimeout bounds the graceful stop of the listeners (default 10s).
	ShutdownTimeout time.Duration
}

// Server is a running router. Create it with New, then Serve it.
type Server struct {
	opts  Options
	log   *slog.Logger
	reg   *prometheus.Registry
	store *queue.Store
	pipe  *pipeline
	types map[string]outputType
	// recent keeps the last accepted alerts for the API and the UI (nil
	// when ui.recent_alerts is 0).
	recent *recent.Store
	alerts *alertsAPI

	mu   sync.Mutex // serialises reloads and shutdown; guards cfg and outs
	cfg  *config.Config
	outs map[string]*runningOutput

	ready    atomic.Bool
	draining chan struct{} // closed when shutdown starts: ends gRPC streams
	httpSrv  *http.Server
	grpcSrv  *grpc.Server
	httpLn   net.Listener
	grpcLn   net.Listener
	reloads  *prometheus.CounterVec
	reloadOK prometheus.Gauge
}

// runningOutput is one built and started output.
type runningOutput struct {
	spec config.OutputSpec
	fp   string
	out  outputs.Output
}

// Run starts the router on cfg and serves until ctx is cancelled, then stops
// cleanly: listeners drain, in-flight deliveries finish or stay queued, the
// store is flushed and closed.
func Run(ctx context.Context, cfg *config.Config, opts Options) error {
	s, err := New(cfg, opts)
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

// New opens the store under cfg.DataDir, builds and starts the outputs and
// binds the listeners. Nothing is served until Serve.
func New(cfg *config.Config, opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	s := &Server{opts: opts, log: opts.Logger, reg: prometheus.NewRegistry(), types: outputTypes(),
		outs: map[string]*runningOutput{}, draining: make(chan struct{})}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "lanner_build_info", Help: "Always 1; the version label says which build runs.",
		ConstLabels: prometheus.Labels{"version": opts.Version},
	})
	info.Set(1)
	s.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lanner_config_reloads_total", Help: "Config reloads (SIGHUP) by result (ok, error).",
	}, []string{"result"})
	s.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "lanner_config_last_reload_successful", Help: "1 if the last config reload succeeded (or none happened), else 0.",
	})
	s.reloadOK.Set(1)
	s.reg.MustRegister(info, s.reloads, s.reloadOK)

	for _, w := range cfg.Warnings {
		s.log.Warn("config: " + w)
	}
	// Check every output's type and settings before touching the disk, so a
	// bad config fails fast and names every problem.
	if err := s.checkOutputs(cfg); err != nil {
		return nil, err
	}
	r, err := route.New(cfg, s.log.With("component", "route"), s.reg)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(cfg.DataDir, "queue")
	window := cfg.Dedup.Window
	if window == 0 {
		window = -1 // config's 0 means off; the queue's 0 means its default
	}
	s.store, err = queue.Open(queue.Options{Dir: dir, Logger: s.log, Registerer: s.reg, DedupWindow: window})
	if err != nil {
		return nil, err
	}
	s.pipe = &pipeline{store: s.store}
	if cfg.UI.RecentAlerts > 0 {
		s.recent = recent.New(recent.Config{Size: cfg.UI.RecentAlerts})
		s.pipe.recent = s.recent
	}
	s.pipe.routing.Store(&routing{router: r, customFields: cfg.CustomFields})
	s.cfg = cfg
	fail := func(err error) (*Server, error) {
		s.closeAll()
		return nil, err
	}
	for _, spec := range cfg.Outputs {
		ro, err := s.buildOutput(spec)
		if err != nil {
			return fail(err)
		}
		if err := s.store.StartOutput(spec.Name, ro.out, queueOptions(spec.Queue)); err != nil {
			_ = ro.out.Close()
			return fail(fmt.Errorf("output %q: %w", spec.Name, err))
		}
		s.outs[spec.Name] = ro
	}
	if len(cfg.Outputs) == 0 {
		s.log.Warn("no outputs configured: alerts are validated and acknowledged but go nowhere; configure outputs with --config or falcosidekick's environment variables")
	}
	if err := s.listen(cfg); err != nil {
		return fail(err)
	}
	return s, nil
}

func (s *Server) checkOutputs(cfg *config.Config) error {
	var errs []error
	for _, spec := range cfg.Outputs {
		t, err := lookupType(s.types, spec)
		if err == nil {
			err = t.check(spec)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Server) buildOutput(spec config.OutputSpec) (*runningOutput, error) {
	t, err := lookupType(s.types, spec)
	if err != nil {
		return nil, err
	}
	out, err := t.build(spec, outputs.Deps{Logger: s.log.With("output", spec.Name)})
	if err != nil {
		return nil, fmt.Errorf("output %q: %w", spec.Name, err)
	}
	return &runningOutput{spec: spec, fp: fingerprint(spec), out: out}, nil
}

func (s *Server) listen(cfg *config.Config) error {
	metrics := ingest.NewMetrics(s.reg)
	token := ingest.NewToken(cfg.Ingest.AuthToken)

	mux := http.NewServeMux()
	ingestHTTP := ingest.NewHTTP(ingest.HTTPConfig{
		Logger: s.log, Pipeline: s.pipe, Metrics: metrics, Token: token, MaxBodyBytes: cfg.HTTP.MaxBodyBytes,
	})
	ingestHTTP.Register(mux)
	a := &api{s: s, token: token}
	a.register(mux)
	s.alerts = newAlertsAPI(a, s.recent, s.reg)
	s.alerts.register(mux)
	if cfg.UI.Enabled {
		h, err := ui.New()
		if err != nil {
			return err
		}
		h.Register(mux)
	}
	if s.opts.Routes != nil {
		s.opts.Routes(mux)
	}
	httpTLS, err := serverTLS(cfg.HTTP.TLS)
	if err != nil {
		return fmt.Errorf("http tls: %w", err)
	}
	s.httpSrv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		TLSConfig:         httpTLS,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}

	grpcOpts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(ingest.DefaultMaxRecvMsgBytes),
		grpc.MaxConcurrentStreams(1024),
		// Fixed flow-control windows (instead of BDP estimation, which
		// grows them to 16 MiB each) bound what every agent connection can
		// have buffered in the router to 2 MiB: with the default, 16
		// streams of 1,000-alert batches pushed the heap into the memory
		// limit (~40,000 against ~90,000 alerts/s, measured).
		grpc.InitialWindowSize(1 << 20),
		grpc.InitialConnWindowSize(2 << 20),
		// Stop returns only after every handler did, so none is still
		// enqueueing when the store closes.
		grpc.WaitForHandlers(true),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: time.Minute, Timeout: 20 * time.Second}),
	}
	grpcTLS, err := serverTLS(cfg.GRPC.TLS)
	if err != nil {
		return fmt.Errorf("grpc tls: %w", err)
	}
	if grpcTLS != nil {
		grpcOpts = append(grpcOpts, grpc.Creds(credentials.NewTLS(grpcTLS)))
	}
	ingestSvc := ingest.NewGRPC(ingest.GRPCConfig{
		Logger: s.log, Pipeline: s.pipe, Metrics: metrics, Token: token, Draining: s.draining,
	})
	grpcOpts = append(grpcOpts, grpc.ForceServerCodecV2(ingestSvc.Codec()))
	s.grpcSrv = grpc.NewServer(grpcOpts...)
	ingestpb.RegisterIngestServer(s.grpcSrv, ingestSvc)

	if s.httpLn, err = net.Listen("tcp", cfg.HTTP.Listen); err != nil {
		return fmt.Errorf("http: %w", err)
	}
	if httpTLS == nil {
		// Falco's single-alert POST / is answered without net/http's
		// per-request work; every other request is net/http's (see
		// ingest.FastListener).
		s.httpLn = ingestHTTP.FastListener(s.httpLn, ingest.FastConfig{
			ReadHeaderTimeout: s.httpSrv.ReadHeaderTimeout, ReadTimeout: s.httpSrv.ReadTimeout,
			WriteTimeout: s.httpSrv.WriteTimeout, IdleTimeout: s.httpSrv.IdleTimeout,
		})
	}
	if s.grpcLn, err = net.Listen("tcp", cfg.GRPC.Listen); err != nil {
		_ = s.httpLn.Close()
		s.httpLn = nil
		return fmt.Errorf("grpc: %w", err)
	}
	return nil
}

// serverTLS builds a listener's TLS config: nil when TLS is off; client
// certificates signed by ClientCAFile are required when it is set (mTLS).
func serverTLS(t config.TLSConfig) (*tls.Config, error) {
	if !t.Enabled() {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load certificate: %w", err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.ClientCAFile != "" {
		pem, err := os.ReadFile(t.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client CA %s: no PEM certificate found", t.ClientCAFile)
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// HTTPAddr and GRPCAddr are the bound addresses (useful with port 0).
func (s *Server) HTTPAddr() net.Addr { return s.httpLn.Addr() }

// GRPCAddr is the bound gRPC address.
func (s *Server) GRPCAddr() net.Addr { return s.grpcLn.Addr() }

// Registry is the router's Prometheus registry (served on /metrics).
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Serve serves HTTP and gRPC until ctx is cancelled or a listener fails,
// reloading the config on every Options.Reload receive, then shuts down.
// It returns nil after a clean stop on ctx cancellation.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() { // owned by Serve; ends when httpSrv shuts down
		var err error
		if s.httpSrv.TLSConfig != nil {
			err = s.httpSrv.ServeTLS(s.httpLn, "", "")
		} else {
			err = s.httpSrv.Serve(s.httpLn)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- err
	}()
	go func() { // owned by Serve; ends when grpcSrv stops
		errc <- s.grpcSrv.Serve(s.grpcLn)
	}()
	s.ready.Store(true)
	s.log.Info("router ready", "http", s.httpLn.Addr().String(), "grpc", s.grpcLn.Addr().String(),
		"data_dir", s.cfg.DataDir, "outputs", len(s.outs))
	if s.cfg.UI.Enabled {
		scheme := "http"
		if s.cfg.HTTP.TLS.Enabled() {
			scheme = "https"
		}
		s.log.Info("web UI", "url", scheme+"://"+s.httpLn.Addr().String()+"/ui/")
	}

	var serveErr error
	running := 2
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-s.opts.Reload:
			if err := s.Reload(); err != nil {
				s.log.Error("config reload failed; keeping the running config", "err", err)
			}
		case err := <-errc:
			running--
			if err != nil {
				serveErr = fmt.Errorf("serve: %w", err)
				break loop
			}
		}
	}
	s.shutdown(running, errc)
	return serveErr
}

// shutdown stops taking alerts first, then waits for the in-flight ones, and
// only then closes the store, so every acknowledged alert is on disk.
func (s *Server) shutdown(running int, errc <-chan error) {
	s.ready.Store(false)
	close(s.draining)
	s.log.Info("router stopping")
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // bounded by ctx
		defer wg.Done()
		if err := s.httpSrv.Shutdown(ctx); err != nil {
			s.log.Warn("http shutdown", "err", err)
			_ = s.httpSrv.Close()
		}
	}()
	go func() { // bounded by ctx: GracefulStop waits for open streams
		defer wg.Done()
		done := make(chan struct{})
		go func() { s.grpcSrv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.grpcSrv.Stop()
			<-done
		}
	}()
	wg.Wait()
	for ; running > 0; running-- {
		<-errc
	}
	s.closeAll()
	s.log.Info("router stopped")
}

// closeAll closes the store (stopping every output's workers) and then the
// outputs themselves.
func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			s.log.Error("closing the queue store", "err", err)
		}
	}
	for name, ro := range s.outs {
		if err := ro.out.Close(); err != nil {
			s.log.Warn("closing output", "output", name, "err", err)
		}
	}
	s.outs = map[string]*runningOutput{}
}
