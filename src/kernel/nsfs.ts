/**
 * Namespace files (fs/nsfs.c, fs/proc/namespaces.c) and the model's file table (fs/file.c,
 * fs/file_table.c in miniature).
 *
 * Files: a record of the file cache (FILE_SPEC) is one fd-table entry and its open file at once:
 * `owner` is the task whose table holds it and `fd` its number there (the lowest free one from
 * FD_FIRST = 3, as get_unused_fd_flags; 0-2 stand for stdio). fget(fd) finds it by scanning the
 * cache for current's entry (EBADF otherwise). fork copies the table (copy_files: same numbers,
 * each entry with its own reference; the kernel would share struct file, and share the whole
 * table for CLONE_FILES, neither of which changes what setns or the ioctls see). A file holds one
 * reference on what it refers to: a namespace (nsfs) or a struct pid (pidfd, see pidfd.ts),
 * dropped when the last file reference goes (close, or exit_files at exit).
 *
 * /proc/PID/ns/KIND: SYS_OPEN_NS(pid, NSK_*) resolves PID in the caller's active pid namespace (the
 * procfs instance of that namespace), checks ptrace_may_access (EACCES) and takes a reference with
 * the kind's `get` operation: ENOENT when the pid has no task, or when `get` finds nothing (a zombie
 * has no nsproxy; pid_for_children of a namespace without a reaper yet), as proc_ns_get_link does
 * when ns_get_path fails. Inode numbers identify a namespace (ns_inum).
 */
import { FILE, G, PID, POISON_LIVE, TASK, USERNS } from '../mm/layout.js';
import { kg, mem, regions, SLAB_FILE } from '../mm/memory.js';
import { kmem_cache_alloc, kmem_cache_free, mark_live } from '../mm/slab.js';
import { record_violation, V_INVARIANT } from '../locking/violations.js';
import { rcu_read_lock, rcu_read_unlock } from '../rcu/rcu.js';
import { current } from '../sched/core.js';
import { register_syscall } from './entry.js';
import { EACCES, EBADF, EINVAL, ENOENT, ENOMEM, EPERM } from './errno.js';
import { SYS_CLOSE, SYS_FSTAT, SYS_MEMFD_CREATE, SYS_OPEN_NS, SYS_PIDNS_GET_PARENT, SYS_PIDNS_IOCTL_SET_LAST_PID_VEC } from './unistd.js';
import {
  CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWTIME, CLONE_NEWUSER,
  CLONE_NEWUTS, get_ns_common, INV_FILE_REFCOUNT, ns_inum, nsproxy_slot, ptrace_may_access, PTRACE_MODE_READ_FSCREDS,
  put_ns_common, task_lock, task_unlock,
} from './ns_common.js';
import { get_pid_ns, pidns_for_children_get, pidns_get, pidns_get_parent, pidns_ioctl_set_last_pid_vec, put_pid_ns } from './pid_namespace.js';
import { find_vpid, get_pid, pid_task, PIDTYPE_PID, put_pid } from './pid.js';
import { get_user_ns, init_user_ns, put_user_ns } from './user_namespace.js';

/** errno values missing from errno.ts (include/uapi/asm-generic/errno-base.h). */
export { ENFILE, ENOTTY } from './errno.js';
import { ENFILE, ENOTTY } from './errno.js';
import { data_race } from '../lib/compiler.js';

/** FILE.kind */
export const FILE_NSFS = 1;
export const FILE_PIDFD = 2;
/** A memfd (mm/memfd.c memfd_create): a plain file, neither a namespace nor a pid. */
export const FILE_MEMFD = 3;

/**
 * st_dev of the pseudo filesystems, as on this machine's Linux 6.18 (anonymous device numbers
 * given out at boot in mount order, so not ABI: programs compare st_dev of two files, never with a
 * constant): shmem's internal mount (memfds) 0:1, nsfs 0:4, pidfs 0:5.
 */
