// Package condition parses Falco's condition language into a syntax tree.
//
// The grammar follows libsinsp's filter parser, quirks included (the vectors in
// parser_cases.json define them): `not` binds tighter than `and`, which binds
// tighter than `or`; `and`/`or` must be followed by a blank or `(`; word
// operators (contains, glob, ...) must be followed by a blank; values are
// quoted strings or bare words; lists are `(a, b, "c d")`.
//
// The tree is plain data. Macros and list names are NOT resolved here: a bare
// word where a check is expected is an *Identifier (a macro reference), and a
// bare word in a list or after a list operator is a *Literal with Quoted false
// (possibly a list name). The rules loader (package rules/loader) resolves both
// and hands the engine a tree in which no *Identifier remains.
package condition

// Pos locates a node in source text. Offset is the byte offset into the
// condition string the node was parsed from. Line and Col (1-based, Col counts
// bytes) are relative to that string after Parse, and the loader rewrites them
// (with File) to point into the rules file, so that a node expanded from a
// macro still points at the macro's own text.
type Pos struct {
	File   string
	Offset int
	Line   int
	Col    int
}

// Expr is a boolean expression: *And, *Or, *Not, *Compare, *Unary, *Identifier.
type Expr interface {
	Position() Pos
	expr()
}

// Operand is something that yields a value from an event: *Field,
// *Transform or *Join. It is the left side of a check, or (wrapped in
// *OperandValue) a right side such as val(proc.name) or tolower(fd.name).
type Operand interface {
	Position() Pos
	operand()
}

// Value is the right side of a *Compare: *Literal, *List or *OperandValue.
type Value interface {
	Position() Pos
	value()
}

// And is an n-ary conjunction (len(Children) >= 2 as parsed).
type And struct {
	Pos      Pos
	Children []Expr
}

// Or is an n-ary disjunction (len(Children) >= 2 as parsed).
type Or struct {
	Pos      Pos
	Children []Expr
}

// Not negates X. `not not a` parses to a (Falco folds repeated nots).
type Not struct {
	Pos Pos
	X   Expr
}

// Identifier is a bare word where a check is expected: a macro reference
// before resolution. An expanded tree contains none.
type Identifier struct {
	Pos  Pos
	Name string
}

// Unary is a check with no right side. Op is always OpExists.
type Unary struct {
	Pos  Pos
	Left Operand
	Op   Op
}

// Compare is a binary check: Left Op [Quant] Right.
//
// Right is a *List for the list operators (in, intersects, pmatch) and for
// quantified comparisons (`proc.name = oneof (a, b)`); before resolution it may
// instead be a *Literal naming a list (`in my_list`, `= oneof my_list`). Right
// is an *OperandValue for field-to-field comparisons (`= val(proc.pname)`,
// `= tolower(fd.name)`). Otherwise it is a *Literal.
type Compare struct {
	Pos   Pos
	Left  Operand
	Op    Op
	Quant Quant
	Right Value
}

// Field is a field reference such as proc.name, proc.aname[2], evt.arg.flags,
// evt.arg[0] or proc.env[HOME]. Arg is the text between brackets, unescaped
// when quoted; HasArg distinguishes `f[""]` from `f`.
type Field struct {
	Pos    Pos
	Name   string
	Arg    string
	HasArg bool
}

// Transform applies a transformer to X: tolower(X), toupper(X), b64(X),
// basename(X), len(X), or val(X) (val only on a right side, around a field).
type Transform struct {
	Pos  Pos
	Func Transformer
	X    Operand
}

// Join is join("sep", (item, ...)): the items' values joined by Sep. Each
// item is an Operand or a *Literal (quoted string or number).
type Join struct {
	Pos   Pos
	Sep   string
	Items []JoinItem
}

// JoinItem is one item of a Join: exactly one of Operand and Literal is set.
type JoinItem struct {
	Operand Operand
	Literal *Literal
}

// Literal is a single value: a quoted string (unescaped, Quoted true), a bare
// word or a number (Quoted false).
type Literal struct {
	Pos    Pos
	Text   string
	Quoted bool
}

// List is a parenthesised list of values. After loading, list references
// inside it have been replaced by the referenced list's items.
type List struct {
	Pos   Pos
	Items []*Literal
}

