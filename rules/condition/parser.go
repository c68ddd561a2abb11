package condition

import (
	"fmt"
	"sort"
	"strings"
)

// MaxDepth bounds the parser's recursion (Falco's loader uses the same limit),
// so hostile input cannot exhaust the stack.
const MaxDepth = 1000

// SyntaxError is a parse failure at Pos.
type SyntaxError struct {
	Pos Pos
	Msg string
}

func (e *SyntaxError) Error() string {
	if e.Pos.File != "" {
		return fmt.Sprintf("%s:%d:%d: %s", e.Pos.File, e.Pos.Line, e.Pos.Col, e.Msg)
	}
	return fmt.Sprintf("%d:%d: %s", e.Pos.Line, e.Pos.Col, e.Msg)
}

// Parse parses a condition. Positions in the tree (and in a *SyntaxError) are
// relative to s: Offset in bytes, Line and Col 1-based.
func Parse(s string) (Expr, error) {
	p := parser{s: s}
	e, err := p.parse()
	if err != nil {
		return nil, err
	}
	fillLineCol(e, s)
	return e, nil
}

type parser struct {
	s     string
	i     int
	depth int
	// last is a short description of the last token, for error messages.
	last string
}

// bail carries a *SyntaxError through panics inside the parser; Parse
// recovers it. Only this type is recovered.
type bail struct{ err *SyntaxError }

func (p *parser) fail(format string, args ...any) {
	panic(bail{&SyntaxError{Pos: Pos{Offset: p.i}, Msg: fmt.Sprintf(format, args...)}})
}

func (p *parser) parse() (e Expr, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bail)
			if !ok {
				panic(r)
			}
			b.err.Pos = linePos(p.s, b.err.Pos.Offset)
			e, err = nil, b.err
		}
	}()
	if len(p.s) == 0 {
		p.fail("condition is empty")
	}
	e = p.parseOr()
	if p.i != len(p.s) {
		if p.last != "" {
			p.fail("unexpected token after '%s', expecting 'or', 'and'", p.last)
		}
		p.fail("unexpected token, expecting 'or', 'and'")
	}
	return e, nil
}

func (p *parser) enter() {
	p.depth++
	if p.depth >= MaxDepth {
		p.fail("exceeded max depth limit of %d", MaxDepth)
	}
}

func (p *parser) leave() { p.depth-- }

func (p *parser) pos() Pos { return Pos{Offset: p.i} }

// ---- lexing helpers (each mirrors one of libsinsp's lexer rules) ----

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\b' || c == '\r' || c == '\n' }

// isSpace is POSIX [[:space:]], used where libsinsp uses a regex.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isAlpha(c byte) bool    { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isIdentRun(c byte) bool { return isAlpha(c) || isDigit(c) || c == '_' }

func (p *parser) blank() bool {
	start := p.i
	for p.i < len(p.s) && isBlank(p.s[p.i]) {
		p.i++
	}
	return p.i > start
}

func (p *parser) lit(t string) bool {
	if strings.HasPrefix(p.s[p.i:], t) {
		p.i += len(t)
		p.last = t
		return true
	}
	return false
}

// identLen matches [a-zA-Z]+[a-zA-Z0-9_]* at s[i:].
func identLen(s string, i int) int {
	j := i
	if j >= len(s) || !isAlpha(s[j]) {
		return 0
	}
	for j < len(s) && isIdentRun(s[j]) {
		j++
	}
	return j - i
}

// fieldNameLen matches ident(\.ident)+ at s[i:] (longest match).
func fieldNameLen(s string, i int) int {
	n := identLen(s, i)
	if n == 0 {
		return 0
	}
	j := i + n
	dots := 0
	for j < len(s) && s[j] == '.' {
		m := identLen(s, j+1)
		if m == 0 {
			break
		}
		j += 1 + m
		dots++
	}
	if dots == 0 {
		return 0
	}
	return j - i
}

