/**
 * The namespaces other than pid and user: uts, ipc, mnt, net, cgroup and time, as reference-counted
 * `struct ns_common` objects with an owning user namespace (kernel/utsname.c, ipc/namespace.c,
 * fs/namespace.c, net/core/net_namespace.c, kernel/cgroup/namespace.c, kernel/time/namespace.c),
 * their `*_install` rules for setns, and the helpers every namespace file shares: the CLONE_NEW*
 * flags (include/uapi/linux/sched.h), inode numbers (fs/proc/generic.c proc_alloc_inum), task_lock
 * and ptrace_may_access (kernel/ptrace.c).
 *
 * The model keeps none of these namespaces' contents (hostnames, mounts, devices): only identity,
 * ownership, references and the permission rules, which is what setns/unshare/clone decide on.
 */
import { G, NSCOMMON, NSPROXY, PIDNS, POISON_LIVE, SIG, TASK, USERNS } from '../mm/layout.js';
import { kg, mem, SLAB_NSCOMMON } from '../mm/memory.js';
import { kmem_cache_alloc, kmem_cache_free, mark_live } from '../mm/slab.js';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { record_violation, V_INVARIANT } from '../locking/violations.js';
import { current } from '../sched/core.js';
import { same_thread_group, thread_group_empty } from './sched_task.js';
import { EINVAL, ENOMEM, EPERM, EUSERS } from './errno.js';
import { CAP_SYS_ADMIN, CAP_SYS_PTRACE, get_user_ns, init_user_ns, ns_capable, put_user_ns } from './user_namespace.js';
export {
  CLONE_NEWTIME, CLONE_NEWNS, CLONE_SYSVSEM, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
} from './clone_flags.js';
import { CLONE_NEWTIME, CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET } from './clone_flags.js';


// ---- include/uapi/linux/sched.h ---------------------------------------------------------------


/** Every namespace flag that lives in struct nsproxy (copy_namespaces / unshare_nsproxy_namespaces). */
export const CLONE_NSPROXY_FLAGS = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWTIME;
/** Every flag setns(pidfd, flags) accepts (check_setns_flags). */
export const CLONE_SETNS_FLAGS = CLONE_NSPROXY_FLAGS | CLONE_NEWUSER;
/** The ns_common-backed types (everything but pid and user). */
export const NS_COMMON_TYPES = [CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME] as const;

export const NS_TYPE_NAMES: Record<number, string> = {
  [CLONE_NEWNS]: 'mnt', [CLONE_NEWUTS]: 'uts', [CLONE_NEWIPC]: 'ipc', [CLONE_NEWNET]: 'net',
  [CLONE_NEWCGROUP]: 'cgroup', [CLONE_NEWTIME]: 'time', [CLONE_NEWPID]: 'pid', [CLONE_NEWUSER]: 'user',
};

export function is_ns_common_type(type: number): boolean {
  return type === CLONE_NEWNS || type === CLONE_NEWUTS || type === CLONE_NEWIPC || type === CLONE_NEWNET ||
    type === CLONE_NEWCGROUP || type === CLONE_NEWTIME;
}

// ---- inode numbers (include/linux/proc_ns.h, fs/proc/generic.c) -------------------------------

/** Fixed inode numbers of the initial namespaces (include/linux/proc_ns.h PROC_*_INIT_INO), as int32. */
export const PROC_IPC_INIT_INO = 0xefffffff | 0;
export const PROC_UTS_INIT_INO = 0xeffffffe | 0;
export const PROC_USER_INIT_INO = 0xeffffffd | 0;
export const PROC_PID_INIT_INO = 0xeffffffc | 0;
export const PROC_CGROUP_INIT_INO = 0xeffffffb | 0;
export const PROC_TIME_INIT_INO = 0xeffffffa | 0;
/** init_net's inode (net/core/net_namespace.c: PROC_NET_INIT_INO, 4026531833 on 6.18). */
export const PROC_NET_INIT_INO = 0xeffffff9 | 0;
/** init_mnt_ns's inode (fs/namespace.c: MNT_NS_INIT_INO, 4026531832 on 6.18). */
export const PROC_MNT_INIT_INO = 0xeffffff8 | 0;
/** First dynamically allocated proc inode (fs/proc/generic.c PROC_DYNAMIC_FIRST). */
export const PROC_DYNAMIC_FIRST = 0xf0000000 | 0;

