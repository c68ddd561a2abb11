// Package recent keeps the most recently accepted alerts in memory, for the
// API and the web UI: a bounded ring, newest first, with filters, plus counts
// by priority since start.
//
// Add sits on the ingest hot path (every accepted alert), so it takes one
// short lock, stores a pointer and a slice header, and allocates nothing.
// Everything else (copying, filtering, JSON) happens in Query, on the reader's
// time. Alerts are kept by pointer: the caller must not change an alert after
// Add, and its strings must not alias buffers that are reused (alert.Decode
// copies the document once, so decoded alerts qualify).
package recent

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lannerhq/lanner/alert"
)

// DefaultSize is the number of alerts kept when Config.Size is 0.
const DefaultSize = 1000

// Config configures a Store.
type Config struct {
	// Size is how many alerts the ring holds (0: DefaultSize).
	Size int
}

// Entry is one recorded alert.
type Entry struct {
	// Seq numbers accepted alerts from 1 since start, without gaps.
	Seq uint64
	// Received is when the router accepted the alert.
	Received time.Time
	Alert    *alert.Alert
	// Outputs the alert was queued to (empty: routed nowhere).
	Outputs []string
}

// Store is the ring of recent alerts. It is safe for concurrent use.
type Store struct {
	mu     sync.Mutex
	ring   []Entry
	seq    uint64 // Seq of the newest entry; it sits at ring[(seq-1)%len]
	counts [alert.PriorityEmergency + 1]uint64

	// subs is copied on write so Add reads it without a lock.
	subMu sync.Mutex
	subs  atomic.Pointer[[]chan struct{}]
}

// New returns an empty store.
func New(cfg Config) *Store {
	if cfg.Size <= 0 {
		cfg.Size = DefaultSize
	}
	return &Store{ring: make([]Entry, cfg.Size)}
}

// Latest is the Seq of the newest alert (0 when none was added).
func (s *Store) Latest() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// Cap is the number of alerts the store holds at most.
func (s *Store) Cap() int { return len(s.ring) }

// Add records an accepted alert and the outputs it was queued to. It
// neither copies nor allocates: a and outputs are kept as they are.
func (s *Store) Add(a *alert.Alert, outputs []string, received time.Time) {
	s.mu.Lock()
	s.seq++
	s.ring[(s.seq-1)%uint64(len(s.ring))] = Entry{Seq: s.seq, Received: received, Alert: a, Outputs: outputs}
	if p := a.Priority; p >= 0 && int(p) < len(s.counts) {
		s.counts[p]++
	}
	s.mu.Unlock()
	if subs := s.subs.Load(); subs != nil {
		for _, c := range *subs {
			select { // a waiting subscriber is woken; a busy one already will look
			case c <- struct{}{}:
			default:
			}
		}
	}
}

// Subscribe returns a channel that receives a signal (coalesced: at most one
// pending) after alerts were added, and a function to stop. Readers then
// Query with After set to the last Seq they saw. Add never blocks on a
// subscriber.
func (s *Store) Subscribe() (<-chan struct{}, func()) {
	c := make(chan struct{}, 1)
	s.subMu.Lock()
	defer s.subMu.Unlock()
	var next []chan struct{}
	if old := s.subs.Load(); old != nil {
		next = append(next, *old...)
	}
	next = append(next, c)
	s.subs.Store(&next)
	var once sync.Once
	return c, func() {
		once.Do(func() {
			s.subMu.Lock()
			defer s.subMu.Unlock()
			old := *s.subs.Load()
			next := make([]chan struct{}, 0, len(old))
			for _, o := range old {
				if o != c {
					next = append(next, o)
				}
			}
			if len(next) == 0 {
				s.subs.Store(nil)
				return
			}
			s.subs.Store(&next)
		})
	}
}

