package capture

import "runtime"

// falcoAliases maps Falco event type names that differ from the kernel's
// syscall names to the kernel's.
var falcoAliases = map[string]string{
	"pread":   "pread64",
	"pwrite":  "pwrite64",
	"prlimit": "prlimit64",
	"umount":  "umount2",
}

// MaxSyscall bounds syscall numbers; it matches NR_SYSCALLS in the BPF code.
const MaxSyscall = 512

// SyscallName returns the name of syscall nr on this architecture ("" when
// unknown). Names are Falco's event type names (openat, execve, connect...).
func SyscallName(nr int) string {
	if runtime.GOARCH != "amd64" || nr < 0 || nr >= len(syscallNamesAMD64) {
		return ""
	}
	return syscallNamesAMD64[nr]
}

// SyscallNumber returns the number of the syscall (or Falco event type) name.
func SyscallNumber(name string) (int, bool) {
	if runtime.GOARCH != "amd64" {
		return 0, false
	}
	if alias, ok := falcoAliases[name]; ok {
		name = alias
	}
	for nr, n := range syscallNamesAMD64 {
		if n == name && n != "" {
			return nr, true
		}
	}
	return 0, false
}
