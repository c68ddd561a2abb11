package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lannerhq/lanner/agent/capture"
	"github.com/lannerhq/lanner/agent/detect"
	"github.com/lannerhq/lanner/agent/ship"
	"github.com/lannerhq/lanner/agent/state"
	"github.com/lannerhq/lanner/alert"
)

// Config configures the agent.
type Config struct {
	// RulesPaths are Falco rules files or directories, loaded in order;
	// empty means the embedded default ruleset.
	RulesPaths []string
	// Stdout receives one JSON alert per line; nil disables it.
	Stdout io.Writer
	// Router is the router's gRPC address; empty disables shipping.
	Router   string
	Token    string
	TLS      ship.TLSConfig
	SpoolDir string
	// SpoolMaxBytes bounds the on-disk spool (default 256 MiB).
	SpoolMaxBytes int64
	// MetricsAddr serves /metrics and /healthz; empty disables it.
	MetricsAddr string
	Hostname    string
	// HostRoot is where the host's root filesystem is (passwd, group):
	// "/" normally, "/host" in a container with the host mounted there.
	HostRoot string
	// ProcRoot is the host's procfs (default /proc).
	ProcRoot string
	// RingSize is each per-CPU ring's size in bytes (default 8 MiB).
	RingSize   int
	AllMatches bool
	// DropAlertInterval rate-limits the internal alert about dropped
	// events (default 30s, Falco's default rate).
	DropAlertInterval time.Duration
	// Reload delivers rules-reload requests (SIGHUP).
	Reload <-chan struct{}
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("hostname: %w", err)
		}
		c.Hostname = h
	}
	if c.HostRoot == "" {
		c.HostRoot = "/"
	}
	if c.ProcRoot == "" {
		c.ProcRoot = "/proc"
	}
	if c.RingSize == 0 {
		c.RingSize = 8 << 20
	}
	if c.DropAlertInterval <= 0 {
		c.DropAlertInterval = 30 * time.Second
	}
	if c.Router != "" && c.SpoolDir == "" {
		return errors.New("a spool directory is required to ship to a router")
	}
	return nil
}

// Run runs the agent until ctx ends, then detaches everything, flushes the
// alerts in flight to stdout and the spool, and returns nil.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.defaults(); err != nil {
		return err
	}
	log := cfg.Logger
	eng, problems, err := LoadRules(cfg.RulesPaths)
	for _, p := range problems {
		log.Warn("rules", "problem", p.String())
	}
	if err != nil {
		return fmt.Errorf("load rules: %w", errors.Join(err, problemsError(problems)))
	}
	nrs, unsupported := Syscalls(eng)
	if len(unsupported) > 0 {
		log.Warn("rules name syscalls this architecture lacks", "syscalls", unsupported)
	}
	log.Info("rules loaded", "rules", len(eng.Rules()), "syscalls", len(nrs))

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	users, err := state.NewUsers(filepath.Clean(cfg.HostRoot))
	if err != nil {
		return err
	}
	// Attach first, then read /proc: a process that starts in between is
	// then seen by capture rather than missed by both.
	capt, err := capture.Open(capture.Config{Syscalls: nrs, RingSize: cfg.RingSize, Logger: log})
	if err != nil {
		return fmt.Errorf("start capture: %w", err)
	}
	defer capt.Close()
	table := state.NewTable(0)
	procfs := state.ProcFS{Root: cfg.ProcRoot, MaxEnvBytes: 4096}
	if err := procfs.Bootstrap(table); err != nil {
		log.Warn("some processes could not be read from procfs", "err", err)
	}
	log.Info("process table bootstrapped", "threads", table.Len())

	var wg sync.WaitGroup
	runCtx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		wg.Wait()
	}()

	em, err := newEmitter(cfg, reg, log)
	if err != nil {
		return err
	}
	if em.sender != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := em.sender.Run(runCtx); err != nil {
				log.Error("shipping to the router stopped", "err", err)
			}
		}()
	}
	emitDone := make(chan struct{})
	go func() {
		defer close(emitDone)
		em.run()
	}()

	pipe := detect.New(detect.Config{
		Engine: eng, Table: table, Users: users, ProcFS: procfs, Hostname: cfg.Hostname,
		Logger: log, AllMatches: cfg.AllMatches, Emit: em.emit,
	})
	registerPipelineMetrics(reg, pipe, capt, em)

	if cfg.MetricsAddr != "" {
		srv, err := serveMetrics(cfg.MetricsAddr, reg, log)
		if err != nil {
			return err
		}
		defer srv.Close()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		watchDrops(runCtx, capt, em, cfg, log)
	}()
	go func() {
		defer wg.Done()
		reloadLoop(runCtx, cfg, capt, pipe, log)
	}()

	log.Info("agent running", "hostname", cfg.Hostname, "router", cfg.Router, "stdout", cfg.Stdout != nil)
	readErr := capt.Read(runCtx, pipe.Handle)
	cancel()
	capt.Close()
	em.close()
	<-emitDone
	wg.Wait()
	if em.spool != nil {
		em.spool.Close()
	}
	if readErr != nil && !errors.Is(readErr, context.Canceled) && !errors.Is(readErr, capture.ErrClosed) {
		return fmt.Errorf("capture: %w", readErr)
	}
	log.Info("agent stopped", "events", pipe.Events.Load(), "alerts", pipe.Alerts.Load())
	return nil
}

