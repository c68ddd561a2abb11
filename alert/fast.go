package alert

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
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
	// No utf8.Valid pass over the whole document: outside strings the scanner
	// accepts only ASCII, and rawString validates every string's bytes.
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
	if t, ok := parseTimeUTC(ts); ok {
		a.Time = t
	} else {
		var err error
		if a.Time, err = time.Parse(time.RFC3339Nano, ts); err != nil {
			return nil
		}
	}
	return a
}

var knownKeys = [...]string{"uuid", "rule", "priority", "time", "output", "source", "hostname", "tags", "output_fields"}

// parseTimeUTC parses the one shape Falco and our agent write,
// YYYY-MM-DDTHH:MM:SS[.F{1,9}]Z, to the same time.Time that
// time.Parse(time.RFC3339Nano, s) returns. It reports false for anything
// else (offsets, a lower-case z, more fraction digits, out-of-range fields),
// which the caller hands to time.Parse.
func parseTimeUTC(s string) (time.Time, bool) {
	n := len(s)
	if n < len("2006-01-02T15:04:05Z") || s[n-1] != 'Z' ||
		s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits4(s[0:4])
	month, ok2 := digits2(s[5:7])
	day, ok3 := digits2(s[8:10])
	hour, ok4 := digits2(s[11:13])
	minute, ok5 := digits2(s[14:16])
	sec, ok6 := digits2(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 || day > daysInMonth(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := s[19 : n-1]; frac != "" {
		if len(frac) < 2 || len(frac) > 10 || frac[0] != '.' {
			return time.Time{}, false
		}
		for i := 1; i < len(frac); i++ {
			c := frac[i] - '0'
			if c > 9 {
				return time.Time{}, false
			}
			nsec = nsec*10 + int(c)
		}
		for range 10 - len(frac) {
			nsec *= 10
		}
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

func digits2(s string) (int, bool) {
	a, b := s[0]-'0', s[1]-'0'
	return int(a)*10 + int(b), a <= 9 && b <= 9
}

func digits4(s string) (int, bool) {
	hi, ok1 := digits2(s[0:2])
	lo, ok2 := digits2(s[2:4])
	return hi*100 + lo, ok1 && ok2
}

func daysInMonth(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

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

// Byte-lane constants for scanning strings eight bytes at a time.
const (
	lanes1  = 0x0101010101010101
	lanes80 = 0x8080808080808080
)

// rawString scans a string token, validating its escapes and its UTF-8; it
// returns the offsets of the contents between the quotes and whether any
// escape occurs.
func (d *fastDec) rawString() (start, end int, escaped, ok bool) {
	if !d.eat('"') {
		return 0, 0, false, false
	}
	b := d.b
	start = d.i
	i := d.i
	var high uint64 // OR of scanned bytes: a top bit set means maybe non-ASCII
	for {
		// Skip to the next quote, backslash or control byte, eight bytes at
		// a time. A lane's top bit in m flags such a byte; borrows only carry
		// upwards, so lanes above the first flagged one may be false alarms
		// but the lowest one is exact.
		for len(b)-i >= 8 {
			x := binary.LittleEndian.Uint64(b[i:])
			high |= x
			q := x ^ ('"' * lanes1)
			e := x ^ ('\\' * lanes1)
			m := ((q-lanes1)&^q | (e-lanes1)&^e | (x-0x20*lanes1)&^x) & lanes80
			if m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for ; i < len(b); i++ {
			c := b[i]
			high |= uint64(c)
			if c == '"' || c == '\\' || c < 0x20 {
				break
			}
		}
		if i >= len(b) {
			return 0, 0, false, false
		}
		switch b[i] {
		case '"':
			// high may include bytes past the quote: it only says whether to
			// check, the check covers exactly the string's bytes.
			if high&lanes80 != 0 && !utf8.Valid(b[start:i]) {
				return 0, 0, false, false
			}
			d.i = i + 1
			return start, i, escaped, true
		case '\\':
			escaped = true
			i++
			if i >= len(b) {
				return 0, 0, false, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if len(b)-i < 5 || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return 0, 0, false, false
				}
				i += 5
			default:
				return 0, 0, false, false
			}
		default: // a control byte
			return 0, 0, false, false
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// plainString is a string without escapes (keys).
func (d *fastDec) plainString() (string, bool) {
	start, end, esc, ok := d.rawString()
	if !ok || esc {
		return "", false
	}
	return d.s[start:end], true
}

// stringValue is a string, unescaped by encoding/json when it has escapes.
func (d *fastDec) stringValue() (string, bool) {
	quote := d.i
	start, end, esc, ok := d.rawString()
	if !ok {
		return "", false
	}
	if !esc {
		return d.s[start:end], true
	}
	var s string
	if err := json.Unmarshal(d.b[quote:d.i], &s); err != nil {
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
		_, _, _, ok := d.rawString()
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
	// Collected on the stack first so the alert gets one exactly sized slice.
	var buf [16]string
	tags := buf[:0]
	d.ws()
	if !d.eat(']') {
		for {
			d.ws()
			s, ok := d.stringValue()
			if !ok {
				return false
			}
			tags = append(tags, s)
			d.ws()
			if d.eat(',') {
				continue
			}
			if !d.eat(']') {
				return false
			}
			break
		}
	}
	// Never nil: encoding/json gives an empty, non-nil slice for [].
	a.Tags = make([]string, len(tags))
	copy(a.Tags, tags)
	return true
}

// fields is null or an object of scalar values: strings, numbers, booleans
// and nulls. Values are slices of the document's one string.
func (d *fastDec) fields(a *Alert) bool {
	if d.null() {
		return true
	}
	if !d.eat('{') {
		return false
	}
	// Collected on the stack first so the alert gets one exactly sized slice.
	var buf [32]Field
	kvs := buf[:0]
	d.ws()
	if !d.eat('}') {
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
			var v Value
			switch c := d.b[d.i]; {
			case c == '"':
				s, ok := d.stringValue()
				if !ok {
					return false
				}
				v = StringValue(s)
			case c == '-' || c >= '0' && c <= '9':
				n, ok := d.number()
				if !ok {
					return false
				}
				v = Value{text: n, kind: KindNumber}
			case d.lit("true"):
				v = BoolValue(true)
			case d.lit("false"):
				v = BoolValue(false)
			case d.null():
			default:
				return false // nested objects and arrays: the slow path
			}
			kvs = append(kvs, Field{Key: key, Value: v})
			d.ws()
			if d.eat(',') {
				continue
			}
			if !d.eat('}') {
				return false
			}
			break
		}
	}
	// Falco writes the keys sorted; anything else is sorted here (a later
	// duplicate wins, as in encoding/json).
	f := Fields(kvs)
	if !f.IsSorted() {
		f = sortInPlace(f)
	}
	a.OutputFields = append(make(Fields, 0, len(f)), f...)
	return true
}
