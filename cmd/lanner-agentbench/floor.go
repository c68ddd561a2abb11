package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/lannerhq/lanner/agent/capture"
)

// hookVariant is one way of hooking syscall exit whose cost on the
// open/read/close loop -floor measures. load prepares it (programs loaded,
// a reader running); on and off attach and detach it cheaply, so that runs
// with and without it can alternate quickly.
type hookVariant struct {
	name string
	load func() (*hookState, error)
}

type hookState struct {
	on, off func() error
	close   func()
}

// runFloor measures what each way of hooking syscall exit costs the
// open/read/close loop on this kernel: trivial programs (return 0) on
// tp_btf/sys_exit, raw_tp/sys_exit and the per-syscall perf tracepoint
// syscalls:sys_exit_openat (the floor of each hook), then Lanner's capture
// of openat through tp_btf/sys_exit, with a concurrent reader and with none
// (records left in large rings during the run). Lanner's rows add the program's own run time from the kernel's BPF
// statistics, measured in one extra run. For each variant, runs without and with it alternate
// (short runs, attach and detach in between) and the slowdown is the median
// of the pairs' ratios of the loop thread's CPU time: load on a shared
// machine drifts over seconds, and pairs a fraction of a second apart see
// nearly the same load.
func runFloor(target string, n, rounds int) error {
	variants := []hookVariant{
		{"tp_btf/sys_exit, return 0", trivialHook(ebpf.Tracing)},
		{"raw_tp/sys_exit, return 0", trivialHook(ebpf.RawTracepoint)},
		{"tracepoint sys_exit_openat, return 0", trivialHook(ebpf.TracePoint)},
		{"lanner via tp_btf/sys_exit, ptrace only", captureHook([]string{"ptrace"}, true)},
		{"lanner via tp_btf/sys_exit, openat", captureHook([]string{"openat"}, true)},
		{"lanner via tp_btf/sys_exit, openat, no reader", captureHook([]string{"openat"}, false)},
	}
	fmt.Printf("open/read/close of %s: %d pairs of runs of %d loops per variant (without, with)\n", target, rounds, n)
	fmt.Printf("%-42s %12s %12s %10s %10s\n", "hook", "without cpu", "with cpu", "median", "quartiles")
	for _, v := range variants {
		st, err := v.load()
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		var without, with, ratio []float64
		for r := 0; r < rounds; r++ {
			if err := st.off(); err != nil {
				st.close()
				return err
			}
			_, c0, err := timedLoop(target, n)
			if err == nil {
				err = st.on()
			}
			if err != nil {
				st.close()
				return err
			}
			_, c1, err := timedLoop(target, n)
			if err != nil {
				st.close()
				return err
			}
			without, with, ratio = append(without, c0), append(with, c1), append(ratio, c1/c0-1)
		}
		perRun := ""
		if strings.HasPrefix(v.name, "lanner") {
			perRun = programCost(st, target, n)
		}
		st.close()
		q := quartiles(ratio)
		fmt.Printf("%-42s %12.0f %12.0f %9.1f%% %4.1f..%.1f%%%s\n", v.name, median(without), median(with), 100*q[1], 100*q[0], 100*q[2], perRun)
	}
	return nil
}

// programCost runs the loop once more with the kernel's BPF run-time
// statistics on and returns the capture programs' own time per run (the
// statistics add their clock reads to it).
func programCost(st *hookState, target string, n int) string {
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return ""
	}
	defer stats.Close()
	if st.on() != nil {
		return ""
	}
	before := lannerProgStats()
	if _, _, err := timedLoop(target, n); err != nil {
		return ""
	}
	after := lannerProgStats()
	var runs, ns uint64
	for id, a := range after {
		b := before[id]
		runs += a.RunCount - b.RunCount
		ns += uint64(a.Runtime - b.Runtime)
	}
	if runs == 0 {
		return ""
	}
	return fmt.Sprintf("   (program %.0f ns/run, %.2f runs/loop)", float64(ns)/float64(runs), float64(runs)/float64(n))
}

