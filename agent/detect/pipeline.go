// Package detect turns capture records into alerts: it keeps the process,
// fd, user and container state current, presents each record to the rules
// engine as a fields.Event, and formats matches as Falco alerts.
package detect

import (
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/lannerhq/lanner/agent/capture"
	"github.com/lannerhq/lanner/agent/state"
	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/rules/engine"
	"github.com/lannerhq/lanner/rules/fields"
)

// Config configures a Pipeline.
type Config struct {
	Engine   *engine.Engine
	Table    *state.Table
	Users    *state.Users
	ProcFS   state.ProcFS // reads processes the table does not know yet
	Hostname string
	Logger   *slog.Logger
	// AllMatches evaluates every rule per event (Falco's default is the
	// first match in load order only).
	AllMatches bool
	// Emit receives each alert. It runs on the pipeline goroutine and must
	// not block for long (the shipper spools).
	Emit func(*alert.Alert)
}

// Pipeline handles capture records. It is used by one goroutine; SetEngine
// may be called from another (rules reload).
type Pipeline struct {
	cfg      Config
	tab      *state.Table
	users    *state.Users
	hostname string
	log      *slog.Logger

	engine  atomic.Pointer[engine.Engine]
	evalFor *engine.Engine
	eval    *engine.Evaluator

	// byNr maps syscall numbers to event types, computed once.
	byNr    [capture.MaxSyscall]fields.EventType
	argsOf  [fields.NumEventTypes][]argSpec // eventArgs by type, resolved once
	types   *fields.EventTypeTable
	special struct{ execve, execveat, clone, procexit fields.EventType }

	ev      Event
	matches []*engine.Rule
	pathBuf [2][]byte
	num     uint64

	// Counters, read by the agent's metrics.
	Events, Alerts, ProcMisses atomic.Uint64
}

// New builds a pipeline.
func New(cfg Config) *Pipeline {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Table == nil {
		cfg.Table = state.NewTable(0)
	}
	p := &Pipeline{cfg: cfg, tab: cfg.Table, users: cfg.Users, hostname: cfg.Hostname, log: cfg.Logger}
	p.types = fields.NewEventTypeTable()
	for nr := range p.byNr {
		if name := capture.SyscallName(nr); name != "" {
			p.byNr[nr], _ = p.lookupType(name)
		}
	}
	for name, specs := range eventArgs {
		if t, ok := p.types.Lookup(name); ok {
			p.argsOf[t] = specs
		}
	}
	p.special.execve, _ = p.types.Lookup("execve")
	p.special.execveat, _ = p.types.Lookup("execveat")
	p.special.clone, _ = p.types.Lookup("clone")
	p.special.procexit, _ = p.types.Lookup("procexit")
	p.engine.Store(cfg.Engine)
	p.ev.p = p
	return p
}

// lookupType maps a kernel syscall name to Falco's event type, which differs
// for a few (pread64 is "pread").
func (p *Pipeline) lookupType(name string) (fields.EventType, bool) {
	if t, ok := p.types.Lookup(name); ok {
		return t, true
	}
	switch name {
	case "pread64":
		return p.types.Lookup("pread")
	case "pwrite64":
		return p.types.Lookup("pwrite")
	case "prlimit64":
		return p.types.Lookup("prlimit")
	}
	return fields.UnknownEventType, false
}

// SetEngine swaps the rules (SIGHUP reload). The next event uses them.
func (p *Pipeline) SetEngine(e *engine.Engine) { p.engine.Store(e) }

// Table exposes the process table (tests, metrics).
func (p *Pipeline) Table() *state.Table { return p.tab }

