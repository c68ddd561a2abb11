package ingest

import (
	"bytes"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/lannerhq/lanner/router/ingestpb"
)

// holding is how many batches hold buffers.
func (c *BatchCodec) holding() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.held)
}

// countingPool is a gRPC buffer pool that counts the buffers given back.
type countingPool struct{ puts atomic.Int32 }

func (p *countingPool) Get(n int) *[]byte { b := make([]byte, n); return &b }
func (p *countingPool) Put(*[]byte)       { p.puts.Add(1) }

// pooled splits wire at cuts into buffers of pool, as gRPC hands a message
// read from several HTTP/2 frames to the codec.
func pooled(wire []byte, pool mem.BufferPool, cuts ...int) mem.BufferSlice {
	var data mem.BufferSlice
	prev := 0
	for _, c := range append(cuts, len(wire)) {
		piece := bytes.Clone(wire[prev:c])
		data = append(data, mem.NewBuffer(&piece, pool))
		prev = c
	}
	return data
}

func TestBatchCodecRoundTrip(t *testing.T) {
	c := newBatchCodec()
	doc := func(r string) []byte {
		return []byte(`{"rule":"` + r + `","output":"` + strings.Repeat("x", 1500) + `"}`)
	}
	in := &ingestpb.AlertBatch{BatchId: "b-1", Alerts: [][]byte{doc("a"), {}, doc("c"), doc("d")}}
	data, err := c.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	wire := data.Materialize()
	for _, cuts := range [][]int{nil, {len(wire) / 2}, {1100, 2200}} {
		pool := &countingPool{}
		data := pooled(wire, pool, cuts...)
		var out ingestpb.AlertBatch
		if err := c.Unmarshal(data, &out); err != nil {
			t.Fatal(err)
		}
		data.Free() // as grpc does once Unmarshal returns
		if n := pool.puts.Load(); n != 0 {
			t.Fatalf("cuts %v: %d buffers given back while the alerts alias them", cuts, n)
		}
		if !proto.Equal(in, &out) {
			t.Fatalf("cuts %v: got %v, want %v", cuts, &out, in)
		}
		// Appending to one alert must not overwrite the next.
		_ = append(out.Alerts[0], "xxxxxxxxxxxxxxxx"...)
		if !bytes.Equal(out.Alerts[1], nil) || !bytes.Equal(out.Alerts[2], doc("c")) {
			t.Fatalf("cuts %v: append ran into the next alert: %q", cuts, out.Alerts[2])
		}
		if c.holding() != 1 {
			t.Fatalf("cuts %v: codec holds %d batches, want 1", cuts, c.holding())
		}
		c.Release(&out)
		c.Release(&out) // a second Release does nothing
		if n := pool.puts.Load(); int(n) != len(data) {
			t.Fatalf("cuts %v: %d of %d buffers given back after Release", cuts, n, len(data))
		}
		if out.Alerts != nil || c.holding() != 0 {
			t.Fatalf("cuts %v: alerts %d, held %d after Release", cuts, len(out.Alerts), c.holding())
		}
	}

	// A message decoded into again holds only the new batch, and the old
	// one's buffers go back.
	pool := &countingPool{}
	var out ingestpb.AlertBatch
	for range 2 {
		data := pooled(wire, pool, 1100, 2200)
		if err := c.Unmarshal(data, &out); err != nil {
			t.Fatal(err)
		}
		data.Free()
	}
	if !proto.Equal(in, &out) || c.holding() != 1 || pool.puts.Load() != 3 {
		t.Fatalf("decoded twice: %d alerts, %d held, %d buffers back", len(out.Alerts), c.holding(), pool.puts.Load())
	}
	c.Release(&out)

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
	if c.holding() != 0 {
		t.Fatalf("codec holds %d batches", c.holding())
	}
}

// A message split anywhere decodes as proto.Unmarshal decodes it joined,
// unknown fields of every wire type included (a group: the joined path).
func TestUnmarshalSplitBatch(t *testing.T) {
	wire, _ := proto.Marshal(&ingestpb.AlertBatch{BatchId: "batch-7", Alerts: [][]byte{[]byte(`{"rule":"a"}`), nil, []byte(strings.Repeat("y", 300))}})
	wire = protowire.AppendVarint(protowire.AppendTag(wire, 5, protowire.VarintType), 1<<60)
	wire = protowire.AppendFixed32(protowire.AppendTag(wire, 6, protowire.Fixed32Type), 7)
	wire = protowire.AppendFixed64(protowire.AppendTag(wire, 7, protowire.Fixed64Type), 8)
	wire = protowire.AppendBytes(protowire.AppendTag(wire, 8, protowire.BytesType), []byte("unknown"))
	wire = protowire.AppendBytes(protowire.AppendTag(wire, 2, protowire.BytesType), []byte(`{"rule":"last"}`))
	group := protowire.AppendTag(protowire.AppendVarint(protowire.AppendTag(protowire.AppendTag(nil, 9, protowire.StartGroupType), 1, protowire.VarintType), 3), 9, protowire.EndGroupType)
	for _, msg := range [][]byte{wire, append(bytes.Clone(wire), group...)} {
		var want ingestpb.AlertBatch
		if err := proto.Unmarshal(msg, &want); err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(msg); i++ {
			for _, cuts := range [][]int{{i}, {i / 2, i}} {
				var got ingestpb.AlertBatch
				if _, err := unmarshalSplitBatch(pooled(msg, nil, cuts...), &got); err != nil {
					t.Fatalf("cuts %v: %v", cuts, err)
				}
				// Unknown fields are skipped, not kept.
				if got.BatchId != want.BatchId || !slices.EqualFunc(got.Alerts, want.Alerts, bytes.Equal) {
					t.Fatalf("cuts %v: got %v, want %v", cuts, &got, &want)
				}
			}
		}
	}
}

// FuzzUnmarshalBatch checks the batch decoder (untrusted input from any
// gRPC client) against proto.Unmarshal: same batch, or both fail.
func FuzzUnmarshalBatch(f *testing.F) {
	seed, _ := proto.Marshal(&ingestpb.AlertBatch{BatchId: "x", Alerts: [][]byte{[]byte(`{}`), nil, []byte("a")}})
	f.Add(seed, uint16(0), uint16(0))
	f.Add(seed, uint16(3), uint16(9))
	f.Add([]byte{}, uint16(0), uint16(0))
	f.Add(protowire.AppendTag(nil, 1, protowire.VarintType), uint16(1), uint16(1))                                     // known field, wrong type, truncated
	f.Add(append(protowire.AppendTag(nil, 9, protowire.Fixed32Type), 1, 2, 3, 4), uint16(2), uint16(4))                // unknown field
	f.Add(protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte{0xff}), uint16(2), uint16(2)) // bad UTF-8 id
	f.Add(protowire.AppendTag(nil, 3, protowire.StartGroupType), uint16(0), uint16(0))
	f.Add(protowire.AppendTag(nil, 3, protowire.EndGroupType), uint16(1), uint16(1))
	f.Add([]byte{0x12, 0x80}, uint16(1), uint16(2)) // truncated length
	f.Fuzz(func(t *testing.T, data []byte, cut1, cut2 uint16) {
		var want ingestpb.AlertBatch
		wantErr := proto.Unmarshal(data, &want)
		var got ingestpb.AlertBatch
		// Split in up to three buffers, as gRPC hands over a message read
		// from several frames.
		c1 := min(int(cut1), len(data))
		c2 := max(c1, min(int(cut2), len(data)))
		gotErr := newBatchCodec().Unmarshal(pooled(data, nil, c1, c2), &got)
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
