// Command lanner-agentbench measures how much lanner-agent slows down
// syscall-heavy workloads: the workloads run without the agent and with the
// agent running Falco's three official rules files, alternating, in one run.
// It prints the slowdown in wall and CPU time, the events the agent dropped,
// and the agent's CPU time and peak RSS. With -floor it instead measures what
// each way of hooking syscall exit costs the open/read/close loop. Needs root
// (the agent loads eBPF).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type workload struct {
	name string
	n    int
	run  func(n int) error
}

func main() {
	var (
		rulesDir = flag.String("rules", "../shared/testdata/falco", "directory holding falco_rules.yaml, falco-incubating_rules.yaml, falco-sandbox_rules.yaml")
		rounds   = flag.Int("rounds", 5, "rounds with the agent, each between two rounds without it (medians are reported)")
		scale    = flag.Float64("scale", 1, "multiply every workload's iteration count")
		agentBin = flag.String("agent", "", "lanner-agent binary (default: build ./cmd/lanner-agent)")
		agentArg = flag.String("agent-args", "", "extra arguments for lanner-agent run, space-separated")
		floor    = flag.Bool("floor", false, "instead: measure the cost of each way of hooking syscall exit on the open/read/close loop (6×rounds pairs of runs)")
	)
	flag.Parse()
	if os.Geteuid() != 0 {
		log.Fatal("lanner-agentbench needs root: the agent loads eBPF programs")
	}
	files := []string{"falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"}
	var rules []string
	for _, f := range files {
		p := filepath.Join(*rulesDir, f)
		if _, err := os.Stat(p); err != nil {
			log.Fatalf("rules file: %v", err)
		}
		rules = append(rules, p)
	}
	bin := *agentBin
	if bin == "" {
		var err error
		if bin, err = buildAgent(); err != nil {
			log.Fatal(err)
		}
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go acceptLoop(lis)
	addr := lis.Addr().String()
	f, err := os.CreateTemp("", "lanner-agentbench-file-*")
	if err != nil {
		log.Fatal(err)
	}
	target := f.Name()
	defer os.Remove(target)
	if _, err := f.WriteString("lanner\n"); err != nil {
		log.Fatal(err)
	}
	f.Close()
	n := func(base int) int { return max(1, int(float64(base)*(*scale))) }
	if *floor {
		if err := runFloor(target, n(20000), 6**rounds); err != nil {
			log.Fatal(err)
		}
		return
	}
	workloads := []workload{
		{"open/read/close", n(200000), func(n int) error { return openLoop(target, n) }},
		{"fork+exec", n(2000), func(n int) error { return execLoop(n) }},
		{"connect", n(10000), func(n int) error { return connectLoop(addr, n) }},
	}

	fmt.Printf("lanner-agentbench: %d rounds (without, with the agent, alternating), rules: %s, agent args: %q\n",
		*rounds, strings.Join(files, ", "), *agentArg)
	// Phases alternate (without, with, without, ..., without) so that each
	// run with the agent sits between two runs without it, minutes apart at
	// most: on a shared machine the load drifts more than that.
	var (
		without, withAgent [][2][]int64 // per round: wall, cpu per workload
		metrics            = map[string]float64{}
		agentCPU           time.Duration
		hwm                int64
	)
	measure := func() [2][]int64 {
		wall, cpu := measureAll(workloads, 1)
		return [2][]int64{wall, cpu}
	}
	for r := 0; r < *rounds; r++ {
		without = append(without, measure())
		agent, err := startAgent(bin, rules, strings.Fields(*agentArg))
		if err != nil {
			log.Fatal(err)
		}
		cpu0, _ := procCPU(agent.pid)
		withAgent = append(withAgent, measure())
		cpu1, _ := procCPU(agent.pid)
		m, _ := scrape(agent.metrics)
		for k, v := range m {
			if k != "lanner_agent_threads" {
				metrics[k] += v
			}
		}
		agentCPU += cpu1 - cpu0
		h, _ := procHWM(agent.pid)
		hwm = max(hwm, h)
		agent.stop()
	}
	without = append(without, measure())

	for k, title := range []string{
		"wall time per iteration",
		"CPU time of the workload per iteration (user+system, children included; steadier on a shared machine)",
	} {
		fmt.Println()
		fmt.Println(title + ", medians over rounds; slowdown = median of each round's with / mean of the runs without around it:")
		fmt.Printf("%-18s %14s %14s %14s %10s\n", "workload", "without (ns/op)", "with (ns/op)", "without again", "slowdown")
		for i, w := range workloads {
			var before, with, after []int64
			var ratios []float64
			for r := range withAgent {
				b, a, x := without[r][k][i], without[r+1][k][i], withAgent[r][k][i]
				before, after, with = append(before, b), append(after, a), append(with, x)
				ratios = append(ratios, float64(x)/(float64(a+b)/2)-1)
			}
			fmt.Printf("%-18s %14d %14d %14d %9.1f%%\n", w.name, medianInt(before), medianInt(with), medianInt(after), 100*median(ratios))
		}
	}
	fmt.Println()
	fmt.Printf("agent events evaluated: %.0f   kernel events seen: %.0f   dropped: %.0f (ring full %.0f, no ring %.0f)\n",
		metrics["lanner_agent_events_total"], metrics["seen"], metrics["dropped"], metrics["ring_full"], metrics["no_ring"])
	fmt.Printf("agent alerts: %.0f   alerts dropped: %.0f\n", metrics["lanner_agent_alerts_total"], metrics["lanner_agent_alerts_dropped_total"])
	fmt.Printf("agent CPU during the measured phases: %.2fs   peak RSS: %.1f MiB\n", agentCPU.Seconds(), float64(hwm)/1024)
}

// measureAll times each workload: the median over rounds of the wall time
// and of the CPU time (user+system of this process and its children, so an
// exec loop counts its children) per iteration. On a shared machine the
// CPU time is the steadier figure: it leaves out waiting for a CPU.
func measureAll(ws []workload, rounds int) (wall, cpu []int64) {
	wall = make([]int64, len(ws))
	cpu = make([]int64, len(ws))
	for i, w := range ws {
		var times, cpus []int64
		for r := 0; r < rounds; r++ {
			c0 := processCPU()
			start := time.Now()
			if err := w.run(w.n); err != nil {
				log.Fatalf("%s: %v", w.name, err)
			}
			times = append(times, time.Since(start).Nanoseconds()/int64(w.n))
			cpus = append(cpus, (processCPU()-c0)/int64(w.n))
		}
		wall[i] = medianInt(times)
		cpu[i] = medianInt(cpus)
	}
	return wall, cpu
}

func medianInt(v []int64) int64 {
	sort.Slice(v, func(a, b int) bool { return v[a] < v[b] })
	return v[len(v)/2]
}

// processCPU is the CPU time, in ns, used so far by this process and its
// waited-for children.
func processCPU() int64 {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	return self.Utime.Nano() + self.Stime.Nano() + children.Utime.Nano() + children.Stime.Nano()
}

func openLoop(path string, n int) error {
	buf := make([]byte, 64)
	for i := 0; i < n; i++ {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		syscall.Read(fd, buf)
		syscall.Close(fd)
	}
	return nil
}

func execLoop(n int) error {
	for i := 0; i < n; i++ {
		if err := exec.Command("/bin/true").Run(); err != nil {
			return err
		}
	}
	return nil
}

func connectLoop(addr string, n int) error {
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		c.Close()
	}
	return nil
}

