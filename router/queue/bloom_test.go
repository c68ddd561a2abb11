package queue

import (
	"strconv"
	"testing"
)

// The filter's false-positive rate at its design load (bloomBitsPerKey)
// must stay at or below about 0.1%: each false positive costs a disk
// lookup. Measured with real digests; deterministic.
func TestBloomFalsePositives(t *testing.T) {
	for _, capacity := range []int{bloomFirstCap, 4 * bloomFirstCap} {
		t.Run(strconv.Itoa(capacity), func(t *testing.T) {
			b := newBloom(capacity)
			if got, want := len(b.bits)*64, capacity*bloomBitsPerKey; got != want {
				t.Fatalf("%d bits for %d keys, want %d", got, capacity, want)
			}
			for i := range capacity {
				h := digestHash(dedupDigest("out", "in-"+strconv.Itoa(i)))
				b.add(h)
				if !b.has(h) {
					t.Fatalf("key %d not found right after add", i)
				}
			}
			for i := range capacity {
				if !b.has(digestHash(dedupDigest("out", "in-"+strconv.Itoa(i)))) {
					t.Fatalf("false negative for key %d", i)
				}
			}
			const probes = 1 << 20
			fp := 0
			for i := range probes {
				if b.has(digestHash(dedupDigest("out", "out-"+strconv.Itoa(i)))) {
					fp++
				}
			}
			rate := float64(fp) / probes
			t.Logf("false positives at design load: %.4f%% (%d of %d)", 100*rate, fp, probes)
			if rate > 0.001 {
				t.Fatalf("false-positive rate %.4f%%, want <= 0.1%%", 100*rate)
			}
		})
	}
}

// Past its memory cap a bucket answers "maybe" for everything.
func TestDedupFilterCap(t *testing.T) {
	size := len(newBloom(bloomFirstCap).bits) * 8
	f := newDedupFilter(size)
	hs := make([]uint64, bloomFirstCap)
	for i := range hs {
		hs[i] = digestHash(dedupDigest("out", "cap-"+strconv.Itoa(i)))
	}
	f.add(7, hs...)
	absent := digestHash(dedupDigest("out", "absent"))
	if got := f.maybeIn(0, 7, absent, nil); len(got) != 0 {
		t.Fatalf("absent key: maybe in %v", got)
	}
	f.add(7, absent) // needs a second filter: over the cap
	if !f.buckets[7].saturated {
		t.Fatal("not saturated past the cap")
	}
	if got := f.maybeIn(0, 7, digestHash(dedupDigest("out", "other")), nil); len(got) != 1 || got[0] != 7 {
		t.Fatalf("saturated bucket: maybe in %v, want [7]", got)
	}
	f.expire(8)
	if len(f.buckets) != 0 || f.used != 0 {
		t.Fatalf("after expiry: %d buckets, %d bytes", len(f.buckets), f.used)
	}
}

func BenchmarkBloom(b *testing.B) {
	f := newBloom(bloomMaxCap)
	hs := make([]uint64, 1<<16)
	for i := range hs {
		hs[i] = digestHash(dedupDigest("out", strconv.Itoa(i)))
	}
	b.Run("add", func(b *testing.B) {
		for i := range b.N {
			f.add(hs[i&(len(hs)-1)] + uint64(i))
		}
	})
	b.Run("has", func(b *testing.B) {
		for i := range b.N {
			f.has(hs[i&(len(hs)-1)] ^ uint64(i))
		}
	})
}
