package engine

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/lannerhq/lanner/rules/condition"
	"github.com/lannerhq/lanner/rules/fields"
	"github.com/lannerhq/lanner/rules/loader"
)

// Problem is an error or a warning with its file:line:col position; the
// loader's type, so that load and compile problems print alike.
type Problem = loader.Problem

// condCompiler compiles one condition, collecting every problem in it.
type condCompiler struct {
	reg      *fields.Registry
	types    *fields.EventTypeTable
	problems []Problem
	errors   int
	unknown  int // unknown-field errors (for skip-if-unknown-filter)
}

func (c *condCompiler) errorf(pos condition.Pos, format string, args ...any) {
	c.errors++
	c.problems = append(c.problems, Problem{Pos: pos, Severity: loader.SeverityError, Msg: fmt.Sprintf(format, args...)})
}

func (c *condCompiler) warnf(pos condition.Pos, format string, args ...any) {
	c.problems = append(c.problems, Problem{Pos: pos, Severity: loader.SeverityWarning, Msg: fmt.Sprintf(format, args...)})
}

// expr compiles a boolean expression to the intermediate form. On errors it
// keeps going (returning a constant) so every problem is reported.
func (c *condCompiler) expr(e condition.Expr) ir {
	switch e := e.(type) {
	case *condition.And:
		n := &irAnd{}
		for _, k := range e.Children {
			n.kids = append(n.kids, c.expr(k))
		}
		return n
	case *condition.Or:
		n := &irOr{}
		for _, k := range e.Children {
			n.kids = append(n.kids, c.expr(k))
		}
		return n
	case *condition.Not:
		return &irNot{x: c.expr(e.X)}
	case *condition.Unary:
		src := c.operand(e.Left, false)
		if src == nil {
			return irConst(false)
		}
		if e.Op != condition.OpExists {
			c.errorf(e.Pos, "operator %s needs a value", e.Op)
			return irConst(false)
		}
		return &irLeaf{fn: existsFn(src), key: condition.String(e), slot: -1}
	case *condition.Compare:
		n := c.compare(e)
		if l, ok := n.(*irLeaf); ok {
			l.key, l.slot = condition.String(e), -1
		}
		return n
	case *condition.Identifier:
		c.errorf(e.Pos, "undefined macro %q", e.Name)
		return irConst(false)
	case nil:
		c.errorf(condition.Pos{}, "empty condition")
		return irConst(false)
	}
	c.errorf(e.Position(), "unexpected %T in condition", e)
	return irConst(false)
}

// operand resolves a left side (or the inside of val()).
func (c *condCompiler) operand(o condition.Operand, rhs bool) *source {
	switch o := o.(type) {
	case *condition.Field:
		return c.field(o)
	case *condition.Transform:
		if o.Func == condition.TransformVal {
			if !rhs {
				c.errorf(o.Pos, "val() is only allowed on the right side of a comparison")
				return nil
			}
			return c.operand(o.X, rhs)
		}
		inner := c.operand(o.X, rhs)
		if inner == nil {
			return nil
		}
		if !inner.typ.IsString() {
			c.errorf(o.Pos, "transformer %s does not apply to %s of type %s", o.Func, inner.name, inner.typ)
			return nil
		}
		s := &source{kind: srcXform, typ: fields.TypeString, xf: o.Func, inner: inner, name: o.Func.String() + "(" + inner.name + ")"}
		if o.Func == condition.TransformLen {
			s.typ = fields.TypeUint64
		}
		return s
	case *condition.Join:
		s := &source{kind: srcJoin, typ: fields.TypeString, sep: o.Sep, name: "join"}
		for _, it := range o.Items {
			if it.Literal != nil {
				s.items = append(s.items, joinPart{lit: it.Literal.Text})
				continue
			}
			src := c.operand(it.Operand, rhs)
			if src == nil {
				return nil
			}
			s.items = append(s.items, joinPart{src: src})
		}
		return s
	case nil:
		c.errorf(condition.Pos{}, "missing field")
		return nil
	}
	c.errorf(o.Position(), "unexpected %T as a field", o)
	return nil
}

// field resolves a field reference against the registry.
func (c *condCompiler) field(o *condition.Field) *source {
	f, arg, err := c.reg.Resolve(o.Name, o.Arg, o.HasArg)
	if err != nil {
		if errors.Is(err, fields.ErrUnknownField) {
			c.unknown++
		}
		c.errorf(o.Pos, "%v", err)
		return nil
	}
	return c.fieldSource(f, arg)
}

