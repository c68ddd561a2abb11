package detect

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/lannerhq/lanner/agent/capture"
	"github.com/lannerhq/lanner/agent/state"
	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/rules/engine"
	"github.com/lannerhq/lanner/rules/loader"
)

func officialEngine(t testing.TB) *engine.Engine {
	t.Helper()
	path := filepath.Join("..", "..", "..", "shared", "testdata", "falco", "falco_rules.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("official rules not found: %v", err)
	}
	rs, problems := loader.Load(loader.Source{Name: "falco_rules.yaml", Data: data})
	if loader.HasErrors(problems) {
		t.Fatalf("load: %v", problems)
	}
	eng, cproblems := engine.Compile(rs, engine.Options{})
	for _, p := range cproblems {
		if p.Severity == loader.SeverityError {
			t.Fatalf("compile: %v", p)
		}
	}
	return eng
}

// host builds a small process tree: systemd(1) → sshd(100) → bash(200).
func host(t testing.TB) (*state.Table, *state.Users) {
	tab := state.NewTable(0)
	add := func(pid, ppid uint32, comm, exe string, args ...string) {
		p := &state.Process{Pid: pid, PPid: ppid, VPid: pid, Comm: comm, ExePath: exe, Cwd: "/root",
			Sid: 200, Pgid: pid, VPgid: pid, LoginUID: 0, TTY: 34816}
		p.Container = state.ContainerFromCgroup("/")
		p.SetCmd(exe, args)
		tab.Put(pid, p)
	}
	add(1, 0, "systemd", "/usr/lib/systemd/systemd")
	add(100, 1, "sshd", "/usr/sbin/sshd", "-D")
	add(200, 100, "bash", "/usr/bin/bash")
	add(300, 1, "nginx", "/usr/sbin/nginx")
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "etc/group"), []byte("root:x:0:\n"), 0o644)
	users, err := state.NewUsers(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tab, users
}

func nr(t testing.TB, name string) uint16 {
	n, ok := capture.SyscallNumber(name)
	if !ok {
		t.Fatalf("no syscall %s", name)
	}
	return uint16(n)
}

func nul(args ...string) []byte {
	var b []byte
	for _, a := range args {
		b = append(append(b, a...), 0)
	}
	return b
}

// exec returns the record of pid (child of ppid) executing argv.
func execEvent(t testing.TB, pid, ppid uint32, exe string, flags capture.Flags, argv ...string) *capture.Event {
	comm := filepath.Base(exe)
	if len(comm) > 15 {
		comm = comm[:15]
	}
	return &capture.Event{Kind: capture.KindExec, Syscall: nr(t, "execve"), Flags: flags,
		TID: pid, PID: pid, PPID: ppid, LoginUID: 0, TTY: 34816, Comm: []byte(comm),
		Path: []byte(exe), Exe: []byte(exe), Argv: nul(argv...), Cwd: []byte("/root"), Cgroup: []byte("/")}
}

func sys(t testing.TB, pid uint32, comm, name string, ret int64, path, path2 string, args ...uint64) *capture.Event {
	ce := &capture.Event{Kind: capture.KindSyscall, Syscall: nr(t, name), TID: pid, PID: pid,
		Comm: []byte(comm), Ret: ret, LoginUID: 0, TTY: 34816, Time: time.Now().UnixNano()}
	copy(ce.Args[:], args)
	if path != "" {
		ce.Path = []byte(path)
	}
	if path2 != "" {
		ce.Path2 = []byte(path2)
	}
	return ce
}

const atFDCWD = ^uint64(99) // -100 as the kernel passes it

