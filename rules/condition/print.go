package condition

import (
	"strings"
)

// String prints a node in canonical form: Parse(String(e)) yields a tree
// equal to e (see Equal). Quoted literals stay quoted; a bare literal that
// could not be lexed back as a bare word (one built by the loader from a list
// item, say) is printed quoted.
func String(n Node) string {
	var b strings.Builder
	printNode(&b, n)
	return b.String()
}

func printNode(b *strings.Builder, n Node) {
	switch n := n.(type) {
	case *And:
		for i, c := range n.Children {
			if i > 0 {
				b.WriteString(" and ")
			}
			printChild(b, c, func(e Expr) bool { _, isOr := e.(*Or); _, isAnd := e.(*And); return isOr || isAnd })
		}
	case *Or:
		for i, c := range n.Children {
			if i > 0 {
				b.WriteString(" or ")
			}
			// And binds tighter, but parentheses make the intent plain.
			printChild(b, c, func(e Expr) bool { _, isOr := e.(*Or); _, isAnd := e.(*And); return isOr || isAnd })
		}
	case *Not:
		b.WriteString("not ")
		printChild(b, n.X, func(e Expr) bool {
			switch e.(type) {
			case *Compare, *Unary, *Identifier:
				return false
			}
			return true
		})
	case *Identifier:
		b.WriteString(n.Name)
	case *Unary:
		printNode(b, n.Left)
		b.WriteString(" ")
		b.WriteString(n.Op.String())
	case *Compare:
		printNode(b, n.Left)
		b.WriteString(" ")
		b.WriteString(n.Op.String())
		b.WriteString(" ")
		if n.Quant != QuantNone {
			b.WriteString(n.Quant.String())
			b.WriteString(" ")
		}
		printNode(b, n.Right)
	case *Field:
		b.WriteString(n.Name)
		if n.HasArg {
			b.WriteString("[")
			if isBareArg(n.Arg) {
				b.WriteString(n.Arg)
			} else {
				b.WriteString(Quote(n.Arg))
			}
			b.WriteString("]")
		}
	case *Transform:
		b.WriteString(n.Func.String())
		b.WriteString("(")
		printNode(b, n.X)
		b.WriteString(")")
	case *Join:
		b.WriteString("join(")
		b.WriteString(Quote(n.Sep))
		b.WriteString(", (")
		for i, it := range n.Items {
			if i > 0 {
				b.WriteString(", ")
			}
			if it.Operand != nil {
				printNode(b, it.Operand)
			} else if it.Literal != nil {
				if it.Literal.Quoted || numLen(it.Literal.Text, 0) != len(it.Literal.Text) {
					b.WriteString(Quote(it.Literal.Text))
				} else {
					b.WriteString(it.Literal.Text)
				}
			}
		}
		b.WriteString("))")
	case *Literal:
		if n.Quoted || !isBareWord(n.Text) {
			b.WriteString(Quote(n.Text))
		} else {
			b.WriteString(n.Text)
		}
	case *List:
		b.WriteString("(")
		for i, it := range n.Items {
			if i > 0 {
				b.WriteString(", ")
			}
			printNode(b, it)
		}
		b.WriteString(")")
	case *OperandValue:
		printNode(b, n.X)
	}
}

func printChild(b *strings.Builder, e Expr, paren func(Expr) bool) {
	if paren(e) {
		b.WriteString("(")
		printNode(b, e)
		b.WriteString(")")
		return
	}
	printNode(b, e)
}

// isBareWord reports whether s lexes back, whole, as a bare string.
func isBareWord(s string) bool {
	p := parser{s: s}
	t, ok := p.bareStr()
	return ok && t == s
}

func isBareArg(s string) bool {
	if s == "" {
		return false
	}
	p := parser{s: s}
	t, ok := p.fieldArgBare()
	return ok && t == s
}

// Quote returns s as a double-quoted condition string. A trailing backslash
// is written as `\ ` because libsinsp's lexer cannot end a string on `\\"`.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for k := 0; k < len(s); k++ {
		switch c := s[k]; c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			if k == len(s)-1 {
				b.WriteString(`\ `)
			} else {
				b.WriteString(`\\`)
			}
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Equal reports whether two trees are the same, ignoring positions.
func Equal(a, b Node) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	switch a := a.(type) {
	case *And:
		b, ok := b.(*And)
		return ok && equalExprs(a.Children, b.Children)
	case *Or:
		b, ok := b.(*Or)
		return ok && equalExprs(a.Children, b.Children)
	case *Not:
		b, ok := b.(*Not)
		return ok && Equal(a.X, b.X)
	case *Identifier:
		b, ok := b.(*Identifier)
		return ok && a.Name == b.Name
	case *Unary:
		b, ok := b.(*Unary)
		return ok && a.Op == b.Op && Equal(a.Left, b.Left)
	case *Compare:
		b, ok := b.(*Compare)
		return ok && a.Op == b.Op && a.Quant == b.Quant && Equal(a.Left, b.Left) && Equal(a.Right, b.Right)
	case *Field:
		b, ok := b.(*Field)
		return ok && a.Name == b.Name && a.Arg == b.Arg && a.HasArg == b.HasArg
	case *Transform:
		b, ok := b.(*Transform)
		return ok && a.Func == b.Func && Equal(a.X, b.X)
	case *Join:
		b, ok := b.(*Join)
		if !ok || a.Sep != b.Sep || len(a.Items) != len(b.Items) {
			return false
		}
		for i := range a.Items {
			x, y := a.Items[i], b.Items[i]
			if (x.Operand == nil) != (y.Operand == nil) || (x.Literal == nil) != (y.Literal == nil) {
				return false
			}
			if x.Operand != nil && !Equal(x.Operand, y.Operand) {
				return false
			}
			if x.Literal != nil && x.Literal.Text != y.Literal.Text {
				return false
			}
		}
		return true
	case *Literal:
		b, ok := b.(*Literal)
		return ok && a.Text == b.Text && a.Quoted == b.Quoted
	case *List:
		b, ok := b.(*List)
		if !ok || len(a.Items) != len(b.Items) {
			return false
		}
		for i := range a.Items {
			if !Equal(a.Items[i], b.Items[i]) {
				return false
			}
		}
		return true
	case *OperandValue:
		b, ok := b.(*OperandValue)
		return ok && Equal(a.X, b.X)
	}
	return false
}

func equalExprs(a, b []Expr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