export const SHMEM_DEV = 1;
export const NSFS_DEV = 4;
export const PIDFS_DEV = 5;

/** Entries of /proc/PID/ns (the SYS_OPEN_NS kind argument). */
export const NSK_PID = 1;
export const NSK_PID_FOR_CHILDREN = 2;
export const NSK_USER = 3;
export const NSK_UTS = 4;
export const NSK_IPC = 5;
export const NSK_MNT = 6;
export const NSK_NET = 7;
export const NSK_CGROUP = 8;
export const NSK_TIME = 9;
export const NSK_TIME_FOR_CHILDREN = 10;

/** Names of the /proc/PID/ns entries, by NSK_*. */
export const NSK_NAMES: Record<number, string> = {
  [NSK_PID]: 'pid', [NSK_PID_FOR_CHILDREN]: 'pid_for_children', [NSK_USER]: 'user', [NSK_UTS]: 'uts',
  [NSK_IPC]: 'ipc', [NSK_MNT]: 'mnt', [NSK_NET]: 'net', [NSK_CGROUP]: 'cgroup', [NSK_TIME]: 'time',
  [NSK_TIME_FOR_CHILDREN]: 'time_for_children',
};

/** The CLONE_NEW* type of a /proc/PID/ns entry (proc_ns_operations.type), 0 if none. */
export function nsk_type(nsk: number): number {
  switch (nsk) {
    case NSK_PID: case NSK_PID_FOR_CHILDREN: return CLONE_NEWPID;
    case NSK_USER: return CLONE_NEWUSER;
    case NSK_UTS: return CLONE_NEWUTS;
    case NSK_IPC: return CLONE_NEWIPC;
    case NSK_MNT: return CLONE_NEWNS;
    case NSK_NET: return CLONE_NEWNET;
    case NSK_CGROUP: return CLONE_NEWCGROUP;
    case NSK_TIME: case NSK_TIME_FOR_CHILDREN: return CLONE_NEWTIME;
    default: return 0;
  }
}

// ---- namespace references by type -------------------------------------------------------------

/** A new reference on a namespace of any type (get_pid_ns, get_user_ns, get_uts_ns ...). */
export function ns_get(type: number, ns: number): number {
  if (type === CLONE_NEWPID) return get_pid_ns(ns);
  if (type === CLONE_NEWUSER) return get_user_ns(ns);
  return get_ns_common(ns);
}

/** ns->ops->put for any namespace type. */
export function ns_put(type: number, ns: number): void {
  if (!ns) return;
  if (type === CLONE_NEWPID) put_pid_ns(ns);
  else if (type === CLONE_NEWUSER) put_user_ns(ns);
  else put_ns_common(ns);
}

/**
 * userns_get (kernel/user_namespace.c): the user namespace of the task's cred, with a reference.
 * The cred words are read under task_lock (the kernel reads __task_cred under RCU).
 */
export function userns_get(task: number): number {
  task_lock(task);
  const ns = get_user_ns(mem[task + TASK.cred_user_ns] || init_user_ns());
  task_unlock(task);
  return ns;
}

/**
 * utsns_get / ipcns_get / mntns_get / netns_get / cgroupns_get / timens_get /
 * timens_for_children_get: the namespace in the task's nsproxy, with a reference, or 0 when the
 * task has no nsproxy any more (it passed exit_task_namespaces).
 */
export function nsproxy_ns_get(task: number, type: number, for_children = false): number {
  const off = nsproxy_slot(type, for_children);
  if (off < 0) return 0;
  let ns = 0;
  task_lock(task);
  const np = mem[task + TASK.nsproxy]!;
  if (np) {
    ns = mem[np + off]!;
    if (ns) get_ns_common(ns);
  }
  task_unlock(task);
  return ns;
}

