// Package ship delivers the agent's alerts to the router: every alert is
// appended to a bounded on-disk spool first, and a sender streams the spool to
// the router over gRPC, advancing past a batch only once the router has
// acknowledged it. A router outage therefore costs disk, not alerts, until the
// spool's bound is reached; what the bound forces out is counted.
package ship

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Spool is a FIFO of records in numbered segment files under Dir:
//
//	<dir>/00000000000000000001.seg   records: [len u32][crc32c u32][payload]
//	<dir>/cursor                     "segment offset" of the next unread record
//
// Appends go to the newest segment; reads start at the cursor. A torn record
// at the tail (power loss mid-write) is cut off at open.
type Spool struct {
	dir        string
	maxBytes   int64
	segmentMax int64

	mu       sync.Mutex
	segs     []segment // oldest first; the last one is being appended to
	w        *os.File
	wbuf     *bufio.Writer
	readSeg  uint64
	readOff  int64
	dropped  uint64
	records  int64 // unread records
	notEmpty chan struct{}
}

type segment struct {
	id      uint64
	size    int64
	records int64
}

// SpoolConfig sizes a spool.
type SpoolConfig struct {
	Dir string
	// MaxBytes bounds the spool on disk (default 256 MiB). When an append
	// would pass it, the oldest segment is dropped and its records counted.
	MaxBytes int64
	// SegmentBytes is the size at which a new segment starts (default 8 MiB).
	SegmentBytes int64
}

// ErrRecordTooLarge is returned for a record larger than a segment.
var ErrRecordTooLarge = errors.New("spool: record larger than a segment")

var crcTable = crc32.MakeTable(crc32.Castagnoli)

const recHeader = 8

// OpenSpool opens or creates the spool in cfg.Dir.
func OpenSpool(cfg SpoolConfig) (*Spool, error) {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 256 << 20
	}
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = 8 << 20
	}
	if cfg.SegmentBytes > cfg.MaxBytes/2 {
		cfg.SegmentBytes = max(cfg.MaxBytes/2, 4096)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{dir: cfg.Dir, maxBytes: cfg.MaxBytes, segmentMax: cfg.SegmentBytes, notEmpty: make(chan struct{}, 1)}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Spool) segPath(id uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d.seg", id))
}

func (s *Spool) load() error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	var ids []uint64
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".seg") {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(name, ".seg"), 10, 64)
		if err == nil {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	s.readSeg, s.readOff = s.readCursor()
	for _, id := range ids {
		if id < s.readSeg {
			os.Remove(s.segPath(id)) // fully read before a crash
			continue
		}
		size, n, err := scanSegment(s.segPath(id))
		if err != nil {
			return err
		}
		s.segs = append(s.segs, segment{id: id, size: size, records: n})
	}
	if len(s.segs) == 0 {
		s.segs = []segment{{id: max(s.readSeg, 1)}}
		s.readSeg, s.readOff = s.segs[0].id, 0
	}
	if s.readSeg < s.segs[0].id {
		s.readSeg, s.readOff = s.segs[0].id, 0
	}
	// Count the unread records: all of every segment after the read one, and
	// what is after the read offset in the read one.
	for _, sg := range s.segs {
		switch {
		case sg.id > s.readSeg:
			s.records += sg.records
		case sg.id == s.readSeg:
			n, err := countFrom(s.segPath(sg.id), s.readOff)
			if err != nil {
				return err
			}
			s.records += n
		}
	}
	return s.openWriter()
}

func (s *Spool) readCursor() (uint64, int64) {
	b, err := os.ReadFile(filepath.Join(s.dir, "cursor"))
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0
	}
	seg, err1 := strconv.ParseUint(f[0], 10, 64)
	off, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0
	}
	return seg, off
}

// scanSegment validates a segment, truncating it after its last whole,
// checksummed record, and returns its size and record count.
func scanSegment(path string) (int64, int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0o600)
	if err != nil {
		return 0, 0, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var off, n int64
	for {
		payload, err := readRecord(r)
		if err != nil {
			break
		}
		off += recHeader + int64(len(payload))
		n++
	}
	if err := f.Truncate(off); err != nil {
		return 0, 0, fmt.Errorf("spool: truncate torn tail: %w", err)
	}
	return off, n, nil
}

func countFrom(path string, off int64) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil // a segment not yet written
	}
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	r := bufio.NewReader(f)
	var n int64
	for {
		if _, err := readRecord(r); err != nil {
			return n, nil
		}
		n++
	}
}

