package queue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/lannerhq/lanner/outputs"
)

// maxRetryAfter caps a destination's Retry-After so a bogus header cannot
// park an output for days.
const maxRetryAfter = time.Hour

// runner is one start of an output: its workers and how to stop them.
type runner struct {
	out        outputs.Output
	opts       OutputOptions
	stopTaking chan struct{} // closed: take no new batch, cut backoff short
	sendCtx    context.Context
	cancelSend context.CancelFunc // cancels sends in flight (stop grace over)
	wg         sync.WaitGroup
}

func (r *runner) stopping() bool {
	select {
	case <-r.stopTaking:
		return true
	default:
		return false
	}
}

// batch is what one worker took from the queue.
type batch struct {
	minSeq  uint64
	entries []*entry
}

type entry struct {
	seq  uint64
	size int64
	meta entryMeta
	msg  outputs.Message
}

// work is one worker: take a batch (waiting up to BatchWait to fill it),
// deliver it, repeat until stopped.
func (q *outQueue) work(r *runner) {
	defer r.wg.Done()
	var deadline time.Time
	for {
		if r.stopping() {
			return
		}
		ch := q.waitChan() // before reading the cursors, so no commit is missed
		avail := q.available()
		now := time.Now()
		if avail > 0 && (avail >= uint64(r.opts.BatchSize) || r.opts.BatchWait <= 0 ||
			(!deadline.IsZero() && !now.Before(deadline))) {
			deadline = time.Time{}
			b, err := q.take(r.opts.BatchSize)
			if err != nil {
				if errors.Is(err, ErrClosed) {
					return
				}
				q.s.log.Error("queue read failed", "output", q.name, "err", err)
				q.sleep(r, time.Second)
				continue
			}
			if b != nil {
				q.deliver(r, b)
			}
			continue
		}
		var timer <-chan time.Time
		if avail > 0 {
			if deadline.IsZero() {
				deadline = now.Add(r.opts.BatchWait)
			}
			t := time.NewTimer(deadline.Sub(now))
			timer = t.C
			select {
			case <-r.stopTaking:
				t.Stop()
				return
			case <-ch:
			case <-timer:
			}
			t.Stop()
			continue
		}
		select {
		case <-r.stopTaking:
			return
		case <-ch:
		}
	}
}

// take reads up to n committed entries from the read cursor. The iterator's
// lower bound sits at the cursor, past every deleted entry, so no tombstone
// is scanned.
func (q *outQueue) take(n int) (*batch, error) {
	if b := q.takeHot(n); b != nil {
		return b, nil
	}
	b, bad, err := q.read(n)
	if err != nil || b == nil {
		return nil, err
	}
	if len(bad) > 0 {
		q.m.corrupt.Add(float64(len(bad)))
		if err := q.settle(settlement{drop: bad}); err != nil {
			q.s.log.Error("queue write failed", "output", q.name, "err", err)
		}
	}
	return b, nil
}

// takeHot takes up to n entries from the read cursor out of the hot tail;
// nil when the entry at the cursor is not there.
func (q *outQueue) takeHot(n int) *batch {
	q.readMu.Lock()
	defer q.readMu.Unlock()
	lo := q.readSeq.Load()
	es := q.hot.take(lo, q.committed.Load(), n)
	if es == nil {
		return nil
	}
	b := &batch{minSeq: lo, entries: make([]*entry, len(es))}
	for i := range es {
		b.entries[i] = &es[i]
	}
	q.readSeq.Store(lo + uint64(len(es)))
	q.outstanding[b] = struct{}{}
	return b
}

