package webhook

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
)

// rawClient posts to a plain http:// webhook over its own keep-alive
// connections, one request at a time per connection, without net/http's
// Transport: with one request per alert, the Transport's per-request
// goroutine hand-offs (caller → writeLoop → readLoop → caller) cost more
// CPU than the request's own syscalls. The request head is built once; a
// plain success answer is recognized by fastAnswer, any other is parsed by
// net/http's own http.ReadResponse and classified by httpout.Classify. It
// is used only where it cannot behave differently from net/http: no TLS, no
// proxy from the environment, and no custom header net/http treats
// specially; a redirect answer hands the request to net/http (see
// errRedirect).
type rawClient struct {
	addr    string // host:port to dial
	head    []byte // request line and fixed header fields, up to Content-Length's value
	timeout time.Duration
	slots   chan struct{} // bounds connections, as the Transport's MaxConnsPerHost did
	dialer  net.Dialer

	mu     sync.Mutex
	idle   []*rawConn
	closed bool
}

type rawConn struct {
	c         net.Conn
	br        *bufio.Reader // reads through the rawConn (its Read)
	buf       []byte
	idleSince time.Time // when its last answer was read; zero: none yet

	// sc is c's descriptor on the netpoller, nil if c has none. With it,
	// a request on a connection answered within rawFresh is written from
	// inside the read that waits for its answer (see Read): with the
	// request written first, the read that follows it nearly always finds
	// nothing yet, and that empty read was a system call per alert (~1 µs
	// on a paravirtualized guest, plus kernel work).
	sc syscall.RawConn
	// request is written by the next Read before it waits; writeErr is
	// that write's error, reported once the answer (if any) is read.
	request  []byte
	writeErr error
}

func newRawConn(c net.Conn) *rawConn {
	cn := &rawConn{c: c}
	if s, ok := c.(syscall.Conn); ok {
		cn.sc, _ = s.SyscallConn()
	}
	cn.br = bufio.NewReaderSize(cn, 4096)
	return cn
}

// Read reads from the connection. A pending request is written first,
// inside the netpoller's read wait: the wait is armed before the write, so
// the answer's arrival cannot be missed, and the first read happens once
// the answer is there. After a failed or partial write it reads at once:
// a server that answered and closed (say 413 before a large body) is
// heard, and a dead connection reports its error without a wait.
func (cn *rawConn) Read(p []byte) (int, error) {
	if cn.request == nil {
		return cn.c.Read(p)
	}
	var n int
	var rerr error
	err := cn.sc.Read(func(fd uintptr) bool {
		if req := cn.request; req != nil {
			cn.request = nil
			w, werr := syscall.Write(int(fd), req)
			if werr == nil && w == len(req) {
				return false // wait for the answer
			}
			switch {
			case werr == nil || errors.Is(werr, syscall.EAGAIN) || errors.Is(werr, syscall.EINTR):
				// The socket buffer is full: the rest through net, which
				// waits for room (it has its own lock and wait).
				_, cn.writeErr = cn.c.Write(req[max(w, 0):])
			default:
				cn.writeErr = cn.opError("write", os.NewSyscallError("write", werr))
			}
		}
		n, rerr = syscall.Read(int(fd), p)
		return !errors.Is(rerr, syscall.EAGAIN) && !errors.Is(rerr, syscall.EINTR)
	})
	switch {
	case err != nil:
		return 0, cn.opError("read", err) // the deadline, or the connection closed
	case rerr != nil:
		return 0, cn.opError("read", os.NewSyscallError("read", rerr))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// opError wraps err as net's own reads and writes do, so that errors read
// the same whichever path the request took.
func (cn *rawConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: cn.c.LocalAddr(), Addr: cn.c.RemoteAddr(), Err: err}
}

// A connection idle for longer than rawCheckIdle is checked before reuse (a
// read that must find nothing: EOF means the server closed it), as
// net/http's Transport notices a server's close with its read loop; past
// rawMaxIdle it is not reused at all.
const (
	rawCheckIdle = 100 * time.Millisecond
	rawMaxIdle   = 30 * time.Second
)

// rawFresh: a connection answered this recently has its next request
// written from inside the wait for the answer. The wait's arming forgets
// readiness seen before it, so a server's close that arrived before it is
// noticed only by what follows (a reset answering the write); after a
// half-close that never comes, and the request would wait for its timeout.
// A server closing an idle connection within a millisecond of its answer,
// without saying so in it, is rare enough; an older connection is written
// and then read as usual, which sees the close at once.
const rawFresh = time.Millisecond

// rawExcluded are header fields net/http writes itself or that change how
// the request is framed: a custom header with one of these names keeps the
// output on net/http.
var rawExcluded = []string{"Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer",
	"Connection", "Expect", "Te", "Upgrade", "Accept-Encoding", "Proxy-Connection", "Keep-Alive"}

// errRedirect: the server answered with a redirect, which net/http's client
// follows; the caller sends the request again through net/http.
var errRedirect = errors.New("webhook: redirect")

// newRawClient returns nil when c's requests must go through net/http.
func newRawClient(c Config) *rawClient {
	u, err := url.Parse(c.Address)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.Opaque != "" {
		return nil
	}
	if p, err := http.ProxyFromEnvironment(&http.Request{URL: u}); err != nil || p != nil {
		return nil
	}
	hdr := http.Header{"Content-Type": {"application/json"}}
	for k, v := range c.CustomHeaders {
		if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
			return nil
		}
		hdr.Set(k, v) // custom headers override the Content-Type, as setHeaders does
	}
	for _, k := range rawExcluded {
		if _, ok := hdr[k]; ok {
			return nil
		}
	}
	if u.User != nil && hdr.Get("Authorization") == "" {
		// As http.Client does for credentials in the URL.
		pass, _ := u.User.Password()
		hdr.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pass)))
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	host := u.Host
	for i := range len(host) {
		if host[i] >= 0x80 || host[i] <= ' ' {
			return nil // net/http converts IDNs; leave those to it
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: lanner\r\n", c.Method, u.RequestURI(), host)
	for _, k := range slices.Sorted(maps.Keys(hdr)) {
		for _, v := range hdr[k] {
			fmt.Fprintf(&b, "%s: %s\r\n", k, strings.TrimSpace(v))
		}
	}
	b.WriteString("Content-Length: ")
	return &rawClient{
		addr:    net.JoinHostPort(u.Hostname(), port),
		head:    []byte(b.String()),
		timeout: c.Timeout,
		slots:   make(chan struct{}, c.Concurrency),
		dialer:  net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second},
	}
}

