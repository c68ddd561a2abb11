package queue

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/lannerhq/lanner/alert"
)

// A compact binary form of alert.Alert for the queue. encoding/json cost
// several microseconds per alert each way, a large share of the queue's CPU
// budget at 150,000 alerts/s; this form is read and written with appends
// and slices. output_fields keep their order and JSON types; arrays and
// objects are stored as JSON text. fieldFloat is only read: earlier
// versions wrote float64 values with it.
const (
	fieldNull byte = iota
	fieldString
	fieldNumber // json.Number, as text
	fieldTrue
	fieldFalse
	fieldFloat
	fieldJSON // anything else, marshalled
)

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendAlert encodes a. Nil and empty tags and output_fields are kept apart
// (count+1, 0 = nil) so the JSON an output renders does not change.
func appendAlert(dst []byte, a *alert.Alert) ([]byte, error) {
	dst = appendStr(dst, a.UUID)
	dst = binary.AppendVarint(dst, a.Time.UnixNano())
	_, off := a.Time.Zone()
	dst = binary.AppendVarint(dst, int64(off))
	dst = append(dst, byte(a.Priority))
	dst = appendStr(dst, a.Rule)
	dst = appendStr(dst, a.Output)
	dst = appendStr(dst, a.Source)
	dst = appendStr(dst, a.Hostname)
	if a.Tags == nil {
		dst = append(dst, 0)
	} else {
		dst = binary.AppendUvarint(dst, uint64(len(a.Tags))+1)
		for _, t := range a.Tags {
			dst = appendStr(dst, t)
		}
	}
	if a.OutputFields == nil {
		return append(dst, 0), nil
	}
	dst = binary.AppendUvarint(dst, uint64(len(a.OutputFields))+1)
	for _, f := range a.OutputFields {
		dst = appendStr(dst, f.Key)
		v := f.Value
		switch v.Kind() {
		case alert.KindNull:
			dst = append(dst, fieldNull)
		case alert.KindString:
			dst = appendStr(append(dst, fieldString), v.String())
		case alert.KindNumber:
			dst = appendStr(append(dst, fieldNumber), v.String())
		case alert.KindBool:
			if v.String() == "true" {
				dst = append(dst, fieldTrue)
			} else {
				dst = append(dst, fieldFalse)
			}
		default:
			dst = appendStr(append(dst, fieldJSON), v.JSONText())
		}
	}
	return dst, nil
}

// alertReader decodes appendAlert's form; the first error sticks.
type alertReader struct {
	b   []byte
	err error
	// s is all of the input as one string, so each string field is a
	// substring of it: one allocation per alert instead of one per field.
	s string
}

func (r *alertReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *alertReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *alertReader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errCorrupt
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *alertReader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errCorrupt
		return ""
	}
	off := len(r.s) - len(r.b)
	r.b = r.b[n:]
	return r.s[off : off+int(n)]
}

// count reads a count+1 (0 = nil) bounded by the bytes left, so corrupt
// input cannot make it allocate much.
func (r *alertReader) count() (n int, isNil bool) {
	c := r.uvarint()
	if r.err != nil || c == 0 {
		return 0, true
	}
	if c-1 > uint64(len(r.b)) {
		r.err = errCorrupt
		return 0, true
	}
	return int(c - 1), false
}

func decodeAlert(b []byte) (*alert.Alert, error) {
	r := &alertReader{b: b, s: string(b)}
	a := &alert.Alert{UUID: r.str()}
	ns, off := r.varint(), r.varint()
	a.Time = time.Unix(0, ns).UTC()
	if off != 0 && off > -86400 && off < 86400 {
		a.Time = a.Time.In(time.FixedZone("", int(off)))
	}
	a.Priority = alert.Priority(r.byte())
	a.Rule, a.Output, a.Source, a.Hostname = r.str(), r.str(), r.str(), r.str()
	if n, isNil := r.count(); !isNil {
		a.Tags = make([]string, n)
		for i := range a.Tags {
			a.Tags[i] = r.str()
		}
	}
	if n, isNil := r.count(); !isNil {
		a.OutputFields = make(alert.Fields, 0, n)
		for range n {
			k := r.str()
			var v alert.Value
			switch r.byte() {
			case fieldNull:
			case fieldString:
				v = alert.StringValue(r.str())
			case fieldNumber:
				var err error
				if v, err = alert.NumberValue(r.str()); err != nil && r.err == nil {
					r.err = fmt.Errorf("%w: output_fields %q: %w", errCorrupt, k, err)
				}
			case fieldTrue:
				v = alert.BoolValue(true)
			case fieldFalse:
				v = alert.BoolValue(false)
			case fieldFloat: // written by versions that kept float64 values
				if len(r.b) < 8 {
					r.err = errCorrupt
					break
				}
				var err error
				if v, err = alert.FloatValue(math.Float64frombits(binary.BigEndian.Uint64(r.b))); err != nil {
					r.err = fmt.Errorf("%w: output_fields %q: %w", errCorrupt, k, err)
				}
				r.b = r.b[8:]
			case fieldJSON:
				var err error
				if v, err = alert.ValueOf(json.RawMessage(r.str())); err != nil && r.err == nil {
					r.err = fmt.Errorf("%w: output_fields %q: %w", errCorrupt, k, err)
				}
			default:
				r.err = errCorrupt
			}
			if r.err != nil {
				break
			}
			a.OutputFields = append(a.OutputFields, alert.Field{Key: k, Value: v})
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(r.b))
	}
	return a, nil
}
