package engine

import (
	"fmt"
	"math/rand"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/lannerhq/lanner/rules/fields"
	"github.com/lannerhq/lanner/rules/loader"
	"github.com/lannerhq/lanner/rules/synthetic"
)

// officialMix builds a deterministic, realistic mix of events: mostly file
// opens and closes, then the state syscalls the agent sees all the time
// (socket, dup, clone, fork, procexit), some network and a few execs, with
// the process, fd, user and container values Falco's macros look at.
func officialMix(reg *fields.Registry, n int) []fields.Event {
	types := fields.NewEventTypeTable()
	rnd := rand.New(rand.NewSource(1))
	pick := func(xs ...string) string { return xs[rnd.Intn(len(xs))] }
	procs := []struct{ name, exe, pname, gp string }{
		{"bash", "/usr/bin/bash", "sshd", "sshd"},
		{"nginx", "/usr/sbin/nginx", "nginx", "systemd"},
		{"java", "/usr/bin/java", "containerd-shim", "containerd"},
		{"python3", "/usr/bin/python3.11", "bash", "sshd"},
		{"cat", "/usr/bin/cat", "bash", "sshd"},
		{"postgres", "/usr/lib/postgresql/15/bin/postgres", "postgres", "systemd"},
		{"node", "/usr/local/bin/node", "npm", "sh"},
		{"curl", "/usr/bin/curl", "sh", "cron"},
	}
	base := func(evtype string) *synthetic.Event {
		p := procs[rnd.Intn(len(procs))]
		ev := synthetic.New(reg, types, evtype).
			Set("proc.name", p.name).
			Set("proc.exe", p.exe).
			Set("proc.exepath", p.exe).
			Set("proc.pname", p.pname).
			Set("proc.pexe", "/usr/bin/"+p.pname).
			Set("proc.pexepath", "/usr/bin/"+p.pname).
			Set("proc.aname", []string{p.pname, p.gp, "systemd"}).
			Set("proc.args", "-c something").
			Set("proc.cmdline", p.name+" -c something").
			Set("proc.pcmdline", p.pname+" --daemon").
			Set("proc.pid", 1000+rnd.Intn(30000)).
			Set("proc.ppid", 1000).
			Set("proc.vpid", 1000).
			Set("proc.sid", 900).
			Set("proc.sname", "bash").
			Set("proc.vpgid", 1000).
			Set("proc.tty", []int{0, 0, 0, 34816}[rnd.Intn(4)]).
			Set("proc.cwd", "/root/").
			Set("proc.duration", 10_000_000_000).
			Set("proc.is_exe_writable", false).
			Set("proc.is_exe_upper_layer", false).
			Set("proc.is_exe_from_memfd", false).
			Set("proc.env", "HOME=/root PATH=/usr/bin").
			Set("thread.cap_effective", "CAP_CHOWN CAP_KILL").
			Set("thread.cap_permitted", "CAP_CHOWN CAP_KILL").
			Set("user.uid", []int{0, 1000, 33}[rnd.Intn(3)]).
			Set("user.name", pick("root", "alice", "www-data")).
			Set("user.loginuid", []int{-1, 1000}[rnd.Intn(2)]).
			Set("user.loginname", "alice").
			Set("group.gid", 0).
			Set("group.name", "root").
			Set("container.id", pick("host", "host", "3ad7b26ded6d")).
			Set("container.name", "web").
			Set("container.image.repository", pick("docker.io/library/nginx", "quay.io/app/api")).
			Set("container.privileged", false).
			Set("k8s.ns.name", "default").
			Set("k8s.pod.name", "web-1").
			Set("evt.rawres", 0).
			Set("evt.res", "SUCCESS").
			Set("evt.num", 1).
			Set("evt.hostname", "node-1")
		return ev
	}
	files := []string{"/etc/ld.so.cache", "/lib/x86_64-linux-gnu/libc.so.6", "/proc/self/stat", "/var/log/syslog",
		"/tmp/build/out.o", "/etc/passwd", "/usr/share/zoneinfo/UTC", "/dev/null", "/etc/shadow", "/home/alice/.bashrc",
		"/var/lib/postgresql/15/main/base/1/1259", "/usr/lib/python3.11/os.py", "/etc/hosts", "/root/.ssh/authorized_keys"}
	var evs []fields.Event
	for len(evs) < n {
		r := rnd.Intn(100)
		var ev *synthetic.Event
		switch {
		case r < 33: // open family
			ev = base(pick("openat", "openat", "openat", "open", "openat2"))
			name := files[rnd.Intn(len(files))]
			write := rnd.Intn(5) == 0
			flags := "O_RDONLY|O_CLOEXEC"
			if write {
				flags = "O_WRONLY|O_CREAT|O_TRUNC"
			}
			ev.Set("fd.name", name).Set("fd.nameraw", name).Set("fd.typechar", "f").Set("fd.type", "file").
				Set("fd.num", 3+rnd.Intn(20)).Set("evt.arg.flags", flags).Set("evt.arg.name", name).
				Set("evt.is_open_read", !write).Set("evt.is_open_write", write).Set("evt.is_open_exec", false).
				Set("evt.rawres", 5)
		case r < 60:
			ev = base("close").Set("fd.num", 5).Set("fd.name", files[rnd.Intn(len(files))]).Set("fd.typechar", "f").Set("fd.type", "file")
		case r < 66:
			ev = base(pick("socket", "socket", "bind", "listen")).Set("evt.arg.domain", "AF_INET").Set("fd.num", 7).Set("fd.typechar", "4").Set("fd.type", "ipv4")
		case r < 72:
			ev = base(pick("dup", "dup2", "dup3", "fcntl")).Set("fd.num", 1).Set("fd.typechar", "f").Set("fd.type", "file").Set("fd.name", "/dev/null")
		case r < 80:
			ev = base(pick("clone", "clone3", "fork", "vfork"))
		case r < 84:
			ev = base("procexit")
		case r < 90: // network
			ev = base(pick("connect", "connect", "accept4", "sendto", "recvfrom", "sendmsg")).
				Set("fd.typechar", "4").Set("fd.type", "ipv4").Set("fd.l4proto", pick("tcp", "udp")).
				Set("fd.sip", pick("10.0.0.5", "93.184.216.34", "127.0.0.1")).Set("fd.cip", "10.0.0.9").
				Set("fd.rip", "93.184.216.34").Set("fd.lip", "10.0.0.9").
				Set("fd.sport", []int{443, 80, 5432, 53}[rnd.Intn(4)]).Set("fd.cport", 40000+rnd.Intn(1000)).
				Set("fd.rport", 443).Set("fd.lport", 40001).
				Set("fd.name", "10.0.0.9:40001->93.184.216.34:443").Set("fd.num", 9).Set("fd.connected", true).
				Set("fd.sockfamily", "ip").Set("evt.res", pick("SUCCESS", "EINPROGRESS"))
		case r < 94: // exec
			ev = base(pick("execve", "execveat"))
			ev.Set("evt.arg.flags", "0").Set("evt.arg.filename", "/usr/bin/ls")
		default: // misc file metadata and credentials
			ev = base(pick("unlinkat", "renameat2", "mkdirat", "chmod", "setuid", "ptrace", "symlinkat", "fchmodat"))
			ev.Set("evt.arg.path", "/tmp/x").Set("evt.arg.name", "/tmp/x").Set("evt.arg.oldpath", "/tmp/a").
				Set("evt.arg.newpath", "/tmp/b").Set("evt.arg.mode", "S_IRUSR|S_IWUSR").Set("evt.arg.uid", "1000").
				Set("evt.arg.request", "PTRACE_PEEKDATA").Set("evt.arg.target", "/tmp/a").Set("evt.arg.linkpath", "/tmp/b").
				Set("fd.name", "/tmp/x").Set("fd.typechar", "f").Set("fd.type", "file").Set("fd.num", 3)
		}
		evs = append(evs, ev)
	}
	return evs
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loadOfficial(b testing.TB) *Engine {
	rs, lps := loader.Load(officialSources(b, officialFiles...)...)
	if loader.HasErrors(lps) {
		b.Fatalf("load: %v", lps)
	}
	e, cps := Compile(rs, Options{})
	if loader.HasErrors(cps) {
		b.Fatalf("compile: %v", cps)
	}
	return e
}

func BenchmarkEvalOfficialMix(b *testing.B) {
	e := loadOfficial(b)
	evs := officialMix(e.Registry(), 1024)
	for _, mode := range []string{"all", "first"} {
		b.Run(mode, func(b *testing.B) {
			v := e.NewEvaluator()
			matches := make([]*Rule, 0, 16)
			hits := 0
			b.ReportAllocs()
			runtime.GC() // settle the setup's garbage before timing
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ev := evs[i&(len(evs)-1)]
				if mode == "all" {
					matches = v.EvalAll(ev, matches[:0])
					hits += len(matches)
				} else if v.EvalFirst(ev) != nil {
					hits++
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			// CPU time, not wall time: on a shared, loaded machine this is the
			// number that says what one core can do.
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
			}
			b.ReportMetric(float64(hits)/float64(b.N), "matches/event")
		})
	}
}

func BenchmarkCompileOfficial(b *testing.B) {
	srcs := officialSources(b, officialFiles...)
	b.ReportAllocs()
	runtime.GC()
	cpu0 := cpuTime()
	b.ResetTimer()
	defer func() {
		// includes the GC work the compile's garbage causes
		b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N)/1e6, "cpu-ms/op")
	}()
	for i := 0; i < b.N; i++ {
		rs, lps := loader.Load(srcs...)
		if loader.HasErrors(lps) {
			b.Fatal(lps)
		}
		if _, cps := Compile(rs, Options{}); loader.HasErrors(cps) {
			b.Fatal(cps)
		}
	}
}

