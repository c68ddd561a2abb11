package detect

import (
	"strconv"

	"github.com/lannerhq/lanner/rules/fields"
)

// argSpec says where one Falco event argument comes from in a capture record.
type argSpec struct {
	name string
	from argSource
	n    int // index into Args / Aux
}

type argSource uint8

const (
	fromRet       argSource = iota // the return value
	fromArg                        // raw syscall argument n, as a number
	fromFD                         // raw argument n, an fd (negative AT_FDCWD printed as such)
	fromPath                       // first path string
	fromPath2                      // second path string
	fromPath3                      // third string
	fromOpenFlags                  // raw argument n rendered as O_* flags
	fromAuxFlags                   // Aux[n] rendered as O_* flags (openat2)
	fromPtrace                     // raw argument n as a PTRACE_* request
	fromDomain                     // raw argument n as an AF_* domain
	fromFcntl                      // raw argument n as an F_* command
	fromBPFCmd                     // raw argument n as a BPF_* command
	fromOctal                      // raw argument n printed in octal (modes)
	fromAbsPath                    // the first path made absolute
	fromAbsPath2                   // the second path made absolute
)

// eventArgs lists each event type's arguments in Falco's order (the exit
// event's parameters), so evt.arg.NAME and evt.arg[N] resolve as in Falco.
var eventArgs = map[string][]argSpec{
	"open":    {{"fd", fromRet, 0}, {"name", fromAbsPath, 0}, {"flags", fromOpenFlags, 1}, {"mode", fromOctal, 2}},
	"openat":  {{"fd", fromRet, 0}, {"dirfd", fromFD, 0}, {"name", fromPath, 0}, {"flags", fromOpenFlags, 2}, {"mode", fromOctal, 3}},
	"openat2": {{"fd", fromRet, 0}, {"dirfd", fromFD, 0}, {"name", fromPath, 0}, {"flags", fromAuxFlags, 0}, {"mode", fromOctal, -1}},
	"creat":   {{"fd", fromRet, 0}, {"name", fromAbsPath, 0}, {"mode", fromOctal, 1}},
	"close":   {{"res", fromRet, 0}, {"fd", fromFD, 0}},
	"execve":  {{"res", fromRet, 0}, {"exe", fromPath, 0}, {"filename", fromPath, 0}},
	"execveat": {{"res", fromRet, 0}, {"dirfd", fromFD, 0}, {"pathname", fromPath, 0},
		{"filename", fromPath, 0}},
	"connect":      {{"res", fromRet, 0}, {"fd", fromFD, 0}},
	"bind":         {{"res", fromRet, 0}, {"fd", fromFD, 0}},
	"accept":       {{"fd", fromRet, 0}},
	"accept4":      {{"fd", fromRet, 0}, {"flags", fromArg, 3}},
	"listen":       {{"res", fromRet, 0}, {"fd", fromFD, 0}, {"backlog", fromArg, 1}},
	"socket":       {{"fd", fromRet, 0}, {"domain", fromDomain, 0}, {"type", fromArg, 1}, {"proto", fromArg, 2}},
	"sendto":       {{"res", fromRet, 0}, {"fd", fromFD, 0}, {"size", fromArg, 2}},
	"sendmsg":      {{"res", fromRet, 0}, {"fd", fromFD, 0}},
	"recvfrom":     {{"res", fromRet, 0}, {"fd", fromFD, 0}, {"size", fromArg, 2}},
	"ptrace":       {{"res", fromRet, 0}, {"request", fromPtrace, 0}, {"pid", fromArg, 1}, {"addr", fromArg, 2}, {"data", fromArg, 3}},
	"setuid":       {{"res", fromRet, 0}, {"uid", fromArg, 0}},
	"setgid":       {{"res", fromRet, 0}, {"gid", fromArg, 0}},
	"setreuid":     {{"res", fromRet, 0}, {"ruid", fromArg, 0}, {"euid", fromArg, 1}},
	"setregid":     {{"res", fromRet, 0}, {"rgid", fromArg, 0}, {"egid", fromArg, 1}},
	"setresuid":    {{"res", fromRet, 0}, {"ruid", fromArg, 0}, {"euid", fromArg, 1}, {"suid", fromArg, 2}},
	"setresgid":    {{"res", fromRet, 0}, {"rgid", fromArg, 0}, {"egid", fromArg, 1}, {"sgid", fromArg, 2}},
	"memfd_create": {{"fd", fromRet, 0}, {"name", fromPath, 0}, {"flags", fromArg, 1}},
	"unlink":       {{"res", fromRet, 0}, {"path", fromAbsPath, 0}},
	"unlinkat":     {{"res", fromRet, 0}, {"dirfd", fromFD, 0}, {"name", fromPath, 0}, {"flags", fromArg, 2}},
	"rmdir":        {{"res", fromRet, 0}, {"path", fromAbsPath, 0}},
	"mkdir":        {{"res", fromRet, 0}, {"path", fromAbsPath, 0}, {"mode", fromOctal, 1}},
	"mkdirat":      {{"res", fromRet, 0}, {"dirfd", fromFD, 0}, {"path", fromPath, 0}, {"mode", fromOctal, 2}},
	"rename":       {{"res", fromRet, 0}, {"oldpath", fromAbsPath, 0}, {"newpath", fromAbsPath2, 0}},
	"renameat": {{"res", fromRet, 0}, {"olddirfd", fromFD, 0}, {"oldpath", fromPath, 0},
		{"newdirfd", fromFD, 2}, {"newpath", fromPath2, 0}},
	"renameat2": {{"res", fromRet, 0}, {"olddirfd", fromFD, 0}, {"oldpath", fromPath, 0},
		{"newdirfd", fromFD, 2}, {"newpath", fromPath2, 0}, {"flags", fromArg, 4}},
	"link": {{"res", fromRet, 0}, {"oldpath", fromAbsPath, 0}, {"newpath", fromAbsPath2, 0}},
	"linkat": {{"res", fromRet, 0}, {"olddir", fromFD, 0}, {"oldpath", fromPath, 0},
		{"newdir", fromFD, 2}, {"newpath", fromPath2, 0}, {"flags", fromArg, 4}},
	"symlink":     {{"res", fromRet, 0}, {"target", fromPath, 0}, {"linkpath", fromAbsPath2, 0}},
	"symlinkat":   {{"res", fromRet, 0}, {"target", fromPath, 0}, {"linkdirfd", fromFD, 1}, {"linkpath", fromPath2, 0}},
	"chmod":       {{"res", fromRet, 0}, {"filename", fromAbsPath, 0}, {"mode", fromOctal, 1}},
	"fchmodat":    {{"res", fromRet, 0}, {"dirfd", fromFD, 0}, {"filename", fromPath, 0}, {"mode", fromOctal, 2}},
	"fchmod":      {{"res", fromRet, 0}, {"fd", fromFD, 0}, {"mode", fromOctal, 1}},
	"chown":       {{"res", fromRet, 0}, {"path", fromAbsPath, 0}, {"uid", fromArg, 1}, {"gid", fromArg, 2}},
	"fchownat":    {{"res", fromRet, 0}, {"dirfd", fromFD, 0}, {"pathname", fromPath, 0}, {"uid", fromArg, 2}, {"gid", fromArg, 3}},
	"truncate":    {{"res", fromRet, 0}, {"path", fromAbsPath, 0}, {"length", fromArg, 1}},
	"ftruncate":   {{"res", fromRet, 0}, {"fd", fromFD, 0}, {"length", fromArg, 1}},
	"chdir":       {{"res", fromRet, 0}, {"path", fromPath, 0}},
	"fchdir":      {{"res", fromRet, 0}, {"fd", fromFD, 0}},
	"chroot":      {{"res", fromRet, 0}, {"path", fromPath, 0}},
	"mount":       {{"res", fromRet, 0}, {"dev", fromPath, 0}, {"dir", fromPath2, 0}, {"type", fromPath3, 0}, {"flags", fromArg, 3}},
	"umount2":     {{"res", fromRet, 0}, {"name", fromPath, 0}, {"flags", fromArg, 1}},
	"umount":      {{"res", fromRet, 0}, {"name", fromPath, 0}, {"flags", fromArg, 1}},
	"dup":         {{"res", fromRet, 0}, {"oldfd", fromFD, 0}},
	"dup2":        {{"res", fromRet, 0}, {"oldfd", fromFD, 0}, {"newfd", fromFD, 1}},
	"dup3":        {{"res", fromRet, 0}, {"oldfd", fromFD, 0}, {"newfd", fromFD, 1}, {"flags", fromArg, 2}},
	"fcntl":       {{"res", fromRet, 0}, {"fd", fromFD, 0}, {"cmd", fromFcntl, 1}},
	"kill":        {{"res", fromRet, 0}, {"pid", fromArg, 0}, {"sig", fromArg, 1}},
	"tgkill":      {{"res", fromRet, 0}, {"pid", fromArg, 0}, {"tid", fromArg, 1}, {"sig", fromArg, 2}},
	"unshare":     {{"res", fromRet, 0}, {"flags", fromArg, 0}},
	"setns":       {{"res", fromRet, 0}, {"fd", fromFD, 0}, {"nstype", fromArg, 1}},
	"bpf":         {{"res_or_fd", fromRet, 0}, {"cmd", fromBPFCmd, 0}},
	"prctl":       {{"res", fromRet, 0}, {"option", fromArg, 0}, {"arg2_str", fromArg, 1}},
	"init_module": {{"res", fromRet, 0}, {"len", fromArg, 1}, {"uargs", fromPath, 0}},
	"finit_module": {{"res", fromRet, 0}, {"fd", fromFD, 0}, {"uargs", fromPath, 0},
		{"flags", fromArg, 2}},
	"userfaultfd": {{"res", fromRet, 0}, {"flags", fromArg, 0}},
	"pipe":        {{"res", fromRet, 0}},
	"pipe2":       {{"res", fromRet, 0}, {"flags", fromArg, 1}},
	"capset":      {{"res", fromRet, 0}},
	"procexit":    {{"status", fromRet, 0}, {"ret", fromRet, 0}},
}

