package queue

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/cockroachdb/pebble"
)

// Delivered entries that are already in table files are not deleted from
// the queue's DB one by one (those still in the current memtable are: see
// settle). A point deletion of an old key, flushed in the same memtable as
// the newest entries, made every flushed file span the whole backlog, and
// Pebble compacted the backlog over and over (7% of the router's CPU with
// gRPC ingest and delivery together). Instead each output appends the
// sequence ranges it delivered to a small file of its own, the delivered
// log, and every markStep entries one synced batch of range deletions
// covers them (a checkpoint), after which the log is emptied. The queue's
// flushes then hold new entries and the rare range deletion only.
//
// Crash semantics are those of the point deletions it replaces, which were
// written unsynced: a record is in the page cache once write returns, so it
// survives a process crash (kill -9, OOM, panic) and a power cut may lose
// the newest ones, whose entries are delivered again (at-least-once).
//
// Open applies every log left over (a crash) before it counts or reads the
// queue, then removes the logs durably. That removal is what keeps a mark
// from ever touching a reused sequence number: a queue whose tail was
// delivered starts numbering again after the last key left on disk, and a
// stale log reappearing after a power cut would otherwise delete new
// entries.

// markStep is how many delivered entries the log gathers before a
// checkpoint deletes them from the queue's DB: about 0.4 s at 150,000
// alerts/s. Fewer checkpoints would cost disk space, not speed.
const markStep = 1 << 16

// markMagic starts every record of a delivered log.
const markMagic = 'L'

// Record kinds; a record is magic(1) kind(1) n(2) crc(4) payload, where the
// CRC (Castagnoli) covers kind, n and the payload.
const (
	markKindName  = 1 // payload: the output's name (n bytes); first record of a log
	markKindSpans = 2 // payload: n spans of lo(8) hi(8), little endian
)

const markHeaderLen = 8

var markCRC = crc32.MakeTable(crc32.Castagnoli)

// span is a half-open range of sequence numbers, [lo, hi).
type span struct{ lo, hi uint64 }

// marksDir is where the delivered logs of the queue in dir live.
func marksDir(dir string) string { return filepath.Clean(dir) + ".delivered" }

// markFileName names an output's log by a hash of its name: names may hold
// any byte but NUL and be longer than a file name may.
func markFileName(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:12]) + ".log"
}

func appendMarkRecord(dst []byte, kind byte, n int, payload []byte) []byte {
	start := len(dst)
	dst = append(append(dst, make([]byte, markHeaderLen)...), payload...)
	sealMarkRecord(dst[start:], kind, n)
	return dst
}

// sealMarkRecord fills in the header of rec, a record with its payload.
func sealMarkRecord(rec []byte, kind byte, n int) {
	rec[0], rec[1] = markMagic, kind
	binary.LittleEndian.PutUint16(rec[2:], uint16(n))
	crc := crc32.Update(0, markCRC, rec[1:4])
	binary.LittleEndian.PutUint32(rec[4:], crc32.Update(crc, markCRC, rec[markHeaderLen:]))
}

// appendSpans encodes spans as records of at most 65,535 spans each.
func appendSpans(dst []byte, spans []span) []byte {
	for len(spans) > 0 {
		n := min(len(spans), 1<<16-1)
		start := len(dst)
		dst = append(dst, make([]byte, markHeaderLen)...)
		for _, s := range spans[:n] {
			dst = binary.LittleEndian.AppendUint64(dst, s.lo)
			dst = binary.LittleEndian.AppendUint64(dst, s.hi)
		}
		sealMarkRecord(dst[start:], markKindSpans, n)
		spans = spans[n:]
	}
	return dst
}

// parseMarks reads a delivered log: the output's name and its spans. It
// stops at the first record that is cut short or does not check out (the
// tail of a write a power cut interrupted) and reports how many bytes it
// left unread; an empty spans list is valid. A log without its name record
// is unusable: its entries are simply delivered again.
func parseMarks(b []byte) (name string, spans []span, unread int, err error) {
	first := true
	for len(b) >= markHeaderLen {
		kind, n := b[1], int(binary.LittleEndian.Uint16(b[2:]))
		size := n
		if kind == markKindSpans {
			size = 16 * n
		}
		if b[0] != markMagic || (kind != markKindName && kind != markKindSpans) || len(b)-markHeaderLen < size {
			break
		}
		payload := b[markHeaderLen : markHeaderLen+size]
		crc := crc32.Update(0, markCRC, b[1:4])
		if crc32.Update(crc, markCRC, payload) != binary.LittleEndian.Uint32(b[4:]) {
			break
		}
		switch {
		case first && kind != markKindName:
			return "", nil, len(b), errors.New("delivered log does not start with its output's name")
		case kind == markKindName:
			if !first {
				return "", nil, len(b), errors.New("delivered log names its output twice")
			}
			name = string(payload)
		default:
			for i := 0; i < size; i += 16 {
				s := span{binary.LittleEndian.Uint64(payload[i:]), binary.LittleEndian.Uint64(payload[i+8:])}
				if s.lo < s.hi {
					spans = append(spans, s)
				}
			}
		}
		first = false
		b = b[markHeaderLen+size:]
	}
	if first {
		return "", nil, len(b), errors.New("delivered log does not start with its output's name")
	}
	return name, spans, len(b), nil
}

// addSpan inserts s into sorted, disjoint, non-adjacent spans, merging it
// with every span it overlaps or touches.
func addSpan(spans []span, s span) []span {
	i := sort.Search(len(spans), func(k int) bool { return spans[k].hi >= s.lo })
	j := i
	for j < len(spans) && spans[j].lo <= s.hi {
		s.lo = min(s.lo, spans[j].lo)
		s.hi = max(s.hi, spans[j].hi)
		j++
	}
	return slices.Replace(spans, i, j, s)
}

