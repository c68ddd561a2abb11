package queue

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble"
)

// Key spaces of the queue's Pebble DB. Every key starts with a kind byte;
// the per-output kinds follow with the output name and a 0x00 separator, so
// one output's keys form one contiguous, seekable range.
//
// Nothing but entries is written to the queue range while the router runs,
// so with one output every flushed file holds a run of new sequence numbers
// that overlaps no other file, and Pebble moves it down the levels instead
// of rewriting it. That is why the counters are not updated in the DB on
// every write (a shared counter key in every flush made each L0 compaction
// rewrite the whole backlog): they live in memory, are saved at Close with
// the clean-shutdown mark, and after a crash are rebuilt by one scan.
const (
	kindQueue   = 'q' // q name 0x00 seq(8, big endian) -> entry
	kindDead    = 'd' // d name 0x00 seq(8)                -> dead letter
	kindOutput  = 'o' // o name 0x00 -> the output has keys on disk; its counters after a clean Close
	kindMeta    = 'm' // m <name>                           -> store-wide state (cleanKey)
	kindCounter = 'c' // c name 0x00: counters in the first on-disk layout; refused by Open
	kindDedup   = 'u' // u bucket(8) digest(16) -> empty, in the dedup index DB (dedupdb.go)
)

// cleanKey exists while the counters saved in the output keys are exact:
// from a clean Close until the next Open.
var cleanKey = []byte{kindMeta, 'c', 'l', 'e', 'a', 'n'}

// maxNameLen bounds output names so keys stay small.
const maxNameLen = 200

func validName(name string) error {
	switch {
	case name == "":
		return errors.New("output name is empty")
	case len(name) > maxNameLen:
		return fmt.Errorf("output name longer than %d bytes", maxNameLen)
	case strings.IndexByte(name, 0) >= 0:
		return errors.New("output name contains a NUL byte")
	}
	return nil
}

func prefixKey(kind byte, name string) []byte {
	k := make([]byte, 0, len(name)+2+8)
	k = append(k, kind)
	k = append(k, name...)
	return append(k, 0)
}

func seqKey(prefix []byte, seq uint64) []byte {
	k := make([]byte, len(prefix)+8)
	copy(k, prefix)
	binary.BigEndian.PutUint64(k[len(prefix):], seq)
	return k
}

func appendSeqKey(dst, prefix []byte, seq uint64) []byte {
	dst = append(dst, prefix...)
	return binary.BigEndian.AppendUint64(dst, seq)
}

// seqOf returns the sequence number at the end of a queue or dead-letter key.
func seqOf(key []byte) uint64 {
	return binary.BigEndian.Uint64(key[len(key)-8:])
}

// prefixEnd is the smallest key greater than every key starting with prefix.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// dedupDigest identifies (output, uuid) in 16 bytes: short keys keep the
// index small, and SHA-256 keeps a crafted uuid from colliding with
// another alert's (a collision would wrongly report a duplicate).
func dedupDigest(name, uuid string) [16]byte {
	// Hashed from a stack buffer: no allocation for the usual name and uuid.
	var buf [128]byte
	b := append(append(append(buf[:0], name...), 0), uuid...)
	sum := sha256.Sum256(b)
	var d [16]byte
	copy(d[:], sum[:])
	return d
}

func dedupKey(dst []byte, bucket uint64, digest [16]byte) []byte {
	dst = append(dst, kindDedup)
	dst = binary.BigEndian.AppendUint64(dst, bucket)
	return append(dst, digest[:]...)
}

func dedupBucketKey(bucket uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{kindDedup}, bucket)
}

// Dead-letter IDs are the entry's sequence number in fixed-width hex, so
// they sort like the keys and page cleanly.
func formatID(seq uint64) string {
	s := strconv.FormatUint(seq, 16)
	return strings.Repeat("0", 16-len(s)) + s
}

func parseID(id string) (uint64, error) {
	seq, err := strconv.ParseUint(id, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("dead letter id %q: %w", id, ErrNotFound)
	}
	return seq, nil
}

// counters is the size of one output's live queue and dead letters, kept
// in memory, saved at a clean Close and rebuilt by a scan after a crash.
type counters struct {
	qEntries, qBytes, dEntries, dBytes int64
}

const countersLen = 32

func (c counters) encode() []byte {
	b := make([]byte, countersLen)
	binary.LittleEndian.PutUint64(b[0:], uint64(c.qEntries))
	binary.LittleEndian.PutUint64(b[8:], uint64(c.qBytes))
	binary.LittleEndian.PutUint64(b[16:], uint64(c.dEntries))
	binary.LittleEndian.PutUint64(b[24:], uint64(c.dBytes))
	return b
}

func decodeCounters(b []byte) (counters, error) {
	if len(b) != countersLen {
		return counters{}, fmt.Errorf("counters: %d bytes, want %d", len(b), countersLen)
	}
	return counters{
		qEntries: int64(binary.LittleEndian.Uint64(b[0:])),
		qBytes:   int64(binary.LittleEndian.Uint64(b[8:])),
		dEntries: int64(binary.LittleEndian.Uint64(b[16:])),
		dBytes:   int64(binary.LittleEndian.Uint64(b[24:])),
	}, nil
}

func (c *counters) add(o counters) {
	c.qEntries += o.qEntries
	c.qBytes += o.qBytes
	c.dEntries += o.dEntries
	c.dBytes += o.dBytes
}

// counterMerger is the merge operator of the first on-disk layout, which
// kept counters as merge operands. Pebble refuses to open a DB without the
// merger named in it, so it stays registered: Open can then name the
// problem (kindCounter keys) instead of failing inside Pebble.
func counterMerger() *pebble.Merger {
	return &pebble.Merger{
		Name: "lanner.queue.counters.v1",
		Merge: func(_, value []byte) (pebble.ValueMerger, error) {
			c, err := decodeCounters(value)
			if err != nil {
				return nil, err
			}
			return &sumMerger{c: c}, nil
		},
	}
}

type sumMerger struct{ c counters }

func (m *sumMerger) MergeNewer(value []byte) error { return m.merge(value) }
func (m *sumMerger) MergeOlder(value []byte) error { return m.merge(value) }
func (m *sumMerger) merge(value []byte) error {
	c, err := decodeCounters(value)
	if err != nil {
		return err
	}
	m.c.add(c)
	return nil
}
func (m *sumMerger) Finish(bool) ([]byte, io.Closer, error) { return m.c.encode(), nil, nil }
