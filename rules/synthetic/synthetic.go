// Package synthetic provides an in-memory fields.Event for tests and
// benchmarks: set values by field name once, then read them by ID without
// allocating, as the engine requires.
package synthetic

import (
	"fmt"
	"net/netip"
	"path"
	"strconv"

	"github.com/lannerhq/lanner/rules/fields"
)

// keyedValue is one value of a keyed field. A short slice scanned in order
// beats a map for the handful of keys an event has.
type keyedValue struct {
	key string
	v   value
}

// value is kept small (40 bytes) so that a benchmark over many events
// touches few cache lines; the rarer parts live behind ext.
type value struct {
	s   string
	i   int64
	ext *extra
	set bool
	b   bool
}

type extra struct {
	ip    netip.Addr
	list  []value      // List fields: element k holds index ListFrom+k
	keyed []keyedValue // fields with a key argument (evt.arg.flags)
}

func (v *value) x() *extra {
	if v.ext == nil {
		v.ext = &extra{}
	}
	return v.ext
}

// Event is a synthetic event. Build it with New and Set; it is then safe for
// concurrent reads.
type Event struct {
	typ fields.EventType
	dir fields.Dir
	reg *fields.Registry
	// idx maps a field ID to 1 + its slot in vals (0: never set), keeping
	// events small so that a benchmark over many of them stays in cache.
	idx  []uint8
	vals []value
}

// New returns an exit event of the named Falco event type ("openat"). It
// panics on an unknown type name: it is a test helper.
func New(reg *fields.Registry, types *fields.EventTypeTable, evtype string) *Event {
	t, ok := types.Lookup(evtype)
	if !ok {
		panic(fmt.Sprintf("synthetic: unknown event type %q", evtype))
	}
	return &Event{typ: t, reg: reg, idx: make([]uint8, reg.Len())}
}

// SetDir sets the direction (exit by default).
func (e *Event) SetDir(d fields.Dir) *Event { e.dir = d; return e }

// Set gives a field a value and returns e. name may carry an argument
// (evt.arg.flags, proc.aname[2], proc.env[HOME]). v is a string, an integer,
// a bool, a netip.Addr (or an IP as a string), or a []string for a List field
// without index (proc.aname: the parent first). Setting fd.name also sets
// fd.directory and fd.filename (override them afterwards if needed). Set
// panics on errors: it is a test helper.
func (e *Event) Set(name string, v any) *Event {
	if err := e.set(name, v); err != nil {
		panic("synthetic: " + err.Error())
	}
	return e
}

func (e *Event) set(name string, v any) error {
	fname, arg, hasArg := splitArg(name)
	f, a, err := e.reg.Resolve(fname, arg, hasArg)
	if err != nil {
		return err
	}
	slot := e.slot(f.ID)
	if list, ok := v.([]string); ok {
		if !f.List || a.Has {
			return fmt.Errorf("%s: a list value needs a List field without index", name)
		}
		slot.x().list = slot.x().list[:0]
		for _, s := range list {
			x, err := convert(f, s)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			slot.ext.list = append(slot.ext.list, x)
		}
		return nil
	}
	x, err := convert(f, v)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	switch {
	case a.Has && f.List:
		k := a.Index - f.ListFrom
		if k < 0 {
			return fmt.Errorf("%s: index below %d", name, f.ListFrom)
		}
		ext := slot.x()
		for len(ext.list) <= k {
			ext.list = append(ext.list, value{})
		}
		ext.list[k] = x
	case a.Has:
		found := false
		ext := slot.x()
		for i := range ext.keyed {
			if ext.keyed[i].key == a.Key {
				ext.keyed[i].v, found = x, true
			}
		}
		if !found {
			ext.keyed = append(ext.keyed, keyedValue{key: a.Key, v: x})
		}
	default:
		*slot = mergeScalar(*slot, x)
	}
	if f.ID == fields.FdName {
		dir, file := path.Split(x.s)
		if len(dir) > 1 {
			dir = dir[:len(dir)-1]
		}
		d := e.slot(fields.FdDirectory)
		*d = mergeScalar(*d, value{set: true, s: dir})
		f := e.slot(fields.FdFilename) // may move d: set in turn
		*f = mergeScalar(*f, value{set: true, s: file})
	}
	return nil
}

