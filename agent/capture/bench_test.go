package capture

import (
	"context"
	"os/exec"
	"runtime"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// BenchmarkOpenClose times an open/close loop of /dev/null in this process:
// bare, with the programs attached but the syscalls not selected (cost of the
// tracepoints and the filter check), and captured (openat+close selected,
// every event read and decoded by a concurrent Read).
func BenchmarkOpenClose(b *testing.B) {
	// Wall time on a shared machine is mostly scheduling noise, so the
	// loop also reports the CPU time its thread used (user+sys) per op.
	loop := func(b *testing.B) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var r0, r1 unix.Rusage
		_ = unix.Getrusage(unix.RUSAGE_THREAD, &r0)
		n := 0
		for b.Loop() {
			n++
			fd, err := unix.Open("/dev/null", unix.O_RDONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			unix.Close(fd)
		}
		_ = unix.Getrusage(unix.RUSAGE_THREAD, &r1)
		cpu := r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano()
		b.ReportMetric(float64(cpu)/float64(max(n, 1)), "cpu-ns/op")
	}
	b.Run("bare", loop)
	for _, bc := range []struct {
		name     string
		syscalls []string
	}{
		{"attached", nil},
		{"captured", []string{"openat", "close"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			requireRoot(b)
			c, err := Open(Config{IncludeSelf: true})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if _, err := c.SetSyscallNames(bc.syscalls); err != nil {
				b.Fatal(err)
			}
			// Kernel run-time statistics of the sys_exit program: its
			// own cost per run, independent of scheduling noise.
			if st, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME)); err == nil {
				defer st.Close()
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Read(ctx, func(*Event) error { return nil }) }()
			before, _ := c.Stats()
			p0, _ := c.objs.LannerSysExit.Stats()
			loop(b)
			b.StopTimer()
			p1, _ := c.objs.LannerSysExit.Stats()
			after, _ := c.Stats()
			cancel()
			<-done
			b.ReportMetric(float64(after.Total.Sent-before.Total.Sent)/float64(b.N), "events/op")
			b.ReportMetric(float64(after.Total.Dropped()-before.Total.Dropped()), "dropped")
			if p0 != nil && p1 != nil && p1.RunCount > p0.RunCount {
				b.ReportMetric(float64(p1.Runtime-p0.Runtime)/float64(p1.RunCount-p0.RunCount), "bpf-ns/run")
			}
		})
	}
}

// BenchmarkExec times fork+exec+wait of /bin/true: bare, and with the
// lifecycle and execve/execveat captured and read.
func BenchmarkExec(b *testing.B) {
	loop := func(b *testing.B) {
		for b.Loop() {
			if err := exec.Command("/bin/true").Run(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("bare", loop)
	b.Run("captured", func(b *testing.B) {
		requireRoot(b)
		c, err := Open(Config{IncludeSelf: true})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if _, err := c.SetSyscallNames([]string{"execve", "execveat"}); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Read(ctx, func(*Event) error { return nil }) }()
		before, _ := c.Stats()
		loop(b)
		b.StopTimer()
		after, _ := c.Stats()
		cancel()
		<-done
		b.ReportMetric(float64(after.Total.Sent-before.Total.Sent)/float64(b.N), "events/op")
		b.ReportMetric(float64(after.Total.Dropped()-before.Total.Dropped()), "dropped")
	})
}