func (p *parser) identifier() (string, bool) {
	n := identLen(p.s, p.i)
	if n == 0 {
		return "", false
	}
	t := p.s[p.i : p.i+n]
	p.i += n
	p.last = t
	return t, true
}

func (p *parser) fieldName() (string, bool) {
	n := fieldNameLen(p.s, p.i)
	if n == 0 {
		return "", false
	}
	t := p.s[p.i : p.i+n]
	p.i += n
	p.last = t
	return t, true
}

// bareStr matches [^()"'[:space:]=,]+.
func (p *parser) bareStr() (string, bool) {
	j := p.i
	for j < len(p.s) {
		c := p.s[j]
		if c == '(' || c == ')' || c == '"' || c == '\'' || c == '=' || c == ',' || isSpace(c) {
			break
		}
		j++
	}
	if j == p.i {
		return "", false
	}
	t := p.s[p.i:j]
	p.i = j
	p.last = t
	return t, true
}

// fieldArgBare matches [^][\"'[:space:]]+.
func (p *parser) fieldArgBare() (string, bool) {
	j := p.i
	for j < len(p.s) {
		c := p.s[j]
		if c == '[' || c == ']' || c == '"' || c == '\'' || isSpace(c) {
			break
		}
		j++
	}
	if j == p.i {
		return "", false
	}
	t := p.s[p.i:j]
	p.i = j
	p.last = t
	return t, true
}

// hexNum matches 0[xX][0-9a-zA-Z]+.
func hexNumLen(s string, i int) int {
	if i+2 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && (isAlpha(s[i+2]) || isDigit(s[i+2])) {
		j := i + 2
		for j < len(s) && (isAlpha(s[j]) || isDigit(s[j])) {
			j++
		}
		return j - i
	}
	return 0
}

// numLen matches [+\-]?[0-9]+[\.]?[0-9]*([eE][+\-][0-9]+)?.
func numLen(s string, i int) int {
	j := i
	if j < len(s) && (s[j] == '+' || s[j] == '-') {
		j++
	}
	d := j
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j == d {
		return 0
	}
	if j < len(s) && s[j] == '.' {
		j++
		for j < len(s) && isDigit(s[j]) {
			j++
		}
	}
	if j+2 < len(s) && (s[j] == 'e' || s[j] == 'E') && (s[j+1] == '+' || s[j+1] == '-') && isDigit(s[j+2]) {
		j += 2
		for j < len(s) && isDigit(s[j]) {
			j++
		}
	}
	return j - i
}

func (p *parser) number() (string, bool) {
	n := hexNumLen(p.s, p.i)
	if n == 0 {
		n = numLen(p.s, p.i)
	}
	if n == 0 {
		return "", false
	}
	t := p.s[p.i : p.i+n]
	p.i += n
	p.last = t
	return t, true
}

// quoted lexes a '- or "-quoted string the way libsinsp does: it ends at the
// first delimiter not preceded by a backslash (so "a\\" does not end at its
// last quote), and the content is then unescaped. It returns ok=false without
// consuming anything when no string starts here or it is unterminated.
func (p *parser) quoted() (string, bool) {
	if p.i >= len(p.s) || (p.s[p.i] != '"' && p.s[p.i] != '\'') {
		return "", false
	}
	delim := p.s[p.i]
	for j := p.i + 1; j < len(p.s); j++ {
		if p.s[j] == delim && p.s[j-1] != '\\' {
			raw := p.s[p.i : j+1]
			start := p.i
			text, err := unescape(raw)
			if err != "" {
				p.fail("%s", err)
			}
			p.i = j + 1
			p.last = p.s[start:p.i]
			return text, true
		}
	}
	return "", false
}

