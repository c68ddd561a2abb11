// Package capture loads Lanner's eBPF programs (bpf/), attaches them to the
// syscall and scheduler tracepoints, keeps the in-kernel syscall filter, and
// reads the per-CPU ring buffers into decoded Events without allocating.
package capture

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/lannerhq/lanner/bpf"
)

// Config configures Open. The zero value captures nothing but the process
// lifecycle (fork/exec/exit) and excludes the calling process.
type Config struct {
	// Syscalls to capture, by number (see SyscallNumber). Updated later
	// with SetSyscalls.
	Syscalls []int
	// RingSize is the size of each per-CPU ring in bytes, a power of two
	// multiple of the page size. Default 4 MiB.
	RingSize int
	// WakeupBytes: the kernel wakes the reader only when a ring holds more
	// than this; otherwise the reader drains every FlushInterval. Default
	// RingSize/8.
	WakeupBytes int
	// FlushInterval bounds how long an event can wait in a ring. Default 20ms.
	FlushInterval time.Duration
	// EnvBytes bounds the environment captured per exec (0..4096; -1 for
	// none). Default 2048.
	EnvBytes int
	// IncludeSelf captures the calling process too (tests). By default the
	// agent's own pid is excluded in the kernel.
	IncludeSelf bool
	// NoLifecycle stops fork/exec/exit events unless their syscalls are in
	// the filter.
	NoLifecycle bool
	Logger      *slog.Logger
}

