package loader

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/rules/condition"
)

type listDef struct {
	name       string
	items      []*condition.Literal
	pos        condition.Pos
	index, vis int
	file       string
}

type macroDef struct {
	name       string
	cond       text
	pos        condition.Pos
	index, vis int
	file       string
}

type ruleDef struct {
	name        string
	desc        text
	cond        text
	output      text
	priority    alert.Priority
	tags        []string
	source      string
	enabled     bool
	warnEvt     bool
	skipUnknown bool
	exceptions  []*exceptionDef
	pos         condition.Pos
	index       int
	file        string
	// broken marks a rule whose definition had errors: it is not compiled,
	// but later enable/append items find it without cascading errors.
	broken bool
}

// entry is an exception's fields, comps or values element: a scalar or a
// (possibly nested) sequence.
type entry struct {
	isList bool
	valid  bool
	item   string
	items  []entry
	pos    condition.Pos
}

type exceptionDef struct {
	name   string
	fields entry
	comps  entry
	values []entry
	pos    condition.Pos
}

type collector struct {
	problems  []Problem
	fileOrder map[string]int
	next      int // definition counter: Falco's index/visibility clock

	lists      map[string]*listDef
	macros     map[string]*macroDef
	macroOrder []*macroDef
	rules      map[string]*ruleDef
	ruleOrder  []*ruleDef

	engineVersion    [3]int
	engineVersionStr string
	plugins          [][]PluginVersion
}

func newCollector() *collector {
	return &collector{
		fileOrder: map[string]int{},
		lists:     map[string]*listDef{},
		macros:    map[string]*macroDef{},
		rules:     map[string]*ruleDef{},
	}
}

func (c *collector) errorf(pos condition.Pos, format string, args ...any) {
	c.problems = append(c.problems, Problem{Pos: pos, Severity: SeverityError, Msg: fmt.Sprintf(format, args...)})
}

func (c *collector) warnf(pos condition.Pos, format string, args ...any) {
	c.problems = append(c.problems, Problem{Pos: pos, Severity: SeverityWarning, Msg: fmt.Sprintf(format, args...)})
}

func (c *collector) read(s Source) {
	if _, seen := c.fileOrder[s.Name]; !seen {
		c.fileOrder[s.Name] = len(c.fileOrder)
	}
	f := newFile(s.Name, s.Data)
	dec := yaml.NewDecoder(bytes.NewReader(s.Data))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			c.errorf(yamlErrorPos(f, err), "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
			return
		}
		docs = append(docs, &doc)
	}
	for _, doc := range docs {
		root := doc
		if root.Kind == yaml.DocumentNode {
			if len(root.Content) == 0 {
				continue
			}
			root = root.Content[0]
		}
		root = deref(root)
		if isNull(root) {
			continue
		}
		if root.Kind != yaml.SequenceNode {
			c.errorf(f.nodePos(root), "rules content is not a YAML sequence of items")
			continue
		}
		for _, item := range root.Content {
			item = deref(item)
			if isNull(item) {
				continue
			}
			c.readItem(f, item)
		}
	}
}

// yamlErrorPos extracts "line N" from a yaml.v3 error message.
func yamlErrorPos(f *file, err error) condition.Pos {
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		j := i + len("line ")
		k := j
		for k < len(msg) && msg[k] >= '0' && msg[k] <= '9' {
			k++
		}
		if n, e := strconv.Atoi(msg[j:k]); e == nil {
			p := f.pos(f.offset(n, 1))
			return p
		}
	}
	return f.pos(0)
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// kv is one key of a mapping item.
type kv struct {
	key, val *yaml.Node
}

// item is a decoded mapping with helpers that record problems.
type item struct {
	c    *collector
	f    *file
	node *yaml.Node
	keys map[string]kv
	pos  condition.Pos
	ok   bool // false once an error was reported for this item
}

func (c *collector) newItem(f *file, n *yaml.Node) *item {
	it := &item{c: c, f: f, node: n, keys: map[string]kv{}, pos: f.nodePos(n), ok: true}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		name := k.Value
		if _, dup := it.keys[name]; dup {
			c.errorf(f.nodePos(k), "duplicate key '%s'", name)
			it.ok = false
			continue
		}
		it.keys[name] = kv{key: k, val: v}
	}
	return it
}

