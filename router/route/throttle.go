package route

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/router/config"
	"github.com/prometheus/client_golang/prometheus"
)

// SuppressedField is the output_fields key that carries, on the first alert
// delivered for a throttle key in a new window, how many alerts for that key
// the previous window suppressed.
const SuppressedField = "lanner.suppressed"

// throttle lets at most limit alerts per key through per fixed window. Keys
// are 64-bit hashes of the named attributes, so the hot path allocates
// nothing; the number of keys is capped and evictions are counted.
type throttle struct {
	limit   int
	window  int64 // nanoseconds
	maxKeys int
	keys    []keyPart
	seed    maphash.Seed
	evicted prometheus.Counter

	mu      sync.Mutex
	buckets map[uint64]bucket
}

type bucket struct {
	start      int64 // window start, unix nanoseconds
	count      int
	suppressed int64
}

type keyKind uint8

const (
	keyRule keyKind = iota
	keyPriority
	keySource
	keyHostname
	keyTags
	keyField
)

type keyPart struct {
	kind  keyKind
	field string
}

func newThrottle(t *config.ThrottleSpec, evicted prometheus.Counter) *throttle {
	th := &throttle{
		limit:   t.Limit,
		window:  int64(t.Window),
		maxKeys: t.MaxKeys,
		seed:    maphash.MakeSeed(),
		evicted: evicted,
		buckets: map[uint64]bucket{},
	}
	if th.maxKeys == 0 {
		th.maxKeys = config.DefaultThrottleMaxKeys
	}
	for _, k := range t.Key {
		switch k {
		case "rule":
			th.keys = append(th.keys, keyPart{kind: keyRule})
		case "priority":
			th.keys = append(th.keys, keyPart{kind: keyPriority})
		case "source":
			th.keys = append(th.keys, keyPart{kind: keySource})
		case "hostname":
			th.keys = append(th.keys, keyPart{kind: keyHostname})
		case "tags":
			th.keys = append(th.keys, keyPart{kind: keyTags})
		default:
			th.keys = append(th.keys, keyPart{kind: keyField, field: strings.TrimPrefix(k, "output_fields.")})
		}
	}
	return th
}

// mix folds one part into the key hash; the index keeps ("a","b") and
// ("b","a") apart.
func mix(h, x uint64) uint64 {
	h ^= x + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2)
	return h
}

func (t *throttle) hash(a *alert.Alert) uint64 {
	h := uint64(len(t.keys))
	for _, k := range t.keys {
		var s string
		switch k.kind {
		case keyRule:
			s = a.Rule
		case keyPriority:
			s = a.Priority.String()
		case keySource:
			s = a.Source
		case keyHostname:
			s = a.Hostname
		case keyTags:
			for _, tag := range a.Tags {
				h = mix(h, maphash.String(t.seed, tag))
			}
			h = mix(h, uint64(len(a.Tags)))
			continue
		case keyField:
			v, ok := a.OutputFields.Get(k.field)
			if !ok {
				h = mix(h, 0x5a5a) // absent differs from any present value
				continue
			}
			s = v.String()
		}
		h = mix(h, maphash.String(t.seed, s))
	}
	return h
}

// allow reports whether the alert may pass and, when it opens a new window
// after suppressions, how many alerts the last window suppressed.
func (t *throttle) allow(a *alert.Alert, now time.Time) (ok bool, carried int64) {
	key := t.hash(a)
	ts := now.UnixNano()
	t.mu.Lock()
	defer t.mu.Unlock()
	b, found := t.buckets[key]
	if !found || ts-b.start >= t.window || ts < b.start {
		if !found && len(t.buckets) >= t.maxKeys {
			t.evict(ts)
		}
		t.buckets[key] = bucket{start: ts, count: 1}
		return true, b.suppressed
	}
	if b.count < t.limit {
		b.count++
		t.buckets[key] = b
		return true, 0
	}
	b.suppressed++
	t.buckets[key] = b
	return false, 0
}

// evict makes room: expired windows first, then, if that freed too little,
// arbitrary live keys (counted) — a sixteenth of the cap at once so that a
// flood of new keys costs O(1) amortised.
func (t *throttle) evict(now int64) {
	want := max(t.maxKeys/16, 1)
	freed := 0
	for k, b := range t.buckets {
		if now-b.start >= t.window {
			delete(t.buckets, k)
			freed++
		}
	}
	for k := range t.buckets {
		if freed >= want {
			break
		}
		delete(t.buckets, k)
		freed++
		t.evicted.Inc()
	}
}

// size is the number of keys tracked (for tests).
func (t *throttle) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.buckets)
}
