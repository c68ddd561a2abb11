package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Phase 1's senders: n keep-alive connections, each posting one alert per
// request and waiting for its answer before the next, as Falco's
// http_output (libcurl, no pipelining) does. One goroutine drives them all
// through epoll. With a goroutine per connection blocked in read, the load
// generator spent ~21 µs of CPU per alert at 256 connections (scheduler,
// netpoller, a stack and a buffer per connection), taken from the same two
// cores as the router it measures; real senders run on other machines.

// requestHead is what precedes Content-Length's value. Falco's libcurl sends
// about these fields.
func requestHead(addr string) string {
	return "POST / HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: falcosecurity/falco\r\nAccept: */*\r\n" +
		"Content-Type: application/json\r\nContent-Length: "
}

// senderCounts is what the senders saw: 200s, 503s and everything else
// (transport errors and other answers).
type senderCounts struct {
	accepted, refused, failures int64
	acks                        []int32 // µs from each 200's request written to its answer read
}

// retryPause is how long a connection waits after a 503 or a failure, as
// the goroutine-per-connection clients did.
const retryPause = 10 * time.Millisecond

type sender struct {
	fd      int // -1: not connected
	out     []byte
	in      []byte
	waiting bool      // a request is out, its answer not yet complete
	sent    time.Time // when it went out
	resume  time.Time // when it may send again after a pause; zero: now
}

type senders struct {
	addr   string
	prefix string // requestHead(addr)
	ep     int
	conns  []sender
	events []unix.EpollEvent
	gen    func([]byte) []byte
	body   []byte
	req    []byte
	parser answerParser
	counts senderCounts
}

// runSenders posts until deadline (and the answers to requests already sent
// are in), ctx ends, or stuck requests pass deadline+30s.
func runSenders(ctx context.Context, addr string, n int, gen func([]byte) []byte, deadline time.Time) (senderCounts, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return senderCounts{}, fmt.Errorf("epoll: %w", err)
	}
	s := &senders{addr: addr, prefix: requestHead(addr), ep: ep, conns: make([]sender, n),
		events: make([]unix.EpollEvent, 128), gen: gen}
	s.parser.br = bufio.NewReaderSize(&s.parser.rd, 4096)
	defer s.close()
	for i := range s.conns {
		s.conns[i].fd = -1
	}
	giveUp := deadline.Add(30 * time.Second)
	for {
		now := time.Now()
		if err := ctx.Err(); err != nil {
			return s.counts, err
		}
		if now.After(giveUp) {
			return s.counts, errors.New("requests still unanswered 30s after the phase")
		}
		busy, wake := s.startDue(now, deadline)
		if !busy {
			return s.counts, nil
		}
		timeout := 50 * time.Millisecond
		if !wake.IsZero() {
			timeout = min(timeout, max(wake.Sub(now), time.Millisecond))
		}
		k, err := unix.EpollWait(s.ep, s.events, int(timeout/time.Millisecond))
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return s.counts, fmt.Errorf("epoll_wait: %w", err)
		}
		now = time.Now()
		for _, ev := range s.events[:k] {
			i := int(ev.Fd)
			if ev.Events&unix.EPOLLOUT != 0 {
				s.flush(i, now)
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLERR|unix.EPOLLHUP|unix.EPOLLRDHUP) != 0 {
				s.receive(i, now)
			}
		}
	}
}

// startDue sends the next request on every idle connection whose pause is
// over. It reports whether any connection still has work, and the earliest
// end of a pause.
func (s *senders) startDue(now, deadline time.Time) (busy bool, wake time.Time) {
	for i := range s.conns {
		c := &s.conns[i]
		if c.waiting {
			busy = true
			continue
		}
		if !now.Before(deadline) {
			continue // the phase is over; this one has nothing out
		}
		busy = true
		if now.Before(c.resume) {
			if wake.IsZero() || c.resume.Before(wake) {
				wake = c.resume
			}
			continue
		}
		s.send(i, now)
	}
	return busy, wake
}

// send dials if needed and writes the next request.
func (s *senders) send(i int, now time.Time) {
	c := &s.conns[i]
	if c.fd < 0 {
		fd, err := s.dial()
		if err != nil {
			s.fail(i, now)
			return
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(i)}
		if err := unix.EpollCtl(s.ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			unix.Close(fd)
			s.fail(i, now)
			return
		}
		c.fd = fd
	}
	s.body = s.gen(s.body[:0])
	s.req = append(s.req[:0], s.prefix...)
	s.req = strconv.AppendInt(s.req, int64(len(s.body)), 10)
	s.req = append(s.req, "\r\n\r\n"...)
	s.req = append(s.req, s.body...)
	c.waiting, c.sent = true, now
	c.in = c.in[:0]
	w, err := unix.Write(c.fd, s.req)
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		s.fail(i, now)
		return
	}
	if w < len(s.req) { // the socket buffer is full: finish on EPOLLOUT
		c.out = append(c.out[:0], s.req[max(w, 0):]...)
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLOUT, Fd: int32(i)}
		if err := unix.EpollCtl(s.ep, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
			s.fail(i, now)
		}
	}
}

