package main

import (
	"bytes"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// sink is the webhook receiver: it counts alerts (exactly, by the sequence
// number in their uuid), records ingest-to-delivery latency from each alert's
// time, and can be stalled (503) to build a backlog.
type sink struct {
	srv     *http.Server
	url     string
	stalled atomic.Bool

	total    atomic.Int64 // deliveries, duplicates included
	uniq     atomic.Int64
	lastNano atomic.Int64 // arrival of the last new alert

	mu   sync.Mutex
	seen []uint64 // bitset of sequence numbers
	lat  []int32  // microseconds, this phase
	bufs sync.Pool
}

func newSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{url: "http://" + ln.Addr().String() + "/"}
	s.bufs.New = func() any { return new(bytes.Buffer) }
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }() // owned by sink; ends on close
	return s, nil
}

func (s *sink) close() { _ = s.srv.Close() }

var (
	uuidKey = []byte(`"uuid":"`)
	timeKey = []byte(`"time":"`)
)

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	if s.stalled.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	buf := s.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer s.bufs.Put(buf)
	if _, err := buf.ReadFrom(r.Body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	now := time.Now()
	body := buf.Bytes()
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
