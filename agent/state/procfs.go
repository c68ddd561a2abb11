package state

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ProcFS reads process state from a procfs mount, so processes that were
// already running when the agent started have names, parents, command lines,
// exe paths, cwd, tty, login uid, containers and open fds.
type ProcFS struct {
	Root string // normally "/proc"
	// MaxEnvBytes bounds how much of each environment is kept.
	MaxEnvBytes int
}

// Bootstrap fills t with every process and thread under Root. Processes that
// exit while being read are skipped; other errors per process are returned
// joined, after the scan completes, so one unreadable process does not hide
// the rest.
func (pfs ProcFS) Bootstrap(t *Table) error {
	ents, err := os.ReadDir(pfs.Root)
	if err != nil {
		return fmt.Errorf("read %s: %w", pfs.Root, err)
	}
	socks := pfs.readSockets()
	var errs []error
	for _, e := range ents {
		pid, err := strconv.ParseUint(e.Name(), 10, 32)
		if err != nil {
			continue
		}
		p, err := pfs.ReadProcess(uint32(pid))
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, err)
			}
			continue
		}
		pfs.readFDs(p, socks)
		t.Put(p.Pid, p)
		tasks, _ := os.ReadDir(filepath.Join(pfs.Root, e.Name(), "task"))
		for _, task := range tasks {
			tid, err := strconv.ParseUint(task.Name(), 10, 32)
			if err == nil && uint32(tid) != p.Pid {
				t.Put(uint32(tid), p)
			}
		}
	}
	return errors.Join(errs...)
}

// ReadProcess reads one process from procfs.
func (pfs ProcFS) ReadProcess(pid uint32) (*Process, error) {
	dir := filepath.Join(pfs.Root, strconv.FormatUint(uint64(pid), 10))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	p := &Process{Pid: pid, LoginUID: ^uint32(0), Container: hostContainer}
	if err := parseStat(stat, p); err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	p.Cmdline = p.Comm // until the command line is read
	if status, err := os.ReadFile(filepath.Join(dir, "status")); err == nil {
		parseStatus(status, p)
	}
	if cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(cmdline) > 0 {
		if args := splitNul(cmdline); len(args) > 0 {
			p.SetCmd(args[0], args[1:])
		}
	}
	if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		p.ExePath = strings.TrimSuffix(exe, " (deleted)")
		p.ExeFromMemfd = strings.HasPrefix(exe, "/memfd:")
		p.ExeWritable = exeWritable(filepath.Join(dir, "exe"), p.EUID, p.GID)
	}
	if cwd, err := os.Readlink(filepath.Join(dir, "cwd")); err == nil {
		p.Cwd = cwd
	}
	if b, err := os.ReadFile(filepath.Join(dir, "loginuid")); err == nil {
		if v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32); err == nil {
			p.LoginUID = uint32(v)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil {
		p.Container = containerFromProcCgroup(b)
	}
	if pfs.MaxEnvBytes > 0 {
		if b, err := os.ReadFile(filepath.Join(dir, "environ")); err == nil {
			if len(b) > pfs.MaxEnvBytes {
				b = b[:pfs.MaxEnvBytes]
			}
			p.Env = splitNul(b)
		}
	}
	return p, nil
}

// parseStat reads /proc/PID/stat. comm is parenthesised and may itself hold
// spaces and parentheses, so the fields after it are found from the last ')'.
func parseStat(b []byte, p *Process) error {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return errors.New("malformed stat")
	}
	p.Comm = string(b[open+1 : end])
	f := strings.Fields(string(b[end+1:]))
	// f[0]=state f[1]=ppid f[2]=pgrp f[3]=session f[4]=tty_nr ... f[19]=starttime
	if len(f) < 20 {
		return errors.New("short stat")
	}
	num := func(i int) uint64 { v, _ := strconv.ParseUint(f[i], 10, 64); return v }
	p.PPid = uint32(num(1))
	p.Pgid = uint32(num(2))
	p.Sid = uint32(num(3))
	p.TTY = uint32(num(4))
	p.StartNano = num(19) * 1e9 / 100 // USER_HZ is 100 on every Linux ABI
	p.VPid, p.VPgid = p.Pid, p.Pgid
	return nil
}

func parseStatus(b []byte, p *Process) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		last := func() uint32 { n, _ := strconv.ParseUint(f[len(f)-1], 10, 32); return uint32(n) }
		first := func(i int) uint32 {
			if i >= len(f) {
				return 0
			}
			n, _ := strconv.ParseUint(f[i], 10, 32)
			return uint32(n)
		}
		switch k {
		case "Uid":
			p.UID, p.EUID = first(0), first(1)
		case "Gid":
			p.GID = first(0)
		case "NSpid":
			p.VPid = last()
		case "NSpgid":
			p.VPgid = last()
		}
	}
}

func containerFromProcCgroup(b []byte) Container {
	// Prefer the unified (v2) line "0::/path"; fall back to any v1 line that
	// names a container.
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "0::") {
			if c := ContainerFromCgroup(line[3:]); c.ID != "host" {
				return c
			}
		}
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 {
			if c := ContainerFromCgroup(parts[2]); c.ID != "host" {
				return c
			}
		}
	}
	return hostContainer
}

func splitNul(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	parts := bytes.Split(b, []byte{0})
	out := make([]string, len(parts))
	for i, s := range parts {
		out[i] = string(s)
	}
	return out
}