func (c *condCompiler) fieldSource(f *fields.Field, arg fields.Arg) *source {
	s := &source{kind: srcField, typ: f.Type, field: f, id: f.ID, arg: arg, name: f.Canonical(arg)}
	switch {
	case f.ID == fields.EvtType:
		s.kind = srcEvtType
	case f.ID == fields.EvtDir:
		s.kind = srcEvtDir
	case f.ID == fields.EvtSource:
		s.kind, s.str = srcConst, loader.SyscallSource
	case len(f.AnyOf) > 0:
		s.kind = srcAnyOf
		for _, name := range f.AnyOf {
			g, ok := c.reg.Lookup(name)
			if !ok {
				continue
			}
			s.alts = append(s.alts, &source{kind: srcField, typ: g.Type, field: g, id: g.ID, arg: fields.Arg{Index: -1}, name: g.Name})
		}
	case f.List && !arg.Has:
		s.kind, s.from = srcList, f.ListFrom
	}
	return s
}

func existsFn(src *source) evalFn {
	if src.kind == srcField {
		id, arg := src.id, src.arg
		switch {
		case src.typ.IsString():
			return func(ev fields.Event, _ *scratch) bool { _, ok := ev.Str(id, arg); return ok }
		case src.typ.IsNumeric():
			return func(ev fields.Event, _ *scratch) bool { _, ok := ev.Int(id, arg); return ok }
		case src.typ == fields.TypeBool:
			return func(ev fields.Event, _ *scratch) bool { _, ok := ev.Bool(id, arg); return ok }
		default:
			return func(ev fields.Event, _ *scratch) bool { _, ok := ev.IP(id, arg); return ok }
		}
	}
	return func(ev fields.Event, _ *scratch) bool { return src.exists(ev) }
}

// values extracts the right side's literal values, the list for list
// operators and quantifiers, a single one otherwise.
func (c *condCompiler) values(e *condition.Compare) ([]*condition.Literal, bool) {
	switch v := e.Right.(type) {
	case *condition.Literal:
		return []*condition.Literal{v}, true
	case *condition.List:
		if !e.Op.IsListOp() && e.Quant == condition.QuantNone {
			c.errorf(v.Pos, "operator %s takes a single value, not a list", e.Op)
			return nil, false
		}
		return v.Items, true
	case nil:
		c.errorf(e.Pos, "operator %s needs a value", e.Op)
		return nil, false
	}
	c.errorf(e.Right.Position(), "unexpected %T as a value", e.Right)
	return nil, false
}

func (c *condCompiler) compare(e *condition.Compare) ir {
	src := c.operand(e.Left, false)
	if ov, ok := e.Right.(*condition.OperandValue); ok {
		rsrc := c.operand(ov.X, true)
		if src == nil || rsrc == nil {
			return irConst(false)
		}
		return c.compareOperands(e, src, rsrc)
	}
	lits, ok := c.values(e)
	if src == nil || !ok {
		return irConst(false)
	}
	if e.Op == condition.OpExists {
		return &irLeaf{fn: existsFn(src)}
	}
	// evt.type =, != and in become symbolic: they select rule buckets.
	if src.kind == srcEvtType && e.Quant == condition.QuantNone &&
		(e.Op == condition.OpEq || e.Op == condition.OpNe || e.Op == condition.OpIn) {
		n := &irType{neg: e.Op == condition.OpNe}
		for _, l := range lits {
			t, ok := c.types.Lookup(l.Text)
			if !ok {
				c.warnf(l.Pos, "unknown event type %q never matches", l.Text)
				continue
			}
			n.set.add(t)
		}
		return n
	}
	if e.Op.IsListOp() && e.Quant != condition.QuantNone {
		c.errorf(e.Pos, "operator %s cannot take a quantifier", e.Op)
		return irConst(false)
	}
	switch {
	case src.typ.IsString():
		return c.strCompare(e, src, lits)
	case src.typ.IsNumeric():
		return c.intCompare(e, src, lits)
	case src.typ == fields.TypeBool:
		return c.boolCompare(e, src, lits)
	case src.typ == fields.TypeIPAddr || src.typ == fields.TypeIPNet:
		return c.ipCompare(e, src, lits)
	}
	c.errorf(e.Pos, "field %s of type %s cannot be compared", src.name, src.typ)
	return irConst(false)
}

