package webhook

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/httpout"
	"github.com/lannerhq/lanner/outputs/outputtest"
)

func TestRawClientEligibility(t *testing.T) {
	tests := []struct {
		name    string
		address string
		headers map[string]string
		raw     bool
	}{
		{"plain http", "http://127.0.0.1:9/hook", nil, true},
		{"custom headers", "http://127.0.0.1:9/hook", map[string]string{"X-Team": "a", "Authorization": "Bearer t"}, true},
		{"https", "https://127.0.0.1:9/hook", nil, false},
		{"user agent header", "http://127.0.0.1:9/", map[string]string{"user-agent": "x"}, false},
		{"host header", "http://127.0.0.1:9/", map[string]string{"Host": "x"}, false},
		{"connection header", "http://127.0.0.1:9/", map[string]string{"Connection": "close"}, false},
		{"non-ascii host", "http://bücher.example/", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Address: tt.address, CustomHeaders: tt.headers}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := newRawClient(c) != nil; got != tt.raw {
				t.Fatalf("raw client: %v, want %v", got, tt.raw)
			}
		})
	}
}

type seenRequest struct {
	method, uri, host, body string
	header                  http.Header
}

// The raw client sends what net/http sends: method, URI, header fields and
// body (Accept-Encoding aside, which the output turns off).
func TestRawClientMatchesNetHTTP(t *testing.T) {
	var mu sync.Mutex
	var seen []seenRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, seenRequest{r.Method, r.RequestURI, r.Host, string(b), r.Header.Clone()})
		mu.Unlock()
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name    string
		address string
		method  string
		headers map[string]string
	}{
		{"post", srv.URL + "/hook?a=1&b=%20x", "", map[string]string{"X-Team": "secops", "content-type": "application/cloudevents+json"}},
		{"put with basic auth", strings.Replace(srv.URL, "://", "://user:p%40ss@", 1) + "/", "PUT", nil},
		{"explicit authorization wins over the URL's", strings.Replace(srv.URL, "://", "://user:pass@", 1) + "/", "", map[string]string{"Authorization": "Bearer t"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen = nil
			o := newOutput(t, Config{Address: tc.address, Method: tc.method, CustomHeaders: tc.headers}, outputs.Deps{})
			if o.raw == nil {
				t.Fatal("raw client not used")
			}
			body := []byte(`{"rule":"r"}`)
			if err := o.post(context.Background(), body); err != nil {
				t.Fatal(err)
			}
			raw := o.raw
			o.raw = nil // the net/http path
			if err := o.post(context.Background(), body); err != nil {
				t.Fatal(err)
			}
			o.raw = raw
			if len(seen) != 2 {
				t.Fatalf("%d requests", len(seen))
			}
			got, want := seen[0], seen[1]
			want.header.Del("Accept-Encoding")
			if got.method != want.method || got.uri != want.uri || got.host != want.host || got.body != want.body {
				t.Errorf("raw %s %s %s %q, net/http %s %s %s %q", got.method, got.uri, got.host, got.body,
					want.method, want.uri, want.host, want.body)
			}
			if len(got.header) != len(want.header) {
				t.Errorf("raw headers %v, net/http %v", got.header, want.header)
			}
			for k := range want.header {
				if got.header.Get(k) != want.header.Get(k) {
					t.Errorf("%s: raw %q, net/http %q", k, got.header.Get(k), want.header.Get(k))
				}
			}
		})
	}
}

