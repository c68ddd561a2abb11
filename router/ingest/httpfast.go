package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/lannerhq/lanner/alert"
)

// The fast path: Falco's http_output posts one small alert per request on a
// keep-alive connection, and on 2 cores net/http's own per-request work (a
// Request, a header map and a response per request, a background read
// goroutine and its extra read syscall, deadline juggling) was a large share
// of the router's CPU per alert. FastListener answers exactly that request —
// POST / over plain HTTP/1.1 with a Content-Length (Expect: 100-continue
// allowed) and, when auth is on, the right token — itself, with one write
// per answer. Anything else (another path or method, chunked or gzip bodies,
// Connection: close, HTTP/1.0, a wrong token, a body over the limit, a head
// and body larger than the connection's buffer) is handed, with every byte
// read so far, to the net/http server that accepts from the listener, which
// then serves that connection for the rest of its life. So every other
// endpoint and most error answers stay net/http's; the fast path's 200, 400
// (a bad alert) and 503 answers are written by the same handler code
// (submitOne, rejectOne) and are byte-identical to net/http's (tested), the
// Date's value aside.

// FastConfig carries the net/http server's timeouts, which the fast path
// applies the same way. Zero means none.
type FastConfig struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
}

// fastBufSize bounds the head and body a connection's fast path takes: most
// Falco alerts are 1–3 KiB; larger requests go to net/http. It is also the
// memory an idle connection holds (net/http's reader holds 4 KiB).
const fastBufSize = 8 << 10

// FastListener wraps a plain TCP listener (not TLS) for an http.Server whose
// handler has h registered: the server must Serve the returned listener.
// Close (called by the server's Shutdown or Close) stops accepting, closes
// idle fast-path connections and waits for requests in progress.
func (h *HTTP) FastListener(ln net.Listener, cfg FastConfig) net.Listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &fastListener{
		Listener: ln, h: h, cfg: cfg,
		handoff: make(chan net.Conn), acceptErr: make(chan error), done: make(chan struct{}),
		conns: map[*fastConn]struct{}{}, ctx: ctx, cancel: cancel,
	}
	l.wg.Add(1)
	go l.acceptLoop() // owned by l; ends when Close closes ln
	return l
}

type fastListener struct {
	net.Listener // Addr
	h            *HTTP
	cfg          FastConfig
	handoff      chan net.Conn // connections for net/http's Accept
	acceptErr    chan error
	done         chan struct{} // closed by Close
	closeOnce    sync.Once
	ctx          context.Context // for Submit; cancelled once Close is done
	cancel       context.CancelFunc

	mu      sync.Mutex
	closing bool
	conns   map[*fastConn]struct{}
	wg      sync.WaitGroup

	served  atomic.Int64 // requests answered by the fast path (tests)
	handed  atomic.Int64 // connections handed to net/http (tests)
	dateMu  sync.Mutex
	dateSec int64
	date    []byte // "Date: ...\r\n" for dateSec
}

type fastConn struct {
	c    net.Conn
	busy bool // serving a request: Close waits for it instead of closing it
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
		l.mu.Lock()
		l.closing = true
		for fc := range l.conns {
			if !fc.busy {
				_ = fc.c.Close()
			}
		}
		l.mu.Unlock()
		close(l.done)
		err = l.Listener.Close()
		l.wg.Wait()
		l.cancel()
	})
	return err
}

func (l *fastListener) acceptLoop() {
	defer l.wg.Done()
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
		fc := &fastConn{c: c}
		l.mu.Lock()
		if l.closing {
			l.mu.Unlock()
			_ = c.Close()
			return
		}
		l.conns[fc] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go l.serveConn(fc) // owned by l; ends when the connection closes or is handed over
	}
}

// setBusy marks fc busy or idle; false when the listener is closing, and the
// connection must end instead.
func (l *fastListener) setBusy(fc *fastConn, busy bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	fc.busy = busy
	return !l.closing
}

