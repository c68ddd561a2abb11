package ingest

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/lannerhq/lanner/router/ingestpb"
)

// BatchCodec is the gRPC server codec: protobuf, except that an AlertBatch
// is decoded into one buffer holding the whole message, its alerts slices
// of it. The generic decoder allocates and copies every alert apart (a
// thousand allocations per batch, each alert copied twice), and alert.Decode
// copies the alert again anyway. Every other message goes through grpc's
// own protobuf codec. Install it with grpc.ForceServerCodecV2.
type BatchCodec struct{ proto encoding.CodecV2 }

// NewBatchCodec returns the codec.
func NewBatchCodec() *BatchCodec {
	return &BatchCodec{proto: encoding.GetCodecV2(proto.Name)}
}

// Name is the content subtype it serves: protobuf, as the generic codec.
func (*BatchCodec) Name() string { return proto.Name }

// Marshal encodes replies with the generic codec.
func (c *BatchCodec) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }

// Unmarshal decodes an AlertBatch itself and anything else with the generic
// codec. The batch's alerts alias one copy of data, never data itself:
// grpc recycles data's buffers once Unmarshal returns.
func (c *BatchCodec) Unmarshal(data mem.BufferSlice, v any) error {
	b, ok := v.(*ingestpb.AlertBatch)
	if !ok {
		return c.proto.Unmarshal(data, v)
	}
	return unmarshalBatch(data.Materialize(), b)
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