// TestEvalMixAllocs pins the zero-allocation budget outside benchmarks.
func TestEvalMixAllocs(t *testing.T) {
	e := loadOfficial(t)
	evs := officialMix(e.Registry(), 512)
	matches := make([]*Rule, 0, 16)
	v := e.NewEvaluator()
	i := 0
	allocs := testing.AllocsPerRun(2000, func() {
		matches = v.EvalAll(evs[i%len(evs)], matches[:0])
		v.EvalFirst(evs[i%len(evs)])
		i++
	})
	if allocs != 0 {
		t.Fatalf("Evaluator: %v allocations per event, want 0", allocs)
	}
	if !raceEnabled {
		allocs = testing.AllocsPerRun(2000, func() {
			matches = e.EvalAll(evs[i%len(evs)], matches[:0])
			e.EvalFirst(evs[i%len(evs)])
			i++
		})
		if allocs != 0 {
			t.Fatalf("Engine (pooled): %v allocations per event, want 0", allocs)
		}
	}
	// which rules the mix triggers, for the curious
	counts := map[string]int{}
	for _, ev := range evs {
		for _, r := range e.EvalAll(ev, nil) {
			counts[r.Name]++
		}
	}
	t.Logf("rules matched by the mix: %v", fmt.Sprint(counts))
}

