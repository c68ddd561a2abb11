package alert

import (
	"reflect"
	"testing"
)

// FuzzDecodeFast checks the fast decoder against the reference one: whatever
// the fast path accepts, decodeSlow must accept with an equal result.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range []string{
		`{"uuid":"u","output":"o \"q\" \u00e9","priority":"Warning","rule":"r","time":"2026-01-01T00:00:00.123456789Z","output_fields":{"a":1,"b":-2.5e3,"c":"s","d":true,"e":false,"f":null},"source":"syscall","tags":["x","y"],"hostname":"h"}`,
		`{"rule":"r","priority":"debug","time":"2026-01-01T00:00:00Z","tags":[],"output_fields":{}}`,
		`{"rule":"r","priority":"debug","time":"2026-01-01T00:00:00Z","tags":null,"output_fields":null,"extra":[1]}`,
		`{"rule":"r","priority":"debug","time":"2026-01-01T00:00:00Z","Rule":"x","unknown":1.5}`,
		`{"rule":"r","priority":"debug","time":"2026-01-01T00:00:00Z","output_fields":{"a":1},"output_fields":{"b":2}}`,
		` {"rule":"r","priority":"debug","time":"2026-01-01T00:00:00Z","uuid":null} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast := decodeFast(data)
		if fast == nil {
			return
		}
		slow, err := decodeSlow(data)
		if err != nil {
			t.Fatalf("fast path accepted what decodeSlow rejects (%v): %q", err, data)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast %+v\nslow %+v\nfor %q", fast, slow, data)
		}
	})
}

// BenchmarkDecode compares the hot path with the reference decoder.
func BenchmarkDecode(b *testing.B) {
	data := []byte(falcoAlert)
	for _, bc := range []struct {
		name string
		fn   func([]byte) (*Alert, error)
	}{{"fast", Decode}, {"reference", decodeSlow}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := bc.fn(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