func (it *item) has(key string) bool { _, ok := it.keys[key]; return ok }

func (it *item) errorf(pos condition.Pos, format string, args ...any) {
	it.ok = false
	it.c.errorf(pos, format, args...)
}

// checkKeys warns about keys the item kind does not know.
func (it *item) checkKeys(kind string, allowed ...string) {
	for name, e := range it.keys {
		found := false
		for _, a := range allowed {
			if a == name {
				found = true
				break
			}
		}
		if !found {
			it.c.warnf(it.f.nodePos(e.key), "unknown key '%s' in %s (ignored)", name, kind)
		}
	}
}

// scalar returns the scalar value of key. A missing key is an error when
// required; a null, empty or non-scalar value is always an error.
func (it *item) scalar(key string, required bool) (string, *yaml.Node, bool) {
	e, ok := it.keys[key]
	if !ok {
		if required {
			it.errorf(it.pos, "item has no mapping for key '%s'", key)
		}
		return "", nil, false
	}
	if isNull(e.val) {
		it.errorf(it.f.nodePos(e.key), "mapping for key '%s' is empty", key)
		return "", nil, false
	}
	if e.val.Kind != yaml.ScalarNode {
		it.errorf(it.f.nodePos(e.val), "value of '%s' must be a scalar, got a %s", key, kindName(e.val))
		return "", nil, false
	}
	if e.val.Value == "" {
		it.errorf(it.f.nodePos(e.val), "value of '%s' must be non-empty", key)
		return "", nil, false
	}
	return e.val.Value, e.val, true
}

func (it *item) text(key string, required bool) (text, bool) {
	_, n, ok := it.scalar(key, required)
	if !ok {
		return text{}, false
	}
	return scalarText(it.f, n), true
}

func (it *item) boolean(key string) (val, present bool) {
	s, n, ok := it.scalar(key, false)
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on", "y":
		return true, true
	case "false", "no", "off", "n":
		return false, true
	}
	it.errorf(it.f.nodePos(n), "value of '%s' must be a boolean (true or false), got '%s'", key, s)
	return false, false
}

// stringSeq decodes a sequence of scalars (list items, tags).
func (it *item) stringSeq(key string, required bool) ([]string, []*yaml.Node, bool) {
	e, ok := it.keys[key]
	if !ok {
		if required {
			it.errorf(it.pos, "item has no mapping for key '%s'", key)
		}
		return nil, nil, false
	}
	if isNull(e.val) {
		// "tags:" with nothing, or "items:" with nothing: an empty sequence.
		return nil, nil, true
	}
	if e.val.Kind != yaml.SequenceNode {
		it.errorf(it.f.nodePos(e.val), "value of '%s' must be a sequence, got a %s", key, kindName(e.val))
		return nil, nil, false
	}
	out := make([]string, 0, len(e.val.Content))
	nodes := make([]*yaml.Node, 0, len(e.val.Content))
	good := true
	for _, v := range e.val.Content {
		v = deref(v)
		if v.Kind != yaml.ScalarNode || isNull(v) {
			it.errorf(it.f.nodePos(v), "items of '%s' must be scalars, got a %s", key, kindName(v))
			good = false
			continue
		}
		out = append(out, v.Value)
		nodes = append(nodes, v)
	}
	return out, nodes, good
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "sequence"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return "scalar"
	}
	return "node"
}

// overrides decodes the `override:` mapping into key → "append"/"replace".
func (it *item) overrides(appendable, replaceable []string) (app, rep map[string]bool) {
	e, ok := it.keys["override"]
	if !ok {
		return nil, nil
	}
	if e.val.Kind != yaml.MappingNode {
		it.errorf(it.f.nodePos(e.val), "value of 'override' must be a mapping of keys to append or replace")
		return nil, nil
	}
	app, rep = map[string]bool{}, map[string]bool{}
	in := func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	}
	for i := 0; i+1 < len(e.val.Content); i += 2 {
		k, v := deref(e.val.Content[i]), deref(e.val.Content[i+1])
		switch v.Value {
		case "append":
			if !in(appendable, k.Value) {
				it.errorf(it.f.nodePos(k), "key '%s' cannot be appended to, use 'replace' instead", k.Value)
				continue
			}
			app[k.Value] = true
		case "replace":
			if !in(replaceable, k.Value) {
				it.errorf(it.f.nodePos(k), "key '%s' cannot be replaced", k.Value)
				continue
			}
			rep[k.Value] = true
		default:
			it.errorf(it.f.nodePos(v), "invalid override operation for key '%s': '%s' (allowed: append, replace)", k.Value, v.Value)
		}
	}
	return app, rep
}

