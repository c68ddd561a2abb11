// Package engine compiles a loaded Falco ruleset into evaluators and runs
// them on events: conditions become closures (no syntax-tree walking per
// event), rules are indexed by event type and specialised per type, and an
// evaluation allocates nothing.
package engine

import (
	"fmt"
	"sort"
	"sync"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/rules/condition"
	"github.com/lannerhq/lanner/rules/fields"
	"github.com/lannerhq/lanner/rules/loader"
)

// Options tune Compile.
type Options struct {
	// Registry resolves field names; nil means the builtin fields.
	Registry *fields.Registry
	// MinPriority drops rules less severe than it, like Falco's `priority`
	// setting. The zero value keeps every rule.
	MinPriority alert.Priority
}

// Rule is a compiled rule.
type Rule struct {
	Name        string
	Description string
	Priority    alert.Priority
	Tags        []string
	Source      string
	// Output is the rule's output format string.
	Output string
	// EventTypes are the event types the rule can match (all of them for a
	// rule whose condition does not constrain evt.type).
	EventTypes []fields.EventType
	// Index is the rule's position in load order (first-match order).
	Index int

	out *outputFormat
}

type entry struct {
	rule *Rule
	// guards are the condition's leading checks shared with other rules,
	// tested inline against the per-event memo; fn is the rest (nil: none).
	guards []child
	fn     evalFn
}

// knownFalse reports, without a call, that the entry's first guard already
// failed for this event (rules sharing a macro skip in a row).
func (en *entry) knownFalse(m *scratch) bool {
	return len(en.guards) > 0 && m.vals[en.guards[0].slot] == m.gen<<1
}

// match evaluates the entry's condition.
func (en *entry) match(ev fields.Event, m *scratch) bool {
	for i := range en.guards {
		g := &en.guards[i] // guards always have a memo slot
		if v := m.vals[g.slot]; v>>1 == m.gen {
			if v&1 == 0 {
				return false
			}
			continue
		}
		if !g.evalSlow(ev, m) {
			return false
		}
	}
	return en.fn == nil || en.fn(ev, m)
}

// Engine evaluates compiled rules. It is immutable after Compile and safe
// for concurrent use.
type Engine struct {
	reg     *fields.Registry
	rules   []*Rule
	buckets [fields.NumEventTypes][]entry
	types   typeSet
	nslots  int       // memo slots for checks shared between rules
	pool    sync.Pool // *Evaluator, for the Engine's own Eval methods
}

// pending is a rule compiled to the intermediate form, awaiting indexing.
type pending struct {
	rule *Rule
	n    ir
	set  typeSet
}

// Compile compiles the enabled rules of rs. It reports every problem found
// (unknown fields, operators that do not apply to a field's type, bad values
// and regular expressions, bad output fields) with its position; rules with
// errors are left out of the engine. Warnings (a rule matching every event
// type, an unknown event type name) do not stop a rule.
func Compile(rs *loader.Ruleset, opts Options) (*Engine, []Problem) {
	reg := opts.Registry
	if reg == nil {
		reg = fields.NewRegistry()
	}
	e := &Engine{reg: reg}
	types := fields.NewEventTypeTable()
	var problems []Problem
	var todo []pending
	if rs == nil {
		return e, nil
	}
	for _, lr := range rs.Rules {
		cc := &condCompiler{reg: reg, types: types}
		n := cc.expr(lr.Condition)
		out := compileOutput(cc, lr.Output, lr.OutputMap, lr.Pos)
		if cc.errors > 0 {
			if lr.SkipIfUnknownFilter && cc.unknown == cc.errors {
				for _, p := range cc.problems {
					p.Severity = loader.SeverityWarning
					problems = append(problems, p)
				}
				problems = append(problems, Problem{Pos: lr.Pos, Severity: loader.SeverityWarning,
					Msg: fmt.Sprintf("rule %q skipped: it uses unknown fields and has skip-if-unknown-filter", lr.Name)})
				continue
			}
			problems = append(problems, cc.problems...)
			continue
		}
		problems = append(problems, cc.problems...)
		n = flatten(n)
		set := evtTypes(n, false)
		if lr.WarnEvttypes {
			switch {
			case set == allTypes():
				problems = append(problems, Problem{Pos: lr.Pos, Severity: loader.SeverityWarning,
					Msg: fmt.Sprintf("rule %q matches too many evt.type values (no evt.type restriction); this has a significant performance penalty", lr.Name)})
			case set.count() == 0:
				problems = append(problems, Problem{Pos: lr.Pos, Severity: loader.SeverityWarning,
					Msg: fmt.Sprintf("rule %q matches no event type", lr.Name)})
			}
		}
		if !lr.Enabled || lr.Priority < opts.MinPriority {
			continue
		}
		r := &Rule{
			Name: lr.Name, Description: lr.Description, Priority: lr.Priority,
			Tags: lr.Tags, Source: lr.Source, Output: lr.Output,
			Index: len(e.rules), out: out,
		}
		if r.Source == "" {
			r.Source = loader.SyscallSource
		}
		todo = append(todo, pending{rule: r, n: n, set: set})
		e.rules = append(e.rules, r)
	}
	e.assignSlots(todo)
	for _, p := range todo {
		e.index(p.rule, p.n, p.set)
	}
	return e, problems
}