// exeWritable reports whether the executable is writable by the process's
// effective user, as proc.is_exe_writable defines it.
func exeWritable(exe string, euid, gid uint32) bool {
	st, err := os.Stat(exe)
	if err != nil {
		return false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	mode := st.Mode().Perm()
	switch {
	case euid == 0:
		return mode&0o222 != 0
	case sys.Uid == euid:
		return mode&0o200 != 0
	case sys.Gid == gid:
		return mode&0o020 != 0
	default:
		return mode&0o002 != 0
	}
}

// socketInfo is one socket from /proc/net, keyed by inode.
type socketInfo struct {
	typ           FDType
	proto         string
	local, remote netip.AddrPort
	listening     bool
	path          string
}

func (pfs ProcFS) readSockets() map[uint64]socketInfo {
	out := make(map[uint64]socketInfo)
	for _, f := range [...]struct {
		name, proto string
		typ         FDType
	}{{"tcp", "tcp", FDIPv4}, {"tcp6", "tcp", FDIPv6}, {"udp", "udp", FDIPv4}, {"udp6", "udp", FDIPv6}} {
		b, err := os.ReadFile(filepath.Join(pfs.Root, "net", f.name))
		if err != nil {
			continue
		}
		parseProcNet(b, f.proto, f.typ, out)
	}
	if b, err := os.ReadFile(filepath.Join(pfs.Root, "net", "unix")); err == nil {
		parseProcNetUnix(b, out)
	}
	return out
}

// parseProcNet reads /proc/net/{tcp,udp}[6]: "sl local_address rem_address st
// ... inode". Addresses are hex in host byte order per 32-bit word.
func parseProcNet(b []byte, proto string, typ FDType, out map[uint64]socketInfo) {
	lines := strings.Split(string(b), "\n")
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		local, ok1 := parseHexAddrPort(f[1])
		remote, ok2 := parseHexAddrPort(f[2])
		ino, err := strconv.ParseUint(f[9], 10, 64)
		if !ok1 || !ok2 || err != nil || ino == 0 {
			continue
		}
		out[ino] = socketInfo{typ: typ, proto: proto, local: local, remote: remote, listening: f[3] == "0A"}
	}
}

func parseHexAddrPort(s string) (netip.AddrPort, bool) {
	addrHex, portHex, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(addrHex)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, false
	}
	// Each 32-bit word is printed in host (little-endian) order.
	for i := 0; i+4 <= len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), true
}

func parseProcNetUnix(b []byte, out map[uint64]socketInfo) {
	lines := strings.Split(string(b), "\n")
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 7 {
			continue
		}
		ino, err := strconv.ParseUint(f[6], 10, 64)
		if err != nil {
			continue
		}
		si := socketInfo{typ: FDUnix, proto: "unix"}
		if len(f) >= 8 {
			si.path = f[7]
		}
		out[ino] = si
	}
}

func (pfs ProcFS) readFDs(p *Process, socks map[uint64]socketInfo) {
	dir := filepath.Join(pfs.Root, strconv.FormatUint(uint64(p.Pid), 10), "fd")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		n, err := strconv.ParseInt(e.Name(), 10, 32)
		if err != nil {
			continue
		}
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		p.SetFD(fdFromLink(int32(n), target, socks))
	}
}

// fdFromLink classifies an fd from its /proc/PID/fd symlink target.
func fdFromLink(n int32, target string, socks map[uint64]socketInfo) *FD {
	fd := &FD{Num: n, Name: target}
	switch {
	case strings.HasPrefix(target, "socket:["):
		ino, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]"), 10, 64)
		fd.Ino = ino
		si, ok := socks[ino]
		if !ok {
			fd.Type = FDUnknown
			return fd
		}
		fd.Type, fd.L4Proto = si.typ, si.proto
		if si.typ == FDUnix {
			fd.Name = si.path
			return fd
		}
		fd.Local, fd.Remote = si.local, si.remote
		fd.Connected = si.remote.Port() != 0
		fd.ServerSide = si.listening
		fd.Name = SocketTupleName(fd.Local, fd.Remote)
	case strings.HasPrefix(target, "pipe:["):
		fd.Type = FDPipe
	case strings.HasPrefix(target, "anon_inode:"):
		switch strings.Trim(strings.TrimPrefix(target, "anon_inode:"), "[]") {
		case "eventfd":
			fd.Type = FDEvent
		case "signalfd":
			fd.Type = FDSignalFD
		case "eventpoll":
			fd.Type = FDEventPoll
		case "inotify":
			fd.Type = FDInotify
		case "timerfd":
			fd.Type = FDTimerFD
		case "bpf-map", "bpf-prog", "bpf_link", "bpf-link":
			fd.Type = FDBPF
		case "userfaultfd":
			fd.Type = FDUserfault
		case "io_uring":
			fd.Type = FDIOUring
		}
	case strings.HasPrefix(target, "/memfd:"):
		fd.Type = FDMemfd
	case strings.HasPrefix(target, "/"):
		fd.Type = FDFile
		if st, err := os.Stat(target); err == nil && st.IsDir() {
			fd.Type = FDDirectory
		}
	}
	return fd
}

// SocketTupleName renders a connected socket the way Falco's fd.name does:
// "client_ip:port->server_ip:port" (IPv6 addresses in brackets-free form).
func SocketTupleName(local, remote netip.AddrPort) string {
	return local.Addr().String() + ":" + strconv.Itoa(int(local.Port())) + "->" +
		remote.Addr().String() + ":" + strconv.Itoa(int(remote.Port()))
}