func (c *collector) readItem(f *file, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		c.errorf(f.nodePos(n), "unexpected element type: each item should be a YAML mapping (rule, macro, list, ...)")
		return
	}
	it := c.newItem(f, n)
	switch {
	case it.has("required_engine_version"):
		c.readEngineVersion(it)
	case it.has("required_plugin_versions"):
		c.readPluginVersions(it)
	case it.has("list"):
		c.readList(it)
	case it.has("macro"):
		c.readMacro(it)
	case it.has("rule"):
		c.readRule(it)
	default:
		c.warnf(it.pos, "unknown top level item (ignored): expected rule, macro, list, required_engine_version or required_plugin_versions")
	}
}

func (c *collector) readEngineVersion(it *item) {
	it.checkKeys("required_engine_version item", "required_engine_version")
	s, n, ok := it.scalar("required_engine_version", true)
	if !ok {
		return
	}
	v, ok := parseVersion(s)
	if !ok {
		it.errorf(it.f.nodePos(n), "unable to parse engine version '%s' as a semver string: expected \"x.y.z\"", s)
		return
	}
	mine, _ := parseVersion(EngineVersion)
	if v[0] != mine[0] || versionLess(mine, v) {
		it.errorf(it.f.nodePos(n), "rules require engine version %d.%d.%d, but Lanner implements engine version %s", v[0], v[1], v[2], EngineVersion)
		return
	}
	if c.engineVersionStr == "" || versionLess(c.engineVersion, v) {
		c.engineVersion = v
		c.engineVersionStr = fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2])
	}
}

// builtinPlugins are plugins whose fields Lanner provides itself.
var builtinPlugins = map[string]bool{"container": true, "k8smeta": true}

func (c *collector) readPluginVersions(it *item) {
	it.checkKeys("required_plugin_versions item", "required_plugin_versions")
	e := it.keys["required_plugin_versions"]
	if e.val.Kind != yaml.SequenceNode {
		it.errorf(it.f.nodePos(e.val), "value of required_plugin_versions must be a sequence")
		return
	}
	for _, p := range e.val.Content {
		p = deref(p)
		if p.Kind != yaml.MappingNode {
			it.errorf(it.f.nodePos(p), "plugin version must be a mapping")
			continue
		}
		pit := c.newItem(it.f, p)
		pit.checkKeys("plugin version", "name", "version", "alternatives")
		var reqs []PluginVersion
		name, _, ok1 := pit.scalar("name", true)
		ver, vn, ok2 := pit.scalar("version", true)
		if !ok1 || !ok2 {
			continue
		}
		if _, ok := parseVersion(ver); !ok {
			pit.errorf(pit.f.nodePos(vn), "invalid required version '%s' for plugin '%s'", ver, name)
			continue
		}
		reqs = append(reqs, PluginVersion{Name: name, Version: ver})
		if alt, ok := pit.keys["alternatives"]; ok {
			if alt.val.Kind != yaml.SequenceNode {
				pit.errorf(pit.f.nodePos(alt.val), "value of plugin version alternatives must be a sequence")
				continue
			}
			for _, a := range alt.val.Content {
				a = deref(a)
				if a.Kind != yaml.MappingNode {
					pit.errorf(pit.f.nodePos(a), "plugin version alternative must be a mapping")
					continue
				}
				ait := c.newItem(it.f, a)
				ait.checkKeys("plugin version alternative", "name", "version")
				an, _, ok1 := ait.scalar("name", true)
				av, _, ok2 := ait.scalar("version", true)
				if ok1 && ok2 {
					reqs = append(reqs, PluginVersion{Name: an, Version: av})
				}
			}
		}
		satisfied := false
		for _, r := range reqs {
			if builtinPlugins[r.Name] {
				satisfied = true
			}
		}
		if !satisfied {
			c.warnf(pit.pos, "plugin '%s' is not available in Lanner (container and k8s fields are built in); rules of its source are skipped", name)
		}
		c.plugins = append(c.plugins, reqs)
	}
}

