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
	out := make(map[uint32]User)
	err := readColonFile(path, 7, func(f []string, id uint32) {
		if _, dup := out[id]; !dup { // the first entry wins, as getpwuid(3) does
			out[id] = User{UID: id, Name: f[0], HomeDir: f[5], Shell: f[6]}
		}
	})
	return out, err
}

func readGroup(path string) (map[uint32]Group, error) {
	out := make(map[uint32]Group)
	err := readColonFile(path, 3, func(f []string, id uint32) {
		if _, dup := out[id]; !dup {
			out[id] = Group{GID: id, Name: f[0]}
		}
	})
	return out, err
}

func readColonFile(path string, minFields int, add func(f []string, id uint32)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	defer f.Close()
	return parseColonFile(f, minFields, add)
}

// parseColonFile reads passwd(5)/group(5) lines ("name:x:ID:..."), skipping
// comments and malformed lines, and calls add with the fields and the id.
func parseColonFile(r io.Reader, minFields int, add func(f []string, id uint32)) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < minFields {
			continue
		}
		id, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		add(f, uint32(id))
	}
	return sc.Err()
}
