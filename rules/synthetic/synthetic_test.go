package synthetic

import (
	"net/netip"
	"testing"

	"github.com/lannerhq/lanner/rules/fields"
)

func TestEvent(t *testing.T) {
	reg := fields.NewRegistry()
	ev := New(reg, fields.NewEventTypeTable(), "connect").
		Set("proc.name", "curl").
		Set("proc.pid", 42).
		Set("fd.connected", true).
		Set("fd.sip", "10.0.0.1").
		Set("fd.name", "/var/log/syslog").
		Set("proc.aname", []string{"bash", "sshd"}).
		Set("proc.aname[3]", "systemd").
		Set("evt.arg.flags", "O_RDONLY").
		Set("evt.arg[0]", "3")
	none := fields.Arg{Index: -1}
	if ev.Type().String() != "connect" || ev.Dir() != fields.DirExit {
		t.Errorf("type/dir = %s %s", ev.Type(), ev.Dir())
	}
	if v, ok := ev.Str(fields.ProcName, none); !ok || v != "curl" {
		t.Errorf("proc.name = %q %v", v, ok)
	}
	if v, ok := ev.Int(fields.ProcPid, none); !ok || v != 42 {
		t.Errorf("proc.pid = %d %v", v, ok)
	}
	if v, ok := ev.Bool(fields.FdConnected, none); !ok || !v {
		t.Errorf("fd.connected = %v %v", v, ok)
	}
	if v, ok := ev.IP(fields.FdSip, none); !ok || v != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("fd.sip = %v %v", v, ok)
	}
	if v, _ := ev.Str(fields.FdDirectory, none); v != "/var/log" {
		t.Errorf("fd.directory = %q", v)
	}
	if v, _ := ev.Str(fields.FdFilename, none); v != "syslog" {
		t.Errorf("fd.filename = %q", v)
	}
	for i, want := range []string{"", "bash", "sshd", "systemd"} {
		v, ok := ev.Str(fields.ProcAname, fields.Arg{Index: i, Has: true})
		if v != want || ok != (want != "") {
			t.Errorf("proc.aname[%d] = %q %v", i, v, ok)
		}
	}
	if v, ok := ev.Str(fields.EvtArg, fields.Arg{Key: "flags", Index: -1, Has: true}); !ok || v != "O_RDONLY" {
		t.Errorf("evt.arg.flags = %q %v", v, ok)
	}
	if _, ok := ev.Str(fields.EvtArg, fields.Arg{Key: "mode", Index: -1, Has: true}); ok {
		t.Error("evt.arg.mode is set")
	}
	if _, ok := ev.Str(fields.ProcPname, none); ok {
		t.Error("proc.pname is set")
	}
	allocs := testing.AllocsPerRun(100, func() {
		ev.Str(fields.ProcName, none)
		ev.Str(fields.EvtArg, fields.Arg{Key: "flags", Index: -1, Has: true})
		ev.Str(fields.ProcAname, fields.Arg{Index: 2, Has: true})
		ev.IP(fields.FdSip, none)
	})
	if allocs != 0 {
		t.Errorf("reads allocate: %v", allocs)
	}
}

func TestSetErrors(t *testing.T) {
	reg := fields.NewRegistry()
	types := fields.NewEventTypeTable()
	for _, c := range []struct {
		name string
		v    any
	}{
		{"proc.nope", "x"},
		{"proc.pid", "abc"},
		{"proc.name", 3},
		{"fd.sip", "nope"},
		{"proc.name", []string{"a"}},
		{"fd.connected", "yes"},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Set(%s, %v) did not panic", c.name, c.v)
				}
			}()
			New(reg, types, "open").Set(c.name, c.v)
		}()
	}
}