// assignSlots gives a memo slot to every check that appears in more than one
// rule, so an event evaluates it once however many rules share it.
func (e *Engine) assignSlots(todo []pending) {
	rulesWith := map[string]int{}
	for _, p := range todo {
		seen := map[string]bool{}
		walkLeaves(p.n, func(l *irLeaf) {
			if !seen[l.key] {
				seen[l.key] = true
				rulesWith[l.key]++
			}
		})
	}
	slots := map[string]int{}
	for _, p := range todo {
		walkLeaves(p.n, func(l *irLeaf) {
			if rulesWith[l.key] < 2 {
				return
			}
			s, ok := slots[l.key]
			if !ok {
				s = len(slots)
				slots[l.key] = s
			}
			l.slot = s
		})
	}
	e.nslots = len(slots)
}

func walkLeaves(n ir, f func(*irLeaf)) {
	switch n := n.(type) {
	case *irLeaf:
		f(n)
	case *irNot:
		walkLeaves(n.x, f)
	case *irAnd:
		for _, k := range n.kids {
			walkLeaves(k, f)
		}
	case *irOr:
		for _, k := range n.kids {
			walkLeaves(k, f)
		}
	}
}

// index specialises the rule's condition for each event type it can match
// and adds it to those buckets.
func (e *Engine) index(r *Rule, n ir, set typeSet) {
	type tmpl struct {
		skip bool
		en   entry
	}
	cache := map[string]tmpl{}
	var key []byte
	for _, t := range set.types() {
		key = typeKey(n, t, key[:0])
		tp, ok := cache[string(key)]
		if !ok {
			tp = tmpl{en: entry{rule: r}}
			switch spec := specialize(n, t).(type) {
			case irConst:
				tp.skip = !bool(spec)
			case *irLeaf:
				if spec.slot >= 0 {
					tp.en.guards = []child{{fn: spec.fn, slot: spec.slot}}
				} else {
					tp.en.fn = spec.fn
				}
			case *irAnd:
				// leading shared checks run inline in the evaluation loop
				k := 0
				for k < len(spec.kids) {
					l, ok := spec.kids[k].(*irLeaf)
					if !ok || l.slot < 0 {
						break
					}
					tp.en.guards = append(tp.en.guards, child{fn: l.fn, slot: l.slot})
					k++
				}
				switch rest := spec.kids[k:]; len(rest) {
				case 0:
				case 1:
					tp.en.fn = build(rest[0])
				default:
					tp.en.fn = build(&irAnd{kids: rest})
				}
			default:
				tp.en.fn = build(spec)
			}
			cache[string(key)] = tp
		}
		if tp.skip {
			continue
		}
		e.buckets[t] = append(e.buckets[t], tp.en)
		e.types.add(t)
		r.EventTypes = append(r.EventTypes, t)
	}
}

