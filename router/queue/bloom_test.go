package queue

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The filter's false-positive rate at its design load (bloomBitsPerKey)
// must stay at or below about 0.1%: each false positive costs a disk
// lookup. Measured with real digests; deterministic.
func TestBloomFalsePositives(t *testing.T) {
	for _, tc := range []struct {
		name       string
		bitsPerKey int
		capacity   int
		maxRate    float64
	}{
		{"first", bloomBitsPerKey, bloomFirstCap, 0.001},
		{"first-4x", bloomBitsPerKey, 4 * bloomFirstCap, 0.001},
		{"later", bloomLaterBitsPerKey, (1 << 22) / bloomLaterBitsPerKey, 0.0002},
	} {
		t.Run(tc.name, func(t *testing.T) {
			capacity := tc.capacity
			m := uint64(512) // a power of two, as the filters use
			for m < uint64(capacity*tc.bitsPerKey) {
				m <<= 1
			}
			b := newBloom(m, capacity)
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
			t.Logf("false positives at %d bits per key: %.4f%% (%d of %d)", tc.bitsPerKey, 100*rate, fp, probes)
			if rate > tc.maxRate {
				t.Fatalf("false-positive rate %.4f%%, want <= %.4f%%", 100*rate, 100*tc.maxRate)
			}
		})
	}
}

// A bucket's filters together stay near the first filter's false-positive
// rate however many it grew.
func TestDedupFilterGrowthFalsePositives(t *testing.T) {
	f := newDedupFilter(DefaultDedupMemory)
	const keys = 1 << 21
	for i := range keys {
		f.add(1, digestHash(dedupDigest("out", "in-"+strconv.Itoa(i))))
	}
	if n := len(f.buckets[1].filters); n < 4 {
		t.Fatalf("%d filters for %d keys: the test means to cover growth", n, keys)
	}
	// The next bucket starts with one filter sized for what this one took.
	f.add(2, 1)
	if got := f.buckets[2].filters[0].cap; got < keys {
		t.Errorf("next bucket's first filter holds %d keys, want >= %d", got, keys)
	}
	const probes = 1 << 19
	fp := 0
	var dst []uint64
	for i := range probes {
		if dst = f.maybeIn(1, 1, digestHash(dedupDigest("out", "out-"+strconv.Itoa(i))), dst[:0]); len(dst) > 0 {
			fp++
		}
	}
	rate := float64(fp) / probes
	t.Logf("%d filters, false positives %.4f%%", len(f.buckets[1].filters), 100*rate)
	if rate > 0.0015 {
		t.Fatalf("false-positive rate %.4f%% across the filters, want <= 0.15%%", 100*rate)
	}
}