/** proc_ns_operations.get of a /proc/PID/ns entry: a referenced namespace or 0. */
export function proc_ns_get(task: number, nsk: number): number {
  switch (nsk) {
    case NSK_PID: return pidns_get(task);
    case NSK_PID_FOR_CHILDREN: return pidns_for_children_get(task);
    case NSK_USER: return userns_get(task);
    case NSK_TIME_FOR_CHILDREN: return nsproxy_ns_get(task, CLONE_NEWTIME, true);
    default: return nsproxy_ns_get(task, nsk_type(nsk));
  }
}

/**
 * ns_get_owner (kernel/user_namespace.c), the user namespace's get_parent: the parent user
 * namespace with a reference, or -EPERM when it has none or it is not current's user namespace or
 * a descendant of it.
 */
export function userns_get_parent(ns: number): number {
  const my = mem[current + TASK.cred_user_ns] || init_user_ns();
  const owner = mem[ns + USERNS.parent]!;
  for (let p = owner; ; p = mem[p + USERNS.parent]!) {
    if (!p) return -EPERM;
    if (p === my) break;
  }
  return get_user_ns(owner);
}

// ---- the file table ---------------------------------------------------------------------------

/** The first fd number handed out: 0-2 stand for stdin/stdout/stderr (not modelled). */
export const FD_FIRST = 3;

const NO_FILES: readonly number[] = Object.freeze([]);

/**
 * Every live file record owned by `owner`: a scan of the whole file cache (skipped when no file is
 * open at all). Other CPUs allocate and free records meanwhile, but only `owner` itself (or its
 * parent before it first runs, copy_files) creates records owned by it, and only it removes them,
 * so the scan sees exactly its own table. (Stopping after in_use live records would not be safe:
 * a record allocated behind the scan position could be counted in place of one of ours.)
 */
function owned_files(owner: number): readonly number[] {
  // No file open anywhere (a fork/exit loop): nothing to scan, nothing to allocate.
  if (open_files() === 0) return NO_FILES;
  const out: number[] = [];
  const r = regions.objects[SLAB_FILE]!;
  for (let i = 0; i < r.count; i++) {
    const f = r.base + i * r.stride;
    // Records of other tasks change under the scan (and may be freed after the poison test): a
    // value read from one of them is never `owner`, whichever it is.
    if (Atomics.load(mem, f + FILE.poison) === POISON_LIVE && data_race(mem[f + FILE.owner]) === owner) out.push(f);
  }
  return out;
}

/** The fds open in task t's table, ascending (for tests and reports). */
export function task_fds(t: number): number[] {
  return owned_files(t).map((f) => mem[f + FILE.fd]!).sort((a, b) => a - b);
}

/** get_unused_fd_flags: the lowest fd number >= FD_FIRST not in `owner`'s table. */
function get_unused_fd(owner: number): number {
  const used = new Set(owned_files(owner).map((f) => mem[f + FILE.fd]!));
  let fd = FD_FIRST;
  while (used.has(fd)) fd++;
  return fd;
}

function file_new(owner: number, fd: number, kind: number, ns_type: number, obj: number, flags: number): number {
  const f = kmem_cache_alloc(SLAB_FILE);
  if (!f) return 0;
  mem[f + FILE.kind] = kind;
  mem[f + FILE.ns_type] = ns_type;
  mem[f + FILE.obj] = obj;
  mem[f + FILE.owner] = owner;
  mem[f + FILE.fd] = fd;
  mem[f + FILE.flags] = flags;
  Atomics.store(mem, f + FILE.count, 1);
  mark_live(f, FILE.poison);
  Atomics.add(mem, kg + G.nr_files, 1); // alloc_empty_file's percpu_counter_inc(&nr_files)
  return f;
}

/**
 * get_unused_fd_flags + alloc_file + fd_install: a new file in current's fd table referring to
 * `obj`, whose reference the file takes over. Returns the fd, or -ENFILE when the file cache is
 * full (the caller still owns its reference then).
 */