// A redirect is followed, through net/http, as before.
func TestRawClientRedirect(t *testing.T) {
	var got []string
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		got = append(got, "old")
		http.Redirect(w, r, "/new", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, "new "+string(b))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	o := newOutput(t, Config{Address: srv.URL + "/old"}, outputs.Deps{})
	if err := o.post(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "old,old,new x" {
		t.Fatalf("server saw %q", got)
	}
}

// Connections are reused; one the server closed while idle is noticed
// before reuse; answers with Connection: close end theirs.
func TestRawClientConnections(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]int{}
	var closeNext bool
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr]++
		if closeNext {
			w.Header().Set("Connection", "close")
			closeNext = false
		}
		mu.Unlock()
	}))
	srv.Config.IdleTimeout = 150 * time.Millisecond
	srv.Start()
	defer srv.Close()
	o := newOutput(t, Config{Address: srv.URL}, outputs.Deps{})
	post := func() {
		t.Helper()
		if err := o.post(context.Background(), []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	post()
	post()
	if len(conns) != 1 {
		t.Fatalf("%d connections for 2 sequential posts", len(conns))
	}
	time.Sleep(400 * time.Millisecond) // the server closes the idle connection
	post()
	if len(conns) != 2 {
		t.Fatalf("%d connections after the server's idle close", len(conns))
	}
	closeNext = true
	post()
	post()
	if len(conns) != 3 {
		t.Fatalf("%d connections after Connection: close", len(conns))
	}
}

// Timeouts, cancellation and refused connections are retryable errors that
// name no secret.
func TestRawClientErrors(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	o := newOutput(t, Config{Address: srv.URL + "/?token=" + testToken, Timeout: 200 * time.Millisecond}, outputs.Deps{})
	start := time.Now()
	err := o.post(context.Background(), []byte("{}"))
	if err == nil || !outputs.IsRetryable(err) || time.Since(start) > 5*time.Second {
		t.Fatalf("timeout: %v after %s", err, time.Since(start))
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	o2 := newOutput(t, Config{Address: srv.URL, Timeout: time.Minute}, outputs.Deps{})
	if err := o2.post(ctx, []byte("{}")); err == nil || !outputs.IsRetryable(err) {
		t.Fatalf("cancelled: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	o3 := newOutput(t, Config{Address: "http://" + addr + "/?token=" + testToken}, outputs.Deps{})
	err = o3.post(context.Background(), []byte("{}"))
	if err == nil || !outputs.IsRetryable(err) || strings.Contains(err.Error(), testToken) {
		t.Fatalf("refused: %v", err)
	}
	// Statuses are classified as net/http's path does.
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	}))
	defer rec.Close()
	o4 := newOutput(t, Config{Address: rec.URL}, outputs.Deps{})
	err = o4.post(context.Background(), []byte("{}"))
	if outputs.RetryAfterOf(err) != 7*time.Second || !strings.Contains(err.Error(), "slow down") {
		t.Fatalf("429: %v (retry after %s)", err, outputs.RetryAfterOf(err))
	}
}

// A server that answers a keep-alive request and then closes (or half-closes)
// the connection: the next request on it fails retryably and promptly, and
// the one after that goes through on a new connection. (A request on a
// connection answered within rawFresh is written from inside the wait for
// its answer, which would hear of a half-close only at the timeout: see
// rawFresh.)
func TestRawClientServerClosesAfterAnswer(t *testing.T) {
	for _, half := range []bool{false, true} {
		name := map[bool]string{false: "close", true: "half-close"}[half]
		t.Run(name, func(t *testing.T) {
			srv := rawAnswerServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", func(c net.Conn) {
				if half {
					_ = c.(*net.TCPConn).CloseWrite()
					_, _ = io.Copy(io.Discard, c) // reads on, answers nothing
				}
			})
			timeout := 300 * time.Millisecond
			o := newOutput(t, Config{Address: srv.URL}, outputs.Deps{})
			o.raw.timeout = timeout
			if err := o.post(context.Background(), []byte("{}")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond) // the close arrives while the connection idles (> rawFresh, < rawCheckIdle)
			start := time.Now()
			err := o.post(context.Background(), []byte("{}"))
			took := time.Since(start)
			if err == nil || !outputs.IsRetryable(err) {
				t.Fatalf("post on the closed connection: %v", err)
			}
			if took > timeout/2 {
				t.Fatalf("post on the closed connection took %s", took)
			}
			if err := o.post(context.Background(), []byte("{}")); err != nil {
				t.Fatalf("post after the close: %v", err)
			}
		})
	}
}

