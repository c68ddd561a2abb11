package queue

import (
	"encoding/binary"
	"sync"
)

// dedupFilter answers "certainly not seen" for most new uuids in memory, so
// the common case of Enqueue costs no disk lookup. It keeps one scalable
// Bloom filter per dedup bucket; a "maybe" is confirmed against the on-disk
// index. At its memory cap it forgets the oldest buckets first, which
// shortens the dedup window; only when the newest bucket alone fills the
// cap does that bucket stop growing and answer "maybe" for everything,
// which costs a disk read per lookup.
type dedupFilter struct {
	mu       sync.RWMutex
	buckets  map[uint64]*bucketFilter
	maxBytes int
	used     int
	// evicted, when set, is called (with mu held) when an older bucket's
	// filters are dropped to make room for a newer one: resends of its
	// uuids are no longer recognised, the window has shrunk.
	evicted func(bucket uint64)
	// forgot is set once makeRoom evicted a bucket; forgotThrough is the
	// newest bucket it evicted, so uuids queued before its end are no
	// longer recognised (see Store.effectiveDedupWindow).
	forgot        bool
	forgotThrough uint64
	// saturated, when set, is called (with mu held) when the newest bucket
	// alone hits the memory cap: from then on every lookup in it is a disk
	// read, which operators must be able to see.
	saturated func(bucket uint64)
}

type bucketFilter struct {
	filters   []*bloomFilter
	saturated bool // the memory cap was hit: every lookup is "maybe"
}

const (
	// Split-block Bloom filter at 16 bits per key: measured 0.09% false
	// positives per filter at its design load (TestBloomFalsePositives;
	// 0.05% for the unblocked filter it replaced, which cost a cache miss
	// per probe). Each false positive costs a disk lookup, ~25 µs.
	bloomBitsPerKey = 16
	// A bucket's first filter holds at least this many keys (512 KiB): a
	// lookup probes every filter of every bucket in the window, so fewer,
	// larger filters cost fewer cache misses.
	bloomFirstCap = 1 << 18
	bloomMaxCap   = 1 << 22
	// A lookup consults every filter of a bucket, so their false positives
	// add up: the filters after the first are loaded to 24 bits per key
	// (measured ~0.01% each), which keeps a bucket of millions of uuids near
	// the first filter's rate instead of multiplying it by its filter count
	// (each false positive is an index lookup on disk).
	bloomLaterBitsPerKey = 24
	// DefaultDedupMemory caps the filters: 2–6 bytes per uuid in the window.
	// Past it the oldest buckets are forgotten first (see makeRoom).
	DefaultDedupMemory = 32 << 20
)

// bloomFilter is a split-block Bloom filter: a key sets one bit in each of
// the 8 words of one 512-bit block (a cache line), so an add or a lookup
// costs one cache miss instead of one per probe. The hash's low bits choose
// the block; a remix of the whole hash gives the 8 in-word bit positions.
type bloomFilter struct {
	bits      []uint64 // 8 words per block
	blockMask uint64   // number of blocks - 1; a power of two
	n         int      // keys added
	cap       int      // keys it was sized for
}

// newBloom returns a filter of m bits (a power of two, at least 512) for
// capacity keys.
func newBloom(m uint64, capacity int) *bloomFilter {
	return &bloomFilter{bits: make([]uint64, m/64), blockMask: m/512 - 1, cap: capacity}
}

// block returns the key's 8 words and its 8 six-bit positions in them.
func (b *bloomFilter) block(h uint64) (*[8]uint64, uint64) {
	i := (h & b.blockMask) * 8
	return (*[8]uint64)(b.bits[i : i+8]), bloomMix(h)
}

// bloomMix is MurmurHash3's 64-bit finalizer: its top 48 bits depend on
// every bit of h, so they are independent of the block choice.
func bloomMix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func (b *bloomFilter) add(h uint64) {
	blk, x := b.block(h)
	for i := range blk {
		blk[i] |= 1 << ((x >> (16 + 6*i)) & 63)
	}
	b.n++
}

func (b *bloomFilter) has(h uint64) bool {
	blk, x := b.block(h)
	for i := range blk {
		if blk[i]&(1<<((x>>(16+6*i))&63)) == 0 {
			return false
		}
	}
	return true
}

func newDedupFilter(maxBytes int) *dedupFilter {
	return &dedupFilter{buckets: map[uint64]*bucketFilter{}, maxBytes: maxBytes}
}