/**
 * ns_alloc_inum (include/linux/proc_ns.h) / proc_alloc_inum: a unique inode number for a new
 * namespace object, from one sequence shared by every namespace type (the kernel's proc_inum_ida
 * is shared too): PROC_DYNAMIC_FIRST + n. The kernel's ida hands out the lowest free id, so a
 * number can come back after its namespace is freed, but on a system that has run for a while
 * the lowest hole is rarely the number just freed; the model does not reuse numbers at all (2^28
 * of them before the sequence wraps), so an inode number seen once names one namespace, as user
 * space that compares /proc/PID/ns links assumes (the conformance driver does). Stored as int32
 * (read it back with `>>> 0`). `slabKind` and `p` are kept for the callers' signature.
 */
export function ns_alloc_inum(_slabKind: number, _p: number): number {
  return (PROC_DYNAMIC_FIRST + (Atomics.add(mem, kg + G.ns_inum_seq, 1) & 0x0fffffff)) | 0;
}

/** Inode number of a namespace of any type, unsigned (what stat() on /proc/PID/ns/KIND shows). */
export function ns_inum(type: number, ns: number): number {
  if (!ns) return 0;
  if (type === CLONE_NEWPID) return mem[ns + PIDNS.inum]! >>> 0;
  if (type === CLONE_NEWUSER) return mem[ns + USERNS.inum]! >>> 0;
  return mem[ns + NSCOMMON.inum]! >>> 0;
}

// ---- struct ns_common objects -----------------------------------------------------------------

/** NSCOMMON.flags: a static initial namespace (init_uts_ns, init_net ...): one pinned reference. */
export const NSC_INIT = 1;

/**
 * Allocate a namespace of `type` owned by `user_ns` (takes a reference on it), count 1, or 0 when
 * the cache is empty. The kernel's clone_uts_ns / create_ipc_ns / alloc_mnt_ns / net_alloc /
 * alloc_cgroup_ns / clone_time_ns, reduced to what the model keeps.
 */
export function alloc_ns_common(type: number, user_ns: number, inum = 0, flags = 0): number {
  const ns = kmem_cache_alloc(SLAB_NSCOMMON);
  if (!ns) return 0;
  mem[ns + NSCOMMON.type] = type;
  mem[ns + NSCOMMON.user_ns] = user_ns ? get_user_ns(user_ns) : 0;
  mem[ns + NSCOMMON.inum] = inum || ns_alloc_inum(SLAB_NSCOMMON, ns);
  mem[ns + NSCOMMON.flags] = flags;
  Atomics.store(mem, ns + NSCOMMON.count, 1);
  mark_live(ns, NSCOMMON.poison);
  return ns;
}

/** get_uts_ns / get_ipc_ns / get_mnt_ns / get_net / get_cgroup_ns / get_time_ns. */
export function get_ns_common(ns: number): number {
  if (Atomics.load(mem, ns + NSCOMMON.poison) !== POISON_LIVE) record_violation(V_INVARIANT, INV_NS_USE_AFTER_FREE, ns, 0);
  Atomics.add(mem, ns + NSCOMMON.count, 1);
  return ns;
}

/** put_uts_ns / put_ipc_ns / put_mnt_ns / put_net / put_cgroup_ns / put_time_ns: free at zero. */
export function put_ns_common(ns: number): void {
  if (!ns) return;
  const left = Atomics.sub(mem, ns + NSCOMMON.count, 1) - 1;
  if (left > 0) return;
  if (left < 0 || (mem[ns + NSCOMMON.flags]! & NSC_INIT) !== 0) {
    // An initial namespace is static (its pin is never dropped); a negative count is an underflow.
    record_violation(V_INVARIANT, INV_NS_REFCOUNT, ns, left);
    return;
  }
  const user_ns = mem[ns + NSCOMMON.user_ns]!;
  kmem_cache_free(SLAB_NSCOMMON, ns, NSCOMMON.poison);
  if (user_ns) put_user_ns(user_ns);
}