// unescape decodes the content of a quoted token (delimiters included).
func unescape(raw string) (string, string) {
	body := raw[1 : len(raw)-1]
	if strings.IndexByte(body, '\\') < 0 {
		return body, ""
	}
	var b strings.Builder
	b.Grow(len(body))
	for k := 0; k < len(body); k++ {
		c := body[k]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		k++
		if k >= len(body) {
			// Unreachable: a final backslash would have escaped the delimiter.
			return "", "unterminated escape sequence"
		}
		switch e := body[k]; e {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case ' ', '\\':
			// "\ " means a backslash: Falco keeps it for old, wrongly escaped rules.
			b.WriteByte('\\')
		case '/':
			b.WriteByte('/')
		case '"', '\'':
			if e != raw[0] {
				return "", fmt.Sprintf("invalid \\%c escape in %c-quoted string", e, raw[0])
			}
			b.WriteByte(e)
		default:
			return "", fmt.Sprintf("unsupported string escape sequence: \\%c", e)
		}
	}
	return b.String(), ""
}

// ---- grammar ----

func (p *parser) parseOr() Expr {
	return p.parseChain("or", p.parseAnd, func(pos Pos, c []Expr) Expr { return &Or{Pos: pos, Children: c} })
}

func (p *parser) parseAnd() Expr {
	return p.parseChain("and", p.parseNot, func(pos Pos, c []Expr) Expr { return &And{Pos: pos, Children: c} })
}

// parseChain parses operand (keyword operand)*: an operand right after the
// keyword must follow a blank or be parenthesised. One operand is returned
// as is; several are joined by build.
func (p *parser) parseChain(keyword string, operand func() Expr, build func(Pos, []Expr) Expr) Expr {
	p.enter()
	defer p.leave()
	p.blank()
	pos := p.pos()
	first := operand()
	p.blank()
	var children []Expr
	for p.lit(keyword) {
		var child Expr
		if !p.blank() {
			if !p.lit("(") {
				p.fail("expected blank or '(' after '%s'", keyword)
			}
			child = p.parseEmbedded()
		} else {
			child = operand()
		}
		if children == nil {
			children = []Expr{first}
		}
		children = append(children, child)
		p.blank()
	}
	if children == nil {
		return first
	}
	return build(pos, children)
}

// notBlank matches not[[:space:]]+.
func (p *parser) notBlank() bool {
	if !strings.HasPrefix(p.s[p.i:], "not") {
		return false
	}
	j := p.i + 3
	for j < len(p.s) && isSpace(p.s[j]) {
		j++
	}
	if j == p.i+3 {
		return false
	}
	p.i = j
	p.last = "not"
	return true
}

func (p *parser) parseNot() Expr {
	p.enter()
	defer p.leave()
	p.blank()
	pos := p.pos()
	neg := false
	for p.notBlank() {
		neg = !neg
	}
	var child Expr
	if p.lit("not(") {
		neg = !neg
		child = p.parseEmbedded()
	} else {
		child = p.parseCheck()
	}
	if neg {
		return &Not{Pos: pos, X: child}
	}
	return child
}

// parseEmbedded parses the rest of a parenthesised expression after its '('.
func (p *parser) parseEmbedded() Expr {
	p.enter()
	defer p.leave()
	p.blank()
	e := p.parseOr()
	p.blank()
	if !p.lit(")") {
		p.fail("expected a ')' token")
	}
	return e
}

var transformerTokens = [...]struct {
	tok string
	t   Transformer
}{
	{"tolower(", TransformToLower},
	{"toupper(", TransformToUpper},
	{"b64(", TransformB64},
	{"basename(", TransformBasename},
	{"len(", TransformLen},
}

// transformerOpen lexes "name(" for a transformer usable on either side, or
// join( (reported as TransformInvalid, isJoin true).
func (p *parser) transformerOpen() (t Transformer, isJoin, ok bool) {
	for _, tt := range transformerTokens {
		if p.lit(tt.tok) {
			return tt.t, false, true
		}
	}
	if p.lit("join(") {
		return TransformInvalid, true, true
	}
	return TransformInvalid, false, false
}

