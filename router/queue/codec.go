package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/lannerhq/lanner/outputs"
)

// Entry (live queue value), version 2:
//
//	[0]      version
//	[1:9]    enqueue time, unix ns (measures ingest-to-delivery latency)
//	[9:17]   first failed try, unix ns, 0 = never tried
//	[17:21]  attempts so far
//	message: uvarint #overrides, (uvarint len, key, uvarint len, value)...,
//	         the alert (alertcodec.go)
//
// Dead letter value, version 2:
//
//	[0] version, [1:9] enqueued, [9:17] first try, [17:25] last try,
//	[25:33] dead at, [33:37] attempts, uvarint len + reason, message.
const (
	entryVersion  = 2
	entryHeader   = 21
	deadVersion   = 2
	deadHeaderLen = 37
)

var errCorrupt = errors.New("corrupt queue record")

// appendMessage encodes overrides followed by the already-encoded alert.
func appendMessage(dst []byte, overrides map[string]string, enc []byte) []byte {
	return append(appendOverrides(dst, overrides), enc...)
}

// appendOverrides encodes the part of a message before its alert.
func appendOverrides(dst []byte, overrides map[string]string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(overrides)))
	for k, v := range overrides {
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
		dst = binary.AppendUvarint(dst, uint64(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

func encodeEntry(enq time.Time, firstTry time.Time, attempts int, msg []byte) []byte {
	b := make([]byte, entryHeader, entryHeader+len(msg))
	putEntryHeader(b, enq, firstTry, attempts)
	return append(b, msg...)
}

func putEntryHeader(b []byte, enq time.Time, firstTry time.Time, attempts int) {
	b[0] = entryVersion
	binary.BigEndian.PutUint64(b[1:], uint64(enq.UnixNano()))
	binary.BigEndian.PutUint64(b[9:], unixOrZero(firstTry))
	binary.BigEndian.PutUint32(b[17:], uint32(attempts))
}

func unixOrZero(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixNano())
}

func timeOrZero(ns uint64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(ns)).UTC()
}

// entryMeta is an entry's header; msg is the encoded message that follows.
type entryMeta struct {
	enq, firstTry time.Time
	attempts      int
	msg           []byte
}

func decodeEntryMeta(v []byte) (entryMeta, error) {
	if len(v) < entryHeader || v[0] != entryVersion {
		return entryMeta{}, errCorrupt
	}
	return entryMeta{
		enq:      timeOrZero(binary.BigEndian.Uint64(v[1:])),
		firstTry: timeOrZero(binary.BigEndian.Uint64(v[9:])),
		attempts: int(binary.BigEndian.Uint32(v[17:])),
		msg:      v[entryHeader:],
	}, nil
}

func readString(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return "", nil, errCorrupt
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}

// decodeMessage is the inverse of appendMessage.
func decodeMessage(b []byte) (outputs.Message, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return outputs.Message{}, errCorrupt
	}
	b = b[k:]
	var m outputs.Message
	if n > 0 {
		m.Overrides = make(map[string]string, n)
		for i := uint64(0); i < n; i++ {
			var key, val string
			var err error
			if key, b, err = readString(b); err != nil {
				return m, err
			}
			if val, b, err = readString(b); err != nil {
				return m, err
			}
			m.Overrides[key] = val
		}
	}
	a, err := decodeAlert(b)
	if err != nil {
		return m, fmt.Errorf("alert: %w", err)
	}
	m.Alert = a
	return m, nil
}

type deadMeta struct {
	enq, firstTry, lastTry, deadAt time.Time
	attempts                       int
	reason                         string
	msg                            []byte
}

func encodeDead(d deadMeta) []byte {
	b := make([]byte, deadHeaderLen, deadHeaderLen+len(d.reason)+2+len(d.msg))
	b[0] = deadVersion
	binary.BigEndian.PutUint64(b[1:], unixOrZero(d.enq))
	binary.BigEndian.PutUint64(b[9:], unixOrZero(d.firstTry))
	binary.BigEndian.PutUint64(b[17:], unixOrZero(d.lastTry))
	binary.BigEndian.PutUint64(b[25:], unixOrZero(d.deadAt))
	binary.BigEndian.PutUint32(b[33:], uint32(d.attempts))
	b = binary.AppendUvarint(b, uint64(len(d.reason)))
	b = append(b, d.reason...)
	return append(b, d.msg...)
}

func decodeDead(v []byte) (deadMeta, error) {
	if len(v) < deadHeaderLen || v[0] != deadVersion {
		return deadMeta{}, errCorrupt
	}
	d := deadMeta{
		enq:      timeOrZero(binary.BigEndian.Uint64(v[1:])),
		firstTry: timeOrZero(binary.BigEndian.Uint64(v[9:])),
		lastTry:  timeOrZero(binary.BigEndian.Uint64(v[17:])),
		deadAt:   timeOrZero(binary.BigEndian.Uint64(v[25:])),
		attempts: int(binary.BigEndian.Uint32(v[33:])),
	}
	var err error
	if d.reason, d.msg, err = readString(v[deadHeaderLen:]); err != nil {
		return deadMeta{}, err
	}
	return d, nil
}