/** Invariant codes (V_INVARIANT a-word) raised by the namespace code. */
export const INV_NS_USE_AFTER_FREE = 0x4e01;
export const INV_NS_REFCOUNT = 0x4e02;
export const INV_NSPROXY_REFCOUNT = 0x4e03;
export const INV_FILE_REFCOUNT = 0x4e04;

/**
 * The copy_* step of create_new_namespaces for one ns_common type: share the old namespace (a new
 * reference) unless `flags` asks for a new one, which is then owned by `user_ns`. Returns the
 * namespace or -ENOMEM. (copy_utsname, copy_ipcs, copy_mnt_ns, copy_net_ns, copy_cgroup_ns,
 * copy_time_ns; the kernel's per-user-namespace ucount limits, ENOSPC, are not modelled.)
 */
export function copy_ns_common(type: number, flags: number, user_ns: number, old: number): number {
  if ((flags & type) === 0) return get_ns_common(old);
  const ns = alloc_ns_common(type, user_ns);
  return ns || -ENOMEM;
}

/** copy_utsname (kernel/utsname.c). */
export const copy_utsname = (flags: number, user_ns: number, old: number): number => copy_ns_common(CLONE_NEWUTS, flags, user_ns, old);
/** copy_ipcs (ipc/namespace.c). */
export const copy_ipcs = (flags: number, user_ns: number, old: number): number => copy_ns_common(CLONE_NEWIPC, flags, user_ns, old);
/** copy_mnt_ns (fs/namespace.c): the mount tree itself is not modelled. */
export const copy_mnt_ns = (flags: number, user_ns: number, old: number): number => copy_ns_common(CLONE_NEWNS, flags, user_ns, old);
/** copy_net_ns (net/core/net_namespace.c). */
export const copy_net_ns = (flags: number, user_ns: number, old: number): number => copy_ns_common(CLONE_NEWNET, flags, user_ns, old);
/** copy_cgroup_ns (kernel/cgroup/namespace.c). */
export const copy_cgroup_ns = (flags: number, user_ns: number, old: number): number => copy_ns_common(CLONE_NEWCGROUP, flags, user_ns, old);
/** copy_time_ns (kernel/time/namespace.c): applies to time_ns_for_children. */
export const copy_time_ns = (flags: number, user_ns: number, old: number): number => copy_ns_common(CLONE_NEWTIME, flags, user_ns, old);

// ---- task_lock, thread-group tests, ptrace_may_access ----------------------------------------

/** task_lock (include/linux/sched/task.h): p->alloc_lock, guards p->nsproxy and (here) the cred words. */
export function task_lock(p: number, site = 0): void {
  spin_lock(p + TASK.alloc_lock, site);
}

export function task_unlock(p: number): void {
  spin_unlock(p + TASK.alloc_lock);
}

/**
 * current_is_single_threaded (lib/is_single_threaded.c): signal->live == 1. The kernel also looks
 * for other processes sharing the mm (CLONE_VM without CLONE_THREAD), which the model lacks.
 */
export function current_is_single_threaded(): boolean {
  const sig = mem[current + TASK.signal]!;
  return sig === 0 || (Atomics.load(mem, sig + SIG.live) <= 1 && mem[sig + SIG.nr_threads]! <= 1);
}

/**
 * `current->fs->users != 1` of mntns_install / userns_install: the model has no fs_struct; threads
 * share one (pthreads pass CLONE_FS), so a task whose group has other threads shares its fs.
 */
export function current_fs_shared(): boolean {
  return !thread_group_empty(current);
}

/** PTRACE_MODE_* (include/linux/ptrace.h). */
export const PTRACE_MODE_READ = 0x01;
export const PTRACE_MODE_ATTACH = 0x02;
export const PTRACE_MODE_FSCREDS = 0x08;
export const PTRACE_MODE_REALCREDS = 0x10;
export const PTRACE_MODE_READ_FSCREDS = PTRACE_MODE_READ | PTRACE_MODE_FSCREDS;
export const PTRACE_MODE_READ_REALCREDS = PTRACE_MODE_READ | PTRACE_MODE_REALCREDS;

