package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"unsafe"

	"github.com/lannerhq/lanner/bpf"
)

// Kind says which kernel hook produced an Event.
type Kind uint16

const (
	// KindSyscall is one syscall: entry arguments plus return value.
	KindSyscall = Kind(bpf.LannerKindKIND_SYSCALL)
	// KindFork is a new thread or process (sched_process_fork). TID/PID
	// are the child's; Aux[0], Aux[1] the parent's tid and pid; Aux[2] the
	// clone flags when the clone call was captured.
	KindFork = Kind(bpf.LannerKindKIND_FORK)
	// KindExec is a successful execve/execveat (sched_process_exec).
	KindExec = Kind(bpf.LannerKindKIND_EXEC)
	// KindExit is a thread exiting (sched_process_exit); Ret is the exit code.
	KindExit = Kind(bpf.LannerKindKIND_EXIT)
)

func (k Kind) String() string {
	switch k {
	case KindSyscall:
		return "syscall"
	case KindFork:
		return "fork"
	case KindExec:
		return "exec"
	case KindExit:
		return "exit"
	}
	return fmt.Sprintf("kind(%d)", uint16(k))
}

// Flags are per-event bits set in the kernel.
type Flags uint16

const (
	FlagExeMemfd    = Flags(bpf.LannerFlagFLAG_EXE_MEMFD)    // exe is a memfd
	FlagExeUpper    = Flags(bpf.LannerFlagFLAG_EXE_UPPER)    // exe on an overlayfs upper layer
	FlagExeLower    = Flags(bpf.LannerFlagFLAG_EXE_LOWER)    // exe on an overlayfs lower layer
	FlagExeWritable = Flags(bpf.LannerFlagFLAG_EXE_WRITABLE) // exe writable by the process
	FlagTruncated   = Flags(bpf.LannerFlagFLAG_TRUNCATED)    // a string or path hit its bound
	FlagThread      = Flags(bpf.LannerFlagFLAG_THREAD)       // fork: a thread; exit: not the leader
	FlagExePseudo   = Flags(bpf.LannerFlagFLAG_EXE_PSEUDO)   // exe on a pseudo fs (memfd): Exe is a name
)

// Event is one decoded record. The byte slices point into buffers owned by the
// reader and are valid only during the callback that receives the Event; copy
// what must outlive it (string(e.Path) copies).
type Event struct {
	Kind    Kind
	Syscall uint16 // syscall number; Exec: execve/execveat; Fork: clone/clone3 (0 if not captured)
	CPU     uint16
	Flags   Flags
	// Time in nanoseconds since the Unix epoch (kernel boot-time clock plus
	// the boot time measured at Open).
	Time     int64
	CgroupID uint64    // Fork/Exec/Exit only; 0 on syscall records (kept cheap)
	Ret      int64     // return value (negative errno on failure); Exit: exit code
	Args     [6]uint64 // raw syscall arguments, as passed
	Aux      [4]int64  // decoded extras; meaning per syscall in docs/agent.md
	TID      uint32
	PID      uint32 // thread group id
	PPID     uint32 // parent's thread group id
	UID      uint32
	GID      uint32
	EUID     uint32
	EGID     uint32
	LoginUID uint32 // 4294967295 when unset
	TTY      uint32 // controlling terminal device (Falco's proc.tty), 0 if none
	Comm     []byte // Fork/Exec/Exit: task comm, at most 15 bytes; empty on syscall records

	Path  []byte // first path argument; Exec: filename as given to exec
	Path2 []byte // second path (rename/link/symlink target side, mount dir)
	Path3 []byte // third string (mount fstype)
	Addr  []byte // raw struct sockaddr given or returned (see SockAddr)
	Argv  []byte // Exec: NUL-separated arguments (see Args iterators)
	Env   []byte // Exec: NUL-separated environment, size-bounded
	Exe   []byte // Exec: resolved executable path
	Cwd   []byte // Exec: working directory
	// Cgroup is the unified-hierarchy cgroup path of the task (Exec).
	Cgroup []byte

	tuple    [tupleSize]byte
	hasTuple bool
	pathBuf  []byte // reassembled Exe/Cwd/Cgroup, reused between events
}

