package condition

// Node is any node of the tree: an Expr, an Operand or a Value.
type Node interface{ Position() Pos }

// Inspect walks the tree rooted at n depth-first, calling f for every node
// (Exprs, Operands and Values, including each *Literal of a *List and of a
// *Join). When f returns false the node's children are skipped.
func Inspect(n Node, f func(Node) bool) {
	if n == nil || !f(n) {
		return
	}
	switch n := n.(type) {
	case *And:
		for _, c := range n.Children {
			Inspect(c, f)
		}
	case *Or:
		for _, c := range n.Children {
			Inspect(c, f)
		}
	case *Not:
		Inspect(n.X, f)
	case *Unary:
		Inspect(n.Left, f)
	case *Compare:
		Inspect(n.Left, f)
		Inspect(n.Right, f)
	case *Transform:
		Inspect(n.X, f)
	case *Join:
		for _, it := range n.Items {
			if it.Operand != nil {
				Inspect(it.Operand, f)
			} else if it.Literal != nil {
				Inspect(it.Literal, f)
			}
		}
	case *List:
		for _, it := range n.Items {
			Inspect(it, f)
		}
	case *OperandValue:
		Inspect(n.X, f)
	}
}

// Rewrite replaces every node's Pos with f(Pos), in place.
func Rewrite(n Node, f func(Pos) Pos) {
	Inspect(n, func(n Node) bool {
		switch n := n.(type) {
		case *And:
			n.Pos = f(n.Pos)
		case *Or:
			n.Pos = f(n.Pos)
		case *Not:
			n.Pos = f(n.Pos)
		case *Identifier:
			n.Pos = f(n.Pos)
		case *Unary:
			n.Pos = f(n.Pos)
		case *Compare:
			n.Pos = f(n.Pos)
		case *Field:
			n.Pos = f(n.Pos)
		case *Transform:
			n.Pos = f(n.Pos)
		case *Join:
			n.Pos = f(n.Pos)
		case *Literal:
			n.Pos = f(n.Pos)
		case *List:
			n.Pos = f(n.Pos)
		case *OperandValue:
			n.Pos = f(n.Pos)
		}
		return true
	})
}

// Clone returns a deep copy of e (macro expansion copies a macro's tree into
// every place it is used, so later rewrites of one copy leave the others be).
func Clone(e Expr) Expr {
	switch e := e.(type) {
	case *And:
		c := &And{Pos: e.Pos, Children: make([]Expr, len(e.Children))}
		for i, ch := range e.Children {
			c.Children[i] = Clone(ch)
		}
		return c
	case *Or:
		c := &Or{Pos: e.Pos, Children: make([]Expr, len(e.Children))}
		for i, ch := range e.Children {
			c.Children[i] = Clone(ch)
		}
		return c
	case *Not:
		return &Not{Pos: e.Pos, X: Clone(e.X)}
	case *Identifier:
		c := *e
		return &c
	case *Unary:
		return &Unary{Pos: e.Pos, Left: cloneOperand(e.Left), Op: e.Op}
	case *Compare:
		return &Compare{Pos: e.Pos, Left: cloneOperand(e.Left), Op: e.Op, Quant: e.Quant, Right: cloneValue(e.Right)}
	}
	return e
}

func cloneOperand(o Operand) Operand {
	switch o := o.(type) {
	case *Field:
		c := *o
		return &c
	case *Transform:
		return &Transform{Pos: o.Pos, Func: o.Func, X: cloneOperand(o.X)}
	case *Join:
		c := &Join{Pos: o.Pos, Sep: o.Sep, Items: make([]JoinItem, len(o.Items))}
		for i, it := range o.Items {
			if it.Operand != nil {
				c.Items[i].Operand = cloneOperand(it.Operand)
			}
			if it.Literal != nil {
				l := *it.Literal
				c.Items[i].Literal = &l
			}
		}
		return c
	}
	return o
}

func cloneValue(v Value) Value {
	switch v := v.(type) {
	case *Literal:
		c := *v
		return &c
	case *List:
		c := &List{Pos: v.Pos, Items: make([]*Literal, len(v.Items))}
		for i, it := range v.Items {
			l := *it
			c.Items[i] = &l
		}
		return c
	case *OperandValue:
		return &OperandValue{Pos: v.Pos, X: cloneOperand(v.X)}
	}
	return v
}
