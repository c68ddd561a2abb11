// Package state keeps what the agent knows about the host between events:
// processes and their ancestry, their open file descriptors, users and
// groups, and containers. It is owned by the single goroutine that consumes
// capture events, so the tables take no locks on the hot path.
package state

import (
	"net/netip"
	"strings"
)

// Process is what the agent knows about one thread group (a process).
// Threads of the group share the same *Process.
type Process struct {
	Pid     uint32 // thread group id
	PPid    uint32
	Sid     uint32
	Pgid    uint32
	VPid    uint32 // pid in its own pid namespace
	VPgid   uint32
	Comm    string // proc.name: the kernel's comm (up to 15 chars)
	Exe     string // proc.exe: argv[0] as given
	ExePath string // proc.exepath: the resolved executable path
	Args    []string
	// ArgsLine and Cmdline are proc.args and proc.cmdline, joined once per
	// exec so that rule evaluation reads them without allocating.
	ArgsLine  string
	Cmdline   string
	Env       []string
	Cwd       string
	TTY       uint32
	UID, GID  uint32
	EUID      uint32
	LoginUID  uint32 // 4294967295 (-1) when unset
	StartNano uint64 // boot-relative start time
	Container Container

	ExeWritable   bool
	ExeUpperLayer bool
	ExeFromMemfd  bool

	threads int
	FDs     map[int32]*FD
}

// SetCmd records argv[0] and the arguments, and the joined forms of both.
func (p *Process) SetCmd(exe string, args []string) {
	p.Exe, p.Args = exe, args
	p.ArgsLine = strings.Join(args, " ")
	if p.ArgsLine == "" {
		p.Cmdline = p.Comm
	} else {
		p.Cmdline = p.Comm + " " + p.ArgsLine
	}
}

// FDType is Falco's fd.type classification.
type FDType uint8

// The fd types Falco distinguishes, with the fd.typechar of each in comments.
const (
	FDUnknown   FDType = iota // o
	FDFile                    // f
	FDDirectory               // d
	FDIPv4                    // 4
	FDIPv6                    // 6
	FDUnix                    // u
	FDPipe                    // p
	FDEvent                   // e
	FDSignalFD                // s
	FDEventPoll               // l
	FDInotify                 // i
	FDTimerFD                 // t
	FDNetlink                 // n
	FDBPF                     // b
	FDUserfault               // u
	FDIOUring                 // r
	FDMemfd                   // m
)

var fdTypeNames = [...]struct{ name, char string }{
	FDUnknown:   {"unknown", "o"},
	FDFile:      {"file", "f"},
	FDDirectory: {"directory", "d"},
	FDIPv4:      {"ipv4", "4"},
	FDIPv6:      {"ipv6", "6"},
	FDUnix:      {"unix", "u"},
	FDPipe:      {"pipe", "p"},
	FDEvent:     {"event", "e"},
	FDSignalFD:  {"signalfd", "s"},
	FDEventPoll: {"eventpoll", "l"},
	FDInotify:   {"inotify", "i"},
	FDTimerFD:   {"timerfd", "t"},
	FDNetlink:   {"netlink", "n"},
	FDBPF:       {"bpf", "b"},
	FDUserfault: {"userfaultfd", "u"},
	FDIOUring:   {"io_uring", "r"},
	FDMemfd:     {"memfd", "m"},
}

// String is the fd.type value.
func (t FDType) String() string {
	if int(t) < len(fdTypeNames) {
		return fdTypeNames[t].name
	}
	return "unknown"
}

// Char is the fd.typechar value.
func (t FDType) Char() string {
	if int(t) < len(fdTypeNames) {
		return fdTypeNames[t].char
	}
	return "o"
}

// FD is one open file descriptor.
type FD struct {
	Num   int32
	Type  FDType
	Name  string // path, or the tuple "1.2.3.4:5->6.7.8.9:10" for sockets
	Flags uint32
	Ino   uint64

	// Sockets.
	L4Proto    string // tcp, udp, raw, icmp
	Local      netip.AddrPort
	Remote     netip.AddrPort
	ServerSide bool // accepted (server) rather than connected (client)
	Connected  bool
}

