package engine

import (
	"encoding/base64"
	"net/netip"
	"strings"

	"github.com/lannerhq/lanner/rules/condition"
	"github.com/lannerhq/lanner/rules/fields"
)

// maxValues bounds iteration over multi-valued fields (ancestors), so a
// cyclic or corrupt process tree in the agent's state cannot hang the engine.
const maxValues = 256

type srcKind uint8

const (
	srcField   srcKind = iota // one field, one value
	srcList                   // a List field without index: values ListFrom...
	srcAnyOf                  // a filter-only field: any of alts
	srcEvtType                // evt.type, from Event.Type
	srcEvtDir                 // evt.dir, from Event.Dir
	srcConst                  // evt.source and friends: a fixed string
	srcXform                  // a transformer over inner
	srcJoin                   // join(sep, items)
)

// source reads the values of a left (or right) side from an event. Reads go
// through strAt/intAt/... with an explicit index rather than callbacks, so
// that nothing escapes to the heap on the hot path.
type source struct {
	kind  srcKind
	typ   fields.Type
	field *fields.Field
	id    fields.ID
	arg   fields.Arg
	from  int
	alts  []*source
	xf    condition.Transformer
	inner *source
	sep   string
	items []joinPart
	str   string // srcConst
	name  string // canonical, for messages and output_fields keys
}

type joinPart struct {
	src *source
	lit string
}

func listArg(i int) fields.Arg { return fields.Arg{Index: i, Has: true} }

// strAt returns the k-th value. more is false when there is no value after k.
func (s *source) strAt(ev fields.Event, k int) (v string, ok, more bool) {
	switch s.kind {
	case srcField:
		v, ok = ev.Str(s.id, s.arg)
		return v, ok, false
	case srcList:
		v, ok = ev.Str(s.id, listArg(s.from+k))
		return v, ok, ok && k+1 < maxValues
	case srcAnyOf:
		if k >= len(s.alts) {
			return "", false, false
		}
		v, ok, _ = s.alts[k].strAt(ev, 0)
		return v, ok, k+1 < len(s.alts)
	case srcEvtType:
		return ev.Type().String(), true, false
	case srcEvtDir:
		return ev.Dir().String(), true, false
	case srcConst:
		return s.str, true, false
	case srcXform:
		v, ok, more = s.inner.strAt(ev, k)
		if ok {
			v, ok = transformStr(s.xf, v)
		}
		return v, ok, more
	case srcJoin:
		if k > 0 {
			return "", false, false
		}
		var b strings.Builder
		for i, it := range s.items {
			if i > 0 {
				b.WriteString(s.sep)
			}
			if it.src == nil {
				b.WriteString(it.lit)
				continue
			}
			x, ok := it.src.firstString(ev)
			if !ok {
				return "", false, false
			}
			b.WriteString(x)
		}
		return b.String(), true, false
	}
	return "", false, false
}

// firstString renders the first value of any type as text (join, output).
func (s *source) firstString(ev fields.Event) (string, bool) {
	switch {
	case s.typ.IsString():
		for k := 0; k < maxValues; k++ {
			v, ok, more := s.strAt(ev, k)
			if ok {
				return v, true
			}
			if !more {
				break
			}
		}
		return "", false
	case s.typ.IsNumeric():
		for k := 0; k < maxValues; k++ {
			v, ok, more := s.intAt(ev, k)
			if ok {
				if s.typ.IsUnsigned() {
					return uitoa(uint64(v)), true
				}
				return itoa(v), true
			}
			if !more {
				break
			}
		}
	case s.typ == fields.TypeBool:
		for k := 0; k < maxValues; k++ {
			v, ok, more := s.boolAt(ev, k)
			if ok {
				if v {
					return "true", true
				}
				return "false", true
			}
			if !more {
				break
			}
		}
	case s.typ == fields.TypeIPAddr || s.typ == fields.TypeIPNet:
		for k := 0; k < maxValues; k++ {
			v, ok, more := s.ipAt(ev, k)
			if ok {
				return v.String(), true
			}
			if !more {
				break
			}
		}
	}
	return "", false
}

func (s *source) intAt(ev fields.Event, k int) (v int64, ok, more bool) {
	switch s.kind {
	case srcField:
		v, ok = ev.Int(s.id, s.arg)
		return v, ok, false
	case srcList:
		v, ok = ev.Int(s.id, listArg(s.from+k))
		return v, ok, ok && k+1 < maxValues
	case srcAnyOf:
		if k >= len(s.alts) {
			return 0, false, false
		}
		v, ok, _ = s.alts[k].intAt(ev, 0)
		return v, ok, k+1 < len(s.alts)
	case srcXform: // len()
		var str string
		str, ok, more = s.inner.strAt(ev, k)
		return int64(len(str)), ok, more
	}
	return 0, false, false
}

func (s *source) boolAt(ev fields.Event, k int) (v bool, ok, more bool) {
	switch s.kind {
	case srcField:
		v, ok = ev.Bool(s.id, s.arg)
		return v, ok, false
	case srcList:
		v, ok = ev.Bool(s.id, listArg(s.from+k))
		return v, ok, ok && k+1 < maxValues
	case srcAnyOf:
		if k >= len(s.alts) {
			return false, false, false
		}
		v, ok, _ = s.alts[k].boolAt(ev, 0)
		return v, ok, k+1 < len(s.alts)
	}
	return false, false, false
}

func (s *source) ipAt(ev fields.Event, k int) (v netip.Addr, ok, more bool) {
	switch s.kind {
	case srcField:
		v, ok = ev.IP(s.id, s.arg)
		return v, ok, false
	case srcList:
		v, ok = ev.IP(s.id, listArg(s.from+k))
		return v, ok, ok && k+1 < maxValues
	case srcAnyOf:
		if k >= len(s.alts) {
			return netip.Addr{}, false, false
		}
		v, ok, _ = s.alts[k].ipAt(ev, 0)
		return v, ok, k+1 < len(s.alts)
	}
	return netip.Addr{}, false, false
}

// exists reports whether the source has at least one value.
func (s *source) exists(ev fields.Event) bool {
	for k := 0; k < maxValues; k++ {
		var ok, more bool
		switch {
		case s.typ.IsString():
			_, ok, more = s.strAt(ev, k)
		case s.typ.IsNumeric():
			_, ok, more = s.intAt(ev, k)
		case s.typ == fields.TypeBool:
			_, ok, more = s.boolAt(ev, k)
		default:
			_, ok, more = s.ipAt(ev, k)
		}
		if ok {
			return true
		}
		if !more {
			return false
		}
	}
	return false
}

func transformStr(t condition.Transformer, v string) (string, bool) {
	switch t {
	case condition.TransformToLower:
		return strings.ToLower(v), true
	case condition.TransformToUpper:
		return strings.ToUpper(v), true
	case condition.TransformB64:
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return "", false
		}
		return string(b), true
	case condition.TransformBasename:
		return basename(v), true
	}
	return v, true
}

// basename is libsinsp's basename transformer: the text after the last '/'
// ("" for a path ending in '/').
func basename(v string) string {
	if i := strings.LastIndexByte(v, '/'); i >= 0 {
		return v[i+1:]
	}
	return v
}

func itoa(v int64) string {
	if v < 0 {
		return "-" + uitoa(uint64(-v))
	}
	return uitoa(uint64(v))
}

func uitoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return string(b[i:])
}