// OperandValue is a right side that reads the event: val(field) or a
// transformer/join expression.
type OperandValue struct {
	Pos Pos
	X   Operand
}

// Op is a check operator.
type Op uint8

// The operators, spelled as in Falco. OpEq is `=` and `==` alike.
const (
	OpInvalid Op = iota
	OpEq
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe
	OpContains
	OpIContains
	OpBContains
	OpStartsWith
	OpBStartsWith
	OpEndsWith
	OpGlob
	OpIGlob
	OpRegex
	OpIn
	OpIntersects
	OpPmatch
	OpExists
)

var opNames = [...]string{
	OpInvalid:     "<invalid>",
	OpEq:          "=",
	OpNe:          "!=",
	OpLt:          "<",
	OpLe:          "<=",
	OpGt:          ">",
	OpGe:          ">=",
	OpContains:    "contains",
	OpIContains:   "icontains",
	OpBContains:   "bcontains",
	OpStartsWith:  "startswith",
	OpBStartsWith: "bstartswith",
	OpEndsWith:    "endswith",
	OpGlob:        "glob",
	OpIGlob:       "iglob",
	OpRegex:       "regex",
	OpIn:          "in",
	OpIntersects:  "intersects",
	OpPmatch:      "pmatch",
	OpExists:      "exists",
}

// String returns the operator as written in conditions.
func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return opNames[OpInvalid]
}

// IsListOp reports whether o takes a list on its right (in, intersects, pmatch).
func (o Op) IsListOp() bool { return o == OpIn || o == OpIntersects || o == OpPmatch }

// ParseOp returns the operator spelled s ("==" is OpEq), or OpInvalid. Used
// for exception comps.
func ParseOp(s string) Op {
	if s == "==" {
		return OpEq
	}
	for i, n := range opNames {
		if i != int(OpInvalid) && n == s {
			return Op(i)
		}
	}
	return OpInvalid
}

// Quant is the quantifier of a comparison against a list:
// `f = oneof (a, b)` (any value matches; same as anyof), `f = allof (a, b)`.
type Quant uint8

// Quantifiers.
const (
	QuantNone Quant = iota
	QuantOneOf
	QuantAnyOf
	QuantAllOf
)

// String returns the quantifier keyword ("" for QuantNone).
func (q Quant) String() string {
	switch q {
	case QuantOneOf:
		return "oneof"
	case QuantAnyOf:
		return "anyof"
	case QuantAllOf:
		return "allof"
	}
	return ""
}

// Transformer names a field transformer.
type Transformer uint8

// Transformers. TransformVal (val(f)) is only valid on a right side.
const (
	TransformInvalid Transformer = iota
	TransformToLower
	TransformToUpper
	TransformB64
	TransformBasename
	TransformLen
	TransformVal
)

// String returns the transformer's name as written.
func (t Transformer) String() string {
	switch t {
	case TransformToLower:
		return "tolower"
	case TransformToUpper:
		return "toupper"
	case TransformB64:
		return "b64"
	case TransformBasename:
		return "basename"
	case TransformLen:
		return "len"
	case TransformVal:
		return "val"
	}
	return "<invalid>"
}

func (n *And) Position() Pos          { return n.Pos }
func (n *Or) Position() Pos           { return n.Pos }
func (n *Not) Position() Pos          { return n.Pos }
func (n *Identifier) Position() Pos   { return n.Pos }
func (n *Unary) Position() Pos        { return n.Pos }
func (n *Compare) Position() Pos      { return n.Pos }
func (n *Field) Position() Pos        { return n.Pos }
func (n *Transform) Position() Pos    { return n.Pos }
func (n *Join) Position() Pos         { return n.Pos }
func (n *Literal) Position() Pos      { return n.Pos }
func (n *List) Position() Pos         { return n.Pos }
func (n *OperandValue) Position() Pos { return n.Pos }

func (*And) expr()        {}
func (*Or) expr()         {}
func (*Not) expr()        {}
func (*Identifier) expr() {}
func (*Unary) expr()      {}
func (*Compare) expr()    {}

func (*Field) operand()     {}
func (*Transform) operand() {}
func (*Join) operand()      {}

func (*Literal) value()      {}
func (*List) value()         {}
func (*OperandValue) value() {}
