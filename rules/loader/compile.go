package loader

import (
	"errors"
	"math"
	"strings"

	"github.com/lannerhq/lanner/rules/condition"
)

// maxListItems bounds a list after expansion: lists of lists can otherwise
// grow exponentially.
const maxListItems = 1 << 20

// resolver expands macros and lists once everything has been read. As in
// Falco, conditions see the final definition of every list and macro; a
// macro sees only macros defined before it (by definition order), which also
// rules out cycles among correct files (a cycle is still detected).
type resolver struct {
	c *collector

	lists     map[string][]*condition.Literal
	listState map[string]uint8 // 1: expanding, 2: done

	parsed     map[string]condition.Expr // macro name → parsed tree (nil: syntax error)
	macroState map[string]uint8          // 1: resolving, 2: done
	macroOK    map[string]bool
}

func (c *collector) compile() *Ruleset {
	rs := &Ruleset{RequiredEngineVersion: c.engineVersionStr, RequiredPlugins: c.plugins}
	r := &resolver{
		c:          c,
		lists:      make(map[string][]*condition.Literal, len(c.lists)),
		listState:  make(map[string]uint8, len(c.lists)),
		parsed:     make(map[string]condition.Expr, len(c.macros)),
		macroState: make(map[string]uint8, len(c.macros)),
		macroOK:    make(map[string]bool, len(c.macros)),
	}
	for _, m := range c.macroOrder {
		r.parsed[m.name] = r.parse(m.cond, "macro '"+m.name+"'")
	}
	// Resolve every macro, used or not, so that all their errors are reported.
	for _, m := range c.macroOrder {
		r.macro(m.name, m.pos, math.MaxInt)
	}
	for _, rd := range c.ruleOrder {
		if rd.source != SyscallSource {
			if rd.broken {
				continue
			}
			c.warnf(rd.pos, "rule '%s': unknown source '%s', skipping (Lanner evaluates the %s source)", rd.name, rd.source, SyscallSource)
			continue
		}
		// A broken rule is still resolved, to report its condition's
		// problems too, but it is left out of the ruleset.
		if rd.broken && rd.cond.s == "" {
			continue // the missing or empty condition is already reported
		}
		rule := r.rule(rd)
		if rule != nil && !rd.broken {
			rs.Rules = append(rs.Rules, rule)
		}
	}
	return rs
}

// parse parses a condition text and maps its positions into the files.
func (r *resolver) parse(t text, what string) condition.Expr {
	e, err := condition.Parse(t.s)
	if err != nil {
		var se *condition.SyntaxError
		if errors.As(err, &se) {
			r.c.errorf(t.m.Pos(se.Pos.Offset), "%s: syntax error: %s", what, se.Msg)
		} else {
			r.c.errorf(t.m.Pos(0), "%s: %v", what, err)
		}
		return nil
	}
	m := &t.m
	condition.Rewrite(e, func(p condition.Pos) condition.Pos { return m.Pos(p.Offset) })
	return e
}

// list returns the items of a list with list references expanded.
func (r *resolver) list(name string, at condition.Pos) ([]*condition.Literal, bool) {
	switch r.listState[name] {
	case 2:
		return r.lists[name], true
	case 1:
		r.c.errorf(at, "list '%s' refers to itself", name)
		return nil, false
	}
	l := r.c.lists[name]
	r.listState[name] = 1
	out := make([]*condition.Literal, 0, len(l.items))
	ok := true
	for _, it := range l.items {
		if !it.Quoted {
			// Falco expands earlier lists when compiling lists and later ones
			// when it pastes lists into conditions in definition order, so
			// in effect every reference expands, whatever the order.
			if ref := r.c.lists[it.Text]; ref != nil && ref.name != name {
				items, good := r.list(ref.name, it.Pos)
				ok = ok && good
				out = append(out, items...)
				continue
			}
		}
		out = append(out, it)
	}
	if len(out) > maxListItems {
		r.c.errorf(l.pos, "list '%s' expands to more than %d items", name, maxListItems)
		out, ok = out[:0], false
	}
	r.lists[name] = out
	r.listState[name] = 2
	return out, ok
}

