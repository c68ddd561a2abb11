//go:build linux

package ingest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/sys/unix"

	"github.com/lannerhq/lanner/alert"
)

// The fast path: Falco's http_output posts one small alert per request on a
// keep-alive connection, and on 2 cores net/http's own per-request work (a
// Request, a header map and a response per request, a background read
// goroutine and its extra read syscall, deadline juggling) was a large share
// of the router's CPU per alert. FastListener answers exactly that request —
// POST / over plain HTTP/1.1 with a Content-Length (Expect: 100-continue
// allowed) and, when auth is on, the right token — itself, with one read
// and one write per request, and the requests that arrive together queued
// with one Submit (see reactor). Anything else (another path or method,
// chunked or gzip bodies, Connection: close, HTTP/1.0, a wrong token, a body
// over the limit, a head and body over fastBufSize) is handed, with every byte
// read so far, to the net/http server that accepts from the listener, which
// then serves that connection for the rest of its life. So every other
// endpoint and most error answers stay net/http's; the fast path's 200, 400
// (a bad alert) and 503 answers are written by the same handler code
// (submitOne, rejectOne) and are byte-identical to net/http's (tested), the
// Date's value aside.

// fastBufSize bounds the head and body a connection's fast path takes: most
// Falco alerts are 1–3 KiB; larger requests go to net/http.
const fastBufSize = 8 << 10

const (
	// fastMaxGroups bounds the groups of requests being queued at once;
	// requests completed meanwhile wait and form the next group, so a
	// loaded router queues many requests per Submit.
	fastMaxGroups = 4
	// fastMaxGroup bounds one group's requests.
	fastMaxGroup = 1024
)

// FastListener wraps a plain TCP listener (not TLS) for an http.Server whose
// handler has h registered: the server must Serve the returned listener.
// Close (called by the server's Shutdown or Close) stops accepting, closes
// idle fast-path connections and waits for requests in progress. Where
// epoll cannot be set up it returns ln, and net/http serves everything.
func (h *HTTP) FastListener(ln net.Listener, cfg FastConfig) net.Listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &fastListener{
		Listener: ln, h: h, cfg: cfg,
		handoff: make(chan net.Conn), acceptErr: make(chan error), done: make(chan struct{}),
		ctx: ctx, cancel: cancel,
	}
	r, err := newReactor(l)
	if err != nil {
		cancel()
		h.cfg.Logger.Warn("ingest: no fast path for POST /, net/http serves it", "err", err)
		return ln
	}
	l.r = r
	l.acceptWG.Add(1)
	l.wg.Add(1)
	go l.acceptLoop() // owned by l; ends when Close closes ln
	go r.run()        // owned by l; ends once Close was called and every connection is done
	return l
}

type fastListener struct {
	net.Listener // Addr
	h            *HTTP
	cfg          FastConfig
	r            *reactor
	handoff      chan net.Conn // connections for net/http's Accept
	acceptErr    chan error
	done         chan struct{} // closed by Close
	closeOnce    sync.Once
	ctx          context.Context // for Submit; cancelled once Close is done
	cancel       context.CancelFunc
	acceptWG     sync.WaitGroup // acceptLoop
	wg           sync.WaitGroup // the reactor

	served  atomic.Int64 // requests answered by the fast path (tests)
	handed  atomic.Int64 // connections handed to net/http (tests)
	waited  atomic.Int64 // answers the socket did not take at once (tests)
	dateMu  sync.Mutex
	dateSec int64
	date    []byte // "Date: ...\r\n" for dateSec
}

// Accept returns the connections the fast path hands over.
func (l *fastListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.handoff:
		return c, nil
	case err := <-l.acceptErr:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *fastListener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.done)
		err = l.Listener.Close()
		l.acceptWG.Wait() // no connection is added after this
		l.r.post(func(r *reactor) { r.closing = true })
		l.wg.Wait()
		l.cancel()
	})
	return err
}

