package ship

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/lannerhq/lanner/router/ingestpb"
)

// TLSConfig configures the connection to the router. With no CA file and
// Insecure false, the system roots verify the router.
type TLSConfig struct {
	Enabled    bool
	CAFile     string
	CertFile   string // client certificate for mTLS
	KeyFile    string
	ServerName string
	// InsecureSkipVerify disables certificate verification (tests only).
	InsecureSkipVerify bool
}

// SenderConfig configures a Sender.
type SenderConfig struct {
	Addr   string // router gRPC address, host:port
	TLS    TLSConfig
	Token  string // bearer token, sent as "authorization" metadata
	Spool  *Spool
	Logger *slog.Logger
	// Registerer receives the shipping metrics (nil: not registered).
	Registerer prometheus.Registerer
	// BatchSize bounds alerts per batch (default 500).
	BatchSize int
	// AckTimeout bounds the wait for one batch's ack (default 30s).
	AckTimeout time.Duration
	// BackoffInitial and BackoffMax bound reconnect waits (defaults 200ms, 30s).
	BackoffInitial, BackoffMax time.Duration
}

// Sender streams the spool to the router's gRPC ingest, one batch in flight,
// committing each batch only after the router acknowledged it durably queued.
type Sender struct {
	cfg SenderConfig
	log *slog.Logger

	sent, rejected, resent prometheus.Counter
	connected, depth       prometheus.Gauge
	spoolDropped           prometheus.CounterFunc
}

// NewSender checks the config and registers the metrics.
func NewSender(cfg SenderConfig) (*Sender, error) {
	if cfg.Addr == "" {
		return nil, errors.New("ship: router address is empty")
	}
	if cfg.Spool == nil {
		return nil, errors.New("ship: no spool")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 30 * time.Second
	}
	if cfg.BackoffInitial <= 0 {
		cfg.BackoffInitial = 200 * time.Millisecond
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 30 * time.Second
	}
	s := &Sender{
		cfg: cfg,
		log: cfg.Logger.With("component", "ship", "router", cfg.Addr),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lanner_agent_alerts_shipped_total", Help: "Alerts acknowledged by the router."}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lanner_agent_alerts_rejected_total", Help: "Alerts the router rejected as invalid (logged)."}),
		resent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lanner_agent_batches_resent_total", Help: "Batches sent again after a lost connection or a full router queue."}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lanner_agent_router_connected", Help: "1 while a stream to the router is open."}),
		depth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lanner_agent_spool_alerts", Help: "Alerts in the on-disk spool awaiting the router."}),
	}
	s.spoolDropped = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "lanner_agent_spool_dropped_total", Help: "Alerts dropped because the spool reached its size bound."},
		func() float64 { return float64(cfg.Spool.Dropped()) })
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{s.sent, s.rejected, s.resent, s.connected, s.depth, s.spoolDropped} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("ship: register metrics: %w", err)
			}
		}
	}
	return s, nil
}

func (s *Sender) dialOptions() ([]grpc.DialOption, error) {
	opts := []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(16 << 20))}
	if !s.cfg.TLS.Enabled {
		return append(opts, grpc.WithTransportCredentials(insecure.NewCredentials())), nil
	}
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         s.cfg.TLS.ServerName,
		InsecureSkipVerify: s.cfg.TLS.InsecureSkipVerify, //nolint:gosec // opt-in, for tests
	}
	if s.cfg.TLS.CAFile != "" {
		pem, err := os.ReadFile(s.cfg.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ship: read CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ship: no certificate in %s", s.cfg.TLS.CAFile)
		}
		tc.RootCAs = pool
	}
	if s.cfg.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("ship: client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return append(opts, grpc.WithTransportCredentials(credentials.NewTLS(tc))), nil
}

// Run ships until ctx ends. Connection failures are retried with exponential
// backoff and jitter; the spool holds alerts meanwhile.
func (s *Sender) Run(ctx context.Context) error {
	opts, err := s.dialOptions()
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(s.cfg.Addr, opts...)
	if err != nil {
		return fmt.Errorf("ship: %w", err)
	}
	defer conn.Close()
	client := ingestpb.NewIngestClient(conn)
	backoff := s.cfg.BackoffInitial
	for ctx.Err() == nil {
		start := time.Now()
		err := s.stream(ctx, client)
		s.connected.Set(0)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > 10*time.Second {
			backoff = s.cfg.BackoffInitial // the stream was healthy for a while
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		s.log.Warn("router stream ended; retrying", "err", err, "in", wait, "spooled", s.cfg.Spool.Len())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(backoff*2, s.cfg.BackoffMax)
	}
	return nil
}

// stream runs one stream until it fails or ctx ends.
func (s *Sender) stream(ctx context.Context, client ingestpb.IngestClient) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if s.cfg.Token != "" {
		sctx = metadata.AppendToOutgoingContext(sctx, "authorization", "Bearer "+s.cfg.Token)
	}
	st, err := client.Ingest(sctx, grpc.WaitForReady(false))
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	s.connected.Set(1)
	var seq uint64
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		s.depth.Set(float64(s.cfg.Spool.Len()))
		b, err := s.cfg.Spool.Read(s.cfg.BatchSize)
		if err != nil {
			return err
		}
		if len(b.Records) == 0 {
			select {
			case <-ctx.Done():
				st.CloseSend()
				return ctx.Err()
			case <-s.cfg.Spool.NotEmpty():
			case <-tick.C:
			}
			continue
		}
		seq++
		if err := s.sendBatch(st, b, seq); err != nil {
			return err
		}
	}
}

// sendBatch sends one batch until the router has taken all of it (queued,
// duplicate or rejected), then commits it from the spool.
func (s *Sender) sendBatch(st ingestpb.Ingest_IngestClient, b Batch, seq uint64) error {
	id := strconv.FormatUint(seq, 10)
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			s.resent.Inc()
		}
		if err := st.Send(&ingestpb.AlertBatch{BatchId: id, Alerts: b.Records}); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		ack, err := s.recvAck(st)
		if err != nil {
			return err
		}
		if ack.BatchId != id {
			return fmt.Errorf("ack for batch %q while waiting for %q", ack.BatchId, id)
		}
		for _, r := range ack.Rejected {
			s.log.Error("router rejected an alert; dropping it", "reason", r.Reason)
		}
		s.rejected.Add(float64(len(ack.Rejected)))
		if len(ack.Retry) == 0 {
			s.sent.Add(float64(ack.Accepted + ack.Duplicates))
			return s.cfg.Spool.Commit(b)
		}
		// Some queue was full. Resend the whole batch after the router's
		// hint: alerts already queued come back as duplicates.
		wait := time.Duration(ack.RetryAfterMs) * time.Millisecond
		if wait <= 0 {
			wait = time.Second
		}
		s.log.Warn("router queue full; resending batch", "retry", len(ack.Retry), "in", wait)
		select {
		case <-st.Context().Done():
			return st.Context().Err()
		case <-time.After(wait):
		}
	}
}

func (s *Sender) recvAck(st ingestpb.Ingest_IngestClient) (*ingestpb.Ack, error) {
	type result struct {
		ack *ingestpb.Ack
		err error
	}
	ch := make(chan result, 1)
	go func() {
		ack, err := st.Recv()
		ch <- result{ack, err}
	}()
	t := time.NewTimer(s.cfg.AckTimeout)
	defer t.Stop()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("receive ack: %w", r.err)
		}
		return r.ack, nil
	case <-t.C:
		return nil, fmt.Errorf("no ack within %s", s.cfg.AckTimeout)
	}
}
