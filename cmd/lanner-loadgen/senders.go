package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Phase 1's senders: n keep-alive connections, each posting one alert per
// request and waiting for its answer before the next, as Falco's
// http_output (libcurl, no pipelining) does, all on one poller (epoll.go).

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
	p      *poller
	conns  []sender
	gen    func([]byte) []byte
	body   []byte
	req    []byte
	parser *msgParser
	counts senderCounts
}

const (
	watchIn  = unix.EPOLLIN | unix.EPOLLRDHUP
	watchOut = watchIn | unix.EPOLLOUT
)

// runSenderLoops spreads n senders over loops pollers, each run by a
// goroutine of its own: senders on one poller take their turns one after
// another, which for a group of answers arriving together adds the others'
// turns to each one's next request, where independent senders (Falco on
// many nodes) would answer in parallel.
func runSenderLoops(ctx context.Context, addr string, n, loops int, gen func([]byte) []byte, deadline time.Time) (senderCounts, error) {
	loops = max(min(loops, n), 1)
	type result struct {
		c   senderCounts
		err error
	}
	results := make(chan result, loops)
	for i := range loops {
		k := n / loops
		if i < n%loops {
			k++
		}
		go func() { // owned here: its result is always received below
			c, err := runSenders(ctx, addr, k, gen, deadline)
			results <- result{c, err}
		}()
	}
	var total senderCounts
	var errs []error
	for range loops {
		r := <-results
		total.accepted += r.c.accepted
		total.refused += r.c.refused
		total.failures += r.c.failures
		total.acks = append(total.acks, r.c.acks...)
		errs = append(errs, r.err)
	}
	return total, errors.Join(errs...)
}

// runSenders posts until deadline (and the answers to requests already sent
// are in), ctx ends, or stuck requests pass deadline+30s.
func runSenders(ctx context.Context, addr string, n int, gen func([]byte) []byte, deadline time.Time) (senderCounts, error) {
	p, err := newPoller()
	if err != nil {
		return senderCounts{}, err
	}
	s := &senders{addr: addr, prefix: requestHead(addr), p: p, conns: make([]sender, n), gen: gen, parser: newMsgParser()}
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
		events, err := s.p.wait(timeout)
		if err != nil {
			return s.counts, err
		}
		now = time.Now()
		for _, ev := range events {
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
		fd, err := dialTCP(s.addr)
		if err != nil {
			s.fail(i, now)
			return
		}
		if err := s.p.watch(fd, i, watchIn); err != nil {
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
		if err := s.p.modify(c.fd, i, watchOut); err != nil {
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
		if err := s.p.modify(c.fd, i, watchIn); err != nil {
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
	var eof bool
	var err error
	c.in, eof, err = readAvailable(c.fd, c.in)
	if err != nil {
		s.fail(i, now) // reset
		return
	}
	if !c.waiting {
		if len(c.in) > 0 || eof {
			s.fail(i, now) // bytes nobody asked for, or the router closed an idle connection
		}
		return
	}
	code, used, closing, err := parseAnswer(s.parser, c.in)
	if err != nil {
		s.fail(i, now)
		return
	}
	if used == 0 {
		if eof {
			s.fail(i, now) // closed mid-answer
		}
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
	if closing || eof {
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

func (s *senders) close() {
	for i := range s.conns {
		s.disconnect(i)
	}
	s.p.close()
}

// parseAnswer returns the final answer's status code and the bytes it (and
// any interim 1xx answers before it) took, 0 when incomplete, and whether
// the server closes the connection after it.
func parseAnswer(p *msgParser, b []byte) (code, used int, closing bool, err error) {
	for off := 0; ; {
		n, err := p.next(b[off:], 1<<20)
		if err != nil || n == 0 {
			return 0, 0, false, err
		}
		off += n
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
		return code, off, p.h.close, nil
	}
}