// Handle processes one record: state before, rules, state after.
func (p *Pipeline) Handle(ce *capture.Event) error {
	p.num++
	p.Events.Add(1)
	ev := &p.ev
	*ev = Event{ce: ce, p: p, num: p.num, scratch: ev.scratch[:0]}

	switch ce.Kind {
	case capture.KindFork:
		p.onFork(ce)
		ev.typ = p.special.clone
		if nr := int(ce.Syscall); ce.Syscall != 0 && nr < len(p.byNr) && p.byNr[nr] != 0 {
			ev.typ = p.byNr[nr]
		}
	case capture.KindExec:
		ev.proc = p.onExec(ce)
		ev.typ = p.special.execve
		if nr := int(ce.Syscall); nr < len(p.byNr) && p.byNr[nr] == p.special.execveat {
			ev.typ = p.special.execveat
		}
	case capture.KindExit:
		ev.typ = p.special.procexit
	default:
		if int(ce.Syscall) < len(p.byNr) {
			ev.typ = p.byNr[ce.Syscall]
		}
	}
	if ev.proc == nil {
		ev.proc = p.process(ce)
	}
	ev.name = ev.typ.String()
	ev.argSpecs = p.argsOf[ev.typ]
	if ce.Kind == capture.KindSyscall {
		p.beforeEval(ev)
	}

	p.evaluate(ev)

	switch ce.Kind {
	case capture.KindExit:
		p.tab.Exit(ce.TID)
	case capture.KindSyscall:
		p.afterEval(ev)
	}
	return nil
}

func (p *Pipeline) evaluate(ev *Event) {
	eng := p.engine.Load()
	if eng == nil || ev.typ == fields.UnknownEventType {
		return
	}
	if p.evalFor != eng {
		p.evalFor, p.eval = eng, eng.NewEvaluator()
	}
	if p.cfg.AllMatches {
		p.matches = p.eval.EvalAll(ev, p.matches[:0])
	} else {
		p.matches = p.matches[:0]
		if r := p.eval.EvalFirst(ev); r != nil {
			p.matches = append(p.matches, r)
		}
	}
	for _, r := range p.matches {
		a := eng.Alert(r, ev, engine.AlertMeta{Hostname: p.hostname})
		p.Alerts.Add(1)
		if p.cfg.Emit != nil {
			p.cfg.Emit(a)
		}
	}
}

// process returns the record's process, creating it (from procfs if it is
// still there, else from the record) when the table does not know it.
func (p *Pipeline) process(ce *capture.Event) *state.Process {
	proc, ok := p.tab.Get(ce.TID)
	if !ok {
		p.ProcMisses.Add(1)
		if proc, ok = p.tab.Get(ce.PID); ok {
			p.tab.Put(ce.TID, proc)
		} else {
			if rp, err := p.readProc(ce.PID); err == nil {
				proc = rp
			} else {
				proc = &state.Process{Pid: ce.PID, PPid: ce.PPID, VPid: ce.PID, Comm: string(ce.Comm)}
				proc.Cmdline = proc.Comm
				proc.Container = state.ContainerFromCgroup("")
			}
			p.tab.Put(ce.TID, proc)
		}
	}
	// Credentials and the name can change without an exec (setuid, prctl).
	proc.UID, proc.EUID, proc.GID = ce.UID, ce.EUID, ce.EGID
	proc.LoginUID, proc.TTY = ce.LoginUID, ce.TTY
	if proc.PPid == 0 {
		proc.PPid = ce.PPID
	}
	if string(ce.Comm) != proc.Comm && len(ce.Comm) > 0 {
		proc.Comm = string(ce.Comm)
		proc.SetCmd(proc.Exe, proc.Args)
	}
	return proc
}

var errNoProcFS = errors.New("no procfs configured")

func (p *Pipeline) readProc(pid uint32) (*state.Process, error) {
	if p.cfg.ProcFS.Root == "" {
		return nil, errNoProcFS
	}
	return p.cfg.ProcFS.ReadProcess(pid)
}

func (p *Pipeline) onFork(ce *capture.Event) {
	parentTid := uint32(ce.Aux[0])
	if _, ok := p.tab.Get(parentTid); !ok {
		if rp, err := p.readProc(uint32(ce.Aux[1])); err == nil {
			p.tab.Put(parentTid, rp)
		}
	}
	child := p.tab.Fork(parentTid, ce.TID, ce.PID)
	if child.Comm == "" {
		child.Comm = string(ce.Comm)
		child.Cmdline = child.Comm
	}
	if child.Pid == ce.PID && child.StartNano == 0 {
		child.StartNano = uint64(ce.Time)
	}
}

