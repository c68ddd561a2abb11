package state

import "strings"

// Container identifies the container a process runs in, derived from its
// cgroup path. ID is the 12-character short id Falco uses, or "host".
type Container struct {
	ID      string
	FullID  string
	Runtime string // docker, containerd, cri-o, podman, or "" for the host
}

// HostContainer is what processes outside any container report.
var hostContainer = Container{ID: "host"}

// ContainerFromCgroup extracts the container id from a cgroup path as found in
// /proc/PID/cgroup or the kernel's cgroup name. It recognises the layouts that
// docker, containerd (incl. CRI), cri-o and podman create under both the
// cgroupfs and the systemd drivers:
//
//	/docker/<id>                       /system.slice/docker-<id>.scope
//	/kubepods/.../<id>                 /kubepods.slice/...cri-containerd-<id>.scope
//	/...crio-<id>.scope                /machine.slice/libpod-<id>.scope
func ContainerFromCgroup(path string) Container {
	// Walk the path from the leaf: the container is the deepest component
	// holding a 64-hex id.
	for path != "" {
		i := strings.LastIndexByte(path, '/')
		comp := path[i+1:]
		if i < 0 {
			path = ""
		} else {
			path = path[:i]
		}
		if c, ok := containerFromComponent(comp, path); ok {
			return c
		}
	}
	return hostContainer
}

func containerFromComponent(comp, parent string) (Container, bool) {
	comp = strings.TrimSuffix(comp, ".scope")
	runtime := ""
	for _, p := range [...]struct{ prefix, runtime string }{
		{"docker-", "docker"},
		{"cri-containerd-", "containerd"},
		{"crio-", "cri-o"},
		{"libpod-", "podman"},
	} {
		if strings.HasPrefix(comp, p.prefix) {
			comp, runtime = comp[len(p.prefix):], p.runtime
			break
		}
	}
	if !isHex64(comp) {
		return Container{}, false
	}
	if runtime == "" {
		switch {
		case strings.Contains(parent, "docker"):
			runtime = "docker"
		case strings.Contains(parent, "libpod"), strings.Contains(parent, "machine.slice"):
			runtime = "podman"
		case strings.Contains(parent, "kubepods"):
			runtime = "containerd"
		default:
			runtime = "docker"
		}
	}
	return Container{ID: comp[:12], FullID: comp, Runtime: runtime}, true
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
