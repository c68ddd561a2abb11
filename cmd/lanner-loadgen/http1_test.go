package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReadHeadAndBody(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		start   string
		body    string
		close   bool
		expect  bool
		wantErr string
	}{
		{"length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", "POST / HTTP/1.1", "abc", false, false, ""},
		{"no body", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 200 OK", "", false, false, ""},
		{"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n", "POST / HTTP/1.1", "abcde", false, false, ""},
		{"close and expect", "PUT / HTTP/1.1\r\nconnection: Close\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx", "PUT / HTTP/1.1", "x", true, true, ""},
		{"leading CRLF", "\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", "POST / HTTP/1.1", "x", false, false, ""},
		{"bad length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "", "", false, false, "bad Content-Length"},
		{"two lengths", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "", "", false, false, "bad Content-Length"},
		{"gzip coding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "", "", false, false, "unsupported Transfer-Encoding"},
		{"no colon", "POST / HTTP/1.1\r\nHost a\r\n\r\n", "", "", false, false, "malformed header"},
		{"cut short", "POST / HTTP/1.1\r\nHost: a\r\n", "", "", false, false, "unexpected EOF"},
		{"body cut short", "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", "POST / HTTP/1.1", "", false, false, "unexpected EOF"},
		{"body over limit", "POST / HTTP/1.1\r\nContent-Length: 999\r\n\r\n", "POST / HTTP/1.1", "", false, false, "over the limit"},
		{"bad chunk", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "POST / HTTP/1.1", "", false, false, "bad chunk size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tt.in))
			var h head
			err := readHead(br, &h)
			var body []byte
			if err == nil {
				body, err = readBody(br, &h, nil, 100)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(h.start) != tt.start || string(body) != tt.body || h.close != tt.close || h.expect100 != tt.expect {
				t.Fatalf("start %q body %q close %v expect %v", h.start, body, h.close, h.expect100)
			}
		})
	}
}

func TestStartLines(t *testing.T) {
	if c, err := statusCode([]byte("HTTP/1.1 503 Service Unavailable")); err != nil || c != 503 {
		t.Errorf("statusCode = %d, %v", c, err)
	}
	for _, bad := range []string{"HTTP/2 200", "HTTP/1.1 2x0 OK", "HTTP/1.1", "200 OK"} {
		if _, err := statusCode([]byte(bad)); err == nil {
			t.Errorf("statusCode(%q) accepted", bad)
		}
	}
	m, target, h10, err := requestLine([]byte("POST /x HTTP/1.0"))
	if err != nil || string(m) != "POST" || string(target) != "/x" || !h10 {
		t.Errorf("requestLine = %q %q %v %v", m, target, h10, err)
	}
	for _, bad := range []string{"POST /", "POST / HTTP/2.0", " / HTTP/1.1"} {
		if _, _, _, err := requestLine([]byte(bad)); err == nil {
			t.Errorf("requestLine(%q) accepted", bad)
		}
	}
}

// The epoll senders against net/http's server, and net/http's client
// against the lean sink: each side speaks HTTP/1.1 as the standard library
// reads it. The server's answers cycle through what the senders must
// handle: 200, 200 with Connection: close, 503 (a pause), a chunked 200 and
// a 202 (neither accepted nor refused). The senders are spread over two
// pollers, whose counts add up.
func TestSendersAgainstNetHTTP(t *testing.T) {
	var mu sync.Mutex
	var seen, bad int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		n := seen
		seen++
		if r.Method != http.MethodPost || r.URL.Path != "/" || r.Header.Get("Content-Type") != "application/json" || !json.Valid(b) {
			bad++
		}
		mu.Unlock()
		switch n % 5 {
		case 1:
			w.Header().Set("Connection", "close")
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 3:
			w.(http.Flusher).Flush() // forces a chunked answer
			_, _ = io.WriteString(w, "some body")
		case 4:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	defer srv.Close()
	gen := &generator{}
	c, err := runSenderLoops(context.Background(), strings.TrimPrefix(srv.URL, "http://"), 3, 2, gen.appendAlert,
		time.Now().Add(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen < 10 || bad != 0 {
		t.Fatalf("server saw %d requests, %d malformed", seen, bad)
	}
	// Every request was answered, and the answers were told apart.
	if got := c.accepted + c.refused + c.failures; got != int64(seen) {
		t.Fatalf("counts %+v for %d requests", c, seen)
	}
	if want := int64(seen+2) / 5; c.refused != want {
		t.Errorf("refused %d, want %d (counts %+v, %d requests)", c.refused, want, c, seen)
	}
	if want := int64(seen) / 5; c.failures != want {
		t.Errorf("failures %d, want %d: only the 202s (counts %+v, %d requests)", c.failures, want, c, seen)
	}
}

// A server that answers nothing: the senders give up on ctx, with an error.
// (Never accepting is enough: the kernel completes the connections into the
// listener's backlog and takes the requests into their buffers.)
func TestSendersStopOnContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	gen := &generator{}
	c, err := runSenderLoops(ctx, ln.Addr().String(), 2, 2, gen.appendAlert, time.Now().Add(time.Hour))
	if !errors.Is(err, context.DeadlineExceeded) || c.accepted != 0 {
		t.Fatalf("counts %+v, err %v", c, err)
	}
}

func TestSinkAgainstNetHTTP(t *testing.T) {
	sk, err := newSink()
	if err != nil {
		t.Fatal(err)
	}
	defer sk.close()
	gen := &generator{}
	one := gen.appendAlert(nil)
	batch := append(append(append([]byte{'['}, gen.appendAlert(nil)...), ','), gen.appendAlert(nil)...)
	batch = append(batch, ']')
	client := &http.Client{Timeout: 10 * time.Second}
	post := func(body []byte) int {
		t.Helper()
		resp, err := client.Post(sk.url, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := post(one); c != 200 {
		t.Fatalf("status %d", c)
	}
	if c := post(batch); c != 200 {
		t.Fatalf("status %d", c)
	}
	if c := post(one); c != 200 { // a duplicate: counted once
		t.Fatalf("status %d", c)
	}
	// A chunked request (unknown length).
	resp, err := client.Post(sk.url, "application/json", io.MultiReader(bytes.NewReader(gen.appendAlert(nil))))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sk.stalled.Store(true)
	if c := post(gen.appendAlert(nil)); c != http.StatusServiceUnavailable {
		t.Fatalf("stalled sink answered %d", c)
	}
	sk.stalled.Store(false)
	if sk.unique() != 4 || sk.total.Load() != 5 {
		t.Fatalf("unique %d, total %d; want 4 and 5", sk.unique(), sk.total.Load())
	}
	if n := len(sk.takeLatencies()); n != 4 {
		t.Fatalf("%d latencies", n)
	}
}

// Requests that arrive in pieces, and requests that arrive together: the
// sink answers each once it is whole, in order, the answers to requests
// read together in one write.
func TestSinkPiecesAndPipelined(t *testing.T) {
	sk, err := newSink()
	if err != nil {
		t.Fatal(err)
	}
	defer sk.close()
	c, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimSuffix(sk.url, "/"), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	gen := &generator{}
	req := func(body []byte, extra string) string {
		return "POST / HTTP/1.1\r\nHost: sink\r\n" + extra + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body)
	}
	first := req(gen.appendAlert(nil), "")
	for _, piece := range []string{first[:20], first[20:60], first[60:]} {
		if _, err := io.WriteString(c, piece); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	br := bufio.NewReader(c)
	var h head
	readOK := func() {
		t.Helper()
		if err := readHead(br, &h); err != nil {
			t.Fatal(err)
		}
		if code, err := statusCode(h.start); err != nil || code != 200 {
			t.Fatalf("answer %q, %v", h.start, err)
		}
	}
	readOK()
	both := req(gen.appendAlert(nil), "") + req(gen.appendAlert(nil), "")
	if _, err := io.WriteString(c, both); err != nil {
		t.Fatal(err)
	}
	readOK()
	if br.Buffered() == 0 {
		t.Error("the answers to requests that arrived together came in separate writes")
	}
	readOK()
	// Expect: 100-continue: the interim answer, then the final one.
	body := gen.appendAlert(nil)
	head100 := strings.TrimSuffix(req(body, "Expect: 100-continue\r\n"), string(body))
	if _, err := io.WriteString(c, head100); err != nil {
		t.Fatal(err)
	}
	if err := readHead(br, &h); err != nil || string(h.start) != "HTTP/1.1 100 Continue" {
		t.Fatalf("interim answer %q, %v", h.start, err)
	}
	if _, err := c.Write(body); err != nil {
		t.Fatal(err)
	}
	readOK()
	if sk.unique() != 4 || sk.requests.Load() != 4 || sk.bad.Load() != 0 {
		t.Fatalf("unique %d, requests %d, bad %d", sk.unique(), sk.requests.Load(), sk.bad.Load())
	}
}

// FuzzReadHead: the sink's parser must not panic and must stay within its
// limits on any input.
func FuzzReadHead(f *testing.F) {
	for _, s := range []string{
		"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
		"\r\n\r\n", ":\r\n\r\n", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReader(bytes.NewReader(in))
		var h head
		if err := readHead(br, &h); err != nil {
			return
		}
		body, err := readBody(br, &h, nil, 1000)
		if err == nil && len(body) > 1000 {
			t.Fatalf("body of %d bytes over the limit", len(body))
		}
	})
}
