package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"unicode/utf8"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/lannerhq/lanner/router/ingestpb"
)

// BatchCodec is the gRPC server codec: protobuf, except that an AlertBatch
// is decoded without copying its alerts. They are slices of the buffers
// gRPC read the message into, which the codec keeps until Release. The
// generic decoder allocates and copies every alert apart (a thousand
// allocations per batch), and even one copy of the whole message costs a
// fresh megabyte per batch and ~5% of the ingest's CPU; alert.Decode copies
// each alert anyway. Every other message goes through grpc's own protobuf
// codec. GRPC.Codec returns the one to install (grpc.ForceServerCodecV2),
// whose batches its handler releases.
type BatchCodec struct {
	proto encoding.CodecV2
	mu    sync.Mutex
	held  map[*ingestpb.AlertBatch]mem.BufferSlice // buffers the batch's alerts alias, until Release
}

// newBatchCodec returns the codec.
func newBatchCodec() *BatchCodec {
	return &BatchCodec{proto: encoding.GetCodecV2(proto.Name), held: map[*ingestpb.AlertBatch]mem.BufferSlice{}}
}

// Name is the content subtype it serves: protobuf, as the generic codec.
func (*BatchCodec) Name() string { return proto.Name }

// Marshal encodes replies with the generic codec.
func (c *BatchCodec) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }

// Unmarshal decodes an AlertBatch itself and anything else with the generic
// codec. The batch's alerts alias data's buffers, which grpc recycles once
// Unmarshal returns unless they are referenced: the codec takes a reference
// and keeps it until Release. An alert split over two buffers is copied.
func (c *BatchCodec) Unmarshal(data mem.BufferSlice, v any) error {
	b, ok := v.(*ingestpb.AlertBatch)
	if !ok {
		return c.proto.Unmarshal(data, v)
	}
	// As proto.Unmarshal, replace what b held (grpc passes a new message
	// each time, but a caller may reuse one).
	c.Release(b)
	b.BatchId, b.Alerts = "", nil
	aliased, err := unmarshalSplitBatch(data, b)
	if err != nil || !aliased {
		return err
	}
	data.Ref()
	c.mu.Lock()
	c.held[b] = data
	c.mu.Unlock()
	return nil
}

// Release gives the buffers b's alerts alias back to gRPC and clears
// b.Alerts, which must not be read afterwards. It does nothing for a batch
// the codec does not hold, so it is safe to call more than once.
func (c *BatchCodec) Release(b *ingestpb.AlertBatch) {
	if c == nil || b == nil {
		return
	}
	c.mu.Lock()
	data, ok := c.held[b]
	delete(c.held, b)
	c.mu.Unlock()
	if ok {
		b.Alerts = nil
		data.Free()
	}
}

// unmarshalSplitBatch decodes a message spread over bufs into b, with the
// results of unmarshalBatch on the joined bytes. Alerts within one buffer
// alias it (aliased reports whether any does). Groups, which no client of
// this service sends, fall back to one joined copy.
func unmarshalSplitBatch(bufs mem.BufferSlice, b *ingestpb.AlertBatch) (aliased bool, err error) {
	if len(bufs) == 1 {
		return true, unmarshalBatch(bufs[0].ReadOnlyData(), b)
	}
	r := splitReader{bufs: bufs}
	var tmp [binary.MaxVarintLen64]byte
	for !r.done() {
		num, typ, n := protowire.ConsumeTag(r.next(&tmp))
		if n < 0 {
			return false, fmt.Errorf("ingest: decode AlertBatch: %w", protowire.ParseError(n))
		}
		if num > protowire.MaxValidNumber {
			return false, fmt.Errorf("ingest: decode AlertBatch: field number %d out of range", num)
		}
		r.skip(n)
		size := uint64(0)
		switch typ {
		case protowire.BytesType:
			size, n = protowire.ConsumeVarint(r.next(&tmp))
		case protowire.VarintType:
			_, n = protowire.ConsumeVarint(r.next(&tmp))
		case protowire.Fixed32Type:
			size, n = 4, 0
		case protowire.Fixed64Type:
			size, n = 8, 0
		default:
			b.BatchId, b.Alerts = "", nil
			return false, unmarshalBatch(bufs.Materialize(), b)
		}
		if n < 0 {
			return false, fmt.Errorf("ingest: decode AlertBatch: %w", protowire.ParseError(n))
		}
		r.skip(n)
		keep := typ == protowire.BytesType && (num == 1 || num == 2)
		v, inOne, ok := r.bytes(size, keep)
		if !ok {
			return false, fmt.Errorf("ingest: decode AlertBatch: %w", io.ErrUnexpectedEOF)
		}
		switch {
		case !keep:
		case num == 1:
			if !utf8.Valid(v) {
				return false, errors.New("ingest: decode AlertBatch: batch_id is not valid UTF-8")
			}
			b.BatchId = string(v)
		default:
			aliased = aliased || inOne
			// Capped: nothing appends into the next alert.
			b.Alerts = append(b.Alerts, v[:len(v):len(v)])
		}
	}
	return aliased, nil
}

