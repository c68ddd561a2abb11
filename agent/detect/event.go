package detect

import (
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/lannerhq/lanner/agent/capture"
	"github.com/lannerhq/lanner/agent/state"
	"github.com/lannerhq/lanner/rules/fields"
)

// Event presents one capture record, with the state around it, to the rules
// engine as a fields.Event. The pipeline owns one and refills it per record;
// nothing in it outlives the record.
type Event struct {
	ce       *capture.Event
	typ      fields.EventType
	name     string    // typ's name, looked up once per event
	argSpecs []argSpec // typ's arguments (evt.arg.*), from the pipeline's table
	proc     *state.Process
	fd       *state.FD
	p        *Pipeline

	// path is the event's first path made absolute (fd.name for opens,
	// evt.abspath); path2 the second (rename/link targets).
	path, path2 string
	num         uint64
	scratch     []byte
}

var _ fields.Event = (*Event)(nil)

// Type is the Falco event type.
func (e *Event) Type() fields.EventType { return e.typ }

// Dir is always exit: capture joins entry arguments and the result into one
// exit record, which is what Falco's rules match.
func (e *Event) Dir() fields.Dir { return fields.DirExit }

// bstr views b as a string without copying. The engine does not retain
// values past the call, and the output formatter copies.
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func (e *Event) sstr() string { return bstr(e.scratch) }