/**
 * ptrace_may_access / __ptrace_may_access (kernel/ptrace.c) with the commoncap LSM hook
 * cap_ptrace_access_check (security/commoncap.c), which every kernel runs:
 *  1. one thread group: allowed;
 *  2. current's uid differs from the target's (the model's cred has one uid: uid = euid = suid,
 *     no gids) and current lacks CAP_SYS_PTRACE in the target's user namespace: EPERM;
 *  3. commoncap: allowed when both creds are in one user namespace and the target's capabilities
 *     are a subset of current's, or with CAP_SYS_PTRACE in the target's user namespace; else
 *     EPERM. (Linux 6.18: a root task without CAP_SYS_PTRACE may not setns through a pidfd of a
 *     root task with a full capability set, but may for one that dropped its capabilities.)
 * Not modelled: the dumpable check against the mm's user namespace (a task that changed uid is
 * non-dumpable in the kernel unless it sets PR_SET_DUMPABLE), gids, Yama and other LSMs. `mode` is
 * kept for the kernel's signature: FSCREDS and REALCREDS read the same cred here (effective and
 * permitted capabilities are one set).
 */
export function ptrace_may_access(task: number, _mode: number): boolean {
  if (same_thread_group(task, current)) return true;
  // The target's cred is read, and its user namespace walked, under task_lock: the model's cred
  // words are guarded by it, and a setns/unshare commit of the target drops its old user
  // namespace right after switching under that lock (the kernel reads __task_cred under RCU,
  // with RCU-delayed cred and user-namespace frees).
  task_lock(task);
  const tuid = mem[task + TASK.cred_uid]!;
  const tns = mem[task + TASK.cred_user_ns] || init_user_ns();
  const tcaps = mem[task + TASK.cred_caps]!;
  const cns = mem[current + TASK.cred_user_ns] || init_user_ns();
  const ccaps = mem[current + TASK.cred_caps]!;
  let ok: boolean;
  if (mem[current + TASK.cred_uid] !== tuid && !ns_capable(current, tns, CAP_SYS_PTRACE)) ok = false;
  else ok = (cns === tns && (tcaps & ~ccaps) === 0) || ns_capable(current, tns, CAP_SYS_PTRACE);
  task_unlock(task);
  return ok;
}

// ---- struct nsset and the *_install operations ------------------------------------------------

/**
 * struct nsset (include/linux/nsproxy.h): what setns builds before it commits. `nsproxy` is a
 * private copy of current's nsproxy (no other task sees it until commit_nsset); the cred is a
 * private copy (prepare_creds) only when CLONE_NEWUSER is requested, else it is current's and
 * `own_cred` is false. An owned cred holds a reference on `cred_user_ns`.
 */
export interface NsSet {
  flags: number;
  nsproxy: number;
  cred_uid: number;
  cred_user_ns: number;
  cred_caps: number;
  own_cred: boolean;
}

/**
 * The generic install rule of uts/ipc/net/cgroup namespaces: CAP_SYS_ADMIN over the namespace
 * (its owning user namespace) and in the user namespace the caller will have after setns
 * (nsset->cred->user_ns); both checked against current's credentials, as ns_capable does.
 */
function ns_install_capable(nsset: NsSet, ns: number): boolean {
  return ns_capable(current, mem[ns + NSCOMMON.user_ns]!, CAP_SYS_ADMIN) && ns_capable(current, nsset.cred_user_ns, CAP_SYS_ADMIN);
}

/** Replace the reference in one nsproxy slot (the nsset's private copy). */
function nsset_swap(nsset: NsSet, off: number, ns: number): void {
  const np = nsset.nsproxy;
  const old = mem[np + off]!;
  mem[np + off] = get_ns_common(ns);
  put_ns_common(old);
}

/** utsns_install (kernel/utsname.c). */
export function utsns_install(nsset: NsSet, ns: number): number {
  if (!ns_install_capable(nsset, ns)) return -EPERM;
  nsset_swap(nsset, NSPROXY.uts_ns, ns);
  return 0;
}