func (c *Config) defaults() error {
	if c.RingSize == 0 {
		c.RingSize = 4 << 20
	}
	page := os.Getpagesize()
	if c.RingSize < page || c.RingSize&(c.RingSize-1) != 0 {
		return fmt.Errorf("capture: RingSize %d is not a power of two >= %d", c.RingSize, page)
	}
	if c.WakeupBytes == 0 {
		c.WakeupBytes = c.RingSize / 8
	}
	if c.WakeupBytes < 0 || c.WakeupBytes > c.RingSize {
		return fmt.Errorf("capture: WakeupBytes %d outside [0, RingSize]", c.WakeupBytes)
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 20 * time.Millisecond
	}
	switch {
	case c.EnvBytes == 0:
		c.EnvBytes = 2048
	case c.EnvBytes < 0:
		c.EnvBytes = 0
	case c.EnvBytes > 4096:
		return fmt.Errorf("capture: EnvBytes %d above 4096", c.EnvBytes)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Capture is a loaded and attached set of programs. Read delivers events;
// SetSyscalls, Stats and Close may be called from any goroutine.
type Capture struct {
	cfg        Config
	log        *slog.Logger
	objs       bpf.LannerObjects
	ringMaps   []*ebpf.Map
	rings      []*ring
	links      []link.Link
	bootOffset int64

	epfd   int
	wakefd int // eventfd: interrupts the reader's epoll_wait on Close/cancel

	filterMu sync.Mutex
	filter   [MaxSyscall]bool

	readMu    sync.Mutex // one reader at a time
	drain     *drain     // Read's merge state, guarded by readMu
	closeOnce sync.Once
	closed    chan struct{}
	detached  chan error // the owner goroutine's result of detaching

	stop chan struct{} // asks the owner goroutine to detach

	delivered  atomic.Uint64 // events passed to the callback
	decodeErrs atomic.Uint64 // records that failed to decode (skipped)
}

// Open loads the programs, sizes the rings, fills the filter and attaches
// everything. A dedicated goroutine owns attach and detach; Close stops it.
func Open(cfg Config) (*Capture, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	c := &Capture{
		cfg:      cfg,
		log:      cfg.Logger,
		epfd:     -1,
		wakefd:   -1,
		closed:   make(chan struct{}),
		detached: make(chan error, 1),
		stop:     make(chan struct{}),
	}
	ready := make(chan error, 1)
	go c.own(ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return c, nil
}

// own is the goroutine that loads, attaches and, when asked, detaches.
func (c *Capture) own(ready chan<- error) {
	if err := c.load(); err != nil {
		c.unload()
		ready <- err
		return
	}
	ready <- nil
	<-c.stop
	c.detached <- c.unload()
}

func (c *Capture) load() error {
	if err := rlimit.RemoveMemlock(); err != nil {
		return fmt.Errorf("capture: remove memlock rlimit: %w", err)
	}
	spec, err := bpf.LoadLanner()
	if err != nil {
		return fmt.Errorf("capture: load spec: %w", err)
	}
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return fmt.Errorf("capture: possible CPUs: %w", err)
	}
	self := uint32(os.Getpid())
	if c.cfg.IncludeSelf {
		self = 0 // no task has tgid 0 in a syscall context
	}
	lifecycle := uint8(1)
	if c.cfg.NoLifecycle {
		lifecycle = 0
	}
	for name, v := range map[string]any{
		bpf.LannerVarSelfTgid:    self,
		bpf.LannerVarWakeupBytes: uint32(c.cfg.WakeupBytes),
		bpf.LannerVarEnvMax:      uint32(c.cfg.EnvBytes),
		bpf.LannerVarLifecycle:   lifecycle,
	} {
		if err := spec.Variables[name].Set(v); err != nil {
			return fmt.Errorf("capture: set %s: %w", name, err)
		}
	}
	rings := spec.Maps[bpf.LannerMapRings]
	rings.MaxEntries = uint32(ncpu)
	rings.InnerMap.MaxEntries = uint32(c.cfg.RingSize)

	if err := spec.LoadAndAssign(&c.objs, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			c.log.Error("capture: verifier rejected the programs", "log", fmt.Sprintf("%+v", ve))
		}
		return fmt.Errorf("capture: load programs: %w", err)
	}

	c.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("capture: epoll: %w", err)
	}
	c.wakefd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("capture: eventfd: %w", err)
	}
	if err := c.epollAdd(c.wakefd); err != nil {
		return err
	}
	inner := rings.InnerMap.Copy()
	inner.Name = "lanner_ring"
	for i := range ncpu {
		m, err := ebpf.NewMap(inner)
		if err != nil {
			return fmt.Errorf("capture: ring %d: %w", i, err)
		}
		c.ringMaps = append(c.ringMaps, m)
		if err := c.objs.Rings.Put(uint32(i), m); err != nil {
			return fmt.Errorf("capture: install ring %d: %w", i, err)
		}
		r, err := newRing(m.FD(), c.cfg.RingSize)
		if err != nil {
			return fmt.Errorf("capture: ring %d: %w", i, err)
		}
		c.rings = append(c.rings, r)
		if err := c.epollAdd(m.FD()); err != nil {
			return err
		}
	}

	if err := c.SetSyscalls(c.cfg.Syscalls); err != nil {
		return err
	}
	c.bootOffset = bootOffset()

	for _, p := range c.programs() {
		l, err := link.AttachTracing(link.TracingOptions{Program: p})
		if err != nil {
			return fmt.Errorf("capture: attach %s: %w", p, err)
		}
		c.links = append(c.links, l)
	}
	c.log.Info("capture attached", "cpus", ncpu, "ring_bytes", c.cfg.RingSize,
		"syscalls", len(c.cfg.Syscalls), "exclude_pid", self)
	return nil
}

func (c *Capture) epollAdd(fd int) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
	if err := unix.EpollCtl(c.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("capture: epoll add: %w", err)
	}
	return nil
}

// unload detaches the programs first (no new events), then frees readers,
// rings and objects. It returns the first error.
func (c *Capture) unload() error {
	var errs []error
	for _, l := range c.links {
		errs = append(errs, l.Close())
	}
	c.links = nil
	for _, r := range c.rings {
		errs = append(errs, r.close())
	}
	c.rings = nil
	for _, m := range c.ringMaps {
		errs = append(errs, m.Close())
	}
	c.ringMaps = nil
	errs = append(errs, c.objs.Close())
	if c.epfd >= 0 {
		errs = append(errs, unix.Close(c.epfd))
		c.epfd = -1
	}
	if c.wakefd >= 0 {
		errs = append(errs, unix.Close(c.wakefd))
		c.wakefd = -1
	}
	return errors.Join(errs...)
}

