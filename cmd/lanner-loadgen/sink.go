package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// sink is the webhook receiver: it counts alerts (exactly, by the sequence
// number in their uuid), records ingest-to-delivery latency from each alert's
// time, and can be stalled (503) to build a backlog. It is a lean HTTP/1.1
// server (http1.go) rather than net/http, so that it costs the shared 2 cores
// as little as a sink can while still parsing every request properly.
type sink struct {
	ln      net.Listener
	url     string
	stalled atomic.Bool

	total    atomic.Int64 // deliveries, duplicates included
	uniq     atomic.Int64
	lastNano atomic.Int64 // arrival of the last new alert
	requests atomic.Int64
	bad      atomic.Int64 // requests that failed to parse

	mu    sync.Mutex
	seen  []uint64 // bitset of sequence numbers
	lat   []int32  // microseconds, this phase
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// sinkMaxBody bounds one request body: a batch-mode delivery of 500 alerts
// is ~700 KB.
const sinkMaxBody = 64 << 20

func newSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{ln: ln, url: "http://" + ln.Addr().String() + "/", conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept() // owned by sink; ends on close
	return s, nil
}

func (s *sink) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.conns == nil { // closed
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serveConn(c) // owned by sink; ends when the peer or close ends the connection
	}
}

func (s *sink) close() {
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	s.wg.Wait()
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

// serveConn answers requests one at a time on one keep-alive connection.
func (s *sink) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		if s.conns != nil {
			delete(s.conns, c)
		}
		s.mu.Unlock()
		_ = c.Close()
	}()
	br := bufio.NewReaderSize(c, 16<<10)
	var h head
	var body []byte
	for {
		if err := readHead(br, &h); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.bad.Add(1)
				_, _ = c.Write(respBad)
			}
			return
		}
		method, _, http10, err := requestLine(h.start)
		if err != nil {
			s.bad.Add(1)
			_, _ = c.Write(respBad)
			return
		}
		s.requests.Add(1)
		if !h.chunked && h.length < 0 && (string(method) == "POST" || string(method) == "PUT") {
			_, _ = c.Write(respLengthReq)
			return
		}
		if h.length > sinkMaxBody {
			_, _ = c.Write(respTooLarge)
			return
		}
		if h.expect100 {
			if _, err := c.Write(respContinue); err != nil {
				return
			}
		}
		body, err = readBody(br, &h, body[:0], sinkMaxBody)
		if err != nil {
			s.bad.Add(1)
			_, _ = c.Write(respBad)
			return
		}
		resp := respOK
		switch {
		case string(method) != "POST" && string(method) != "PUT":
			resp = respNoMethod
		case s.stalled.Load():
			resp = respStalled
		default:
			s.count(body)
		}
		if _, err := c.Write(resp); err != nil || h.close || http10 {
			return
		}
		if cap(body) > 4<<20 {
			body = nil // let a rare huge batch buffer go
		}
	}
}

var (
	uuidKey = []byte(`"uuid":"`)
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
