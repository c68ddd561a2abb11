package fields

import (
	"sort"
	"testing"
)

func TestBuiltinTable(t *testing.T) {
	all := All()
	if len(all) != int(NumBuiltin)-1 {
		t.Fatalf("All() has %d fields, want %d (a gap in the table?)", len(all), NumBuiltin-1)
	}
	if !sort.SliceIsSorted(all, func(i, j int) bool { return all[i].Name < all[j].Name }) {
		t.Error("All() is not sorted")
	}
	seen := map[string]bool{}
	for _, f := range all {
		if f.Name == "" || f.Type == TypeInvalid || f.Desc == "" {
			t.Errorf("field %d incomplete: %+v", f.ID, f)
		}
		if seen[f.Name] {
			t.Errorf("duplicate field %s", f.Name)
		}
		seen[f.Name] = true
		if f.Type == TypeIPNet && len(f.AnyOf) == 0 {
			t.Errorf("%s: IPNET fields must name the address fields they match", f.Name)
		}
		reg := NewRegistry()
		for _, alt := range f.AnyOf {
			if _, ok := reg.Lookup(alt); !ok {
				t.Errorf("%s: AnyOf names unknown field %s", f.Name, alt)
			}
		}
	}
}

func TestResolve(t *testing.T) {
	reg := NewRegistry()
	cases := []struct {
		name, arg string
		hasArg    bool
		field     string
		want      Arg
		err       bool
	}{
		{name: "proc.name", field: "proc.name", want: Arg{Index: -1}},
		{name: "proc.aname", arg: "2", hasArg: true, field: "proc.aname", want: Arg{Key: "2", Index: 2, Has: true}},
		{name: "proc.aname", field: "proc.aname", want: Arg{Index: -1}},
		{name: "evt.arg.flags", field: "evt.arg", want: Arg{Key: "flags", Index: -1, Has: true}},
		{name: "evt.arg", arg: "0", hasArg: true, field: "evt.arg", want: Arg{Key: "0", Index: 0, Has: true}},
		{name: "evt.rawarg.res", field: "evt.rawarg", want: Arg{Key: "res", Index: -1, Has: true}},
		{name: "k8s.pod.label.app.kubernetes.io/name", field: "k8s.pod.label", want: Arg{Key: "app.kubernetes.io/name", Index: -1, Has: true}},
		{name: "container.mount.dest", arg: "/proc*", hasArg: true, field: "container.mount.dest", want: Arg{Key: "/proc*", Index: -1, Has: true}},
		{name: "proc.env", arg: "HOME", hasArg: true, field: "proc.env", want: Arg{Key: "HOME", Index: -1, Has: true}},
		{name: "proc.env", field: "proc.env", want: Arg{Index: -1}},
		{name: "proc.aname", arg: "x", hasArg: true, err: true},
		{name: "evt.arg", err: true},
		{name: "proc.name", arg: "1", hasArg: true, err: true},
		{name: "proc.nope", err: true},
		{name: "evt.arg.flags", arg: "1", hasArg: true, err: true},
	}
	for _, c := range cases {
		f, a, err := reg.Resolve(c.name, c.arg, c.hasArg)
		if c.err {
			if err == nil {
				t.Errorf("%s[%s]: want error, got %s", c.name, c.arg, f.Name)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s[%s]: %v", c.name, c.arg, err)
			continue
		}
		if f.Name != c.field || a != c.want {
			t.Errorf("%s[%s] = %s %+v, want %s %+v", c.name, c.arg, f.Name, a, c.field, c.want)
		}
	}
}

func TestCanonical(t *testing.T) {
	reg := NewRegistry()
	for in, want := range map[string]string{
		"evt.arg.flags": "evt.arg.flags",
		"proc.aname[2]": "proc.aname[2]",
		"evt.arg[0]":    "evt.arg[0]",
		"proc.env[A B]": "proc.env[A B]",
	} {
		name, arg, has := in, "", false
		if i := len(in) - 1; in[i] == ']' {
			for j := range in {
				if in[j] == '[' {
					name, arg, has = in[:j], in[j+1:i], true
					break
				}
			}
		}
		f, a, err := reg.Resolve(name, arg, has)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Canonical(a); got != want {
			t.Errorf("Canonical(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestRegistryExtra(t *testing.T) {
	reg := NewRegistry(Field{Name: "c.true", Type: TypeUint64, Desc: "x"})
	f, ok := reg.Lookup("c.true")
	if !ok || f.ID != NumBuiltin || reg.Len() != int(NumBuiltin)+1 {
		t.Fatalf("extra field: %+v %v", f, ok)
	}
}

func TestEventTypeTable(t *testing.T) {
	tab := NewEventTypeTable()
	seen := map[string]bool{}
	for _, info := range EventTypes() {
		if seen[info.Name] {
			t.Errorf("duplicate event type %s", info.Name)
		}
		seen[info.Name] = true
		if got, ok := tab.Lookup(info.Name); !ok || got != info.Type {
			t.Errorf("Lookup(%s) = %v %v", info.Name, got, ok)
		}
		if info.Kind != KindMeta && len(info.Syscalls) == 0 {
			t.Errorf("%s: no syscall or tracepoint", info.Name)
		}
	}
	for _, name := range []string{"open", "openat", "openat2", "execve", "execveat", "connect", "accept", "accept4", "ptrace", "setuid", "procexit", "container"} {
		if _, ok := tab.Lookup(name); !ok {
			t.Errorf("event type %s missing", name)
		}
	}
	if p, _ := tab.Lookup("pread"); p.Info().Syscalls[0] != "pread64" {
		t.Errorf("pread maps to %v", p.Info().Syscalls)
	}
}
