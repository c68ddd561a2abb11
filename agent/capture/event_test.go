package capture

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"unsafe"

	"github.com/lannerhq/lanner/bpf"
)

// record builds a raw ring record like the kernel writes: header, write
// offset, then the blobs' data.
func record(h bpf.LannerEvent, blobs map[bpf.LannerBlob][]byte) []byte {
	var data []byte
	for i := range bpf.LannerBlobNBLOB {
		b, ok := blobs[i]
		if !ok {
			continue
		}
		h.BlobOff[i] = uint16(len(data))
		h.BlobLen[i] = uint16(len(b))
		data = append(data, b...)
	}
	h.Size = uint32(hdrSize + len(data))
	raw := make([]byte, hdrSize, hdrSize+len(data))
	copy(raw, unsafe.Slice((*byte)(unsafe.Pointer(&h)), unsafe.Sizeof(h)))
	binary.LittleEndian.PutUint32(raw[unsafe.Offsetof(bpf.LannerScratch{}.Off):], uint32(len(data)))
	return append(raw, data...)
}

func comm(s string) (c [16]int8) {
	for i := range min(len(s), 15) {
		c[i] = int8(s[i])
	}
	return c
}

func execRecord() []byte {
	return record(bpf.LannerEvent{
		Ts: 1000, Kind: uint16(KindExec), Nr: 59, Pid: 42, Tid: 42, Ppid: 1, Uid: 1000, Euid: 0,
		Loginuid: 1000, Tty: 34816, Flags: uint16(FlagExeWritable), Comm: comm("sh"),
	}, map[bpf.LannerBlob][]byte{
		bpf.LannerBlobBLOB_PATH:   []byte("/bin/sh"), // the kernel leaves the NUL out of the length
		bpf.LannerBlobBLOB_ARGV:   []byte("sh\x00-c\x00id\x00"),
		bpf.LannerBlobBLOB_ENV:    []byte("HOME=/root\x00PATH=/usr/bin\x00"),
		bpf.LannerBlobBLOB_EXE:    []byte("dash\x00bin\x00usr\x00"),
		bpf.LannerBlobBLOB_CWD:    []byte("tmp\x00"),
		bpf.LannerBlobBLOB_CGROUP: []byte("docker-0123456789ab.scope\x00system.slice\x00"),
	})
}

func TestDecodeExec(t *testing.T) {
	var e Event
	if err := e.decode(execRecord(), 5); err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"path", string(e.Path), "/bin/sh"},
		{"argv", string(e.Argv), "sh\x00-c\x00id"},
		{"env", string(e.Env), "HOME=/root\x00PATH=/usr/bin"},
		{"exe", string(e.Exe), "/usr/bin/dash"},
		{"cwd", string(e.Cwd), "/tmp"},
		{"cgroup", string(e.Cgroup), "/system.slice/docker-0123456789ab.scope"},
		{"comm", string(e.Comm), "sh"},
		{"name", e.SyscallName(), "execve"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if e.Kind != KindExec || e.PID != 42 || e.PPID != 1 || e.UID != 1000 || e.LoginUID != 1000 || e.TTY != 34816 ||
		e.Time != 1005 || e.Flags != FlagExeWritable {
		t.Errorf("header: %+v", e)
	}
	var args []string
	for rest := e.Argv; len(rest) > 0; {
		var a []byte
		a, rest = NextArg(rest)
		args = append(args, string(a))
	}
	if strings.Join(args, " ") != "sh -c id" {
		t.Errorf("args = %q", args)
	}
}

