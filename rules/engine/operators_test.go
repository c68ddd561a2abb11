package engine

import (
	"strings"
	"testing"

	"github.com/lannerhq/lanner/rules/condition"
	"github.com/lannerhq/lanner/rules/fields"
	"github.com/lannerhq/lanner/rules/synthetic"
)

func opEvent(reg *fields.Registry) *synthetic.Event {
	return synthetic.New(reg, fields.NewEventTypeTable(), "openat").
		Set("proc.name", "bash").
		Set("proc.cmdline", "bash -c 'cat /etc/shadow'").
		Set("proc.aname", []string{"sshd", "systemd"}).
		Set("proc.pid", 1234).
		Set("proc.tty", 34816).
		Set("user.uid", 0).
		Set("user.loginuid", -1).
		Set("fd.name", "/etc/shadow").
		Set("fd.typechar", "f").
		Set("fd.num", 3).
		Set("fd.sip", "10.1.2.3").
		Set("fd.cip", "192.168.0.5").
		Set("fd.sport", 443).
		Set("fd.cport", 51000).
		Set("evt.arg.flags", "O_RDONLY|O_CLOEXEC").
		Set("evt.rawres", 3).
		Set("evt.is_open_read", true).
		Set("evt.buffer", "\xca\xfe\xba\xbe\x00\x01").
		Set("proc.env[HOME]", "/root").
		Set("fd.types", []string{"file", "ipv4"}).
		Set("container.privileged", false)
}

