package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/lannerhq/lanner/router/ingestpb"
)

// generator makes realistic Falco alerts whose uuid ends with a sequence
// number (so the sink counts exactly) and whose time is their creation time
// (so the sink measures ingest-to-delivery latency).
type generator struct{ seq atomic.Uint64 }

const (
	alertHead = `{"uuid":"00000000-0000-4000-8000-`
	alertMid  = `","time":"`
	alertTail = `","priority":"Warning","rule":"Read sensitive file untrusted",` +
		`"output":"10:00:00.123456789: Warning Sensitive file opened for reading by non-trusted program (file=/etc/shadow gparent=systemd ggparent=<NA> gggparent=<NA> evt_type=openat user=root user_uid=0 user_loginuid=-1 process=cat proc_exepath=/usr/bin/cat parent=bash command=cat /etc/shadow terminal=34816 container_id=host container_name=host)",` +
		`"output_fields":{"container.id":"host","container.name":"host","evt.time":1763805600123456789,"evt.type":"openat","fd.name":"/etc/shadow","proc.cmdline":"cat /etc/shadow","proc.exepath":"/usr/bin/cat","proc.name":"cat","proc.pname":"bash","proc.tty":34816,"user.loginuid":-1,"user.name":"root","user.uid":0},` +
		`"source":"syscall","tags":["T1555","container","filesystem","host","maturity_stable","mitre_credential_access"],"hostname":"node-1"}`
)

// alertSize is about the size of one alert (the time's length varies).
const alertSize = len(alertHead) + 12 + len(alertMid) + len("2006-01-02T15:04:05.999999999Z") + len(alertTail)

func (g *generator) appendAlert(b []byte) []byte {
	seq := g.seq.Add(1)
	b = append(b, alertHead...)
	var hex [12]byte
	h := strconv.AppendUint(hex[:0], seq, 16)
	for range 12 - len(h) {
		b = append(b, '0')
	}
	b = append(b, h...)
	b = append(b, alertMid...)
	b = time.Now().UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, alertTail...)
}

// result is one phase's numbers.
type result struct {
	name        string
	senders     int // phase 1: concurrent clients
	ingested    int64
	ingestDur   time.Duration
	delivered   int64
	deliverDur  time.Duration // phase start (or recovery) to the last delivery
	p50, p99    time.Duration
	ack50       time.Duration // phase 1: request to answer
	ack99       time.Duration
	peakRSS     int64
	note        string
	refused     int64 // 503 / retry asked
	failures    int64 // transport errors
	drainedAll  bool
	routerCPU   time.Duration // router CPU time (user+sys) spent in the phase
	selfCPU     time.Duration // the loadgen's own (clients and sink), when measured
	faults      int64         // router minor page faults in the phase
	switches    int64         // router context switches (voluntary and not) in the phase
	ingestRate  float64
	deliverRate float64
}

func (r *result) finish() {
	if r.ingestDur > 0 {
		r.ingestRate = float64(r.ingested) / r.ingestDur.Seconds()
	}
	if r.deliverDur > 0 {
		r.deliverRate = float64(r.delivered) / r.deliverDur.Seconds()
	}
}