// BenchmarkEvalPerType splits the mix by event type: where the time goes.
func BenchmarkEvalPerType(b *testing.B) {
	e := loadOfficial(b)
	by := map[string][]fields.Event{}
	for _, ev := range officialMix(e.Registry(), 4096) {
		by[ev.Type().String()] = append(by[ev.Type().String()], ev)
	}
	for _, n := range []string{"openat", "close", "execve", "connect", "unlinkat", "clone"} {
		list := by[n]
		b.Run(n, func(b *testing.B) {
			v := e.NewEvaluator()
			var m []*Rule
			b.ReportAllocs()
			runtime.GC()
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m = v.EvalAll(list[i%len(list)], m[:0])
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/event")
		})
	}
}

// BenchmarkCompileOnlyOfficial is the compiler's share of
// BenchmarkCompileOfficial: the three files loaded once, compiled b.N times.
func BenchmarkCompileOnlyOfficial(b *testing.B) {
	rs, lps := loader.Load(officialSources(b, officialFiles...)...)
	if loader.HasErrors(lps) {
		b.Fatal(lps)
	}
	b.ReportAllocs()
	runtime.GC()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, cps := Compile(rs, Options{}); loader.HasErrors(cps) {
			b.Fatal(cps)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N)/1e6, "cpu-ms/op")
}

// countingEvent counts field reads: a load-independent measure of the work
// an evaluation does, since wall and CPU times swing on a shared machine.
type countingEvent struct {
	fields.Event
	n *int
}

func (c countingEvent) Str(id fields.ID, a fields.Arg) (string, bool) {
	*c.n++
	return c.Event.Str(id, a)
}

func (c countingEvent) Int(id fields.ID, a fields.Arg) (int64, bool) {
	*c.n++
	return c.Event.Int(id, a)
}

func (c countingEvent) Bool(id fields.ID, a fields.Arg) (bool, bool) {
	*c.n++
	return c.Event.Bool(id, a)
}

func (c countingEvent) IP(id fields.ID, a fields.Arg) (netip.Addr, bool) {
	*c.n++
	return c.Event.IP(id, a)
}

func TestFieldReadsPerEvent(t *testing.T) {
	e := loadOfficial(t)
	v := e.NewEvaluator()
	reads := map[string]int{}
	count := map[string]int{}
	total, n := 0, 0
	for _, ev := range officialMix(e.Registry(), 4096) {
		k := 0
		v.EvalAll(countingEvent{ev, &k}, nil)
		name := ev.Type().String()
		reads[name] += k
		count[name]++
		total += k
		n++
	}
	t.Logf("field reads per event: mix %.1f, openat %.1f, execve %.1f, connect %.1f",
		float64(total)/float64(n), float64(reads["openat"])/float64(count["openat"]),
		float64(reads["execve"])/float64(count["execve"]), float64(reads["connect"])/float64(count["connect"]))
}

// BenchmarkAlertOfficial formats the alert of an official rule's match:
// the output text and its output_fields.
func BenchmarkAlertOfficial(b *testing.B) {
	e := loadOfficial(b)
	ev := shadowRead(e, time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC))
	r := e.EvalFirst(ev)
	if r == nil {
		b.Fatal("no rule matched")
	}
	meta := AlertMeta{Hostname: "node-1"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if a := e.Alert(r, ev, meta); len(a.OutputFields) == 0 {
			b.Fatal("no output_fields")
		}
	}
}