// Past its memory cap a bucket answers "maybe" for everything.
func TestDedupFilterCap(t *testing.T) {
	size := len(newBloom(bloomFirstCap*bloomBitsPerKey, bloomFirstCap).bits) * 8
	f := newDedupFilter(size)
	var full []uint64
	f.saturated = func(bucket uint64) { full = append(full, bucket) }
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
	f.add(7, 12345) // already saturated: reported once
	if len(full) != 1 || full[0] != 7 {
		t.Fatalf("saturation reported for buckets %v, want [7]", full)
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
	f := newBloom(bloomMaxCap*bloomBitsPerKey, bloomMaxCap)
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

func TestDigestSet(t *testing.T) {
	var s digestSet
	if s.has(dedupEntry{}) {
		t.Fatal("empty set has the zero entry")
	}
	const n = 5000 // several grows
	e := func(i int) dedupEntry {
		return dedupEntry{bucket: uint64(i % 3), digest: dedupDigest("out", strconv.Itoa(i))}
	}
	for i := range n {
		s.add(e(i))
		s.add(e(i)) // again: no-op
	}
	s.add(dedupEntry{}) // bucket 0, zero digest: a valid entry too
	if s.len() != n+1 {
		t.Fatalf("len %d, want %d", s.len(), n+1)
	}
	for i := range n {
		if !s.has(e(i)) {
			t.Fatalf("entry %d missing", i)
		}
		if s.has(dedupEntry{bucket: uint64(i%3) + 7, digest: e(i).digest}) {
			t.Fatalf("entry %d found in another bucket", i)
		}
	}
	if !s.has(dedupEntry{}) {
		t.Fatal("zero entry missing")
	}
	slots := len(s.slots)
	s.reset()
	if s.len() != 0 || s.has(e(1)) || len(s.slots) != slots {
		t.Fatalf("after reset: len %d, has %v, %d slots (had %d)", s.len(), s.has(e(1)), len(s.slots), slots)
	}
}

func BenchmarkDigestSet(b *testing.B) {
	es := make([]dedupEntry, 1<<16)
	for i := range es {
		es[i] = dedupEntry{bucket: 42, digest: dedupDigest("out", strconv.Itoa(i))}
	}
	b.Run("set", func(b *testing.B) {
		var s digestSet
		for range b.N {
			for _, e := range es {
				s.add(e)
			}
			s.reset()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(es)), "ns/entry")
	})
	b.Run("map", func(b *testing.B) {
		m := make(map[dedupEntry]struct{}, len(es))
		for range b.N {
			for _, e := range es {
				m[e] = struct{}{}
			}
			for _, e := range es {
				delete(m, e)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(es)), "ns/entry")
	})
}

// At the cap the oldest buckets are forgotten first, never newer ones; the
// newest bucket saturates only when it alone fills the cap.
func TestDedupFilterEvictsOldestFirst(t *testing.T) {
	size := len(newBloom(bloomFirstCap*bloomBitsPerKey, bloomFirstCap).bits) * 8
	f := newDedupFilter(2 * size) // room for two first filters
	var evicted, full []uint64
	f.evicted = func(b uint64) { evicted = append(evicted, b) }
	f.saturated = func(b uint64) { full = append(full, b) }
	key := func(b uint64) uint64 { return digestHash(dedupDigest("out", "k-"+strconv.FormatUint(b, 10))) }
	f.add(5, key(5))
	f.add(6, key(6))
	f.add(4, key(4)) // older than every bucket held: nothing older to free
	if len(evicted) != 0 || len(full) != 1 || full[0] != 4 {
		t.Fatalf("adding an old bucket at the cap: evicted %v, saturated %v; want none, [4]", evicted, full)
	}
	f.add(7, key(7)) // frees 4 (saturated, no filters) then 5, the oldest with memory
	if fmt.Sprint(evicted) != "[4 5]" {
		t.Fatalf("evicted %v, want [4 5]", evicted)
	}
	if got := f.maybeIn(0, 7, key(5), nil); len(got) != 0 {
		t.Errorf("key of the evicted bucket still maybe in %v", got)
	}
	for _, b := range []uint64{6, 7} {
		if got := f.maybeIn(0, 7, key(b), nil); len(got) == 0 || got[0] != b {
			t.Errorf("key of bucket %d: maybe in %v", b, got)
		}
	}
	if f.used > f.maxBytes {
		t.Errorf("%d bytes used, cap %d", f.used, f.maxBytes)
	}
}

// The effective dedup window gauge shows the window shrinking once the
// filters' memory cap forgets old buckets.
func TestEffectiveDedupWindow(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := Open(Options{Dir: t.TempDir(), Registerer: reg, DedupWindow: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	gauge := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "lanner_queue_dedup_window_seconds" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no lanner_queue_dedup_window_seconds")
		return 0
	}
	if got := gauge(); got != time.Hour.Seconds() {
		t.Fatalf("window %vs before any eviction, want 3600", got)
	}
	size := len(newBloom(bloomFirstCap*bloomBitsPerKey, bloomFirstCap).bits) * 8
	s.filter.mu.Lock()
	s.filter.maxBytes = 2 * size // room for two buckets' first filters
	s.filter.mu.Unlock()
	now := time.Now()
	cur := s.bucket(now)
	for _, b := range []uint64{cur - 2, cur - 1, cur} {
		s.filter.add(b, b)
	}
	if got, want := s.effectiveDedupWindow(now), now.Sub(s.bucketStart(cur-1)); got != want {
		t.Errorf("window %v after bucket %d was forgotten, want %v", got, cur-2, want)
	}
	if got := gauge(); got <= 0 || got > (2*time.Hour/dedupSpan).Seconds() {
		t.Errorf("gauge %vs, want within two buckets (%v)", got, 2*time.Hour/dedupSpan)
	}
}

// maybeIn appends to dst the buckets in [lo, hi] that may hold h, newest
// first: one lookup as Store.dedup probes a group's.
func (f *dedupFilter) maybeIn(lo, hi, h uint64, dst []uint64) []uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, lb := range f.liveBuckets(lo, hi, nil) {
		if lb.mayHave(h) {
			dst = append(dst, lb.bucket)
		}
	}
	return dst
}