const (
	// Records are struct scratch up to the end of the data written: the
	// header, the write offset, then the variable data.
	hdrSize   = int(unsafe.Offsetof(bpf.LannerScratch{}.Data))
	tupleSize = int(unsafe.Sizeof(bpf.LannerTuple{}))
	nBlob     = int(bpf.LannerBlobNBLOB)

	offTs       = int(unsafe.Offsetof(bpf.LannerEvent{}.Ts))
	offCgroupID = int(unsafe.Offsetof(bpf.LannerEvent{}.CgroupId))
	offRet      = int(unsafe.Offsetof(bpf.LannerEvent{}.Ret))
	offArgs     = int(unsafe.Offsetof(bpf.LannerEvent{}.Args))
	offAux      = int(unsafe.Offsetof(bpf.LannerEvent{}.Aux))
	offTid      = int(unsafe.Offsetof(bpf.LannerEvent{}.Tid))
	offPid      = int(unsafe.Offsetof(bpf.LannerEvent{}.Pid))
	offPpid     = int(unsafe.Offsetof(bpf.LannerEvent{}.Ppid))
	offUID      = int(unsafe.Offsetof(bpf.LannerEvent{}.Uid))
	offGID      = int(unsafe.Offsetof(bpf.LannerEvent{}.Gid))
	offEUID     = int(unsafe.Offsetof(bpf.LannerEvent{}.Euid))
	offEGID     = int(unsafe.Offsetof(bpf.LannerEvent{}.Egid))
	offLoginUID = int(unsafe.Offsetof(bpf.LannerEvent{}.Loginuid))
	offTTY      = int(unsafe.Offsetof(bpf.LannerEvent{}.Tty))
	offSize     = int(unsafe.Offsetof(bpf.LannerEvent{}.Size))
	offKind     = int(unsafe.Offsetof(bpf.LannerEvent{}.Kind))
	offNr       = int(unsafe.Offsetof(bpf.LannerEvent{}.Nr))
	offCPU      = int(unsafe.Offsetof(bpf.LannerEvent{}.Cpu))
	offFlags    = int(unsafe.Offsetof(bpf.LannerEvent{}.Flags))
	offBlobOff  = int(unsafe.Offsetof(bpf.LannerEvent{}.BlobOff))
	offBlobLen  = int(unsafe.Offsetof(bpf.LannerEvent{}.BlobLen))
	offComm     = int(unsafe.Offsetof(bpf.LannerEvent{}.Comm))
)

var errShort = errors.New("capture: record shorter than its header")

