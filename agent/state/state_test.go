package state

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestContainerFromCgroup(t *testing.T) {
	const id = "3f1a2b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708"
	tests := []struct {
		path, wantID, wantRuntime string
	}{
		{"/", "host", ""},
		{"/user.slice/user-0.slice/session-3.scope", "host", ""},
		{"/docker/" + id, id[:12], "docker"},
		{"/system.slice/docker-" + id + ".scope", id[:12], "docker"},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-" + id + ".scope", id[:12], "containerd"},
		{"/kubepods/besteffort/pod123/" + id, id[:12], "containerd"},
		{"/kubepods.slice/kubepods-pod1.slice/crio-" + id + ".scope", id[:12], "cri-o"},
		{"/machine.slice/libpod-" + id + ".scope", id[:12], "podman"},
		{"/machine.slice/libpod-" + id + ".scope/container", id[:12], "podman"},
		{"/docker/" + id[:63], "host", ""}, // too short: not an id
		{"/docker/" + strings.ToUpper(id), "host", ""},
	}
	for _, tt := range tests {
		c := ContainerFromCgroup(tt.path)
		if c.ID != tt.wantID || c.Runtime != tt.wantRuntime {
			t.Errorf("ContainerFromCgroup(%q) = %q/%q, want %q/%q", tt.path, c.ID, c.Runtime, tt.wantID, tt.wantRuntime)
		}
	}
}

func TestParsePasswdGroup(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "passwd"), []byte("# comment\nroot:x:0:0:root:/root:/bin/bash\nbad line\nbob:x:1000:1000::/home/bob:/bin/sh\ndup:x:0:0::/:/bin/false\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "group"), []byte("root:x:0:\nshadow:x:42:\n"), 0o644)
	users, err := readPasswd(filepath.Join(dir, "passwd"))
	if err != nil {
		t.Fatal(err)
	}
	if u := users[0]; u.Name != "root" || u.HomeDir != "/root" || u.Shell != "/bin/bash" {
		t.Errorf("root = %+v", u)
	}
	if u := users[1000]; u.Name != "bob" {
		t.Errorf("bob = %+v", u)
	}
	groups, err := readGroup(filepath.Join(dir, "group"))
	if err != nil {
		t.Fatal(err)
	}
	if groups[42].Name != "shadow" {
		t.Errorf("group 42 = %+v", groups[42])
	}
}

func TestUsersReload(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	write := func(passwd string) {
		os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(passwd), 0o644)
		os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\n"), 0o644)
	}
	write("root:x:0:0:root:/root:/bin/bash\n")
	u, err := NewUsers(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := u.User(1000); ok {
		t.Fatal("uid 1000 should be unknown")
	}
	write("root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n")
	future := time.Now().Add(2 * time.Second)
	os.Chtimes(filepath.Join(root, "etc/passwd"), future, future)
	u.mu.Lock()
	u.checked = time.Time{} // force the next lookup to check the files
	u.mu.Unlock()
	if usr, ok := u.User(1000); !ok || usr.Name != "alice" {
		t.Fatalf("after reload: %+v %v", usr, ok)
	}
}

func TestParseStatCommWithParens(t *testing.T) {
	var p Process
	stat := "1234 (we(i)rd) name) S 1 1234 1234 34816 1234 4194560 1 0 0 0 0 0 0 0 20 0 1 0 5000 1 1 18446744073709551615"
	if err := parseStat([]byte(stat), &p); err != nil {
		t.Fatal(err)
	}
	if p.Comm != "we(i)rd) name" || p.PPid != 1 || p.Sid != 1234 || p.TTY != 34816 {
		t.Errorf("parsed %+v", p)
	}
	if p.StartNano != 50*1e9 {
		t.Errorf("start = %d", p.StartNano)
	}
}

func TestParseHexAddrPort(t *testing.T) {
	ap, ok := parseHexAddrPort("0100007F:1F90")
	if !ok || ap != netip.MustParseAddrPort("127.0.0.1:8080") {
		t.Errorf("ipv4: %v %v", ap, ok)
	}
	ap, ok = parseHexAddrPort("00000000000000000000000001000000:0050")
	if !ok || ap != netip.MustParseAddrPort("[::1]:80") {
		t.Errorf("ipv6: %v %v", ap, ok)
	}
}

// TestBootstrapRealProc reads the real /proc and checks a child process we
// started: ancestry, command line, exe path, cwd and open fds.
func TestBootstrapRealProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no procfs")
	}
	dir := t.TempDir()
	cmd := exec.Command("/bin/sleep", "30")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(50 * time.Millisecond) // let exec complete

	tab := NewTable(0)
	if err := (ProcFS{Root: "/proc", MaxEnvBytes: 4096}).Bootstrap(tab); err != nil {
		t.Logf("bootstrap reported: %v", err)
	}
	child, ok := tab.Get(uint32(cmd.Process.Pid))
	if !ok {
		t.Fatal("child not in table")
	}
	if child.Comm != "sleep" || child.Exe != "/bin/sleep" || len(child.Args) != 1 || child.Args[0] != "30" {
		t.Errorf("child = comm %q exe %q args %q", child.Comm, child.Exe, child.Args)
	}
	if !strings.HasSuffix(child.ExePath, "/sleep") {
		t.Errorf("exepath = %q", child.ExePath)
	}
	if child.Cwd != dir {
		t.Errorf("cwd = %q, want %q", child.Cwd, dir)
	}
	parent, ok := tab.Parent(child)
	if !ok || parent.Pid != uint32(os.Getpid()) {
		t.Fatalf("parent of child = %+v %v", parent, ok)
	}
	if anc, ok := tab.Ancestor(child, 1); !ok || anc != parent {
		t.Errorf("aname[1] wrong")
	}
	self, _ := tab.Get(uint32(os.Getpid()))
	if fd, ok := self.FD(0); !ok || fd.Name == "" {
		t.Errorf("stdin fd of self not recorded: %+v", fd)
	}
	if len(self.Env) == 0 {
		t.Errorf("environment not read")
	}
}

func TestForkExitThreads(t *testing.T) {
	tab := NewTable(0)
	parent := &Process{Pid: 100, Comm: "bash", LoginUID: 1000}
	parent.SetFD(&FD{Num: 3, Type: FDFile, Name: "/tmp/x"})
	tab.Put(100, parent)

	thread := tab.Fork(100, 101, 100)
	if thread != parent {
		t.Fatal("a thread must share its process")
	}
	child := tab.Fork(100, 200, 200)
	if child == parent || child.PPid != 100 || child.Comm != "bash" || child.LoginUID != 1000 {
		t.Fatalf("child = %+v", child)
	}
	child.CloseFD(3)
	if _, ok := parent.FD(3); !ok {
		t.Fatal("closing the child's fd must not close the parent's")
	}
	child.DupFD(3, 4) // closed: no-op
	parent.DupFD(3, 5)
	if fd, _ := parent.FD(5); fd == nil || fd.Name != "/tmp/x" || fd.Num != 5 {
		t.Fatalf("dup = %+v", fd)
	}
	tab.Exit(101)
	if _, ok := tab.Get(100); !ok {
		t.Fatal("leader gone after a thread exit")
	}
	tab.Exit(200)
	if _, ok := tab.Get(200); ok {
		t.Fatal("child still present")
	}
}

func TestTableBound(t *testing.T) {
	tab := NewTable(10)
	for i := uint32(1); i <= 20; i++ {
		tab.Put(i, &Process{Pid: i})
	}
	if tab.Len() != 10 || tab.Evicted != 10 {
		t.Fatalf("len %d evicted %d", tab.Len(), tab.Evicted)
	}
}