// digestHash is the filter's hash of a dedup digest.
func digestHash(d [16]byte) uint64 { return binary.BigEndian.Uint64(d[:8]) }

// liveBucket is the filter of one bucket that exists.
type liveBucket struct {
	bucket uint64
	bf     *bucketFilter
}

// liveBuckets appends the buckets in [lo, hi] that have a filter, newest
// first. The caller holds f.mu for reading for as long as it uses them.
func (f *dedupFilter) liveBuckets(lo, hi uint64, dst []liveBucket) []liveBucket {
	for bk := hi; ; bk-- {
		if bf := f.buckets[bk]; bf != nil {
			dst = append(dst, liveBucket{bk, bf})
		}
		if bk == lo {
			return dst
		}
	}
}

// mayHave reports whether the bucket may hold h.
func (lb liveBucket) mayHave(h uint64) bool {
	if lb.bf.saturated {
		return true
	}
	for _, b := range lb.bf.filters {
		if b.has(h) {
			return true
		}
	}
	return false
}

func (f *dedupFilter) add(bucket uint64, hs ...uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	bf := f.buckets[bucket]
	if bf == nil {
		bf = &bucketFilter{}
		f.buckets[bucket] = bf
	}
	for _, h := range hs {
		if bf.saturated {
			return
		}
		var cur *bloomFilter
		if n := len(bf.filters); n > 0 && bf.filters[n-1].n < bf.filters[n-1].cap {
			cur = bf.filters[n-1]
		} else {
			var m uint64 // bits, a power of two
			var c int
			if n == 0 {
				want := uint64(f.firstCap(bucket) * bloomBitsPerKey)
				for m = 512; m < want; {
					m <<= 1
				}
				c = int(m / bloomBitsPerKey)
			} else {
				m = min(2*uint64(len(bf.filters[n-1].bits))*64, bloomMaxCap*bloomBitsPerKey)
				c = int(m / bloomLaterBitsPerKey)
			}
			size := int(m / 8)
			if !f.makeRoom(bucket, size) {
				bf.saturated = true
				if f.saturated != nil {
					f.saturated(bucket)
				}
				return
			}
			cur = newBloom(m, c)
			f.used += size
			bf.filters = append(bf.filters, cur)
		}
		cur.add(h)
	}
}

// makeRoom frees the filters of buckets older than bucket, oldest first,
// until size more bytes fit under the cap. Remembering the newest uuids in
// memory matters more than the oldest: resends come soon after the first
// copy, and a bucket that answers "maybe" to everything costs a disk read
// per lookup, which at a few thousand alerts/s is more than the cores have.
// It reports false when only newer buckets are left to free.
func (f *dedupFilter) makeRoom(bucket uint64, size int) bool {
	for f.used+size > f.maxBytes {
		oldest, found := uint64(0), false
		for k := range f.buckets {
			if k < bucket && (!found || k < oldest) {
				oldest, found = k, true
			}
		}
		if !found {
			return false
		}
		for _, b := range f.buckets[oldest].filters {
			f.used -= len(b.bits) * 8
		}
		delete(f.buckets, oldest)
		if !f.forgot || oldest > f.forgotThrough {
			f.forgot, f.forgotThrough = true, oldest
		}
		if f.evicted != nil {
			f.evicted(oldest)
		}
	}
	return true
}

// forgotten returns the newest bucket makeRoom evicted, if any.
func (f *dedupFilter) forgotten() (bucket uint64, ok bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.forgotThrough, f.forgot
}

// firstCap is how many keys a new bucket's first filter is sized for: as
// many as the latest earlier bucket took, so that a steady rate needs one
// filter per bucket. The caller holds f.mu.
func (f *dedupFilter) firstCap(bucket uint64) int {
	prev, found, latest := 0, false, uint64(0)
	for k, bf := range f.buckets {
		if k < bucket && (!found || k > latest) {
			found, latest, prev = true, k, 0
			for _, b := range bf.filters {
				prev += b.n
			}
		}
	}
	return min(max(prev, bloomFirstCap), bloomMaxCap)
}

// expire forgets buckets before oldest.
func (f *dedupFilter) expire(oldest uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, bf := range f.buckets {
		if k < oldest {
			for _, b := range bf.filters {
				f.used -= len(b.bits) * 8
			}
			delete(f.buckets, k)
		}
	}
}
