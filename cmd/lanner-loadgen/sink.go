package main

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// sink is the webhook receiver: it counts alerts (exactly, by the sequence
// number in their uuid), records ingest-to-delivery latency from each alert's
// time, and can be stalled (503) to build a backlog. It is a lean HTTP/1.1
// server (http1.go) on one poller (epoll.go) rather than net/http, so that
// it costs the shared 2 cores as little as a sink can while still parsing
// every request properly.
type sink struct {
	ln      int // listening socket, in p
	url     string
	p       *poller
	stalled atomic.Bool
	stop    atomic.Bool

	total    atomic.Int64 // deliveries, duplicates included
	uniq     atomic.Int64
	lastNano atomic.Int64 // arrival of the last new alert
	requests atomic.Int64
	bad      atomic.Int64 // requests that failed to parse

	mu   sync.Mutex
	seen []uint64 // bitset of sequence numbers
	lat  []int32  // microseconds, this phase
	done chan struct{}

	// Owned by serve.
	conns  map[int]*sinkConn
	parser *msgParser
}

type sinkConn struct {
	fd      int
	buf     []byte // bytes of requests not yet answered
	need    int    // bytes the request in buf needs, once its head is in; 0: unknown
	sent100 bool
	out     []byte // answers not yet written: pipelined requests read together are answered with one write
}

// sinkMaxBody bounds one request body: a batch-mode delivery of 500 alerts
// is ~700 KB.
const sinkMaxBody = 64 << 20