// arg answers evt.arg.NAME / evt.arg[N].
func (e *Event) arg(a fields.Arg) (string, bool) {
	specs := e.argSpecs
	var sp *argSpec
	if a.Index < 0 {
		for i := range specs {
			if specs[i].name == a.Key {
				sp = &specs[i]
				break
			}
		}
	} else if a.Index >= 0 && a.Index < len(specs) {
		sp = &specs[a.Index]
	}
	if sp == nil {
		return "", false
	}
	return e.render(sp)
}

func (e *Event) render(sp *argSpec) (string, bool) {
	ce := e.ce
	b := e.scratch[:0]
	switch sp.from {
	case fromRet:
		b = strconv.AppendInt(b, ce.Ret, 10)
	case fromArg:
		b = strconv.AppendUint(b, ce.Args[sp.n], 10)
	case fromFD:
		fd := int32(ce.Args[sp.n])
		if fd == -100 {
			b = append(b, "AT_FDCWD"...)
		} else {
			b = strconv.AppendInt(b, int64(fd), 10)
		}
	case fromPath:
		return bstr(ce.Path), len(ce.Path) > 0
	case fromPath2:
		return bstr(ce.Path2), len(ce.Path2) > 0
	case fromPath3:
		return bstr(ce.Path3), len(ce.Path3) > 0
	case fromAbsPath:
		if e.path != "" {
			return e.path, true
		}
		return bstr(ce.Path), len(ce.Path) > 0
	case fromAbsPath2:
		if e.path2 != "" {
			return e.path2, true
		}
		return bstr(ce.Path2), len(ce.Path2) > 0
	case fromOpenFlags:
		b = appendOpenFlags(b, ce.Args[sp.n])
	case fromAuxFlags:
		b = appendOpenFlags(b, uint64(ce.Aux[sp.n]))
	case fromPtrace:
		name, ok := ptraceRequests[ce.Args[sp.n]]
		if !ok {
			b = strconv.AppendUint(b, ce.Args[sp.n], 10)
		} else {
			b = append(b, name...)
		}
	case fromDomain:
		if name, ok := socketDomains[ce.Args[sp.n]]; ok {
			b = append(b, name...)
		} else {
			b = strconv.AppendUint(b, ce.Args[sp.n], 10)
		}
	case fromFcntl:
		if name, ok := fcntlCmds[ce.Args[sp.n]]; ok {
			b = append(b, name...)
		} else {
			b = strconv.AppendUint(b, ce.Args[sp.n], 10)
		}
	case fromBPFCmd:
		if name, ok := bpfCmds[ce.Args[sp.n]]; ok {
			b = append(b, name...)
		} else {
			b = strconv.AppendUint(b, ce.Args[sp.n], 10)
		}
	case fromOctal:
		if sp.n < 0 {
			b = strconv.AppendInt(b, ce.Aux[1], 8)
		} else {
			b = strconv.AppendUint(b, ce.Args[sp.n], 8)
		}
	}
	e.scratch = b
	return e.sstr(), true
}