func (p *Pipeline) onExec(ce *capture.Event) *state.Process {
	proc, ok := p.tab.Get(ce.TID)
	if !ok {
		proc = &state.Process{Pid: ce.PID}
		p.tab.Put(ce.TID, proc)
	}
	proc.Pid, proc.PPid = ce.PID, ce.PPID
	if proc.VPid == 0 {
		proc.VPid = ce.PID
	}
	proc.Comm = string(ce.Comm)
	var args []string
	exe := ""
	for rest, i := ce.Argv, 0; len(rest) > 0; i++ {
		var a []byte
		a, rest = capture.NextArg(rest)
		if i == 0 {
			exe = string(a)
		} else {
			args = append(args, string(a))
		}
	}
	if exe == "" {
		exe = string(ce.Path)
	}
	proc.SetCmd(exe, args)
	proc.ExePath = string(ce.Exe)
	if len(ce.Cwd) > 0 {
		proc.Cwd = string(ce.Cwd)
	}
	// A new slice: after a fork the old one is shared with the parent.
	proc.Env = nil
	for rest := ce.Env; len(rest) > 0; {
		var kv []byte
		kv, rest = capture.NextArg(rest)
		proc.Env = append(proc.Env, string(kv))
	}
	proc.ExeFromMemfd = ce.Flags&capture.FlagExeMemfd != 0
	proc.ExeUpperLayer = ce.Flags&capture.FlagExeUpper != 0
	proc.ExeWritable = ce.Flags&capture.FlagExeWritable != 0
	if len(ce.Cgroup) > 0 {
		proc.Container = state.ContainerFromCgroup(string(ce.Cgroup))
	}
	// exec closes close-on-exec descriptors; we do not know which ones were,
	// so keep the table (Falco does the same unless it saw the flags).
	return proc
}

// resolve makes path absolute against dirfd (AT_FDCWD: the cwd) and cleans
// it, into buffer i; the result is valid until the next event.
func (p *Pipeline) resolve(i int, proc *state.Process, dirfd int32, path []byte) string {
	if len(path) == 0 {
		return ""
	}
	b := p.pathBuf[i][:0]
	if path[0] != '/' {
		base := proc.Cwd
		if dirfd != -100 {
			if fd, ok := proc.FD(dirfd); ok {
				base = fd.Name
			}
		}
		if base == "" {
			base = "/"
		}
		b = append(b, base...)
		b = append(b, '/')
	}
	b = append(b, path...)
	b = cleanPath(b)
	p.pathBuf[i] = b
	return bstr(b)
}

// cleanPath normalises an absolute path in place: duplicate slashes, "." and
// ".." are resolved lexically, as Falco does for fd.name.
func cleanPath(b []byte) []byte {
	out := b[:0]
	n := len(b)
	for i := 0; i < n; {
		for i < n && b[i] == '/' {
			i++
		}
		j := i
		for j < n && b[j] != '/' {
			j++
		}
		comp := b[i:j]
		switch {
		case len(comp) == 0, len(comp) == 1 && comp[0] == '.':
		case len(comp) == 2 && comp[0] == '.' && comp[1] == '.':
			if k := lastSlash(out); k >= 0 {
				out = out[:k]
			}
		default:
			out = append(out, '/')
			out = append(out, comp...)
		}
		i = j
	}
	if len(out) == 0 {
		out = append(out, '/')
	}
	return out
}

func lastSlash(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '/' {
			return i
		}
	}
	return -1
}