// Str answers string fields.
func (e *Event) Str(id fields.ID, a fields.Arg) (string, bool) {
	p := e.proc
	switch id {
	case fields.EvtHostname:
		return e.p.hostname, true
	case fields.EvtArg, fields.EvtRawarg:
		return e.arg(a)
	case fields.EvtArgs, fields.EvtInfo:
		return e.args(), true
	case fields.EvtRes:
		if e.ce.Ret >= 0 {
			return "SUCCESS", true
		}
		e.scratch = appendErrno(e.scratch[:0], e.ce.Ret)
		return e.sstr(), true
	case fields.EvtCategory:
		return category(e.name), true
	case fields.EvtTime, fields.EvtTimeS, fields.EvtTimeISO8601, fields.EvtDatetime, fields.EvtDatetimeS:
		return e.timeString(id), true
	case fields.EvtAbspath, fields.EvtAbspathSrc:
		return e.path, e.path != ""
	case fields.EvtAbspathDst:
		return e.path2, e.path2 != ""
	case fields.EvtIODir:
		return "", false
	case fields.EvtPluginName:
		return "", false

	case fields.ProcName:
		return p.Comm, true
	case fields.ProcExe:
		return p.Exe, true
	case fields.ProcExepath:
		return p.ExePath, true
	case fields.ProcArgs:
		return p.ArgsLine, true
	case fields.ProcCmdline:
		return p.Cmdline, true
	case fields.ProcExeline:
		if p.ArgsLine == "" {
			return p.Exe, true
		}
		e.scratch = append(append(append(e.scratch[:0], p.Exe...), ' '), p.ArgsLine...)
		return e.sstr(), true
	case fields.ProcCwd:
		return p.Cwd, p.Cwd != ""
	case fields.ProcEnv:
		return envLookup(p.Env, a, e)
	case fields.ProcAenv:
		return "", false
	case fields.ProcPname, fields.ProcPexe, fields.ProcPexepath, fields.ProcPcmdline:
		pp, ok := e.p.tab.Parent(p)
		if !ok {
			return "", false
		}
		return procString(id, pp)
	case fields.ProcAname, fields.ProcAexe, fields.ProcAexepath, fields.ProcAcmdline:
		n := 1
		if a.Has {
			n = a.Index
		}
		anc, ok := e.p.tab.Ancestor(p, n)
		if !ok {
			return "", false
		}
		return procString(id, anc)
	case fields.ProcSname, fields.ProcSidExe, fields.ProcSidExepath:
		sl, ok := e.p.tab.SessionLeader(p)
		if !ok {
			return "", false
		}
		return procString(id, sl)
	case fields.ProcVpgidName, fields.ProcVpgidExe, fields.ProcVpgidExepath:
		gl, ok := e.p.tab.Get(p.Pgid)
		if !ok {
			return "", false
		}
		return procString(id, gl)

	case fields.UserName:
		u, ok := e.p.users.User(p.EUID)
		return u.Name, ok
	case fields.UserHomedir:
		u, ok := e.p.users.User(p.EUID)
		return u.HomeDir, ok
	case fields.UserShell:
		u, ok := e.p.users.User(p.EUID)
		return u.Shell, ok
	case fields.UserLoginname:
		if p.LoginUID == ^uint32(0) {
			return "", false
		}
		u, ok := e.p.users.User(p.LoginUID)
		return u.Name, ok
	case fields.GroupName:
		g, ok := e.p.users.Group(p.GID)
		return g.Name, ok

	case fields.FdName:
		if e.fd == nil {
			return "", false
		}
		return e.fd.Name, e.fd.Name != ""
	case fields.FdNameraw:
		if raw := e.ce.Path; len(raw) > 0 && isPathSyscall(e.name) {
			return bstr(raw), true
		}
		if e.fd == nil {
			return "", false
		}
		return e.fd.Name, true
	case fields.FdDirectory, fields.FdFilename:
		if e.fd == nil || (e.fd.Type != state.FDFile && e.fd.Type != state.FDDirectory) {
			return "", false
		}
		return splitPath(id, e.fd)
	case fields.FdType:
		if e.fd == nil {
			return "", false
		}
		return e.fd.Type.String(), true
	case fields.FdTypechar:
		if e.fd == nil {
			return "", false
		}
		return e.fd.Type.Char(), true
	case fields.FdL4proto:
		if e.fd == nil || e.fd.L4Proto == "" {
			return "", false
		}
		return e.fd.L4Proto, true
	case fields.FdSockfamily:
		if e.fd == nil {
			return "", false
		}
		switch e.fd.Type {
		case state.FDIPv4, state.FDIPv6:
			return "ip", true
		case state.FDUnix:
			return "unix", true
		}
		return "", false
	case fields.FdTypes:
		// proc's fd types, one value per index: rules test membership.
		return e.fdTypeAt(a)

	case fields.FsPathName:
		return e.path, e.path != "" && e.fsPathEvent()
	case fields.FsPathNameraw:
		return bstr(e.ce.Path), len(e.ce.Path) > 0 && e.fsPathEvent()
	case fields.FsPathSource:
		return e.path, e.path != "" && e.fsTwoPathEvent()
	case fields.FsPathSourceraw:
		return bstr(e.ce.Path), len(e.ce.Path) > 0 && e.fsTwoPathEvent()
	case fields.FsPathTarget:
		return e.path2, e.path2 != "" && e.fsTwoPathEvent()
	case fields.FsPathTargetraw:
		return bstr(e.ce.Path2), len(e.ce.Path2) > 0 && e.fsTwoPathEvent()

	case fields.ContainerID:
		return p.Container.ID, true
	case fields.ContainerFullID:
		if p.Container.FullID == "" {
			return "host", true
		}
		return p.Container.FullID, true
	case fields.ContainerName:
		if p.Container.FullID == "" {
			return "host", true
		}
		return "", false
	case fields.ContainerType:
		if p.Container.Runtime == "" {
			return "host", true
		}
		return p.Container.Runtime, true
	case fields.ThreadCgroups, fields.ThreadCgroup:
		return "", false
	}
	return "", false
}

func procString(id fields.ID, p *state.Process) (string, bool) {
	switch id {
	case fields.ProcPname, fields.ProcAname, fields.ProcSname, fields.ProcVpgidName:
		return p.Comm, true
	case fields.ProcPexe, fields.ProcAexe, fields.ProcSidExe, fields.ProcVpgidExe:
		return p.Exe, true
	case fields.ProcPexepath, fields.ProcAexepath, fields.ProcSidExepath, fields.ProcVpgidExepath:
		return p.ExePath, true
	case fields.ProcPcmdline, fields.ProcAcmdline:
		return p.Cmdline, true
	}
	return "", false
}

