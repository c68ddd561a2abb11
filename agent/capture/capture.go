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
	// Hook chooses how syscall exits are hooked (default HookAllSyscalls).
	Hook Hook
	// SkipUnimplemented (with HookTracepoints) leaves out selected syscalls
	// this kernel does not implement (they only ever fail with ENOSYS, e.g.
	// init_module on a kernel without module support): they have no
	// tracepoint, so capturing their attempts takes tp_btf/sys_exit for
	// every selected syscall. Off by default: Falco reports such attempts,
	// and a rule can match them.
	SkipUnimplemented bool
	Logger            *slog.Logger
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
	if c.Hook != HookAllSyscalls && c.Hook != HookTracepoints {
		return fmt.Errorf("capture: unknown Hook %d", int(c.Hook))
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

	filterMu  sync.Mutex
	filter    [MaxSyscall]bool
	hooks     hooks // syscall-exit links, guarded by filterMu
	allHooked [MaxSyscall]bool

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
		hooks:    hooks{sys: map[int]link.Link{}, hasTP: map[int]bool{}},
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

	if c.cfg.Hook == HookTracepoints {
		if c.hooks.tracefs, err = findTracefs(); err != nil {
			c.log.Warn("capture: no per-syscall tracepoints, every syscall runs the capture program", "err", err)
		}
		if c.cfg.SkipUnimplemented {
			if c.hooks.unimpl, err = unimplementedSyscalls(); err != nil {
				c.log.Warn("capture: cannot tell which syscalls this kernel lacks", "err", err)
			}
		}
	}
	c.bootOffset = bootOffset()
	if err := c.SetSyscalls(c.cfg.Syscalls); err != nil {
		return err
	}

	for _, p := range c.lifecyclePrograms() {
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
	errs := []error{c.hooks.closeAll()}
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
	// Per-syscall tracepoints only pay off when no program runs on every
	// syscall anyway: if one selected syscall needs tp_btf/sys_exit, every
	// selected syscall goes through it. New hooks are attached before the
	// filter routes syscalls to them and old ones detached after, so that
	// a syscall is never missed; the programs check the route, so that it
	// is never reported twice.
	useTP := c.cfg.Hook == HookTracepoints && c.hooks.tracefs != ""
	var skip [MaxSyscall]bool
	for i := range MaxSyscall {
		if !useTP || !want[i] || c.hooks.hasTracepoint(i) {
			continue
		}
		if c.hooks.unimpl[SyscallName(i)] {
			skip[i] = true // SkipUnimplemented: ENOSYS attempts go unreported
			continue
		}
		useTP = false
	}
	for i := range MaxSyscall {
		if !useTP || !want[i] || skip[i] {
			continue
		}
		if err := c.attachTracepoint(i); err != nil {
			c.log.Warn("capture: syscall tracepoint unusable, using tp_btf/sys_exit", "syscall", SyscallName(i), "err", err)
			useTP = false
		}
	}
	keys := make([]uint32, MaxSyscall)
	vals := make([]uint32, MaxSyscall)
	needAll := false
	for i := range MaxSyscall {
		keys[i] = uint32(i)
		if !want[i] {
			continue
		}
		vals[i] = uint32(bpf.LannerFilterBitFILTER_SELECTED)
		if !useTP && !skip[i] {
			vals[i] |= uint32(bpf.LannerFilterBitFILTER_ALL_HOOK)
			needAll = true
		}
	}
	if needAll && c.hooks.all == nil {
		l, err := link.AttachTracing(link.TracingOptions{Program: c.objs.LannerSysExit})
		if err != nil {
			return fmt.Errorf("capture: attach %s: %w", c.objs.LannerSysExit, err)
		}
		c.hooks.all = l
	}
	if _, err := c.objs.SyscallFilter.BatchUpdate(keys, vals, nil); err != nil {
		// Older kernels lack batch ops on arrays: fall back to one by one.
		for i := range MaxSyscall {
			if err := c.objs.SyscallFilter.Put(keys[i], vals[i]); err != nil {
				return fmt.Errorf("capture: update syscall filter: %w", err)
			}
		}
	}
	for i := range MaxSyscall {
		c.allHooked[i] = vals[i]&uint32(bpf.LannerFilterBitFILTER_ALL_HOOK) != 0
	}
	var errs []error
	for nr, l := range c.hooks.sys {
		if vals[nr]&uint32(bpf.LannerFilterBitFILTER_ALL_HOOK) == 0 && want[nr] {
			continue
		}
		errs = append(errs, l.Close())
		delete(c.hooks.sys, nr)
	}
	if !needAll && c.hooks.all != nil {
		errs = append(errs, c.hooks.all.Close())
		c.hooks.all = nil
	}
	c.filter = want
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("capture: detach syscall hooks: %w", err)
	}
	return nil
}

// attachTracepoint attaches the capture program to syscall nr's exit
// tracepoint, unless it is attached already.
func (c *Capture) attachTracepoint(nr int) error {
	if _, ok := c.hooks.sys[nr]; ok {
		return nil
	}
	l, err := link.Tracepoint("syscalls", tracepointOf(nr), c.objs.LannerSysExitTp, nil)
	if err != nil {
		return err
	}
	c.hooks.sys[nr] = l
	return nil
}

// HookReport says how the selected syscalls are hooked.
type HookReport struct {
	Tracepoints []int // by their own syscalls:sys_exit_<name> tracepoint
	AllSyscalls []int // by tp_btf/sys_exit, which then runs for every syscall
	Skipped     []int // not implemented by this kernel (SkipUnimplemented)
}

// Hooks reports how the selected syscalls are hooked.
func (c *Capture) Hooks() HookReport {
	c.filterMu.Lock()
	defer c.filterMu.Unlock()
	var r HookReport
	for nr, on := range c.filter {
		switch {
		case !on:
		case c.hooks.sys[nr] != nil:
			r.Tracepoints = append(r.Tracepoints, nr)
		case c.hooks.all != nil && c.allHooked[nr]:
			r.AllSyscalls = append(r.AllSyscalls, nr)
		default:
			r.Skipped = append(r.Skipped, nr)
		}
	}
	return r
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

// lifecyclePrograms are the programs attached for the whole life of a
// Capture, in attach order (the syscall-exit ones follow the filter).
func (c *Capture) lifecyclePrograms() []*ebpf.Program {
	return []*ebpf.Program{c.objs.LannerFork, c.objs.LannerExec, c.objs.LannerExit}
}

// progIDs returns the kernel ids of every program (tests).
func (c *Capture) progIDs() []ebpf.ProgramID {
	var ids []ebpf.ProgramID
	for _, p := range append(c.lifecyclePrograms(), c.objs.LannerSysExit, c.objs.LannerSysExitTp) {
		if info, err := p.Info(); err == nil {
			if id, ok := info.ID(); ok {
				ids = append(ids, id)
			}
		}
	}
	return ids
}