// beforeEval updates state that the event's own fields depend on (the fd an
// open returned, a connect's tuple) and points ev.fd at the event's fd.
func (p *Pipeline) beforeEval(ev *Event) {
	ce, proc := ev.ce, ev.proc
	arg0 := int32(ce.Args[0])
	switch ev.name {
	case "open", "creat", "truncate", "chdir", "chroot", "mkdir", "rmdir", "unlink", "chmod", "chown", "lchown":
		ev.path = p.resolve(0, proc, -100, ce.Path)
		if ev.name == "open" || ev.name == "creat" {
			p.openFD(ev, ce.Ret)
		}
		if ev.name == "chdir" && ce.Ret == 0 {
			proc.Cwd = strings.Clone(ev.path)
		}
	case "openat", "openat2", "mkdirat", "unlinkat", "fchmodat", "fchmodat2", "fchownat", "execveat":
		ev.path = p.resolve(0, proc, arg0, ce.Path)
		if ev.name == "openat" || ev.name == "openat2" {
			p.openFD(ev, ce.Ret)
		}
	case "execve":
		ev.path = p.resolve(0, proc, -100, ce.Path)
	case "rename", "link", "symlink":
		ev.path = p.resolve(0, proc, -100, ce.Path)
		ev.path2 = p.resolve(1, proc, -100, ce.Path2)
		if ev.name == "symlink" {
			ev.path = bstr(ce.Path) // a symlink's target is kept as written
		}
	case "renameat", "renameat2", "linkat":
		ev.path = p.resolve(0, proc, arg0, ce.Path)
		ev.path2 = p.resolve(1, proc, int32(ce.Args[2]), ce.Path2)
	case "symlinkat":
		ev.path = bstr(ce.Path)
		ev.path2 = p.resolve(1, proc, int32(ce.Args[1]), ce.Path2)
	case "fchdir":
		if fd, ok := proc.FD(arg0); ok && ce.Ret == 0 {
			proc.Cwd = fd.Name
		}
	case "memfd_create":
		if ce.Ret >= 0 {
			fd := &state.FD{Num: int32(ce.Ret), Type: state.FDMemfd, Name: "memfd:" + string(ce.Path)}
			proc.SetFD(fd)
			ev.fd = fd
		}
	case "socket":
		if ce.Ret >= 0 {
			fd := &state.FD{Num: int32(ce.Ret), Type: socketType(ce.Args[0]), L4Proto: l4proto(ce.Args[0], ce.Args[1], ce.Args[2])}
			proc.SetFD(fd)
			ev.fd = fd
		}
	case "connect":
		ev.fd = p.socketFD(proc, arg0, ce)
		if ev.fd != nil {
			p.connectFD(ev.fd, ce, false)
		}
	case "accept", "accept4":
		if ce.Ret >= 0 {
			fd := &state.FD{Num: int32(ce.Ret), L4Proto: "tcp"}
			if lfd, ok := proc.FD(arg0); ok {
				fd.Type, fd.L4Proto = lfd.Type, lfd.L4Proto
			}
			p.connectFD(fd, ce, true)
			proc.SetFD(fd)
			ev.fd = fd
		}
	case "bind":
		ev.fd = p.socketFD(proc, arg0, ce)
		if ev.fd != nil && ce.Ret == 0 {
			if sa, ok := ce.SockAddr(); ok && sa.IP.IsValid() {
				ev.fd.Local = netipAddrPort(sa)
				ev.fd.ServerSide = true
			}
		}
	case "dup", "dup2", "dup3":
		if ce.Ret >= 0 {
			proc.DupFD(arg0, int32(ce.Ret))
			ev.fd, _ = proc.FD(int32(ce.Ret))
		}
	case "fcntl":
		ev.fd, _ = proc.FD(arg0)
		if cmd := ce.Args[1]; (cmd == syscall.F_DUPFD || cmd == syscall.F_DUPFD_CLOEXEC) && ce.Ret >= 0 {
			proc.DupFD(arg0, int32(ce.Ret))
		}
	case "pipe", "pipe2":
		if ce.Ret == 0 {
			for _, n := range [2]int64{ce.Aux[0], ce.Aux[1]} {
				proc.SetFD(&state.FD{Num: int32(n), Type: state.FDPipe, Name: "pipe"})
			}
		}
	default:
		if usesFD(ev.name) {
			ev.fd, _ = proc.FD(arg0)
		}
	}
}