func (c *collector) readList(it *item) {
	it.checkKeys("list", "list", "items", "append", "override")
	name, nameNode, ok := it.scalar("list", true)
	if !ok {
		return
	}
	if !isBareName(name) {
		it.errorf(it.f.nodePos(nameNode), "invalid list name '%s': it must be a bare word (no blanks, quotes, parentheses, '=' or ',')", name)
	}
	strs, nodes, _ := it.stringSeq("items", true)
	appendFlag, _ := it.boolean("append")
	if appendFlag {
		c.warnf(it.pos, "'append' is deprecated: use 'override: {items: append}'")
	}
	app, rep := it.overrides([]string{"items"}, []string{"items"})
	if appendFlag && (len(app) > 0 || len(rep) > 0) {
		it.errorf(it.pos, "keys 'override' and 'append: true' cannot be used together: add an 'append' entry (e.g. 'items: append') under 'override' instead")
	}
	if !it.ok {
		return
	}
	items := make([]*condition.Literal, 0, len(strs))
	for i, s := range strs {
		lit, err := listItem(s)
		p := it.f.nodePos(nodes[i])
		if err != "" {
			c.errorf(p, "list '%s': item %s: %s", name, strconv.Quote(s), err)
			continue
		}
		lit.Pos = p
		items = append(items, lit)
	}
	id := c.next
	c.next++
	if appendFlag || app["items"] {
		prev := c.lists[name]
		if prev == nil {
			c.errorf(it.pos, "list '%s' has 'append' key or an append override but no list by that name already exists", name)
			return
		}
		prev.items = append(prev.items, items...)
		prev.vis = id
		return
	}
	if prev := c.lists[name]; prev != nil {
		if prev.file == it.f.name {
			c.warnf(it.pos, "list '%s' redefines the list defined at line %d", name, prev.pos.Line)
		}
		*prev = listDef{name: name, items: items, pos: it.pos, index: prev.index, vis: id, file: it.f.name}
		return
	}
	c.lists[name] = &listDef{name: name, items: items, pos: it.pos, index: id, vis: id, file: it.f.name}
}

// listItem turns a list item (a YAML string) into a literal the way Falco
// does by pasting it into the condition: an item starting with a quote is a
// quoted string token; anything else is taken verbatim.
func listItem(s string) (*condition.Literal, string) {
	if s != "" && (s[0] == '"' || s[0] == '\'') {
		e, err := condition.Parse("x.x = " + s)
		if err != nil {
			return nil, "badly quoted item"
		}
		cmp, ok := e.(*condition.Compare)
		if !ok {
			return nil, "badly quoted item"
		}
		l, ok := cmp.Right.(*condition.Literal)
		if !ok || !l.Quoted {
			return nil, "badly quoted item"
		}
		return &condition.Literal{Text: l.Text, Quoted: true}, ""
	}
	return &condition.Literal{Text: s}, ""
}