// read decodes up to n entries from the read cursor and registers them as
// an outstanding batch; bad holds the undecodable ones (also in the batch's
// range, to be deleted). Each entry is decoded straight from Pebble's
// buffer, which decodeMessage copies from: a retry or a dead letter
// encodes the message again (entry.encodedMsg), as for the hot tail's.
func (q *outQueue) read(n int) (b *batch, bad []*entry, err error) {
	if err := q.s.begin(); err != nil {
		return nil, nil, err
	}
	defer q.s.end()
	q.readMu.Lock()
	defer q.readMu.Unlock()
	lo, hi := q.readSeq.Load(), q.committed.Load()
	if lo >= hi {
		return nil, nil, nil
	}
	it, err := q.s.db.NewIter(&pebble.IterOptions{LowerBound: seqKey(q.qPrefix, lo), UpperBound: seqKey(q.qPrefix, hi)})
	if err != nil {
		return nil, nil, err
	}
	// One allocation for the batch, never regrown (at most min(n, hi-lo)
	// entries), so pointers into it stay valid.
	es := make([]entry, 0, min(n, int(hi-lo)))
	var good []*entry
	next := hi
	for it.First(); it.Valid(); it.Next() {
		if len(es) == n {
			next = seqOf(it.Key())
			break
		}
		v := it.Value()
		es = append(es, entry{seq: seqOf(it.Key()), size: int64(len(v))})
		e := &es[len(es)-1]
		var derr error
		if e.meta, derr = decodeEntryMeta(v); derr == nil {
			e.msg, derr = decodeMessage(e.meta.msg)
		}
		e.meta.msg = nil // v is Pebble's until the next step
		if derr != nil {
			q.s.log.Error("corrupt queue entry deleted", "output", q.name, "seq", e.seq, "err", derr)
			bad = append(bad, e)
			continue
		}
		good = append(good, e)
	}
	if err := it.Close(); err != nil {
		return nil, nil, err
	}
	q.readSeq.Store(next)
	if len(es) == 0 {
		return nil, nil, nil
	}
	b = &batch{minSeq: es[0].seq, entries: good}
	q.outstanding[b] = struct{}{}
	return b, bad, nil
}

// deadEntry is an entry on its way to the dead letters.
type deadEntry struct {
	e      *entry
	reason string
}

// settlement is the outcome of one attempt, written in one batch.
type settlement struct {
	delivered []*entry
	dead      []deadEntry
	retry     []*entry // attempts and first try updated in place; written only by persistRetries
	untried   []*entry // not sent (outputs.ErrNotAttempted): retried, unchanged on disk
	drop      []*entry // unreadable
	now       time.Time
}

func (q *outQueue) settle(st settlement) error {
	if len(st.delivered)+len(st.dead)+len(st.retry)+len(st.drop) == 0 {
		return nil
	}
	if err := q.s.begin(); err != nil {
		return err
	}
	defer q.s.end()
	wb := q.s.db.NewBatch()
	defer wb.Close()
	var d counters
	var kbuf []byte
	del := func(e *entry) error {
		d.qEntries--
		d.qBytes -= e.size
		kbuf = appendSeqKey(kbuf[:0], q.qPrefix, e.seq)
		return wb.Delete(kbuf, nil)
	}
	// Entries still in the current memtable are deleted there: the flush
	// then drops them with their deletion, and writes neither. Older ones
	// are already in files, where a deletion would make the flush span the
	// backlog: those go to the delivered log (marks.go).
	var old []*entry
	memLow := q.memLow.Load()
	for _, e := range st.delivered {
		d.qEntries--
		d.qBytes -= e.size
		if e.seq < memLow {
			old = append(old, e)
			continue
		}
		kbuf = appendSeqKey(kbuf[:0], q.qPrefix, e.seq)
		if err := wb.Delete(kbuf, nil); err != nil {
			return err
		}
	}
	if len(old) > 0 {
		if err := q.markDelivered(old); err != nil {
			q.s.m.markErrors.Inc()
			// Deleted one by one instead: slower for the DB, as durable.
			// Logged at most every 10s: a full disk fails every batch.
			if now := time.Now().UnixNano(); now-q.lastMarkLog.Load() > int64(10*time.Second) {
				q.lastMarkLog.Store(now)
				q.s.log.Warn("delivered log write failed; deleting delivered entries directly", "output", q.name, "err", err)
			}
			for _, e := range old {
				kbuf = appendSeqKey(kbuf[:0], q.qPrefix, e.seq)
				if err := wb.Delete(kbuf, nil); err != nil {
					return err
				}
			}
		}
	}
	for _, e := range st.drop {
		if err := del(e); err != nil {
			return err
		}
	}
	for _, de := range st.dead {
		if err := del(de.e); err != nil {
			return err
		}
		msg, err := de.e.encodedMsg()
		if err != nil {
			return err
		}
		v := encodeDead(deadMeta{
			enq: de.e.meta.enq, firstTry: de.e.meta.firstTry, lastTry: st.now, deadAt: st.now,
			attempts: de.e.meta.attempts, reason: de.reason, msg: msg,
		})
		d.dEntries++
		d.dBytes += int64(len(v))
		kbuf = appendSeqKey(kbuf[:0], q.dPrefix, de.e.seq)
		if err := wb.Set(kbuf, v, nil); err != nil {
			return err
		}
	}
	for _, e := range st.retry {
		msg, err := e.encodedMsg()
		if err != nil {
			return err
		}
		kbuf = appendSeqKey(kbuf[:0], q.qPrefix, e.seq)
		if err := wb.Set(kbuf, encodeEntry(e.meta.enq, e.meta.firstTry, e.meta.attempts, msg), nil); err != nil {
			return err
		}
	}
	// No fsync: if these writes are lost in a crash, the entries are simply
	// delivered again (at-least-once).
	if !wb.Empty() {
		if err := wb.Commit(pebble.NoSync); err != nil {
			return err
		}
	}
	q.apply(d)
	return nil
}

