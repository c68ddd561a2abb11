package ingest

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/lannerhq/lanner/router/ingestpb"
)

func TestBatchCodecRoundTrip(t *testing.T) {
	c := NewBatchCodec()
	in := &ingestpb.AlertBatch{BatchId: "b-1", Alerts: [][]byte{[]byte(`{"rule":"a"}`), {}, []byte(`{"rule":"c"}`)}}
	data, err := c.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	raw := data.Materialize()
	var out ingestpb.AlertBatch
	if err := c.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(in, &out) {
		t.Fatalf("got %v, want %v", &out, in)
	}
	// The alerts must not alias data's buffers, which grpc recycles.
	data.Free()
	for i := range raw {
		raw[i] = 0
	}
	if string(out.Alerts[2]) != `{"rule":"c"}` {
		t.Fatalf("alert changed after the buffers were recycled: %q", out.Alerts[2])
	}
	// Appending to one alert must not overwrite the next.
	_ = append(out.Alerts[0], "xxxxxxxxxxxxxxxx"...)
	if string(out.Alerts[2]) != `{"rule":"c"}` {
		t.Fatalf("append ran into the next alert: %q", out.Alerts[2])
	}

	// Other messages go through the generic codec.
	ack := &ingestpb.Ack{BatchId: "b-1", Accepted: 3, Retry: []uint32{1}}
	data, err = c.Marshal(ack)
	if err != nil {
		t.Fatal(err)
	}
	var back ingestpb.Ack
	if err := c.Unmarshal(data, &back); err != nil || !proto.Equal(ack, &back) {
		t.Fatalf("ack round trip: %v, %v", &back, err)
	}
}

// FuzzUnmarshalBatch checks the batch decoder (untrusted input from any
// gRPC client) against proto.Unmarshal: same batch, or both fail.
func FuzzUnmarshalBatch(f *testing.F) {
	seed, _ := proto.Marshal(&ingestpb.AlertBatch{BatchId: "x", Alerts: [][]byte{[]byte(`{}`), nil, []byte("a")}})
	f.Add(seed)
	f.Add([]byte{})
	f.Add(protowire.AppendTag(nil, 1, protowire.VarintType))                                     // known field, wrong type, truncated
	f.Add(append(protowire.AppendTag(nil, 9, protowire.Fixed32Type), 1, 2, 3, 4))                // unknown field
	f.Add(protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte{0xff})) // bad UTF-8 id
	f.Add(protowire.AppendTag(nil, 3, protowire.StartGroupType))
	f.Add(protowire.AppendTag(nil, 3, protowire.EndGroupType))
	f.Add([]byte{0x12, 0x80}) // truncated length
	f.Fuzz(func(t *testing.T, data []byte) {
		var want ingestpb.AlertBatch
		wantErr := proto.Unmarshal(data, &want)
		var got ingestpb.AlertBatch
		gotErr := NewBatchCodec().Unmarshal(mem.BufferSlice{mem.SliceBuffer(bytes.Clone(data))}, &got)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("proto: %v, ours: %v, for %x", wantErr, gotErr, data)
		}
		if wantErr != nil {
			return
		}
		if got.BatchId != want.BatchId || len(got.Alerts) != len(want.Alerts) {
			t.Fatalf("got %q/%d alerts, want %q/%d", got.BatchId, len(got.Alerts), want.BatchId, len(want.Alerts))
		}
		for i := range want.Alerts {
			if !bytes.Equal(got.Alerts[i], want.Alerts[i]) {
				t.Fatalf("alert %d: got %q, want %q", i, got.Alerts[i], want.Alerts[i])
			}
		}
	})
}