func readRecord(r *bufio.Reader) ([]byte, error) {
	var hdr [recHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(hdr[0:4])
	sum := binary.LittleEndian.Uint32(hdr[4:8])
	if n > 64<<20 {
		return nil, errors.New("spool: corrupt record length")
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, err
	}
	if crc32.Checksum(payload, crcTable) != sum {
		return nil, errors.New("spool: checksum mismatch")
	}
	return payload, nil
}

func (s *Spool) openWriter() error {
	last := s.segs[len(s.segs)-1]
	f, err := os.OpenFile(s.segPath(last.id), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.w, s.wbuf = f, bufio.NewWriterSize(f, 64<<10)
	return nil
}

// Append writes records and syncs them to disk before returning. When the
// spool is over its bound, the oldest segments are dropped first (counted in
// Dropped): the newest alerts are the ones an operator needs after an outage.
func (s *Spool) Append(records [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return errors.New("spool: closed")
	}
	var hdr [recHeader]byte
	for _, rec := range records {
		size := int64(recHeader + len(rec))
		if size > s.segmentMax {
			return ErrRecordTooLarge
		}
		last := &s.segs[len(s.segs)-1]
		if last.size+size > s.segmentMax {
			if err := s.rotate(); err != nil {
				return err
			}
			last = &s.segs[len(s.segs)-1]
		}
		s.enforceBound(size)
		binary.LittleEndian.PutUint32(hdr[0:4], uint32(len(rec)))
		binary.LittleEndian.PutUint32(hdr[4:8], crc32.Checksum(rec, crcTable))
		s.wbuf.Write(hdr[:])
		s.wbuf.Write(rec)
		last.size += size
		last.records++
		s.records++
	}
	if err := s.wbuf.Flush(); err != nil {
		return fmt.Errorf("spool: write: %w", err)
	}
	if err := s.w.Sync(); err != nil {
		return fmt.Errorf("spool: sync: %w", err)
	}
	select {
	case s.notEmpty <- struct{}{}:
	default:
	}
	return nil
}

func (s *Spool) rotate() error {
	if err := s.wbuf.Flush(); err != nil {
		return fmt.Errorf("spool: write: %w", err)
	}
	if err := s.w.Sync(); err != nil {
		return fmt.Errorf("spool: sync: %w", err)
	}
	s.w.Close()
	s.segs = append(s.segs, segment{id: s.segs[len(s.segs)-1].id + 1})
	return s.openWriter()
}

func (s *Spool) totalBytes() int64 {
	var t int64
	for _, sg := range s.segs {
		t += sg.size
	}
	return t
}

// enforceBound drops whole segments from the head (never the one being
// written) until adding size bytes fits.
func (s *Spool) enforceBound(size int64) {
	for len(s.segs) > 1 && s.totalBytes()+size > s.maxBytes {
		head := s.segs[0]
		unread := head.records
		if head.id == s.readSeg {
			n, _ := countFrom(s.segPath(head.id), s.readOff)
			unread = n
		}
		s.dropped += uint64(unread)
		s.records -= unread
		os.Remove(s.segPath(head.id))
		s.segs = s.segs[1:]
		if s.readSeg <= head.id {
			s.readSeg, s.readOff = s.segs[0].id, 0
			s.writeCursor()
		}
	}
}

// Batch is a run of records read from the spool; pass it to Commit once the
// records are safely delivered.
type Batch struct {
	Records [][]byte
	endSeg  uint64
	endOff  int64
}

// Read returns up to max unread records without consuming them. It returns an
// empty batch when the spool is empty.
func (s *Spool) Read(max int) (Batch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.wbuf.Flush(); err != nil {
		return Batch{}, fmt.Errorf("spool: write: %w", err)
	}
	b := Batch{endSeg: s.readSeg, endOff: s.readOff}
	seg, off := s.readSeg, s.readOff
	for len(b.Records) < max {
		idx := s.segIndex(seg)
		if idx < 0 {
			break
		}
		f, err := os.Open(s.segPath(seg))
		if err != nil {
			return Batch{}, fmt.Errorf("spool: %w", err)
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return Batch{}, fmt.Errorf("spool: %w", err)
		}
		r := bufio.NewReader(f)
		for len(b.Records) < max {
			rec, err := readRecord(r)
			if err != nil {
				break
			}
			b.Records = append(b.Records, rec)
			off += recHeader + int64(len(rec))
		}
		f.Close()
		b.endSeg, b.endOff = seg, off
		if len(b.Records) >= max || idx == len(s.segs)-1 {
			break
		}
		seg, off = s.segs[idx+1].id, 0
	}
	return b, nil
}

func (s *Spool) segIndex(id uint64) int {
	for i, sg := range s.segs {
		if sg.id == id {
			return i
		}
	}
	return -1
}

// Commit marks a batch from Read as delivered: the cursor moves past it and
// fully read segments are deleted.
func (s *Spool) Commit(b Batch) error {
	if len(b.Records) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if b.endSeg < s.readSeg || (b.endSeg == s.readSeg && b.endOff <= s.readOff) {
		return nil // the bound dropped these records meanwhile
	}
	s.readSeg, s.readOff = b.endSeg, b.endOff
	s.records -= int64(len(b.Records))
	if s.records < 0 {
		s.records = 0
	}
	for len(s.segs) > 1 && s.segs[0].id < s.readSeg {
		os.Remove(s.segPath(s.segs[0].id))
		s.segs = s.segs[1:]
	}
	return s.writeCursor()
}

// writeCursor persists the read position atomically (write, fsync, rename).
func (s *Spool) writeCursor() error {
	tmp := filepath.Join(s.dir, "cursor.tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool: cursor: %w", err)
	}
	fmt.Fprintf(f, "%d %d\n", s.readSeg, s.readOff)
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("spool: cursor: %w", err)
	}
	f.Close()
	if err := os.Rename(tmp, filepath.Join(s.dir, "cursor")); err != nil {
		return fmt.Errorf("spool: cursor: %w", err)
	}
	return nil
}

// Len is the number of unread records.
func (s *Spool) Len() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records
}

// Bytes is the spool's size on disk.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.totalBytes()
}

// Dropped counts records discarded by the size bound since open.
func (s *Spool) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// NotEmpty is signalled after each Append, so a sender can wait for work.
func (s *Spool) NotEmpty() <-chan struct{} { return s.notEmpty }

// Close flushes and closes the spool.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return nil
	}
	err := s.wbuf.Flush()
	if serr := s.w.Sync(); err == nil {
		err = serr
	}
	s.w.Close()
	s.w = nil
	return err
}