func reloadLoop(ctx context.Context, cfg Config, capt *capture.Capture, pipe *detect.Pipeline, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-cfg.Reload:
		}
		eng, problems, err := LoadRules(cfg.RulesPaths)
		if err != nil {
			log.Error("rules reload failed; keeping the loaded rules", "err", errors.Join(err, problemsError(problems)))
			continue
		}
		nrs, _ := Syscalls(eng)
		if err := capt.SetSyscalls(nrs); err != nil {
			log.Error("kernel filter update failed; keeping the loaded rules", "err", err)
			continue
		}
		pipe.SetEngine(eng)
		log.Info("rules reloaded", "rules", len(eng.Rules()), "syscalls", len(nrs))
	}
}

// emitter takes alerts from the pipeline goroutine and writes them to stdout
// and the spool from its own goroutine, so an fsync never stalls detection.
type emitter struct {
	ch      chan *alert.Alert
	stdout  io.Writer
	spool   *ship.Spool
	sender  *ship.Sender
	log     *slog.Logger
	dropped atomic.Uint64
	closed  atomic.Bool
}

func newEmitter(cfg Config, reg prometheus.Registerer, log *slog.Logger) (*emitter, error) {
	em := &emitter{ch: make(chan *alert.Alert, 8192), stdout: cfg.Stdout, log: log}
	if cfg.Router == "" {
		return em, nil
	}
	sp, err := ship.OpenSpool(ship.SpoolConfig{Dir: cfg.SpoolDir, MaxBytes: cfg.SpoolMaxBytes})
	if err != nil {
		return nil, err
	}
	s, err := ship.NewSender(ship.SenderConfig{Addr: cfg.Router, TLS: cfg.TLS, Token: cfg.Token,
		Spool: sp, Logger: log, Registerer: reg})
	if err != nil {
		sp.Close()
		return nil, err
	}
	em.spool, em.sender = sp, s
	return em, nil
}

// emit hands an alert over. When the writer is behind it waits up to a
// second (back-pressure into the kernel ring, whose drops are counted and
// alerted), then drops the alert and counts it.
func (em *emitter) emit(a *alert.Alert) {
	if em.closed.Load() {
		em.dropped.Add(1)
		return
	}
	select {
	case em.ch <- a:
		return
	default:
	}
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case em.ch <- a:
	case <-t.C:
		if em.dropped.Add(1) == 1 {
			em.log.Error("alert output is stuck; dropping alerts (counted in lanner_agent_alerts_dropped_total)")
		}
	}
}

func (em *emitter) close() {
	if em.closed.CompareAndSwap(false, true) {
		close(em.ch)
	}
}

func (em *emitter) run() {
	var batch [][]byte
	for a := range em.ch {
		batch = batch[:0]
		batch = em.add(batch, a)
		// Take what else is waiting, so the spool syncs once per burst.
	more:
		for len(batch) < 512 {
			select {
			case a, ok := <-em.ch:
				if !ok {
					break more
				}
				batch = em.add(batch, a)
			default:
				break more
			}
		}
		if em.spool != nil && len(batch) > 0 {
			if err := em.spool.Append(batch); err != nil {
				em.dropped.Add(uint64(len(batch)))
				em.log.Error("spool append failed; alerts dropped", "alerts", len(batch), "err", err)
			}
		}
	}
}

func (em *emitter) add(batch [][]byte, a *alert.Alert) [][]byte {
	b, err := json.Marshal(a)
	if err != nil {
		em.dropped.Add(1)
		em.log.Error("alert could not be encoded", "rule", a.Rule, "err", err)
		return batch
	}
	if em.stdout != nil {
		em.stdout.Write(append(b, '\n'))
	}
	if em.spool != nil {
		batch = append(batch, b)
	}
	return batch
}