func newSink() (*sink, error) {
	ln, addr, err := listenTCP("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p, err := newPoller()
	if err != nil {
		unix.Close(ln)
		return nil, err
	}
	if err := p.watch(ln, ln, unix.EPOLLIN); err != nil {
		unix.Close(ln)
		p.close()
		return nil, err
	}
	s := &sink{ln: ln, url: "http://" + addr + "/", p: p, conns: map[int]*sinkConn{}, parser: newMsgParser(),
		done: make(chan struct{})}
	go s.serve() // owned by sink; ends on close
	return s, nil
}

func (s *sink) close() {
	s.stop.Store(true)
	<-s.done
	for _, c := range s.conns {
		unix.Close(c.fd)
	}
	unix.Close(s.ln)
	s.p.close()
}

// accept watches every connection waiting on the listening socket.
func (s *sink) accept() {
	for {
		fd, _, err := unix.Accept4(s.ln, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ECONNABORTED) {
			continue
		}
		if err != nil {
			return // EAGAIN: no more for now (or out of descriptors: retried on the next event)
		}
		if err := s.p.watch(fd, fd, unix.EPOLLIN|unix.EPOLLRDHUP); err != nil {
			unix.Close(fd)
			continue
		}
		s.conns[fd] = &sinkConn{fd: fd}
	}
}

var (
	respOK        = []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	respStalled   = []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
	respBad       = []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	respContinue  = []byte("HTTP/1.1 100 Continue\r\n\r\n")
	respNoMethod  = []byte("HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
	respTooLarge  = []byte("HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	respLengthReq = []byte("HTTP/1.1 411 Length Required\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
)

// serve answers every connection's requests, one at a time per connection.
// The poll interval bounds how long close waits.
func (s *sink) serve() {
	defer close(s.done)
	for !s.stop.Load() {
		events, err := s.p.wait(50 * time.Millisecond)
		if err != nil {
			return
		}
		for _, ev := range events {
			if int(ev.Fd) == s.ln {
				s.accept()
			} else if c := s.conns[int(ev.Fd)]; c != nil {
				s.readable(c)
			}
		}
	}
}

func (s *sink) drop(c *sinkConn) {
	unix.Close(c.fd) // also leaves the epoll set
	delete(s.conns, c.fd)
}

// readable reads what c has and answers every complete request in it.
func (s *sink) readable(c *sinkConn) {
	var eof bool
	var err error
	if c.buf, eof, err = readAvailable(c.fd, c.buf); err != nil {
		s.drop(c)
		return
	}
	for len(c.buf) > 0 && (c.need == 0 || len(c.buf) >= c.need) {
		if !s.answer(c) {
			s.flush(c)
			s.drop(c)
			return
		}
		if c.need > 0 {
			break // the rest of this request is still on its way
		}
	}
	if !s.flush(c) {
		s.drop(c)
		return
	}
	if cap(c.buf) > 4<<20 && len(c.buf) == 0 {
		c.buf = nil // let a rare huge batch buffer go
	}
	if eof {
		s.drop(c)
	}
}

// answer answers the request at the start of c.buf if it is complete, or
// notes how much it needs; false: close the connection.
func (s *sink) answer(c *sinkConn) bool {
	p := s.parser
	used, err := p.next(c.buf, sinkMaxBody)
	if p.headLen > 0 && p.h.length > sinkMaxBody {
		return s.reply(c, respTooLarge, false)
	}
	if err != nil {
		s.bad.Add(1)
		return s.reply(c, respBad, false)
	}
	if used == 0 {
		if p.headLen == 0 {
			c.need = len(c.buf) + 1 // the head is still on its way
			return true
		}
		method, _, _, err := requestLine(p.h.start)
		if err != nil {
			s.bad.Add(1)
			return s.reply(c, respBad, false)
		}
		if !p.h.chunked && p.h.length < 0 && (string(method) == "POST" || string(method) == "PUT") {
			return s.reply(c, respLengthReq, false)
		}
		if !p.h.chunked {
			c.need = p.headLen + int(p.h.length)
		} else {
			c.need = len(c.buf) + 1 // parse again once more bytes came
		}
		if p.h.expect100 && !c.sent100 {
			c.sent100 = true
			return s.reply(c, respContinue, true)
		}
		return true
	}
	method, _, http10, err := requestLine(p.h.start)
	if err != nil {
		s.bad.Add(1)
		return s.reply(c, respBad, false)
	}
	s.requests.Add(1)
	c.buf = c.buf[:copy(c.buf, c.buf[used:])]
	c.need, c.sent100 = 0, false
	resp := respOK
	switch {
	case !p.h.chunked && p.h.length < 0 && (string(method) == "POST" || string(method) == "PUT"):
		return s.reply(c, respLengthReq, false)
	case string(method) != "POST" && string(method) != "PUT":
		resp = respNoMethod
	case s.stalled.Load():
		resp = respStalled
	default:
		s.count(p.body)
	}
	return s.reply(c, resp, !p.h.close && !http10)
}

// reply queues an answer, written by flush once every request read so far
// is answered. keep false: close.
func (s *sink) reply(c *sinkConn, resp []byte, keep bool) bool {
	c.out = append(c.out, resp...)
	return keep
}

// flush writes the queued answers: they are small and the client waits for
// them, so the socket takes them whole or the connection is broken.
func (s *sink) flush(c *sinkConn) bool {
	if len(c.out) == 0 {
		return true
	}
	n, err := unix.Write(c.fd, c.out)
	ok := err == nil && n == len(c.out)
	c.out = c.out[:0]
	return ok
}

// The webhook writes each alert's uuid first, so an alert starts with
// uuidKey. Searching for the brace too skips the rest of an alert at once:
// bytes.Index looks for the key's first byte, and a '{' starts only alerts
// and their output_fields, where a '"' is at every key and string.
var (
	uuidKey = []byte(`{"uuid":"`)
	timeKey = []byte(`"time":"`)
)

// count records every alert in body (one alert, or a JSON array of them).
func (s *sink) count(body []byte) {
	now := time.Now()
	var seqs [1024]uint64
	var lats [1024]int32
	n := 0
	for len(body) > 0 {
		i := bytes.Index(body, uuidKey)
		if i < 0 {
			break
		}
		body = body[i+len(uuidKey):]
		if len(body) < 36 {
			break
		}
		seq, err := strconv.ParseUint(string(body[24:36]), 16, 64)
		if err != nil {
			continue
		}
		var lat int32 = -1
		if j := bytes.Index(body, timeKey); j >= 0 {
			rest := body[j+len(timeKey):]
			if k := bytes.IndexByte(rest, '"'); k > 0 {
				if t, err := time.Parse(time.RFC3339Nano, string(rest[:k])); err == nil {
					lat = int32(min(now.Sub(t).Microseconds(), 1<<31-1))
				}
			}
		}
		if n == len(seqs) {
			s.record(seqs[:n], lats[:n], now)
			n = 0
		}
		seqs[n], lats[n] = seq, lat
		n++
	}
	s.record(seqs[:n], lats[:n], now)
}

func (s *sink) record(seqs []uint64, lats []int32, now time.Time) {
	if len(seqs) == 0 {
		return
	}
	s.total.Add(int64(len(seqs)))
	s.mu.Lock()
	fresh := int64(0)
	for i, q := range seqs {
		word := int(q / 64)
		if word >= len(s.seen) {
			grown := make([]uint64, max(word+1, 2*len(s.seen)))
			copy(grown, s.seen)
			s.seen = grown
		}
		bit := uint64(1) << (q % 64)
		if s.seen[word]&bit == 0 {
			s.seen[word] |= bit
			fresh++
			if lats[i] >= 0 {
				s.lat = append(s.lat, lats[i])
			}
		}
	}
	s.mu.Unlock()
	if fresh > 0 {
		s.uniq.Add(fresh)
		s.lastNano.Store(now.UnixNano())
	}
}

func (s *sink) unique() int64 { return s.uniq.Load() }

// takeLatencies returns this phase's latencies (sorted) and starts anew.
func (s *sink) takeLatencies() []int32 {
	s.mu.Lock()
	l := s.lat
	s.lat = nil
	s.mu.Unlock()
	slices.Sort(l)
	return l
}

func percentile(sorted []int32, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return time.Duration(sorted[i]) * time.Microsecond
}