func (c *condCompiler) badOp(e *condition.Compare, src *source) ir {
	c.errorf(e.Pos, "operator %s is not supported on field %s of type %s", e.Op, src.name, src.typ)
	return irConst(false)
}

// quantified combines per-value predicates for `op oneof/anyof/allof (...)`.
func quantified[T any](q condition.Quant, preds []func(T) bool) func(T) bool {
	if q == condition.QuantAllOf {
		return func(v T) bool {
			for _, p := range preds {
				if !p(v) {
					return false
				}
			}
			return true
		}
	}
	if len(preds) == 1 {
		return preds[0]
	}
	return func(v T) bool {
		for _, p := range preds {
			if p(v) {
				return true
			}
		}
		return false
	}
}

// ---- strings ----

func (c *condCompiler) strCompare(e *condition.Compare, src *source, lits []*condition.Literal) ir {
	texts := make([]string, len(lits))
	for i, l := range lits {
		texts[i] = l.Text
	}
	switch e.Op {
	case condition.OpIn, condition.OpIntersects:
		set := newStrSet(texts)
		if src.kind == srcList && src.from == 0 && e.Op == condition.OpIn {
			// a true list field: every value must be in the set
			return &irLeaf{fn: allStrFn(src, set.has)}
		}
		if src.kind == srcField {
			id, arg := src.id, src.arg
			return &irLeaf{fn: func(ev fields.Event, _ *scratch) bool {
				v, ok := ev.Str(id, arg)
				return ok && set.has(v)
			}}
		}
		return &irLeaf{fn: anyStrFn(src, set.has)}
	case condition.OpPmatch:
		ps := newPathSet(texts)
		return &irLeaf{fn: anyStrFn(src, ps.match)}
	}
	if e.Quant == condition.QuantNone && len(lits) != 1 {
		c.errorf(e.Pos, "operator %s takes a single value", e.Op)
		return irConst(false)
	}
	preds := make([]func(string) bool, 0, len(lits))
	for _, l := range lits {
		p := c.strPred(e.Op, l)
		if p == nil {
			return irConst(false)
		}
		preds = append(preds, p)
	}
	pred := quantified(e.Quant, preds)
	if src.kind == srcField && e.Quant == condition.QuantNone {
		if fn := fastStrLeaf(e.Op, src, lits[0].Text); fn != nil {
			return &irLeaf{fn: fn}
		}
		id, arg := src.id, src.arg
		return &irLeaf{fn: func(ev fields.Event, _ *scratch) bool {
			v, ok := ev.Str(id, arg)
			return ok && pred(v)
		}}
	}
	return &irLeaf{fn: anyStrFn(src, pred)}
}

// fastStrLeaf inlines the most common operators on a plain field, saving a
// call per check on the hot path.
func fastStrLeaf(op condition.Op, src *source, want string) evalFn {
	id, arg := src.id, src.arg
	switch op {
	case condition.OpEq:
		return func(ev fields.Event, _ *scratch) bool { v, ok := ev.Str(id, arg); return ok && v == want }
	case condition.OpNe:
		return func(ev fields.Event, _ *scratch) bool { v, ok := ev.Str(id, arg); return ok && v != want }
	case condition.OpStartsWith:
		return func(ev fields.Event, _ *scratch) bool {
			v, ok := ev.Str(id, arg)
			return ok && strings.HasPrefix(v, want)
		}
	case condition.OpEndsWith:
		return func(ev fields.Event, _ *scratch) bool {
			v, ok := ev.Str(id, arg)
			return ok && strings.HasSuffix(v, want)
		}
	case condition.OpContains:
		return func(ev fields.Event, _ *scratch) bool {
			v, ok := ev.Str(id, arg)
			return ok && strings.Contains(v, want)
		}
	}
	return nil
}

func anyStrFn(src *source, pred func(string) bool) evalFn {
	return func(ev fields.Event, _ *scratch) bool {
		for k := 0; k < maxValues; k++ {
			v, ok, more := src.strAt(ev, k)
			if ok && pred(v) {
				return true
			}
			if !more {
				return false
			}
		}
		return false
	}
}