// spansOf returns the sorted, merged spans of the entries' sequences.
func spansOf(es []*entry) []span {
	seqs := make([]uint64, len(es))
	for i, e := range es {
		seqs[i] = e.seq
	}
	slices.Sort(seqs)
	var out []span
	for _, s := range seqs {
		if n := len(out); n > 0 && out[n-1].hi >= s {
			out[n-1].hi = max(out[n-1].hi, s+1)
			continue
		}
		out = append(out, span{s, s + 1})
	}
	return out
}

// markDelivered appends the entries' spans to the output's delivered log.
// On an error nothing is marked and the caller deletes the entries itself.
func (q *outQueue) markDelivered(es []*entry) error {
	spans := spansOf(es)
	q.markMu.Lock()
	defer q.markMu.Unlock()
	if q.markFile == nil {
		if err := q.openMarkFile(); err != nil {
			return err
		}
	}
	q.markBuf = appendSpans(q.markBuf[:0], spans)
	if _, err := q.markFile.Write(q.markBuf); err != nil {
		// A short write leaves a partial record, which parseMarks ignores;
		// start the next write on a fresh record boundary.
		_ = q.markFile.Close()
		q.markFile = nil
		return fmt.Errorf("delivered log: %w", err)
	}
	for _, s := range spans {
		q.marks = addSpan(q.marks, s)
	}
	q.marked += int64(len(es))
	return nil
}

// openMarkFile starts the output's delivered log afresh with the marks not
// yet checkpointed. The caller holds markMu.
func (q *outQueue) openMarkFile() error {
	dir := marksDir(q.s.dir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("delivered log: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, markFileName(q.name)), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("delivered log: %w", err)
	}
	head := appendSpans(appendMarkRecord(nil, markKindName, len(q.name), []byte(q.name)), q.marks)
	if _, err := f.Write(head); err != nil {
		_ = f.Close()
		return fmt.Errorf("delivered log: %w", err)
	}
	q.markFile = f
	return nil
}

// checkpoint deletes from the queue's DB, in one synced batch, the settled
// prefix [headSeq, low) and every marked span, then empties the delivered
// log. The caller holds readMu and s.begin.
func (q *outQueue) checkpoint(low uint64) error {
	q.markMu.Lock()
	defer q.markMu.Unlock()
	if low <= q.headSeq && len(q.marks) == 0 {
		return nil
	}
	b := q.s.db.NewBatch()
	defer b.Close()
	if low > q.headSeq {
		if err := b.DeleteRange(seqKey(q.qPrefix, q.headSeq), seqKey(q.qPrefix, low), nil); err != nil {
			return err
		}
	}
	for _, s := range q.marks {
		lo := max(s.lo, low)
		if lo >= s.hi {
			continue
		}
		if err := b.DeleteRange(seqKey(q.qPrefix, lo), seqKey(q.qPrefix, s.hi), nil); err != nil {
			return err
		}
	}
	// Synced before the log is emptied: the marks must not be lost while
	// their entries are still on disk.
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	q.headSeq = max(q.headSeq, low)
	q.marks, q.marked = q.marks[:0], 0
	if q.markFile != nil {
		// Truncating to the name record is not synced: if a power cut undoes
		// it, the next Open deletes the same, already deleted entries again.
		if err := q.markFile.Truncate(int64(markHeaderLen + len(q.name))); err != nil {
			_ = q.markFile.Close()
			q.markFile = nil
			q.s.log.Warn("delivered log: truncate failed; starting a new one", "output", q.name, "err", err)
		}
	}
	return nil
}

// retireMarks makes the final checkpoint of a stopped output and removes
// its delivered log; Store.Close then syncs the directory. After a failed
// checkpoint the log stays for the next Open to apply. The caller holds
// readMu and s.begin.
func (q *outQueue) retireMarks(low uint64) error {
	cerr := q.checkpoint(low)
	q.markMu.Lock()
	defer q.markMu.Unlock()
	var err error
	if q.markFile != nil {
		err = q.markFile.Close()
		q.markFile = nil
	}
	if cerr != nil {
		return errors.Join(cerr, err)
	}
	if rerr := os.Remove(filepath.Join(marksDir(q.s.dir), markFileName(q.name))); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}

// applyMarks applies the delivered logs a crash left in dir to the queue's
// DB, in one synced batch, and removes them durably. Open calls it before
// it counts or reads anything.
func (s *Store) applyMarks() error {
	dir := marksDir(s.dir)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	var files []string
	applied := 0
	for _, e := range ents {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		files = append(files, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		name, spans, unread, err := parseMarks(data)
		if err == nil && markFileName(name) != e.Name() {
			err = fmt.Errorf("it names output %q, whose log has another name", name)
		}
		if err != nil {
			// The entries it marked are delivered again.
			s.log.Warn("delivered log unreadable; its alerts may be delivered twice", "file", path, "err", err)
			continue
		}
		if unread > 0 {
			s.log.Warn("delivered log cut short; its last alerts may be delivered twice", "file", path, "unread_bytes", unread)
		}
		prefix := prefixKey(kindQueue, name)
		var merged []span
		for _, sp := range spans {
			merged = addSpan(merged, sp)
		}
		for _, sp := range merged {
			if err := b.DeleteRange(seqKey(prefix, sp.lo), seqKey(prefix, sp.hi), nil); err != nil {
				return err
			}
		}
		applied += len(merged)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	for _, path := range files {
		if err := os.Remove(path); err != nil {
			return err
		}
	}
	if len(files) > 0 {
		s.log.Info("applied the delivered logs of an unclean stop", "files", len(files), "spans", applied)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