export function alloc_fd_file(kind: number, ns_type: number, obj: number, flags = 0): number {
  const fd = get_unused_fd(current);
  const f = file_new(current, fd, kind, ns_type, obj, flags);
  return f ? fd : -ENFILE;
}

/** files_lookup_fd_raw: the file at `fd` in current's fd table, 0 if none (no reference taken). */
export function fd_file(fd: number): number {
  if (!Number.isInteger(fd) || fd < FD_FIRST) return 0;
  for (const f of owned_files(current)) if (mem[f + FILE.fd] === fd) return f;
  return 0;
}

/** The file record of task t's fd (tests, reports), 0 if none. */
export function task_fd_file(t: number, fd: number): number {
  for (const f of owned_files(t)) if (mem[f + FILE.fd] === fd) return f;
  return 0;
}

/** fget (fs/file.c): the file with a new reference, 0 for a bad fd. */
export function fget(fd: number): number {
  const f = fd_file(fd);
  if (f) Atomics.add(mem, f + FILE.count, 1);
  return f;
}

/** fput (fs/file_table.c): drop a reference; the last one releases the file. */
export function fput(f: number): void {
  const left = Atomics.sub(mem, f + FILE.count, 1) - 1;
  if (left > 0) return;
  if (left < 0) {
    record_violation(V_INVARIANT, INV_FILE_REFCOUNT, f, left);
    return;
  }
  file_release(f);
}

/** __fput: the file's release operation (nsfs: put the namespace; pidfd: pidfd_release) and free. */
function file_release(f: number): void {
  const kind = mem[f + FILE.kind]!;
  const obj = mem[f + FILE.obj]!;
  if (kind === FILE_NSFS) {
    ns_put(mem[f + FILE.ns_type]!, obj);
  } else if (kind === FILE_PIDFD) {
    // The pidfd's reference on the struct pid (PID.pidfds counts them for the leak check).
    Atomics.sub(mem, obj + PID.pidfds, 1);
    put_pid(obj);
  }
  Atomics.sub(mem, kg + G.nr_files, 1); // file_free's percpu_counter_dec(&nr_files)
  kmem_cache_free(SLAB_FILE, f, FILE.poison);
}

/** close_fd (fs/file.c): remove fd from current's table and drop that reference. */
export function close_fd(fd: number): number {
  const f = fd_file(fd);
  if (!f) return -EBADF;
  mem[f + FILE.owner] = 0; // out of the fd table: a second close is EBADF
  fput(f);
  return 0;
}

/**
 * exit_files (kernel/exit.c -> put_files_struct): close every fd of an exiting task. do_exit calls
 * it before exit_task_namespaces; copy_process calls it to undo copy_files on a failed fork.
 */
export function exit_files(tsk: number): void {
  if (open_files() === 0) return; // the fork/exit fast path: no file anywhere
  for (const f of owned_files(tsk)) {
    mem[f + FILE.owner] = 0;
    fput(f);
  }
}

/**
 * copy_files / dup_fd (kernel/fork.c, fs/file.c), for copy_process: the child `tsk` gets a copy of
 * current's fd table, the same fd numbers referring to the same namespaces and pids (each entry
 * takes its own reference). The kernel shares the table for CLONE_FILES; the model copies it in
 * every case (fds opened later by one task are not seen by the other). Returns 0 or -ENOMEM (the
 * copies made so far are undone).
 */
export function copy_files(_clone_flags: number, tsk: number): number {
  if (open_files() === 0) return 0; // the fork/exit fast path: no file anywhere
  for (const f of owned_files(current)) {
    const kind = mem[f + FILE.kind]!;
    const type = mem[f + FILE.ns_type]!;
    const obj = mem[f + FILE.obj]!;
    const c = file_new(tsk, mem[f + FILE.fd]!, kind, type, obj, mem[f + FILE.flags]!);
    if (!c) {
      exit_files(tsk);
      return -ENOMEM;
    }
    if (kind === FILE_NSFS) ns_get(type, obj);
    else if (kind === FILE_PIDFD) {
      get_pid(obj);
      Atomics.add(mem, obj + PID.pidfds, 1);
    }
  }
  return 0;
}

