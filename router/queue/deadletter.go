package queue

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/lannerhq/lanner/alert"
)

// DeadLetter is an alert an output could not deliver.
type DeadLetter struct {
	ID        string // stable, sortable; pass to DeadLetter, Replay, Purge
	Output    string
	Alert     *alert.Alert
	Overrides map[string]string
	Attempts  int
	Reason    string // why it was given up, secrets redacted
	FirstTry  time.Time
	LastTry   time.Time
	DeadAt    time.Time
}

const (
	defaultPage = 100
	maxPage     = 1000
)

// DeadLetters lists output's dead letters in ID order, starting after the
// ID after ("" = from the start), at most limit (default 100, at most
// 1000). next is the ID to pass as after for the next page, "" at the end.
func (s *Store) DeadLetters(output, after string, limit int) (list []DeadLetter, next string, err error) {
	if limit <= 0 {
		limit = defaultPage
	}
	limit = min(limit, maxPage)
	q := s.lookup(output)
	if q == nil {
		return nil, "", nil
	}
	if err := s.begin(); err != nil {
		return nil, "", err
	}
	defer s.end()
	lower := q.dPrefix
	if after != "" {
		seq, err := parseID(after)
		if err != nil {
			return nil, "", err
		}
		lower = seqKey(q.dPrefix, seq+1)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(q.dPrefix)})
	if err != nil {
		return nil, "", fmt.Errorf("queue: %w", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		if len(list) == limit {
			next = list[len(list)-1].ID
			break
		}
		dl, err := decodeDeadLetter(output, it.Key(), it.Value())
		if err != nil {
			return nil, "", err
		}
		list = append(list, dl)
	}
	return list, next, it.Error()
}

func decodeDeadLetter(output string, key, val []byte) (DeadLetter, error) {
	id := formatID(seqOf(key))
	d, err := decodeDead(val)
	if err != nil {
		return DeadLetter{}, fmt.Errorf("queue: dead letter %s: %w", id, err)
	}
	m, err := decodeMessage(d.msg)
	if err != nil {
		return DeadLetter{}, fmt.Errorf("queue: dead letter %s: %w", id, err)
	}
	return DeadLetter{
		ID: id, Output: output, Alert: m.Alert, Overrides: m.Overrides, Attempts: d.attempts,
		Reason: d.reason, FirstTry: d.firstTry, LastTry: d.lastTry, DeadAt: d.deadAt,
	}, nil
}

// DeadLetter returns one dead letter, or an error wrapping ErrNotFound.
func (s *Store) DeadLetter(output, id string) (DeadLetter, error) {
	q := s.lookup(output)
	if q == nil {
		return DeadLetter{}, fmt.Errorf("queue: output %q: %w", output, ErrNotFound)
	}
	seq, err := parseID(id)
	if err != nil {
		return DeadLetter{}, err
	}
	if err := s.begin(); err != nil {
		return DeadLetter{}, err
	}
	defer s.end()
	key := seqKey(q.dPrefix, seq)
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return DeadLetter{}, fmt.Errorf("queue: dead letter %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return DeadLetter{}, fmt.Errorf("queue: %w", err)
	}
	defer closer.Close()
	return decodeDeadLetter(output, key, v)
}

// Replay moves dead letters back to the tail of output's live queue, with
// their attempts reset and their enqueue time set to now. nil or empty ids
// means all. Replay respects the queue's bound: when the queue is full it
// stops and returns how many it moved with an error wrapping ErrFull.
// Unknown ids are skipped.
func (s *Store) Replay(output string, ids []string) (int, error) {
	return s.moveDead(output, ids, true)
}

// Purge deletes dead letters for good; nil or empty ids means all. Unknown
// ids are skipped. It returns how many were deleted.
func (s *Store) Purge(output string, ids []string) (int, error) {
	return s.moveDead(output, ids, false)
}

