package engine

import (
	"math/bits"

	"github.com/lannerhq/lanner/rules/fields"
)

// evalFn evaluates a compiled condition (or part of one) on an event. The
// scratch carries the per-event memo of checks shared between rules.
type evalFn func(fields.Event, *scratch) bool

// scratch memoises, for one event, the result of checks that several rules
// share (macros such as open_read put the same checks in many rules). A slot
// holds gen<<1|result; bumping gen clears all slots at once. Field values
// are deliberately not cached: Event implementations may reuse one buffer
// for several fields (the contract lets them), so only results are kept.
type scratch struct {
	gen  uint32
	vals []uint32
}

func (s *scratch) next() {
	s.gen++
	if s.gen >= 1<<31 {
		clear(s.vals)
		s.gen = 1
	}
}

// The intermediate form between the syntax tree and the closures: checks are
// compiled to closures once, evt.type checks stay symbolic so that each
// rule can be specialised per event type (an openat event never evaluates
// `evt.type in (execve, execveat)`: it is folded away at compile time).
type ir interface{ isIR() }

type (
	irAnd   struct{ kids []ir }
	irOr    struct{ kids []ir }
	irNot   struct{ x ir }
	irConst bool
	// irType is evt.type = x / in (...) (or != when neg).
	irType struct {
		set typeSet
		neg bool
	}
	// irLeaf is a compiled check. key is its canonical text: equal keys are
	// the same check, which may then be memoised per event (slot >= 0).
	irLeaf struct {
		fn   evalFn
		key  string
		slot int
	}
)

func (*irAnd) isIR()  {}
func (*irOr) isIR()   {}
func (*irNot) isIR()  {}
func (irConst) isIR() {}
func (*irType) isIR() {}
func (*irLeaf) isIR() {}

const typeWords = (fields.NumEventTypes + 63) / 64

// typeSet is a set of event types.
type typeSet [typeWords]uint64

func (s *typeSet) add(t fields.EventType)      { s[t/64] |= 1 << (t % 64) }
func (s *typeSet) has(t fields.EventType) bool { return s[t/64]&(1<<(t%64)) != 0 }

func allTypes() typeSet {
	var s typeSet
	for t := 1; t < fields.NumEventTypes; t++ {
		s.add(fields.EventType(t))
	}
	return s
}

func (s typeSet) and(o typeSet) typeSet {
	for i := range s {
		s[i] &= o[i]
	}
	return s
}

func (s typeSet) or(o typeSet) typeSet {
	for i := range s {
		s[i] |= o[i]
	}
	return s
}

func (s typeSet) not() typeSet {
	all := allTypes()
	for i := range s {
		s[i] = ^s[i] & all[i]
	}
	return s
}

func (s typeSet) count() int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

func (s typeSet) types() []fields.EventType {
	var out []fields.EventType
	for t := 1; t < fields.NumEventTypes; t++ {
		if s.has(fields.EventType(t)) {
			out = append(out, fields.EventType(t))
		}
	}
	return out
}

// evtTypes computes the event types a condition can match, Falco's way:
// evt.type checks give their set, every other check gives all types; `and`
// intersects and `or` unites, with the roles swapped under a negation (De
// Morgan), and a negated evt.type check giving the complement.
func evtTypes(n ir, inverted bool) typeSet {
	switch n := n.(type) {
	case *irType:
		s := n.set
		if n.neg != inverted {
			s = s.not()
		}
		return s
	case *irNot:
		return evtTypes(n.x, !inverted)
	case *irAnd:
		return combine(n.kids, inverted, !inverted)
	case *irOr:
		return combine(n.kids, inverted, inverted)
	case irConst:
		if bool(n) != inverted {
			return allTypes()
		}
		return typeSet{}
	}
	return allTypes()
}

func combine(kids []ir, inverted, intersect bool) typeSet {
	var s typeSet
	for i, k := range kids {
		ks := evtTypes(k, inverted)
		switch {
		case i == 0:
			s = ks
		case intersect:
			s = s.and(ks)
		default:
			s = s.or(ks)
		}
	}
	return s
}

// specialize folds the evt.type checks of n for events of type t.
func specialize(n ir, t fields.EventType) ir {
	switch n := n.(type) {
	case *irType:
		return irConst(n.set.has(t) != n.neg)
	case *irNot:
		x := specialize(n.x, t)
		if c, ok := x.(irConst); ok {
			return !c
		}
		return &irNot{x: x}
	case *irAnd:
		return fold(n.kids, t, true)
	case *irOr:
		return fold(n.kids, t, false)
	}
	return n
}

// fold specialises the children of an and (isAnd) or or node.
func fold(kids []ir, t fields.EventType, isAnd bool) ir {
	var out []ir
	for _, k := range kids {
		k = specialize(k, t)
		if c, ok := k.(irConst); ok {
			if bool(c) == isAnd {
				continue // neutral element
			}
			return c // absorbing element
		}
		out = append(out, k)
	}
	switch len(out) {
	case 0:
		return irConst(isAnd)
	case 1:
		return out[0]
	}
	if isAnd {
		return &irAnd{kids: out}
	}
	return &irOr{kids: out}
}

// typeKey renders which evt.type checks of n hold for t: two event types
// with the same key specialise to the same tree, so they share closures.
func typeKey(n ir, t fields.EventType, b []byte) []byte {
	switch n := n.(type) {
	case *irType:
		if n.set.has(t) {
			return append(b, '1')
		}
		return append(b, '0')
	case *irNot:
		return typeKey(n.x, t, b)
	case *irAnd:
		for _, k := range n.kids {
			b = typeKey(k, t, b)
		}
	case *irOr:
		for _, k := range n.kids {
			b = typeKey(k, t, b)
		}
	}
	return b
}

