// Command lanner-loadgen is `make bench-router`: it starts lanner-router as a
// subprocess with a webhook output pointing at an in-process sink, then
// measures
//
//  1. single-alert HTTP ingest (Falco's http_output) with concurrent clients,
//     once per sender count of the sweep (-clients),
//  2. gRPC batch ingest,
//  3. a stalled sink while a backlog is ingested (peak RSS), then recovery
//     until the backlog is fully delivered.
//
// It prints ingest/s, delivered/s, ingest-to-delivery latency (alert time to
// sink arrival) and the router's peak RSS (VmHWM). Every loop is bounded in
// time and count, and all traffic stays on 127.0.0.1.
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	routerBin   string
	cpuProfile  string
	keep        bool
	httpFor     time.Duration
	clients     []int // phase 1's sweep of sender counts, ascending
	loops       int
	grpcFor     time.Duration
	streams     int
	batch       int
	window      int
	backlog     int
	drainFor    time.Duration
	concurrency int
	batchSize   int
	batchWait   time.Duration
	hookBatch   bool
	hookConc    int
	hookPipe    int
	skip        string
	routerEnv   []string // KEY=VALUE added to the router's environment
	selfProfile string
	procs       int
}

func main() {
	var o options
	flag.StringVar(&o.routerBin, "router-bin", "", "lanner-router binary to run (default: go build ./cmd/lanner-router into a temp dir)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (router logs, data) for inspection")
	flag.DurationVar(&o.httpFor, "http-duration", 10*time.Second, "phase 1: how long to POST single alerts")
	o.clients = []int{64, 128, 256}
	flag.Func("clients", "phase 1: concurrent keep-alive HTTP clients, or a comma-separated sweep of counts, each run in turn (default 64,128,256)", func(v string) error {
		ns, err := parseCounts(v)
		if err == nil {
			o.clients = ns
		}
		return err
	})
	flag.IntVar(&o.loops, "client-loops", 2, "phase 1: pollers the clients are spread over, each on its own thread (independent senders answer in parallel, not one after another)")
	flag.DurationVar(&o.grpcFor, "grpc-duration", 10*time.Second, "phase 2: how long to stream gRPC batches")
	flag.IntVar(&o.streams, "streams", 4, "phase 2 and 3: concurrent gRPC streams")
	flag.IntVar(&o.batch, "batch", 1000, "phase 2 and 3: alerts per gRPC batch")
	flag.IntVar(&o.window, "window", 4, "phase 2 and 3: batches in flight per stream")
	flag.IntVar(&o.backlog, "backlog", 1_000_000, "phase 3: alerts ingested while the sink is stalled")
	flag.DurationVar(&o.drainFor, "drain-timeout", 10*time.Minute, "longest wait for the queue to drain after a phase")
	flag.IntVar(&o.concurrency, "queue-concurrency", 4, "router: webhook output workers")
	flag.IntVar(&o.batchSize, "queue-batch", 500, "router: alerts per delivery batch")
	flag.DurationVar(&o.batchWait, "queue-batch-wait", 2*time.Millisecond, "router: longest wait to fill a delivery batch")
	flag.BoolVar(&o.hookBatch, "webhook-batch", false, "router: webhook posts each delivery batch as one JSON array (opt-in batch mode; default: one request per alert, falcosidekick's way, which the targets are measured with)")
	flag.IntVar(&o.hookConc, "webhook-concurrency", 16, "router: webhook requests in flight per delivery batch (one request per alert mode)")
	flag.IntVar(&o.hookPipe, "webhook-pipeline", 8, "router: webhook requests written together per connection (one request per alert mode; 1: one at a time)")
	flag.StringVar(&o.cpuProfile, "router-cpuprofile", "", "debug: have the router write a CPU profile to this file (the last router started wins)")
	flag.StringVar(&o.selfProfile, "cpuprofile", "", "debug: write the load generator's own CPU profile to this file")
	flag.StringVar(&o.skip, "skip", "", "comma-separated phases to skip (http,grpc,backlog)")
	flag.IntVar(&o.procs, "procs", 0, "GOMAXPROCS of the load generator itself (0: Go's default); the router keeps its own")
	flag.Func("router-env", "router: KEY=VALUE added to its environment (repeatable), e.g. GODEBUG=schedtrace=2147483647 (docs/router.md, \"Tuning\")", func(v string) error {
		if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
			return fmt.Errorf("want KEY=VALUE, got %q", v)
		}
		o.routerEnv = append(o.routerEnv, v)
		return nil
	})
	flag.Parse()
	if o.procs > 0 {
		runtime.GOMAXPROCS(o.procs)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.selfProfile != "" {
		f, err := os.Create(o.selfProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "lanner-loadgen: cpuprofile:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "lanner-loadgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	tmp, err := os.MkdirTemp("", "lanner-loadgen-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Printf("temp dir: %s\n", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	bin := o.routerBin
	if bin == "" {
		bin = filepath.Join(tmp, "lanner-router")
		fmt.Println("building lanner-router ...")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/lanner-router")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build (run from the repository root): %w", err)
		}
	}
	sk, err := newSink()
	if err != nil {
		return err
	}
	defer sk.close()

	fmt.Printf("machine: %d CPUs, load average %s; webhook batch mode: %v; queue workers %d, batch %d, batch wait %s\n",
		numCPU(), loadAvg(), o.hookBatch, o.concurrency, o.batchSize, o.batchWait)
	if len(o.routerEnv) > 0 {
		fmt.Printf("router environment adds: %s\n", strings.Join(o.routerEnv, " "))
	}
	// A previous run's dirty pages (gigabytes of queue files) would be
	// written back during this one and compete with it: write them now.
	syncStart := time.Now()
	syscall.Sync()
	synced := time.Since(syncStart).Round(time.Millisecond)
	fmt.Printf("host speed before: %s (sync took %s)\n", hostSpeed(), synced)
	defer func() { fmt.Printf("host speed after: %s\n", hostSpeed()) }()
	skip := map[string]bool{}
	for _, p := range strings.Split(o.skip, ",") {
		skip[strings.TrimSpace(p)] = true
	}
	var results []result
	gen := &generator{}

	// Each measurement gets a fresh router on an empty data dir, so that
	// none inherits another's files (a sweep's earlier runs left Pebble
	// with flushes and compactions that cost phase 2 a fifth of its rate)
	// and each VmHWM is its own.
	measure := func(dir string, phase func(*router) (result, error)) error {
		r, err := startRouter(ctx, bin, filepath.Join(tmp, dir), sk.url, o)
		if err != nil {
			return err
		}
		res, err := phase(r)
		if stopErr := r.stop(); err == nil {
			err = stopErr
		}
		if err != nil {
			return err
		}
		results = append(results, res)
		if !o.keep {
			_ = os.RemoveAll(filepath.Join(tmp, dir))
		}
		syscall.Sync() // its dirty pages are written now, not during the next
		return nil
	}
	if !skip["http"] {
		for _, n := range o.clients {
			if err := measure(fmt.Sprintf("http-%d", n), func(r *router) (result, error) {
				return phaseHTTP(ctx, r, sk, gen, o, n)
			}); err != nil {
				return err
			}
		}
	}
	if !skip["grpc"] {
		if err := measure("grpc", func(r *router) (result, error) { return phaseGRPC(ctx, r, sk, gen, o) }); err != nil {
			return err
		}
	}
	if !skip["backlog"] {
		if err := measure("backlog", func(r *router) (result, error) { return phaseBacklog(ctx, r, sk, gen, o) }); err != nil {
			return err
		}
	}
	printSummary(results, o.hookBatch)
	return nil
}

// parseCounts reads -clients: one count or a comma-separated list, each
// 1..4096, returned ascending without repeats.
func parseCounts(v string) ([]int, error) {
	var ns []int
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 4096 {
			return nil, fmt.Errorf("want sender counts from 1 to 4096, comma-separated; got %q", f)
		}
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return slices.Compact(ns), nil
}

// router is the lanner-router subprocess.
type router struct {
	cmd      *exec.Cmd
	httpAddr string
	grpcAddr string
	logPath  string
	done     chan error
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startRouter(ctx context.Context, bin, dir, sinkURL string, o options) (*router, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	grpcAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	maxEntries := max(o.backlog*2, 2_000_000)
	cfg := fmt.Sprintf(`http:
  listen: %s
grpc:
  listen: %s
data_dir: %s
outputs:
  - name: sink
    type: webhook
    webhook:
      address: %s
      batch: %v
      concurrency: %d
      pipeline: %d
    queue:
      max_entries: %d
      max_bytes: 8GiB
      concurrency: %d
      batch_size: %d
      batch_wait: %s
      backoff_initial: 100ms
      backoff_max: 1s
      max_attempts: 1000000
`, httpAddr, grpcAddr, filepath.Join(dir, "data"), sinkURL, o.hookBatch, o.hookConc, o.hookPipe, maxEntries, o.concurrency, o.batchSize, o.batchWait)
	cfgPath := filepath.Join(dir, "router.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "router.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	args := []string{"--config", cfgPath}
	if o.cpuProfile != "" {
		args = append(args, "--cpuprofile", o.cpuProfile)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if len(o.routerEnv) > 0 {
		cmd.Env = append(os.Environ(), o.routerEnv...)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	r := &router{cmd: cmd, httpAddr: httpAddr, grpcAddr: grpcAddr, logPath: logPath, done: make(chan error, 1)}
	go func() { // owned by router; ends when the process exits
		r.done <- cmd.Wait()
		logf.Close()
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r, nil
			}
		}
		select {
		case err := <-r.done:
			return nil, fmt.Errorf("router exited (%v); log: %s", err, r.logPath)
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return nil, fmt.Errorf("router not ready after 30s; log: %s", logPath)
		}
	}
}

// stop sends SIGTERM and expects a clean exit.
func (r *router) stop() error {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-r.done:
		if err != nil {
			return fmt.Errorf("router did not exit cleanly: %w (log: %s)", err, r.logPath)
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
		return fmt.Errorf("router did not stop within 30s after SIGTERM (log: %s)", r.logPath)
	}
}

// memory reads VmRSS and VmHWM (peak RSS) of the router, in bytes.
func (r *router) memory() (rss, hwm int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		}
	}
	return rss, hwm
}

// cpu returns the router's user+system CPU time so far. Comparing it with
// the alerts handled gives a cost per alert that does not depend on how busy
// the rest of the machine is.
func (r *router) cpu() time.Duration {
	cpu, _ := r.stat()
	return cpu
}

// faults is the router's minor page faults so far: on a VM each costs
// microseconds, so memory the runtime hands back to the OS and touches again
// shows up as CPU.
func (r *router) faults() int64 {
	_, minflt := r.stat()
	return minflt
}

// switches is the router's context switches so far, over all its threads:
// on a paravirtualised VM each costs microseconds, and Go's scheduler (its
// sysmon thread, threads parking and waking) can make many
// (BENCHMARKS.md, "Session 11").
func (r *router) switches() int64 {
	dir := fmt.Sprintf("/proc/%d/task", r.cmd.Process.Pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "status"))
		if err != nil {
			continue // the thread exited
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
				c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += c
			}
		}
	}
	return n
}