func (l *fastListener) acceptLoop() {
	defer l.acceptWG.Done()
	var backoff time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			// net/http decides (it retries temporary errors and stops on the
			// others); this loop backs off as net/http does meanwhile.
			select {
			case l.acceptErr <- err:
			case <-l.done:
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
			case <-l.done:
				return
			}
			continue
		}
		backoff = 0
		fd, err := takeFD(c)
		if err != nil {
			// Not a socket epoll can watch: net/http serves it.
			l.handOff(&replayConn{Conn: c})
			continue
		}
		remote := c.RemoteAddr().String()
		_ = c.Close() // the fast path's duplicate keeps the socket open
		l.r.post(func(r *reactor) { r.add(fd, remote) })
	}
}

// takeFD duplicates c's socket for the reactor. The descriptors share the
// open file, so the duplicate is non-blocking like the original.
func takeFD(c net.Conn) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, errors.New("not a syscall.Conn")
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

// handOff gives c to net/http; it waits for net/http's Accept, or for Close.
func (l *fastListener) handOff(c net.Conn) {
	select {
	case l.handoff <- c:
		l.handed.Add(1)
	case <-l.done:
		_ = c.Close()
	}
}

// The reactor: one goroutine reads every fast-path connection through an
// epoll set, which Go's netpoller watches as one descriptor. Each round it
// reads whatever requests arrived, decodes them, and queues all the
// complete ones with one Submit on a goroutine of their own, which then
// writes the answers. With a goroutine per connection, each request cost
// two parks and wakeups (waiting for its bytes, waiting for its group's
// fsync), a deadline update and a buffer and stack of its own to bring
// back into cache.
type reactor struct {
	l      *fastListener
	m      *Metrics
	ep     int      // epoll set of the connections and wake
	epf    *os.File // ep, registered with Go's netpoller
	wake   int      // eventfd in ep: something was posted
	events []unix.EpollEvent
	rbuf   []byte // every read lands here first

	mu     sync.Mutex
	posted []func(*reactor) // run by the reactor goroutine

	// Owned by the reactor goroutine.
	conns    map[int]*fastConn
	pending  []fastReq // complete requests not yet submitted
	inflight int       // groups being submitted
	closing  bool
	tick     time.Duration // tickFor(cfg)
	ticking  bool          // a deadline tick is armed
}

type connState uint8

const (
	connIdle    connState = iota // between requests, or part of one read
	connBusy                     // its request is being queued and answered
	connWriting                  // its answer did not fit the socket buffer
)

type fastConn struct {
	fd       int
	remote   string
	state    connState
	buf      []byte    // bytes read and not yet used (a request in part; pipelined ones)
	out      []byte    // the rest of an answer (connWriting)
	t0       time.Time // the current request's first byte
	deadline time.Time // zero: none
	sent100  bool      // 100 Continue written for the current request
	readable bool      // an edge arrived while busy: read when done
	hup      bool      // the client shut down its sending side (or the socket failed)
	gone     bool      // closed, or handed to net/http
}

// fastReq is one complete request of a group, and then its answer's fate.
type fastReq struct {
	c      *fastConn
	t0     time.Time
	alert  *alert.Alert
	bad    error  // the body did not decode: 400
	rest   []byte // answer bytes the socket did not take
	failed bool   // the answer could not be written: close
}

type fastGroup struct{ reqs []fastReq }

func newReactor(l *fastListener) (*reactor, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(ep)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	fail := func(err error) (*reactor, error) {
		unix.Close(ep)
		unix.Close(wake)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(wake)}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		return fail(fmt.Errorf("epoll_ctl: %w", err))
	}
	if err := unix.SetNonblock(ep, true); err != nil {
		return fail(fmt.Errorf("epoll: %w", err))
	}
	r := &reactor{l: l, m: l.h.cfg.Metrics, ep: ep, wake: wake, events: make([]unix.EpollEvent, 256),
		rbuf: make([]byte, 64<<10), conns: map[int]*fastConn{}, tick: tickFor(l.cfg)}
	r.epf = os.NewFile(uintptr(ep), "epoll") // non-blocking: the netpoller watches it
	if err := r.epf.SetReadDeadline(time.Time{}); err != nil {
		// Not on the netpoller (it refused the set): run would fail.
		_ = r.epf.Close()
		unix.Close(wake)
		return nil, fmt.Errorf("epoll set not pollable: %w", err)
	}
	return r, nil
}

