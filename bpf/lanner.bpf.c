//go:build ignore

// Lanner's kernel side: syscall capture on tp_btf sys_exit plus the
// sched_process_{fork,exec,exit} lifecycle. One record per syscall, emitted at
// exit with both the arguments and the return value, Falco-style. The
// arguments come from the task's saved user registers, which the syscall
// leaves intact on x86_64 (as Falco's modern probe does): no sys_enter program
// and no per-thread map, so a syscall costs one program run. Records go to one
// ring buffer per CPU with batched wake-ups. x86_64 only (struct pt_regs).

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define NR_SYSCALLS 512
#define DATA_LIMIT 16384 /* logical bytes of variable data per record */
#define DATA_MASK (DATA_LIMIT - 1)
#define DATA_BUF (DATA_LIMIT + 8192) /* slack so masked offset + max read fits */
#define STR_MAX 4096
#define NAME_MAX_ 256
#define PATH_DEPTH 32
#define CGROUP_DEPTH 12
#define ADDR_MAX 128

/* Masks an offset in a way clang cannot drop after a range check, so that the
 * verifier always sees the bound. */
#define BOUND(v, m)                                           \
	({                                                    \
		__u64 __v = (v);                              \
		asm volatile("%0 &= %1" : "+r"(__v) : "i"(m)); \
		__v;                                          \
	})

#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#define TS_COMPAT 0x0002
#define CAP_DAC_OVERRIDE 1

/* x86_64 syscall numbers used by the decoder switch. */
#define SYS_open 2
#define SYS_sendto 44
#define SYS_recvfrom 45
#define SYS_sendmsg 46
#define SYS_recvmsg 47
#define SYS_socketpair 53
#define SYS_pipe 22
#define SYS_connect 42
#define SYS_accept 43
#define SYS_bind 49
#define SYS_clone 56
#define SYS_execve 59
#define SYS_truncate 76
#define SYS_chdir 80
#define SYS_rename 82
#define SYS_mkdir 83
#define SYS_rmdir 84
#define SYS_creat 85
#define SYS_link 86
#define SYS_unlink 87
#define SYS_symlink 88
#define SYS_chmod 90
#define SYS_chown 92
#define SYS_lchown 94
#define SYS_capset 126
#define SYS_chroot 161
#define SYS_mount 165
#define SYS_umount2 166
#define SYS_init_module 175
#define SYS_openat 257
#define SYS_mkdirat 258
#define SYS_fchownat 260
#define SYS_unlinkat 263
#define SYS_renameat 264
#define SYS_linkat 265
#define SYS_symlinkat 266
#define SYS_fchmodat 268
#define SYS_accept4 288
#define SYS_pipe2 293
#define SYS_finit_module 313
#define SYS_renameat2 316
#define SYS_memfd_create 319
#define SYS_execveat 322
#define SYS_clone3 435
#define SYS_openat2 437
#define SYS_fchmodat2 452

enum kind {
	KIND_SYSCALL = 1, /* a syscall: entry args + return value */
	KIND_FORK = 2,    /* sched_process_fork: new thread or process */
	KIND_EXEC = 3,    /* sched_process_exec: successful execve/execveat */
	KIND_EXIT = 4,    /* sched_process_exit: a thread exits */
};

/* Variable-length parts of a record; blob_off/blob_len index them. */
enum blob {
	BLOB_PATH = 0,   /* first path argument; exec: filename as given */
	BLOB_PATH2 = 1,  /* second path (rename/link/symlink new path, mount dir) */
	BLOB_ADDR = 2,   /* struct sockaddr as passed by the caller */
	BLOB_TUPLE = 3,  /* struct tuple of the socket (connect/accept) */
	BLOB_ARGV = 4,   /* exec argv, NUL-separated */
	BLOB_ENV = 5,    /* exec environment, NUL-separated, size-bounded */
	BLOB_EXE = 6,    /* exe path components, leaf first, NUL-terminated */
	BLOB_CWD = 7,    /* cwd path components, leaf first, NUL-terminated */
	BLOB_CGROUP = 8, /* unified-hierarchy cgroup path components, leaf first */
	BLOB_PATH3 = 9,  /* third string (mount fstype) */
	NBLOB = 10,
};

