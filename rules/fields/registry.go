package fields

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ErrUnknownField is wrapped by Resolve's error for a name no field has.
var ErrUnknownField = errors.New("unknown field")

// All returns the builtin fields sorted by name (for list-fields).
func All() []Field {
	out := make([]Field, 0, NumBuiltin-1)
	for id := ID(1); id < NumBuiltin; id++ {
		f := builtin[id]
		f.ID = id
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Registry resolves field names to IDs. The compiler builds one per
// compilation; tests may add fields of their own (Falco's test fields
// c.true and c.false, for instance).
type Registry struct {
	fields []Field
	byName map[string]ID
}

// NewRegistry returns the builtin fields plus extra ones, which get IDs from
// NumBuiltin on in the order given.
func NewRegistry(extra ...Field) *Registry {
	r := &Registry{
		fields: make([]Field, 0, int(NumBuiltin)+len(extra)),
		byName: make(map[string]ID, int(NumBuiltin)+len(extra)),
	}
	for id := ID(0); id < NumBuiltin; id++ {
		f := builtin[id]
		f.ID = id
		r.fields = append(r.fields, f)
		if id != Invalid {
			r.byName[f.Name] = id
		}
	}
	for _, f := range extra {
		f.ID = ID(len(r.fields))
		r.fields = append(r.fields, f)
		r.byName[f.Name] = f.ID
	}
	return r
}

// Len returns the number of IDs in use (the largest ID + 1), so that event
// implementations can size per-field arrays.
func (r *Registry) Len() int { return len(r.fields) }

// Field returns the field with the given ID; nil if out of range.
func (r *Registry) Field(id ID) *Field {
	if id == Invalid || int(id) >= len(r.fields) {
		return nil
	}
	return &r.fields[id]
}

// Lookup returns the field named exactly name.
func (r *Registry) Lookup(name string) (*Field, bool) {
	id, ok := r.byName[name]
	if !ok {
		return nil, false
	}
	return &r.fields[id], true
}

// Resolve turns a field reference as written (name, and the text between
// brackets if any) into a field and its parsed argument. Dotted arguments
// (evt.arg.flags, k8s.pod.label.app) are split off the name here, taking the
// longest registered prefix, as libsinsp does.
func (r *Registry) Resolve(name, arg string, hasArg bool) (*Field, Arg, error) {
	f, ok := r.Lookup(name)
	if !ok {
		// longest prefix that takes a dotted argument
		for i := strings.LastIndexByte(name, '.'); i > 0; i = strings.LastIndexByte(name[:i], '.') {
			g, ok := r.Lookup(name[:i])
			if !ok || !g.DotArg {
				continue
			}
			if hasArg {
				return nil, Arg{}, fmt.Errorf("field %s: argument given twice (%q and [%s])", g.Name, name[i+1:], arg)
			}
			f, arg, hasArg = g, name[i+1:], true
			break
		}
		if f == nil {
			return nil, Arg{}, fmt.Errorf("%w %q", ErrUnknownField, name)
		}
	}
	a, err := f.ParseArg(arg, hasArg)
	if err != nil {
		return nil, Arg{}, err
	}
	return f, a, nil
}

// ParseArg validates the argument of f as written.
func (f *Field) ParseArg(arg string, hasArg bool) (Arg, error) {
	if !hasArg {
		if f.ArgRequired {
			return Arg{}, fmt.Errorf("field %s requires an argument", f.Name)
		}
		return Arg{Index: -1}, nil
	}
	a := Arg{Key: arg, Index: -1, Has: true}
	n, nerr := strconv.Atoi(arg)
	if nerr == nil && n >= 0 {
		a.Index = n
	}
	switch f.Arg {
	case ArgNone:
		return Arg{}, fmt.Errorf("field %s does not take an argument", f.Name)
	case ArgIndex:
		if a.Index < 0 {
			return Arg{}, fmt.Errorf("field %s: argument %q is not a non-negative index", f.Name, arg)
		}
	case ArgKey, ArgIndexOrKey:
		if arg == "" {
			return Arg{}, fmt.Errorf("field %s: empty argument", f.Name)
		}
	}
	return a, nil
}