func TestOfficialRulesFire(t *testing.T) {
	eng := officialEngine(t)
	tests := []struct {
		name   string
		events func(t testing.TB) []*capture.Event
		rule   string
		fields map[string]any
	}{
		{"cat reads /etc/shadow", func(t testing.TB) []*capture.Event {
			return []*capture.Event{
				execEvent(t, 400, 200, "/usr/bin/cat", 0, "cat", "/etc/shadow"),
				sys(t, 400, "cat", "openat", 3, "/etc/shadow", "", atFDCWD, 0, syscall.O_RDONLY),
			}
		}, "Read sensitive file untrusted", map[string]any{"fd.name": "/etc/shadow", "proc.name": "cat"}},
		{"directory traversal", func(t testing.TB) []*capture.Event {
			return []*capture.Event{
				execEvent(t, 401, 300, "/usr/bin/python3", 0, "python3", "x.py"),
				sys(t, 401, "python3", "openat", 4, "/var/www/../../etc/../etc/shadow", "", atFDCWD, 0, syscall.O_RDONLY),
			}
		}, "Directory traversal monitored file read", map[string]any{"fd.name": "/etc/shadow"}},
		{"nginx spawns a shell", func(t testing.TB) []*capture.Event {
			return []*capture.Event{execEvent(t, 402, 300, "/bin/sh", 0, "sh", "-c", "id")}
		}, "Run shell untrusted", map[string]any{"proc.pname": "nginx"}},
		{"ptrace attach", func(t testing.TB) []*capture.Event {
			return []*capture.Event{
				execEvent(t, 403, 200, "/tmp/inject", 0, "inject"),
				sys(t, 403, "inject", "ptrace", 0, "", "", 16 /* PTRACE_ATTACH */, 200),
			}
		}, "PTRACE attached to process", nil},
		{"ptrace traceme", func(t testing.TB) []*capture.Event {
			return []*capture.Event{
				execEvent(t, 404, 200, "/tmp/anti", 0, "anti"),
				sys(t, 404, "anti", "ptrace", 0, "", "", 0 /* PTRACE_TRACEME */),
			}
		}, "PTRACE anti-debug attempt", nil},
		{"exec from /dev/shm", func(t testing.TB) []*capture.Event {
			return []*capture.Event{execEvent(t, 405, 200, "/dev/shm/payload", 0, "/dev/shm/payload")}
		}, "Execution from /dev/shm", nil},
		{"fileless memfd exec", func(t testing.TB) []*capture.Event {
			ev := execEvent(t, 406, 200, "memfd:x", capture.FlagExeMemfd|capture.FlagExePseudo, "x")
			return []*capture.Event{ev}
		}, "Fileless execution via memfd_create", nil},
		{"symlink over /etc/shadow", func(t testing.TB) []*capture.Event {
			return []*capture.Event{
				execEvent(t, 407, 200, "/usr/bin/ln", 0, "ln", "-s", "/etc/shadow", "/tmp/s"),
				sys(t, 407, "ln", "symlinkat", 0, "/etc/shadow", "/tmp/s", 0, atFDCWD),
			}
		}, "Create Symlink Over Sensitive Files", nil},
		{"hardlink over /etc/shadow", func(t testing.TB) []*capture.Event {
			return []*capture.Event{
				execEvent(t, 408, 200, "/usr/bin/ln", 0, "ln", "/etc/shadow", "/tmp/h"),
				sys(t, 408, "ln", "linkat", 0, "/etc/shadow", "/tmp/h", atFDCWD, 0, atFDCWD),
			}
		}, "Create Hardlink Over Sensitive Files", nil},
		{"truncate a log", func(t testing.TB) []*capture.Event {
			return []*capture.Event{
				execEvent(t, 409, 200, "/usr/bin/python3", 0, "python3"),
				sys(t, 409, "python3", "openat", 3, "/var/log/auth.log", "", atFDCWD, 0, syscall.O_WRONLY|syscall.O_TRUNC),
			}
		}, "Clear Log Activities", map[string]any{"fd.name": "/var/log/auth.log"}},
		{"find private keys", func(t testing.TB) []*capture.Event {
			return []*capture.Event{execEvent(t, 410, 200, "/usr/bin/find", 0, "find", "/", "-name", "id_rsa")}
		}, "Search Private Keys or Passwords", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, users := host(t)
			var got []*alert.Alert
			p := New(Config{Engine: eng, Table: tab, Users: users, Hostname: "node-1", AllMatches: true,
				Emit: func(a *alert.Alert) { got = append(got, a) }})
			for _, ev := range tt.events(t) {
				if err := p.Handle(ev); err != nil {
					t.Fatal(err)
				}
			}
			var names []string
			for _, a := range got {
				names = append(names, a.Rule)
				if a.Rule != tt.rule {
					continue
				}
				for k, want := range tt.fields {
					if v, _ := a.OutputFields.Get(k); v.String() != alert.FieldString(want) {
						t.Errorf("%s = %v, want %v", k, v, want)
					}
				}
				if a.Hostname != "node-1" || a.UUID == "" {
					t.Errorf("alert meta: %+v", a)
				}
			}
			if !slices.Contains(names, tt.rule) {
				t.Fatalf("rule %q did not fire; fired: %q", tt.rule, names)
			}
		})
	}
}