func TestOperators(t *testing.T) {
	reg := fields.NewRegistry()
	ev := opEvent(reg)
	cases := []struct {
		cond string
		want bool
	}{
		// equality and missing-field semantics
		{"proc.name = bash", true},
		{"proc.name == bash", true},
		{"proc.name = sh", false},
		{"proc.name != sh", true},
		{"proc.name != bash", false},
		{"proc.pname = sshd", false},             // missing
		{"proc.pname != sshd", false},            // missing: != is false too
		{"not proc.pname = sshd", true},          // ...and negating gives true
		{"container.id != host", false},          // missing
		{"proc.exepath exists", false},           // missing
		{"proc.name exists", true},               // present
		{"user.uid exists", true},                //
		{"proc.cwd in (/, /root)", false},        // missing
		{"proc.cwd startswith /", false},         // missing
		{"container.privileged = false", true},   // bool present
		{"container.privileged != false", false}, //
		{"evt.is_open_read = true", true},        //
		{"evt.is_open_write = true", false},      // missing
		{"evt.is_open_read in (true)", true},     //
		// strings
		{"proc.cmdline contains shadow", true},
		{"proc.cmdline contains SHADOW", false},
		{"proc.cmdline icontains SHADOW", true},
		{"proc.cmdline startswith 'bash -c'", true},
		{"proc.cmdline endswith \"shadow'\"", true},
		{"fd.name bstartswith 2f657463", true},          // "/etc"
		{"evt.buffer bcontains cafebabe", true},         //
		{"evt.buffer bcontains cafebabf", false},        //
		{"evt.buffer bstartswith CAFE", true},           //
		{"fd.name in (/etc/passwd, /etc/shadow)", true}, //
		{"fd.name in (/etc/passwd)", false},             //
		{"fd.name in (a, b, c, d, e, f, g, h, /etc/shadow)", true},
		{"fd.name intersects (/etc/shadow)", true},
		{"proc.name = oneof (sh, bash)", true},
		{"proc.name startswith anyof (x, ba)", true},
		{"proc.name startswith allof (b, ba)", true},
		{"proc.name startswith allof (b, x)", false},
		// glob: fnmatch without FNM_PATHNAME, * crosses /
		{"fd.name glob '/etc/*'", true},
		{"fd.name glob '/*dow'", true},
		{"fd.name glob '/etc/sh?dow'", true},
		{"fd.name glob '/etc/[rs]hadow'", true},
		{"fd.name glob '/etc/[!s]hadow'", false},
		{"fd.name glob '/ETC/*'", false},
		{"fd.name iglob '/ETC/*'", true},
		{"fd.name glob '/etc'", false},
		// regex: RE2, whole-string match
		{"proc.name regex 'ba.h'", true},
		{"proc.name regex 'as'", false},
		{"proc.name regex '.*as.*'", true},
		// pmatch: whole path components
		{"fd.name pmatch (/etc)", true},
		{"fd.name pmatch (/etc/)", true},
		{"fd.name pmatch (/et)", false},
		{"fd.name pmatch (/etc/shadow)", true},
		{"fd.name pmatch (/usr, /var)", false},
		{"fd.name pmatch (/)", true},
		// numbers
		{"proc.pid = 1234", true},
		{"proc.pid > 1000", true},
		{"proc.pid <= 1000", false},
		{"proc.pid in (1, 2, 1234)", true},
		{"proc.pid in (1, 2, 3, 4, 5, 6, 7)", false},
		{"proc.tty != 0", true},
		{"user.loginuid = -1", true},
		{"user.loginuid < 0", true},
		{"user.uid = 0x0", true},
		{"evt.rawres >= 0", true},
		{"fd.num >= 0", true},
		{"fd.sport = 443", true},
		{"fd.sport in (80, 443)", true},
		{"fd.port = 51000", true}, // client or server
		{"fd.port = 22", false},
		{"proc.ppid = 1", false}, // missing
		{"proc.ppid != 1", false},
		// field arguments
		{"evt.arg.flags contains O_RDONLY", true},
		{"evt.arg[flags] contains O_RDONLY", true},
		{"evt.arg.mode contains S_ISUID", false},
		{"proc.env[HOME] = /root", true},
		{"proc.env[PATH] exists", false},
		// ancestors: without index, any ancestor
		{"proc.aname = systemd", true},
		{"proc.aname = sshd", true},
		{"proc.aname = bash", false},
		{"proc.aname[1] = sshd", true},
		{"proc.aname[2] = systemd", true},
		{"proc.aname[2] = sshd", false},
		{"proc.aname[3] = init", false},
		{"proc.aname in (cron, systemd)", true},
		{"proc.aname startswith ssh", true},
		// true list field: in means every value, intersects any
		{"fd.types in (file, ipv4, ipv6)", true},
		{"fd.types in (file)", false},
		{"fd.types intersects (file)", true},
		{"fd.types[1] = ipv4", true},
		// IP addresses and networks
		{"fd.sip = 10.1.2.3", true},
		{"fd.sip = '10.1.2.4'", false},
		{"fd.sip in (10.1.2.3, 10.1.2.4)", true},
		{"fd.ip = 192.168.0.5", true},
		{"fd.ip != 0.0.0.0", true},
		{"fd.snet = 10.0.0.0/8", true},
		{"fd.snet in (172.16.0.0/12, 192.168.0.0/16)", false},
		{"fd.cnet in (172.16.0.0/12, 192.168.0.0/16)", true},
		{"fd.net = 192.168.0.0/16", true},
		{"fd.net != 127.0.0.0/8", true},
		{"fd.rnet = 10.0.0.0/8", false}, // missing
		{"fd.lip exists", false},
		// transformers and val()
		{"toupper(proc.name) = BASH", true},
		{"tolower(toupper(proc.name)) = bash", true},
		{"basename(fd.name) = shadow", true},
		{"len(proc.name) = 4", true},
		{"len(proc.name) > 4", false},
		{"b64(proc.env[B]) exists", false},
		{"proc.name = val(proc.name)", true},
		{"proc.name = val(proc.pname)", false},  // right side missing
		{"proc.name != val(proc.pname)", false}, // ...still false
		{"proc.pid = val(proc.pid)", true},
		{"fd.name startswith val(fd.directory)", true},
		{"basename(fd.name) = val(fd.filename)", true},
		{"fd.name = join('/', ('', 'etc', 'shadow'))", true},
		// event type and direction
		{"evt.type = openat", true},
		{"evt.type in (open, openat)", true},
		{"evt.type != openat", false},
		{"evt.type startswith open", true},
		{"evt.dir = <", true},
		{"evt.dir = >", false},
		{"evt.source = syscall", true},
	}
	for _, c := range cases {
		expr, err := condition.Parse(c.cond)
		if err != nil {
			t.Errorf("%s: parse: %v", c.cond, err)
			continue
		}
		fn, probs := CompileCondition(expr, reg)
		if fn == nil {
			t.Errorf("%s: compile: %v", c.cond, probs)
			continue
		}
		if got := fn(ev); got != c.want {
			t.Errorf("%s = %v, want %v", c.cond, got, c.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	reg := fields.NewRegistry()
	cases := []struct{ cond, msg string }{
		{"proc.nme = bash", `unknown field "proc.nme"`},
		{"proc.pid = abc", "needs a number"},
		{"proc.pid contains 1", "operator contains is not supported on field proc.pid of type INT64"},
		{"proc.name regex '('", "bad regular expression"},
		{"evt.buffer bcontains xyz", "hex byte string"},
		{"container.privileged = maybe", "needs true or false"},
		{"fd.sip = not-an-ip", "needs an IP address"},
		{"fd.snet = 10.0.0.0/33", "needs an IP address or network"},
		{"fd.sip glob '10.*'", "operator glob is not supported"},
		{"proc.aname[x] = a", "not a non-negative index"},
		{"evt.arg = a", "requires an argument"},
		{"proc.name[2] = a", "does not take an argument"},
		{"len(proc.pid) = 1", "transformer len does not apply"},
		{"proc.pid = val(proc.name)", "cannot compare"},
		{"proc.name in val(proc.pname)", "cannot take a field"},
	}
	for _, c := range cases {
		expr, err := condition.Parse(c.cond)
		if err != nil {
			t.Errorf("%s: parse: %v", c.cond, err)
			continue
		}
		fn, probs := CompileCondition(expr, reg)
		if fn != nil {
			t.Errorf("%s: compiled, want error %q", c.cond, c.msg)
			continue
		}
		var all []string
		for _, p := range probs {
			all = append(all, p.String())
		}
		if !strings.Contains(strings.Join(all, "\n"), c.msg) {
			t.Errorf("%s: problems %q, want one containing %q", c.cond, all, c.msg)
		}
	}
}

func TestAllErrorsReported(t *testing.T) {
	expr, err := condition.Parse("proc.nme = a and fd.nam = b or proc.pid = x")
	if err != nil {
		t.Fatal(err)
	}
	_, probs := CompileCondition(expr, nil)
	if len(probs) != 3 {
		t.Fatalf("got %d problems, want 3: %v", len(probs), probs)
	}
	if probs[1].Pos.Col != 18 {
		t.Errorf("second problem at col %d, want 18: %v", probs[1].Pos.Col, probs[1])
	}
}