func (rc *rawClient) get(now time.Time) *rawConn {
	for {
		rc.mu.Lock()
		if len(rc.idle) == 0 {
			rc.mu.Unlock()
			return nil
		}
		cn := rc.idle[len(rc.idle)-1]
		rc.idle = rc.idle[:len(rc.idle)-1]
		rc.mu.Unlock()
		idle := now.Sub(cn.idleSince)
		if idle < rawCheckIdle || (idle < rawMaxIdle && alive(cn)) {
			return cn
		}
		_ = cn.c.Close()
	}
}

// alive reports whether the server left cn open and sent nothing unasked:
// a non-blocking peek must find no data and no end of stream. (A read with a
// past deadline would not do: Go fails it before any syscall.)
func alive(cn *rawConn) bool {
	if cn.sc == nil || cn.br.Buffered() > 0 {
		return false
	}
	ok := false
	var b [1]byte
	err := cn.sc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = errors.Is(err, syscall.EAGAIN)
		return true // never wait
	})
	return err == nil && ok
}

// put keeps cn for reuse; its idleSince is when its last answer was read.
func (rc *rawClient) put(cn *rawConn) {
	rc.mu.Lock()
	if rc.closed || len(rc.idle) >= cap(rc.slots) {
		rc.mu.Unlock()
		_ = cn.c.Close()
		return
	}
	rc.idle = append(rc.idle, cn)
	rc.mu.Unlock()
}

func (rc *rawClient) close() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.closed = true
	for _, cn := range rc.idle {
		_ = cn.c.Close()
	}
	rc.idle = nil
}

// aLongTimeAgo is a deadline in the past: it makes blocked I/O return now.
var aLongTimeAgo = time.Unix(1, 0)

// post sends body and classifies the answer with classify (httpout.Classify).
func (rc *rawClient) post(ctx context.Context, body []byte, classify func(*http.Response, error) error) error {
	sess, err := rc.acquire(ctx)
	if err != nil {
		return err
	}
	defer sess.release()
	return sess.post(body, classify)
}

// A rawSession holds one of the client's connection slots, and the
// connection in it, for a run of requests: a batch's requests reuse the
// slot and the connection instead of taking both anew per alert (a channel
// operation, the pool's lock and a context registration each, and a park
// for every goroutine that found all slots taken).
type rawSession struct {
	rc   *rawClient
	ctx  context.Context
	cn   *rawConn    // nil: none yet, or the last one could not be reused
	stop func() bool // unregisters cn's cancellation
}

