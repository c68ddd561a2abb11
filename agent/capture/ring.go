package capture

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BPF ring buffer record header bits (struct bpf_ringbuf_hdr, uapi bpf.h).
const (
	ringBusyBit    = 1 << 31
	ringDiscardBit = 1 << 30
	ringHdrSize    = 8
)

// ring reads one BPF_MAP_TYPE_RINGBUF map through its memory mapping.
//
// Unlike a reader that loads the producer position and stores the consumer
// position for every record, it snapshots the producer position once per
// batch and publishes the consumer position once per batch. Both positions
// live in cache lines the producing CPU also uses (the kernel reads the
// consumer position on every reserve), so touching them per record moves
// those lines between CPUs once or twice per event while the reader runs:
// measured at several hundred ns per event on the producing CPU, which is the
// workload being traced.
//
// Records are returned as views of the mapping (the data pages are mapped
// twice back to back, so a record that wraps is contiguous): valid until the
// consumer position is published past them (release).
type ring struct {
	consMem, dataMem []byte
	cons, prod       *uint64 // in the mapping; accessed atomically
	data             []byte  // 2 × size bytes
	mask             uint64

	pos       uint64 // next record to read
	end       uint64 // producer position snapshot
	done      uint64 // end of the records handed out and finished with
	published uint64 // consumer position last stored
}

func newRing(fd, size int) (*ring, error) {
	page := os.Getpagesize()
	consMem, err := unix.Mmap(fd, 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("capture: mmap ring consumer page: %w", err)
	}
	dataMem, err := unix.Mmap(fd, int64(page), page+2*size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		_ = unix.Munmap(consMem)
		return nil, fmt.Errorf("capture: mmap ring data: %w", err)
	}
	r := &ring{
		consMem: consMem,
		dataMem: dataMem,
		cons:    (*uint64)(unsafe.Pointer(&consMem[0])),
		prod:    (*uint64)(unsafe.Pointer(&dataMem[0])),
		data:    dataMem[page:],
		mask:    uint64(size - 1),
	}
	r.pos = atomic.LoadUint64(r.cons)
	r.end, r.done, r.published = r.pos, r.pos, r.pos
	return r, nil
}

// errRingCorrupt reports a record header that cannot be right.
var errRingCorrupt = errors.New("capture: ring record beyond the producer position")

// next returns the next committed record, or ok false when there is none
// yet (the ring is empty, or the next record is still being written). The
// record stays valid until release publishes past it; finish marks it done,
// and next must not be called again before that.
func (r *ring) next() (rec []byte, ok bool, err error) {
	for {
		if r.pos == r.end {
			r.end = atomic.LoadUint64(r.prod)
			if r.pos == r.end {
				return nil, false, nil
			}
		}
		if r.end-r.pos < ringHdrSize {
			return nil, false, errRingCorrupt
		}
		start := r.pos & r.mask
		hdr := atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.data[start])))
		if hdr&ringBusyBit != 0 {
			return nil, false, nil // reserved, not committed yet
		}
		n := uint64(hdr &^ (ringBusyBit | ringDiscardBit))
		total := ringHdrSize + (n+7)&^7
		if r.end-r.pos < total {
			return nil, false, errRingCorrupt
		}
		r.pos += total
		if hdr&ringDiscardBit != 0 {
			// Nothing is pending when next runs (one record per ring
			// at a time), so a discarded record is done at once.
			r.done = r.pos
			continue
		}
		s := start + ringHdrSize
		return r.data[s : s+n : s+n], true, nil
	}
}

// finish marks every record next returned so far as handled.
func (r *ring) finish() { r.done = r.pos }

// release publishes the consumer position up to the finished records,
// giving their space back to the producer.
func (r *ring) release() {
	if r.done != r.published {
		atomic.StoreUint64(r.cons, r.done)
		r.published = r.done
	}
}

func (r *ring) close() error {
	return errors.Join(unix.Munmap(r.dataMem), unix.Munmap(r.consMem))
}