// post runs f on the reactor goroutine.
func (r *reactor) post(f func(*reactor)) {
	r.mu.Lock()
	r.posted = append(r.posted, f)
	r.mu.Unlock()
	var one = [8]byte{1}
	_, _ = unix.Write(r.wake, one[:]) // cannot block: the counter is far from full
}

func (r *reactor) run() {
	defer r.l.wg.Done()
	defer func() {
		_ = r.epf.Close()
		_ = unix.Close(r.wake)
	}()
	raw, err := r.epf.SyscallConn()
	if err != nil {
		panic(err) // an *os.File always has one
	}
	for {
		var n int
		var werr error
		err := raw.Read(func(uintptr) bool {
			n, werr = unix.EpollWait(r.ep, r.events, 0)
			// Nothing ready: park until the netpoller sees the set readable.
			return werr != nil || n > 0
		})
		now := time.Now()
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			// Only a closed epf fails a wait, and only run closes it.
			panic(fmt.Sprintf("ingest: waiting on the epoll set: %v", err))
		}
		if err == nil && werr != nil && !errors.Is(werr, unix.EINTR) {
			r.l.h.cfg.Logger.Error("ingest: epoll_wait failed", "err", werr)
			time.Sleep(10 * time.Millisecond) // not expected; do not spin
		}
		for _, ev := range r.events[:max(n, 0)] {
			fd := int(ev.Fd)
			if fd == r.wake {
				r.runPosted()
				continue
			}
			c := r.conns[fd]
			if c == nil {
				continue // closed earlier in this round
			}
			if ev.Events&unix.EPOLLOUT != 0 && c.state == connWriting {
				r.flush(c, now)
			}
			if ev.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				c.hup = true
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				r.readable(c, now)
			}
		}
		expired := errors.Is(err, os.ErrDeadlineExceeded)
		if expired {
			r.ticking = false
			r.expire(now)
		}
		r.dispatch()
		if r.closing {
			r.closeIdle()
			if len(r.conns) == 0 && r.inflight == 0 {
				return
			}
		}
		r.armTick(now, expired)
	}
}

func (r *reactor) runPosted() {
	var cnt [8]byte
	_, _ = unix.Read(r.wake, cnt[:])
	r.mu.Lock()
	fs := r.posted
	r.posted = nil
	r.mu.Unlock()
	for _, f := range fs {
		f(r)
	}
}

func (r *reactor) add(fd int, remote string) {
	if r.closing {
		_ = unix.Close(fd)
		return
	}
	c := &fastConn{fd: fd, remote: remote}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd)}
	if err := unix.EpollCtl(r.ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		r.l.h.cfg.Logger.Warn("ingest: cannot watch connection", "remote", remote, "err", err)
		_ = unix.Close(fd)
		return
	}
	r.conns[fd] = c
	r.m.FastConnections.Inc()
	r.idle(c, time.Now())
}

// idle makes c wait for its next request.
func (r *reactor) idle(c *fastConn, now time.Time) {
	c.state, c.t0, c.sent100, c.deadline = connIdle, time.Time{}, false, time.Time{}
	if d := r.l.cfg.IdleTimeout; d > 0 {
		c.deadline = now.Add(d)
	}
}

func (r *reactor) close(c *fastConn) {
	c.gone = true
	_ = unix.Close(c.fd) // also leaves the epoll set: no other descriptor shares the socket
	delete(r.conns, c.fd)
	r.m.FastConnections.Dec()
}