func allStrFn(src *source, pred func(string) bool) evalFn {
	return func(ev fields.Event, _ *scratch) bool {
		seen := false
		for k := 0; k < maxValues; k++ {
			v, ok, more := src.strAt(ev, k)
			if ok {
				if !pred(v) {
					return false
				}
				seen = true
			}
			if !more {
				break
			}
		}
		return seen
	}
}

// strPred compiles one string operator against a literal.
func (c *condCompiler) strPred(op condition.Op, l *condition.Literal) func(string) bool {
	want := l.Text
	switch op {
	case condition.OpEq:
		return func(v string) bool { return v == want }
	case condition.OpNe:
		return func(v string) bool { return v != want }
	case condition.OpLt:
		return func(v string) bool { return v < want }
	case condition.OpLe:
		return func(v string) bool { return v <= want }
	case condition.OpGt:
		return func(v string) bool { return v > want }
	case condition.OpGe:
		return func(v string) bool { return v >= want }
	case condition.OpContains:
		return func(v string) bool { return strings.Contains(v, want) }
	case condition.OpIContains:
		low := strings.ToLower(want)
		return func(v string) bool { return containsFold(v, low) }
	case condition.OpStartsWith:
		return func(v string) bool { return strings.HasPrefix(v, want) }
	case condition.OpEndsWith:
		return func(v string) bool { return strings.HasSuffix(v, want) }
	case condition.OpBContains, condition.OpBStartsWith:
		b, err := hex.DecodeString(want)
		if err != nil {
			c.errorf(l.Pos, "operator %s needs a hex byte string, got %q", op, want)
			return nil
		}
		if op == condition.OpBContains {
			return func(v string) bool { return strings.Contains(v, string(b)) }
		}
		return func(v string) bool { return strings.HasPrefix(v, string(b)) }
	case condition.OpGlob:
		return func(v string) bool { return globMatch(want, v, false) }
	case condition.OpIGlob:
		low := strings.ToLower(want)
		return func(v string) bool { return globMatch(low, v, true) }
	case condition.OpRegex:
		re, err := regexp.Compile(`^(?:` + want + `)$`)
		if err != nil {
			c.errorf(l.Pos, "bad regular expression %q: %v", want, err)
			return nil
		}
		return re.MatchString
	}
	c.errorf(l.Pos, "operator %s is not supported on strings", op)
	return nil
}

// ---- numbers ----

func (c *condCompiler) parseInt(src *source, l *condition.Literal) (int64, bool) {
	s := strings.TrimSpace(l.Text)
	if src.typ.IsUnsigned() {
		u, err := strconv.ParseUint(s, 0, 64)
		if err == nil {
			return int64(u), true
		}
	}
	i, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		c.errorf(l.Pos, "field %s of type %s needs a number, got %q", src.name, src.typ, l.Text)
		return 0, false
	}
	return i, true
}

func (c *condCompiler) intCompare(e *condition.Compare, src *source, lits []*condition.Literal) ir {
	nums := make([]int64, 0, len(lits))
	for _, l := range lits {
		n, ok := c.parseInt(src, l)
		if !ok {
			return irConst(false)
		}
		nums = append(nums, n)
	}
	var pred func(int64) bool
	unsigned := src.typ.IsUnsigned()
	switch e.Op {
	case condition.OpIn, condition.OpIntersects:
		set := make(map[int64]struct{}, len(nums))
		for _, n := range nums {
			set[n] = struct{}{}
		}
		if len(nums) <= 4 {
			pred = func(v int64) bool {
				for _, n := range nums {
					if v == n {
						return true
					}
				}
				return false
			}
		} else {
			pred = func(v int64) bool { _, ok := set[v]; return ok }
		}
	case condition.OpEq, condition.OpNe, condition.OpLt, condition.OpLe, condition.OpGt, condition.OpGe:
		if e.Quant == condition.QuantNone && len(nums) != 1 {
			c.errorf(e.Pos, "operator %s takes a single value", e.Op)
			return irConst(false)
		}
		preds := make([]func(int64) bool, len(nums))
		for i, n := range nums {
			preds[i] = intPred(e.Op, n, unsigned)
		}
		pred = quantified(e.Quant, preds)
	default:
		return c.badOp(e, src)
	}
	if src.kind == srcField {
		id, arg := src.id, src.arg
		return &irLeaf{fn: func(ev fields.Event, _ *scratch) bool {
			v, ok := ev.Int(id, arg)
			return ok && pred(v)
		}}
	}
	return &irLeaf{fn: func(ev fields.Event, _ *scratch) bool {
		for k := 0; k < maxValues; k++ {
			v, ok, more := src.intAt(ev, k)
			if ok && pred(v) {
				return true
			}
			if !more {
				return false
			}
		}
		return false
	}}
}