func splitPath(id fields.ID, fd *state.FD) (string, bool) {
	name := fd.Name
	if fd.Type == state.FDDirectory {
		if id == fields.FdDirectory {
			return name, true
		}
		return "", false
	}
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return "", false
	}
	if id == fields.FdFilename {
		return name[i+1:], true
	}
	if i == 0 {
		return "/", true
	}
	return name[:i], true
}

func envLookup(env []string, a fields.Arg, e *Event) (string, bool) {
	if !a.Has {
		e.scratch = e.scratch[:0]
		for i, kv := range env {
			if i > 0 {
				e.scratch = append(e.scratch, ' ')
			}
			e.scratch = append(e.scratch, kv...)
		}
		return e.sstr(), len(env) > 0
	}
	for _, kv := range env {
		if len(kv) > len(a.Key) && kv[len(a.Key)] == '=' && kv[:len(a.Key)] == a.Key {
			return kv[len(a.Key)+1:], true
		}
	}
	return "", false
}

func (e *Event) fdTypeAt(a fields.Arg) (string, bool) {
	if !a.Has {
		if e.fd == nil {
			return "", false
		}
		return e.fd.Type.String(), true
	}
	// Distinct types of the process's fds, in a stable order.
	var seen [32]bool
	n := 0
	for t := state.FDUnknown; t <= state.FDMemfd; t++ {
		for _, fd := range e.proc.FDs {
			if fd.Type == t && !seen[t] {
				seen[t] = true
				if n == a.Index {
					return t.String(), true
				}
				n++
			}
		}
	}
	return "", false
}

// Int answers numeric fields.
func (e *Event) Int(id fields.ID, a fields.Arg) (int64, bool) {
	p, ce := e.proc, e.ce
	switch id {
	case fields.EvtNum:
		return int64(e.num), true
	case fields.EvtRawres:
		return ce.Ret, true
	case fields.EvtCPU:
		return int64(ce.CPU), true
	case fields.EvtRawtime:
		return ce.Time, true
	case fields.EvtRawtimeS:
		return ce.Time / 1e9, true
	case fields.EvtRawtimeNs:
		return ce.Time % 1e9, true
	case fields.EvtTypeIs:
		if a.Key == e.name {
			return 1, true
		}
		return 0, true
	case fields.ProcPid:
		return int64(p.Pid), true
	case fields.ProcPpid:
		return int64(p.PPid), true
	case fields.ProcApid:
		n := 1
		if a.Has {
			n = a.Index
		}
		anc, ok := e.p.tab.Ancestor(p, n)
		if !ok {
			return 0, false
		}
		return int64(anc.Pid), true
	case fields.ProcVpid:
		return int64(p.VPid), true
	case fields.ProcSid:
		return int64(p.Sid), true
	case fields.ProcVpgid:
		return int64(p.VPgid), true
	case fields.ProcTty:
		return int64(p.TTY), true
	case fields.ProcLoginshellid:
		return 0, false
	case fields.ProcDuration:
		if p.StartNano == 0 {
			return 0, false
		}
		return ce.Time - int64(p.StartNano), true
	case fields.ProcPpidDuration:
		pp, ok := e.p.tab.Parent(p)
		if !ok || pp.StartNano == 0 {
			return 0, false
		}
		return ce.Time - int64(pp.StartNano), true
	case fields.ProcPidTs:
		return int64(p.StartNano), p.StartNano != 0
	case fields.ProcFdopencount:
		return int64(len(p.FDs)), true
	case fields.ThreadTid:
		return int64(ce.TID), true
	case fields.ThreadVtid:
		return int64(ce.TID), true
	case fields.ThreadCapEffective, fields.ThreadCapPermitted, fields.ThreadCapInheritable:
		return 0, false
	case fields.UserUID:
		return int64(p.EUID), true
	case fields.UserLoginuid:
		if p.LoginUID == ^uint32(0) {
			return -1, true
		}
		return int64(p.LoginUID), true
	case fields.GroupGID:
		return int64(p.GID), true
	case fields.FdNum:
		if e.fd == nil {
			return 0, false
		}
		return int64(e.fd.Num), true
	case fields.FdIno:
		if e.fd == nil || e.fd.Ino == 0 {
			return 0, false
		}
		return int64(e.fd.Ino), true
	case fields.FdCport, fields.FdSport, fields.FdLport, fields.FdRport:
		return e.port(id)
	case fields.ContainerStartTs, fields.ContainerDuration:
		return 0, false
	}
	return 0, false
}