// finish forgets a batch once all its entries are settled, and makes a
// checkpoint (marks.go) once markStep entries were settled since the last.
func (q *outQueue) finish(b *batch) {
	q.readMu.Lock()
	defer q.readMu.Unlock()
	delete(q.outstanding, b)
	low := q.settledLocked()
	q.markMu.Lock()
	due := (low > q.headSeq && low-q.headSeq >= q.s.markStep) || q.marked >= int64(q.s.markStep)
	q.markMu.Unlock()
	if !due {
		return
	}
	if err := q.s.begin(); err != nil {
		return
	}
	defer q.s.end()
	if err := q.checkpoint(low); err != nil {
		q.s.m.markErrors.Inc()
		q.s.log.Warn("queue checkpoint failed", "output", q.name, "err", err)
	}
}

// settledLocked is the lowest sequence that may still be unsettled: every
// entry below it was delivered, dead-lettered or dropped. The caller holds
// readMu.
func (q *outQueue) settledLocked() uint64 {
	low := q.readSeq.Load()
	for o := range q.outstanding {
		low = min(low, o.minSeq)
	}
	return low
}

// deliver sends a batch until every entry is delivered or dead-lettered, or
// the output stops (the rest stays queued for the next start).
func (q *outQueue) deliver(r *runner, b *batch) {
	live := b.entries
	abandoned := false
	defer func() {
		if !abandoned {
			q.finish(b)
		}
	}()
	msgs := make([]outputs.Message, 0, len(live))
	for len(live) > 0 {
		msgs = msgs[:0]
		for _, e := range live {
			msgs = append(msgs, e.msg)
		}
		err := r.out.Send(r.sendCtx, msgs)
		now := time.Now()
		if err == nil {
			q.lastErr.Store(nil)
			st := settlement{delivered: live, now: now}
			if err := q.settle(st); err != nil {
				q.settleFailed(err)
				abandoned = true
			}
			q.counted(st)
			return
		}
		if r.sendCtx.Err() != nil {
			// Stopped while sending: keep the batch for the next start.
			abandoned = true
			q.persistRetries(live, now)
			return
		}
		st := q.classify(r.opts, live, err, now)
		// The retried entries' new attempt counts stay in memory while this
		// batch is retried (persistRetries writes them when it is given
		// up). Written back after every failed attempt, they put keys at
		// the head of the queue into each flushed memtable, next to the new
		// entries at its tail: every flushed file then spanned the whole
		// backlog, and Pebble rewrote the backlog in compactions while an
		// endpoint was down (measured: ~135 MB rewritten during a
		// 1,000,000-alert stall, about a fifth of the router's CPU).
		serr := q.settle(settlement{delivered: st.delivered, dead: st.dead, now: st.now})
		q.counted(st)
		if serr != nil {
			q.settleFailed(serr)
			abandoned = true
			return
		}
		// The untried follow the tried ones, as they did in the batch.
		retry := append(st.retry, st.untried...)
		if len(retry) == 0 {
			return
		}
		attempts := 0
		for _, e := range st.retry {
			attempts = max(attempts, e.meta.attempts)
		}
		wait := backoff(r.opts, attempts)
		if ra := retryAfter(err); ra > wait {
			wait = min(ra, maxRetryAfter)
		}
		q.s.log.Debug("delivery failed, retrying", "output", q.name, "alerts", len(retry), "attempt", attempts, "wait", wait, "err", redact(err.Error()))
		if !q.sleep(r, wait) {
			abandoned = true
			q.persistRetries(retry, time.Now())
			return
		}
		live = retry
	}
}

// persistRetries writes the attempt counts and first-try times of a batch
// given up on a stop, so that the next start (a reload, a restart) counts
// on from them. After a crash they are lost: the entries are retried with
// the counts they had when the batch was taken, so an alert may get up to
// that batch's attempts again before max_attempts dead-letters it.
func (q *outQueue) persistRetries(live []*entry, now time.Time) {
	var tried []*entry
	for _, e := range live {
		if e.meta.attempts > 0 {
			tried = append(tried, e)
		}
	}
	if len(tried) == 0 {
		return
	}
	if err := q.settle(settlement{retry: tried, now: now}); err != nil {
		q.settleFailed(err)
	}
}