func (p *parser) parseCheck() Expr {
	p.enter()
	defer p.leave()
	p.blank()
	pos := p.pos()
	if p.lit("(") {
		return p.parseEmbedded()
	}
	if name, ok := p.fieldName(); ok {
		left := p.parseFieldRest(name, pos)
		return p.parseCondition(left, pos)
	}
	if t, isJoin, ok := p.transformerOpen(); ok {
		left := p.parseTransformerRest(t, isJoin, pos)
		return p.parseCondition(left, pos)
	}
	if name, ok := p.identifier(); ok {
		return &Identifier{Pos: pos, Name: name}
	}
	p.fail("expected a '(' token, a field check, or an identifier")
	return nil
}

func (p *parser) parseFieldRest(name string, pos Pos) *Field {
	f := &Field{Pos: pos, Name: name}
	if p.lit("[") {
		arg, ok := p.quoted()
		if !ok {
			arg, ok = p.fieldArgBare()
		}
		if !ok {
			p.fail("expected a valid field argument: a quoted string or a bare string")
		}
		f.Arg, f.HasArg = arg, true
		if !p.lit("]") {
			p.fail("expected a ']' token")
		}
	}
	return f
}

// parseTransformerRest parses what follows "name(" (or "join(").
func (p *parser) parseTransformerRest(t Transformer, isJoin bool, pos Pos) Operand {
	p.enter()
	defer p.leave()
	if isJoin {
		return p.parseJoinRest(pos)
	}
	p.blank()
	argPos := p.pos()
	var child Operand
	if name, ok := p.fieldName(); ok {
		child = p.parseFieldRest(name, argPos)
	} else if t2, isJoin2, ok := p.transformerOpen(); ok {
		child = p.parseTransformerRest(t2, isJoin2, argPos)
	} else {
		p.fail("expected a field or a nested valid transformer: 'val', 'tolower', 'toupper', 'b64', 'basename', 'len', 'join'")
	}
	p.blank()
	if !p.lit(")") {
		p.fail("expected a ')' token closing the transformer")
	}
	return &Transform{Pos: pos, Func: t, X: child}
}

// parseJoinRest parses `"sep", (item, ...))` after "join(".
func (p *parser) parseJoinRest(pos Pos) Operand {
	p.blank()
	sep, ok := p.quoted()
	if !ok {
		p.fail("expected a quoted separator string in join")
	}
	p.blank()
	if !p.lit(",") {
		p.fail("expected ',' after the join separator")
	}
	p.blank()
	if !p.lit("(") {
		p.fail("expected a '(' opening the list of join items")
	}
	j := &Join{Pos: pos, Sep: sep}
	p.blank()
	if !p.lit(")") {
		for {
			p.blank()
			j.Items = append(j.Items, p.parseJoinItem())
			p.blank()
			if p.lit(")") {
				break
			}
			if !p.lit(",") {
				p.fail("expected ',' or ')' in the list of join items")
			}
		}
	}
	p.blank()
	if !p.lit(")") {
		p.fail("expected a ')' token closing join")
	}
	return j
}

func (p *parser) parseJoinItem() JoinItem {
	pos := p.pos()
	if name, ok := p.fieldName(); ok {
		return JoinItem{Operand: p.parseFieldRest(name, pos)}
	}
	if t, isJoin, ok := p.transformerOpen(); ok {
		return JoinItem{Operand: p.parseTransformerRest(t, isJoin, pos)}
	}
	if s, ok := p.quoted(); ok {
		return JoinItem{Literal: &Literal{Pos: pos, Text: s, Quoted: true}}
	}
	if s, ok := p.number(); ok {
		return JoinItem{Literal: &Literal{Pos: pos, Text: s}}
	}
	p.fail("expected a field, a transformer, a quoted string or a number as join item")
	return JoinItem{}
}