enum flag {
	FLAG_EXE_MEMFD = 1 << 0,    /* exe is a memfd (memfd_create) */
	FLAG_EXE_UPPER = 1 << 1,    /* exe is on an overlayfs upper layer */
	FLAG_EXE_WRITABLE = 1 << 2, /* exe is writable by the process's creds */
	FLAG_TRUNCATED = 1 << 3,    /* some string or path was cut at its bound */
	FLAG_THREAD = 1 << 4,       /* fork: CLONE_THREAD; exit: not the leader */
	FLAG_EXE_PSEUDO = 1 << 5,   /* exe path is a pseudo-fs name, not rooted */
	FLAG_EXE_LOWER = 1 << 6,    /* exe is on an overlayfs lower layer */
};

enum counter {
	CNT_SENT = 0,         /* records written to a ring */
	CNT_DROP_RING = 1,    /* ring full: record lost */
	CNT_DROP_NO_RING = 2, /* no ring for this CPU: record lost */
	CNT_TRUNCATED = 3,    /* records with a truncated string/path */
	CNT_READ_FAIL = 4,    /* a user/kernel memory read failed */
	CNT_MAX = 5,
};

struct event {
	__u64 ts; /* bpf_ktime_get_boot_ns */
	__u64 cgroup_id;
	__s64 ret;
	__u64 args[6];
	__s64 aux[4]; /* per-syscall decoded extras, see docs/agent.md */
	__u32 tid;
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u32 loginuid;
	__u32 tty;
	__u32 size; /* whole record, header included */
	__u16 kind;
	__u16 nr;
	__u16 cpu;
	__u16 flags;
	__u16 blob_off[NBLOB];
	__u16 blob_len[NBLOB];
	char comm[16];
};

struct tuple {
	__u16 family;
	__u16 sport; /* host order */
	__u16 dport; /* host order */
	__u16 pad;
	__u8 saddr[16]; /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
};

struct scratch {
	struct event hdr;
	/* Write offset into data. Kept in map memory, not a local, so that the
	 * verifier sees an unknown (masked) scalar and prunes loop states. */
	__u32 off;
	__u32 pad;
	__u8 data[DATA_BUF];
};

/* Set at load time. */
volatile const __u32 self_tgid = 0;          /* agent's own pid, excluded */
volatile const __u32 wakeup_bytes = 1 << 16; /* wake userspace past this fill */
volatile const __u32 env_max = 2048;         /* env bytes per exec (<= STR_MAX) */
volatile const __u32 argv_max = 4096;        /* argv bytes per exec (<= STR_MAX) */
volatile const __u8 lifecycle = 1;           /* emit fork/exec/exit always */

/* The in-kernel filter: 1 at index nr means capture that syscall. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NR_SYSCALLS);
	__type(key, __u32);
	__type(value, __u32);
} syscall_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20); /* resized from userspace */
};

/* One ring per CPU, filled from userspace (size = possible CPUs). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct ring);
} rings SEC(".maps");

/* Older kernels name kernfs_node's parent `parent`. */
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

/* Keep some types in BTF so bpf2go -type can generate Go mirrors. */
const struct event *unused_event __attribute__((unused));
const struct tuple *unused_tuple __attribute__((unused));
const enum kind *unused_kind __attribute__((unused));
const enum blob *unused_blob __attribute__((unused));
const enum flag *unused_flag __attribute__((unused));
const enum counter *unused_counter __attribute__((unused));

static __always_inline void count(__u32 c)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &c);
	if (v)
		*v += 1;
}

static __always_inline bool wanted(__u32 nr)
{
	__u32 *on = bpf_map_lookup_elem(&syscall_filter, &nr);
	return on && *on;
}

static __always_inline struct scratch *get_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratch_map, &zero);
}

/* Fills the header from the current task. Syscall records (full false) skip
 * comm and the cgroup id, two helper calls per event: comm only changes at
 * exec (or prctl), which userspace tracks from exec records and /proc, and the
 * cgroup comes with exec records too. */