// CompileCondition compiles a single condition (already resolved: no macro
// references) for tests and tools; the result evaluates any event type.
func CompileCondition(expr condition.Expr, reg *fields.Registry) (func(fields.Event) bool, []Problem) {
	if reg == nil {
		reg = fields.NewRegistry()
	}
	cc := &condCompiler{reg: reg, types: fields.NewEventTypeTable()}
	n := cc.expr(expr)
	if cc.errors > 0 {
		return nil, cc.problems
	}
	fn := build(flatten(n))
	return func(ev fields.Event) bool {
		// no memo slots here: a fresh scratch per call is free of state
		return fn(ev, &scratch{gen: 1})
	}, cc.problems
}

// Rules returns the enabled rules in load order.
func (e *Engine) Rules() []*Rule { return e.rules }

// Registry returns the field registry the engine was compiled with.
func (e *Engine) Registry() *fields.Registry { return e.reg }

// EventTypes returns the event types the loaded rules need, in ID order: the
// agent captures only these (a rule without an evt.type restriction needs
// them all).
func (e *Engine) EventTypes() []fields.EventType { return e.types.types() }

// Syscalls returns the sorted, de-duplicated names of the syscalls and
// tracepoints behind EventTypes (see fields.EventTypeInfo), for the kernel
// filter. User-space meta events (container) have none.
func (e *Engine) Syscalls() []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range e.EventTypes() {
		for _, s := range t.Info().Syscalls {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Evaluator evaluates events against an Engine. It holds per-event scratch
// space, so it is for one goroutine at a time: give each event-processing
// goroutine its own (NewEvaluator). The Engine's own EvalFirst and EvalAll
// borrow one from a pool.
type Evaluator struct {
	e *Engine
	s scratch
}

// NewEvaluator returns an Evaluator for e.
func (e *Engine) NewEvaluator() *Evaluator {
	return &Evaluator{e: e, s: scratch{vals: make([]uint32, e.nslots)}}
}

// EvalFirst returns the first rule (in load order) that matches ev, or nil.
func (v *Evaluator) EvalFirst(ev fields.Event) *Rule {
	t := ev.Type()
	if int(t) >= len(v.e.buckets) {
		return nil
	}
	v.s.next()
	b := v.e.buckets[t]
	for i := range b {
		if b[i].knownFalse(&v.s) {
			continue
		}
		if b[i].match(ev, &v.s) {
			return b[i].rule
		}
	}
	return nil
}

// EvalAll appends every rule that matches ev to dst, in load order, and
// returns it. Pass a reused slice (dst[:0]) to avoid allocating.
func (v *Evaluator) EvalAll(ev fields.Event, dst []*Rule) []*Rule {
	t := ev.Type()
	if int(t) >= len(v.e.buckets) {
		return dst
	}
	v.s.next()
	b := v.e.buckets[t]
	for i := range b {
		if b[i].knownFalse(&v.s) {
			continue
		}
		if b[i].match(ev, &v.s) {
			dst = append(dst, b[i].rule)
		}
	}
	return dst
}

func (e *Engine) evaluator() *Evaluator {
	if v, ok := e.pool.Get().(*Evaluator); ok {
		return v
	}
	return e.NewEvaluator()
}

// EvalFirst is Evaluator.EvalFirst with a pooled Evaluator; safe for
// concurrent use.
func (e *Engine) EvalFirst(ev fields.Event) *Rule {
	v := e.evaluator()
	r := v.EvalFirst(ev)
	e.pool.Put(v)
	return r
}

// EvalAll is Evaluator.EvalAll with a pooled Evaluator; safe for concurrent
// use.
func (e *Engine) EvalAll(ev fields.Event, dst []*Rule) []*Rule {
	v := e.evaluator()
	dst = v.EvalAll(ev, dst)
	e.pool.Put(v)
	return dst
}
