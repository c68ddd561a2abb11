package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/lannerhq/lanner/agent/capture"
)

// floorVariant is one way of hooking syscall exit whose cost on the
// open/read/close loop -floor measures.
type floorVariant struct {
	name  string
	setup func() (func(), error) // returns the teardown
}

// runFloor measures what hooking syscall exit costs the open/read/close
// loop on this kernel before any work is done per event: trivial programs
// (return 0) on tp_btf/sys_exit, raw_tp/sys_exit and the per-syscall perf
// tracepoint syscalls:sys_exit_openat, then Lanner's own capture with
// nothing selected and with openat captured and read. Variants are
// interleaved round by round and the loop thread's CPU time is reported
// next to wall time, so that other load on the machine shifts every
// variant alike.
func runFloor(target string, n, rounds int) error {
	variants := []floorVariant{
		{"bare", func() (func(), error) { return func() {}, nil }},
		{"tp_btf/sys_exit, return 0", attachTrivial(ebpf.Tracing)},
		{"raw_tp/sys_exit, return 0", attachTrivial(ebpf.RawTracepoint)},
		{"tracepoint sys_exit_openat, return 0", attachTrivial(ebpf.TracePoint)},
		{"lanner all-syscalls hook, ptrace only", attachCapture(capture.HookAllSyscalls, []string{"ptrace"})},
		{"lanner all-syscalls hook, openat + read", attachCapture(capture.HookAllSyscalls, []string{"openat"})},
		{"lanner tracepoints, openat + read", attachCapture(capture.HookAuto, []string{"openat"})},
		{"lanner tracepoints, openat, read after", attachCaptureReadAfter(capture.HookAuto, []string{"openat"})},
	}
	wall := make([][]float64, len(variants))
	cpu := make([][]float64, len(variants))
	for r := 0; r < rounds; r++ {
		for i, v := range variants {
			stop, err := v.setup()
			if err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			w, c, err := timedLoop(target, n)
			stop()
			if err != nil {
				return err
			}
			wall[i] = append(wall[i], w)
			cpu[i] = append(cpu[i], c)
		}
	}
	fmt.Printf("open/read/close of %s, %d loops per round, %d interleaved rounds\n", target, n, rounds)
	fmt.Printf("%-42s %11s %11s %11s %9s %11s\n", "hook", "wall ns/op", "cpu median", "vs bare", "cpu min", "vs bare")
	base, baseMin := median(cpu[0]), minOf(cpu[0])
	for i, v := range variants {
		c, m := median(cpu[i]), minOf(cpu[i])
		fmt.Printf("%-42s %11.0f %11.0f %10.1f%% %9.0f %10.1f%%\n", v.name, median(wall[i]), c, 100*(c-base)/base, m, 100*(m-baseMin)/baseMin)
	}
	return nil
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v[1:] {
		m = min(m, x)
	}
	return m
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

func attachTrivial(typ ebpf.ProgramType) func() (func(), error) {
	return func() (func(), error) {
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
		if err != nil {
			prog.Close()
			return nil, err
		}
		return func() { l.Close(); prog.Close() }, nil
	}
}

func attachCapture(hook capture.Hook, syscalls []string) func() (func(), error) {
	return func() (func(), error) {
		c, err := capture.Open(capture.Config{IncludeSelf: true, NoLifecycle: true, Hook: hook})
		if err != nil {
			return nil, err
		}
		if _, err := c.SetSyscallNames(syscalls); err != nil {
			c.Close()
			return nil, err
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = c.Read(ctx, func(*capture.Event) error { return nil })
		}()
		return func() {
			cancel()
			<-done
			if st, err := c.Stats(); err == nil && st.Total.Dropped() > 0 {
				fmt.Fprintf(os.Stderr, "lanner capture dropped %d events\n", st.Total.Dropped())
			}
			c.Close()
		}, nil
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// attachCaptureReadAfter captures into rings large enough for the whole
// round and reads them only afterwards: the loop then runs without a
// reader on the other CPU touching the rings' shared positions.
func attachCaptureReadAfter(hook capture.Hook, syscalls []string) func() (func(), error) {
	return func() (func(), error) {
		c, err := capture.Open(capture.Config{IncludeSelf: true, NoLifecycle: true, Hook: hook, RingSize: 128 << 20, WakeupBytes: 128 << 20, FlushInterval: time.Hour})
		if err != nil {
			return nil, err
		}
		if _, err := c.SetSyscallNames(syscalls); err != nil {
			c.Close()
			return nil, err
		}
		return func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = c.Read(ctx, func(*capture.Event) error { return nil })
			if st, err := c.Stats(); err == nil && st.Total.Dropped() > 0 {
				fmt.Fprintf(os.Stderr, "lanner capture dropped %d events\n", st.Total.Dropped())
			}
			c.Close()
		}, nil
	}
}