// decode fills e from one raw record. bootOffset converts boot-time
// nanoseconds to Unix nanoseconds. It does not allocate once e's buffers
// have grown to the largest record seen.
func (e *Event) decode(raw []byte, bootOffset int64) error {
	if len(raw) < hdrSize {
		return errShort
	}
	raw = raw[:len(raw):len(raw)]
	_ = raw[hdrSize-1] // one bounds check for every fixed offset below
	le := binary.LittleEndian
	size := int(le.Uint32(raw[offSize:]))
	if size < hdrSize || size > len(raw) {
		return fmt.Errorf("capture: record size %d outside [%d, %d]", size, hdrSize, len(raw))
	}
	e.Kind = Kind(le.Uint16(raw[offKind:]))
	e.Syscall = le.Uint16(raw[offNr:])
	e.CPU = le.Uint16(raw[offCPU:])
	e.Flags = Flags(le.Uint16(raw[offFlags:]))
	e.Time = int64(le.Uint64(raw[offTs:])) + bootOffset
	e.CgroupID = le.Uint64(raw[offCgroupID:])
	e.Ret = int64(le.Uint64(raw[offRet:]))
	for i := range e.Args {
		e.Args[i] = le.Uint64(raw[offArgs+8*i:])
	}
	for i := range e.Aux {
		e.Aux[i] = int64(le.Uint64(raw[offAux+8*i:]))
	}
	e.TID = le.Uint32(raw[offTid:])
	e.PID = le.Uint32(raw[offPid:])
	e.PPID = le.Uint32(raw[offPpid:])
	e.UID = le.Uint32(raw[offUID:])
	e.GID = le.Uint32(raw[offGID:])
	e.EUID = le.Uint32(raw[offEUID:])
	e.EGID = le.Uint32(raw[offEGID:])
	e.LoginUID = le.Uint32(raw[offLoginUID:])
	e.TTY = le.Uint32(raw[offTTY:])
	comm := raw[offComm : offComm+16]
	if i := bytes.IndexByte(comm, 0); i >= 0 {
		comm = comm[:i]
	}
	e.Comm = comm

	data := raw[hdrSize:size]
	var blobs [nBlob][]byte
	for i := range nBlob {
		off := int(le.Uint16(raw[offBlobOff+2*i:]))
		n := int(le.Uint16(raw[offBlobLen+2*i:]))
		if n == 0 {
			continue
		}
		if off+n > len(data) {
			return fmt.Errorf("capture: blob %d [%d:%d] beyond record data %d", i, off, off+n, len(data))
		}
		blobs[i] = data[off : off+n : off+n]
	}
	e.Path = blobs[bpf.LannerBlobBLOB_PATH]
	e.Path2 = blobs[bpf.LannerBlobBLOB_PATH2]
	e.Path3 = blobs[bpf.LannerBlobBLOB_PATH3]
	e.Addr = blobs[bpf.LannerBlobBLOB_ADDR]
	e.Argv = trimNUL(blobs[bpf.LannerBlobBLOB_ARGV])
	e.Env = trimNUL(blobs[bpf.LannerBlobBLOB_ENV])
	e.hasTuple = len(blobs[bpf.LannerBlobBLOB_TUPLE]) == tupleSize
	if e.hasTuple {
		copy(e.tuple[:], blobs[bpf.LannerBlobBLOB_TUPLE])
	}

	// Exe, Cwd and Cgroup arrive as components leaf first; rebuild them
	// root first in one reused buffer.
	exe := blobs[bpf.LannerBlobBLOB_EXE]
	cwd := blobs[bpf.LannerBlobBLOB_CWD]
	cg := blobs[bpf.LannerBlobBLOB_CGROUP]
	need := len(exe) + len(cwd) + len(cg) + 3
	if cap(e.pathBuf) < need {
		e.pathBuf = make([]byte, 0, need*2)
	}
	buf := e.pathBuf[:0]
	e.Exe, e.Cwd, e.Cgroup = nil, nil, nil
	if exe != nil {
		start := len(buf)
		if e.Kind == KindExec && e.Flags&FlagExePseudo != 0 {
			buf = append(buf, trimNUL(exe)...)
		} else {
			buf = appendReversed(buf, exe)
		}
		e.Exe = buf[start:len(buf):len(buf)]
	}
	if cwd != nil || e.Kind == KindExec {
		start := len(buf)
		buf = appendReversed(buf, cwd)
		e.Cwd = buf[start:len(buf):len(buf)]
	}
	if cg != nil || e.Kind == KindExec {
		start := len(buf)
		buf = appendReversed(buf, cg)
		e.Cgroup = buf[start:len(buf):len(buf)]
	}
	e.pathBuf = buf
	return nil
}

