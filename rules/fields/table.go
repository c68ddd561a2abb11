package fields

// ID identifies a field. The builtin IDs are the constants below; fields
// added to a Registry for tests get IDs after NumBuiltin.
type ID uint16

// Builtin field IDs. Event implementations switch on these.
const (
	Invalid ID = iota

	// evt.*
	EvtNum
	EvtTime
	EvtTimeS
	EvtTimeISO8601
	EvtDatetime
	EvtDatetimeS
	EvtRawtime
	EvtRawtimeS
	EvtRawtimeNs
	EvtReltime
	EvtDeltatime
	EvtLatency
	EvtDir
	EvtType
	EvtTypeIs
	EvtCategory
	EvtCPU
	EvtArgs
	EvtArg
	EvtRawarg
	EvtInfo
	EvtBuffer
	EvtBuflen
	EvtRes
	EvtRawres
	EvtFailed
	EvtIsIO
	EvtIsIORead
	EvtIsIOWrite
	EvtIODir
	EvtIsWait
	EvtIsSyslog
	EvtIsOpenRead
	EvtIsOpenWrite
	EvtIsOpenExec
	EvtIsOpenCreate
	EvtHostname
	EvtSource
	EvtPluginName
	EvtAbspath
	EvtAbspathSrc
	EvtAbspathDst

	// proc.*
	ProcExe
	ProcPexe
	ProcAexe
	ProcExepath
	ProcPexepath
	ProcAexepath
	ProcName
	ProcPname
	ProcAname
	ProcArgs
	ProcCmdline
	ProcPcmdline
	ProcAcmdline
	ProcCmdnargs
	ProcCmdlenargs
	ProcExeline
	ProcEnv
	ProcAenv
	ProcCwd
	ProcLoginshellid
	ProcTty
	ProcPid
	ProcPpid
	ProcApid
	ProcVpid
	ProcPvpid
	ProcSid
	ProcSname
	ProcSidExe
	ProcSidExepath
	ProcVpgid
	ProcVpgidName
	ProcVpgidExe
	ProcVpgidExepath
	ProcDuration
	ProcPpidDuration
	ProcPidTs
	ProcPpidTs
	ProcIsExeWritable
	ProcIsExeUpperLayer
	ProcIsExeFromMemfd
	ProcIsSidLeader
	ProcIsVpgidLeader
	ProcIsContainerHealthcheck
	ProcIsContainerLivenessProbe
	ProcIsContainerReadinessProbe
	ProcExeIno
	ProcExeInoCtime
	ProcExeInoMtime
	ProcExeInoCtimeDurationProcStart
	ProcExeInoCtimeDurationPidnsStart
	ProcPidnsInitStartTs
	ProcFdopencount
	ProcFdlimit
	ProcVmsize
	ProcVmrss
	ProcVmswap
	ProcPfmajor
	ProcPfminor

	// thread.*
	ThreadTid
	ThreadVtid
	ThreadIsmain
	ThreadCapPermitted
	ThreadCapInheritable
	ThreadCapEffective
	ThreadCgroups
	ThreadCgroup

	// user.*, group.*
	UserUID
	UserName
	UserHomedir
	UserShell
	UserLoginuid
	UserLoginname
	GroupGID
	GroupName

	// fd.*
	FdNum
	FdType
	FdTypechar
	FdName
	FdDirectory
	FdFilename
	FdNameraw
	FdNameChanged
	FdIP
	FdCip
	FdSip
	FdLip
	FdRip
	FdPort
	FdCport
	FdSport
	FdLport
	FdRport
	FdL4proto
	FdSockfamily
	FdIsServer
	FdUID
	FdContainername
	FdContainerdirectory
	FdNet
	FdCnet
	FdSnet
	FdLnet
	FdRnet
	FdConnected
	FdCipName
	FdSipName
	FdLipName
	FdRipName
	FdDev
	FdDevMajor
	FdDevMinor
	FdIno
	FdTypes

	// fs.path.*
	FsPathName
	FsPathNameraw
	FsPathSource
	FsPathSourceraw
	FsPathTarget
	FsPathTargetraw

	// container.*
	ContainerID
	ContainerFullID
	ContainerName
	ContainerImage
	ContainerImageID
	ContainerImageRepository
	ContainerImageTag
	ContainerImageDigest
	ContainerType
	ContainerPrivileged
	ContainerMounts
	ContainerMount
	ContainerMountSource
	ContainerMountDest
	ContainerMountMode
	ContainerMountRdwr
	ContainerMountPropagation
	ContainerHealthcheck
	ContainerLivenessProbe
	ContainerReadinessProbe
	ContainerStartTs
	ContainerDuration
	ContainerIP
	ContainerCNIJSON
	ContainerHostPid
	ContainerLabel
	ContainerLabels

	// k8s.*
	K8sPodName
	K8sPodID
	K8sPodUID
	K8sPodSandboxID
	K8sPodFullSandboxID
	K8sPodLabel
	K8sPodLabels
	K8sPodIP
	K8sPodCNIJSON
	K8sNsName
	K8sNsID
	K8sNsLabel
	K8sNsLabels
	K8sRcName
	K8sRsName
	K8sSvcName
	K8sDeploymentName

	// NumBuiltin is the number of builtin IDs (including Invalid).
	NumBuiltin
)

