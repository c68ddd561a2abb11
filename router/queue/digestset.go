package queue

import "encoding/binary"

// digestSet is the set of dedup entries gathered for the index but not yet
// in it. It replaces a Go map, which cost ~0.4 µs per queued alert (a 24-byte
// key hashed, inserted, then deleted once ingested): the digests are SHA-256
// output, so their bytes are the hash already, and the set is only ever
// emptied as a whole, so open addressing with linear probing and no
// deletions is enough. Not safe for concurrent use.
type digestSet struct {
	// slots holds entries with bucket+1 stored in place of bucket, so that
	// the zero value marks an empty slot. len(slots) is a power of two.
	slots []dedupEntry
	n     int
}

const digestSetMinSlots = 1 << 10

func (s *digestSet) slot(e dedupEntry) uint64 {
	// The digest's second half: its first half picks the Bloom block.
	return (binary.LittleEndian.Uint64(e.digest[8:]) ^ e.bucket) & uint64(len(s.slots)-1)
}

// add inserts e; adding it again is a no-op.
func (s *digestSet) add(e dedupEntry) {
	if 4*(s.n+1) > 3*len(s.slots) {
		s.grow()
	}
	e.bucket++
	for i := s.slot(e); ; i = (i + 1) & uint64(len(s.slots)-1) {
		switch s.slots[i] {
		case dedupEntry{}:
			s.slots[i] = e
			s.n++
			return
		case e:
			return
		}
	}
}

// has reports whether e was added since the last reset.
func (s *digestSet) has(e dedupEntry) bool {
	if s.n == 0 {
		return false
	}
	e.bucket++
	for i := s.slot(e); ; i = (i + 1) & uint64(len(s.slots)-1) {
		switch s.slots[i] {
		case dedupEntry{}:
			return false
		case e:
			return true
		}
	}
}

func (s *digestSet) len() int { return s.n }

// reset empties the set, keeping its room for the next batch.
func (s *digestSet) reset() {
	clear(s.slots)
	s.n = 0
}

func (s *digestSet) grow() {
	old := s.slots
	s.slots = make([]dedupEntry, max(2*len(old), digestSetMinSlots))
	s.n = 0
	for _, e := range old {
		if e != (dedupEntry{}) {
			e.bucket--
			s.add(e)
		}
	}
}