func (s *senders) flush(i int, now time.Time) {
	c := &s.conns[i]
	if c.fd < 0 || len(c.out) == 0 {
		return
	}
	w, err := unix.Write(c.fd, c.out)
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		s.fail(i, now)
		return
	}
	c.out = c.out[:copy(c.out, c.out[max(w, 0):])]
	if len(c.out) == 0 {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(i)}
		if err := unix.EpollCtl(s.ep, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
			s.fail(i, now)
		}
	}
}

// receive reads what the connection has and settles its request once the
// answer is complete.
func (s *senders) receive(i int, now time.Time) {
	c := &s.conns[i]
	if c.fd < 0 {
		return
	}
	for {
		if cap(c.in)-len(c.in) < 1024 {
			c.in = append(c.in, make([]byte, 4096)...)[:len(c.in)]
		}
		r, err := unix.Read(c.fd, c.in[len(c.in):cap(c.in)])
		if errors.Is(err, unix.EAGAIN) {
			break
		}
		if err != nil || r == 0 { // reset, or the router closed the connection
			s.fail(i, now)
			return
		}
		c.in = c.in[:len(c.in)+r]
		if len(c.in) < cap(c.in) {
			break // a short read: the socket is drained
		}
	}
	if !c.waiting {
		if len(c.in) > 0 {
			s.fail(i, now) // bytes nobody asked for
		}
		return
	}
	code, used, closing, err := s.parser.parse(c.in)
	if err != nil {
		s.fail(i, now)
		return
	}
	if used == 0 {
		return // more to come
	}
	if used != len(c.in) {
		s.fail(i, now) // an answer to no request
		return
	}
	c.waiting = false
	switch code {
	case http.StatusOK:
		s.counts.accepted++
		s.counts.acks = append(s.counts.acks, int32(now.Sub(c.sent).Microseconds()))
	case http.StatusServiceUnavailable:
		s.counts.refused++
		c.resume = now.Add(retryPause)
	default:
		s.counts.failures++
	}
	if closing {
		s.disconnect(i)
	}
}

// fail counts a transport failure: the connection is closed, and redialled
// after a pause.
func (s *senders) fail(i int, now time.Time) {
	s.counts.failures++
	s.disconnect(i)
	s.conns[i].resume = now.Add(retryPause)
}

func (s *senders) disconnect(i int) {
	c := &s.conns[i]
	if c.fd >= 0 {
		unix.Close(c.fd) // also leaves the epoll set
	}
	c.fd, c.waiting, c.out, c.in = -1, false, c.out[:0], c.in[:0]
}

// dial connects with the net package (address parsing, timeout) and keeps
// a duplicate of the socket, non-blocking like the original, for epoll.
func (s *senders) dial() (int, error) {
	conn, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		return -1, err
	}
	defer conn.Close() // the duplicate keeps the socket open
	raw, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	cerr := raw.Control(func(orig uintptr) {
		fd, err = unix.FcntlInt(orig, unix.F_DUPFD_CLOEXEC, 0)
	})
	if cerr != nil {
		return -1, cerr
	}
	return fd, err
}

func (s *senders) close() {
	for i := range s.conns {
		s.disconnect(i)
	}
	unix.Close(s.ep)
}

// answerParser reads one HTTP/1.1 answer from bytes with http1.go's reader,
// reusing its buffers.
type answerParser struct {
	rd   bytes.Reader
	br   *bufio.Reader
	h    head
	body []byte
}

// parse returns the final answer's status code and the bytes it took (0:
// incomplete), and whether the server closes the connection after it.
func (p *answerParser) parse(b []byte) (code, used int, closing bool, err error) {
	p.rd.Reset(b)
	p.br.Reset(&p.rd)
	for {
		if err := readHead(p.br, &p.h); err != nil {
			return 0, 0, false, incomplete(err)
		}
		code, err := statusCode(p.h.start)
		if err != nil {
			return 0, 0, false, err
		}
		if code >= 100 && code < 200 {
			continue // interim answer: the final one follows
		}
		if !p.h.chunked && p.h.length < 0 {
			return 0, 0, false, fmt.Errorf("answer %d without a length", code)
		}
		if p.body, err = readBody(p.br, &p.h, p.body[:0], 1<<20); err != nil {
			return 0, 0, false, incomplete(err)
		}
		return code, len(b) - p.rd.Len() - p.br.Buffered(), p.h.close, nil
	}
}

// incomplete turns running out of bytes into "wait for more" (nil).
func incomplete(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return err
}
