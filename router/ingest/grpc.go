package ingest

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/router/ingestpb"
)

// DefaultMaxRecvMsgBytes bounds one AlertBatch on the wire. Alerts are a few
// KiB, so this holds batches of thousands while keeping one stream's memory
// bounded.
const DefaultMaxRecvMsgBytes = 16 << 20

// DefaultMaxGRPCInFlight is how many batches are decoded and queued at once.
// A decoded batch of 1,000 alerts holds several MiB until its commit, so
// without a bound a few dozen agent streams push the heap into the memory
// limit and the router spends its CPU in GC (measured: 16 streams of 1,000-
// alert batches cut ingest from ~110,000 to ~20,000 alerts/s). A handful is
// enough to keep both cores busy while others wait for their fsync; the
// streams beyond it wait, and gRPC flow control holds their clients back.
const DefaultMaxGRPCInFlight = 4

// GRPCConfig configures the gRPC ingest service.
type GRPCConfig struct {
	Logger   *slog.Logger
	Pipeline Pipeline
	Metrics  *Metrics
	// Token, when enabled, is required as "authorization: Bearer <token>"
	// metadata on the stream.
	Token Token
	// MaxBatchAlerts bounds the alerts in one batch; 0 = DefaultMaxBatchAlerts.
	MaxBatchAlerts int
	// MaxInFlight bounds the batches decoded and queued at once across all
	// streams; 0 = DefaultMaxGRPCInFlight.
	MaxInFlight int
	// Draining, when closed, makes every stream end after its current batch
	// with codes.Unavailable, so that long-lived agent streams do not hold
	// up a shutdown. Nil: never.
	Draining <-chan struct{}
}

// GRPC implements ingestpb.IngestServer.
type GRPC struct {
	ingestpb.UnimplementedIngestServer
	cfg    GRPCConfig
	counts *alertCounters
	slots  chan struct{} // one per batch being handled
	codec  *BatchCodec
}

// NewGRPC returns the gRPC ingest service; register it with
// ingestpb.RegisterIngestServer.
func NewGRPC(cfg GRPCConfig) *GRPC {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.MaxBatchAlerts <= 0 {
		cfg.MaxBatchAlerts = DefaultMaxBatchAlerts
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxGRPCInFlight
	}
	return &GRPC{cfg: cfg, counts: cfg.Metrics.forSource(SourceGRPC), slots: make(chan struct{}, cfg.MaxInFlight),
		codec: newBatchCodec()}
}

// Codec is the server codec to install (grpc.ForceServerCodecV2): it
// decodes batches without copying them, and the service gives their
// buffers back once their alerts are decoded.
func (g *GRPC) Codec() *BatchCodec { return g.codec }

const endpointGRPC = "grpc"

// errDraining ends a stream when the router shuts down. A batch received but
// not handled is not acked: the client resends it to the next router
// (at-least-once).
func errDraining() error {
	return status.Error(codes.Unavailable, "router is shutting down; reconnect and resend unacknowledged batches")
}

// Ingest answers each batch with one Ack, in order, after Submit returned.
func (g *GRPC) Ingest(stream ingestpb.Ingest_IngestServer) error {
	ctx := stream.Context()
	if g.cfg.Token.Enabled() {
		md, _ := metadata.FromIncomingContext(ctx)
		var v string
		if vals := md.Get("authorization"); len(vals) > 0 {
			v = vals[0]
		}
		if !g.cfg.Token.CheckHeader(v) {
			g.cfg.Metrics.Requests.WithLabelValues(endpointGRPC, codes.Unauthenticated.String()).Inc()
			return status.Error(codes.Unauthenticated, "missing or wrong bearer token")
		}
	}
	// Recv blocks, so it runs in its own goroutine and the loop below can
	// also watch Draining. It ends with the stream: once this handler
	// returns, ctx is cancelled and Recv fails. Unbuffered, so that a stream
	// holds at most one decoded batch beyond the one being handled.
	type received struct {
		batch *ingestpb.AlertBatch
		err   error
	}
	recvc := make(chan received)
	go func() {
		for {
			b, err := stream.Recv()
			select {
			case recvc <- received{b, err}:
			case <-ctx.Done():
				g.codec.Release(b)
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		var r received
		select {
		case r = <-recvc:
		case <-g.cfg.Draining:
			return errDraining()
		}
		if errors.Is(r.err, io.EOF) {
			return nil
		}
		if r.err != nil {
			return r.err // the client went away or the server is stopping
		}
		select {
		case g.slots <- struct{}{}:
		case <-ctx.Done():
			g.codec.Release(r.batch)
			return status.FromContextError(ctx.Err()).Err()
		case <-g.cfg.Draining:
			g.codec.Release(r.batch)
			return errDraining()
		}
		ack, err := g.handle(ctx, r.batch)
		<-g.slots
		if err != nil {
			g.cfg.Metrics.Requests.WithLabelValues(endpointGRPC, status.Code(err).String()).Inc()
			return err
		}
		code := codes.OK
		if len(ack.Retry) > 0 {
			code = codes.ResourceExhausted
		}
		g.cfg.Metrics.Requests.WithLabelValues(endpointGRPC, code.String()).Inc()
		if err := stream.Send(ack); err != nil {
			return err
		}
	}
}

func (g *GRPC) handle(ctx context.Context, batch *ingestpb.AlertBatch) (*ingestpb.Ack, error) {
	defer g.codec.Release(batch)
	if len(batch.Alerts) > g.cfg.MaxBatchAlerts {
		return nil, status.Errorf(codes.InvalidArgument, "batch %q has %d alerts, limit %d",
			batch.BatchId, len(batch.Alerts), g.cfg.MaxBatchAlerts)
	}
	ack := &ingestpb.Ack{BatchId: batch.BatchId}
	valid := make([]*alert.Alert, 0, len(batch.Alerts))
	validIdx := make([]uint32, 0, len(batch.Alerts))
	for i, doc := range batch.Alerts {
		a, err := alert.Decode(doc)
		if err != nil {
			ack.Rejected = append(ack.Rejected, &ingestpb.Rejection{Index: uint32(i), Reason: err.Error()})
			continue
		}
		a.EnsureUUID()
		valid = append(valid, a)
		validIdx = append(validIdx, uint32(i))
	}
	// Decoded: the alerts hold copies, and the buffers go back to gRPC
	// before the commit's wait.
	g.codec.Release(batch)
	g.counts[StatusRejected].Add(float64(len(ack.Rejected)))
	if len(valid) == 0 {
		return ack, nil
	}
	res, err := g.cfg.Pipeline.Submit(ctx, valid)
	if err != nil {
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		g.cfg.Logger.Warn("ingest: cannot queue batch", "batch", batch.BatchId, "alerts", len(valid), "err", err)
		ack.Retry = validIdx
		ack.RetryAfterMs = uint32(retryAfter.Milliseconds())
		g.counts[StatusFull].Add(float64(len(valid)))
		return ack, nil
	}
	var n [len(statusNames)]int
	for j, rs := range res {
		n[rs.Status]++
		if rs.Status == StatusFull {
			ack.Retry = append(ack.Retry, validIdx[j])
		}
	}
	ack.Accepted = uint32(n[StatusQueued])
	ack.Duplicates = uint32(n[StatusDuplicate])
	if len(ack.Retry) > 0 {
		ack.RetryAfterMs = uint32(retryAfter.Milliseconds())
	}
	for s, c := range n {
		if c > 0 {
			g.counts[s].Add(float64(c))
		}
	}
	return ack, nil
}