var numOps = [...]struct {
	tok string
	op  Op
}{{"<=", OpLe}, {"<", OpLt}, {">=", OpGe}, {">", OpGt}}

// strOps: the symbolic ones first ("==" before "="); word operators must be
// followed by a blank, which wordOp checks.
var strSymOps = [...]struct {
	tok string
	op  Op
}{{"==", OpEq}, {"=", OpEq}, {"!=", OpNe}}

var strWordOps = [...]struct {
	tok string
	op  Op
}{
	{"glob", OpGlob}, {"iglob", OpIGlob}, {"contains", OpContains}, {"icontains", OpIContains},
	{"bcontains", OpBContains}, {"startswith", OpStartsWith}, {"bstartswith", OpBStartsWith},
	{"endswith", OpEndsWith}, {"regex", OpRegex},
}

var listOps = [...]struct {
	tok string
	op  Op
}{{"intersects", OpIntersects}, {"in", OpIn}, {"pmatch", OpPmatch}}

func (p *parser) parseCondition(left Operand, pos Pos) Expr {
	p.enter()
	defer p.leave()
	p.blank()
	if p.lit("exists") {
		return &Unary{Pos: pos, Left: left, Op: OpExists}
	}
	p.blank()
	for _, o := range numOps {
		if p.lit(o.tok) {
			return &Compare{Pos: pos, Left: left, Op: o.op, Right: p.parseNumValue()}
		}
	}
	for _, o := range strSymOps {
		if p.lit(o.tok) {
			return p.parseStrCompare(left, o.op, pos, false)
		}
	}
	for _, o := range strWordOps {
		if strings.HasPrefix(p.s[p.i:], o.tok) && p.i+len(o.tok) < len(p.s) && isBlank(p.s[p.i+len(o.tok)]) {
			p.i += len(o.tok)
			p.last = o.tok
			return p.parseStrCompare(left, o.op, pos, true)
		}
	}
	for _, o := range listOps {
		if p.lit(o.tok) {
			return &Compare{Pos: pos, Left: left, Op: o.op, Right: p.parseListValue()}
		}
	}
	p.fail("expected a valid check operator: one of 'exists', '<=', '<', '>=', '>', '==', '=', '!=', 'glob', 'iglob', 'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'regex', 'intersects', 'in', 'pmatch'")
	return nil
}

var quantWords = [...]struct {
	tok string
	q   Quant
}{{"oneof", QuantOneOf}, {"anyof", QuantAnyOf}, {"allof", QuantAllOf}}

// parseStrCompare parses the right side of a string operator, including the
// quantified form `op oneof|anyof|allof (list)` / `op oneof list_name`. The
// quantifier needs a blank before and after it; `oneof and ...` is the bare
// word "oneof" followed by `and`.
func (p *parser) parseStrCompare(left Operand, op Op, pos Pos, blankDone bool) Expr {
	if p.blank() {
		blankDone = true
	}
	if blankDone {
		for _, qw := range quantWords {
			if !strings.HasPrefix(p.s[p.i:], qw.tok) {
				continue
			}
			save, saveLast := p.i, p.last
			p.i += len(qw.tok)
			if p.blank() {
				vpos := p.pos()
				if p.lit("(") {
					return &Compare{Pos: pos, Left: left, Op: op, Quant: qw.q, Right: p.parseListRest(vpos)}
				}
				if name, ok := p.identifier(); ok && name != "and" && name != "or" {
					return &Compare{Pos: pos, Left: left, Op: op, Quant: qw.q, Right: &Literal{Pos: vpos, Text: name}}
				}
			}
			p.i, p.last = save, saveLast
			break
		}
	}
	return &Compare{Pos: pos, Left: left, Op: op, Right: p.parseStrValue()}
}