/**
 * Files allocated now, G.nr_files (fs/file_table.c's nr_files). A racy read (data_race): a task's
 * own files were counted before it (or its parent, in copy_files) could ask, and only it removes
 * them, so the count it reads is never below its own files however other CPUs' files come and go.
 * (It was the file cache's in-use count: the cache's in_use minus every CPU's own-list length, read
 * at different moments while other CPUs' refills and flushes move objects between the two, which
 * could read 0 with files open; and each fork and exit read the other CPUs' slab words.)
 */
export function open_files(): number {
  return data_race(mem[kg + G.nr_files]!);
}

/**
 * memfd_create(2) (mm/memfd.c) with no name or flags: an anonymous shmem file. It holds nothing of
 * the model's (no namespace, no pid); setns on it is EINVAL, the pidfd calls EBADF, the nsfs
 * ioctls ENOTTY, as on Linux 6.18.
 */
export function sys_memfd_create(): number {
  return alloc_fd_file(FILE_MEMFD, 0, Atomics.add(mem, kg + G.shmem_ino_seq, 1) + 1);
}

/**
 * fstat(2) (fs/stat.c vfs_fstat -> the inode's getattr), the two fields programs compare: st_ino
 * and st_dev into current's TASK.stat_ino / TASK.stat_dev. An nsfs file's inode number is the
 * namespace's (ns_inum: two fds name the same namespace iff both match); a pidfd's is its pid's
 * pidfs inode (the same for every pidfd on one pid, also after the task is reaped). Returns 0 or
 * -EBADF.
 */
export function vfs_fstat(fd: number): number {
  const f = fget(fd);
  if (!f) return -EBADF;
  const kind = mem[f + FILE.kind]!;
  const obj = mem[f + FILE.obj]!;
  let ino = 0;
  let dev = 0;
  if (kind === FILE_NSFS) {
    ino = ns_inum(mem[f + FILE.ns_type]!, obj);
    dev = NSFS_DEV;
  } else if (kind === FILE_PIDFD) {
    ino = mem[obj + PID.ino]!;
    dev = PIDFS_DEV;
  } else {
    ino = obj;
    dev = SHMEM_DEV;
  }
  fput(f);
  mem[current + TASK.stat_ino] = ino;
  mem[current + TASK.stat_dev] = dev;
  return 0;
}

/** proc_ns_file (fs/nsfs.c): is this an nsfs file? */
export function proc_ns_file(f: number): boolean {
  return mem[f + FILE.kind] === FILE_NSFS;
}

/**
 * The namespace behind an nsfs fd of current's, for ioctls on it: the namespace (the file's own
 * reference covers the call: only the owner can close it), -EBADF for a bad fd, -ENOTTY when the
 * fd is not an nsfs file or (type != 0) not a namespace of that type (ns_ioctl has no such
 * request for it).
 */
export function nsfs_file_ns(fd: number, type = 0): number {
  const f = fd_file(fd);
  if (!f) return -EBADF;
  if (!proc_ns_file(f)) return -ENOTTY;
  if (type && mem[f + FILE.ns_type] !== type) return -ENOTTY;
  return mem[f + FILE.obj]!;
}

// ---- system calls -----------------------------------------------------------------------------

/**
 * open("/proc/PID/ns/KIND") (fs/proc/namespaces.c proc_ns_get_link + ns_get_path, fs/nsfs.c):
 * `pid_nr` in the caller's active pid namespace (0 = /proc/thread-self), `nsk` an NSK_* kind.
 * Returns an fd; ENOENT for an unknown kind, a pid without task, or a namespace `get` cannot
 * return; EACCES without ptrace access to the task.
 */
