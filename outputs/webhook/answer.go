package webhook

import (
	"bufio"
	"bytes"

	"golang.org/x/net/http/httpguts"
)

// fastAnswerMaxBody bounds the body fastAnswer takes, as drain bounds what
// it reads before giving up on a connection.
const fastAnswerMaxBody = 64 << 10

// fastAnswer consumes a plain success answer that is already whole in br's
// buffer (it waits for the first bytes): HTTP/1.1 status 200, 201 or 202,
// well-formed header fields with exactly one Content-Length of at most
// 64 KiB, none that changes the framing (Transfer-Encoding) or ends the
// connection (Connection other than keep-alive). For such an answer
// http.ReadResponse, httpout.Classify and drain decide "delivered, the
// connection can carry the next request"; fastAnswer decides the same
// without building a Response, which cost the router ~2.5 µs of its ~18 µs
// per alert delivered one request at a time. false leaves every byte to
// http.ReadResponse.
func fastAnswer(br *bufio.Reader) bool {
	if _, err := br.Peek(1); err != nil {
		return false
	}
	b, _ := br.Peek(br.Buffered())
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 || len(b) < 14 || !bytes.HasPrefix(b, []byte("HTTP/1.1 20")) ||
		b[11] < '0' || b[11] > '2' || (b[12] != ' ' && string(b[12:14]) != "\r\n") {
		return false // the code is followed by a reason phrase or ends the line
	}
	first := bytes.Index(b, []byte("\r\n"))
	fields := b[first+2 : end+2] // each field line with its CRLF
	length := -1
	for len(fields) > 0 {
		i := bytes.Index(fields, []byte("\r\n"))
		line := fields[:i]
		fields = fields[i+2:]
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || !httpguts.ValidHeaderFieldName(string(name)) {
			return false // also obs-fold (a leading space); a valid name is ASCII, so EqualFold folds ASCII only
		}
		value = bytes.Trim(value, " \t")
		if !httpguts.ValidHeaderFieldValue(string(value)) {
			return false
		}
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length >= 0 || len(value) == 0 || len(value) > 6 {
				return false
			}
			length = 0
			for _, c := range value {
				if c < '0' || c > '9' {
					return false
				}
				length = length*10 + int(c-'0')
			}
			if length > fastAnswerMaxBody {
				return false
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return false
		case bytes.EqualFold(name, []byte("Connection")):
			if !bytes.EqualFold(value, []byte("keep-alive")) {
				return false
			}
		}
	}
	total := end + 4 + length
	if length < 0 || len(b) < total {
		return false // no length (read to the close), or the body is not all in
	}
	_, _ = br.Discard(total)
	return true
}