func TestNearMissesDoNotFire(t *testing.T) {
	eng := officialEngine(t)
	tab, users := host(t)
	var got []string
	p := New(Config{Engine: eng, Table: tab, Users: users, AllMatches: true,
		Emit: func(a *alert.Alert) { got = append(got, a.Rule) }})
	for _, ev := range []*capture.Event{
		execEvent(t, 500, 200, "/usr/bin/cat", 0, "cat", "/etc/hostname"),
		sys(t, 500, "cat", "openat", 3, "/etc/hostname", "", atFDCWD, 0, syscall.O_RDONLY),
		sys(t, 500, "cat", "openat", -2, "/etc/shadow", "", atFDCWD, 0, syscall.O_RDONLY), // failed open
		sys(t, 500, "cat", "openat", 4, "/var/log/auth.log", "", atFDCWD, 0, syscall.O_RDONLY),
		sys(t, 500, "cat", "close", 0, "", "", 3),
	} {
		p.Handle(ev)
	}
	if len(got) != 0 {
		t.Fatalf("unexpected alerts: %q", got)
	}
	proc, _ := tab.Get(500)
	if _, ok := proc.FD(3); ok {
		t.Error("close did not remove fd 3")
	}
	if fd, ok := proc.FD(4); !ok || fd.Name != "/var/log/auth.log" {
		t.Errorf("fd 4 = %+v", fd)
	}
}

func TestCleanPath(t *testing.T) {
	for in, want := range map[string]string{
		"/etc/../etc/shadow": "/etc/shadow",
		"//a/./b//c/":        "/a/b/c",
		"/../..":             "/",
		"/a/b/../../../c":    "/c",
	} {
		if got := string(cleanPath([]byte(in))); got != want {
			t.Errorf("cleanPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOpenFlagsText(t *testing.T) {
	got := string(appendOpenFlags(nil, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC|syscall.O_CLOEXEC))
	if got != "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC" {
		t.Errorf("flags = %q", got)
	}
	if got := string(appendOpenFlags(nil, 0)); got != "O_RDONLY" {
		t.Errorf("flags(0) = %q", got)
	}
}

func BenchmarkHandleOpen(b *testing.B) {
	eng := officialEngine(b)
	tab, users := host(b)
	p := New(Config{Engine: eng, Table: tab, Users: users, Emit: func(*alert.Alert) {}})
	p.Handle(execEvent(b, 600, 200, "/usr/bin/myapp", 0, "myapp"))
	open := sys(b, 600, "myapp", "openat", 5, "/srv/data/file.txt", "", atFDCWD, 0, syscall.O_RDONLY)
	cl := sys(b, 600, "myapp", "close", 0, "", "", 5)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Handle(open)
		p.Handle(cl)
	}
}

func TestExecAfterForkKeepsParentEnv(t *testing.T) {
	tab, users := host(t)
	parent, _ := tab.Get(200)
	parent.Env = []string{"HOME=/root", "SHELL=/bin/bash"}
	p := New(Config{Table: tab, Users: users})
	p.Handle(&capture.Event{Kind: capture.KindFork, TID: 700, PID: 700, PPID: 200, Aux: [4]int64{200, 200}})
	ev := execEvent(t, 700, 200, "/usr/bin/env", 0, "env")
	ev.Env = nul("LANNER=1")
	p.Handle(ev)
	if got := parent.Env; len(got) != 2 || got[0] != "HOME=/root" {
		t.Fatalf("the child's exec changed the parent's environment: %q", got)
	}
	child, _ := tab.Get(700)
	if len(child.Env) != 1 || child.Env[0] != "LANNER=1" {
		t.Fatalf("child env = %q", child.Env)
	}
}
