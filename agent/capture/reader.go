package capture

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lannerhq/lanner/bpf"
)

// ErrClosed is returned by Read, SetSyscalls and Stats after Close.
var ErrClosed = errors.New("capture: closed")

// Read delivers events to fn until ctx is done (returns ctx.Err()), Close is
// called (ErrClosed) or fn returns an error (returned as is). Only one Read
// runs at a time. Records from the per-CPU rings are merged in timestamp
// order (see drain.round). The Event and its byte slices are reused: valid
// only until fn returns. The hot path does not allocate.
func (c *Capture) Read(ctx context.Context, fn func(*Event) error) error {
	if !c.readMu.TryLock() {
		return errors.New("capture: Read already running")
	}
	defer c.readMu.Unlock()
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	stop := context.AfterFunc(ctx, c.wake)
	defer stop()

	// The merge state outlives one Read, so that records already taken
	// from the rings are delivered by the next Read if this one stops.
	if c.drain == nil {
		c.drain = &drain{
			c:       c,
			recs:    make([][]byte, len(c.rings)),
			pending: make([]bool, len(c.rings)),
		}
	}
	d := c.drain
	d.fn = fn
	defer func() { d.fn = nil }()
	events := make([]unix.EpollEvent, len(c.rings)+1)
	timeout := int(c.cfg.FlushInterval / time.Millisecond)
	if timeout < 1 {
		timeout = 1
	}
	var buf [8]byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		select {
		case <-c.closed:
			return ErrClosed
		default:
		}
		n, err := d.round()
		if err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		// Nothing pending: sleep until a ring passes its wake-up threshold,
		// the flush interval elapses, or Close/cancel pokes the eventfd.
		if _, err := unix.EpollWait(c.epfd, events, timeout); err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("capture: epoll_wait: %w", err)
		}
		_, _ = unix.Read(c.wakefd, buf[:]) // non-blocking; EAGAIN when not poked
	}
}

// drain is the state of one Read loop: one pending record per ring.
type drain struct {
	c       *Capture
	recs    [][]byte // views of the rings' memory (see ring)
	pending []bool
	ev      Event
	fn      func(*Event) error
}

// releaseBytes is how much a ring's reader consumes before it gives the
// space back in the middle of a long drain (it always does at the end).
const releaseBytes = 256 << 10

// round delivers records oldest first until every ring is empty. Before each
// pick it takes a record from every ring without one pending (a local check
// while the ring's last producer snapshot lasts, then one atomic load), so
// that a record another CPU committed before the one being delivered (a fork
// before the child's exec) is not overtaken. It returns how many events it
// delivered; consumed space goes back to the producers in batches.
func (d *drain) round() (delivered int, err error) {
	rings := d.c.rings
	defer func() {
		for _, r := range rings {
			r.release()
		}
	}()
	for {
		for i, r := range rings {
			if d.pending[i] {
				continue
			}
			rec, ok, err := r.next()
			if err != nil {
				return delivered, fmt.Errorf("capture: read ring %d: %w", i, err)
			}
			d.recs[i], d.pending[i] = rec, ok
		}
		best := -1
		var bestTs uint64
		for i, p := range d.pending {
			if !p {
				continue
			}
			var ts uint64
			if raw := d.recs[i]; len(raw) >= offTs+8 {
				ts = binary.LittleEndian.Uint64(raw[offTs:])
			}
			if best < 0 || ts < bestTs {
				best, bestTs = i, ts
			}
		}
		if best < 0 {
			return delivered, nil
		}
		d.pending[best] = false
		r := rings[best]
		var fnErr error
		if err := d.ev.decode(d.recs[best], d.c.bootOffset); err != nil {
			d.c.decodeErrs.Add(1)
		} else {
			d.c.delivered.Add(1)
			delivered++
			fnErr = d.fn(&d.ev)
		}
		r.finish()
		if r.done-r.published >= releaseBytes {
			r.release()
		}
		if fnErr != nil {
			return delivered, fnErr
		}
	}
}

// Counters are the kernel's counts for one CPU (or their sum).
type Counters struct {
	Seen         uint64 // records the programs tried to emit (Sent + dropped)
	Sent         uint64 // records written to a ring
	DropRingFull uint64 // lost: ring full (userspace too slow)
	DropNoRing   uint64 // lost: no ring for the CPU
	Truncated    uint64 // records with a string or path cut at its bound (kept)
	ReadFailed   uint64 // user/kernel memory reads that failed (field left empty)
}

// Dropped is the number of events lost in the kernel.
func (c Counters) Dropped() uint64 { return c.DropRingFull + c.DropNoRing }

func (c *Counters) add(o Counters) {
	c.Seen += o.Seen
	c.Sent += o.Sent
	c.DropRingFull += o.DropRingFull
	c.DropNoRing += o.DropNoRing
	c.Truncated += o.Truncated
	c.ReadFailed += o.ReadFailed
}

// Stats are the capture's counters: per CPU from the kernel, plus userspace.
type Stats struct {
	PerCPU       []Counters
	Total        Counters
	Delivered    uint64 // events handed to Read's callback
	DecodeErrors uint64 // records skipped because they did not decode
}

// Stats reads the per-CPU counters from the kernel.
func (c *Capture) Stats() (Stats, error) {
	c.filterMu.Lock()
	defer c.filterMu.Unlock()
	select {
	case <-c.closed:
		return Stats{}, ErrClosed
	default:
	}
	var st Stats
	var vals []uint64
	for k := range uint32(bpf.LannerCounterCNT_MAX) {
		if err := c.objs.Counters.Lookup(k, &vals); err != nil {
			return Stats{}, fmt.Errorf("capture: read counter %d: %w", k, err)
		}
		if st.PerCPU == nil {
			st.PerCPU = make([]Counters, len(vals))
		}
		for cpu, v := range vals {
			pc := &st.PerCPU[cpu]
			switch bpf.LannerCounter(k) {
			case bpf.LannerCounterCNT_SENT:
				pc.Sent = v
			case bpf.LannerCounterCNT_DROP_RING:
				pc.DropRingFull = v
			case bpf.LannerCounterCNT_DROP_NO_RING:
				pc.DropNoRing = v
			case bpf.LannerCounterCNT_TRUNCATED:
				pc.Truncated = v
			case bpf.LannerCounterCNT_READ_FAIL:
				pc.ReadFailed = v
			}
		}
	}
	for i := range st.PerCPU {
		pc := &st.PerCPU[i]
		pc.Seen = pc.Sent + pc.Dropped()
		st.Total.add(*pc)
	}
	st.Delivered = c.delivered.Load()
	st.DecodeErrors = c.decodeErrs.Load()
	return st, nil
}