// Table is the process table, keyed by thread id.
type Table struct {
	threads map[uint32]*Process
	// maxProcs bounds the table so a fork storm with lost exit events cannot
	// grow memory without limit; evictions are counted.
	maxProcs int
	Evicted  uint64
}

// NewTable returns an empty table holding at most maxProcs threads (0 means
// 1<<20).
func NewTable(maxProcs int) *Table {
	if maxProcs <= 0 {
		maxProcs = 1 << 20
	}
	return &Table{threads: make(map[uint32]*Process, 1024), maxProcs: maxProcs}
}

// Len is the number of threads known.
func (t *Table) Len() int { return len(t.threads) }

// Get returns the process a thread belongs to.
func (t *Table) Get(tid uint32) (*Process, bool) {
	p, ok := t.threads[tid]
	return p, ok
}

// Put records p as the process of thread tid.
func (t *Table) Put(tid uint32, p *Process) {
	if _, exists := t.threads[tid]; !exists {
		if len(t.threads) >= t.maxProcs {
			t.evictOne()
		}
		p.threads++
	}
	t.threads[tid] = p
}

func (t *Table) evictOne() {
	for tid, p := range t.threads {
		delete(t.threads, tid)
		p.threads--
		t.Evicted++
		return
	}
}

// Fork records a new thread or process. A thread (same tgid as its parent)
// shares its parent's *Process; a new process starts as a copy of the parent
// with its own fd table copy, as fork(2) gives it.
func (t *Table) Fork(parentTid, childTid, childTgid uint32) *Process {
	parent, ok := t.threads[parentTid]
	if ok && parent.Pid == childTgid {
		t.Put(childTid, parent)
		return parent
	}
	child := &Process{Pid: childTgid, LoginUID: ^uint32(0), Container: hostContainer}
	if ok {
		*child = *parent
		child.threads = 0
		child.Pid = childTgid
		child.PPid = parent.Pid
		child.FDs = make(map[int32]*FD, len(parent.FDs))
		for n, fd := range parent.FDs {
			c := *fd
			child.FDs[n] = &c
		}
	}
	t.Put(childTid, child)
	return child
}

// Exit forgets a thread; the process goes when its last thread does.
func (t *Table) Exit(tid uint32) {
	p, ok := t.threads[tid]
	if !ok {
		return
	}
	delete(t.threads, tid)
	p.threads--
}

// Parent returns p's parent process, if known.
func (t *Table) Parent(p *Process) (*Process, bool) {
	if p == nil || p.PPid == 0 || p.PPid == p.Pid {
		return nil, false
	}
	return t.Get(p.PPid)
}

// Ancestor returns the n-th ancestor of p (1 = parent), as proc.aname[n].
func (t *Table) Ancestor(p *Process, n int) (*Process, bool) {
	cur := p
	for i := 0; i < n; i++ {
		next, ok := t.Parent(cur)
		if !ok {
			return nil, false
		}
		cur = next
	}
	return cur, true
}

// SessionLeader returns the process whose pid is p's session id (proc.sname).
func (t *Table) SessionLeader(p *Process) (*Process, bool) {
	if p.Sid == 0 {
		return nil, false
	}
	return t.Get(p.Sid)
}

// SetFD records fd n of p.
func (p *Process) SetFD(fd *FD) {
	if p.FDs == nil {
		p.FDs = make(map[int32]*FD, 8)
	}
	p.FDs[fd.Num] = fd
}

// CloseFD forgets fd n of p.
func (p *Process) CloseFD(n int32) { delete(p.FDs, n) }

// FD returns fd n of p.
func (p *Process) FD(n int32) (*FD, bool) {
	fd, ok := p.FDs[n]
	return fd, ok
}

// DupFD makes newfd a copy of oldfd (dup, dup2, dup3, fcntl F_DUPFD).
func (p *Process) DupFD(oldfd, newfd int32) {
	fd, ok := p.FDs[oldfd]
	if !ok {
		return
	}
	c := *fd
	c.Num = newfd
	p.SetFD(&c)
}
