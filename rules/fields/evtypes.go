package fields

// EventType is an event type, as a small integer indexing the event-type
// table. Its name is Falco's evt.type (open, openat, execve, procexit...).
type EventType uint16

// EventKind says where an event type comes from, for the kernel filter.
type EventKind uint8

// Event kinds.
const (
	// KindSyscall events come from the syscalls listed in Syscalls.
	KindSyscall EventKind = iota
	// KindTracepoint events come from a kernel tracepoint (procexit from
	// sched_process_exit, switch from sched_switch, ...), named in Syscalls.
	KindTracepoint
	// KindMeta events are generated in user space (container).
	KindMeta
)

// EventTypeInfo describes one event type.
type EventTypeInfo struct {
	Type EventType
	Name string
	Kind EventKind
	// Syscalls are the Linux syscall names (or the tracepoint) that produce
	// this event type.
	Syscalls []string
}

// UnknownEventType is the zero EventType; no event should carry it.
const UnknownEventType EventType = 0

// eventTypeNames lists Falco's event type names in ID order (index 0 is the
// unknown type). Each is produced by the syscall of the same name, except
// where eventTypeSources says otherwise.
var eventTypeNames = [...]string{
	"<unknown>",
	// files
	"open", "openat", "openat2", "open_by_handle_at", "creat", "close", "read", "write",
	"pread", "pwrite", "readv", "writev", "preadv", "pwritev", "sendfile", "splice",
	"copy_file_range", "lseek", "llseek", "truncate", "ftruncate", "fcntl", "ioctl",
	"dup", "dup2", "dup3", "pipe", "pipe2", "eventfd", "eventfd2", "signalfd", "signalfd4",
	"inotify_init", "inotify_init1", "timerfd_create", "epoll_create", "epoll_create1",
	"memfd_create", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
	"stat", "lstat", "fstat", "newfstatat", "access", "faccessat", "faccessat2", "getdents", "getdents64",
	"mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2",
	"link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "fchmodat2",
	"chown", "lchown", "fchown", "fchownat", "mknod", "mknodat", "chdir", "fchdir", "chroot",
	"mount", "umount", "umount2", "pivot_root", "fsconfig", "flock", "quotactl",
	// network
	"socket", "socketpair", "bind", "connect", "listen", "accept", "accept4",
	"sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown",
	"getsockopt", "setsockopt",
	// processes and credentials
	"execve", "execveat", "clone", "clone3", "fork", "vfork", "kill", "tkill", "tgkill",
	"ptrace", "setuid", "setgid", "setresuid", "setresgid", "setreuid", "setregid",
	"setsid", "setpgid", "capset", "prctl", "seccomp", "unshare", "setns", "bpf",
	"init_module", "finit_module", "delete_module", "process_vm_readv", "process_vm_writev",
	"pidfd_open", "pidfd_getfd", "prlimit", "setrlimit", "getrlimit", "personality",
	"mmap", "mmap2", "munmap", "mprotect", "brk", "mlock", "mlock2", "munlock",
	"nanosleep", "poll", "ppoll", "select", "pselect6", "futex", "epoll_wait", "epoll_pwait",
	"semop", "semget", "semctl", "sched_yield", "getcwd", "uname",
	// tracepoints and meta events
	"procexit", "switch", "signaldeliver", "pagefault", "container",
}

// eventTypeSources overrides the syscall list of non-syscall event types.
var eventTypeSources = map[string]struct {
	kind  EventKind
	names []string
}{
	"procexit":      {KindTracepoint, []string{"sched_process_exit"}},
	"switch":        {KindTracepoint, []string{"sched_switch"}},
	"signaldeliver": {KindTracepoint, []string{"signal_deliver"}},
	"pagefault":     {KindTracepoint, []string{"page_fault_user"}},
	"container":     {KindMeta, nil},
	"pread":         {KindSyscall, []string{"pread64"}},
	"pwrite":        {KindSyscall, []string{"pwrite64"}},
	"llseek":        {KindSyscall, []string{"_llseek"}},
}

// NumEventTypes is the number of event types (including the unknown type 0).
const NumEventTypes = len(eventTypeNames)

// EventTypes returns the event-type table in ID order, without the unknown
// type 0.
func EventTypes() []EventTypeInfo {
	out := make([]EventTypeInfo, 0, NumEventTypes-1)
	for i := 1; i < NumEventTypes; i++ {
		out = append(out, EventType(i).Info())
	}
	return out
}

// Info describes t.
func (t EventType) Info() EventTypeInfo {
	if int(t) >= NumEventTypes || t == UnknownEventType {
		return EventTypeInfo{Type: UnknownEventType, Name: eventTypeNames[0], Kind: KindMeta}
	}
	name := eventTypeNames[t]
	info := EventTypeInfo{Type: t, Name: name, Kind: KindSyscall, Syscalls: []string{name}}
	if s, ok := eventTypeSources[name]; ok {
		info.Kind, info.Syscalls = s.kind, append([]string(nil), s.names...)
	}
	return info
}

// String returns the type's Falco name (evt.type).
func (t EventType) String() string {
	if int(t) >= NumEventTypes {
		return eventTypeNames[0]
	}
	return eventTypeNames[t]
}

// EventTypeTable maps names to event types. It is built once (the compiler
// and the agent's decoder each hold one) rather than kept as a package map.
type EventTypeTable struct {
	byName map[string]EventType
}

// NewEventTypeTable builds the name index.
func NewEventTypeTable() *EventTypeTable {
	t := &EventTypeTable{byName: make(map[string]EventType, NumEventTypes)}
	for i := 1; i < NumEventTypes; i++ {
		t.byName[eventTypeNames[i]] = EventType(i)
	}
	return t
}

// Lookup returns the event type named name (Falco's evt.type value).
func (t *EventTypeTable) Lookup(name string) (EventType, bool) {
	e, ok := t.byName[name]
	return e, ok
}