func intPred(op condition.Op, n int64, unsigned bool) func(int64) bool {
	if unsigned {
		u := uint64(n)
		switch op {
		case condition.OpLt:
			return func(v int64) bool { return uint64(v) < u }
		case condition.OpLe:
			return func(v int64) bool { return uint64(v) <= u }
		case condition.OpGt:
			return func(v int64) bool { return uint64(v) > u }
		case condition.OpGe:
			return func(v int64) bool { return uint64(v) >= u }
		}
	}
	switch op {
	case condition.OpEq:
		return func(v int64) bool { return v == n }
	case condition.OpNe:
		return func(v int64) bool { return v != n }
	case condition.OpLt:
		return func(v int64) bool { return v < n }
	case condition.OpLe:
		return func(v int64) bool { return v <= n }
	case condition.OpGt:
		return func(v int64) bool { return v > n }
	}
	return func(v int64) bool { return v >= n }
}

// ---- booleans ----

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

func (c *condCompiler) boolCompare(e *condition.Compare, src *source, lits []*condition.Literal) ir {
	var wantT, wantF bool // which values satisfy the check
	switch e.Op {
	case condition.OpEq, condition.OpNe, condition.OpIn, condition.OpIntersects:
	default:
		return c.badOp(e, src)
	}
	if !e.Op.IsListOp() && e.Quant == condition.QuantNone && len(lits) != 1 {
		c.errorf(e.Pos, "operator %s takes a single value", e.Op)
		return irConst(false)
	}
	for i, l := range lits {
		b, ok := parseBool(l.Text)
		if !ok {
			c.errorf(l.Pos, "field %s of type BOOL needs true or false, got %q", src.name, l.Text)
			return irConst(false)
		}
		t, f := b, !b
		if e.Op == condition.OpNe {
			t, f = !b, b
		}
		if e.Quant == condition.QuantAllOf && i > 0 {
			wantT, wantF = wantT && t, wantF && f
		} else {
			wantT, wantF = wantT || t, wantF || f
		}
	}
	return &irLeaf{fn: func(ev fields.Event, _ *scratch) bool {
		for k := 0; k < maxValues; k++ {
			v, ok, more := src.boolAt(ev, k)
			if ok && ((v && wantT) || (!v && wantF)) {
				return true
			}
			if !more {
				return false
			}
		}
		return false
	}}
}

// ---- IP addresses and networks ----

