package detect

import (
	"strconv"
	"syscall"
)

// flagName is one bit (or value, when mask is set) of a flags argument, named
// as Falco prints it, so that conditions such as
// `evt.arg.flags contains O_TRUNC` match the same text.
type flagName struct {
	bit  uint64
	name string
}

// Open flags in Falco's order. O_RDONLY is 0: it is printed when neither
// O_WRONLY nor O_RDWR is set.
var openFlags = [...]flagName{
	{syscall.O_WRONLY, "O_WRONLY"},
	{syscall.O_RDWR, "O_RDWR"},
	{syscall.O_CREAT, "O_CREAT"},
	{syscall.O_EXCL, "O_EXCL"},
	{syscall.O_NOCTTY, "O_NOCTTY"},
	{syscall.O_TRUNC, "O_TRUNC"},
	{syscall.O_APPEND, "O_APPEND"},
	{syscall.O_NONBLOCK, "O_NONBLOCK"},
	{syscall.O_DSYNC, "O_DSYNC"},
	{syscall.O_ASYNC, "FASYNC"},
	{syscall.O_DIRECT, "O_DIRECT"},
	{syscall.O_LARGEFILE, "O_LARGEFILE"},
	{syscall.O_DIRECTORY, "O_DIRECTORY"},
	{syscall.O_NOFOLLOW, "O_NOFOLLOW"},
	{syscall.O_NOATIME, "O_NOATIME"},
	{syscall.O_CLOEXEC, "O_CLOEXEC"},
	{0x200000, "O_PATH"},
	{0x400000 | syscall.O_DIRECTORY, "O_TMPFILE"},
}

const oSyncOnly = syscall.O_SYNC &^ syscall.O_DSYNC

// appendOpenFlags renders open(2) flags as Falco does: "O_TRUNC|O_CREAT|O_WRONLY".
func appendOpenFlags(dst []byte, flags uint64) []byte {
	start := len(dst)
	sep := func() {
		if len(dst) > start {
			dst = append(dst, '|')
		}
	}
	if flags&(syscall.O_WRONLY|syscall.O_RDWR) == 0 {
		dst = append(dst, "O_RDONLY"...)
	}
	for _, f := range openFlags {
		if f.bit != 0 && flags&f.bit == f.bit {
			sep()
			dst = append(dst, f.name...)
		}
	}
	if flags&oSyncOnly != 0 {
		sep()
		dst = append(dst, "O_SYNC"...)
	}
	return dst
}

// ptraceRequests names ptrace(2) requests as Falco prints evt.arg.request.
var ptraceRequests = map[uint64]string{
	0: "PTRACE_TRACEME", 1: "PTRACE_PEEKTEXT", 2: "PTRACE_PEEKDATA", 3: "PTRACE_PEEKUSR",
	4: "PTRACE_POKETEXT", 5: "PTRACE_POKEDATA", 6: "PTRACE_POKEUSR", 7: "PTRACE_CONT",
	8: "PTRACE_KILL", 9: "PTRACE_SINGLESTEP", 12: "PTRACE_GETREGS", 13: "PTRACE_SETREGS",
	14: "PTRACE_GETFPREGS", 15: "PTRACE_SETFPREGS", 16: "PTRACE_ATTACH", 17: "PTRACE_DETACH",
	18: "PTRACE_GETFPXREGS", 19: "PTRACE_SETFPXREGS", 24: "PTRACE_SYSCALL", 31: "PTRACE_SYSEMU",
	32: "PTRACE_SYSEMU_SINGLESTEP", 0x4200: "PTRACE_SETOPTIONS", 0x4201: "PTRACE_GETEVENTMSG",
	0x4202: "PTRACE_GETSIGINFO", 0x4203: "PTRACE_SETSIGINFO", 0x4204: "PTRACE_GETREGSET",
	0x4205: "PTRACE_SETREGSET", 0x4206: "PTRACE_SEIZE", 0x4207: "PTRACE_INTERRUPT",
	0x4208: "PTRACE_LISTEN", 0x4209: "PTRACE_PEEKSIGINFO",
}

// socketDomains names socket(2) domains (evt.arg.domain).
var socketDomains = map[uint64]string{
	1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET", 38: "AF_ALG", 40: "AF_VSOCK",
}

