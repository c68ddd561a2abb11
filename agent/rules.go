// Package agent runs lanner-agent: it loads the rules, captures the syscalls
// they need with eBPF, keeps the host's state, detects, and ships alerts to
// stdout and to the router.
package agent

import (
	"errors"
	"fmt"
	"sort"

	"github.com/lannerhq/lanner/agent/capture"
	"github.com/lannerhq/lanner/rules/defaultrules"
	"github.com/lannerhq/lanner/rules/engine"
	"github.com/lannerhq/lanner/rules/fields"
	"github.com/lannerhq/lanner/rules/loader"
)

// stateSyscalls are captured whatever the rules say, because the process
// and fd tables need them to resolve fd.*, proc.cwd and friends. close is
// deliberately absent: it doubles the events of every open-heavy workload and
// no fd field depends on it, because an fd number is only reused through a
// syscall listed here, which overwrites the entry. It is still captured when
// a loaded rule names it.
var stateSyscalls = []string{
	"open", "openat", "openat2", "creat", "dup", "dup2", "dup3", "fcntl",
	"socket", "connect", "accept", "accept4", "bind", "pipe", "pipe2",
	"chdir", "fchdir", "memfd_create",
}

// LoadRules reads the rules files (or the embedded defaults when paths is
// empty) and compiles them. Problems are returned for reporting; err is set
// when any problem is an error.
func LoadRules(paths []string) (*engine.Engine, []loader.Problem, error) {
	var srcs []loader.Source
	if len(paths) == 0 {
		srcs = defaultrules.Sources()
	} else {
		var err error
		if srcs, err = loader.ReadFiles(paths...); err != nil {
			return nil, nil, err
		}
	}
	rs, problems := loader.Load(srcs...)
	if loader.HasErrors(problems) {
		return nil, problems, errors.New("rules have errors")
	}
	eng, cproblems := engine.Compile(rs, engine.Options{})
	problems = append(problems, cproblems...)
	if loader.HasErrors(problems) {
		return nil, problems, errors.New("rules have errors")
	}
	return eng, problems, nil
}

// Syscalls returns the syscall numbers the kernel must capture for eng: those
// its rules need plus those the state tables need. Event types without a
// syscall on this architecture are skipped (returned in unsupported).
func Syscalls(eng *engine.Engine) (nrs []int, unsupported []string) {
	set := map[int]bool{}
	add := func(name string) bool {
		nr, ok := capture.SyscallNumber(name)
		if ok {
			set[nr] = true
		}
		return ok
	}
	for _, name := range stateSyscalls {
		add(name)
	}
	for _, t := range eng.EventTypes() {
		info := t.Info()
		if info.Kind != fields.KindSyscall {
			continue // lifecycle tracepoints are always on; meta events come from user space
		}
		for _, sc := range info.Syscalls {
			if !add(sc) {
				unsupported = append(unsupported, sc)
			}
		}
	}
	for nr := range set {
		nrs = append(nrs, nr)
	}
	sort.Ints(nrs)
	return nrs, unsupported
}

func problemsError(problems []loader.Problem) error {
	var errs []error
	for _, p := range problems {
		if p.Severity == loader.SeverityError {
			errs = append(errs, fmt.Errorf("%s", p))
		}
	}
	return errors.Join(errs...)
}