func parseNet(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

func (c *condCompiler) ipCompare(e *condition.Compare, src *source, lits []*condition.Literal) ir {
	switch e.Op {
	case condition.OpEq, condition.OpNe, condition.OpIn, condition.OpIntersects:
	default:
		return c.badOp(e, src)
	}
	if !e.Op.IsListOp() && e.Quant == condition.QuantNone && len(lits) != 1 {
		c.errorf(e.Pos, "operator %s takes a single value", e.Op)
		return irConst(false)
	}
	nets := make([]netip.Prefix, 0, len(lits))
	for _, l := range lits {
		p, ok := parseNet(l.Text)
		if !ok || (src.typ == fields.TypeIPAddr && p.Bits() != p.Addr().BitLen() && e.Op != condition.OpIn) {
			want := "an IP address"
			if src.typ == fields.TypeIPNet {
				want = "an IP address or network"
			}
			c.errorf(l.Pos, "field %s of type %s needs %s, got %q", src.name, src.typ, want, l.Text)
			return irConst(false)
		}
		nets = append(nets, p)
	}
	in := func(v netip.Addr) bool {
		v = v.Unmap()
		for _, p := range nets {
			if p.Contains(v) {
				return true
			}
		}
		return false
	}
	pred := in
	if e.Op == condition.OpNe {
		pred = func(v netip.Addr) bool { return !in(v) }
	}
	if e.Quant == condition.QuantAllOf {
		all := nets
		pred = func(v netip.Addr) bool {
			v = v.Unmap()
			for _, p := range all {
				if p.Contains(v) == (e.Op == condition.OpNe) {
					return false
				}
			}
			return true
		}
	}
	return &irLeaf{fn: func(ev fields.Event, _ *scratch) bool {
		for k := 0; k < maxValues; k++ {
			v, ok, more := src.ipAt(ev, k)
			if ok && pred(v) {
				return true
			}
			if !more {
				return false
			}
		}
		return false
	}}
}

// ---- field against field: val(f) and transformers on the right ----

func (c *condCompiler) compareOperands(e *condition.Compare, l, r *source) ir {
	if e.Quant != condition.QuantNone || e.Op.IsListOp() {
		op := e.Op.String()
		if e.Quant != condition.QuantNone {
			op += " " + e.Quant.String()
		}
		c.errorf(e.Pos, "operator %s cannot take a field on its right", op)
		return irConst(false)
	}
	switch {
	case l.typ.IsString() && r.typ.IsString():
		var cmp func(a, b string) bool
		switch e.Op {
		case condition.OpEq:
			cmp = func(a, b string) bool { return a == b }
		case condition.OpNe:
			cmp = func(a, b string) bool { return a != b }
		case condition.OpLt:
			cmp = func(a, b string) bool { return a < b }
		case condition.OpLe:
			cmp = func(a, b string) bool { return a <= b }
		case condition.OpGt:
			cmp = func(a, b string) bool { return a > b }
		case condition.OpGe:
			cmp = func(a, b string) bool { return a >= b }
		case condition.OpContains, condition.OpBContains:
			cmp = strings.Contains
		case condition.OpIContains:
			cmp = func(a, b string) bool { return containsFold(a, strings.ToLower(b)) }
		case condition.OpStartsWith, condition.OpBStartsWith:
			cmp = strings.HasPrefix
		case condition.OpEndsWith:
			cmp = strings.HasSuffix
		case condition.OpGlob:
			cmp = func(a, b string) bool { return globMatch(b, a, false) }
		default:
			return c.badOp(e, l)
		}
		return &irLeaf{fn: func(ev fields.Event, _ *scratch) bool {
			b, ok := r.firstString(ev)
			if !ok {
				return false
			}
			for k := 0; k < maxValues; k++ {
				a, ok, more := l.strAt(ev, k)
				if ok && cmp(a, b) {
					return true
				}
				if !more {
					return false
				}
			}
			return false
		}}
	case l.typ.IsNumeric() && r.typ.IsNumeric():
		switch e.Op {
		case condition.OpEq, condition.OpNe, condition.OpLt, condition.OpLe, condition.OpGt, condition.OpGe:
		default:
			return c.badOp(e, l)
		}
		op, unsigned := e.Op, l.typ.IsUnsigned()
		return &irLeaf{fn: func(ev fields.Event, _ *scratch) bool {
			b, ok, _ := r.intAt(ev, 0)
			if !ok {
				return false
			}
			a, ok, _ := l.intAt(ev, 0)
			return ok && cmpInt(op, a, b, unsigned)
		}}
	case l.typ == r.typ && (l.typ == fields.TypeBool || l.typ == fields.TypeIPAddr):
		if e.Op != condition.OpEq && e.Op != condition.OpNe {
			return c.badOp(e, l)
		}
		eq := e.Op == condition.OpEq
		return &irLeaf{fn: func(ev fields.Event, _ *scratch) bool {
			a, ok1 := l.firstString(ev)
			b, ok2 := r.firstString(ev)
			return ok1 && ok2 && (a == b) == eq
		}}
	}
	c.errorf(e.Pos, "cannot compare %s (%s) with %s (%s)", l.name, l.typ, r.name, r.typ)
	return irConst(false)
}

func cmpInt(op condition.Op, a, b int64, unsigned bool) bool {
	if unsigned {
		ua, ub := uint64(a), uint64(b)
		switch op {
		case condition.OpLt:
			return ua < ub
		case condition.OpLe:
			return ua <= ub
		case condition.OpGt:
			return ua > ub
		case condition.OpGe:
			return ua >= ub
		}
	}
	switch op {
	case condition.OpEq:
		return a == b
	case condition.OpNe:
		return a != b
	case condition.OpLt:
		return a < b
	case condition.OpLe:
		return a <= b
	case condition.OpGt:
		return a > b
	}
	return a >= b
}
