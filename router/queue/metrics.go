package queue

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Reasons of lanner_output_dropped_total.
const (
	dropReasonOldest   = "drop_oldest" // overflow=drop_oldest deleted the oldest entry
	dropReasonRejected = "rejected"    // overflow=reject refused a new alert (HTTP 503)
	dropReasonCorrupt  = "corrupt"     // an unreadable entry was deleted
)

type metrics struct {
	delivered, failed, retries, deadLetters, duplicates *prometheus.CounterVec
	dropped                                             *prometheus.CounterVec
	depth, bytes                                        *prometheus.GaugeVec
	latency                                             *prometheus.HistogramVec
	enqueue                                             prometheus.Histogram
	dedupErrors                                         prometheus.Counter
	writeStalls                                         prometheus.Counter
	writeStallSeconds                                   prometheus.Counter
	dedupFilterFull                                     prometheus.Counter
	dedupEvicted                                        prometheus.Counter
	dedupLookups                                        prometheus.Counter
	markErrors                                          prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	out := []string{"output"}
	m := &metrics{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lanner_output_delivered_total", Help: "Alerts delivered to the output."}, out),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lanner_output_failed_total", Help: "Alert delivery attempts that failed."}, out),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lanner_output_retries_total", Help: "Alerts scheduled for another attempt after a failure."}, out),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lanner_output_dead_letters_total", Help: "Alerts moved to the output's dead letters."}, out),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lanner_queue_duplicates_total", Help: "Alerts not queued because their uuid was already queued or delivered for the output."}, out),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lanner_output_dropped_total", Help: "Alerts dropped or refused, by reason (drop_oldest, rejected, corrupt)."}, []string{"output", "reason"}),
		depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lanner_output_queue_depth", Help: "Alerts waiting in the output's queue."}, out),
		bytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lanner_output_queue_bytes", Help: "Encoded bytes waiting in the output's queue."}, out),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lanner_output_delivery_latency_seconds",
			Help:    "Time from enqueue (ingest) to successful delivery.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
		}, out),
		enqueue: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "lanner_queue_enqueue_seconds",
			Help:    "Duration of Enqueue calls, including the fsync.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		dedupErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lanner_queue_dedup_index_errors_total", Help: "Failed writes to the uuid dedup index (the alerts were queued; resends of them may be delivered twice)."}),
		writeStalls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lanner_queue_write_stalls_total", Help: "Times the queue's storage held back writes because flushing to disk fell behind (every Enqueue waits meanwhile)."}),
		writeStallSeconds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lanner_queue_write_stall_seconds_total", Help: "Time writes to the queue were held back by the storage."}),
		dedupFilterFull: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lanner_queue_dedup_filter_full_total", Help: "Times the newest dedup time bucket alone filled the filters' memory cap: every uuid lookup in it reads the on-disk index (slower ingest)."}),
		dedupLookups: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lanner_queue_dedup_index_reads_total", Help: "Reads of the on-disk uuid dedup index, made when the in-memory filters answered maybe (a resend, or a false positive)."}),
		markErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lanner_queue_delivered_log_errors_total", Help: "Failed writes to an output's delivered log and failed checkpoints; the delivered alerts were deleted from the queue directly instead, or are deleted at the next checkpoint."}),
		dedupEvicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lanner_queue_dedup_buckets_evicted_total", Help: "Old dedup time buckets forgotten to keep the filters under their memory cap: resends older than the remaining window are delivered again."}),
	}
	for _, c := range []prometheus.Collector{m.delivered, m.failed, m.retries, m.deadLetters,
		m.duplicates, m.dropped, m.depth, m.bytes, m.latency, m.enqueue, m.dedupErrors,
		m.writeStalls, m.writeStallSeconds, m.dedupFilterFull, m.dedupEvicted, m.dedupLookups, m.markErrors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// outMetrics caches one output's children so hot paths skip label lookups.
type outMetrics struct {
	delivered, failed, retries, deadLetters, duplicates prometheus.Counter
	droppedOldest, rejected, corrupt                    prometheus.Counter
	depth, bytes                                        prometheus.Gauge
	latency                                             prometheus.Observer
}

func (m *metrics) forOutput(name string) outMetrics {
	return outMetrics{
		delivered:     m.delivered.WithLabelValues(name),
		failed:        m.failed.WithLabelValues(name),
		retries:       m.retries.WithLabelValues(name),
		deadLetters:   m.deadLetters.WithLabelValues(name),
		duplicates:    m.duplicates.WithLabelValues(name),
		droppedOldest: m.dropped.WithLabelValues(name, dropReasonOldest),
		rejected:      m.dropped.WithLabelValues(name, dropReasonRejected),
		corrupt:       m.dropped.WithLabelValues(name, dropReasonCorrupt),
		depth:         m.depth.WithLabelValues(name),
		bytes:         m.bytes.WithLabelValues(name),
		latency:       m.latency.WithLabelValues(name),
	}
}

// walSyncCollector exports the fsync latencies of the queue's WAL, which
// Pebble records itself (in nanoseconds, on 100 buckets of its own): the
// floor under every durable acknowledgement, and the first thing to look
// at when single-alert ingest is slow.
type walSyncCollector struct {
	h    prometheus.Histogram
	desc *prometheus.Desc
}

func newWALSyncCollector(h prometheus.Histogram) *walSyncCollector {
	return &walSyncCollector{h: h, desc: prometheus.NewDesc("lanner_queue_wal_fsync_seconds",
		"Time each fsync of the queue's write-ahead log took (every acknowledged alert waited for one).", nil, nil)}
}

func (c *walSyncCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *walSyncCollector) Collect(ch chan<- prometheus.Metric) {
	var m dto.Metric
	if err := c.h.Write(&m); err != nil {
		return
	}
	h := m.GetHistogram()
	buckets := map[float64]uint64{}
	want := walSyncBounds
	for _, b := range h.GetBucket() {
		if ub := b.GetUpperBound() / 1e9; len(want) > 0 && ub >= want[0]*0.99 {
			buckets[ub] = b.GetCumulativeCount()
			for len(want) > 0 && want[0]*0.99 <= ub {
				want = want[1:]
			}
		}
	}
	ch <- prometheus.MustNewConstHistogram(c.desc, h.GetSampleCount(), h.GetSampleSum()/1e9, buckets)
}

// walSyncBounds: the exported buckets are Pebble's first bounds at or
// above these (Pebble's are 100 µs apart up to 5 ms, then ~17% apart up to
// 10 s).
var walSyncBounds = []float64{100e-6, 200e-6, 300e-6, 500e-6, 1e-3, 2e-3, 3e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1, 10}