static __always_inline void fill_header_x(struct scratch *s, struct task_struct *task, __u16 kind, __u16 nr, bool full)
{
	struct event *h = &s->hdr;
	const struct cred *cred = task->cred;

	h->ts = bpf_ktime_get_boot_ns();
	h->cgroup_id = full ? bpf_get_current_cgroup_id() : 0;
	h->ret = 0;
	h->aux[0] = 0;
	h->aux[1] = 0;
	h->aux[2] = 0;
	h->aux[3] = 0;
#pragma unroll
	for (int i = 0; i < 6; i++)
		h->args[i] = 0;
	h->tid = task->pid;
	h->pid = task->tgid;
	h->ppid = task->real_parent->tgid;
	h->uid = cred->uid.val;
	h->gid = cred->gid.val;
	h->euid = cred->euid.val;
	h->egid = cred->egid.val;
	h->loginuid = bpf_core_field_exists(task->loginuid) ? task->loginuid.val : 0xffffffff;
	h->tty = 0;
	h->kind = kind;
	h->nr = nr;
	h->cpu = bpf_get_smp_processor_id();
	h->flags = 0;
#pragma unroll
	for (int i = 0; i < NBLOB; i++) {
		h->blob_off[i] = 0;
		h->blob_len[i] = 0;
	}
	if (full) {
		bpf_get_current_comm(h->comm, sizeof(h->comm));
	} else {
		__builtin_memset(h->comm, 0, sizeof(h->comm));
	}
	s->off = 0;
}

static __always_inline void fill_header(struct scratch *s, struct task_struct *task, __u16 kind, __u16 nr)
{
	fill_header_x(s, task, kind, nr, true);
}

static __always_inline void set_blob(struct scratch *s, int blob, __u32 off, __u32 len)
{
	if (blob < 0 || blob >= NBLOB)
		return;
	s->hdr.blob_off[blob] = off;
	s->hdr.blob_len[blob] = len;
}

/* Copies a NUL-terminated user string (without its NUL) into blob. */
static __always_inline void put_ustr(struct scratch *s, int blob, __u64 uptr)
{
	__u32 o = s->off;
	long n;

	if (!uptr)
		return;
	if (o >= DATA_LIMIT) {
		s->hdr.flags |= FLAG_TRUNCATED;
		return;
	}
	n = bpf_probe_read_user_str(&s->data[BOUND(o, DATA_MASK)], STR_MAX, (const void *)uptr);
	if (n <= 0) {
		count(CNT_READ_FAIL);
		return;
	}
	if (n == STR_MAX)
		s->hdr.flags |= FLAG_TRUNCATED;
	set_blob(s, blob, o, n - 1);
	s->off = o + n;
}

static __always_inline void put_kstr(struct scratch *s, int blob, const void *kptr)
{
	__u32 o = s->off;
	long n;

	if (!kptr)
		return;
	if (o >= DATA_LIMIT) {
		s->hdr.flags |= FLAG_TRUNCATED;
		return;
	}
	n = bpf_probe_read_kernel_str(&s->data[BOUND(o, DATA_MASK)], STR_MAX, kptr);
	if (n <= 0) {
		count(CNT_READ_FAIL);
		return;
	}
	if (n == STR_MAX)
		s->hdr.flags |= FLAG_TRUNCATED;
	set_blob(s, blob, o, n - 1);
	s->off = o + n;
}

/* Copies len (<= STR_MAX) bytes of user memory into blob. */
static __always_inline void put_ubytes(struct scratch *s, int blob, __u64 uptr, __u64 len, __u64 max)
{
	__u32 o = s->off;

	if (!uptr || len == 0)
		return;
	if (len > max) {
		len = max;
		s->hdr.flags |= FLAG_TRUNCATED;
	}
	if (o >= DATA_LIMIT) {
		s->hdr.flags |= FLAG_TRUNCATED;
		return;
	}
	len &= (STR_MAX - 1) | STR_MAX; /* verifier: len <= 8191 */
	if (len > STR_MAX)
		len = STR_MAX;
	if (len == 0)
		return;
	if (bpf_probe_read_user(&s->data[BOUND(o, DATA_MASK)], len, (const void *)uptr)) {
		count(CNT_READ_FAIL);
		return;
	}
	set_blob(s, blob, o, len);
	s->off = o + len;
}

/* Writes a path as its components, leaf first, each NUL-terminated; the
 * reader reverses them. Stops at the root of the task's mount namespace.
 * Returns true when the path is on a pseudo filesystem (memfd, pipe). */
