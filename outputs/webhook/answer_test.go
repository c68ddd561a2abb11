package webhook

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
)

// checkFastAnswer holds fastAnswer to net/http: whatever it takes,
// http.ReadResponse reads as a 2xx with that body length that leaves the
// connection open, and the bytes after it are the same.
func checkFastAnswer(t *testing.T, raw []byte) bool {
	t.Helper()
	br := bufio.NewReaderSize(bytes.NewReader(raw), 4096)
	if !fastAnswer(br) {
		return false
	}
	rest, _ := io.ReadAll(br)
	ref := bufio.NewReaderSize(bytes.NewReader(raw), 4096)
	resp, err := http.ReadResponse(ref, nil)
	if err != nil {
		t.Fatalf("fastAnswer took an answer net/http rejects: %v\n%q", err, raw)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode < 200 || resp.StatusCode > 299 || resp.Close || int64(len(body)) != resp.ContentLength {
		t.Fatalf("net/http: status %d, close %v, body %d of %d, %v\n%q", resp.StatusCode, resp.Close, len(body), resp.ContentLength, err, raw)
	}
	refRest, _ := io.ReadAll(ref)
	if !bytes.Equal(rest, refRest) {
		t.Fatalf("fastAnswer left %q, net/http %q", rest, refRest)
	}
	return true
}

func TestFastAnswer(t *testing.T) {
	for _, tt := range []struct {
		raw  string
		fast bool
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true},
		{"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\nDate: x\r\n\r\n{}", true},
		{"HTTP/1.1 201\r\ncontent-length: 3\r\nConnection: Keep-Alive\r\n\r\nabcHTTP/1.1 200 OK\r\n", true},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", false},                            // body not all in
		{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n", false},                                  // head not all in
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false},            // framing
		{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", false},         // not reusable
		{"HTTP/1.1 200 OK\r\n\r\n", false},                                                   // read to the close
		{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", false},        // duplicate length
		{"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", false},                         // over the bound
		{"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx", false},                            // not digits
		{"HTTP/1.1 200 OK\r\n Content-Length: 0\r\n\r\n", false},                             // obs-fold
		{"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", false},                      // no body by rule
		{"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false},                              // closes by default
		{"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", false},             // a failure: Classify's
		{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false}, // interim first
		{"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", false},
		{"HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n", false},
	} {
		if got := checkFastAnswer(t, []byte(tt.raw)); got != tt.fast {
			t.Errorf("fastAnswer(%q) = %v, want %v", tt.raw, got, tt.fast)
		}
	}
}

func FuzzFastAnswer(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n{}rest",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
		"HTTP/1.1 201\r\nX: \t y \r\nContent-Length: 1\r\n\r\nz",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 4096 { // the reader's buffer: fastAnswer only looks at what is buffered
			return
		}
		checkFastAnswer(t, raw)
	})
}