// appendReversed appends "/c_n/.../c_0" for NUL-terminated components
// c_0\0c_1\0...c_n\0 (leaf first); "/" when there are none.
func appendReversed(dst, comps []byte) []byte {
	comps = trimNUL(comps)
	if len(comps) == 0 {
		return append(dst, '/')
	}
	end := len(comps)
	for end > 0 {
		i := bytes.LastIndexByte(comps[:end], 0)
		dst = append(dst, '/')
		dst = append(dst, comps[i+1:end]...)
		end = i
		if i < 0 {
			break
		}
	}
	return dst
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// NextArg splits NUL-separated Argv or Env without allocating:
//
//	for rest := e.Argv; len(rest) > 0; {
//		var arg []byte
//		arg, rest = capture.NextArg(rest)
//	}
func NextArg(b []byte) (arg, rest []byte) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// Address families, as in <sys/socket.h>.
const (
	AFUnix  = 1
	AFInet  = 2
	AFInet6 = 10
)

// SockAddr is a decoded struct sockaddr.
type SockAddr struct {
	Family uint16
	IP     netip.Addr // AF_INET, AF_INET6
	Port   uint16
	Path   []byte // AF_UNIX; abstract names start with a NUL byte
}

// SockAddr decodes Addr (connect, bind, accept, sendto, recvfrom). ok is
// false when there is no address or it is malformed.
func (e *Event) SockAddr() (sa SockAddr, ok bool) {
	return ParseSockAddr(e.Addr)
}

// ParseSockAddr decodes a raw struct sockaddr (little-endian family, network
// order port). It does not allocate.
func ParseSockAddr(b []byte) (sa SockAddr, ok bool) {
	if len(b) < 2 {
		return sa, false
	}
	sa.Family = binary.LittleEndian.Uint16(b)
	switch sa.Family {
	case AFInet:
		if len(b) < 8 {
			return sa, false
		}
		sa.Port = binary.BigEndian.Uint16(b[2:])
		sa.IP = netip.AddrFrom4([4]byte(b[4:8]))
	case AFInet6:
		if len(b) < 24 {
			return sa, false
		}
		sa.Port = binary.BigEndian.Uint16(b[2:])
		sa.IP = netip.AddrFrom16([16]byte(b[8:24]))
	case AFUnix:
		p := b[2:]
		if len(p) > 0 && p[0] != 0 { // pathname socket: NUL-terminated
			if i := bytes.IndexByte(p, 0); i >= 0 {
				p = p[:i]
			}
		}
		sa.Path = p
	default:
		return sa, false
	}
	return sa, true
}

// Tuple is the local (S) and remote (D) address of a connected socket, read
// from the kernel's socket at connect/accept.
type Tuple struct {
	Family  uint16
	SrcIP   netip.Addr
	SrcPort uint16
	DstIP   netip.Addr
	DstPort uint16
}

// Tuple returns the socket's addresses for connect/accept/accept4 on
// AF_INET/AF_INET6 sockets.
func (e *Event) Tuple() (t Tuple, ok bool) {
	if !e.hasTuple {
		return t, false
	}
	b := e.tuple[:]
	le := binary.LittleEndian
	t.Family = le.Uint16(b[0:])
	t.SrcPort = le.Uint16(b[2:])
	t.DstPort = le.Uint16(b[4:])
	switch t.Family {
	case AFInet:
		t.SrcIP = netip.AddrFrom4([4]byte(b[8:12]))
		t.DstIP = netip.AddrFrom4([4]byte(b[24:28]))
	case AFInet6:
		t.SrcIP = netip.AddrFrom16([16]byte(b[8:24]))
		t.DstIP = netip.AddrFrom16([16]byte(b[24:40]))
	default:
		return t, false
	}
	return t, true
}

// SyscallName is the Falco event type of e ("openat", "execve", ...); for
// lifecycle events without a syscall: "fork", "procexit".
func (e *Event) SyscallName() string {
	switch e.Kind {
	case KindExit:
		return "procexit"
	case KindFork:
		if e.Syscall == 0 {
			return "fork"
		}
	}
	return SyscallName(int(e.Syscall))
}
