package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
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

// takeFD returns a duplicate of c's socket and closes c. The descriptors
// share the open file, so the duplicate is non-blocking like the original.
func takeFD(c net.Conn) (int, error) {
	defer c.Close()
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, errors.New("not a socket")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if cerr := raw.Control(func(orig uintptr) {
		fd, err = unix.FcntlInt(orig, unix.F_DUPFD_CLOEXEC, 0)
	}); cerr != nil {
		return -1, cerr
	}
	return fd, err
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