// Filter selects entries. Zero values select everything. String matches are
// case-insensitive.
type Filter struct {
	// MinPriority keeps alerts at least this severe.
	MinPriority alert.Priority
	// Rule keeps alerts whose rule contains this.
	Rule string
	// Source and Hostname keep alerts with exactly this source / hostname.
	Source   string
	Hostname string
	// Output keeps alerts queued to the output of this name (exact).
	Output string
	// Text keeps alerts whose rule or output text contains it.
	Text string
	// After keeps entries with Seq > After (for polling); Before, when
	// non-zero, keeps entries with Seq < Before (for paging back).
	After, Before uint64
	// Limit bounds the entries returned (0 or more than the store holds:
	// the store's size).
	Limit int
}

// Result is the answer to a Query.
type Result struct {
	// Entries match the filter, newest first.
	Entries []Entry
	// Latest is the Seq of the newest alert in the store (0 if none): poll
	// with After set to it.
	Latest uint64
	// Matched counts every entry in the store that matched, of which Entries
	// holds the newest Limit.
	Matched int
	// Counts are the alerts accepted since start, by priority.
	Counts map[alert.Priority]uint64
	// Total is the number of alerts accepted since start.
	Total uint64
}

// Query returns the entries that match f, newest first. It copies the ring
// under the lock and filters outside it, so ingest waits only for the copy.
func (s *Store) Query(f Filter) Result {
	s.mu.Lock()
	latest := s.seq
	n := uint64(len(s.ring))
	if latest < n {
		n = latest
	}
	// Copy only what After lets through.
	if f.After >= latest {
		n = 0
	} else if latest-f.After < n {
		n = latest - f.After
	}
	snap := make([]Entry, n)
	for i := uint64(0); i < n; i++ {
		seq := latest - i
		snap[i] = s.ring[(seq-1)%uint64(len(s.ring))]
	}
	counts := s.counts
	s.mu.Unlock()

	res := Result{Latest: latest, Counts: make(map[alert.Priority]uint64, len(counts))}
	for p, c := range counts {
		if c > 0 {
			res.Counts[alert.Priority(p)] = c
			res.Total += c
		}
	}
	limit := f.Limit
	if limit <= 0 || limit > len(s.ring) {
		limit = len(s.ring)
	}
	m := newMatcher(f)
	out := snap[:0] // filter in place: matches are never ahead of the scan
	for _, e := range snap {
		if f.Before != 0 && e.Seq >= f.Before {
			continue
		}
		if !m.match(e) {
			continue
		}
		res.Matched++
		if len(out) < limit {
			out = append(out, e)
		}
	}
	res.Entries = out
	return res
}

type matcher struct {
	f                            Filter
	rule, source, host, text, op string
}

func newMatcher(f Filter) matcher {
	return matcher{f: f, rule: strings.ToLower(f.Rule), source: f.Source, host: f.Hostname,
		text: strings.ToLower(f.Text), op: f.Output}
}

func (m *matcher) match(e Entry) bool {
	a := e.Alert
	if a == nil {
		return false
	}
	if m.f.MinPriority != alert.PriorityUnset && a.Priority < m.f.MinPriority {
		return false
	}
	if m.source != "" && !strings.EqualFold(a.Source, m.source) {
		return false
	}
	if m.host != "" && !strings.EqualFold(a.Hostname, m.host) {
		return false
	}
	if m.op != "" {
		found := false
		for _, o := range e.Outputs {
			if o == m.op {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if m.rule != "" && !containsFold(a.Rule, m.rule) {
		return false
	}
	if m.text != "" && !containsFold(a.Rule, m.text) && !containsFold(a.Output, m.text) {
		return false
	}
	return true
}

// containsFold reports whether s contains lowerSub, ignoring case. ASCII is
// folded without allocating; other text falls back to strings.ToLower.
func containsFold(s, lowerSub string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return strings.Contains(strings.ToLower(s), lowerSub)
		}
	}
	n := len(lowerSub)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lowerSub[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}
