package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
)

// A lean HTTP/1.1 reader shared by the load generator's clients (responses)
// and its sink (requests). net/http on both ends cost the loadgen more CPU
// per alert than the router spent, on the same 2 cores, so the loadgen
// measured itself as much as the router. This parses what it needs properly
// (start line, Content-Length, chunked bodies, Connection: close, Expect)
// and rejects the rest rather than guessing.

const maxHeadBytes = 64 << 10

// head is the part of a message head the loadgen acts on. Reuse one per
// connection: start keeps its capacity.
type head struct {
	start     []byte // request or status line (a copy)
	length    int64  // Content-Length; -1 when absent
	chunked   bool
	close     bool // Connection: close
	expect100 bool // Expect: 100-continue
}

var errHeadTooLarge = errors.New("http: message head too large")

// readHead reads a message head (start line and header fields) from br.
func readHead(br *bufio.Reader, h *head) error {
	*h = head{start: h.start[:0], length: -1}
	total := 0
	first := true
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return errHeadTooLarge
			}
			if err == io.EOF && !first {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		total += len(line)
		if total > maxHeadBytes {
			return errHeadTooLarge
		}
		line = bytes.TrimRight(line, "\r\n")
		if first {
			if len(line) == 0 {
				continue // a stray CRLF between messages is allowed (RFC 9112 2.2)
			}
			h.start = append(h.start, line...)
			first = false
			continue
		}
		if len(line) == 0 {
			return nil
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
			return fmt.Errorf("http: malformed header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 || (h.length >= 0 && h.length != n) {
				return fmt.Errorf("http: bad Content-Length %q", value)
			}
			h.length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			if !bytes.EqualFold(value, []byte("chunked")) {
				return fmt.Errorf("http: unsupported Transfer-Encoding %q", value)
			}
			h.chunked = true
		case bytes.EqualFold(name, []byte("Connection")):
			h.close = h.close || bytes.EqualFold(value, []byte("close"))
		case bytes.EqualFold(name, []byte("Expect")):
			h.expect100 = bytes.EqualFold(value, []byte("100-continue"))
		}
	}
}

// readBody appends the message body to dst: Content-Length bytes, or the
// decoded chunks. limit bounds the body size.
func readBody(br *bufio.Reader, h *head, dst []byte, limit int64) ([]byte, error) {
	if h.chunked {
		return readChunked(br, dst, limit)
	}
	if h.length <= 0 {
		return dst, nil
	}
	if h.length > limit {
		return dst, fmt.Errorf("http: body of %d bytes over the limit of %d", h.length, limit)
	}
	n := len(dst)
	dst = slices.Grow(dst, int(h.length))[:n+int(h.length)]
	_, err := io.ReadFull(br, dst[n:])
	return dst, err
}

func readChunked(br *bufio.Reader, dst []byte, limit int64) ([]byte, error) {
	var total int64
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return dst, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // chunk extensions
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			return dst, fmt.Errorf("http: bad chunk size %q", line)
		}
		if size == 0 {
			// Trailer fields until the empty line.
			for {
				t, err := br.ReadSlice('\n')
				if err != nil {
					return dst, err
				}
				if len(bytes.TrimRight(t, "\r\n")) == 0 {
					return dst, nil
				}
			}
		}
		if total += size; total > limit {
			return dst, fmt.Errorf("http: chunked body over the limit of %d", limit)
		}
		n := len(dst)
		dst = slices.Grow(dst, int(size))[:n+int(size)]
		if _, err := io.ReadFull(br, dst[n:]); err != nil {
			return dst, err
		}
		if crlf, err := br.ReadSlice('\n'); err != nil || len(bytes.TrimRight(crlf, "\r\n")) != 0 {
			return dst, errors.New("http: chunk not followed by CRLF")
		}
	}
}

// statusCode parses "HTTP/1.1 200 OK".
func statusCode(start []byte) (int, error) {
	proto, rest, ok := bytes.Cut(start, []byte{' '})
	if !ok || !bytes.HasPrefix(proto, []byte("HTTP/1.")) || len(rest) < 3 {
		return 0, fmt.Errorf("http: malformed status line %q", start)
	}
	code, err := strconv.Atoi(string(rest[:3]))
	if err != nil || code < 100 || code > 999 {
		return 0, fmt.Errorf("http: malformed status line %q", start)
	}
	return code, nil
}

// requestLine parses "POST / HTTP/1.1" into method and target; http10 tells
// whether the connection closes after the reply by default.
func requestLine(start []byte) (method, target []byte, http10 bool, err error) {
	method, rest, ok1 := bytes.Cut(start, []byte{' '})
	target, proto, ok2 := bytes.Cut(rest, []byte{' '})
	if !ok1 || !ok2 || len(method) == 0 || len(target) == 0 {
		return nil, nil, false, fmt.Errorf("http: malformed request line %q", start)
	}
	switch string(proto) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		http10 = true
	default:
		return nil, nil, false, fmt.Errorf("http: unsupported protocol %q", proto)
	}
	return method, target, http10, nil
}