// readable reads what c has and takes its next request, if complete.
func (r *reactor) readable(c *fastConn, now time.Time) {
	if c.gone {
		return // closed earlier in this round (by flush)
	}
	if c.state != connIdle {
		c.readable = true
		return
	}
	data := c.buf
	for {
		n, err := unix.Read(c.fd, r.rbuf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.EAGAIN) {
			break
		}
		if err != nil { // reset
			r.close(c)
			return
		}
		if n == 0 {
			c.hup = true // the client sends nothing more
			break
		}
		if len(data) == 0 && n < len(r.rbuf) && !c.hup {
			data = r.rbuf[:n] // the usual case: one read, no copy
			break
		}
		c.buf = append(c.buf, r.rbuf[:n]...)
		data = c.buf
		// A short read drained the socket; after a hangup, read on to
		// the end.
		if (n < len(r.rbuf) && !c.hup) || len(data) > fastBufSize {
			break
		}
	}
	if len(data) > 0 {
		r.take(c, data, now)
	}
	if c.hup && !c.gone && c.state == connIdle {
		// A request in part can never complete: net/http closes too.
		r.close(c)
	}
}

// take parses the request at the start of data (c.buf or the shared read
// buffer): a complete one joins the pending group, one in part is kept,
// anything else goes to net/http.
func (r *reactor) take(c *fastConn, data []byte, now time.Time) {
	if len(data) == 0 {
		return
	}
	if c.t0.IsZero() {
		c.t0 = now
	}
	i := bytes.Index(data[:min(len(data), fastBufSize)], []byte("\r\n\r\n"))
	if i < 0 {
		if len(data) >= fastBufSize {
			r.handOff(c, data) // a head this large: net/http knows the limits
			return
		}
		r.keep(c, data)
		if d := cmp.Or(r.l.cfg.ReadHeaderTimeout, r.l.cfg.ReadTimeout); d > 0 {
			c.deadline = c.t0.Add(d)
		} else {
			c.deadline = time.Time{}
		}
		return
	}
	headLen := i + 4
	h := r.l.h
	fh, ok := parseFastHead(data[:headLen], h.cfg.MaxBodyBytes)
	total := headLen + int(fh.length)
	if !ok || total > fastBufSize || !h.cfg.Token.CheckHeader(string(fh.auth)) {
		r.handOff(c, data) // net/http answers (401 for a wrong token)
		return
	}
	if fh.expect && fh.length > 0 && !c.sent100 {
		// As net/http does when a handler starts reading such a body.
		c.sent100 = true
		if w, err := unix.Write(c.fd, continue100); err != nil || w != len(continue100) {
			r.close(c)
			return
		}
	}
	if len(data) < total {
		r.keep(c, data)
		c.deadline = time.Time{} // no idle or header deadline on the body
		if d := r.l.cfg.ReadTimeout; d > 0 {
			c.deadline = c.t0.Add(d)
		}
		return
	}
	q := fastReq{c: c, t0: c.t0}
	// Decode copies what it keeps: data may be the shared read buffer.
	q.alert, q.bad = alert.Decode(data[headLen:total])
	r.keep(c, data[total:]) // pipelined requests wait for this answer
	c.state, c.deadline, c.readable = connBusy, time.Time{}, false
	r.pending = append(r.pending, q)
}

// keep makes data, all or part of c.buf or the shared read buffer, c's
// unread bytes (append's copy is a memmove: a tail of c.buf moves down).
func (r *reactor) keep(c *fastConn, data []byte) {
	if len(data) == 0 {
		c.buf = c.buf[:0]
		if cap(c.buf) > fastBufSize {
			c.buf = nil // an idle connection keeps no large buffer
		}
		return
	}
	c.buf = append(c.buf[:0], data...)
}