// acquire waits for a free slot; the error is ctx's.
func (rc *rawClient) acquire(ctx context.Context) (*rawSession, error) {
	select {
	case rc.slots <- struct{}{}:
		return &rawSession{rc: rc, ctx: ctx}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// release returns the connection to the pool and frees the slot.
func (s *rawSession) release() {
	if s.cn != nil {
		s.drop(true)
	}
	<-s.rc.slots
}

// drop ends the session's hold on its connection: back to the pool when
// reuse says so and no cancellation touched its deadline, else closed.
func (s *rawSession) drop(reuse bool) {
	if !s.stop() { // cancelled meanwhile: the deadline may be poisoned
		reuse = false
	}
	if reuse {
		s.rc.put(s.cn)
	} else {
		_ = s.cn.c.Close()
	}
	s.cn, s.stop = nil, nil
}

// post sends one request on the session's connection; see postAll.
func (s *rawSession) post(body []byte, classify func(*http.Response, error) error) error {
	var errs [1]error
	s.postAll([][]byte{body}, errs[:], classify)
	return errs[0]
}

// postAll sends bodies as requests on the session's connection (taken from
// the pool or dialed if it has none), pipelined: written together, their
// answers read in order. errs[i] is body i's result. Requests a server
// closed the connection before answering (it said so in an earlier answer,
// as a server does after its keep-alive limit) were not processed: they go
// again at once on a new connection. stalled: an answer timed out after an
// earlier request's answer on the same connection came, the sign of a
// server that drops pipelined requests.
func (s *rawSession) postAll(bodies [][]byte, errs []error, classify func(*http.Response, error) error) (stalled bool) {
	for len(bodies) > 0 {
		n := s.tryAll(bodies, errs, classify)
		if n == 0 || n == len(bodies) {
			return false
		}
		if !errors.Is(errs[n], errUnanswered) {
			var ne net.Error
			return errors.As(errs[n], &ne) && ne.Timeout()
		}
		bodies, errs = bodies[n:], errs[n:]
	}
	return false
}

// tryAll is one attempt of postAll on one connection; it returns how many
// requests were answered (their errs set; the rest are errUnanswered or the
// connection's error).
func (s *rawSession) tryAll(bodies [][]byte, errs []error, classify func(*http.Response, error) error) int {
	fail := func(err error) int {
		for i := range errs {
			errs[i] = err
		}
		return 0
	}
	if err := s.ctx.Err(); err != nil {
		return fail(err)
	}
	rc := s.rc
	now := time.Now()
	if s.cn == nil {
		cn := rc.get(now)
		if cn == nil {
			dctx, cancel := context.WithTimeout(s.ctx, rc.timeout)
			c, err := rc.dialer.DialContext(dctx, "tcp", rc.addr)
			cancel()
			if err != nil {
				return fail(classify(nil, err))
			}
			cn = newRawConn(c)
		}
		s.cn, s.stop = cn, func() bool { return true }
		if s.ctx.Done() != nil {
			s.stop = context.AfterFunc(s.ctx, func() { _ = cn.c.SetDeadline(aLongTimeAgo) })
		}
	}
	cn := s.cn
	if err := s.arm(cn); err != nil {
		s.drop(false)
		return fail(classify(nil, err))
	}
	answered, reuse := s.roundTrip(cn, bodies, errs, now.Sub(cn.idleSince) < rawFresh, classify)
	if err := s.ctx.Err(); err != nil { // cancelled meanwhile: the deadline may be poisoned
		s.drop(false)
		for i, e := range errs {
			if e != nil && !errors.Is(e, errRedirect) {
				errs[i] = fmt.Errorf("%w: %w", err, e)
			}
		}
		return answered
	}
	if reuse {
		cn.idleSince = time.Now()
	} else {
		s.drop(false)
	}
	return answered
}

// arm gives cn the timeout from now (or the context's deadline, if sooner).
// A cancellation that set cn's deadline just before is not undone: the
// context is checked after.
func (s *rawSession) arm(cn *rawConn) error {
	d := time.Now().Add(s.rc.timeout)
	if cd, ok := s.ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	if err := cn.c.SetDeadline(d); err != nil {
		return err
	}
	if s.ctx.Err() != nil {
		return cn.c.SetDeadline(aLongTimeAgo)
	}
	return nil
}

// errUnanswered: the server closed the connection, as an earlier answer on
// it said it would, before answering this pipelined request.
var errUnanswered = errors.New("connection closed by the server before this request's answer")

// errConnectionEnded: an earlier answer on the connection could not be read
// to its end (over 64 KiB, or the connection failed partway), so the
// answers after it cannot be found.
var errConnectionEnded = errors.New("connection ended after an earlier answer, before this request's answer")

// roundTrip writes the requests and reads their answers into errs; it
// returns how many were answered, and whether the connection is clean for
// the next request: nothing left unread, since bytes a server sent past its
// answers would be read as the next one's (so a request starts on an empty
// buffer, and its first read is rawConn.Read). fresh: the connection was
// answered within rawFresh (see there). Each answer after the first gets
// the timeout from the one before it: a server answers pipelined requests
// one after another, and the timeout is per request.
func (s *rawSession) roundTrip(cn *rawConn, bodies [][]byte, errs []error, fresh bool, classify func(*http.Response, error) error) (answered int, reuse bool) {
	rc := s.rc
	cn.buf = cn.buf[:0]
	size := 0
	for _, body := range bodies {
		size += len(body)
	}
	var bufs net.Buffers // bodies too large to copy: one writev
	for _, body := range bodies {
		cn.buf = append(cn.buf, rc.head...)
		cn.buf = strconv.AppendInt(cn.buf, int64(len(body)), 10)
		cn.buf = append(cn.buf, "\r\n\r\n"...)
		if size <= 64<<10 {
			cn.buf = append(cn.buf, body...)
		} else {
			bufs = append(bufs, cn.buf, body)
			cn.buf = cn.buf[len(cn.buf):]
		}
	}
	switch {
	case bufs != nil:
		_, cn.writeErr = bufs.WriteTo(cn.c)
	case fresh && cn.sc != nil:
		// Written by the read that waits for the answer (rawConn.Read).
		cn.request, cn.writeErr = cn.buf, nil
	default:
		_, cn.writeErr = cn.c.Write(cn.buf)
	}
	if cap(cn.buf) > 64<<10 {
		cn.buf = nil
	}
	for i := range bodies {
		if i > 0 && cn.br.Buffered() == 0 {
			_ = s.arm(cn) // an error shows in the read
		}
		if cn.writeErr == nil && fastAnswer(cn.br) {
			errs[i] = nil
			continue
		}
		got, ok, closing, err := readAnswer(cn, classify)
		errs[i] = err
		if ok {
			continue
		}
		// The connection ends here: the requests after this one get no
		// answer. Not processed if the server said it closes; otherwise
		// their fate is unknown, which a retry covers.
		rest := err // the connection's own error, if no answer came
		switch {
		case closing:
			rest = errUnanswered
		case got && cn.writeErr != nil:
			rest = classify(nil, cn.writeErr)
		case got:
			rest = errConnectionEnded
		}
		for j := i + 1; j < len(bodies); j++ {
			errs[j] = rest
		}
		if got {
			return i + 1, false
		}
		return i, false
	}
	return len(bodies), cn.writeErr == nil && cn.br.Buffered() == 0
}

// readAnswer reads an answer that fastAnswer did not take. got: an answer
// came (err is its verdict; otherwise the connection's error); ok: the
// connection can carry the answer to the next request; closing: the answer
// was whole and said the server closes the connection after it.
func readAnswer(cn *rawConn, classify func(*http.Response, error) error) (got, ok, closing bool, err error) {
	// Still set if the read failed before its wait (a deadline, a closed
	// connection): not sent, and the read's error is the answer.
	cn.request = nil
	writeErr := cn.writeErr
	var resp *http.Response
	for {
		resp, err = http.ReadResponse(cn.br, nil)
		if err != nil {
			if writeErr != nil {
				err = writeErr
			}
			return false, false, false, classify(nil, err)
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		_ = resp.Body.Close() // 1xx: the final answer follows
	}
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		if resp.Header.Get("Location") != "" {
			err = errRedirect
		}
	}
	if err == nil {
		// A server may answer (say 413) and close before reading a large
		// body, failing the write: its answer counts, as with net/http.
		err = classify(resp, nil)
	}
	whole, keep := drain(resp)
	return true, writeErr == nil && whole && keep, whole && !keep, err
}

// drain reads what is left of the answer (bounded, as httpout.DrainClose):
// whole, the answer was read to its end; keep, the server keeps the
// connection open after it.
func drain(resp *http.Response) (whole, keep bool) {
	n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10+1))
	_ = resp.Body.Close()
	return err == nil && n <= 64<<10, !resp.Close
}