// macro returns the resolved tree of a macro referenced at `at` by something
// that sees macros defined before definition number vis.
func (r *resolver) macro(name string, at condition.Pos, vis int) (condition.Expr, bool) {
	m := r.c.macros[name]
	if m == nil || m.index >= vis {
		if r.c.lists[name] != nil {
			r.c.errorf(at, "'%s' is a list, not a macro: use it inside a list, e.g. (%s)", name, name)
		} else {
			r.c.errorf(at, "undefined macro '%s' used in filter", name)
		}
		return nil, false
	}
	switch r.macroState[name] {
	case 2:
		return r.parsed[name], r.macroOK[name]
	case 1:
		r.c.errorf(at, "macro '%s' refers to itself", name)
		return nil, false
	}
	r.macroState[name] = 1
	e := r.parsed[name]
	ok := e != nil
	if ok {
		e, ok = r.resolve(e, m.vis)
		r.parsed[name] = e
	}
	r.macroState[name] = 2
	r.macroOK[name] = ok
	return e, ok
}

// resolveAll resolves each child in place; false if any failed.
func (r *resolver) resolveAll(children []condition.Expr, vis int) bool {
	ok := true
	for i, ch := range children {
		x, good := r.resolve(ch, vis)
		children[i] = x
		ok = ok && good
	}
	return ok
}

// resolve replaces macro references and list names in e, in place where it
// can. Expanded subtrees are shared, not copied.
func (r *resolver) resolve(e condition.Expr, vis int) (condition.Expr, bool) {
	switch n := e.(type) {
	case *condition.Identifier:
		return r.macro(n.Name, n.Pos, vis)
	case *condition.And:
		return n, r.resolveAll(n.Children, vis)
	case *condition.Or:
		return n, r.resolveAll(n.Children, vis)
	case *condition.Not:
		x, ok := r.resolve(n.X, vis)
		n.X = x
		return n, ok
	case *condition.Compare:
		return n, r.resolveValue(n)
	}
	return e, true
}

func (r *resolver) resolveValue(n *condition.Compare) bool {
	switch v := n.Right.(type) {
	case *condition.List:
		items, ok := r.expandItems(v.Items)
		v.Items = items
		return ok
	case *condition.Literal:
		if v.Quoted {
			return true
		}
		l := r.c.lists[v.Text]
		if n.Op.IsListOp() || n.Quant != condition.QuantNone {
			if l == nil {
				r.c.errorf(v.Pos, "unknown list '%s'", v.Text)
				return false
			}
			items, ok := r.list(v.Text, v.Pos)
			n.Right = &condition.List{Pos: v.Pos, Items: items}
			return ok
		}
		if l != nil {
			// Falco pastes list items over list names in the condition text,
			// so a list name used as a single value means its only item.
			items, ok := r.list(v.Text, v.Pos)
			if !ok {
				return false
			}
			if len(items) != 1 {
				r.c.errorf(v.Pos, "list '%s' (%d items) used as a single value", v.Text, len(items))
				return false
			}
			n.Right = items[0]
		}
	}
	return true
}

func (r *resolver) expandItems(items []*condition.Literal) ([]*condition.Literal, bool) {
	// Fast path: no list references.
	refs := false
	for _, it := range items {
		if !it.Quoted && r.c.lists[it.Text] != nil {
			refs = true
			break
		}
	}
	if !refs {
		return items, true
	}
	out := make([]*condition.Literal, 0, len(items))
	ok := true
	for _, it := range items {
		if !it.Quoted && r.c.lists[it.Text] != nil {
			l, good := r.list(it.Text, it.Pos)
			ok = ok && good
			out = append(out, l...)
			continue
		}
		out = append(out, it)
	}
	return out, ok
}