static __always_inline bool put_dpath(struct scratch *s, int blob, struct dentry *dentry, struct vfsmount *vfsmnt)
{
	struct mount *mnt = container_of(vfsmnt, struct mount, mnt);
	__u32 start = s->off;
	bool done = false, pseudo = false;

	if (!dentry || !vfsmnt)
		return false;
	for (int i = 0; i < PATH_DEPTH; i++) {
		struct dentry *mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
		__u32 o = s->off;

		if (dentry == mnt_root) {
			struct mount *mparent = BPF_CORE_READ(mnt, mnt_parent);
			if (mparent == mnt) {
				done = true;
				break;
			}
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mparent;
			continue;
		}
		if (o >= DATA_LIMIT)
			break;
		long n = bpf_probe_read_kernel_str(&s->data[BOUND(o, DATA_MASK)], NAME_MAX_, BPF_CORE_READ(dentry, d_name.name));
		if (n <= 0)
			break;
		s->off = o + n;
		if (dentry == parent) { /* root of a pseudo filesystem */
			done = true;
			pseudo = true;
			break;
		}
		dentry = parent;
	}
	if (!done)
		s->hdr.flags |= FLAG_TRUNCATED;
	set_blob(s, blob, start, s->off - start);
	return pseudo;
}

static __always_inline void put_kn_path(struct scratch *s, struct kernfs_node *kn)
{
	for (int i = 0; i < CGROUP_DEPTH && kn; i++) {
		struct kernfs_node *parent;
		__u32 o = s->off;
		if (bpf_core_field_exists(kn->__parent))
			parent = BPF_CORE_READ(kn, __parent);
		else
			parent = BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
		if (!parent) /* the root's name is "/"; skip it */
			break;
		if (o >= DATA_LIMIT)
			break;
		long n = bpf_probe_read_kernel_str(&s->data[BOUND(o, DATA_MASK)], NAME_MAX_, BPF_CORE_READ(kn, name));
		if (n <= 0)
			break;
		s->off = o + n;
		kn = parent;
	}
}

/* The task's cgroup path in the unified hierarchy; on cgroup v1 hosts where
 * that is the root, the memory controller's path (where container runtimes
 * put their ids). */
static __always_inline void put_cgroup(struct scratch *s, struct task_struct *task)
{
	__u32 start = s->off;

	put_kn_path(s, BPF_CORE_READ(task, cgroups, dfl_cgrp, kn));
	if (s->off == start && bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id)) {
		int id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
		struct cgroup_subsys_state *css = NULL;
		if (id >= 0 && id < CGROUP_SUBSYS_COUNT)
			css = BPF_CORE_READ(task, cgroups, subsys[id]);
		if (css)
			put_kn_path(s, BPF_CORE_READ(css, cgroup, kn));
	}
	set_blob(s, BLOB_CGROUP, start, s->off - start);
}

