package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The load generator's senders and sink each drive all their connections
// from one goroutine through an epoll set. The set is itself watched by
// Go's netpoller (an epoll descriptor is pollable), so waiting parks the
// goroutine instead of blocking a thread. A goroutine per connection cost
// the load generator more CPU per alert than the router spent on some
// paths, taken from the same two cores as the router it measures.

type poller struct {
	ep     int
	f      *os.File // ep, on the netpoller
	raw    syscall.RawConn
	events []unix.EpollEvent
}

func newPoller() (*poller, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	if err := unix.SetNonblock(ep, true); err != nil {
		unix.Close(ep)
		return nil, fmt.Errorf("epoll: %w", err)
	}
	p := &poller{ep: ep, f: os.NewFile(uintptr(ep), "epoll"), events: make([]unix.EpollEvent, 256)}
	if p.raw, err = p.f.SyscallConn(); err != nil {
		p.f.Close()
		return nil, err
	}
	if err := p.f.SetReadDeadline(time.Time{}); err != nil {
		p.f.Close()
		return nil, fmt.Errorf("epoll set not pollable: %w", err)
	}
	return p, nil
}

// wait returns the ready events, or none once timeout passed.
func (p *poller) wait(timeout time.Duration) ([]unix.EpollEvent, error) {
	if err := p.f.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	var n int
	var werr error
	err := p.raw.Read(func(uintptr) bool {
		n, werr = unix.EpollWait(p.ep, p.events, 0)
		return werr != nil || n > 0 // none: park until the set is readable
	})
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, nil
	case err != nil:
		return nil, err
	case errors.Is(werr, unix.EINTR):
		return nil, nil
	case werr != nil:
		return nil, fmt.Errorf("epoll_wait: %w", werr)
	}
	return p.events[:n], nil
}

// watch adds fd, with id as the events' Fd.
func (p *poller) watch(fd, id int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(id)}
	return unix.EpollCtl(p.ep, unix.EPOLL_CTL_ADD, fd, &ev)
}

func (p *poller) modify(fd, id int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(id)}
	return unix.EpollCtl(p.ep, unix.EPOLL_CTL_MOD, fd, &ev)
}

func (p *poller) close() { p.f.Close() }

// sockaddr parses "ip:port".
func sockaddr(addr string) (unix.Sockaddr, int, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, 0, err
	}
	if ap.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}, unix.AF_INET, nil
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}, unix.AF_INET6, nil
}

// dialTCP connects to addr ("ip:port", on this machine: the connect is
// quick) and returns the socket non-blocking, Nagle off as Go's net does.
func dialTCP(addr string) (int, error) {
	sa, family, err := sockaddr(addr)
	if err != nil {
		return -1, err
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	for {
		err = unix.Connect(fd, sa)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err == nil {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("connect %s: %w", addr, err)
	}
	return fd, nil
}

// listenTCP listens on addr ("ip:port", port 0 for any) with a
// non-blocking socket and returns it with the address it got.
func listenTCP(addr string) (fd int, bound string, err error) {
	sa, family, err := sockaddr(addr)
	if err != nil {
		return -1, "", err
	}
	if fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0); err != nil {
		return -1, "", fmt.Errorf("socket: %w", err)
	}
	fail := func(err error) (int, string, error) {
		unix.Close(fd)
		return -1, "", fmt.Errorf("listen %s: %w", addr, err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail(err)
	}
	if err := unix.Listen(fd, 1024); err != nil {
		return fail(err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		return fail(err)
	}
	switch a := got.(type) {
	case *unix.SockaddrInet4:
		return fd, netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String(), nil
	case *unix.SockaddrInet6:
		return fd, netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)).String(), nil
	}
	return fail(errors.New("unexpected socket address"))
}

// readAvailable appends what fd has to buf; eof when the peer closed. The
// descriptor must be watched level-triggered.
func readAvailable(fd int, buf []byte) (_ []byte, eof bool, err error) {
	for {
		if cap(buf)-len(buf) < 4096 {
			buf = append(buf, make([]byte, max(16<<10, len(buf)))...)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return buf, false, nil
		case err != nil:
			return buf, false, err
		case n == 0:
			return buf, true, nil
		}
		buf = buf[:len(buf)+n]
		if len(buf) < cap(buf) {
			// A short read drained the socket for now; the poller's level-
			// triggered events tell of anything more.
			return buf, false, nil
		}
	}
}

// msgParser reads one HTTP/1.1 message from bytes with http1.go's reader,
// reusing its buffers.
type msgParser struct {
	rd      bytes.Reader
	br      *bufio.Reader
	h       head
	headLen int // of the last message whose head was complete; 0: none
	body    []byte
}

func newMsgParser() *msgParser {
	p := &msgParser{}
	p.br = bufio.NewReaderSize(&p.rd, 16<<10)
	return p
}

// next parses the message at the start of b: its head into p.h, its body
// into p.body (at most limit bytes), and returns the bytes it took; 0 when
// b holds only part of it (p.headLen > 0 when the head is complete).
func (p *msgParser) next(b []byte, limit int64) (used int, err error) {
	p.rd.Reset(b)
	p.br.Reset(&p.rd)
	p.headLen = 0
	if err := readHead(p.br, &p.h); err != nil {
		return 0, incomplete(err)
	}
	p.headLen = len(b) - p.rd.Len() - p.br.Buffered()
	if p.body, err = readBody(p.br, &p.h, p.body[:0], limit); err != nil {
		return 0, incomplete(err)
	}
	return len(b) - p.rd.Len() - p.br.Buffered(), nil
}

// incomplete turns running out of bytes into "wait for more" (nil).
func incomplete(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return err
}