// moveDead replays or purges in pages of at most maxPage dead letters, so
// that neither needs the whole dead-letter set in memory.
func (s *Store) moveDead(output string, ids []string, replay bool) (int, error) {
	q := s.lookup(output)
	if q == nil {
		return 0, nil
	}
	var want []uint64
	for _, id := range ids {
		seq, err := parseID(id)
		if err != nil {
			return 0, err
		}
		want = append(want, seq)
	}
	// A repeated id must not be moved (and counted) twice.
	slices.Sort(want)
	want = slices.Compact(want)
	q.dlMu.Lock()
	defer q.dlMu.Unlock()
	total := 0
	from := uint64(0)
	for {
		type rec struct {
			seq uint64
			val []byte
		}
		var page []rec
		if err := s.begin(); err != nil {
			return total, err
		}
		if len(ids) > 0 {
			for len(want) > 0 && len(page) < maxPage {
				seq := want[0]
				want = want[1:]
				v, closer, err := s.db.Get(seqKey(q.dPrefix, seq))
				if errors.Is(err, pebble.ErrNotFound) {
					continue
				}
				if err != nil {
					s.end()
					return total, fmt.Errorf("queue: %w", err)
				}
				page = append(page, rec{seq, append([]byte(nil), v...)})
				closer.Close()
			}
		} else {
			it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: seqKey(q.dPrefix, from), UpperBound: prefixEnd(q.dPrefix)})
			if err != nil {
				s.end()
				return total, fmt.Errorf("queue: %w", err)
			}
			for it.First(); it.Valid() && len(page) < maxPage; it.Next() {
				page = append(page, rec{seqOf(it.Key()), append([]byte(nil), it.Value()...)})
			}
			if err := it.Close(); err != nil {
				s.end()
				return total, fmt.Errorf("queue: %w", err)
			}
		}
		s.end()
		if len(page) == 0 {
			return total, nil
		}
		from = page[len(page)-1].seq + 1

		seqs := make([]uint64, len(page))
		sizes := make([]int64, len(page))
		var vals [][]byte
		for i, r := range page {
			seqs[i], sizes[i] = r.seq, int64(len(r.val))
			if replay {
				d, err := decodeDead(r.val)
				if err != nil {
					return total, fmt.Errorf("queue: dead letter %s: %w", formatID(r.seq), err)
				}
				vals = append(vals, encodeEntry(time.Now(), time.Time{}, 0, d.msg))
			}
		}
		n, err := q.commitDeadMove(seqs, sizes, vals)
		total += n
		if err != nil {
			return total, err
		}
	}
}

// commitDeadMove deletes the given dead letters and, when vals is not nil,
// appends vals (one per dead letter) to the live queue, all in one synced
// batch. With a reject bound it moves only what fits.
func (q *outQueue) commitDeadMove(seqs []uint64, sizes []int64, vals [][]byte) (int, error) {
	s := q.s
	if err := s.begin(); err != nil {
		return 0, err
	}
	defer s.end()
	var g group
	full := false
	n := len(seqs)
	if vals != nil {
		q.mu.Lock()
		n = 0
		for _, v := range vals {
			size := int64(len(v))
			if q.opts.Overflow == OverflowReject &&
				((q.opts.MaxEntries > 0 && q.depth+g.delta.qEntries+1 > int64(q.opts.MaxEntries)) ||
					(q.opts.MaxBytes > 0 && q.bytes+g.delta.qBytes+size > q.opts.MaxBytes)) {
				full = true
				break
			}
			g.delta.qEntries++
			g.delta.qBytes += size
			n++
		}
		if n > 0 {
			g.rng = &seqRange{lo: q.nextSeq, hi: q.nextSeq + uint64(n)}
			q.nextSeq += uint64(n)
			q.pending = append(q.pending, g.rng)
			q.depth += g.delta.qEntries
			q.bytes += g.delta.qBytes
		}
		q.mu.Unlock()
		g.q = q
	}
	committed := false
	if g.rng != nil {
		defer func() { q.finishEnqueue(&g, committed) }()
	}
	if n == 0 {
		if full {
			return 0, fmt.Errorf("queue: output %q: %w", q.name, ErrFull)
		}
		return 0, nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	d := counters{}
	for i := 0; i < n; i++ {
		if err := b.Delete(seqKey(q.dPrefix, seqs[i]), nil); err != nil {
			return 0, fmt.Errorf("queue: %w", err)
		}
		d.dEntries--
		d.dBytes -= sizes[i]
		if vals != nil {
			if err := b.Set(seqKey(q.qPrefix, g.rng.lo+uint64(i)), vals[i], nil); err != nil {
				return 0, fmt.Errorf("queue: %w", err)
			}
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, fmt.Errorf("queue: commit: %w", err)
	}
	committed = true
	// The live counters were reserved above; apply only the dead side.
	q.apply(counters{dEntries: d.dEntries, dBytes: d.dBytes})
	if full {
		return n, fmt.Errorf("queue: output %q: %w", q.name, ErrFull)
	}
	return n, nil
}