func (r result) print() {
	fmt.Printf("\n== %s\n", r.name)
	fmt.Printf("  ingested   %9d alerts in %-8s %9.0f alerts/s", r.ingested, r.ingestDur.Round(time.Millisecond), r.ingestRate)
	if r.refused > 0 || r.failures > 0 {
		fmt.Printf("  (refused %d, transport errors %d)", r.refused, r.failures)
	}
	fmt.Println()
	fmt.Printf("  delivered  %9d alerts in %-8s %9.0f alerts/s  (all delivered: %v)\n", r.delivered, r.deliverDur.Round(time.Millisecond), r.deliverRate, r.drainedAll)
	fmt.Printf("  latency    p50 %s  p99 %s  (alert time -> sink)\n", r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond))
	if r.ack50 > 0 {
		fmt.Printf("  answered   p50 %s  p99 %s  (request written -> 200 read)\n", r.ack50.Round(10*time.Microsecond), r.ack99.Round(10*time.Microsecond))
	}
	fmt.Printf("  router peak RSS (VmHWM) %.1f MiB\n", float64(r.peakRSS)/(1<<20))
	if r.routerCPU > 0 && r.ingested > 0 {
		fmt.Printf("  router CPU %s = %.1f µs per alert ingested and delivered (%.0f alerts per router CPU-second)\n",
			r.routerCPU.Round(10*time.Millisecond), float64(r.routerCPU.Microseconds())/float64(r.ingested),
			float64(r.ingested)/r.routerCPU.Seconds())
		fmt.Printf("  router page faults %d (%.2f per alert)\n", r.faults, float64(r.faults)/float64(r.ingested))
		fmt.Printf("  router context switches %d (%.2f per alert)\n", r.switches, float64(r.switches)/float64(r.ingested))
	}
	if r.selfCPU > 0 && r.ingested > 0 {
		fmt.Printf("  loadgen CPU %s = %.1f µs per alert (clients and sink; total with the router %.1f µs)\n",
			r.selfCPU.Round(10*time.Millisecond), float64(r.selfCPU.Microseconds())/float64(r.ingested),
			float64((r.selfCPU+r.routerCPU).Microseconds())/float64(r.ingested))
	}
	if r.note != "" {
		fmt.Printf("  %s\n", r.note)
	}
}

// measureDelivery waits for the sink to hold every alert of the phase and
// fills in the delivery numbers.
func measureDelivery(ctx context.Context, sk *sink, r *result, base int64, from time.Time, o options) error {
	err := waitDrained(ctx, sk, base+r.ingested, o.drainFor)
	r.drainedAll = err == nil
	r.delivered = sk.unique() - base
	r.deliverDur = time.Unix(0, sk.lastNano.Load()).Sub(from)
	lat := sk.takeLatencies()
	r.p50, r.p99 = percentile(lat, 0.50), percentile(lat, 0.99)
	r.finish()
	return err
}

func phaseHTTP(ctx context.Context, rt *router, sk *sink, gen *generator, o options, clients int) (result, error) {
	res := result{name: fmt.Sprintf("phase 1: HTTP POST / one alert per request, %d keep-alive clients, %s", clients, o.httpFor), senders: clients}
	fmt.Printf("\nrunning %s ...\n", res.name)
	_ = sk.takeLatencies()
	base := sk.unique()
	cpu0, self0, flt0, sw0 := rt.cpu(), selfCPU(), rt.faults(), rt.switches()
	start := time.Now()
	counts, sendErr := runSenderLoops(ctx, rt.httpAddr, clients, o.loops, gen.appendAlert, start.Add(o.httpFor))
	if sendErr != nil {
		return res, sendErr
	}
	res.ingestDur = time.Since(start)
	res.ingested, res.refused, res.failures = counts.accepted, counts.refused, counts.failures
	slices.Sort(counts.acks)
	res.ack50, res.ack99 = percentile(counts.acks, 0.50), percentile(counts.acks, 0.99)
	// Unacknowledged sends may or may not be queued; only acked ones count,
	// so the sink may see a few more: the drain waits for the acked count.
	err := measureDelivery(ctx, sk, &res, base, start, o)
	res.routerCPU = rt.cpu() - cpu0
	res.selfCPU = selfCPU() - self0
	res.faults = rt.faults() - flt0
	res.switches = rt.switches() - sw0
	_, res.peakRSS = rt.memory()
	return res, err
}

