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
	br        *bufio.Reader
	buf       []byte
	idleSince time.Time
}

// A connection idle for longer than rawCheckIdle is checked before reuse (a
// read that must find nothing: EOF means the server closed it), as
// net/http's Transport notices a server's close with its read loop; past
// rawMaxIdle it is not reused at all.
const (
	rawCheckIdle = 100 * time.Millisecond
	rawMaxIdle   = 30 * time.Second
)

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
	sc, ok := cn.c.(syscall.Conn)
	if !ok || cn.br.Buffered() > 0 {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ok = false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = errors.Is(err, syscall.EAGAIN)
		return true // never wait
	})
	return err == nil && ok
}

func (rc *rawClient) put(cn *rawConn) {
	cn.idleSince = time.Now()
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
	select {
	case rc.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-rc.slots }()
	now := time.Now()
	deadline := now.Add(rc.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	cn := rc.get(now)
	if cn == nil {
		dctx, cancel := context.WithDeadline(ctx, deadline)
		c, err := rc.dialer.DialContext(dctx, "tcp", rc.addr)
		cancel()
		if err != nil {
			return classify(nil, err)
		}
		cn = &rawConn{c: c, br: bufio.NewReaderSize(c, 4096)}
	}
	if err := cn.c.SetDeadline(deadline); err != nil {
		_ = cn.c.Close()
		return classify(nil, err)
	}
	stop := func() bool { return true }
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { _ = cn.c.SetDeadline(aLongTimeAgo) })
	}
	reuse, err := rc.roundTrip(cn, body, classify)
	if !stop() { // cancelled meanwhile: the deadline may be poisoned
		reuse = false
		if err != nil && !errors.Is(err, errRedirect) {
			err = fmt.Errorf("%w: %w", ctx.Err(), err)
		}
	}
	if reuse {
		rc.put(cn)
	} else {
		_ = cn.c.Close()
	}
	return err
}

// roundTrip writes the request and reads the answer; reuse tells whether
// the connection is clean for the next request.
func (rc *rawClient) roundTrip(cn *rawConn, body []byte, classify func(*http.Response, error) error) (reuse bool, err error) {
	cn.buf = append(cn.buf[:0], rc.head...)
	cn.buf = strconv.AppendInt(cn.buf, int64(len(body)), 10)
	cn.buf = append(cn.buf, "\r\n\r\n"...)
	if len(body) <= 16<<10 {
		cn.buf = append(cn.buf, body...)
		_, err = cn.c.Write(cn.buf)
	} else { // a batch: no copy, one writev
		bufs := net.Buffers{cn.buf, body}
		_, err = bufs.WriteTo(cn.c)
	}
	if cap(cn.buf) > 64<<10 {
		cn.buf = nil
	}
	writeErr := err
	if writeErr == nil && fastAnswer(cn.br) {
		return true, nil
	}
	var resp *http.Response
	for {
		resp, err = http.ReadResponse(cn.br, nil)
		if err != nil {
			if writeErr != nil {
				err = writeErr
			}
			return false, classify(nil, err)
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
			return writeErr == nil && drain(resp), errRedirect
		}
	}
	// A server may answer (say 413) and close before reading a large body,
	// failing the write: its answer counts, as with net/http.
	err = classify(resp, nil)
	return writeErr == nil && drain(resp), err
}

// drain reads what is left of the answer (bounded, as httpout.DrainClose)
// and reports whether the connection can carry another request.
func drain(resp *http.Response) bool {
	n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10+1))
	_ = resp.Body.Close()
	return err == nil && n <= 64<<10 && !resp.Close
}