// handOff gives c to net/http with the bytes read so far.
func (r *reactor) handOff(c *fastConn, data []byte) {
	buffered := slices.Clone(data)
	c.gone = true
	delete(r.conns, c.fd)
	r.m.FastConnections.Dec()
	r.m.FastHandoffs.Inc()
	_ = unix.EpollCtl(r.ep, unix.EPOLL_CTL_DEL, c.fd, nil)
	f := os.NewFile(uintptr(c.fd), "")
	nc, err := net.FileConn(f) // its own duplicate, on Go's netpoller
	_ = f.Close()
	if err != nil {
		r.l.h.cfg.Logger.Warn("ingest: cannot hand a connection to net/http", "remote", c.remote, "err", err)
		return
	}
	go r.l.handOff(&replayConn{Conn: nc, buf: buffered}) // ends on Accept or Close
}

// dispatch submits the pending requests as one group, unless enough groups
// are in flight: then they wait and grow.
func (r *reactor) dispatch() {
	if len(r.pending) == 0 || r.inflight >= fastMaxGroups {
		return
	}
	n := min(len(r.pending), fastMaxGroup)
	g := &fastGroup{reqs: slices.Clone(r.pending[:n])}
	r.pending = append(r.pending[:0], r.pending[n:]...)
	r.inflight++
	r.m.FastGroup.Observe(float64(n))
	go r.submit(g) // ends after writing the group's answers
}

// submit queues a group's alerts with one Submit and writes the answers.
// The group's connections are busy: the reactor does not touch them until
// finished runs.
func (r *reactor) submit(g *fastGroup) {
	l := r.l
	h := l.h
	alerts := make([]*alert.Alert, 0, len(g.reqs))
	for _, q := range g.reqs {
		if q.bad == nil {
			q.alert.EnsureUUID()
			alerts = append(alerts, q.alert)
		}
	}
	var res []Result
	var err error
	if len(alerts) > 0 {
		res, err = h.cfg.Pipeline.Submit(l.ctx, alerts)
	}
	w := &fastResponse{hdr: http.Header{}}
	var out []byte
	// One clock reading and Date line for the group: its answers are
	// written within microseconds of each other.
	now := time.Now()
	var dateBuf [64]byte
	date := l.appendDate(dateBuf[:0], now)
	k := 0
	for i := range g.reqs {
		q := &g.reqs[i]
		w.reset()
		switch {
		case q.bad != nil:
			h.rejectOne(w, q.c.remote, q.bad)
		case err != nil && len(alerts) > 1:
			// One failure for the whole group: each alert alone, so that
			// only what really cannot be queued fails (a rare path).
			h.submitOne(l.ctx, w, endpointOne, q.alert)
			k++
		default:
			var rs Result
			if err == nil {
				rs = res[k]
			}
			h.answerOne(w, endpointOne, q.alert, rs, err)
			k++
		}
		out = w.appendTo(out[:0], date)
		if d := l.cfg.WriteTimeout; d > 0 && now.After(q.t0.Add(d)) {
			q.failed = true // as a write past net/http's write deadline
			continue
		}
		l.served.Add(1)
		r.m.FastLatency.Observe(now.Sub(q.t0).Seconds())
		n, werr := unix.Write(q.c.fd, out)
		switch {
		case werr != nil && !errors.Is(werr, unix.EAGAIN):
			q.failed = true
		case n < len(out):
			q.rest = slices.Clone(out[max(n, 0):])
			l.waited.Add(1)
		}
	}
	r.post(func(r *reactor) { r.finished(g) })
}

// finished takes back a group's connections.
func (r *reactor) finished(g *fastGroup) {
	r.inflight--
	now := time.Now()
	for i := range g.reqs {
		q := &g.reqs[i]
		c := q.c
		switch {
		case q.failed:
			r.close(c)
		case len(q.rest) > 0:
			c.state, c.out = connWriting, q.rest
			c.deadline = time.Time{}
			if d := r.l.cfg.WriteTimeout; d > 0 {
				c.deadline = q.t0.Add(d)
			}
			ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(c.fd)}
			if err := unix.EpollCtl(r.ep, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
				r.close(c)
			}
		default:
			r.next(c, now)
		}
	}
}