// bootOffset is CLOCK_REALTIME - CLOCK_BOOTTIME in nanoseconds, to turn the
// kernel's bpf_ktime_get_boot_ns into wall time.
func bootOffset() int64 {
	var rt, bt unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &bt)
	_ = unix.ClockGettime(unix.CLOCK_REALTIME, &rt)
	return rt.Nano() - bt.Nano()
}

// SetSyscalls replaces the set of captured syscalls (numbers on this
// architecture) in the kernel filter, live. Numbers out of range are errors.
func (c *Capture) SetSyscalls(nrs []int) error {
	var want [MaxSyscall]bool
	for _, nr := range nrs {
		if nr < 0 || nr >= MaxSyscall {
			return fmt.Errorf("capture: syscall number %d out of range", nr)
		}
		want[nr] = true
	}
	c.filterMu.Lock()
	defer c.filterMu.Unlock()
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	keys := make([]uint32, MaxSyscall)
	vals := make([]uint32, MaxSyscall)
	for i := range MaxSyscall {
		keys[i] = uint32(i)
		if want[i] {
			vals[i] = 1
		}
	}
	if _, err := c.objs.SyscallFilter.BatchUpdate(keys, vals, nil); err != nil {
		// Older kernels lack batch ops on arrays: fall back to one by one.
		for i := range MaxSyscall {
			if err := c.objs.SyscallFilter.Put(keys[i], vals[i]); err != nil {
				return fmt.Errorf("capture: update syscall filter: %w", err)
			}
		}
	}
	c.filter = want
	return nil
}

// SetSyscallNames is SetSyscalls by Falco event type name ("openat",
// "execve", ...). Names that are not syscalls on this architecture (e.g.
// "procexit", "container") are returned as unknown and otherwise ignored.
func (c *Capture) SetSyscallNames(names []string) (unknown []string, err error) {
	nrs := make([]int, 0, len(names))
	for _, n := range names {
		nr, ok := SyscallNumber(n)
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		nrs = append(nrs, nr)
	}
	return unknown, c.SetSyscalls(nrs)
}

// Syscalls returns the syscall numbers currently in the kernel filter.
func (c *Capture) Syscalls() []int {
	c.filterMu.Lock()
	defer c.filterMu.Unlock()
	var out []int
	for nr, on := range c.filter {
		if on {
			out = append(out, nr)
		}
	}
	return out
}

// Close detaches every program and frees the maps; a running Read returns
// ErrClosed, and Close waits for it (so do not call Close from Read's
// callback). Safe to call more than once.
func (c *Capture) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closed)
		c.wake()
		// Wait for a running Read to leave before the rings go away.
		c.readMu.Lock()
		c.filterMu.Lock()
		close(c.stop)
		err = <-c.detached
		c.filterMu.Unlock()
		c.readMu.Unlock()
	})
	return err
}

func (c *Capture) wake() {
	var one [8]byte
	one[0] = 1
	_, _ = unix.Write(c.wakefd, one[:])
}

// programs lists every program, in attach order.
func (c *Capture) programs() []*ebpf.Program {
	return []*ebpf.Program{c.objs.LannerSysExit, c.objs.LannerFork, c.objs.LannerExec, c.objs.LannerExit}
}

// progIDs returns the kernel ids of the attached programs (tests).
func (c *Capture) progIDs() []ebpf.ProgramID {
	var ids []ebpf.ProgramID
	for _, p := range c.programs() {
		if info, err := p.Info(); err == nil {
			if id, ok := info.ID(); ok {
				ids = append(ids, id)
			}
		}
	}
	return ids
}
