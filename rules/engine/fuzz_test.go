package engine

import (
	"testing"

	"github.com/lannerhq/lanner/rules/condition"
	"github.com/lannerhq/lanner/rules/fields"
)

// FuzzCompileCondition feeds arbitrary conditions through the parser and the
// compiler and evaluates what compiles: nothing may panic.
func FuzzCompileCondition(f *testing.F) {
	for _, s := range []string{
		"proc.name = bash",
		"evt.type in (open, openat) and not proc.aname[2] glob '*sh'",
		"fd.snet in (10.0.0.0/8, 'fe80::/10') or fd.port > 1024",
		"toupper(proc.name) = val(proc.pname) and len(fd.name) >= 3",
		"proc.name startswith allof (a, b) and evt.buffer bcontains 0a0b",
		"fd.name pmatch (/, /etc) and proc.cmdline regex '(a|b)+' and fd.name iglob '[!a-z]*'",
		"join(',', (proc.name, 'x', 1)) = 'a,x,1'",
		"evt.arg.flags contains O_TRUNC and evt.arg[0] exists",
	} {
		f.Add(s)
	}
	reg := fields.NewRegistry()
	ev := opEvent(reg)
	f.Fuzz(func(t *testing.T, s string) {
		expr, err := condition.Parse(s)
		if err != nil {
			return
		}
		fn, _ := CompileCondition(expr, reg)
		if fn != nil {
			fn(ev)
		}
	})
}

// FuzzOutputFormat checks the output-format parser and the formatter.
func FuzzOutputFormat(f *testing.F) {
	for _, s := range []string{"a %proc.name b", "%(fd.name)%", "%proc.aname[2", "%evt.arg.flags.", "%%", "%(x", "%fd.sip%fd.sport %proc.env[HOME]"} {
		f.Add(s)
	}
	reg := fields.NewRegistry()
	ev := opEvent(reg)
	e := &Engine{reg: reg}
	f.Fuzz(func(t *testing.T, s string) {
		cc := &condCompiler{reg: reg, types: fields.NewEventTypeTable()}
		out := compileOutput(cc, s, nil, condition.Pos{})
		e.Alert(&Rule{Name: "r", out: out}, ev, AlertMeta{Time: alertTime})
	})
}

// FuzzGlob checks the glob matcher on arbitrary patterns: no panic, and a
// pattern without metacharacters matches exactly itself.
func FuzzGlob(f *testing.F) {
	f.Add("/etc/*", "/etc/passwd")
	f.Add("[a-", "[a-")
	f.Add("\\*x", "*x")
	f.Add("[!]]*", "a]")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		// iglob is glob on lower-cased text (ASCII)
		lp, ls := asciiLower(pattern), asciiLower(s)
		if globMatch(lp, s, true) != globMatch(lp, ls, false) {
			t.Errorf("iglob %q on %q differs from glob on lower case", pattern, s)
		}
		plain := true
		for i := 0; i < len(pattern); i++ {
			switch pattern[i] {
			case '*', '?', '[', '\\':
				plain = false
			}
		}
		if plain && globMatch(pattern, s, false) != (pattern == s) {
			t.Errorf("glob %q on %q", pattern, s)
		}
	})
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lowerASCII(c)
	}
	return string(b)
}