// slot returns the storage of a field, creating it.
func (e *Event) slot(id fields.ID) *value {
	if e.idx[id] == 0 {
		if len(e.vals) == 255 {
			panic("synthetic: too many fields set")
		}
		e.vals = append(e.vals, value{})
		e.idx[id] = uint8(len(e.vals))
	}
	return &e.vals[e.idx[id]-1]
}

// mergeScalar sets the scalar part of a slot, keeping keyed and list values.
func mergeScalar(old, x value) value {
	if old.ext != nil {
		if x.ext == nil {
			x.ext = &extra{}
		}
		x.ext.keyed, x.ext.list = old.ext.keyed, old.ext.list
	}
	return x
}

func splitArg(name string) (string, string, bool) {
	if n := len(name); n > 0 && name[n-1] == ']' {
		for i := 0; i < n; i++ {
			if name[i] == '[' {
				return name[:i], name[i+1 : n-1], true
			}
		}
	}
	return name, "", false
}

func convert(f *fields.Field, v any) (value, error) {
	x := value{set: true}
	switch {
	case f.Type.IsString():
		s, ok := v.(string)
		if !ok {
			return x, fmt.Errorf("want a string, got %T", v)
		}
		x.s = s
	case f.Type.IsNumeric():
		switch n := v.(type) {
		case int:
			x.i = int64(n)
		case int64:
			x.i = n
		case uint64:
			x.i = int64(n)
		case uint32:
			x.i = int64(n)
		case string:
			i, err := strconv.ParseInt(n, 0, 64)
			if err != nil {
				return x, err
			}
			x.i = i
		default:
			return x, fmt.Errorf("want an integer, got %T", v)
		}
	case f.Type == fields.TypeBool:
		b, ok := v.(bool)
		if !ok {
			return x, fmt.Errorf("want a bool, got %T", v)
		}
		x.b = b
	case f.Type == fields.TypeIPAddr:
		switch ip := v.(type) {
		case netip.Addr:
			x.ext = &extra{ip: ip}
		case string:
			a, err := netip.ParseAddr(ip)
			if err != nil {
				return x, err
			}
			x.ext = &extra{ip: a}
		default:
			return x, fmt.Errorf("want an IP address, got %T", v)
		}
	default:
		return x, fmt.Errorf("field of type %s cannot be set", f.Type)
	}
	return x, nil
}

// lookup finds the value for (id, a) without allocating.
func (e *Event) lookup(id fields.ID, a fields.Arg) (*value, bool) {
	if int(id) >= len(e.idx) || e.idx[id] == 0 {
		return nil, false
	}
	slot := &e.vals[e.idx[id]-1]
	if !a.Has {
		return slot, slot.set
	}
	if slot.ext == nil {
		return nil, false
	}
	if keyed := slot.ext.keyed; keyed != nil {
		for i := range keyed {
			if keyed[i].key == a.Key {
				return &keyed[i].v, true
			}
		}
		return nil, false
	}
	if list := slot.ext.list; list != nil {
		f := e.reg.Field(id)
		k := a.Index - f.ListFrom
		if k >= 0 && k < len(list) && list[k].set {
			return &list[k], true
		}
	}
	return nil, false
}

// Type implements fields.Event.
func (e *Event) Type() fields.EventType { return e.typ }

// Dir implements fields.Event.
func (e *Event) Dir() fields.Dir { return e.dir }

// Str implements fields.Event.
func (e *Event) Str(id fields.ID, a fields.Arg) (string, bool) {
	if v, ok := e.lookup(id, a); ok {
		return v.s, true
	}
	return "", false
}

// Int implements fields.Event.
func (e *Event) Int(id fields.ID, a fields.Arg) (int64, bool) {
	if v, ok := e.lookup(id, a); ok {
		return v.i, true
	}
	return 0, false
}

// Bool implements fields.Event.
func (e *Event) Bool(id fields.ID, a fields.Arg) (bool, bool) {
	if v, ok := e.lookup(id, a); ok {
		return v.b, true
	}
	return false, false
}

// IP implements fields.Event.
func (e *Event) IP(id fields.ID, a fields.Arg) (netip.Addr, bool) {
	if v, ok := e.lookup(id, a); ok {
		if v.ext == nil {
			return netip.Addr{}, false
		}
		return v.ext.ip, true
	}
	return netip.Addr{}, false
}