const (
	cnt = ArgIndex // shorthand in the table
	key = ArgKey
)

// builtin is the field table, indexed by ID. Descriptions follow Falco's
// field listing so that `lanner-agent list-fields` reads familiar.
var builtin = [NumBuiltin]Field{
	EvtNum:          {Name: "evt.num", Type: TypeUint64, Desc: "event number."},
	EvtTime:         {Name: "evt.time", Type: TypeString, Desc: "event timestamp as a time string that includes the nanosecond part."},
	EvtTimeS:        {Name: "evt.time.s", Type: TypeString, Desc: "event timestamp as a time string with no nanoseconds."},
	EvtTimeISO8601:  {Name: "evt.time.iso8601", Type: TypeString, Desc: "event timestamp in ISO 8601 format, including nanoseconds and time zone offset (in UTC)."},
	EvtDatetime:     {Name: "evt.datetime", Type: TypeString, Desc: "event timestamp as a time string that includes the date."},
	EvtDatetimeS:    {Name: "evt.datetime.s", Type: TypeString, Desc: "event timestamp as a datetime string with no nanoseconds."},
	EvtRawtime:      {Name: "evt.rawtime", Type: TypeAbsTime, Desc: "absolute event timestamp, i.e. nanoseconds from epoch."},
	EvtRawtimeS:     {Name: "evt.rawtime.s", Type: TypeAbsTime, Desc: "integer part of the event timestamp (e.g. seconds since epoch)."},
	EvtRawtimeNs:    {Name: "evt.rawtime.ns", Type: TypeAbsTime, Desc: "fractional part of the absolute event timestamp."},
	EvtReltime:      {Name: "evt.reltime", Type: TypeRelTime, Desc: "number of nanoseconds from the beginning of the capture."},
	EvtDeltatime:    {Name: "evt.deltatime", Type: TypeRelTime, Desc: "delta between this event and the previous event, in nanoseconds."},
	EvtLatency:      {Name: "evt.latency", Type: TypeRelTime, Desc: "delta between an exit event and the correspondent enter event, in nanoseconds."},
	EvtDir:          {Name: "evt.dir", Type: TypeString, Desc: "event direction can be either '>' for enter events or '<' for exit events."},
	EvtType:         {Name: "evt.type", Type: TypeString, Desc: "The name of the event (e.g. 'open')."},
	EvtTypeIs:       {Name: "evt.type.is", Type: TypeUint64, Arg: key, ArgRequired: true, DotArg: true, Desc: "allows one to specify an event type, and returns 1 for events that are of that type. For example, evt.type.is.open returns 1 for open events, 0 for any other event."},
	EvtCategory:     {Name: "evt.category", Type: TypeString, Desc: "The event category. Example values are 'file' (for file operations like open and close), 'net' (for network operations like socket and bind), memory (for things like brk or mmap), and so on."},
	EvtCPU:          {Name: "evt.cpu", Type: TypeInt64, Desc: "number of the CPU where this event happened."},
	EvtArgs:         {Name: "evt.args", Type: TypeString, Desc: "all the event arguments, aggregated into a single string."},
	EvtArg:          {Name: "evt.arg", Type: TypeString, Arg: ArgIndexOrKey, ArgRequired: true, DotArg: true, Desc: "one of the event arguments specified by name or by number. Some events (e.g. return codes or FDs) will be converted into a text representation when possible. E.g. 'evt.arg.fd' or 'evt.arg[0]'."},
	EvtRawarg:       {Name: "evt.rawarg", Type: TypeString, Arg: ArgIndexOrKey, ArgRequired: true, DotArg: true, Desc: "one of the event arguments specified by name. E.g. 'evt.rawarg.fd'. Lanner compares it as text."},
	EvtInfo:         {Name: "evt.info", Type: TypeString, Desc: "for most events, this field returns the same value as evt.args."},
	EvtBuffer:       {Name: "evt.buffer", Type: TypeBytes, Desc: "the binary data buffer for events that have one, like read(), recvfrom(), etc."},
	EvtBuflen:       {Name: "evt.buflen", Type: TypeUint64, Desc: "the length of the binary data buffer for events that have one, like read(), recvfrom(), etc."},
	EvtRes:          {Name: "evt.res", Type: TypeString, Desc: "event return value, as a string. If the event failed, the result is an error code string (e.g. 'ENOENT'), otherwise the result is the string 'SUCCESS'."},
	EvtRawres:       {Name: "evt.rawres", Type: TypeInt64, Desc: "event return value, as a number (e.g. -2). Useful for range comparisons."},
	EvtFailed:       {Name: "evt.failed", Type: TypeBool, Desc: "'true' for events that returned an error status."},
	EvtIsIO:         {Name: "evt.is_io", Type: TypeBool, Desc: "'true' for events that read or write to FDs, like read(), send, recvfrom(), etc."},
	EvtIsIORead:     {Name: "evt.is_io_read", Type: TypeBool, Desc: "'true' for events that read from FDs, like read(), recv(), recvfrom(), etc."},
	EvtIsIOWrite:    {Name: "evt.is_io_write", Type: TypeBool, Desc: "'true' for events that write to FDs, like write(), send(), etc."},
	EvtIODir:        {Name: "evt.io_dir", Type: TypeString, Desc: "'r' for events that read from FDs, like read(); 'w' for events that write to FDs, like write()."},
	EvtIsWait:       {Name: "evt.is_wait", Type: TypeBool, Desc: "'true' for events that make the thread wait, e.g. sleep(), select(), poll()."},
	EvtIsSyslog:     {Name: "evt.is_syslog", Type: TypeBool, Desc: "'true' for events that are writes to /dev/log."},
	EvtIsOpenRead:   {Name: "evt.is_open_read", Type: TypeBool, Desc: "'true' for open/openat/openat2/open_by_handle_at events where the path was opened for reading."},
	EvtIsOpenWrite:  {Name: "evt.is_open_write", Type: TypeBool, Desc: "'true' for open/openat/openat2/open_by_handle_at events where the path was opened for writing."},
	EvtIsOpenExec:   {Name: "evt.is_open_exec", Type: TypeBool, Desc: "'true' for open/openat/openat2/open_by_handle_at or creat events where a file is created with execute permissions."},
	EvtIsOpenCreate: {Name: "evt.is_open_create", Type: TypeBool, Desc: "'true' for open/openat/openat2/open_by_handle_at events where a file is created."},
	EvtHostname:     {Name: "evt.hostname", Type: TypeString, Desc: "The hostname of the underlying host."},
	EvtSource:       {Name: "evt.source", Type: TypeString, Desc: "The name of the source producing the event ('syscall')."},
	EvtPluginName:   {Name: "evt.pluginname", Type: TypeString, Desc: "if the event comes from a plugin, the name of the plugin that generated it."},
	EvtAbspath:      {Name: "evt.abspath", Type: TypeString, Desc: "Absolute path calculated from dirfd and name during syscalls like renameat and symlinkat."},
	EvtAbspathSrc:   {Name: "evt.abspath.src", Type: TypeString, Desc: "Source absolute path calculated from dirfd and name during syscalls like renameat and symlinkat."},
	EvtAbspathDst:   {Name: "evt.abspath.dst", Type: TypeString, Desc: "Destination absolute path calculated from dirfd and name during syscalls like renameat and symlinkat."},

	ProcExe:                           {Name: "proc.exe", Type: TypeString, Desc: "The first command-line argument (argv[0]), usually the executable name or a custom one."},
	ProcPexe:                          {Name: "proc.pexe", Type: TypeString, Desc: "The proc.exe (first command line argument argv[0]) of the parent process."},
	ProcAexe:                          {Name: "proc.aexe", Type: TypeString, Arg: cnt, List: true, ListFrom: 1, Desc: "The proc.exe (argv[0]) for a specific process ancestor: proc.aexe[1] is the parent, proc.aexe[2] the grandparent; without an index it matches any ancestor."},
	ProcExepath:                       {Name: "proc.exepath", Type: TypeString, Desc: "The full executable path of the process (resolved from /proc/PID/exe)."},
	ProcPexepath:                      {Name: "proc.pexepath", Type: TypeString, Desc: "The proc.exepath (full executable path) of the parent process."},
	ProcAexepath:                      {Name: "proc.aexepath", Type: TypeString, Arg: cnt, List: true, ListFrom: 1, Desc: "The proc.exepath (full executable path) for a specific process ancestor; without an index it matches any ancestor."},
	ProcName:                          {Name: "proc.name", Type: TypeString, Desc: "The process name (truncated after 16 characters) generating the event (task->comm)."},
	ProcPname:                         {Name: "proc.pname", Type: TypeString, Desc: "The proc.name of the parent of the process generating the event."},
	ProcAname:                         {Name: "proc.aname", Type: TypeString, Arg: cnt, List: true, ListFrom: 1, Desc: "The proc.name for a specific process ancestor: proc.aname[1] is the parent (proc.pname), proc.aname[2] the grandparent, proc.aname[0] the process itself. Without an index it matches any ancestor."},
	ProcArgs:                          {Name: "proc.args", Type: TypeString, Desc: "The arguments passed on the command line when starting the process generating the event, excluding argv[0]."},
	ProcCmdline:                       {Name: "proc.cmdline", Type: TypeString, Desc: "The concatenation of proc.name + proc.args."},
	ProcPcmdline:                      {Name: "proc.pcmdline", Type: TypeString, Desc: "The proc.cmdline (full command line (proc.name + proc.args)) of the parent of the process generating the event."},
	ProcAcmdline:                      {Name: "proc.acmdline", Type: TypeString, Arg: cnt, List: true, ListFrom: 1, Desc: "The full command line (proc.name + proc.args) for a specific process ancestor; without an index it matches any ancestor."},
	ProcCmdnargs:                      {Name: "proc.cmdnargs", Type: TypeUint64, Desc: "The number of command line args (proc.args)."},
	ProcCmdlenargs:                    {Name: "proc.cmdlenargs", Type: TypeUint64, Desc: "The total count of characters / length of the command line args (proc.args) combined excluding whitespaces between args."},
	ProcExeline:                       {Name: "proc.exeline", Type: TypeString, Desc: "The full command line, with exe as first argument (proc.exe + proc.args)."},
	ProcEnv:                           {Name: "proc.env", Type: TypeString, Arg: key, Desc: "The environment variables of the process generating the event as concatenated string 'ENV_NAME=value ENV_NAME1=value1'. With an argument, the value of that variable (proc.env[HOME])."},
	ProcAenv:                          {Name: "proc.aenv", Type: TypeString, Arg: key, Desc: "The value of an environment variable of the process or of its nearest ancestor that has it (proc.aenv[HOME])."},
	ProcCwd:                           {Name: "proc.cwd", Type: TypeString, Desc: "The current working directory of the event."},
	ProcLoginshellid:                  {Name: "proc.loginshellid", Type: TypeInt64, Desc: "The pid of the oldest shell among the ancestors of the current process, if there is one."},
	ProcTty:                           {Name: "proc.tty", Type: TypeUint64, Desc: "The controlling terminal of the process. 0 for processes without a terminal."},
	ProcPid:                           {Name: "proc.pid", Type: TypeInt64, Desc: "The id of the process generating the event."},
	ProcPpid:                          {Name: "proc.ppid", Type: TypeInt64, Desc: "The pid of the parent of the process generating the event."},
	ProcApid:                          {Name: "proc.apid", Type: TypeInt64, Arg: cnt, List: true, ListFrom: 1, Desc: "The pid for a specific process ancestor; without an index it matches any ancestor."},
	ProcVpid:                          {Name: "proc.vpid", Type: TypeInt64, Desc: "The id of the process generating the event as seen from its current PID namespace."},
	ProcPvpid:                         {Name: "proc.pvpid", Type: TypeInt64, Desc: "The id of the parent process generating the event as seen from its current PID namespace."},
	ProcSid:                           {Name: "proc.sid", Type: TypeInt64, Desc: "The session id of the process generating the event."},
	ProcSname:                         {Name: "proc.sname", Type: TypeString, Desc: "The name of the current process's session leader."},
	ProcSidExe:                        {Name: "proc.sid.exe", Type: TypeString, Desc: "The first command line argument argv[0] of the current process's session leader."},
	ProcSidExepath:                    {Name: "proc.sid.exepath", Type: TypeString, Desc: "The full executable path of the current process's session leader."},
	ProcVpgid:                         {Name: "proc.vpgid", Type: TypeInt64, Desc: "The process group id of the process generating the event, as seen from its current PID namespace."},
	ProcVpgidName:                     {Name: "proc.vpgid.name", Type: TypeString, Desc: "The name of the current process's process group leader."},
	ProcVpgidExe:                      {Name: "proc.vpgid.exe", Type: TypeString, Desc: "The first command line argument argv[0] of the current process's group leader."},
	ProcVpgidExepath:                  {Name: "proc.vpgid.exepath", Type: TypeString, Desc: "The full executable path of the current process's group leader."},
	ProcDuration:                      {Name: "proc.duration", Type: TypeRelTime, Desc: "Number of nanoseconds since the process started."},
	ProcPpidDuration:                  {Name: "proc.ppid.duration", Type: TypeRelTime, Desc: "Number of nanoseconds since the parent process started."},
	ProcPidTs:                         {Name: "proc.pid.ts", Type: TypeAbsTime, Desc: "Start of process as epoch timestamp in nanoseconds."},
	ProcPpidTs:                        {Name: "proc.ppid.ts", Type: TypeAbsTime, Desc: "Start of parent process as epoch timestamp in nanoseconds."},
	ProcIsExeWritable:                 {Name: "proc.is_exe_writable", Type: TypeBool, Desc: "'true' if this process' executable file is writable by the same user that spawned the process."},
	ProcIsExeUpperLayer:               {Name: "proc.is_exe_upper_layer", Type: TypeBool, Desc: "'true' if this process' executable file is in upper layer in overlayfs. This field value can only be trusted if the underlying kernel version is greater or equal than 3.18.0."},
	ProcIsExeFromMemfd:                {Name: "proc.is_exe_from_memfd", Type: TypeBool, Desc: "'true' if the executable file of the current process is an anonymous file created using memfd_create() and is being executed by referencing its file descriptor (fd)."},
	ProcIsSidLeader:                   {Name: "proc.is_sid_leader", Type: TypeBool, Desc: "'true' if this process is the leader of the process session, proc.sid == proc.vpid."},
	ProcIsVpgidLeader:                 {Name: "proc.is_vpgid_leader", Type: TypeBool, Desc: "'true' if this process is the leader of the virtual process group, proc.vpgid == proc.vpid."},
	ProcIsContainerHealthcheck:        {Name: "proc.is_container_healthcheck", Type: TypeBool, Desc: "'true' if this process is running as a part of the container's health check."},
	ProcIsContainerLivenessProbe:      {Name: "proc.is_container_liveness_probe", Type: TypeBool, Desc: "'true' if this process is running as a part of the container's liveness probe."},
	ProcIsContainerReadinessProbe:     {Name: "proc.is_container_readiness_probe", Type: TypeBool, Desc: "'true' if this process is running as a part of the container's readiness probe."},
	ProcExeIno:                        {Name: "proc.exe_ino", Type: TypeInt64, Desc: "The inode number of the executable file on disk."},
	ProcExeInoCtime:                   {Name: "proc.exe_ino.ctime", Type: TypeAbsTime, Desc: "Last status change time of executable file (inode->ctime) as epoch timestamp in nanoseconds."},
	ProcExeInoMtime:                   {Name: "proc.exe_ino.mtime", Type: TypeAbsTime, Desc: "Last modification time of executable file (inode->mtime) as epoch timestamp in nanoseconds."},
	ProcExeInoCtimeDurationProcStart:  {Name: "proc.exe_ino.ctime_duration_proc_start", Type: TypeRelTime, Desc: "Number of nanoseconds between modifying status of executable image and spawning a new process using the changed executable image."},
	ProcExeInoCtimeDurationPidnsStart: {Name: "proc.exe_ino.ctime_duration_pidns_start", Type: TypeRelTime, Desc: "Number of nanoseconds between PID namespace start ts and ctime exe file if PID namespace start predates ctime."},
	ProcPidnsInitStartTs:              {Name: "proc.pidns_init_start_ts", Type: TypeUint64, Desc: "Start of PID namespace (container or non container vm/host) as epoch timestamp in nanoseconds."},
	ProcFdopencount:                   {Name: "proc.fdopencount", Type: TypeUint64, Desc: "Number of open FDs for the process."},
	ProcFdlimit:                       {Name: "proc.fdlimit", Type: TypeInt64, Desc: "Maximum number of FDs the process can open."},
	ProcVmsize:                        {Name: "proc.vmsize", Type: TypeUint64, Desc: "Total virtual memory for the process (as kb)."},
	ProcVmrss:                         {Name: "proc.vmrss", Type: TypeUint64, Desc: "Resident non-swapped memory for the process (as kb)."},
	ProcVmswap:                        {Name: "proc.vmswap", Type: TypeUint64, Desc: "Swapped memory for the process (as kb)."},
	ProcPfmajor:                       {Name: "proc.pfmajor", Type: TypeUint64, Desc: "Number of major page faults since thread start."},
	ProcPfminor:                       {Name: "proc.pfminor", Type: TypeUint64, Desc: "Number of minor page faults since thread start."},

	ThreadTid:            {Name: "thread.tid", Type: TypeInt64, Desc: "The id of the thread generating the event."},
	ThreadVtid:           {Name: "thread.vtid", Type: TypeInt64, Desc: "The id of the thread generating the event as seen from its current PID namespace."},
	ThreadIsmain:         {Name: "thread.ismain", Type: TypeBool, Desc: "'true' if the thread generating the event is the main one in the process."},
	ThreadCapPermitted:   {Name: "thread.cap_permitted", Type: TypeString, Desc: "The permitted capabilities set, as space-separated names (CAP_CHOWN CAP_SYS_ADMIN ...)."},
	ThreadCapInheritable: {Name: "thread.cap_inheritable", Type: TypeString, Desc: "The inheritable capabilities set, as space-separated names."},
	ThreadCapEffective:   {Name: "thread.cap_effective", Type: TypeString, Desc: "The effective capabilities set, as space-separated names."},
	ThreadCgroups:        {Name: "thread.cgroups", Type: TypeString, Desc: "All the cgroups the thread belongs to, aggregated into a single string."},
	ThreadCgroup:         {Name: "thread.cgroup", Type: TypeString, Arg: key, ArgRequired: true, Desc: "The cgroup the thread belongs to, for a specific subsystem. E.g. thread.cgroup.cpuacct.", DotArg: true},

	UserUID:       {Name: "user.uid", Type: TypeUint64, Desc: "user ID."},
	UserName:      {Name: "user.name", Type: TypeString, Desc: "user name."},
	UserHomedir:   {Name: "user.homedir", Type: TypeString, Desc: "home directory of the user."},
	UserShell:     {Name: "user.shell", Type: TypeString, Desc: "user's shell."},
	UserLoginuid:  {Name: "user.loginuid", Type: TypeInt64, Desc: "audit user id (auid), internally the loginuid is of type uint32_t. However, if an invalid uid corresponding to UINT32_MAX is encountered, it is returned as -1 to support familiar filtering conditions."},
	UserLoginname: {Name: "user.loginname", Type: TypeString, Desc: "audit user name (auid)."},
	GroupGID:      {Name: "group.gid", Type: TypeUint64, Desc: "group ID."},
	GroupName:     {Name: "group.name", Type: TypeString, Desc: "group name."},

	FdNum:                {Name: "fd.num", Type: TypeInt64, Desc: "the unique number identifying the file descriptor."},
	FdType:               {Name: "fd.type", Type: TypeString, Desc: "type of FD. Can be 'file', 'directory', 'ipv4', 'ipv6', 'unix', 'pipe', 'event', 'signalfd', 'eventpoll', 'inotify', 'signalfd' or 'memfd'."},
	FdTypechar:           {Name: "fd.typechar", Type: TypeString, Desc: "type of FD as a single character. Can be 'f' for file, 4 for IPv4 socket, 6 for IPv6 socket, 'u' for unix socket, p for pipe, 'e' for eventfd, 's' for signalfd, 'l' for eventpoll, 'i' for inotify, 'b' for bpf, 'u' for userfaultd, 'r' for io_uring, 'm' for memfd, 'o' for unknown."},
	FdName:               {Name: "fd.name", Type: TypeString, Desc: "FD full name. If the fd is a file, this field contains the full path. If the FD is a socket, this field contain the connection tuple."},
	FdDirectory:          {Name: "fd.directory", Type: TypeString, Desc: "If the fd is a file, the directory that contains it."},
	FdFilename:           {Name: "fd.filename", Type: TypeString, Desc: "If the fd is a file, the filename without the path."},
	FdNameraw:            {Name: "fd.nameraw", Type: TypeString, Desc: "FD full name raw. Just like fd.name, but only used if fd is a file path. File path is kept raw with limited sanitization and without deriving the absolute path."},
	FdNameChanged:        {Name: "fd.name_changed", Type: TypeBool, Desc: "True when an event changes the name of an fd used by this event. This can occur in some cases such as udp connections where the connection tuple changes."},
	FdIP:                 {Name: "fd.ip", Type: TypeIPAddr, AnyOf: []string{"fd.cip", "fd.sip"}, FilterOnly: true, Desc: "(FILTER ONLY) matches the ip address (client or server) of the fd."},
	FdCip:                {Name: "fd.cip", Type: TypeIPAddr, Desc: "client IP address."},
	FdSip:                {Name: "fd.sip", Type: TypeIPAddr, Desc: "server IP address."},
	FdLip:                {Name: "fd.lip", Type: TypeIPAddr, Desc: "local IP address."},
	FdRip:                {Name: "fd.rip", Type: TypeIPAddr, Desc: "remote IP address."},
	FdPort:               {Name: "fd.port", Type: TypePort, AnyOf: []string{"fd.cport", "fd.sport"}, FilterOnly: true, Desc: "(FILTER ONLY) matches the port (either client or server) of the fd."},
	FdCport:              {Name: "fd.cport", Type: TypePort, Desc: "for TCP/UDP FDs, the client port."},
	FdSport:              {Name: "fd.sport", Type: TypePort, Desc: "for TCP/UDP FDs, server port."},
	FdLport:              {Name: "fd.lport", Type: TypePort, Desc: "for TCP/UDP FDs, the local port."},
	FdRport:              {Name: "fd.rport", Type: TypePort, Desc: "for TCP/UDP FDs, the remote port."},
	FdL4proto:            {Name: "fd.l4proto", Type: TypeString, Desc: "the IP protocol of a socket. Can be 'tcp', 'udp', 'icmp' or 'raw'."},
	FdSockfamily:         {Name: "fd.sockfamily", Type: TypeString, Desc: "the socket family for socket events. Can be 'ip' or 'unix'."},
	FdIsServer:           {Name: "fd.is_server", Type: TypeBool, Desc: "'true' if the process owning this FD is the server endpoint in the connection."},
	FdUID:                {Name: "fd.uid", Type: TypeString, Desc: "a unique identifier for the FD, created by chaining the FD number and the thread ID."},
	FdContainername:      {Name: "fd.containername", Type: TypeString, Desc: "chaining of the container ID and the FD name. Useful when trying to identify which container an FD belongs to."},
	FdContainerdirectory: {Name: "fd.containerdirectory", Type: TypeString, Desc: "chaining of the container ID and the directory name. Useful when trying to identify which container a directory belongs to."},
	FdNet:                {Name: "fd.net", Type: TypeIPNet, AnyOf: []string{"fd.cip", "fd.sip"}, FilterOnly: true, Desc: "(FILTER ONLY) matches the IP network (client or server) of the fd."},
	FdCnet:               {Name: "fd.cnet", Type: TypeIPNet, AnyOf: []string{"fd.cip"}, FilterOnly: true, Desc: "(FILTER ONLY) matches the client IP network of the fd."},
	FdSnet:               {Name: "fd.snet", Type: TypeIPNet, AnyOf: []string{"fd.sip"}, FilterOnly: true, Desc: "(FILTER ONLY) matches the server IP network of the fd."},
	FdLnet:               {Name: "fd.lnet", Type: TypeIPNet, AnyOf: []string{"fd.lip"}, FilterOnly: true, Desc: "(FILTER ONLY) matches the local IP network of the fd."},
	FdRnet:               {Name: "fd.rnet", Type: TypeIPNet, AnyOf: []string{"fd.rip"}, FilterOnly: true, Desc: "(FILTER ONLY) matches the remote IP network of the fd."},
	FdConnected:          {Name: "fd.connected", Type: TypeBool, Desc: "for TCP/UDP FDs, 'true' if the socket is connected."},
	FdCipName:            {Name: "fd.cip.name", Type: TypeString, Desc: "Domain name associated with the client IP address."},
	FdSipName:            {Name: "fd.sip.name", Type: TypeString, Desc: "Domain name associated with the server IP address."},
	FdLipName:            {Name: "fd.lip.name", Type: TypeString, Desc: "Domain name associated with the local IP address."},
	FdRipName:            {Name: "fd.rip.name", Type: TypeString, Desc: "Domain name associated with the remote IP address."},
	FdDev:                {Name: "fd.dev", Type: TypeUint64, Desc: "device number (major/minor) containing the referenced file."},
	FdDevMajor:           {Name: "fd.dev.major", Type: TypeUint64, Desc: "major device number containing the referenced file."},
	FdDevMinor:           {Name: "fd.dev.minor", Type: TypeUint64, Desc: "minor device number containing the referenced file."},
	FdIno:                {Name: "fd.ino", Type: TypeUint64, Desc: "inode number of the referenced file."},
	FdTypes:              {Name: "fd.types", Type: TypeString, Arg: cnt, List: true, Desc: "List of FD types in used. Can be passed an fd number e.g. fd.types[0] to get the type of stdin; without an argument it matches any open fd's type."},

	FsPathName:      {Name: "fs.path.name", Type: TypeString, Desc: "For any event type that deals with a filesystem path, the path the file syscall is operating on. This path is always fully resolved, prepending the thread cwd when needed."},
	FsPathNameraw:   {Name: "fs.path.nameraw", Type: TypeString, Desc: "For any event type that deals with a filesystem path, the path the file syscall is operating on. This path is always the path provided to the syscall and may not be fully resolved."},
	FsPathSource:    {Name: "fs.path.source", Type: TypeString, Desc: "For any event type that deals with a filesystem path, and specifically for a source and target like mv, cp, etc, the source path the file syscall is operating on. This path is always fully resolved."},
	FsPathSourceraw: {Name: "fs.path.sourceraw", Type: TypeString, Desc: "Like fs.path.source, as provided to the syscall and not resolved."},
	FsPathTarget:    {Name: "fs.path.target", Type: TypeString, Desc: "For any event type that deals with a filesystem path, and specifically for a target and source like mv, cp, etc, the target path the file syscall is operating on. This path is always fully resolved."},
	FsPathTargetraw: {Name: "fs.path.targetraw", Type: TypeString, Desc: "Like fs.path.target, as provided to the syscall and not resolved."},

	ContainerID:               {Name: "container.id", Type: TypeString, Desc: "The truncated container ID (first 12 characters), e.g. 3ad7b26ded6d is extracted from the Linux cgroups by Falco within the kernel. Consequently, this field is reliably available and serves as the lookup key for Falco's synchronous or asynchronous requests against the container runtime socket to retrieve all other 'container.*' information. One important aspect to be aware of is that if the process occurs on the host, meaning not in the container PID namespace, this field is set to a string called 'host'."},
	ContainerFullID:           {Name: "container.full_id", Type: TypeString, Desc: "The full container ID, e.g. 3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e."},
	ContainerName:             {Name: "container.name", Type: TypeString, Desc: "The container name. In instances of userspace container engine lookup delays, this field may not be available yet."},
	ContainerImage:            {Name: "container.image", Type: TypeString, Desc: "The container image name (e.g. falcosecurity/falco:latest for docker)."},
	ContainerImageID:          {Name: "container.image.id", Type: TypeString, Desc: "The container image id (e.g. 6f7e2741b66b)."},
	ContainerImageRepository:  {Name: "container.image.repository", Type: TypeString, Desc: "The container image repository (e.g. falcosecurity/falco)."},
	ContainerImageTag:         {Name: "container.image.tag", Type: TypeString, Desc: "The container image tag (e.g. stable, latest)."},
	ContainerImageDigest:      {Name: "container.image.digest", Type: TypeString, Desc: "The container image registry digest (e.g. sha256:d977378f890d445c15e51795296e4e5062f109ce6da83e0a355fc4ad8699d27)."},
	ContainerType:             {Name: "container.type", Type: TypeString, Desc: "The container type, e.g. docker, cri-o, containerd etc."},
	ContainerPrivileged:       {Name: "container.privileged", Type: TypeBool, Desc: "'true' for containers running as privileged, 'false' otherwise."},
	ContainerMounts:           {Name: "container.mounts", Type: TypeString, Desc: "A space-separated list of mount information. Each item in the list has the format 'source:dest:mode:rdrw:propagation'."},
	ContainerMount:            {Name: "container.mount", Type: TypeString, Arg: ArgIndexOrKey, ArgRequired: true, Desc: "Information about a single mount, specified by number (e.g. container.mount[0]) or mount source (container.mount[/usr/local]). The pathname can be a glob (container.mount[/usr/local/*]), in which case the first matching mount will be returned."},
	ContainerMountSource:      {Name: "container.mount.source", Type: TypeString, Arg: ArgIndexOrKey, ArgRequired: true, Desc: "The mount source, specified by number (e.g. container.mount.source[0]) or mount destination (container.mount.source[/host/lib/modules]). The pathname can be a glob."},
	ContainerMountDest:        {Name: "container.mount.dest", Type: TypeString, Arg: ArgIndexOrKey, ArgRequired: true, Desc: "The mount destination, specified by number (e.g. container.mount.dest[0]) or mount source (container.mount.dest[/lib/modules]). The pathname can be a glob."},
	ContainerMountMode:        {Name: "container.mount.mode", Type: TypeString, Arg: ArgIndexOrKey, ArgRequired: true, Desc: "The mount mode, specified by number (e.g. container.mount.mode[0]) or mount source (container.mount.mode[/usr/local]). The pathname can be a glob."},
	ContainerMountRdwr:        {Name: "container.mount.rdwr", Type: TypeString, Arg: ArgIndexOrKey, ArgRequired: true, Desc: "The mount rdwr value, specified by number (e.g. container.mount.rdwr[0]) or mount source (container.mount.rdwr[/usr/local]). The pathname can be a glob."},
	ContainerMountPropagation: {Name: "container.mount.propagation", Type: TypeString, Arg: ArgIndexOrKey, ArgRequired: true, Desc: "The mount propagation value, specified by number (e.g. container.mount.propagation[0]) or mount source (container.mount.propagation[/usr/local]). The pathname can be a glob."},
	ContainerHealthcheck:      {Name: "container.healthcheck", Type: TypeString, Desc: "The container's health check. Will be the null value ('N/A') if no healthcheck configured."},
	ContainerLivenessProbe:    {Name: "container.liveness_probe", Type: TypeString, Desc: "The container's liveness probe. Will be the null value ('N/A') if no liveness probe configured."},
	ContainerReadinessProbe:   {Name: "container.readiness_probe", Type: TypeString, Desc: "The container's readiness probe. Will be the null value ('N/A') if no readiness probe configured."},
	ContainerStartTs:          {Name: "container.start_ts", Type: TypeAbsTime, Desc: "Container start as epoch timestamp in nanoseconds based on proc.pidns_init_start_ts."},
	ContainerDuration:         {Name: "container.duration", Type: TypeRelTime, Desc: "Number of nanoseconds since container.start_ts."},
	ContainerIP:               {Name: "container.ip", Type: TypeString, Desc: "The container's / pod's primary ip address as retrieved from the container engine."},
	ContainerCNIJSON:          {Name: "container.cni.json", Type: TypeString, Desc: "The container's / pod's CNI result field from the respective pod status info."},
	ContainerHostPid:          {Name: "container.host_pid", Type: TypeBool, Desc: "'true' if the container is running in the host PID namespace, 'false' otherwise."},
	ContainerLabel:            {Name: "container.label", Type: TypeString, Arg: key, ArgRequired: true, DotArg: true, Desc: "The value of a container label, e.g. container.label[app] or container.label.app."},
	ContainerLabels:           {Name: "container.labels", Type: TypeString, Desc: "The container's labels, as comma-separated key:value pairs."},

	K8sPodName:          {Name: "k8s.pod.name", Type: TypeString, Desc: "The Kubernetes pod name."},
	K8sPodID:            {Name: "k8s.pod.id", Type: TypeString, Desc: "[LEGACY] The Kubernetes pod UID (same as k8s.pod.uid)."},
	K8sPodUID:           {Name: "k8s.pod.uid", Type: TypeString, Desc: "The Kubernetes pod UID."},
	K8sPodSandboxID:     {Name: "k8s.pod.sandbox_id", Type: TypeString, Desc: "The truncated Kubernetes pod sandbox ID (first 12 characters)."},
	K8sPodFullSandboxID: {Name: "k8s.pod.full_sandbox_id", Type: TypeString, Desc: "The full, non-truncated Kubernetes pod sandbox ID."},
	K8sPodLabel:         {Name: "k8s.pod.label", Type: TypeString, Arg: key, ArgRequired: true, DotArg: true, Desc: "The Kubernetes pod label, e.g. k8s.pod.label[foo] or k8s.pod.label.foo."},
	K8sPodLabels:        {Name: "k8s.pod.labels", Type: TypeString, Desc: "The Kubernetes pod comma-separated key/value labels, e.g. 'foo1:bar1,foo2:bar2'."},
	K8sPodIP:            {Name: "k8s.pod.ip", Type: TypeString, Desc: "The Kubernetes pod ip, same as container.ip field as each container in a pod shares the network stack of the sandbox / pod."},
	K8sPodCNIJSON:       {Name: "k8s.pod.cni.json", Type: TypeString, Desc: "The Kubernetes pod CNI result field from the respective pod status info, same as container.cni.json field."},
	K8sNsName:           {Name: "k8s.ns.name", Type: TypeString, Desc: "The Kubernetes namespace name."},
	K8sNsID:             {Name: "k8s.ns.id", Type: TypeString, Desc: "The Kubernetes namespace ID."},
	K8sNsLabel:          {Name: "k8s.ns.label", Type: TypeString, Arg: key, ArgRequired: true, DotArg: true, Desc: "The Kubernetes namespace label, e.g. k8s.ns.label.foo."},
	K8sNsLabels:         {Name: "k8s.ns.labels", Type: TypeString, Desc: "The Kubernetes namespace comma-separated key/value labels."},
	K8sRcName:           {Name: "k8s.rc.name", Type: TypeString, Desc: "The Kubernetes replication controller name."},
	K8sRsName:           {Name: "k8s.rs.name", Type: TypeString, Desc: "The Kubernetes replica set name."},
	K8sSvcName:          {Name: "k8s.svc.name", Type: TypeString, Desc: "The Kubernetes service name (can return more than one value, concatenated)."},
	K8sDeploymentName:   {Name: "k8s.deployment.name", Type: TypeString, Desc: "The Kubernetes deployment name."},
}