func (r *resolver) rule(rd *ruleDef) *Rule {
	what := "rule '" + rd.name + "'"
	cond := r.parse(rd.cond, what)
	if cond == nil {
		return nil
	}
	cond, ok := r.resolve(cond, math.MaxInt)
	if !ok {
		return nil
	}
	var exFields []string
	if len(rd.exceptions) > 0 {
		and := &condition.And{Pos: cond.Position(), Children: []condition.Expr{cond}}
		for _, ex := range rd.exceptions {
			x, fields, good := r.exception(rd, ex)
			ok = ok && good
			exFields = append(exFields, fields...)
			if x != nil {
				and.Children = append(and.Children, &condition.Not{Pos: ex.pos, X: x})
			}
		}
		if !ok {
			return nil
		}
		if len(and.Children) > 1 {
			cond = and
		}
	}
	om := rd.output.m
	return &Rule{
		Name:                rd.name,
		Description:         rd.desc.s,
		Priority:            rd.priority,
		Tags:                sortedUnique(rd.tags),
		Source:              rd.source,
		Enabled:             rd.enabled,
		Output:              rd.output.s,
		OutputMap:           &om,
		Condition:           cond,
		ExceptionFields:     sortedUnique(exFields),
		WarnEvttypes:        rd.warnEvt,
		SkipIfUnknownFilter: rd.skipUnknown,
		Pos:                 rd.pos,
	}
}

// piecewise builds a condition text from pieces, remembering which file
// position each piece stands for.
type piecewise struct {
	b      strings.Builder
	starts []int
	pos    []condition.Pos
}

func (p *piecewise) add(s string, at condition.Pos) {
	p.starts = append(p.starts, p.b.Len())
	p.pos = append(p.pos, at)
	p.b.WriteString(s)
}

func (p *piecewise) at(off int) condition.Pos {
	i := len(p.starts) - 1
	for i > 0 && p.starts[i] > off {
		i--
	}
	return p.pos[i]
}

// quoteItem and parenItem reproduce Falco's textual building of exception
// conditions, quirks included (no escaping of embedded quotes).
func quoteItem(s string) string {
	if strings.Contains(s, " ") && s[0] != '"' && s[0] != '\'' {
		return `"` + s + `"`
	}
	return s
}

func parenItem(s string) string {
	if s == "" || s[0] != '(' {
		return "(" + s + ")"
	}
	return s
}

// exception builds the tree of one exception, the way Falco builds its text:
// one field: `(f comp (v1, v2))`; fields list: `((f1 c1 v1 and f2 c2 v2) or ...)`.
func (r *resolver) exception(rd *ruleDef, ex *exceptionDef) (condition.Expr, []string, bool) {
	var p piecewise
	var fields []string
	if !ex.fields.isList {
		fields = append(fields, ex.fields.item)
		if len(ex.values) == 0 {
			return nil, fields, true
		}
		p.add("("+ex.fields.item+" "+ex.comps.item+" (", ex.fields.pos)
		for i, v := range ex.values {
			if i > 0 {
				p.add(", ", v.pos)
			}
			p.add(quoteItem(v.item), v.pos)
		}
		p.add("))", ex.pos)
	} else {
		for _, f := range ex.fields.items {
			fields = append(fields, f.item)
		}
		if len(ex.values) == 0 {
			return nil, fields, true
		}
		p.add("(", ex.pos)
		for i, vals := range ex.values {
			if i > 0 {
				p.add(" or ", vals.pos)
			}
			p.add("(", vals.pos)
			for k, f := range ex.fields.items {
				if k > 0 {
					p.add(" and ", vals.pos)
				}
				comp := ex.comps.items[k].item
				p.add(" "+f.item+" "+comp+" ", f.pos)
				v := vals.items[k]
				if v.isList {
					var sb strings.Builder
					sb.WriteString("(")
					for j, x := range v.items {
						if j > 0 {
							sb.WriteString(", ")
						}
						sb.WriteString(quoteItem(x.item))
					}
					sb.WriteString(")")
					p.add(sb.String(), v.pos)
				} else if condition.ParseOp(comp).IsListOp() {
					p.add(parenItem(v.item), v.pos)
				} else {
					p.add(quoteItem(v.item), v.pos)
				}
			}
			p.add(")", vals.pos)
		}
		p.add(")", ex.pos)
	}
	src := p.b.String()
	e, err := condition.Parse(src)
	if err != nil {
		var se *condition.SyntaxError
		msg := err.Error()
		at := ex.pos
		if errors.As(err, &se) {
			msg, at = se.Msg, p.at(se.Pos.Offset)
		}
		r.c.errorf(at, "rule '%s': exception '%s': %s (in %q)", rd.name, ex.name, msg, src)
		return nil, fields, false
	}
	condition.Rewrite(e, func(q condition.Pos) condition.Pos { return p.at(q.Offset) })
	e, ok := r.resolve(e, math.MaxInt)
	return e, fields, ok
}