// fcntlCmds names fcntl(2) commands (evt.arg.cmd).
var fcntlCmds = map[uint64]string{
	0: "F_DUPFD", 1: "F_GETFD", 2: "F_SETFD", 3: "F_GETFL", 4: "F_SETFL", 5: "F_GETLK",
	6: "F_SETLK", 7: "F_SETLKW", 8: "F_SETOWN", 9: "F_GETOWN", 1030: "F_DUPFD_CLOEXEC",
	1024: "F_SETLEASE", 1025: "F_GETLEASE", 1026: "F_NOTIFY", 1031: "F_SETPIPE_SZ", 1032: "F_GETPIPE_SZ",
}

// bpfCmds names bpf(2) commands (evt.arg.cmd).
var bpfCmds = map[uint64]string{
	0: "BPF_MAP_CREATE", 1: "BPF_MAP_LOOKUP_ELEM", 2: "BPF_MAP_UPDATE_ELEM", 3: "BPF_MAP_DELETE_ELEM",
	4: "BPF_MAP_GET_NEXT_KEY", 5: "BPF_PROG_LOAD", 6: "BPF_OBJ_PIN", 7: "BPF_OBJ_GET",
	8: "BPF_PROG_ATTACH", 9: "BPF_PROG_DETACH", 28: "BPF_LINK_CREATE",
}

// appendErrno renders a negative return value as Falco's evt.res: the errno
// name ("ENOENT"), or the number when the name is unknown.
func appendErrno(dst []byte, ret int64) []byte {
	if name := errnoName(syscall.Errno(-ret)); name != "" {
		return append(dst, name...)
	}
	return strconv.AppendInt(dst, ret, 10)
}

func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.EPERM:
		return "EPERM"
	case syscall.ENOENT:
		return "ENOENT"
	case syscall.ESRCH:
		return "ESRCH"
	case syscall.EINTR:
		return "EINTR"
	case syscall.EIO:
		return "EIO"
	case syscall.E2BIG:
		return "E2BIG"
	case syscall.ENOEXEC:
		return "ENOEXEC"
	case syscall.EBADF:
		return "EBADF"
	case syscall.ECHILD:
		return "ECHILD"
	case syscall.EAGAIN:
		return "EAGAIN"
	case syscall.ENOMEM:
		return "ENOMEM"
	case syscall.EACCES:
		return "EACCES"
	case syscall.EFAULT:
		return "EFAULT"
	case syscall.EBUSY:
		return "EBUSY"
	case syscall.EEXIST:
		return "EEXIST"
	case syscall.EXDEV:
		return "EXDEV"
	case syscall.ENODEV:
		return "ENODEV"
	case syscall.ENOTDIR:
		return "ENOTDIR"
	case syscall.EISDIR:
		return "EISDIR"
	case syscall.EINVAL:
		return "EINVAL"
	case syscall.ENFILE:
		return "ENFILE"
	case syscall.EMFILE:
		return "EMFILE"
	case syscall.ETXTBSY:
		return "ETXTBSY"
	case syscall.ENOSPC:
		return "ENOSPC"
	case syscall.EROFS:
		return "EROFS"
	case syscall.EPIPE:
		return "EPIPE"
	case syscall.ENAMETOOLONG:
		return "ENAMETOOLONG"
	case syscall.ENOSYS:
		return "ENOSYS"
	case syscall.ENOTEMPTY:
		return "ENOTEMPTY"
	case syscall.ELOOP:
		return "ELOOP"
	case syscall.EADDRINUSE:
		return "EADDRINUSE"
	case syscall.EADDRNOTAVAIL:
		return "EADDRNOTAVAIL"
	case syscall.ENETUNREACH:
		return "ENETUNREACH"
	case syscall.ECONNREFUSED:
		return "ECONNREFUSED"
	case syscall.ECONNRESET:
		return "ECONNRESET"
	case syscall.ETIMEDOUT:
		return "ETIMEDOUT"
	case syscall.EINPROGRESS:
		return "EINPROGRESS"
	case syscall.EALREADY:
		return "EALREADY"
	case syscall.EHOSTUNREACH:
		return "EHOSTUNREACH"
	case syscall.ENOTSOCK:
		return "ENOTSOCK"
	case syscall.EOPNOTSUPP:
		return "EOPNOTSUPP"
	}
	return ""
}