// grpcIngest streams batches on o.streams streams until limit alerts were
// accepted (limit > 0) or until deadline, and returns what was accepted.
func grpcIngest(ctx context.Context, addr string, gen *generator, o options, limit int64, deadline time.Time) (accepted, refused int64, err error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	client := ingestpb.NewIngestClient(conn)
	var claimed, acc, ref atomic.Int64
	errc := make(chan error, o.streams)
	for s := range o.streams {
		go func() { errc <- runStream(ctx, client, gen, o, s, limit, deadline, &claimed, &acc, &ref) }()
	}
	var errs []error
	for range o.streams {
		if e := <-errc; e != nil {
			errs = append(errs, e)
		}
	}
	return acc.Load(), ref.Load(), errors.Join(errs...)
}

func runStream(ctx context.Context, client ingestpb.IngestClient, gen *generator, o options, id int, limit int64,
	deadline time.Time, claimed, accepted, refused *atomic.Int64) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := client.Ingest(sctx)
	if err != nil {
		return err
	}
	// Batches sent, in ack order, with the buffer their alerts live in.
	type sentBatch struct {
		alerts [][]byte
		buf    []byte
	}
	inflight := make(chan sentBatch, o.window)
	// Buffers of acknowledged batches, reused: a fresh megabyte per batch
	// cost the load generator page faults and GC on the router's cores.
	free := make(chan []byte, o.window+1)
	var retryMu sync.Mutex
	var retry [][]byte
	recvErr := make(chan error, 1)
	go func() { // receiver: owned by runStream, ends at EOF or error
		for {
			ack, err := st.Recv()
			if err == io.EOF {
				recvErr <- nil
				return
			}
			if err != nil {
				recvErr <- err
				return
			}
			sb := <-inflight
			sent := sb.alerts
			accepted.Add(int64(ack.Accepted + ack.Duplicates))
			if len(ack.Rejected) > 0 {
				recvErr <- fmt.Errorf("router rejected %d alerts: %s", len(ack.Rejected), ack.Rejected[0].Reason)
				return
			}
			if len(ack.Retry) > 0 {
				refused.Add(int64(len(ack.Retry)))
				retryMu.Lock()
				for _, i := range ack.Retry {
					retry = append(retry, sent[i])
				}
				retryMu.Unlock()
				time.Sleep(time.Duration(ack.RetryAfterMs) * time.Millisecond)
			} else if sb.buf != nil {
				// Nothing of it is resent: the buffer is free again.
				select {
				case free <- sb.buf[:0]:
				default:
				}
			}
		}
	}()
	n := 0
	for ctx.Err() == nil && time.Now().Before(deadline) {
		retryMu.Lock()
		batch := retry
		retry = nil
		retryMu.Unlock()
		want := o.batch - len(batch)
		if limit > 0 {
			if got := claimed.Add(int64(want)); got > limit {
				want -= int(min(got-limit, int64(want)))
			}
		}
		// One buffer per batch, as a real client's encoder would use.
		var buf []byte
		select {
		case buf = <-free:
		default:
		}
		if cap(buf) < want*alertSize {
			buf = make([]byte, 0, want*alertSize)
		}
		for range want {
			start := len(buf)
			buf = gen.appendAlert(buf)
			batch = append(batch, buf[start:len(buf):len(buf)])
		}
		if len(batch) == 0 {
			if limit > 0 && accepted.Load() >= limit {
				break
			}
			time.Sleep(20 * time.Millisecond) // waiting for acks that may ask for retries
			continue
		}
		n++
		select {
		case inflight <- sentBatch{batch, buf}:
		case err := <-recvErr:
			return err
		}
		if err := st.Send(&ingestpb.AlertBatch{BatchId: fmt.Sprintf("s%d-%d", id, n), Alerts: batch}); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
	// Let the last acks (and their retries) come back.
	for len(inflight) > 0 {
		select {
		case err := <-recvErr:
			return err
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := st.CloseSend(); err != nil {
		return err
	}
	return <-recvErr
}

func phaseGRPC(ctx context.Context, rt *router, sk *sink, gen *generator, o options) (result, error) {
	res := result{name: fmt.Sprintf("phase 2: gRPC batches of %d, %d streams x %d in flight, %s", o.batch, o.streams, o.window, o.grpcFor)}
	fmt.Printf("\nrunning %s ...\n", res.name)
	_ = sk.takeLatencies()
	base := sk.unique()
	cpu0, self0, flt0, sw0 := rt.cpu(), selfCPU(), rt.faults(), rt.switches()
	start := time.Now()
	acc, ref, err := grpcIngest(ctx, rt.grpcAddr, gen, o, 0, start.Add(o.grpcFor))
	res.ingestDur = time.Since(start)
	res.ingested, res.refused = acc, ref
	if err != nil {
		return res, fmt.Errorf("grpc: %w", err)
	}
	ingestCPU := rt.cpu() - cpu0
	deliveredMeanwhile := sk.unique() - base
	err = measureDelivery(ctx, sk, &res, base, start, o)
	res.routerCPU = rt.cpu() - cpu0
	res.selfCPU = selfCPU() - self0
	res.faults = rt.faults() - flt0
	res.switches = rt.switches() - sw0
	_, res.peakRSS = rt.memory()
	res.note = fmt.Sprintf("delivered while ingesting: %d alerts (%.0f/s)\n  ", deliveredMeanwhile, float64(deliveredMeanwhile)/res.ingestDur.Seconds()) +
		fmt.Sprintf("router CPU while ingesting: %s = %.1f µs per alert ingested (%.0f alerts ingested per router CPU-second)",
			ingestCPU.Round(10*time.Millisecond), float64(ingestCPU.Microseconds())/float64(max(res.ingested, 1)),
			float64(res.ingested)/max(ingestCPU.Seconds(), 0.001))
	return res, err
}

func phaseBacklog(ctx context.Context, rt *router, sk *sink, gen *generator, o options) (result, error) {
	res := result{name: fmt.Sprintf("phase 3: sink stalled (503) while %d alerts are ingested over gRPC, then recovers", o.backlog)}
	fmt.Printf("\nrunning %s ...\n", res.name)
	_ = sk.takeLatencies()
	base := sk.unique()
	sk.stalled.Store(true)
	cpu0, self0, flt0, sw0 := rt.cpu(), selfCPU(), rt.faults(), rt.switches()
	start := time.Now()
	acc, ref, err := grpcIngest(ctx, rt.grpcAddr, gen, o, int64(o.backlog), start.Add(o.drainFor))
	res.ingestDur = time.Since(start)
	res.ingested, res.refused = acc, ref
	if err != nil {
		sk.stalled.Store(false)
		return res, fmt.Errorf("grpc: %w", err)
	}
	ingestCPU, selfIngestCPU, faults := rt.cpu()-cpu0, selfCPU()-self0, rt.faults()-flt0
	rss, hwm := rt.memory()
	fmt.Printf("  backlog of %d alerts on disk; router RSS now %.1f MiB, peak %.1f MiB\n", acc, float64(rss)/(1<<20), float64(hwm)/(1<<20))
	time.Sleep(2 * time.Second) // the stalled sink keeps failing batches meanwhile
	recovered := time.Now()
	sk.stalled.Store(false)
	err = measureDelivery(ctx, sk, &res, base, recovered, o)
	res.routerCPU = rt.cpu() - cpu0
	res.faults = rt.faults() - flt0
	res.switches = rt.switches() - sw0
	_, res.peakRSS = rt.memory()
	res.note = fmt.Sprintf("delivered/s is measured from the sink's recovery; latency includes the time spent stalled\n"+
		"  router CPU while ingesting: %s = %.1f µs per alert ingested (%.2f cores busy); load generator %.1f µs per alert (%.2f cores)\n"+
		"  router page faults while ingesting: %d (%.2f per alert)",
		ingestCPU.Round(10*time.Millisecond), float64(ingestCPU.Microseconds())/float64(max(res.ingested, 1)),
		ingestCPU.Seconds()/max(res.ingestDur.Seconds(), 0.001),
		float64(selfIngestCPU.Microseconds())/float64(max(res.ingested, 1)), selfIngestCPU.Seconds()/max(res.ingestDur.Seconds(), 0.001),
		faults, float64(faults)/float64(max(res.ingested, 1)))
	return res, err
}

func printSummary(rs []result, hookBatch bool) {
	for _, r := range rs {
		r.print()
	}
	sweep := httpSweep(rs)
	if len(sweep) > 1 {
		fmt.Println("\n== phase 1 sweep: single-alert HTTP by sender count")
		fmt.Printf("  %7s %12s %12s %20s %18s\n", "senders", "ingested/s", "delivered/s", "answered p50 / p99", "router µs/alert")
		for _, r := range sweep {
			cpu := float64(r.routerCPU.Microseconds()) / float64(max(r.ingested, 1))
			fmt.Printf("  %7d %12.0f %12.0f %9s / %-8s %18.1f\n", r.senders, r.ingestRate, r.deliverRate,
				r.ack50.Round(10*time.Microsecond), r.ack99.Round(10*time.Microsecond), cpu)
		}
	}
	fmt.Println("\n== targets")
	if len(sweep) > 0 {
		// The target is a capacity: each sender waits for its answer, so
		// a rate is bounded by senders / round trip, and the round trip
		// holds a disk flush. The sweep's best rate is the capacity; the
		// others show where latency, not the router, set the rate.
		best := sweep[0]
		for _, r := range sweep[1:] {
			if r.drainedAll && r.deliverRate > best.deliverRate {
				best = r
			}
		}
		got := fmt.Sprintf("%.0f/s with %d senders", best.deliverRate, best.senders)
		var others []string
		for _, r := range sweep {
			if r.senders != best.senders {
				others = append(others, fmt.Sprintf("%d: %.0f/s", r.senders, r.deliverRate))
			}
		}
		if len(others) > 0 {
			got += " (" + strings.Join(others, ", ") + ")"
		}
		verdict(">= 25,000 alerts/s delivered with single-alert HTTP ingest", best.deliverRate >= 25000 && best.drainedAll, got)
	}
	for _, r := range rs {
		switch {
		case bytes.HasPrefix([]byte(r.name), []byte("phase 2")) && hookBatch:
			// Batch delivery keeps pace with the ingest, so the two share
			// the cores at the same rate: a different workload from the
			// one the target is judged on (one request per alert).
			fmt.Printf("  %-4s %-62s got %.0f/s, delivering %.0f/s alongside\n", "INFO",
				"gRPC ingest with batch delivery alongside (target judged without -webhook-batch)", r.ingestRate, r.deliverRate)
		case bytes.HasPrefix([]byte(r.name), []byte("phase 2")):
			verdict(">= 150,000 alerts/s ingested over gRPC batches, delivery alongside", r.ingestRate >= 150000, fmt.Sprintf("%.0f/s", r.ingestRate))
		case bytes.HasPrefix([]byte(r.name), []byte("phase 3")):
			// The same target without delivery sharing the 2 cores: what
			// ingest alone sustains while the backlog builds on disk.
			verdict(">= 150,000 alerts/s ingested over gRPC batches, sink stalled", r.ingestRate >= 150000, fmt.Sprintf("%.0f/s", r.ingestRate))
			verdict("peak RSS <= 256 MiB with the backlog", r.peakRSS <= 256<<20, fmt.Sprintf("%.1f MiB, backlog %d", float64(r.peakRSS)/(1<<20), r.ingested))
			verdict("backlog fully delivered after recovery", r.drainedAll, fmt.Sprintf("%d of %d", r.delivered, r.ingested))
		}
	}
}

// httpSweep returns the phase-1 results, one per sender count.
func httpSweep(rs []result) []result {
	var out []result
	for _, r := range rs {
		if r.senders > 0 {
			out = append(out, r)
		}
	}
	return out
}

func verdict(what string, ok bool, got string) {
	v := "MISS"
	if ok {
		v = "PASS"
	}
	fmt.Printf("  %-4s %-62s got %s\n", v, what, got)
}