// watchDrops raises an internal alert, rate-limited, when the kernel or the
// alert path dropped anything, as Falco does for syscall event drops.
func watchDrops(ctx context.Context, capt *capture.Capture, em *emitter, cfg Config, log *slog.Logger) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var reported capture.Counters
	var reportedAlerts uint64
	var lastAlert time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		st, err := capt.Stats()
		if err != nil {
			continue
		}
		alertDrops := em.dropped.Load()
		newDrops := st.Total.Dropped() - reported.Dropped()
		newAlertDrops := alertDrops - reportedAlerts
		if (newDrops == 0 && newAlertDrops == 0) || time.Since(lastAlert) < cfg.DropAlertInterval {
			continue
		}
		a := dropAlert(cfg.Hostname, st.Total, reported, newAlertDrops)
		log.Warn("events dropped", "ring_full", st.Total.DropRingFull-reported.DropRingFull,
			"no_ring", st.Total.DropNoRing-reported.DropNoRing, "alerts", newAlertDrops)
		em.emit(a)
		reported, reportedAlerts, lastAlert = st.Total, alertDrops, time.Now()
	}
}

func dropAlert(host string, now, before capture.Counters, alertDrops uint64) *alert.Alert {
	seen := now.Seen - before.Seen
	drops := now.Dropped() - before.Dropped()
	pct := 0.0
	if seen > 0 {
		pct = 100 * float64(drops) / float64(seen)
	}
	t := time.Now().UTC()
	a := &alert.Alert{
		Time:     t,
		Priority: alert.PriorityCritical,
		Rule:     "Lanner internal: syscall event drop",
		Output: fmt.Sprintf("%s: Critical %d syscall events dropped (%.2f%% of %d) and %d alerts dropped since the last report",
			t.Format("15:04:05.000000000"), drops, pct, seen, alertDrops),
		// Once per DropAlertInterval at most: a map is simplest. pct is finite.
		OutputFields: alert.MustFields(map[string]any{
			"n_evts":                 seen,
			"n_drops":                drops,
			"n_drops_ring_full":      now.DropRingFull - before.DropRingFull,
			"n_drops_no_ring":        now.DropNoRing - before.DropNoRing,
			"n_drops_pct":            pct,
			"n_alerts_dropped":       alertDrops,
			"n_truncated":            now.Truncated - before.Truncated,
			"n_kernel_read_failures": now.ReadFailed - before.ReadFailed,
		}),
		Source:   "internal",
		Tags:     []string{"lanner", "self_monitoring"},
		Hostname: host,
	}
	a.EnsureUUID()
	return a
}

func registerPipelineMetrics(reg *prometheus.Registry, pipe *detect.Pipeline, capt *capture.Capture, em *emitter) {
	counter := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
	counter("lanner_agent_events_total", "Events evaluated by the rules.", func() float64 { return float64(pipe.Events.Load()) })
	counter("lanner_agent_alerts_total", "Alerts raised by the rules.", func() float64 { return float64(pipe.Alerts.Load()) })
	counter("lanner_agent_alerts_dropped_total", "Alerts dropped because the output path was stuck or failed.",
		func() float64 { return float64(em.dropped.Load()) })
	counter("lanner_agent_process_misses_total", "Events from processes the table did not know (read from procfs).",
		func() float64 { return float64(pipe.ProcMisses.Load()) })
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "lanner_agent_threads", Help: "Threads in the process table."},
		func() float64 { return float64(pipe.Table().Len()) }))
	reg.MustRegister(&kernelCollector{capt: capt})
}

// kernelCollector exports the capture's per-CPU kernel counters.
type kernelCollector struct{ capt *capture.Capture }

var (
	kernelSeenDesc = prometheus.NewDesc("lanner_agent_kernel_events_seen_total",
		"Events the kernel programs produced, per CPU.", []string{"cpu"}, nil)
	kernelDropDesc = prometheus.NewDesc("lanner_agent_kernel_events_dropped_total",
		"Events the kernel programs dropped, per CPU and reason.", []string{"cpu", "reason"}, nil)
)

func (k *kernelCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- kernelSeenDesc
	ch <- kernelDropDesc
}

func (k *kernelCollector) Collect(ch chan<- prometheus.Metric) {
	st, err := k.capt.Stats()
	if err != nil {
		return
	}
	for cpu, c := range st.PerCPU {
		id := fmt.Sprint(cpu)
		ch <- prometheus.MustNewConstMetric(kernelSeenDesc, prometheus.CounterValue, float64(c.Seen), id)
		ch <- prometheus.MustNewConstMetric(kernelDropDesc, prometheus.CounterValue, float64(c.DropRingFull), id, "ring_full")
		ch <- prometheus.MustNewConstMetric(kernelDropDesc, prometheus.CounterValue, float64(c.DropNoRing), id, "no_ring")
		ch <- prometheus.MustNewConstMetric(kernelDropDesc, prometheus.CounterValue, float64(c.Truncated), id, "truncated")
	}
}

func serveMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (*http.Server, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("metrics served", "addr", lis.Addr().String())
	return srv, nil
}