// build turns a specialised tree into closures.
func build(n ir) evalFn {
	switch n := n.(type) {
	case irConst:
		if n {
			return func(fields.Event, *scratch) bool { return true }
		}
		return func(fields.Event, *scratch) bool { return false }
	case *irLeaf:
		if n.slot < 0 {
			return n.fn
		}
		fn, slot := n.fn, n.slot
		return func(ev fields.Event, m *scratch) bool {
			if v := m.vals[slot]; v>>1 == m.gen {
				return v&1 == 1
			}
			r := fn(ev, m)
			v := m.gen << 1
			if r {
				v |= 1
			}
			m.vals[slot] = v
			return r
		}
	case *irNot:
		x := build(n.x)
		return func(ev fields.Event, m *scratch) bool { return !x(ev, m) }
	case *irAnd:
		kids := buildKids(n.kids)
		if !anyMemo(kids) {
			return buildAnd(kids)
		}
		return func(ev fields.Event, m *scratch) bool {
			for i := range kids {
				k := &kids[i]
				if k.slot >= 0 {
					if v := m.vals[k.slot]; v>>1 == m.gen {
						if v&1 == 0 {
							return false
						}
						continue
					}
				}
				if !k.evalSlow(ev, m) {
					return false
				}
			}
			return true
		}
	case *irOr:
		kids := buildKids(n.kids)
		if !anyMemo(kids) {
			return buildOr(kids)
		}
		return func(ev fields.Event, m *scratch) bool {
			for i := range kids {
				k := &kids[i]
				if k.slot >= 0 {
					if v := m.vals[k.slot]; v>>1 == m.gen {
						if v&1 == 1 {
							return true
						}
						continue
					}
				}
				if k.evalSlow(ev, m) {
					return true
				}
			}
			return false
		}
	case *irType:
		// not reached after specialize; evaluate at run time to be safe
		set, neg := n.set, n.neg
		return func(ev fields.Event, _ *scratch) bool { return set.has(ev.Type()) != neg }
	}
	return func(fields.Event, *scratch) bool { return false }
}

// child is an operand of and/or. A memoised check is tested in the loop
// itself (written out there, as it is too big for the inliner), saving a
// call whenever an earlier rule already evaluated it; evalSlow evaluates and
// records it.
type child struct {
	fn   evalFn
	slot int
}

func (c *child) evalSlow(ev fields.Event, m *scratch) bool {
	r := c.fn(ev, m)
	if c.slot >= 0 {
		v := m.gen << 1
		if r {
			v |= 1
		}
		m.vals[c.slot] = v
	}
	return r
}

func buildKids(ns []ir) []child {
	kids := make([]child, len(ns))
	for i, k := range ns {
		if l, ok := k.(*irLeaf); ok && l.slot >= 0 {
			kids[i] = child{fn: l.fn, slot: l.slot}
		} else {
			kids[i] = child{fn: build(k), slot: -1}
		}
	}
	return kids
}

func anyMemo(kids []child) bool {
	for _, k := range kids {
		if k.slot >= 0 {
			return true
		}
	}
	return false
}

func buildAnd(kids []child) evalFn {
	switch len(kids) {
	case 2:
		a, b := kids[0].fn, kids[1].fn
		return func(ev fields.Event, m *scratch) bool { return a(ev, m) && b(ev, m) }
	case 3:
		a, b, c := kids[0].fn, kids[1].fn, kids[2].fn
		return func(ev fields.Event, m *scratch) bool { return a(ev, m) && b(ev, m) && c(ev, m) }
	}
	fns := make([]evalFn, len(kids))
	for i := range kids {
		fns[i] = kids[i].fn
	}
	return func(ev fields.Event, m *scratch) bool {
		for _, f := range fns {
			if !f(ev, m) {
				return false
			}
		}
		return true
	}
}

func buildOr(kids []child) evalFn {
	switch len(kids) {
	case 2:
		a, b := kids[0].fn, kids[1].fn
		return func(ev fields.Event, m *scratch) bool { return a(ev, m) || b(ev, m) }
	case 3:
		a, b, c := kids[0].fn, kids[1].fn, kids[2].fn
		return func(ev fields.Event, m *scratch) bool { return a(ev, m) || b(ev, m) || c(ev, m) }
	}
	fns := make([]evalFn, len(kids))
	for i := range kids {
		fns[i] = kids[i].fn
	}
	return func(ev fields.Event, m *scratch) bool {
		for _, f := range fns {
			if f(ev, m) {
				return true
			}
		}
		return false
	}
}

// flatten merges nested ands into ands and ors into ors (macros nest them).
func flatten(n ir) ir {
	switch n := n.(type) {
	case *irAnd:
		var out []ir
		for _, k := range n.kids {
			k = flatten(k)
			if a, ok := k.(*irAnd); ok {
				out = append(out, a.kids...)
			} else {
				out = append(out, k)
			}
		}
		return &irAnd{kids: out}
	case *irOr:
		var out []ir
		for _, k := range n.kids {
			k = flatten(k)
			if o, ok := k.(*irOr); ok {
				out = append(out, o.kids...)
			} else {
				out = append(out, k)
			}
		}
		return &irOr{kids: out}
	case *irNot:
		x := flatten(n.x)
		if inner, ok := x.(*irNot); ok {
			return inner.x
		}
		return &irNot{x: x}
	}
	return n
}
