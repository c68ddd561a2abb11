package capture

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Hook selects how syscall exits are hooked.
type Hook int

const (
	// HookAllSyscalls runs the program on tp_btf/sys_exit for every syscall
	// and filters in the kernel map. The default: on the kernels measured
	// (docs/agent.md) the per-syscall tracepoints cost the same, because
	// most of the cost is the syscall-tracing slow path every syscall takes
	// once any syscall-exit hook is on, whatever the hook.
	HookAllSyscalls Hook = iota
	// HookTracepoints attaches the program to the per-syscall tracepoint
	// syscalls:sys_exit_<name> of each selected syscall, so that other
	// syscalls run no program, when every selected syscall has one (and
	// tracefs is available); otherwise it behaves as HookAllSyscalls.
	HookTracepoints
)

func (h Hook) String() string {
	switch h {
	case HookAllSyscalls:
		return "all-syscalls"
	case HookTracepoints:
		return "tracepoints"
	}
	return fmt.Sprintf("Hook(%d)", int(h))
}

// tracepointNames are the x86_64 syscalls whose tracepoint is named after
// the kernel's SYSCALL_DEFINE, not after the syscall table's name.
var tracepointNames = map[string]string{
	"stat":     "newstat",
	"fstat":    "newfstat",
	"lstat":    "newlstat",
	"uname":    "newuname",
	"sendfile": "sendfile64",
	"umount2":  "umount",
}

// tracepointOf is the name of syscall nr's exit tracepoint in the
// "syscalls" group.
func tracepointOf(nr int) string {
	name := SyscallName(nr)
	if tp, ok := tracepointNames[name]; ok {
		name = tp
	}
	return "sys_exit_" + name
}

// findTracefs returns where tracefs is mounted, mounting it at
// /sys/kernel/tracing when it is not (as tools such as perf and bpftrace
// do): the per-syscall tracepoints are only reachable through it. It must
// run before the first link.Tracepoint, which caches its own lookup.
func findTracefs() (string, error) {
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			// id parent major:minor root mountpoint opts ... - fstype src opts
			f := strings.Fields(sc.Text())
			for i, v := range f {
				if v == "-" && i+1 < len(f) && f[i+1] == "tracefs" && len(f) > 4 && f[3] == "/" {
					return f[4], nil
				}
			}
		}
	}
	for _, p := range []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"} {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) == nil && st.Type == unix.TRACEFS_MAGIC {
			return p, nil
		}
	}
	const p = "/sys/kernel/tracing"
	if err := unix.Mount("nodev", p, "tracefs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return "", fmt.Errorf("tracefs is not mounted and mounting it at %s failed: %w", p, err)
	}
	return p, nil
}

// unimplementedSyscalls returns the names of the syscalls this kernel does
// not implement: their x86_64 entry point is a weak __x64_sys_<name> (the
// COND_SYSCALL stub that returns ENOSYS, e.g. init_module on a kernel built
// without CONFIG_MODULES). Such syscalls have no tracepoint either.
func unimplementedSyscalls() (map[string]bool, error) {
	b, err := os.ReadFile("/proc/kallsyms")
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// address type name [module]
		f := strings.Fields(sc.Text())
		if len(f) < 3 || (f[1] != "W" && f[1] != "w") {
			continue
		}
		if name, ok := strings.CutPrefix(f[2], "__x64_sys_"); ok {
			out[name] = true
		}
	}
	return out, sc.Err()
}

// hooks holds the links of the syscall-exit programs. Guarded by the
// Capture's filterMu.
type hooks struct {
	tracefs string            // "" when per-syscall tracepoints are unusable
	sys     map[int]link.Link // per-syscall tracepoint links, by number
	all     link.Link         // tp_btf/sys_exit, nil while not needed
	hasTP   map[int]bool      // cache: syscall has a tracepoint here
	unimpl  map[string]bool   // syscalls this kernel does not implement (SkipUnimplemented)
}

// hasTracepoint reports whether syscall nr has an exit tracepoint here.
func (h *hooks) hasTracepoint(nr int) bool {
	if h.tracefs == "" || SyscallName(nr) == "" {
		return false
	}
	if v, ok := h.hasTP[nr]; ok {
		return v
	}
	_, err := os.Stat(filepath.Join(h.tracefs, "events", "syscalls", tracepointOf(nr), "id"))
	h.hasTP[nr] = err == nil
	return err == nil
}

// closeAll detaches every syscall-exit link.
func (h *hooks) closeAll() error {
	var errs []error
	for nr, l := range h.sys {
		errs = append(errs, l.Close())
		delete(h.sys, nr)
	}
	if h.all != nil {
		errs = append(errs, h.all.Close())
		h.all = nil
	}
	return errors.Join(errs...)
}
