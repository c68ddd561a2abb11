package condition

import (
	"fmt"
	"strings"
	"testing"
)

// sexpr dumps a tree as an S-expression that shows its structure exactly.
func sexpr(n Node) string {
	switch n := n.(type) {
	case *And:
		return "(and " + sexprs(n.Children) + ")"
	case *Or:
		return "(or " + sexprs(n.Children) + ")"
	case *Not:
		return "(not " + sexpr(n.X) + ")"
	case *Identifier:
		return "(id " + n.Name + ")"
	case *Unary:
		return "(" + n.Op.String() + " " + sexpr(n.Left) + ")"
	case *Compare:
		q := ""
		if n.Quant != QuantNone {
			q = " " + n.Quant.String()
		}
		return "(" + n.Op.String() + q + " " + sexpr(n.Left) + " " + sexpr(n.Right) + ")"
	case *Field:
		if n.HasArg {
			return fmt.Sprintf("%s[%q]", n.Name, n.Arg)
		}
		return n.Name
	case *Transform:
		return n.Func.String() + "(" + sexpr(n.X) + ")"
	case *Join:
		var parts []string
		for _, it := range n.Items {
			if it.Operand != nil {
				parts = append(parts, sexpr(it.Operand))
			} else {
				parts = append(parts, sexpr(it.Literal))
			}
		}
		return fmt.Sprintf("join(%q, %s)", n.Sep, strings.Join(parts, " "))
	case *Literal:
		if n.Quoted {
			return fmt.Sprintf("%q", n.Text)
		}
		return "'" + n.Text
	case *List:
		var parts []string
		for _, it := range n.Items {
			parts = append(parts, sexpr(it))
		}
		return "[" + strings.Join(parts, " ") + "]"
	case *OperandValue:
		return "val:" + sexpr(n.X)
	}
	return fmt.Sprintf("?%T", n)
}

func sexprs(es []Expr) string {
	var parts []string
	for _, e := range es {
		parts = append(parts, sexpr(e))
	}
	return strings.Join(parts, " ")
}

func TestParseTree(t *testing.T) {
	cases := []struct{ in, want string }{
		{"a or b and not c", "(or (id a) (and (id b) (not (id c))))"},
		{"a and b and c or d", "(or (and (id a) (id b) (id c)) (id d))"},
		{"(a or b) and c", "(and (or (id a) (id b)) (id c))"},
		{"not not a", "(id a)"},
		{"not (not a)", "(not (not (id a)))"},
		{"not a.b=1", "(not (= a.b '1))"},
		{"a.b == 'x y' and c.d != \"q\\\"r\"", `(and (= a.b "x y") (!= c.d "q\"r"))`},
		{"proc.aname[2] startswith sh", "(startswith proc.aname[\"2\"] 'sh)"},
		{"proc.env['MY VAR'] exists", "(exists proc.env[\"MY VAR\"])"},
		{"evt.arg.flags contains O_TRUNC", "(contains evt.arg.flags 'O_TRUNC)"},
		{"fd.num >= -1.5e+3", "(>= fd.num '-1.5e+3)"},
		{"fd.port < 0x1F", "(< fd.port '0x1F)"},
		{"proc.name in (bash, 'sh', shells)", `(in proc.name ['bash "sh" 'shells])`},
		{"proc.name in shells", "(in proc.name 'shells)"},
		{"proc.name in ()", "(in proc.name [])"},
		{"fd.name pmatch (/etc, /usr)", "(pmatch fd.name ['/etc '/usr])"},
		{"proc.name = val(proc.pname)", "(= proc.name val:val(proc.pname))"},
		{"tolower(proc.name) = toupper(b64(fd.name))", "(= tolower(proc.name) val:toupper(b64(fd.name)))"},
		{"len(proc.args) > 10", "(> len(proc.args) '10)"},
		{"basename(fd.name) regex '^a.*'", `(regex basename(fd.name) "^a.*")`},
		{`join("-", (fd.name, "x", 3, tolower(proc.name))) = a`, `(= join("-", fd.name "x" '3 tolower(proc.name)) 'a)`},
		{"proc.name = oneof (a, b)", "(= oneof proc.name ['a 'b])"},
		{"proc.name contains allof lst", "(contains allof proc.name 'lst)"},
		{"proc.name = oneof and x", "(and (= proc.name 'oneof) (id x))"},
		{"test.op existsand macro", "(and (exists test.op) (id macro))"},
		{"a.b = not", "(= a.b 'not)"},
	}
	for _, c := range cases {
		e, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if got := sexpr(e); got != c.want {
			t.Errorf("Parse(%q):\n got %s\nwant %s", c.in, got, c.want)
		}
		checkRoundTrip(t, c.in, e)
	}
}

func TestParsePositions(t *testing.T) {
	in := "proc.name = a and\n  not fd.name in (x, \"y\")"
	e, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	Inspect(e, func(n Node) bool {
		p := n.Position()
		got = append(got, fmt.Sprintf("%T@%d:%d:%d", n, p.Offset, p.Line, p.Col))
		return true
	})
	want := []string{
		"*condition.And@0:1:1", "*condition.Compare@0:1:1", "*condition.Field@0:1:1", "*condition.Literal@12:1:13",
		"*condition.Not@20:2:3", "*condition.Compare@24:2:7", "*condition.Field@24:2:7", "*condition.List@35:2:18",
		"*condition.Literal@36:2:19", "*condition.Literal@39:2:22",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("positions:\n got %v\nwant %v", got, want)
	}
}

func TestSyntaxErrorPositions(t *testing.T) {
	cases := []struct{ in, want string }{
		{"a and", "1:6: expected blank or '(' after 'and'"},
		{"proc.name = a and\n  (b", "2:5: expected a ')' token"},
		{"proc.name startswithx", "1:11: expected a valid check operator: one of 'exists', '<=', '<', '>=', '>', '==', '=', '!=', 'glob', 'iglob', 'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'regex', 'intersects', 'in', 'pmatch'"},
		{`a.b = "x\q"`, `1:7: unsupported string escape sequence: \q`},
		{"", "1:1: condition is empty"},
		{"a b", "1:3: unexpected token after 'a', expecting 'or', 'and'"},
	}
	for _, c := range cases {
		_, err := Parse(c.in)
		if err == nil || err.Error() != c.want {
			t.Errorf("Parse(%q): got %v, want %s", c.in, err, c.want)
		}
	}
}

func TestQuote(t *testing.T) {
	for _, s := range []string{"", "a b", `q"q`, `back\slash`, `trailing\`, "nl\n\ttab", "it's"} {
		e, err := Parse("a.b = " + Quote(s))
		if err != nil {
			t.Errorf("Quote(%q) = %s: %v", s, Quote(s), err)
			continue
		}
		if got := e.(*Compare).Right.(*Literal).Text; got != s {
			t.Errorf("Quote(%q) = %s parses back as %q", s, Quote(s), got)
		}
	}
}

func TestDepthLimit(t *testing.T) {
	deep := strings.Repeat("(", 5000) + "a" + strings.Repeat(")", 5000)
	if _, err := Parse(deep); err == nil || !strings.Contains(err.Error(), "max depth") {
		t.Errorf("deep nesting: got %v", err)
	}
}