// next makes c idle after an answer and takes what it sent meanwhile.
func (r *reactor) next(c *fastConn, now time.Time) {
	r.idle(c, now)
	if r.closing {
		r.close(c)
		return
	}
	if c.readable || c.hup {
		c.readable = false
		r.readable(c, now)
	} else if len(c.buf) > 0 {
		r.take(c, c.buf, now)
	}
}

// flush writes the rest of an answer once the socket takes it.
func (r *reactor) flush(c *fastConn, now time.Time) {
	n, err := unix.Write(c.fd, c.out)
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		r.close(c)
		return
	}
	c.out = c.out[max(n, 0):]
	if len(c.out) > 0 {
		return
	}
	c.out = nil
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(c.fd)}
	if err := unix.EpollCtl(r.ep, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		r.close(c)
		return
	}
	r.next(c, now)
}

// expire closes the connections whose idle, header, read or write deadline
// passed.
func (r *reactor) expire(now time.Time) {
	for _, c := range r.conns {
		if c.state != connBusy && !c.deadline.IsZero() && !now.Before(c.deadline) {
			r.close(c)
		}
	}
}

// closeIdle closes, once Close was called, every connection not serving a
// request (idle, or still reading one: as net/http, which only waits for
// requests being handled).
func (r *reactor) closeIdle() {
	for _, c := range r.conns {
		if c.state == connIdle && len(c.buf) == 0 {
			r.close(c)
		}
	}
}

// armTick wakes the reactor r.tick from now while it has connections. A
// tick that fired is cleared otherwise: a past deadline fails every wait.
func (r *reactor) armTick(now time.Time, fired bool) {
	switch {
	case r.tick == 0 || r.ticking:
	case len(r.conns) > 0:
		r.ticking = true
		_ = r.epf.SetReadDeadline(now.Add(r.tick))
	case fired:
		_ = r.epf.SetReadDeadline(time.Time{})
	}
}

// tickFor is how often deadlines are checked: a tenth of the shortest
// timeout, within [10ms, 1s]; 0 (never) when there are none.
func tickFor(cfg FastConfig) time.Duration {
	shortest := time.Duration(0)
	for _, d := range []time.Duration{cfg.ReadHeaderTimeout, cfg.ReadTimeout, cfg.WriteTimeout, cfg.IdleTimeout} {
		if d > 0 && (shortest == 0 || d < shortest) {
			shortest = d
		}
	}
	if shortest == 0 {
		return 0
	}
	return min(max(shortest/10, 10*time.Millisecond), time.Second)
}

// appendDate appends the Date header net/http would send, formatted once a
// second.
func (l *fastListener) appendDate(b []byte, now time.Time) []byte {
	sec := now.Unix()
	l.dateMu.Lock()
	if sec != l.dateSec || l.date == nil {
		l.dateSec = sec
		l.date = append(append(l.date[:0], "Date: "...), now.UTC().Format(http.TimeFormat)...)
		l.date = append(l.date, "\r\n"...)
	}
	b = append(b, l.date...)
	l.dateMu.Unlock()
	return b
}

// fastHead is what the fast path needs from a request head.
type fastHead struct {
	length int64
	auth   []byte // the first Authorization value
	expect bool   // Expect: 100-continue
}

var (
	postRoot    = []byte("POST / HTTP/1.1\r\n")
	continue100 = []byte("HTTP/1.1 100 Continue\r\n\r\n")
)