func acceptLoop(lis net.Listener) {
	for {
		c, err := lis.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

func buildAgent() (string, error) {
	dir, err := os.MkdirTemp("", "lanner-agentbench")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "lanner-agent")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/lanner-agent")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build lanner-agent: %w", err)
	}
	return bin, nil
}

type runningAgent struct {
	cmd     *exec.Cmd
	pid     int
	metrics string
}

func startAgent(bin string, rules, extra []string) (*runningAgent, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	metrics := fmt.Sprintf("127.0.0.1:%d", port)
	args := []string{"run", "--stdout", "--metrics-addr", metrics}
	for _, r := range rules {
		args = append(args, "-r", r)
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout = io.Discard
	logf, err := os.CreateTemp("", "lanner-agentbench-*.log")
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	a := &runningAgent{cmd: cmd, pid: cmd.Process.Pid, metrics: "http://" + metrics + "/metrics"}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m, err := scrape(a.metrics); err == nil && m["lanner_agent_events_total"] > 0 {
			time.Sleep(500 * time.Millisecond) // let the bootstrap backlog drain
			return a, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	a.stop()
	return nil, fmt.Errorf("agent did not start within 30s; its log is %s", logf.Name())
}

func (a *runningAgent) stop() {
	a.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- a.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		a.cmd.Process.Kill()
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// scrape reads the agent's metrics, summing the kernel counters over CPUs.
func scrape(url string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New(resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		name := line[:i]
		switch {
		case strings.HasPrefix(name, "lanner_agent_kernel_events_seen_total"):
			out["seen"] += v
		case strings.HasPrefix(name, "lanner_agent_kernel_events_dropped_total"):
			switch {
			case strings.Contains(name, `reason="ring_full"`):
				out["ring_full"] += v
				out["dropped"] += v
			case strings.Contains(name, `reason="no_ring"`):
				out["no_ring"] += v
				out["dropped"] += v
			}
		default:
			out[name] = v
		}
	}
	return out, sc.Err()
}

// procCPU is the user+system CPU time a process has used.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100), nil
}

// procHWM is a process's peak resident set in KiB.
func procHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, errors.New("no VmHWM")
}