// settleFailed logs a failed queue write after a send. The batch is then
// treated as abandoned: it stays outstanding, so the head never moves past
// its entries, and they are sent again after the next start.
func (q *outQueue) settleFailed(err error) {
	if errors.Is(err, ErrClosed) {
		return
	}
	q.s.log.Error("queue write failed", "output", q.name, "err", err)
}

// classify splits a failed attempt into delivered, retry and dead entries.
func (q *outQueue) classify(o OutputOptions, live []*entry, err error, now time.Time) settlement {
	st := settlement{now: now}
	perEntry := func(i int) error { return err }
	var pe *outputs.PartialError
	if errors.As(err, &pe) {
		perEntry = func(i int) error { return pe.Failed[i] }
	}
	msg := redact(err.Error())
	q.lastErr.Store(&msg)
	for i, e := range live {
		eerr := perEntry(i)
		if eerr == nil {
			st.delivered = append(st.delivered, e)
			continue
		}
		tooOld := o.MaxAge > 0 && now.Sub(e.meta.enq) > o.MaxAge
		if errors.Is(eerr, outputs.ErrNotAttempted) && !tooOld {
			st.untried = append(st.untried, e) // no attempt to count or write
			continue
		}
		q.failed.Add(1)
		q.m.failed.Inc()
		e.meta.attempts++
		if e.meta.firstTry.IsZero() {
			e.meta.firstTry = now
		}
		reason := ""
		switch {
		case !outputs.IsRetryable(eerr):
			reason = "permanent failure: " + redact(eerr.Error())
		case o.MaxAttempts > 0 && e.meta.attempts >= o.MaxAttempts:
			reason = fmt.Sprintf("gave up after %d attempts: %s", e.meta.attempts, redact(eerr.Error()))
		case tooOld:
			reason = fmt.Sprintf("older than max age %s: %s", o.MaxAge, redact(eerr.Error()))
		}
		if reason != "" {
			st.dead = append(st.dead, deadEntry{e, reason})
			continue
		}
		st.retry = append(st.retry, e)
	}
	if n := len(st.retry) + len(st.untried); n > 0 {
		q.retries.Add(int64(n))
		q.m.retries.Add(float64(n))
	}
	return st
}

// counted adds an attempt's delivered and dead-lettered alerts to the
// counters once settle has run, so that whoever reads them (Stats, the
// API, tests) never sees an alert counted whose entry is still queued.
func (q *outQueue) counted(st settlement) {
	if n := len(st.delivered); n > 0 {
		q.delivered.Add(int64(n))
		q.m.delivered.Add(float64(n))
		for _, e := range st.delivered {
			q.m.latency.Observe(st.now.Sub(e.meta.enq).Seconds())
		}
	}
	if n := len(st.dead); n > 0 {
		q.m.deadLetters.Add(float64(n))
		q.s.log.Warn("alerts dead-lettered", "output", q.name, "count", n, "reason", st.dead[0].reason)
	}
}

// retryAfter is the longest wait the destination asked for, including the
// per-message errors of a partial failure.
func retryAfter(err error) time.Duration {
	ra := outputs.RetryAfterOf(err)
	var pe *outputs.PartialError
	if errors.As(err, &pe) {
		for _, e := range pe.Failed {
			ra = max(ra, outputs.RetryAfterOf(e))
		}
	}
	return ra
}

// backoff is exponential with full jitter: a uniform wait in
// [BackoffInitial, min(BackoffMax, BackoffInitial * 2^attempts)].
func backoff(o OutputOptions, attempts int) time.Duration {
	ceil := o.BackoffMax
	if attempts < 40 {
		if c := o.BackoffInitial << attempts; c > 0 && c < ceil {
			ceil = c
		}
	}
	if ceil <= o.BackoffInitial {
		return o.BackoffInitial
	}
	return o.BackoffInitial + rand.N(ceil-o.BackoffInitial+1)
}

// sleep waits d unless the output stops first; it reports whether it slept.
func (q *outQueue) sleep(r *runner, d time.Duration) bool {
	q.backoff.Add(1)
	defer q.backoff.Add(-1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.stopTaking:
		return false
	}
}

// urlPattern matches URLs in error strings; the path and query of a webhook
// URL often are its secret (Slack), and userinfo always is.
var urlPattern = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)(?:[^/\s"'@]*@)?([^/\s"'?#]+)[^\s"']*`)

// redact keeps the scheme and host of any URL in s and hides the rest.
func redact(s string) string {
	return urlPattern.ReplaceAllString(s, "$1$2/[redacted]")
}