static __always_inline struct file *fd_file(struct task_struct *task, __s64 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (fd < 0 || !fdt)
		return NULL;
	if ((__u64)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* The local/remote addresses of the socket behind fd. */
static __always_inline void put_tuple(struct scratch *s, struct task_struct *task, __s64 fd)
{
	struct tuple t = {};
	struct file *f = fd_file(task, fd);
	struct socket *sock;
	struct sock *sk;
	__u32 o = s->off;

	if (!f || o >= DATA_LIMIT)
		return;
	sock = BPF_CORE_READ(f, private_data);
	if (!sock)
		return;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return;
	t.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t.sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t.dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (t.family == 2 /* AF_INET */) {
		BPF_CORE_READ_INTO(&t.saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO(&t.daddr, sk, __sk_common.skc_daddr);
	} else if (t.family == 10 /* AF_INET6 */) {
		BPF_CORE_READ_INTO(&t.saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&t.daddr, sk, __sk_common.skc_v6_daddr);
	} else {
		return;
	}
	bpf_probe_read_kernel(&s->data[BOUND(o, DATA_MASK)], sizeof(t), &t);
	set_blob(s, BLOB_TUPLE, o, sizeof(t));
	s->off = o + sizeof(t);
}

/* A user sockaddr whose length is behind a user pointer (accept, recvfrom). */
static __always_inline void put_uaddr_lenp(struct scratch *s, __u64 addr, __u64 lenp)
{
	int len = 0;

	if (!addr || !lenp)
		return;
	if (bpf_probe_read_user(&len, sizeof(len), (const void *)lenp))
		return;
	if (len <= 0)
		return;
	put_ubytes(s, BLOB_ADDR, addr, len, ADDR_MAX);
}

static __always_inline void submit(struct scratch *s)
{
	__u32 cpu = bpf_get_smp_processor_id();
	__u64 size, avail, flags;
	void *ring;

	if (s->hdr.flags & FLAG_TRUNCATED)
		count(CNT_TRUNCATED);
	ring = bpf_map_lookup_elem(&rings, &cpu);
	if (!ring) {
		count(CNT_DROP_NO_RING);
		return;
	}
	size = offsetof(struct scratch, data) + (__u64)s->off;
	if (size > sizeof(struct scratch))
		size = sizeof(struct scratch);
	s->hdr.size = size;
	/* Wake the reader only when this record crosses the fill threshold;
	 * the reader also drains on a timer, so nothing waits forever. */
	avail = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);
	flags = (avail < wakeup_bytes && avail + size >= wakeup_bytes) ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(ring, s, size, flags))
		count(CNT_DROP_RING);
	else
		count(CNT_SENT);
}

/* kernel_cap_t is a u64 since 6.3 and a u32[2] before: same 8 bytes. */
static __always_inline __u64 read_caps(const kernel_cap_t *cap)
{
	__u64 v = 0;
	bpf_probe_read_kernel(&v, sizeof(v), cap);
	return v;
}

static __always_inline bool is_compat(struct task_struct *task)
{
	return task->thread_info.status & TS_COMPAT;
}

/* Decodes the arguments of one syscall into blobs and aux. */
static __always_inline void decode(struct scratch *s, struct task_struct *task, __u32 nr, __u64 *a, __s64 ret)
{
	switch (nr) {
	case SYS_open:
	case SYS_creat:
	case SYS_truncate:
	case SYS_chdir:
	case SYS_chroot:
	case SYS_mkdir:
	case SYS_rmdir:
	case SYS_unlink:
	case SYS_chmod:
	case SYS_chown:
	case SYS_lchown:
	case SYS_umount2:
	case SYS_execve: /* failed exec; success comes from sched_process_exec */
		put_ustr(s, BLOB_PATH, a[0]);
		break;
	case SYS_openat:
	case SYS_mkdirat:
	case SYS_unlinkat:
	case SYS_fchmodat:
	case SYS_fchmodat2:
	case SYS_fchownat:
	case SYS_execveat:
		put_ustr(s, BLOB_PATH, a[1]);
		break;
	case SYS_openat2: {
		struct open_how how = {};
		put_ustr(s, BLOB_PATH, a[1]);
		if (a[2] && !bpf_probe_read_user(&how, sizeof(how), (const void *)a[2])) {
			s->hdr.aux[0] = how.flags;
			s->hdr.aux[1] = how.mode;
			s->hdr.aux[2] = how.resolve;
		}
		break;
	}
	case SYS_rename:
	case SYS_link:
	case SYS_symlink:
		put_ustr(s, BLOB_PATH, a[0]);
		put_ustr(s, BLOB_PATH2, a[1]);
		break;
	case SYS_renameat:
	case SYS_renameat2:
	case SYS_linkat:
		put_ustr(s, BLOB_PATH, a[1]);
		put_ustr(s, BLOB_PATH2, a[3]);
		break;
	case SYS_symlinkat:
		put_ustr(s, BLOB_PATH, a[0]);
		put_ustr(s, BLOB_PATH2, a[2]);
		break;
	case SYS_mount:
		put_ustr(s, BLOB_PATH, a[0]);
		put_ustr(s, BLOB_PATH2, a[1]);
		put_ustr(s, BLOB_PATH3, a[2]);
		break;
	case SYS_memfd_create:
		put_ustr(s, BLOB_PATH, a[0]);
		break;
	case SYS_init_module:
		put_ustr(s, BLOB_PATH, a[2]);
		break;
	case SYS_finit_module:
		put_ustr(s, BLOB_PATH, a[1]);
		break;
	case SYS_connect:
		put_ubytes(s, BLOB_ADDR, a[1], a[2], ADDR_MAX);
		put_tuple(s, task, a[0]);
		break;
	case SYS_bind:
		put_ubytes(s, BLOB_ADDR, a[1], a[2], ADDR_MAX);
		break;
	case SYS_accept:
	case SYS_accept4:
		if (ret >= 0) {
			put_uaddr_lenp(s, a[1], a[2]);
			put_tuple(s, task, ret);
		}
		break;
	case SYS_sendto:
		put_ubytes(s, BLOB_ADDR, a[4], a[5], ADDR_MAX);
		break;
	case SYS_recvfrom:
		if (ret >= 0)
			put_uaddr_lenp(s, a[4], a[5]);
		break;
	case SYS_sendmsg:
	case SYS_recvmsg: {
		/* The address in the msghdr (recvmsg: as filled in by the kernel). */
		struct user_msghdr mh = {};
		if (ret >= 0 && a[1] && !bpf_probe_read_user(&mh, sizeof(mh), (const void *)a[1]) &&
		    mh.msg_name && mh.msg_namelen > 0)
			put_ubytes(s, BLOB_ADDR, (__u64)mh.msg_name, mh.msg_namelen, ADDR_MAX);
		break;
	}
	case SYS_pipe:
	case SYS_pipe2:
	case SYS_socketpair: {
		int fds[2] = {-1, -1};
		__u64 p = nr == SYS_socketpair ? a[3] : a[0];
		if (ret == 0 && p && !bpf_probe_read_user(fds, sizeof(fds), (const void *)p)) {
			s->hdr.aux[0] = fds[0];
			s->hdr.aux[1] = fds[1];
		}
		break;
	}
	case SYS_capset: {
		const struct cred *cred = task->cred;
		s->hdr.aux[0] = read_caps(&cred->cap_inheritable);
		s->hdr.aux[1] = read_caps(&cred->cap_permitted);
		s->hdr.aux[2] = read_caps(&cred->cap_effective);
		break;
	}
	case SYS_clone3: {
		__u64 flags = 0;
		if (a[0] && !bpf_probe_read_user(&flags, sizeof(flags), (const void *)a[0]))
			s->hdr.aux[0] = flags;
		break;
	}
	default:
		break;
	}
}

SEC("tp_btf/sys_exit")
int BPF_PROG(lanner_sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *task;
	struct scratch *s;
	__u64 pid_tgid;
	long id = regs->orig_ax;
	__u32 nr = id;

	if ((__u64)id >= NR_SYSCALLS || !wanted(nr))
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	if ((__u32)(pid_tgid >> 32) == self_tgid)
		return 0;
	/* A successful exec is reported by sched_process_exec. */
	if ((nr == SYS_execve || nr == SYS_execveat) && ret == 0)
		return 0;
	task = bpf_get_current_task_btf();
	if (is_compat(task))
		return 0;
	s = get_scratch();
	if (!s)
		return 0;
	fill_header_x(s, task, KIND_SYSCALL, nr, false);
	s->hdr.ret = ret;
	s->hdr.args[0] = regs->di;
	s->hdr.args[1] = regs->si;
	s->hdr.args[2] = regs->dx;
	s->hdr.args[3] = regs->r10;
	s->hdr.args[4] = regs->r8;
	s->hdr.args[5] = regs->r9;
	decode(s, task, nr, s->hdr.args, ret);
	submit(s);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(lanner_fork, struct task_struct *parent, struct task_struct *child)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs;
	struct scratch *s;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	long nr;

	if (tgid == self_tgid)
		return 0;
	if (!lifecycle && !wanted(SYS_clone) && !wanted(SYS_clone3))
		return 0;
	s = get_scratch();
	if (!s)
		return 0;
	fill_header(s, task, KIND_FORK, 0);
	s->hdr.tid = child->pid;
	s->hdr.pid = child->tgid;
	s->hdr.ppid = child->real_parent->tgid;
	s->hdr.aux[0] = parent->pid;
	s->hdr.aux[1] = parent->tgid;
	if (child->tgid == parent->tgid)
		s->hdr.flags |= FLAG_THREAD;
	/* The parent is inside clone/clone3/fork/vfork: its saved registers
	 * hold the call and its flags (none for kernel threads). */
	if (!(task->flags & 0x00200000 /* PF_KTHREAD */)) {
		regs = (struct pt_regs *)bpf_task_pt_regs(task);
		nr = BPF_CORE_READ(regs, orig_ax);
		if (nr == SYS_clone) {
			s->hdr.nr = nr;
			s->hdr.aux[2] = BPF_CORE_READ(regs, di);
		} else if (nr == SYS_clone3) {
			__u64 flags = 0;
			s->hdr.nr = nr;
			if (!bpf_probe_read_user(&flags, sizeof(flags), (const void *)BPF_CORE_READ(regs, di)))
				s->hdr.aux[2] = flags;
		} else if (nr == 57 /* fork */ || nr == 58 /* vfork */) {
			s->hdr.nr = nr;
		}
	}
	submit(s);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(lanner_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct scratch *s;
	struct mm_struct *mm;
	struct file *exe;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	__u32 nr;

	if (tgid == self_tgid)
		return 0;
	if (!lifecycle && !wanted(SYS_execve) && !wanted(SYS_execveat))
		return 0;
	s = get_scratch();
	if (!s)
		return 0;
	/* The loader has reset the registers, so the syscall is inferred: an
	 * exec relative to a file descriptor (execveat with a dirfd, e.g. of a
	 * memfd) has bprm->fdpath ("/dev/fd/N[/path]"). execveat(AT_FDCWD, ...)
	 * is indistinguishable from execve here and reported as execve. */
	nr = BPF_CORE_READ(bprm, fdpath) ? SYS_execveat : SYS_execve;
	fill_header(s, task, KIND_EXEC, nr);
	s->hdr.aux[0] = old_pid;
	put_kstr(s, BLOB_PATH, BPF_CORE_READ(bprm, filename));

	mm = task->mm;
	if (mm) {
		__u64 start = mm->arg_start, end = mm->arg_end;
		put_ubytes(s, BLOB_ARGV, start, end - start, argv_max);
		start = mm->env_start;
		end = mm->env_end;
		if (env_max > 0)
			put_ubytes(s, BLOB_ENV, start, end - start, env_max);
	}

	exe = BPF_CORE_READ(bprm, file);
	if (exe) {
		struct inode *inode = BPF_CORE_READ(exe, f_inode);
		struct dentry *dentry = BPF_CORE_READ(exe, f_path.dentry);
		const struct cred *cred = task->cred;
		char name[8] = {};
		__u16 mode = BPF_CORE_READ(inode, i_mode);
		__u32 iuid = BPF_CORE_READ(inode, i_uid.val);
		__u32 igid = BPF_CORE_READ(inode, i_gid.val);
		__u64 caps = read_caps(&cred->cap_effective);
		__u32 fsuid = cred->fsuid.val, fsgid = cred->fsgid.val;

		if (put_dpath(s, BLOB_EXE, dentry, BPF_CORE_READ(exe, f_path.mnt)))
			s->hdr.flags |= FLAG_EXE_PSEUDO;
		bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(dentry, d_name.name));
		if (name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' && name[4] == 'd' && name[5] == ':')
			s->hdr.flags |= FLAG_EXE_MEMFD;
		if (bpf_core_type_exists(struct ovl_inode) &&
		    BPF_CORE_READ(inode, i_sb, s_magic) == OVERLAYFS_SUPER_MAGIC) {
			struct ovl_inode *oi = container_of(inode, struct ovl_inode, vfs_inode);
			if (BPF_CORE_READ(oi, __upperdentry))
				s->hdr.flags |= FLAG_EXE_UPPER;
			else
				s->hdr.flags |= FLAG_EXE_LOWER;
		}
		/* Like inode_permission(MAY_WRITE) on mode bits, plus DAC override. */
		if ((caps & (1ULL << CAP_DAC_OVERRIDE)) ||
		    (iuid == fsuid && (mode & 0200)) ||
		    (igid == fsgid && (mode & 0020)) ||
		    (mode & 0002))
			s->hdr.flags |= FLAG_EXE_WRITABLE;
	}

	put_dpath(s, BLOB_CWD, BPF_CORE_READ(task, fs, pwd.dentry), BPF_CORE_READ(task, fs, pwd.mnt));
	put_cgroup(s, task);

	{
		struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
		if (tty) {
			__u32 index = BPF_CORE_READ(tty, index);
			__u32 major = BPF_CORE_READ(tty, driver, major);
			__u32 minor = BPF_CORE_READ(tty, driver, minor_start) + index;
			/* new_encode_dev(MKDEV(major, minor)), as Falco reports it */
			s->hdr.tty = (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
		}
	}
	submit(s);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(lanner_exit, struct task_struct *p)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct scratch *s;
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if ((__u32)(pid_tgid >> 32) == self_tgid)
		return 0;
	if (!lifecycle)
		return 0;
	s = get_scratch();
	if (!s)
		return 0;
	fill_header(s, task, KIND_EXIT, 0);
	s->hdr.ret = task->exit_code;
	if (task->pid != task->tgid)
		s->hdr.flags |= FLAG_THREAD;
	submit(s);
	return 0;
}