func (p *Pipeline) afterEval(ev *Event) {
	if ev.name == "close" && ev.ce.Ret == 0 {
		ev.proc.CloseFD(int32(ev.ce.Args[0]))
	}
}

// openFD records the fd an open returned, named by the resolved path.
func (p *Pipeline) openFD(ev *Event, ret int64) {
	if ret < 0 || ev.path == "" {
		return
	}
	flags, _, _ := ev.openFlags()
	typ := state.FDFile
	if flags&syscall.O_DIRECTORY != 0 {
		typ = state.FDDirectory
	}
	fd := &state.FD{Num: int32(ret), Type: typ, Name: strings.Clone(ev.path), Flags: uint32(flags)}
	ev.proc.SetFD(fd)
	ev.fd = fd
}

// socketFD returns the socket fd n, creating it from the record's address
// family when the socket predates the agent's knowledge.
func (p *Pipeline) socketFD(proc *state.Process, n int32, ce *capture.Event) *state.FD {
	if fd, ok := proc.FD(n); ok {
		return fd
	}
	sa, ok := ce.SockAddr()
	if !ok {
		return nil
	}
	fd := &state.FD{Num: n, Type: socketType(uint64(sa.Family))}
	if fd.Type == state.FDIPv4 || fd.Type == state.FDIPv6 {
		fd.L4Proto = "tcp"
	}
	proc.SetFD(fd)
	return fd
}

func (p *Pipeline) connectFD(fd *state.FD, ce *capture.Event, server bool) {
	if t, ok := ce.Tuple(); ok {
		fd.Local = netipAddrPortOf(t.SrcIP, t.SrcPort)
		fd.Remote = netipAddrPortOf(t.DstIP, t.DstPort)
		if fd.Type == state.FDUnknown {
			fd.Type = socketType(uint64(t.Family))
		}
	} else if sa, ok := ce.SockAddr(); ok {
		if sa.Family == capture.AFUnix {
			fd.Type, fd.Name = state.FDUnix, string(sa.Path)
			return
		}
		fd.Remote = netipAddrPort(sa)
	}
	fd.ServerSide = server
	fd.Connected = ce.Ret >= 0 || ce.Ret == -int64(syscall.EINPROGRESS)
	if fd.Type == state.FDIPv4 || fd.Type == state.FDIPv6 {
		if server {
			fd.Name = state.SocketTupleName(fd.Remote, fd.Local)
		} else {
			fd.Name = state.SocketTupleName(fd.Local, fd.Remote)
		}
	}
}

func socketType(domain uint64) state.FDType {
	switch domain {
	case capture.AFInet:
		return state.FDIPv4
	case capture.AFInet6:
		return state.FDIPv6
	case capture.AFUnix:
		return state.FDUnix
	case 16:
		return state.FDNetlink
	}
	return state.FDUnknown
}

func l4proto(domain, typ, proto uint64) string {
	if domain != capture.AFInet && domain != capture.AFInet6 {
		return ""
	}
	switch typ & 0xf {
	case syscall.SOCK_STREAM:
		return "tcp"
	case syscall.SOCK_DGRAM:
		return "udp"
	case syscall.SOCK_RAW:
		if proto == syscall.IPPROTO_ICMP || proto == syscall.IPPROTO_ICMPV6 {
			return "icmp"
		}
		return "raw"
	}
	return ""
}

func usesFD(name string) bool {
	switch name {
	case "close", "read", "write", "pread", "pwrite", "readv", "writev", "sendto", "recvfrom",
		"sendmsg", "recvmsg", "listen", "shutdown", "getsockopt", "setsockopt", "ftruncate",
		"fchmod", "fchown", "finit_module", "setns", "fstat", "lseek", "ioctl", "sendfile":
		return true
	}
	return false
}
