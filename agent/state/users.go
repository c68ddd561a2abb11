package state

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// User is one passwd entry.
type User struct {
	UID     uint32
	Name    string
	HomeDir string
	Shell   string
}

// Group is one group entry.
type Group struct {
	GID  uint32
	Name string
}

// Users resolves uids and gids to names from the host's passwd and group
// files, re-reading them when they change (checked at most once per second so
// lookups on the hot path stay a map read).
type Users struct {
	passwdPath, groupPath string

	mu        sync.RWMutex
	users     map[uint32]User
	groups    map[uint32]Group
	passwdMod time.Time
	groupMod  time.Time
	checked   time.Time
}

// NewUsers reads passwd and group from root (normally "/", or /host on a node
// where the agent runs in a container with the host's root mounted there).
func NewUsers(root string) (*Users, error) {
	u := &Users{
		passwdPath: root + "/etc/passwd",
		groupPath:  root + "/etc/group",
	}
	if err := u.reload(time.Now()); err != nil {
		return nil, err
	}
	return u, nil
}

// User returns the passwd entry for uid; ok is false for unknown uids.
func (u *Users) User(uid uint32) (User, bool) {
	u.maybeReload()
	u.mu.RLock()
	defer u.mu.RUnlock()
	usr, ok := u.users[uid]
	return usr, ok
}

// Group returns the group entry for gid; ok is false for unknown gids.
func (u *Users) Group(gid uint32) (Group, bool) {
	u.maybeReload()
	u.mu.RLock()
	defer u.mu.RUnlock()
	g, ok := u.groups[gid]
	return g, ok
}

func (u *Users) maybeReload() {
	now := time.Now()
	u.mu.RLock()
	stale := now.Sub(u.checked) > time.Second
	u.mu.RUnlock()
	if stale {
		_ = u.reload(now) // keep the last good tables on error
	}
}

func (u *Users) reload(now time.Time) error {
	pst, err := os.Stat(u.passwdPath)
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	gst, err := os.Stat(u.groupPath)
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.checked = now
	if pst.ModTime().Equal(u.passwdMod) && gst.ModTime().Equal(u.groupMod) && u.users != nil {
		return nil
	}
	users, err := readPasswd(u.passwdPath)
	if err != nil {
		return err
	}
	groups, err := readGroup(u.groupPath)
	if err != nil {
		return err
	}
	u.users, u.groups = users, groups
	u.passwdMod, u.groupMod = pst.ModTime(), gst.ModTime()
	return nil
}

func readPasswd(path string) (map[uint32]User, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	defer f.Close()
	return parsePasswd(f)
}

func parsePasswd(r io.Reader) (map[uint32]User, error) {
	out := make(map[uint32]User)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		// name:passwd:uid:gid:gecos:home:shell
		f := strings.Split(line, ":")
		if len(f) < 7 {
			continue
		}
		uid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		if _, dup := out[uint32(uid)]; dup {
			continue // the first entry wins, as getpwuid(3) does
		}
		out[uint32(uid)] = User{UID: uint32(uid), Name: f[0], HomeDir: f[5], Shell: f[6]}
	}
	return out, sc.Err()
}

func readGroup(path string) (map[uint32]Group, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("groups: %w", err)
	}
	defer f.Close()
	return parseGroup(f)
}

func parseGroup(r io.Reader) (map[uint32]Group, error) {
	out := make(map[uint32]Group)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		// name:passwd:gid:members
		f := strings.Split(line, ":")
		if len(f) < 3 {
			continue
		}
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		if _, dup := out[uint32(gid)]; dup {
			continue
		}
		out[uint32(gid)] = Group{GID: uint32(gid), Name: f[0]}
	}
	return out, sc.Err()
}