// lannerProgStats are the run statistics of the loaded lanner_sys_exit*
// programs, by id.
func lannerProgStats() map[ebpf.ProgramID]ebpf.ProgramStats {
	out := map[ebpf.ProgramID]ebpf.ProgramStats{}
	var id ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			return out
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue
		}
		if info, err := p.Info(); err == nil && strings.HasPrefix(info.Name, "lanner_sys_exit") {
			if s, err := p.Stats(); err == nil {
				out[id] = *s
			}
		}
		p.Close()
	}
}

// timedLoop runs the open/read/close loop on a locked thread and returns
// its wall and thread-CPU time per loop.
func timedLoop(target string, n int) (wallNs, cpuNs float64, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var r0, r1 unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_THREAD, &r0)
	start := time.Now()
	err = openLoop(target, n)
	el := time.Since(start)
	_ = unix.Getrusage(unix.RUSAGE_THREAD, &r1)
	c := r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano()
	return float64(el.Nanoseconds()) / float64(n), float64(c) / float64(n), err
}

// trivialHook is a program that returns 0, attached to sys_exit by typ.
func trivialHook(typ ebpf.ProgramType) func() (*hookState, error) {
	return func() (*hookState, error) {
		spec := &ebpf.ProgramSpec{
			Type:         typ,
			License:      "GPL",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		}
		if typ == ebpf.Tracing {
			spec.AttachType = ebpf.AttachTraceRawTp
			spec.AttachTo = "sys_exit"
		}
		prog, err := ebpf.NewProgram(spec)
		if err != nil {
			return nil, err
		}
		var l link.Link
		st := &hookState{
			on: func() error {
				var err error
				switch typ {
				case ebpf.Tracing:
					l, err = link.AttachTracing(link.TracingOptions{Program: prog})
				case ebpf.RawTracepoint:
					l, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sys_exit", Program: prog})
				case ebpf.TracePoint:
					l, err = link.Tracepoint("syscalls", "sys_exit_openat", prog, nil)
				default:
					err = errors.New("unsupported program type")
				}
				return err
			},
			off: func() error {
				if l == nil {
					return nil
				}
				err := l.Close()
				l = nil
				return err
			},
		}
		st.close = func() { _ = st.off(); prog.Close() }
		return st, nil
	}
}

// captureHook is Lanner's capture of the given syscalls: on opens it (which
// attaches its programs) and selects them, off closes it, so that the runs
// without it have no hook at all. With reader, a concurrent Read consumes
// the records; without, they stay in rings large enough for a run and the
// loop pays only for producing them.
func captureHook(syscalls []string, reader bool) func() (*hookState, error) {
	return func() (*hookState, error) {
		var (
			c      *capture.Capture
			cancel context.CancelFunc
			done   chan struct{}
		)
		st := &hookState{}
		st.on = func() error {
			if c != nil {
				return nil
			}
			cfg := capture.Config{IncludeSelf: true, NoLifecycle: true}
			if !reader {
				cfg.RingSize, cfg.WakeupBytes, cfg.FlushInterval = 64<<20, 64<<20, time.Hour
			}
			var err error
			if c, err = capture.Open(cfg); err != nil {
				return err
			}
			if _, err := c.SetSyscallNames(syscalls); err != nil {
				c.Close()
				c = nil
				return err
			}
			if reader {
				var ctx context.Context
				ctx, cancel = context.WithCancel(context.Background())
				done = make(chan struct{})
				go func() {
					defer close(done)
					_ = c.Read(ctx, func(*capture.Event) error { return nil })
				}()
			}
			return nil
		}
		st.off = func() error {
			if c == nil {
				return nil
			}
			if reader {
				cancel()
				<-done
			}
			if s, err := c.Stats(); err == nil && s.Total.Dropped() > 0 {
				fmt.Fprintf(os.Stderr, "lanner capture dropped %d events\n", s.Total.Dropped())
			}
			err := c.Close()
			c = nil
			return err
		}
		st.close = func() { _ = st.off() }
		return st, nil
	}
}

func median(v []float64) float64 { return quartiles(v)[1] }

// quartiles returns the 25th, 50th and 75th percentiles of v.
func quartiles(v []float64) [3]float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	at := func(q float64) float64 { return s[int(q*float64(len(s)-1)+0.5)] }
	return [3]float64{at(0.25), at(0.5), at(0.75)}
}
