package alert

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// decodeFast decodes the common shape of a valid alert in one pass without
// reflection: the ingest hot path. It returns nil for anything it does not
// handle itself — any error, escaped keys, nested output_fields values,
// unknown keys with structured values, duplicate or case-variant keys — and
// Decode then runs decodeSlow, so results and error messages stay exactly
// those of the encoding/json-based decoder.
func decodeFast(data []byte) *Alert {
	if !utf8.Valid(data) {
		return nil
	}
	d := fastDec{b: data, s: string(data)}
	d.ws()
	if !d.eat('{') {
		return nil
	}
	a := &Alert{}
	var seen uint16
	var prio, ts string
	d.ws()
	if d.eat('}') {
		return nil // no rule: the slow path names the missing field
	}
	for {
		d.ws()
		key, ok := d.plainString()
		if !ok {
			return nil
		}
		d.ws()
		if !d.eat(':') {
			return nil
		}
		d.ws()
		bit := uint16(0)
		var str *string
		switch key {
		case "uuid":
			bit, str = 1, &a.UUID
		case "rule":
			bit, str = 2, &a.Rule
		case "priority":
			bit, str = 4, &prio
		case "time":
			bit, str = 8, &ts
		case "output":
			bit, str = 16, &a.Output
		case "source":
			bit, str = 32, &a.Source
		case "hostname":
			bit, str = 64, &a.Hostname
		case "tags":
			bit = 128
		case "output_fields":
			bit = 256
		default:
			for _, k := range knownKeys {
				if strings.EqualFold(key, k) {
					return nil // encoding/json matches keys case-insensitively
				}
			}
			if !d.scalar() {
				return nil
			}
		}
		if bit != 0 {
			if seen&bit != 0 {
				return nil
			}
			seen |= bit
			switch {
			case str != nil:
				if d.null() {
					break
				}
				s, ok := d.stringValue()
				if !ok {
					return nil
				}
				*str = s
			case bit == 128:
				if !d.tags(a) {
					return nil
				}
			default:
				if !d.fields(a) {
					return nil
				}
			}
		}
		d.ws()
		if d.eat(',') {
			continue
		}
		if !d.eat('}') {
			return nil
		}
		break
	}
	d.ws()
	if d.i != len(d.b) || a.Rule == "" || prio == "" || ts == "" {
		return nil
	}
	var err error
	if a.Priority, err = ParsePriority(prio); err != nil {
		return nil
	}
	if a.Time, err = time.Parse(time.RFC3339Nano, ts); err != nil {
		return nil
	}
	return a
}

var knownKeys = [...]string{"uuid", "rule", "priority", "time", "output", "source", "hostname", "tags", "output_fields"}

// fastDec is a strict JSON scanner over b; every method returns false (or
// nil) on input it does not accept, never guessing.
type fastDec struct {
	b []byte
	i int
	// s is b as one string: unescaped string values are substrings of it,
	// one allocation per alert instead of one per field.
	s string
}

func (d *fastDec) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *fastDec) eat(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *fastDec) lit(s string) bool {
	if len(d.b)-d.i >= len(s) && string(d.b[d.i:d.i+len(s)]) == s {
		d.i += len(s)
		return true
	}
	return false
}

func (d *fastDec) null() bool { return d.lit("null") }

// rawString scans a string token, validating its escapes; it returns the
// contents between the quotes and whether any escape occurs.
func (d *fastDec) rawString() (raw []byte, escaped, ok bool) {
	if !d.eat('"') {
		return nil, false, false
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			raw = d.b[start:d.i]
			d.i++
			return raw, escaped, true
		case c == '\\':
			escaped = true
			d.i++
			if d.i >= len(d.b) {
				return nil, false, false
			}
			switch d.b[d.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.i++
			case 'u':
				if len(d.b)-d.i < 5 {
					return nil, false, false
				}
				for _, h := range d.b[d.i+1 : d.i+5] {
					if !isHex(h) {
						return nil, false, false
					}
				}
				d.i += 5
			default:
				return nil, false, false
			}
		case c < 0x20:
			return nil, false, false
		default:
			d.i++
		}
	}
	return nil, false, false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// plainString is a string without escapes (keys).
func (d *fastDec) plainString() (string, bool) {
	raw, esc, ok := d.rawString()
	if !ok || esc {
		return "", false
	}
	return d.s[d.i-1-len(raw) : d.i-1], true
}

// stringValue is a string, unescaped by encoding/json when it has escapes.
func (d *fastDec) stringValue() (string, bool) {
	start := d.i
	raw, esc, ok := d.rawString()
	if !ok {
		return "", false
	}
	if !esc {
		return d.s[d.i-1-len(raw) : d.i-1], true
	}
	var s string
	if err := json.Unmarshal(d.b[start:d.i], &s); err != nil {
		return "", false
	}
	return s, true
}

// number scans a JSON number and returns its text.
func (d *fastDec) number() (string, bool) {
	start := d.i
	d.eat('-')
	switch {
	case d.eat('0'):
	case d.i < len(d.b) && d.b[d.i] >= '1' && d.b[d.i] <= '9':
		d.digits()
	default:
		return "", false
	}
	if d.eat('.') && !d.digits() {
		return "", false
	}
	if d.eat('e') || d.eat('E') {
		if !d.eat('+') {
			d.eat('-')
		}
		if !d.digits() {
			return "", false
		}
	}
	return d.s[start:d.i], true
}

func (d *fastDec) digits() bool {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

// scalar skips a string, number, true, false or null.
func (d *fastDec) scalar() bool {
	if d.i >= len(d.b) {
		return false
	}
	switch c := d.b[d.i]; {
	case c == '"':
		_, _, ok := d.rawString()
		return ok
	case c == '-' || c >= '0' && c <= '9':
		_, ok := d.number()
		return ok
	default:
		return d.lit("true") || d.lit("false") || d.null()
	}
}

// tags is null or an array of strings.
func (d *fastDec) tags(a *Alert) bool {
	if d.null() {
		return true
	}
	if !d.eat('[') {
		return false
	}
	a.Tags = make([]string, 0, 4)
	d.ws()
	if d.eat(']') {
		return true
	}
	for {
		d.ws()
		s, ok := d.stringValue()
		if !ok {
			return false
		}
		a.Tags = append(a.Tags, s)
		d.ws()
		if d.eat(',') {
			continue
		}
		return d.eat(']')
	}
}

// fields is null or an object of scalar values: strings, json.Number,
// booleans and nulls, as encoding/json with UseNumber gives them.
func (d *fastDec) fields(a *Alert) bool {
	if d.null() {
		return true
	}
	if !d.eat('{') {
		return false
	}
	m := make(map[string]any, 16)
	a.OutputFields = m
	d.ws()
	if d.eat('}') {
		return true
	}
	for {
		d.ws()
		key, ok := d.plainString()
		if !ok {
			return false
		}
		d.ws()
		if !d.eat(':') {
			return false
		}
		d.ws()
		if d.i >= len(d.b) {
			return false
		}
		switch c := d.b[d.i]; {
		case c == '"':
			s, ok := d.stringValue()
			if !ok {
				return false
			}
			m[key] = s
		case c == '-' || c >= '0' && c <= '9':
			n, ok := d.number()
			if !ok {
				return false
			}
			m[key] = json.Number(n)
		case d.lit("true"):
			m[key] = true
		case d.lit("false"):
			m[key] = false
		case d.null():
			m[key] = nil
		default:
			return false // nested objects and arrays: the slow path
		}
		d.ws()
		if d.eat(',') {
			continue
		}
		return d.eat('}')
	}
}