export function proc_ns_open(pid_nr: number, nsk: number): number {
  if (!nsk_type(nsk)) return -ENOENT;
  if (pid_nr < 0) return -ENOENT;
  rcu_read_lock();
  let task = current;
  if (pid_nr !== 0) {
    const pid = find_vpid(pid_nr);
    task = pid ? pid_task(pid, PIDTYPE_PID) : 0;
  }
  if (!task) {
    rcu_read_unlock();
    return -ENOENT;
  }
  if (!ptrace_may_access(task, PTRACE_MODE_READ_FSCREDS)) {
    rcu_read_unlock();
    return -EACCES;
  }
  // The task cannot be freed under rcu_read_lock (delayed_put_task_struct); `get` takes the locks
  // it needs (task_lock, tasklist_lock for pid_for_children).
  const ns = proc_ns_get(task, nsk);
  rcu_read_unlock();
  if (!ns) return -ENOENT;
  const type = nsk_type(nsk);
  const fd = alloc_fd_file(FILE_NSFS, type, ns);
  if (fd < 0) ns_put(type, ns);
  return fd;
}

/**
 * ioctl(fd, NS_GET_PARENT) (fs/nsfs.c ns_ioctl -> open_related_ns): a new fd for the parent
 * namespace. EBADF for a bad fd, ENOTTY for a file that is not a namespace, EINVAL for a type
 * without a parent (uts, ipc, mnt, net, cgroup, time), EPERM when the parent is outside the
 * caller's view (pidns_get_parent, ns_get_owner).
 */
export function ns_ioctl_get_parent(fd: number): number {
  const f = fget(fd);
  if (!f) return -EBADF;
  let ret: number;
  if (!proc_ns_file(f)) ret = -ENOTTY;
  else {
    const type = mem[f + FILE.ns_type]!;
    const ns = mem[f + FILE.obj]!;
    let rel: number;
    if (type === CLONE_NEWPID) rel = pidns_get_parent(ns);
    else if (type === CLONE_NEWUSER) rel = userns_get_parent(ns);
    else rel = -EINVAL;
    if (rel < 0) ret = rel;
    else {
      ret = alloc_fd_file(FILE_NSFS, type, rel);
      if (ret < 0) ns_put(type, rel);
    }
  }
  fput(f);
  return ret;
}

/**
 * ioctl(fd, PIDNS_REQ_SET_LAST_PID_VEC) (seed 001): the fd side. The pid namespace of an nsfs fd
 * (held by the file for the call) goes to pidns_ioctl_set_last_pid_vec (pid_namespace.ts).
 */
export function ns_ioctl_set_last_pid_vec(fd: number, addr: number, len: number): number {
  const f = fget(fd);
  if (!f) return -EBADF;
  let ret: number;
  if (!proc_ns_file(f) || mem[f + FILE.ns_type] !== CLONE_NEWPID) ret = -ENOTTY;
  else ret = pidns_ioctl_set_last_pid_vec(mem[f + FILE.obj]!, addr, len);
  fput(f);
  return ret;
}

register_syscall(SYS_OPEN_NS, 'open_ns', (pid, nsk) => proc_ns_open(pid, nsk));
register_syscall(SYS_CLOSE, 'close', (fd) => close_fd(fd));
register_syscall(SYS_MEMFD_CREATE, 'memfd_create', () => sys_memfd_create());
register_syscall(SYS_FSTAT, 'fstat', (fd) => vfs_fstat(fd));
register_syscall(SYS_PIDNS_GET_PARENT, 'ns_get_parent', (fd) => ns_ioctl_get_parent(fd));
register_syscall(SYS_PIDNS_IOCTL_SET_LAST_PID_VEC, 'pidns_ioctl_set_last_pid_vec', (fd, addr, len) => ns_ioctl_set_last_pid_vec(fd, addr, len));