func isIdentifier(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func isBareName(s string) bool {
	if s == "" {
		return false
	}
	return !strings.ContainsAny(s, "()\"' \t\n\v\f\r=,")
}

func (c *collector) readMacro(it *item) {
	it.checkKeys("macro", "macro", "condition", "append", "override")
	name, nameNode, ok := it.scalar("macro", true)
	if !ok {
		return
	}
	if !isIdentifier(name) {
		it.errorf(it.f.nodePos(nameNode), "invalid macro name '%s': it must match [a-zA-Z]+[a-zA-Z0-9_]*", name)
	}
	cond, _ := it.text("condition", true)
	appendFlag, _ := it.boolean("append")
	if appendFlag {
		c.warnf(it.pos, "'append' is deprecated: use 'override: {condition: append}'")
	}
	app, rep := it.overrides([]string{"condition"}, []string{"condition"})
	if appendFlag && (len(app) > 0 || len(rep) > 0) {
		it.errorf(it.pos, "keys 'override' and 'append: true' cannot be used together: add an 'append' entry (e.g. 'condition: append') under 'override' instead")
	}
	if !it.ok {
		return
	}
	id := c.next
	c.next++
	if appendFlag || app["condition"] {
		prev := c.macros[name]
		if prev == nil {
			c.errorf(it.pos, "macro '%s' has 'append' key or an append override but no macro by that name already exists", name)
			return
		}
		prev.cond = appendText(prev.cond, cond)
		prev.vis = id
		return
	}
	if prev := c.macros[name]; prev != nil {
		if prev.file == it.f.name {
			c.warnf(it.pos, "macro '%s' redefines the macro defined at line %d", name, prev.pos.Line)
		}
		*prev = macroDef{name: name, cond: cond, pos: it.pos, index: prev.index, vis: id, file: it.f.name}
		return
	}
	m := &macroDef{name: name, cond: cond, pos: it.pos, index: id, vis: id, file: it.f.name}
	c.macros[name] = m
	c.macroOrder = append(c.macroOrder, m)
}

var ruleKeys = []string{"rule", "desc", "condition", "output", "priority", "tags", "enabled", "exceptions",
	"source", "warn_evttypes", "skip-if-unknown-filter", "append", "override", "capture", "capture_duration"}

var (
	ruleAppendable  = []string{"condition", "output", "desc", "tags", "exceptions"}
	ruleReplaceable = []string{"condition", "output", "desc", "priority", "tags", "exceptions", "enabled", "warn_evttypes", "skip-if-unknown-filter"}
)

func (c *collector) readRule(it *item) {
	it.checkKeys("rule", ruleKeys...)
	name, _, ok := it.scalar("rule", true)
	if !ok {
		return
	}
	appendFlag, _ := it.boolean("append")
	if appendFlag {
		c.warnf(it.pos, "'append' is deprecated: use 'override' with 'append' for the keys to append to")
	}
	app, rep := it.overrides(ruleAppendable, ruleReplaceable)
	hasOverrides := len(app) > 0 || len(rep) > 0
	if appendFlag && hasOverrides {
		it.errorf(it.pos, "keys 'override' and 'append: true' cannot be used together: add an 'append' entry under 'override' instead")
		return
	}
	switch {
	case hasOverrides || it.has("override"):
		c.readRuleOverride(it, name, app, rep)
	case appendFlag:
		c.readRuleAppend(it, name)
	case !it.has("condition") && !it.has("output") && !it.has("desc") && !it.has("priority"):
		// Only `enabled`: toggles an earlier rule.
		en, present := it.boolean("enabled")
		if !present {
			if it.ok {
				it.errorf(it.pos, "item has no mapping for key 'enabled' (a rule item without condition, output, desc and priority only toggles an existing rule)")
			}
			return
		}
		c.warnf(it.pos, "using 'enabled' alone to toggle a rule is deprecated: use 'override: {enabled: replace}'")
		prev := c.rules[name]
		if prev == nil {
			c.errorf(it.pos, "rule '%s' has 'enabled' key but no rule by that name already exists", name)
			return
		}
		prev.enabled = en
	default:
		c.readRuleDefine(it, name)
	}
}

func (c *collector) readRuleDefine(it *item, name string) {
	r := &ruleDef{name: name, enabled: true, warnEvt: true, source: SyscallSource, pos: it.pos, file: it.f.name}
	r.cond, _ = it.text("condition", true)
	r.output, _ = it.text("output", true)
	r.output = trimText(r.output)
	r.desc, _ = it.text("desc", true)
	if s, n, ok := it.scalar("priority", true); ok {
		p, err := alert.ParsePriority(s)
		if err != nil {
			it.errorf(it.f.nodePos(n), "invalid priority '%s' (want one of Emergency, Alert, Critical, Error, Warning, Notice, Informational, Debug)", s)
		}
		r.priority = p
	}
	if s, _, ok := it.scalar("source", false); ok {
		r.source = s
	}
	if v, ok := it.boolean("enabled"); ok {
		r.enabled = v
	}
	if v, ok := it.boolean("warn_evttypes"); ok {
		r.warnEvt = v
	}
	if v, ok := it.boolean("skip-if-unknown-filter"); ok {
		r.skipUnknown = v
	}
	if tags, _, ok := it.stringSeq("tags", false); ok {
		r.tags = tags
	}
	for _, ex := range c.readExceptions(it, false) {
		if c.validateException(ex) {
			r.exceptions = append(r.exceptions, ex)
		} else {
			it.ok = false
		}
	}
	if !it.ok {
		r.broken = true
	}
	id := c.next
	c.next++
	if prev := c.rules[name]; prev != nil {
		if prev.source != r.source {
			c.errorf(it.pos, "rule '%s' has been re-defined with a different source", name)
			return
		}
		if prev.file == it.f.name {
			c.warnf(it.pos, "rule '%s' redefines the rule defined at line %d", name, prev.pos.Line)
		}
		r.index = prev.index
		*prev = *r
		return
	}
	r.index = id
	c.rules[name] = r
	c.ruleOrder = append(c.ruleOrder, r)
}

func trimText(t text) text {
	// Trimming only the ends keeps offsets valid for the start-relative map
	// once the leading blanks are accounted for.
	lead := len(t.s) - len(strings.TrimLeft(t.s, " \t\r\n"))
	t.s = strings.TrimSpace(t.s)
	if lead > 0 && len(t.m.segs) > 0 {
		s := t.m.segs[0]
		if lead <= len(s.offs) {
			s.offs = s.offs[lead:]
		}
		t.m.segs = append([]segment{s}, t.m.segs[1:]...)
		for i := 1; i < len(t.m.segs); i++ {
			t.m.segs[i].start -= lead
		}
	}
	return t
}

// readRuleAppend handles the legacy `append: true` on a rule: condition and
// exceptions are appended.
func (c *collector) readRuleAppend(it *item, name string) {
	var cond text
	hasCond := false
	if it.has("condition") {
		cond, hasCond = it.text("condition", true)
	}
	exs := c.readExceptions(it, true)
	if !it.ok {
		return
	}
	c.next++
	prev := c.rules[name]
	if prev == nil {
		c.errorf(it.pos, "rule '%s' has 'append' key or an append override but no rule by that name already exists", name)
		return
	}
	if !hasCond && !it.has("exceptions") {
		c.errorf(it.pos, "appended rule must have exceptions or condition property")
		return
	}
	if hasCond {
		prev.cond = appendText(prev.cond, cond)
	}
	c.appendExceptions(prev, exs)
}

func (c *collector) readRuleOverride(it *item, name string, app, rep map[string]bool) {
	// Every appendable or replaceable key present must be named under
	// override, and every key named there must be present.
	for _, k := range ruleReplaceable {
		if it.has(k) && !app[k] && !rep[k] {
			it.errorf(it.f.nodePos(it.keys[k].key), "unexpected key '%s': no corresponding entry under 'override' is defined", k)
		}
	}
	for k := range app {
		if !it.has(k) {
			it.errorf(it.pos, "an append override for '%s' was specified but '%s' is not defined", k, k)
		}
	}
	for k := range rep {
		if !it.has(k) {
			it.errorf(it.pos, "a replace override for '%s' was specified but '%s' is not defined", k, k)
		}
	}
	if len(app) == 0 && len(rep) == 0 {
		it.errorf(it.pos, "rule '%s': 'override' names no key to append or replace", name)
	}
	if !it.ok {
		return
	}
	c.next++
	prev := c.rules[name]
	if prev == nil {
		c.errorf(it.pos, "rule '%s' has an override but no rule by that name already exists", name)
		return
	}
	if len(app) > 0 {
		if app["condition"] {
			if t, ok := it.text("condition", true); ok {
				prev.cond = appendText(prev.cond, t)
			}
		}
		if app["output"] {
			if t, ok := it.text("output", true); ok {
				prev.output = trimText(appendText(prev.output, t))
			}
		}
		if app["desc"] {
			if t, ok := it.text("desc", true); ok {
				prev.desc = appendText(prev.desc, t)
			}
		}
		if app["tags"] {
			if tags, _, ok := it.stringSeq("tags", true); ok {
				prev.tags = append(prev.tags, tags...)
			}
		}
		if app["exceptions"] {
			c.appendExceptions(prev, c.readExceptions(it, true))
		}
	}
	if len(rep) > 0 {
		if rep["condition"] {
			if t, ok := it.text("condition", true); ok {
				prev.cond = t
			}
		}
		if rep["output"] {
			if t, ok := it.text("output", true); ok {
				prev.output = trimText(t)
			}
		}
		if rep["desc"] {
			if t, ok := it.text("desc", true); ok {
				prev.desc = t
			}
		}
		if rep["tags"] {
			if tags, _, ok := it.stringSeq("tags", true); ok {
				prev.tags = tags
			}
		}
		if rep["exceptions"] {
			var exs []*exceptionDef
			for _, ex := range c.readExceptions(it, true) {
				if c.validateException(ex) {
					exs = append(exs, ex)
				}
			}
			prev.exceptions = exs
		}
		if rep["priority"] {
			if s, n, ok := it.scalar("priority", true); ok {
				p, err := alert.ParsePriority(s)
				if err != nil {
					c.errorf(it.f.nodePos(n), "invalid priority '%s'", s)
				} else {
					prev.priority = p
				}
			}
		}
		if rep["enabled"] {
			if v, ok := it.boolean("enabled"); ok {
				prev.enabled = v
			}
		}
		if rep["warn_evttypes"] {
			if v, ok := it.boolean("warn_evttypes"); ok {
				prev.warnEvt = v
			}
		}
		if rep["skip-if-unknown-filter"] {
			if v, ok := it.boolean("skip-if-unknown-filter"); ok {
				prev.skipUnknown = v
			}
		}
	}
}

// appendExceptions merges appended exceptions into a rule: values of an
// existing exception (same name) are appended; new exceptions are added.
func (c *collector) appendExceptions(r *ruleDef, exs []*exceptionDef) {
	for _, ex := range exs {
		var prev *exceptionDef
		for _, p := range r.exceptions {
			if p.name == ex.name {
				prev = p
			}
		}
		if prev == nil {
			if !ex.fields.valid {
				c.errorf(ex.pos, "rule exception '%s' must have a 'fields' property", ex.name)
				continue
			}
			if len(ex.values) == 0 {
				c.errorf(ex.pos, "rule exception '%s' must have a 'values' property with a list of values", ex.name)
				continue
			}
			if c.validateException(ex) {
				r.exceptions = append(r.exceptions, ex)
			}
			continue
		}
		if ex.fields.valid {
			c.errorf(ex.pos, "cannot append exception fields to existing exception '%s', only values", ex.name)
			continue
		}
		if ex.comps.valid {
			c.errorf(ex.pos, "cannot append exception comps to existing exception '%s', only values", ex.name)
			continue
		}
		prev.values = append(prev.values, ex.values...)
	}
}

func (c *collector) readExceptions(it *item, appending bool) []*exceptionDef {
	e, ok := it.keys["exceptions"]
	if !ok || isNull(e.val) {
		return nil
	}
	if e.val.Kind != yaml.SequenceNode {
		it.errorf(it.f.nodePos(e.val), "rule exceptions must be a sequence")
		return nil
	}
	var out []*exceptionDef
	for _, exn := range e.val.Content {
		exn = deref(exn)
		if exn.Kind != yaml.MappingNode {
			it.errorf(it.f.nodePos(exn), "rule exception must be a mapping")
			continue
		}
		ex := c.newItem(it.f, exn)
		ex.checkKeys("exception", "name", "fields", "comps", "values")
		name, _, ok := ex.scalar("name", true)
		if !ok {
			it.ok = false
			continue
		}
		for _, o := range out {
			if o.name == name {
				ex.errorf(ex.pos, "exception names in the same object must be unique: '%s'", name)
			}
		}
		def := &exceptionDef{name: name, pos: ex.pos}
		def.fields = ex.entry("fields", !appending)
		def.comps = ex.entry("comps", false)
		if vals, ok := ex.keys["values"]; ok {
			if vals.val.Kind != yaml.SequenceNode {
				ex.errorf(ex.f.nodePos(vals.val), "rule exception values must be a sequence")
			} else {
				for _, v := range vals.val.Content {
					def.values = append(def.values, ex.decodeEntry(deref(v)))
				}
			}
		} else if appending {
			c.warnf(ex.pos, "overriding/appending exception '%s' with no values", name)
		}
		if !ex.ok {
			it.ok = false
			continue
		}
		out = append(out, def)
	}
	return out
}

func (it *item) entry(key string, required bool) entry {
	e, ok := it.keys[key]
	if !ok {
		if required {
			it.errorf(it.pos, "item has no mapping for key '%s'", key)
		}
		return entry{}
	}
	return it.decodeEntry(e.val)
}

func (it *item) decodeEntry(n *yaml.Node) entry {
	n = deref(n)
	out := entry{pos: it.f.nodePos(n)}
	switch n.Kind {
	case yaml.ScalarNode:
		if isNull(n) || n.Value == "" {
			it.errorf(out.pos, "value must be non-empty")
			return out
		}
		out.item, out.valid = n.Value, true
	case yaml.SequenceNode:
		out.isList, out.valid = true, true
		for _, v := range n.Content {
			out.items = append(out.items, it.decodeEntry(v))
		}
	default:
		it.errorf(out.pos, "expected a scalar or a sequence, got a %s", kindName(n))
	}
	return out
}

// validateException checks and completes an exception the way Falco does:
// with a list of fields, comps default to "=" each; with a single field, the
// comp defaults to "in" and must be a list operator.
func (c *collector) validateException(ex *exceptionDef) bool {
	if !ex.fields.valid {
		c.errorf(ex.pos, "rule exception '%s' must have a 'fields' property with a list of fields", ex.name)
		return false
	}
	if ex.fields.isList {
		if !ex.comps.valid {
			ex.comps = entry{isList: true, valid: true, pos: ex.pos}
			for range ex.fields.items {
				ex.comps.items = append(ex.comps.items, entry{item: "=", valid: true, pos: ex.pos})
			}
		}
		if !ex.comps.isList || len(ex.fields.items) != len(ex.comps.items) {
			c.errorf(ex.pos, "rule exception '%s': fields and comps lists must have equal length", ex.name)
			return false
		}
		good := true
		for _, f := range ex.fields.items {
			if f.isList {
				c.errorf(f.pos, "rule exception '%s': fields must be a list of field names", ex.name)
				good = false
			}
		}
		for _, cmp := range ex.comps.items {
			if cmp.isList || !supportedComp(cmp.item) {
				c.errorf(cmp.pos, "rule exception '%s': '%s' is not a supported comparison operator", ex.name, cmp.item)
				good = false
			}
		}
		for _, v := range ex.values {
			if !v.isList {
				c.errorf(v.pos, "rule exception '%s': each value must be a list with one item per field", ex.name)
				good = false
				continue
			}
			if len(v.items) != len(ex.fields.items) {
				c.errorf(v.pos, "rule exception '%s': fields and values lists must have equal length", ex.name)
				good = false
			}
		}
		return good
	}
	if !ex.comps.valid {
		ex.comps = entry{item: "in", valid: true, pos: ex.pos}
	}
	if ex.comps.isList {
		c.errorf(ex.comps.pos, "rule exception '%s': fields and comps must both be strings", ex.name)
		return false
	}
	switch ex.comps.item {
	case "in", "pmatch", "intersects":
	default:
		c.errorf(ex.comps.pos, "rule exception '%s': when fields is a single value, comps must be one of (in, pmatch, intersects)", ex.name)
		return false
	}
	for _, v := range ex.values {
		if v.isList {
			c.errorf(v.pos, "rule exception '%s': expected values array to contain a list of strings", ex.name)
			return false
		}
	}
	return true
}

func supportedComp(s string) bool {
	switch s {
	case "exists", "<=", "<", ">=", ">", "==", "=", "!=", "glob", "iglob", "contains", "icontains",
		"bcontains", "startswith", "bstartswith", "endswith", "regex", "intersects", "in", "pmatch":
		return true
	}
	return false
}

func sortedUnique(tags []string) []string {
	if len(tags) == 0 {
		return nil
	}
	out := append([]string(nil), tags...)
	sort.Strings(out)
	w := 1
	for i := 1; i < len(out); i++ {
		if out[i] != out[w-1] {
			out[w] = out[i]
			w++
		}
	}
	return out[:w]
}