func TestDecodePaths(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags Flags
		exe   string
		want  string
	}{
		{"root", 0, "", "/"},
		{"one", 0, "init\x00", "/init"},
		{"memfd", FlagExePseudo, "memfd:x\x00", "memfd:x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e Event
			raw := record(bpf.LannerEvent{Kind: uint16(KindExec), Flags: uint16(tc.flags)},
				map[bpf.LannerBlob][]byte{bpf.LannerBlobBLOB_EXE: []byte(tc.exe)})
			if tc.exe == "" {
				raw = record(bpf.LannerEvent{Kind: uint16(KindExec)}, nil)
			}
			if err := e.decode(raw, 0); err != nil {
				t.Fatal(err)
			}
			got := string(e.Exe)
			if tc.exe == "" {
				got = string(e.Cwd) // empty component list: the root
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func sockaddr4(ip [4]byte, port uint16) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint16(b, AFInet)
	binary.BigEndian.PutUint16(b[2:], port)
	copy(b[4:], ip[:])
	return b
}

func TestSockAddr(t *testing.T) {
	v6 := make([]byte, 28)
	binary.LittleEndian.PutUint16(v6, AFInet6)
	binary.BigEndian.PutUint16(v6[2:], 443)
	copy(v6[8:], netip.MustParseAddr("2001:db8::1").AsSlice())
	unixSA := append([]byte{1, 0}, "/run/docker.sock\x00junk"...)
	abstract := append([]byte{1, 0}, "\x00abstract"...)
	for _, tc := range []struct {
		name string
		raw  []byte
		ok   bool
		want string
	}{
		{"v4", sockaddr4([4]byte{10, 0, 0, 1}, 8080), true, "10.0.0.1:8080"},
		{"v6", v6, true, "[2001:db8::1]:443"},
		{"unix", unixSA, true, "/run/docker.sock"},
		{"abstract", abstract, true, "\x00abstract"},
		{"short v4", sockaddr4([4]byte{1, 2, 3, 4}, 1)[:6], false, ""},
		{"empty", nil, false, ""},
		{"netlink", []byte{16, 0, 0, 0}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sa, ok := ParseSockAddr(tc.raw)
			if ok != tc.ok {
				t.Fatalf("ok = %v", ok)
			}
			if !ok {
				return
			}
			got := string(sa.Path)
			if sa.Family != AFUnix {
				got = netip.AddrPortFrom(sa.IP, sa.Port).String()
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDecodeTuple(t *testing.T) {
	tu := bpf.LannerTuple{Family: AFInet, Sport: 40000, Dport: 22}
	copy(tu.Saddr[:], []byte{127, 0, 0, 1})
	copy(tu.Daddr[:], []byte{127, 0, 0, 2})
	raw := record(bpf.LannerEvent{Kind: uint16(KindSyscall), Nr: 42, Ret: 0}, map[bpf.LannerBlob][]byte{
		bpf.LannerBlobBLOB_ADDR:  sockaddr4([4]byte{127, 0, 0, 2}, 22),
		bpf.LannerBlobBLOB_TUPLE: unsafe.Slice((*byte)(unsafe.Pointer(&tu)), unsafe.Sizeof(tu)),
	})
	var e Event
	if err := e.decode(raw, 0); err != nil {
		t.Fatal(err)
	}
	got, ok := e.Tuple()
	if !ok || got.SrcIP.String() != "127.0.0.1" || got.SrcPort != 40000 || got.DstIP.String() != "127.0.0.2" || got.DstPort != 22 {
		t.Errorf("tuple = %+v %v", got, ok)
	}
	if e.SyscallName() != "connect" {
		t.Errorf("name = %q", e.SyscallName())
	}
}

func TestDecodeRejects(t *testing.T) {
	good := execRecord()
	badSize := bytes.Clone(good)
	binary.LittleEndian.PutUint32(badSize[offSize:], uint32(len(good)+1))
	badBlob := bytes.Clone(good)
	binary.LittleEndian.PutUint16(badBlob[offBlobLen:], 60000)
	for name, raw := range map[string][]byte{
		"short":     good[:hdrSize-1],
		"size":      badSize,
		"blob past": badBlob,
	} {
		var e Event
		if err := e.decode(raw, 0); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func TestDecodeNoAllocs(t *testing.T) {
	raw := execRecord()
	var e Event
	if n := testing.AllocsPerRun(100, func() { _ = e.decode(raw, 0) }); n != 0 {
		t.Errorf("decode allocates %.1f times per event", n)
	}
}

func TestSyscallNames(t *testing.T) {
	for name, want := range map[string]int{"openat": 257, "execve": 59, "connect": 42, "pread": 17, "umount": 166, "fchmodat2": 452} {
		if nr, ok := SyscallNumber(name); !ok || nr != want {
			t.Errorf("SyscallNumber(%q) = %d, %v; want %d", name, nr, ok, want)
		}
	}
	if _, ok := SyscallNumber("procexit"); ok {
		t.Error("procexit is not a syscall")
	}
	if SyscallName(257) != "openat" || SyscallName(-1) != "" || SyscallName(10000) != "" {
		t.Error("SyscallName")
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		name string
		raw  []byte
	}{
		{"exec", execRecord()},
		{"openat", record(bpf.LannerEvent{Kind: uint16(KindSyscall), Nr: 257, Ret: 3, Comm: comm("cat")},
			map[bpf.LannerBlob][]byte{bpf.LannerBlobBLOB_PATH: []byte("/etc/shadow\x00")})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var e Event
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.raw)))
			for b.Loop() {
				if err := e.decode(bc.raw, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(execRecord())
	f.Add(record(bpf.LannerEvent{Kind: uint16(KindSyscall), Nr: 257}, map[bpf.LannerBlob][]byte{bpf.LannerBlobBLOB_PATH: []byte("/x")}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		var e Event
		if err := e.decode(raw, 0); err != nil {
			return
		}
		_, _ = e.SockAddr()
		_, _ = e.Tuple()
		for rest := e.Argv; len(rest) > 0; {
			_, rest = NextArg(rest)
		}
	})
}

func FuzzParseSockAddr(f *testing.F) {
	f.Add(sockaddr4([4]byte{127, 0, 0, 1}, 80))
	f.Add(append([]byte{1, 0}, "/tmp/s\x00"...))
	f.Add([]byte{10, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		sa, ok := ParseSockAddr(raw)
		if ok && sa.Family == AFUnix && len(sa.Path) > len(raw) {
			t.Fatal("path longer than input")
		}
	})
}

func TestConfigDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"ring not a power of two", Config{RingSize: 3 << 20}, false},
		{"ring below a page", Config{RingSize: 1024}, false},
		{"wakeup above ring", Config{RingSize: 1 << 20, WakeupBytes: 2 << 20}, false},
		{"env too big", Config{EnvBytes: 8192}, false},
		{"no env", Config{EnvBytes: -1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			err := cfg.defaults()
			if (err == nil) != tc.ok {
				t.Fatalf("defaults() = %v, want ok=%v", err, tc.ok)
			}
			if err == nil && (cfg.RingSize == 0 || cfg.WakeupBytes == 0 || cfg.FlushInterval == 0 || cfg.Logger == nil || cfg.EnvBytes < 0) {
				t.Errorf("defaults not applied: %+v", cfg)
			}
		})
	}
}