// splitReader reads protobuf wire data spread over gRPC's buffers.
type splitReader struct {
	bufs mem.BufferSlice
	i    int // current buffer
	off  int // read offset in it
}

// cur returns the unread bytes of the current buffer, moving past
// exhausted ones.
func (r *splitReader) cur() []byte {
	for r.i < len(r.bufs) {
		if d := r.bufs[r.i].ReadOnlyData(); r.off < len(d) {
			return d[r.off:]
		}
		r.i, r.off = r.i+1, 0
	}
	return nil
}

func (r *splitReader) done() bool { return len(r.cur()) == 0 }

// next returns at least the next bytes a varint can take (fewer at the
// end): the current buffer's, or a copy into tmp when they straddle.
func (r *splitReader) next(tmp *[binary.MaxVarintLen64]byte) []byte {
	if d := r.cur(); len(d) >= len(tmp) {
		return d
	}
	return tmp[:r.peek(tmp[:])]
}

// peek copies the next bytes into dst without consuming them.
func (r *splitReader) peek(dst []byte) int {
	n := 0
	for i, off := r.i, r.off; n < len(dst) && i < len(r.bufs); i, off = i+1, 0 {
		n += copy(dst[n:], r.bufs[i].ReadOnlyData()[off:])
	}
	return n
}

// skip consumes n bytes; the caller knows they are there.
func (r *splitReader) skip(n int) {
	for n > 0 {
		k := min(n, len(r.cur()))
		if k == 0 {
			return
		}
		r.off += k
		n -= k
	}
}

// bytes consumes size bytes and, with keep, returns them: a slice of one
// buffer (inOne) or a copy of the pieces. ok is false if fewer remain.
func (r *splitReader) bytes(size uint64, keep bool) (v []byte, inOne, ok bool) {
	if d := r.cur(); uint64(len(d)) >= size {
		r.off += int(size)
		return d[:size], true, true
	}
	rest := -r.off
	for i := r.i; i < len(r.bufs); i++ {
		rest += r.bufs[i].Len()
	}
	if uint64(rest) < size {
		return nil, false, false
	}
	if keep {
		v = make([]byte, size)
		r.peek(v)
	}
	r.skip(int(size))
	return v, false, true
}

// unmarshalBatch decodes buf into b the way proto.Unmarshal does (the last
// batch_id wins, alerts accumulate, unknown fields and known fields of the
// wrong wire type are skipped), except that alerts alias buf.
func unmarshalBatch(buf []byte, b *ingestpb.AlertBatch) error {
	for len(buf) > 0 {
		num, typ, n := protowire.ConsumeTag(buf)
		if n < 0 {
			return fmt.Errorf("ingest: decode AlertBatch: %w", protowire.ParseError(n))
		}
		if num > protowire.MaxValidNumber {
			return fmt.Errorf("ingest: decode AlertBatch: field number %d out of range", num)
		}
		buf = buf[n:]
		if typ == protowire.BytesType && (num == 1 || num == 2) {
			v, n := protowire.ConsumeBytes(buf)
			if n < 0 {
				return fmt.Errorf("ingest: decode AlertBatch: %w", protowire.ParseError(n))
			}
			buf = buf[n:]
			if num == 1 {
				if !utf8.Valid(v) {
					return errors.New("ingest: decode AlertBatch: batch_id is not valid UTF-8")
				}
				b.BatchId = string(v)
			} else {
				// Capped: nothing appends into the next alert.
				b.Alerts = append(b.Alerts, v[:len(v):len(v)])
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, buf)
		if n < 0 {
			return fmt.Errorf("ingest: decode AlertBatch: %w", protowire.ParseError(n))
		}
		buf = buf[n:]
	}
	return nil
}