// Bool answers boolean fields.
func (e *Event) Bool(id fields.ID, a fields.Arg) (bool, bool) {
	p, ce := e.proc, e.ce
	switch id {
	case fields.EvtFailed:
		return ce.Ret < 0, true
	case fields.EvtIsOpenRead, fields.EvtIsOpenWrite, fields.EvtIsOpenExec, fields.EvtIsOpenCreate:
		flags, mode, ok := e.openFlags()
		if !ok {
			return false, true
		}
		switch id {
		case fields.EvtIsOpenRead:
			return flags&(syscall.O_WRONLY|syscall.O_RDWR) != syscall.O_WRONLY, true
		case fields.EvtIsOpenWrite:
			return flags&(syscall.O_WRONLY|syscall.O_RDWR) != 0, true
		case fields.EvtIsOpenCreate:
			return flags&syscall.O_CREAT != 0, true
		default:
			return flags&syscall.O_CREAT != 0 && mode&0o111 != 0, true
		}
	case fields.EvtIsIO, fields.EvtIsIORead, fields.EvtIsIOWrite, fields.EvtIsWait, fields.EvtIsSyslog:
		return false, true
	case fields.ProcIsExeWritable:
		return p.ExeWritable, true
	case fields.ProcIsExeUpperLayer:
		return p.ExeUpperLayer, true
	case fields.ProcIsExeFromMemfd:
		return p.ExeFromMemfd, true
	case fields.ProcIsSidLeader:
		return p.Sid == p.Pid, true
	case fields.ProcIsVpgidLeader:
		return p.VPgid == p.VPid, true
	case fields.ThreadIsmain:
		return ce.TID == ce.PID, true
	case fields.FdIsServer:
		if e.fd == nil || !isInet(e.fd) {
			return false, false
		}
		return e.fd.ServerSide, true
	case fields.FdConnected:
		if e.fd == nil || !isInet(e.fd) {
			return false, false
		}
		return e.fd.Connected, true
	case fields.FdNameChanged:
		return false, true
	case fields.ProcIsContainerHealthcheck, fields.ProcIsContainerLivenessProbe, fields.ProcIsContainerReadinessProbe:
		return false, true
	}
	return false, false
}

// IP answers address fields: client/server follow who connected to whom,
// local/remote follow the socket's point of view.
func (e *Event) IP(id fields.ID, a fields.Arg) (netip.Addr, bool) {
	fd := e.fd
	if fd == nil || !isInet(fd) {
		return netip.Addr{}, false
	}
	var ap netip.AddrPort
	switch id {
	case fields.FdLip:
		ap = fd.Local
	case fields.FdRip:
		ap = fd.Remote
	case fields.FdCip:
		ap = clientSide(fd)
	case fields.FdSip:
		ap = serverSide(fd)
	default:
		return netip.Addr{}, false
	}
	return ap.Addr(), ap.IsValid()
}

