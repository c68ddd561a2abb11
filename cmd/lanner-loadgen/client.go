package main

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"time"
)

// client is one lean HTTP/1.1 keep-alive connection posting one alert per
// request and waiting for each answer before the next, as Falco's
// http_output (libcurl, no pipelining) does. The request is built in one
// buffer and written with one write; the answer's head and body are parsed
// (http1.go) and the body discarded.
type client struct {
	addr     string
	prefix   string    // requestHead(addr)
	deadline time.Time // of every read and write: bounds a stuck router
	conn     net.Conn
	br       *bufio.Reader
	h        head
	req      []byte
	body     []byte
	resp     []byte
}

func newClient(addr string, deadline time.Time) *client {
	return &client{addr: addr, prefix: requestHead(addr), deadline: deadline}
}

// requestHead is what precedes Content-Length's value. Falco's libcurl sends
// about these fields.
func requestHead(addr string) string {
	return "POST / HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: falcosecurity/falco\r\nAccept: */*\r\n" +
		"Content-Type: application/json\r\nContent-Length: "
}

// post sends one request with the body appendBody writes and returns the
// status code. On any error the connection is closed and the next post
// dials anew.
func (c *client) post(appendBody func([]byte) []byte) (int, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return 0, err
		}
		if err := conn.SetDeadline(c.deadline); err != nil {
			conn.Close()
			return 0, err
		}
		c.conn = conn
		c.br = bufio.NewReaderSize(conn, 4096)
	}
	c.body = appendBody(c.body[:0])
	c.req = append(c.req[:0], c.prefix...)
	c.req = strconv.AppendInt(c.req, int64(len(c.body)), 10)
	c.req = append(c.req, "\r\n\r\n"...)
	c.req = append(c.req, c.body...)
	code, err := c.roundTrip()
	if err != nil {
		c.conn.Close()
		c.conn = nil
	}
	return code, err
}

func (c *client) roundTrip() (int, error) {
	if _, err := c.conn.Write(c.req); err != nil {
		return 0, err
	}
	for {
		if err := readHead(c.br, &c.h); err != nil {
			return 0, err
		}
		code, err := statusCode(c.h.start)
		if err != nil {
			return 0, err
		}
		if code >= 100 && code < 200 {
			continue // interim answer: the final one follows
		}
		if !c.h.chunked && c.h.length < 0 {
			return code, fmt.Errorf("answer %d without a length", code)
		}
		if c.resp, err = readBody(c.br, &c.h, c.resp[:0], 1<<20); err != nil {
			return code, err
		}
		if c.h.close {
			c.conn.Close()
			c.conn = nil
		}
		return code, nil
	}
}

func (c *client) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}