func (r *router) stat() (cpu time.Duration, minflt int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	// Fields after the command name (which may hold spaces) start at ")".
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, 0
	}
	minflt, _ = strconv.ParseInt(f[7], 10, 64)
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100, minflt // USER_HZ is 100 on Linux
}

// selfCPU is the loadgen's own user+system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func numCPU() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "processor\t:")
}

// hostSpeed times two fixed workloads that no Lanner code runs: hashing
// (the CPU) and a trivial syscall (the kernel entry, dear on a
// paravirtualised guest). A shared host's speed drifts by ±10% within an
// hour; printed before and after a run, these tell drift from a change.
func hostSpeed() string {
	buf := make([]byte, 1<<20)
	sha256.Sum256(buf) // the pages' first touch is not the CPU's speed
	const mb = 128
	start := time.Now()
	for range mb {
		sum := sha256.Sum256(buf)
		buf[0] ^= sum[0]
	}
	hash := time.Since(start)
	const calls = 50_000
	start = time.Now()
	for range calls {
		syscall.Getppid()
	}
	sys := time.Since(start)
	return fmt.Sprintf("sha256 %.0f MB/s, getppid %.2f µs", mb/hash.Seconds(), float64(sys.Microseconds())/calls)
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// waitDrained waits until the sink has every alert up to want, or timeout.
func waitDrained(ctx context.Context, sk *sink, want int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for sk.unique() < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("sink has %d of %d alerts after %s", sk.unique(), want, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