func (e *Event) port(id fields.ID) (int64, bool) {
	fd := e.fd
	if fd == nil || !isInet(fd) {
		return 0, false
	}
	var ap netip.AddrPort
	switch id {
	case fields.FdLport:
		ap = fd.Local
	case fields.FdRport:
		ap = fd.Remote
	case fields.FdCport:
		ap = clientSide(fd)
	case fields.FdSport:
		ap = serverSide(fd)
	}
	return int64(ap.Port()), ap.IsValid()
}

func isInet(fd *state.FD) bool { return fd.Type == state.FDIPv4 || fd.Type == state.FDIPv6 }

// clientSide and serverSide orient a socket: for a socket we accepted, the
// remote end is the client; for one we connected, we are.
func clientSide(fd *state.FD) netip.AddrPort {
	if fd.ServerSide {
		return fd.Remote
	}
	return fd.Local
}

func serverSide(fd *state.FD) netip.AddrPort {
	if fd.ServerSide {
		return fd.Local
	}
	return fd.Remote
}

func (e *Event) timeString(id fields.ID) string {
	t := time.Unix(0, e.ce.Time).UTC()
	var layout string
	switch id {
	case fields.EvtTime:
		layout = "15:04:05.000000000"
	case fields.EvtTimeS:
		layout = "15:04:05"
	case fields.EvtDatetime:
		layout = "2006-01-02 15:04:05.000000000"
	case fields.EvtDatetimeS:
		layout = "2006-01-02 15:04:05"
	default:
		layout = "2006-01-02T15:04:05.000000000Z"
	}
	e.scratch = t.AppendFormat(e.scratch[:0], layout)
	return e.sstr()
}

func category(name string) string {
	switch name {
	case "open", "openat", "openat2", "creat", "close", "read", "write", "unlink", "unlinkat",
		"rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir", "link", "linkat",
		"symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "truncate", "ftruncate":
		return "file"
	case "socket", "connect", "accept", "accept4", "bind", "listen", "sendto", "recvfrom",
		"sendmsg", "recvmsg":
		return "net"
	case "execve", "execveat", "clone", "clone3", "fork", "vfork", "procexit":
		return "process"
	case "mmap", "munmap", "brk", "mprotect":
		return "memory"
	}
	return "other"
}

func (e *Event) fsPathEvent() bool {
	switch e.name {
	case "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "chmod", "fchmodat", "fchmodat2",
		"chown", "lchown", "fchownat", "truncate", "open", "openat", "openat2", "creat":
		return true
	}
	return false
}

func (e *Event) fsTwoPathEvent() bool {
	switch e.name {
	case "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat":
		return true
	}
	return false
}

func isPathSyscall(name string) bool {
	switch name {
	case "open", "openat", "openat2", "creat", "truncate":
		return true
	}
	return false
}

// openFlags returns the flags and mode of an open-family event.
func (e *Event) openFlags() (flags, mode uint64, ok bool) {
	ce := e.ce
	switch e.name {
	case "open":
		return ce.Args[1], ce.Args[2], true
	case "openat":
		return ce.Args[2], ce.Args[3], true
	case "openat2":
		return uint64(ce.Aux[0]), uint64(ce.Aux[1]), true
	case "creat":
		return syscall.O_CREAT | syscall.O_WRONLY | syscall.O_TRUNC, ce.Args[1], true
	}
	return 0, 0, false
}

// args renders evt.args (used in outputs; allocation-free into scratch).
func (e *Event) args() string {
	e.scratch = e.scratch[:0]
	e.scratch = append(e.scratch, "res="...)
	e.scratch = strconv.AppendInt(e.scratch, e.ce.Ret, 10)
	if len(e.ce.Path) > 0 {
		e.scratch = append(e.scratch, " path="...)
		e.scratch = append(e.scratch, e.ce.Path...)
	}
	if len(e.ce.Path2) > 0 {
		e.scratch = append(e.scratch, " path2="...)
		e.scratch = append(e.scratch, e.ce.Path2...)
	}
	return e.sstr()
}