// rawAnswerServer answers every request with answer, written as it is on
// the hijacked connection; then after (if not nil) has the connection, which
// is closed when it returns. It counts the connections it answered on.
func rawAnswerServer(t *testing.T, answer string, after func(net.Conn)) *countingServer {
	cs := &countingServer{}
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		cs.conns.Add(1)
		if _, err := io.WriteString(c, answer); err != nil || after == nil {
			return
		}
		after(c)
	}))
	t.Cleanup(cs.Close)
	return cs
}

type countingServer struct {
	*httptest.Server
	conns atomic.Int64
}

// An answer followed by bytes nobody asked for: the connection is not used
// again (they would be read as the next request's answer).
func TestRawClientUnreadBytesEndConnection(t *testing.T) {
	srv := rawAnswerServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nJUNK", func(c net.Conn) {
		_, _ = io.Copy(io.Discard, c) // keeps it open until the client closes it
	})
	o := newOutput(t, Config{Address: srv.URL}, outputs.Deps{})
	sess, err := o.raw.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.release()
	for i := range 2 {
		if err := o.postOn(context.Background(), sess, []byte("{}")); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	if n := srv.conns.Load(); n != 2 {
		t.Fatalf("%d connections for 2 posts, want 2", n)
	}
}

// A batch whose context is cancelled before it starts sends nothing and
// reports every alert as failed retryably or not attempted.
func TestSendCancelled(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	o := newOutput(t, Config{Address: srv.URL}, outputs.Deps{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := o.Send(ctx, outputtest.Alerts(0, 20))
	if err == nil || hits.Load() != 0 {
		t.Fatalf("Send: %v, %d requests reached the server", err, hits.Load())
	}
	var pe *outputs.PartialError
	if errors.As(err, &pe) {
		for i, e := range pe.Failed {
			if !outputs.IsRetryable(e) && !errors.Is(e, outputs.ErrNotAttempted) {
				t.Fatalf("alert %d: %v", i, e)
			}
		}
	} else if !outputs.IsRetryable(err) {
		t.Fatalf("Send: %v", err)
	}
}

// A timeout on a connection just answered (its request written from inside
// the wait for the answer) reads as net's own: a retryable net.Error whose
// Timeout is true, naming the connection's addresses.
func TestRawClientTimeoutOnReusedConnection(t *testing.T) {
	var n atomic.Int64
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 1 {
			<-block
		}
	}))
	defer srv.Close()
	defer close(block)
	o := newOutput(t, Config{Address: srv.URL, Timeout: 200 * time.Millisecond}, outputs.Deps{})
	sess, err := o.raw.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.release()
	if err := o.postOn(context.Background(), sess, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	err = o.postOn(context.Background(), sess, []byte("{}"))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !outputs.IsRetryable(err) || !strings.Contains(err.Error(), "read tcp 127.0.0.1:") {
		t.Fatalf("want a retryable read timeout, got %v", err)
	}
}

// A request that does not fit the socket buffers: the write made inside
// the wait for the answer is partial, the rest goes through net (which waits
// for room), and the server still gets every byte, on a reused connection.
func TestRawClientPartialWriteOnReusedConnection(t *testing.T) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(30 * time.Millisecond) // let the client's socket buffer fill
		b, _ := io.ReadAll(r.Body)
		if len(b) != 16<<10 || strings.Trim(string(b), "x") != "" {
			w.WriteHeader(http.StatusBadRequest)
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	o := newOutput(t, Config{Address: "http://" + ln.Addr().String() + "/"}, outputs.Deps{})
	o.raw.dialer.Control = func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096) })
	}
	sess, err := o.raw.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.release()
	body := []byte(strings.Repeat("x", 16<<10))
	for i := range 3 {
		if err := o.postOn(context.Background(), sess, body); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
}

// postOn posts body on sess's connection, as one request of a batch does.
func (o *Output) postOn(ctx context.Context, sess *rawSession, body []byte) error {
	return o.rawResult(ctx, body, sess.post(body, httpout.Classify))
}