func (l *fastListener) serveConn(fc *fastConn) {
	defer l.wg.Done()
	c := fc.c
	handed := false
	defer func() {
		l.mu.Lock()
		delete(l.conns, fc)
		l.mu.Unlock()
		if !handed {
			_ = c.Close()
		}
	}()
	br := bufio.NewReaderSize(c, fastBufSize)
	w := &fastResponse{hdr: http.Header{}}
	for {
		if l.cfg.IdleTimeout > 0 {
			_ = c.SetReadDeadline(time.Now().Add(l.cfg.IdleTimeout))
		}
		if _, err := br.Peek(1); err != nil {
			return
		}
		if !l.setBusy(fc, true) {
			return
		}
		switch l.serveOne(c, br, w) {
		case fastClose:
			return
		case fastHandOff:
			handed = l.handOff(c, br)
			return
		}
		if !l.setBusy(fc, false) {
			return
		}
	}
}

type fastVerdict uint8

const (
	fastDone    fastVerdict = iota // answered; keep the connection
	fastHandOff                    // net/http takes the connection, nothing consumed
	fastClose                      // read or write failed: close
)

// serveOne serves one request, or leaves it untouched for net/http.
func (l *fastListener) serveOne(c net.Conn, br *bufio.Reader, w *fastResponse) fastVerdict {
	t0 := time.Now()
	headLen := -1
	for deadline := false; ; deadline = true {
		buf, _ := br.Peek(br.Buffered())
		if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
			headLen = i + 4
			break
		}
		if br.Buffered() == br.Size() {
			return fastHandOff // a head this large: net/http knows the limits
		}
		// Usually the whole request came with its first byte; the
		// header deadline matters (and costs a timer update) only when
		// more must be read.
		if !deadline {
			if d := l.cfg.ReadHeaderTimeout; d > 0 {
				_ = c.SetReadDeadline(t0.Add(d))
			} else if d := l.cfg.ReadTimeout; d > 0 {
				_ = c.SetReadDeadline(t0.Add(d))
			}
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			return fastClose // as net/http, which closes on a request cut short
		}
	}
	buf, _ := br.Peek(headLen)
	fh, ok := parseFastHead(buf, l.h.cfg.MaxBodyBytes)
	if !ok {
		return fastHandOff
	}
	total := headLen + int(fh.length)
	if total > br.Size() {
		return fastHandOff
	}
	if br.Buffered() < total {
		if d := l.cfg.ReadTimeout; d > 0 {
			_ = c.SetReadDeadline(t0.Add(d))
		} else {
			_ = c.SetReadDeadline(time.Time{}) // no idle or header deadline on the body
		}
	}
	h := l.h
	if !h.cfg.Token.CheckHeader(string(fh.auth)) {
		return fastHandOff // net/http answers 401
	}
	if fh.expect && fh.length > 0 {
		// As net/http does when a handler starts reading such a body.
		if d := l.cfg.WriteTimeout; d > 0 {
			_ = c.SetWriteDeadline(t0.Add(d))
		}
		if _, err := c.Write(continue100); err != nil {
			return fastClose
		}
	}
	req, err := br.Peek(total)
	if err != nil {
		return fastClose
	}
	h.slots <- struct{}{} // bounded: every holder finishes its request
	w.reset()
	if a, err := alert.Decode(req[headLen:]); err != nil {
		h.rejectOne(w, c.RemoteAddr().String(), err)
	} else {
		h.submitOne(l.ctx, w, endpointOne, a)
	}
	<-h.slots
	// Decode copied what it keeps: the request's bytes can go.
	_, _ = br.Discard(total)
	l.served.Add(1)
	var date [64]byte
	w.out = w.appendTo(w.out[:0], l.appendDate(date[:0], t0))
	if d := l.cfg.WriteTimeout; d > 0 {
		_ = c.SetWriteDeadline(t0.Add(d))
	}
	if _, err := c.Write(w.out); err != nil {
		return fastClose
	}
	return fastDone
}

// handOff gives c to net/http with the bytes buffered so far; false when the
// listener closed first.
func (l *fastListener) handOff(c net.Conn, br *bufio.Reader) bool {
	buffered, _ := br.Peek(br.Buffered())
	rc := &replayConn{Conn: c, buf: slices.Clone(buffered)}
	_ = c.SetDeadline(time.Time{}) // net/http sets its own, or none
	select {
	case l.handoff <- rc:
		l.handed.Add(1)
		return true
	case <-l.done:
		return false
	}
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

// fastResponse is the http.ResponseWriter the fast path hands submitOne: it
// collects the status, headers and body, which serveOne writes at once.
type fastResponse struct {
	hdr  http.Header
	code int
	body []byte
	out  []byte // the whole answer, reused
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