// parseFastHead accepts only heads it can serve exactly as net/http would:
// POST / HTTP/1.1, one Host, one Content-Length within limit, header names
// and values net/http accepts, at most Expect: 100-continue, and none of the
// fields that change how the body is read or the connection is kept
// (Transfer-Encoding, Content-Encoding other than identity, Connection other
// than keep-alive, Upgrade, Trailer). false: let net/http handle the request.
func parseFastHead(head []byte, limit int64) (fastHead, bool) {
	fh := fastHead{length: -1}
	if !bytes.HasPrefix(head, postRoot) {
		return fh, false
	}
	rest := head[len(postRoot) : len(head)-2] // through the last field's CRLF
	hosts := 0
	for len(rest) > 0 {
		i := bytes.Index(rest, []byte("\r\n"))
		if i < 0 {
			return fh, false
		}
		line := rest[:i]
		rest = rest[i+2:]
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || !httpguts.ValidHeaderFieldName(string(name)) {
			return fh, false // also rejects obs-fold (leading whitespace)
		}
		value = bytes.Trim(value, " \t")
		if !httpguts.ValidHeaderFieldValue(string(value)) || bytes.ContainsAny(value, "\r\n") {
			return fh, false
		}
		switch {
		case asciiEqualFold(name, "Host"):
			hosts++
			if !httpguts.ValidHostHeader(string(value)) {
				return fh, false
			}
		case asciiEqualFold(name, "Content-Length"):
			if fh.length >= 0 || len(value) == 0 || len(value) > 10 {
				return fh, false
			}
			n := int64(0)
			for _, c := range value {
				if c < '0' || c > '9' {
					return fh, false
				}
				n = n*10 + int64(c-'0')
			}
			fh.length = n
		case asciiEqualFold(name, "Authorization"):
			if fh.auth == nil {
				fh.auth = value
			}
		case asciiEqualFold(name, "Content-Encoding"):
			if !asciiEqualFold(value, "identity") {
				return fh, false
			}
		case asciiEqualFold(name, "Connection"):
			if !asciiEqualFold(value, "keep-alive") {
				return fh, false
			}
		case asciiEqualFold(name, "Expect"):
			// curl sends 100-continue with larger bodies; any other
			// expectation is net/http's 417.
			if fh.expect || !asciiEqualFold(value, "100-continue") {
				return fh, false
			}
			fh.expect = true
		case asciiEqualFold(name, "Transfer-Encoding"),
			asciiEqualFold(name, "Upgrade"), asciiEqualFold(name, "Trailer"):
			return fh, false
		}
	}
	if hosts != 1 || fh.length < 0 || fh.length > limit {
		return fh, false
	}
	if fh.auth == nil {
		fh.auth = []byte{}
	}
	return fh, true
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// fastResponse is the http.ResponseWriter the fast path hands the
// handler code: it collects the status, headers and body, which the
// reactor's submit writes at once.
type fastResponse struct {
	hdr  http.Header
	code int
	body []byte
}

func (w *fastResponse) reset() {
	clear(w.hdr)
	w.code = 0
	w.body = w.body[:0]
}

func (w *fastResponse) Header() http.Header { return w.hdr }

func (w *fastResponse) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *fastResponse) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.body = append(w.body, b...)
	return len(b), nil
}

// appendTo appends the answer to b: status line, the handler's header
// fields (sorted), the Date line and the body, in net/http's order.
func (w *fastResponse) appendTo(b, date []byte) []byte {
	code := w.code
	if code == 0 {
		code = http.StatusOK
	}
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(code)...)
	b = append(b, "\r\n"...)
	if _, ok := w.hdr["Content-Length"]; !ok {
		w.hdr["Content-Length"] = []string{strconv.Itoa(len(w.body))}
	}
	var keyBuf [8]string // on the stack: a returned slice would escape
	keys := keyBuf[:0]
	for k := range w.hdr {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range w.hdr[k] {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	b = append(b, date...) // after the handler's fields, as net/http writes it
	b = append(b, "\r\n"...)
	return append(b, w.body...)
}

// replayConn gives net/http the bytes the fast path read before the rest of
// the connection.
type replayConn struct {
	net.Conn
	buf []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.buf) > 0 {
		n := copy(p, c.buf)
		c.buf = c.buf[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite keeps net/http's half-close after an error answer (so the client
// reads it before the connection resets).
func (c *replayConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("ingest: connection cannot half-close")
}