/** ipcns_install (ipc/namespace.c). The kernel's exit_sem at commit has nothing to undo here. */
export function ipcns_install(nsset: NsSet, ns: number): number {
  if (!ns_install_capable(nsset, ns)) return -EPERM;
  nsset_swap(nsset, NSPROXY.ipc_ns, ns);
  return 0;
}

/** netns_install (net/core/net_namespace.c). */
export function netns_install(nsset: NsSet, ns: number): number {
  if (!ns_install_capable(nsset, ns)) return -EPERM;
  nsset_swap(nsset, NSPROXY.net_ns, ns);
  return 0;
}

/** cgroupns_install (kernel/cgroup/namespace.c): attaching to the own cgroup namespace is a no-op. */
export function cgroupns_install(nsset: NsSet, ns: number): number {
  if (!ns_capable(current, nsset.cred_user_ns, CAP_SYS_ADMIN) || !ns_capable(current, mem[ns + NSCOMMON.user_ns]!, CAP_SYS_ADMIN)) return -EPERM;
  if (mem[nsset.nsproxy + NSPROXY.cgroup_ns] === ns) return 0;
  nsset_swap(nsset, NSPROXY.cgroup_ns, ns);
  return 0;
}

/**
 * mntns_install (fs/namespace.c): CAP_SYS_ADMIN over the mount namespace, CAP_SYS_CHROOT and
 * CAP_SYS_ADMIN in nsset->cred->user_ns (EPERM), then EINVAL when current's fs_struct is shared
 * (fs->users != 1: other threads, in the model). The model has no CAP_SYS_CHROOT of its own: the
 * CAP_SYS_ADMIN check stands for both. The root/pwd switch (set_fs_root) has no model state.
 */
export function mntns_install(nsset: NsSet, ns: number): number {
  if (!ns_install_capable(nsset, ns)) return -EPERM;
  if (current_fs_shared()) return -EINVAL;
  nsset_swap(nsset, NSPROXY.mnt_ns, ns);
  return 0;
}

/**
 * timens_install (kernel/time/namespace.c): EUSERS unless current is single-threaded, then the
 * generic capability rule; installs both time_ns and time_ns_for_children (timens_commit at
 * commit time has no vdso to switch here).
 */
export function timens_install(nsset: NsSet, ns: number): number {
  if (!current_is_single_threaded()) return -EUSERS;
  if (!ns_install_capable(nsset, ns)) return -EPERM;
  nsset_swap(nsset, NSPROXY.time_ns, ns);
  nsset_swap(nsset, NSPROXY.time_ns_for_children, ns);
  return 0;
}

/** The install operation (proc_ns_operations.install) of an ns_common type. */
export function ns_common_install(nsset: NsSet, ns: number): number {
  switch (mem[ns + NSCOMMON.type]) {
    case CLONE_NEWUTS: return utsns_install(nsset, ns);
    case CLONE_NEWIPC: return ipcns_install(nsset, ns);
    case CLONE_NEWNET: return netns_install(nsset, ns);
    case CLONE_NEWCGROUP: return cgroupns_install(nsset, ns);
    case CLONE_NEWNS: return mntns_install(nsset, ns);
    case CLONE_NEWTIME: return timens_install(nsset, ns);
    default: return -EINVAL;
  }
}

/** The nsproxy slot of an ns_common type (for the nsfs get operations). */
export function nsproxy_slot(type: number, for_children = false): number {
  switch (type) {
    case CLONE_NEWUTS: return NSPROXY.uts_ns;
    case CLONE_NEWIPC: return NSPROXY.ipc_ns;
    case CLONE_NEWNET: return NSPROXY.net_ns;
    case CLONE_NEWCGROUP: return NSPROXY.cgroup_ns;
    case CLONE_NEWNS: return NSPROXY.mnt_ns;
    case CLONE_NEWTIME: return for_children ? NSPROXY.time_ns_for_children : NSPROXY.time_ns;
    default: return -1;
  }
}