// tryOperandValue parses val(field) or a transformer/join expression as a
// right-hand value, or returns nil having consumed nothing.
func (p *parser) tryOperandValue() Value {
	pos := p.pos()
	if p.lit("val(") {
		p.blank()
		fpos := p.pos()
		name, ok := p.fieldName()
		if !ok {
			p.fail("expected a field within 'val' transformer")
		}
		f := p.parseFieldRest(name, fpos)
		p.blank()
		if !p.lit(")") {
			p.fail("expected a ')' token closing the transformer")
		}
		return &OperandValue{Pos: pos, X: &Transform{Pos: pos, Func: TransformVal, X: f}}
	}
	if t, isJoin, ok := p.transformerOpen(); ok {
		return &OperandValue{Pos: pos, X: p.parseTransformerRest(t, isJoin, pos)}
	}
	return nil
}

func (p *parser) parseNumValue() Value {
	p.enter()
	defer p.leave()
	p.blank()
	if v := p.tryOperandValue(); v != nil {
		return v
	}
	pos := p.pos()
	if s, ok := p.number(); ok {
		return &Literal{Pos: pos, Text: s}
	}
	p.fail("expected a number value or a field with a valid transformer")
	return nil
}

func (p *parser) parseStrValue() Value {
	p.enter()
	defer p.leave()
	p.blank()
	if v := p.tryOperandValue(); v != nil {
		return v
	}
	if l := p.strLiteral(); l != nil {
		return l
	}
	p.fail("expected a string value or a field with a valid transformer")
	return nil
}

// strLiteral lexes a quoted string or a bare word, or returns nil.
func (p *parser) strLiteral() *Literal {
	pos := p.pos()
	if s, ok := p.quoted(); ok {
		return &Literal{Pos: pos, Text: s, Quoted: true}
	}
	if s, ok := p.bareStr(); ok {
		return &Literal{Pos: pos, Text: s}
	}
	return nil
}

func (p *parser) parseListValue() Value {
	p.enter()
	defer p.leave()
	p.blank()
	pos := p.pos()
	if p.lit("(") {
		return p.parseListRest(pos)
	}
	if v := p.tryOperandValue(); v != nil {
		return v
	}
	if name, ok := p.identifier(); ok {
		return &Literal{Pos: pos, Text: name}
	}
	p.fail("expected a list, an identifier, or a field with a valid transformer")
	return nil
}

// parseListRest parses `a, b, "c")` after the '(' of a list at pos.
func (p *parser) parseListRest(pos Pos) *List {
	l := &List{Pos: pos}
	p.blank()
	if first := p.strLiteral(); first != nil {
		l.Items = append(l.Items, first)
		p.blank()
		for p.lit(",") {
			p.blank()
			item := p.strLiteral()
			if item == nil {
				p.fail("expected a string value")
			}
			l.Items = append(l.Items, item)
			p.blank()
		}
	}
	if !p.lit(")") {
		p.fail("expected a ')' token")
	}
	return l
}

// ---- positions ----

// linePos converts a byte offset in s to a Pos with 1-based Line and Col.
// Like libsinsp, both '\n' and '\r' start a new line.
func linePos(s string, off int) Pos {
	line, col := 1, 1
	for k := 0; k < off && k < len(s); k++ {
		if s[k] == '\n' || s[k] == '\r' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return Pos{Offset: off, Line: line, Col: col}
}

// fillLineCol sets Line/Col on every node from its Offset.
func fillLineCol(e Expr, s string) {
	var starts []int // offsets at which lines begin
	starts = append(starts, 0)
	for k := 0; k < len(s); k++ {
		if s[k] == '\n' || s[k] == '\r' {
			starts = append(starts, k+1)
		}
	}
	Rewrite(e, func(p Pos) Pos {
		l := sort.Search(len(starts), func(i int) bool { return starts[i] > p.Offset }) // first line start after
		p.Line = l
		p.Col = p.Offset - starts[l-1] + 1
		return p
	})
}
