/**
 * struct nsproxy and setns (kernel/nsproxy.c): the per-task set of namespaces, its copy at clone
 * and unshare, its switch, and setns(fd, flags) by an nsfs fd or by a pidfd (several namespaces at
 * once, all or nothing: prepare_nsset -> validate_nsset -> commit_nsset).
 *
 * An nsproxy is shared by tasks (count) and never modified once a task uses it: clone, unshare and
 * setns build a new one and switch_task_namespaces swaps task->nsproxy under task_lock. Every slot
 * holds a reference on its namespace. init_nsproxy (G.init_nsproxy) keeps a static pin, as the
 * kernel's static init_nsproxy does (the swapper tasks' reference).
 *
 * Credentials live in the task record (TASK.cred_uid/cred_user_ns/cred_caps, written under
 * task_lock by their own task); cred_user_ns holds a reference on its user namespace, like
 * cred->user_ns. setns(CLONE_NEWUSER) prepares a private cred (struct nsset) and commits it.
 */
import { FILE, G, NSCOMMON, NSPROXY, PID, PIDNS, POISON_LIVE, TASK } from '../mm/layout.js';
import { BUG_PLANT_NSPROXY_NO_TASK_LOCK } from '../config/bugs.js';
import { kg, mem, regions, SLAB_FILE, SLAB_NSCOMMON, SLAB_NSPROXY, SLAB_PID, SLAB_TASK } from '../mm/memory.js';
import { kmem_cache_alloc, kmem_cache_free, mark_live } from '../mm/slab.js';
import { record_violation, V_INVARIANT } from '../locking/violations.js';
import { rcu_read_lock, rcu_read_unlock } from '../rcu/rcu.js';
import { current, SLEEP } from '../sched/core.js';
import { register_boot_init } from './boot.js';
import { register_syscall } from './entry.js';
import { EBADF, EINVAL, ENOMEM, EPERM, ESRCH, is_err } from './errno.js';
import { SYS_SETNS, SYS_UNSHARE_USER } from './unistd.js';
import {
  alloc_ns_common, CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWTIME,
  CLONE_NEWUSER, CLONE_NEWUTS, CLONE_NSPROXY_FLAGS, CLONE_SETNS_FLAGS, CLONE_SYSVSEM, copy_cgroup_ns, copy_ipcs,
  copy_mnt_ns, copy_net_ns, copy_time_ns, copy_utsname, get_ns_common, INV_NSPROXY_REFCOUNT, is_ns_common_type,
  NS_TYPE_NAMES, ns_common_install, NSC_INIT, type NsSet, PROC_CGROUP_INIT_INO, PROC_IPC_INIT_INO,
  PROC_MNT_INIT_INO, PROC_NET_INIT_INO, PROC_TIME_INIT_INO, PROC_UTS_INIT_INO, ptrace_may_access,
  PTRACE_MODE_READ_REALCREDS, put_ns_common, current_fs_shared, task_lock, task_unlock,
} from './ns_common.js';
import { thread_group_empty } from './sched_task.js';
import { fget, FILE_NSFS, FILE_PIDFD, fput, proc_ns_file, userns_get } from './nsfs.js';
import { pidfd_pid } from './pidfd.js';
import { copy_pid_ns, get_pid_ns, pidns_install, put_pid_ns, task_active_pid_ns } from './pid_namespace.js';
import { pid_task, PIDTYPE_PID } from './pid.js';
import { CAP_FULL_SET, CAP_SETFCAP, CAP_SYS_ADMIN, create_user_ns, get_user_ns, init_user_ns, ns_capable, put_user_ns, set_cred_user_ns } from './user_namespace.js';

// ---- struct nsproxy ---------------------------------------------------------------------------

/** create_nsproxy: an empty nsproxy with count 1, or 0 when the cache is empty. */
export function create_nsproxy(): number {
  const np = kmem_cache_alloc(SLAB_NSPROXY);
  if (!np) return 0;
  Atomics.store(mem, np + NSPROXY.count, 1);
  mark_live(np, NSPROXY.poison);
  return np;
}

/** get_nsproxy (include/linux/nsproxy.h). */
export function get_nsproxy(np: number): number {
  if (Atomics.load(mem, np + NSPROXY.poison) !== POISON_LIVE) record_violation(V_INVARIANT, INV_NSPROXY_REFCOUNT, np, -1);
  Atomics.add(mem, np + NSPROXY.count, 1);
  return np;
}

/** put_nsproxy (include/linux/nsproxy.h): the last reference frees it. */
export function put_nsproxy(np: number): void {
  const left = Atomics.sub(mem, np + NSPROXY.count, 1) - 1;
  if (left > 0) return;
  if (left < 0 || np === mem[kg + G.init_nsproxy]) {
    record_violation(V_INVARIANT, INV_NSPROXY_REFCOUNT, np, left);
    return;
  }
  free_nsproxy(np);
}

/** free_nsproxy (kernel/nsproxy.c): drop every namespace reference and free (empty slots allowed). */
export function free_nsproxy(np: number): void {
  put_ns_common(mem[np + NSPROXY.mnt_ns]!);
  put_ns_common(mem[np + NSPROXY.uts_ns]!);
  put_ns_common(mem[np + NSPROXY.ipc_ns]!);
  const pidns = mem[np + NSPROXY.pid_ns_for_children]!;
  if (pidns) put_pid_ns(pidns);
  put_ns_common(mem[np + NSPROXY.time_ns]!);
  put_ns_common(mem[np + NSPROXY.time_ns_for_children]!);
  put_ns_common(mem[np + NSPROXY.cgroup_ns]!);
  put_ns_common(mem[np + NSPROXY.net_ns]!);
  kmem_cache_free(SLAB_NSPROXY, np, NSPROXY.poison);
}

/**
 * create_new_namespaces (kernel/nsproxy.c): a new nsproxy for `flags`, copying or sharing each
 * namespace of `old` (the nsproxy the new one is derived from: tsk->nsproxy in the kernel). Returns
 * the nsproxy, -errno, or SLEEP.
 *
 * Restartable: copy_pid_ns may sleep (create_pid_cachep takes pid_caches_mutex). It runs FIRST
 * here, before anything is allocated, so nothing is held across its SLEEP and the restarted call
 * simply runs again (copy_pid_ns keeps its own restart state). The kernel copies mnt, uts, ipc
 * before pid; the other copies fail only with ENOMEM in the model, so only which error wins
 * when two would fail at once differs.
 */
export function create_new_namespaces(flags: number, old: number, user_ns: number): number {
  const pidns = copy_pid_ns(flags, user_ns, mem[old + NSPROXY.pid_ns_for_children]!);
  if (pidns === SLEEP) return SLEEP;
  if (is_err(pidns)) return pidns;
  const np = create_nsproxy();
  if (!np) {
    put_pid_ns(pidns);
    return -ENOMEM;
  }
  mem[np + NSPROXY.pid_ns_for_children] = pidns;
  const steps: Array<[number, (f: number, u: number, o: number) => number]> = [
    [NSPROXY.mnt_ns, copy_mnt_ns],
    [NSPROXY.uts_ns, copy_utsname],
    [NSPROXY.ipc_ns, copy_ipcs],
    [NSPROXY.cgroup_ns, copy_cgroup_ns],
    [NSPROXY.net_ns, copy_net_ns],
    [NSPROXY.time_ns_for_children, copy_time_ns],
  ];
  for (const [off, copy] of steps) {
    const ns = copy(flags, user_ns, mem[old + off]!);
    if (is_err(ns)) {
      free_nsproxy(np); // puts what was copied so far (empty slots are skipped)
      return ns;
    }
    mem[np + off] = ns;
  }
  mem[np + NSPROXY.time_ns] = get_ns_common(mem[old + NSPROXY.time_ns]!);
  return np;
}

/**
 * timens_on_fork (kernel/time/namespace.c): the child runs in its parent's time_ns_for_children.
 * `np` is the child's private new nsproxy.
 */
function timens_on_fork(np: number): void {
  const tfc = mem[np + NSPROXY.time_ns_for_children]!;
  const t = mem[np + NSPROXY.time_ns]!;
  if (t === tfc) return;
  mem[np + NSPROXY.time_ns] = get_ns_common(tfc);
  put_ns_common(t);
}

/**
 * copy_namespaces (kernel/nsproxy.c), called by copy_process for the child `tsk`. The child shares
 * the nsproxy it was copied from (tsk->nsproxy as dup_task_struct left it, else current's) with a
 * new reference, or gets a new one for CLONE_NEW* flags (EPERM without CAP_SYS_ADMIN in the
 * child's cred user namespace; EINVAL for CLONE_NEWIPC|CLONE_SYSVSEM). Sets tsk->nsproxy and
 * returns it (> 0), or -errno, or SLEEP (call again: see create_new_namespaces).
 */
export function copy_namespaces(flags: number, tsk: number): number {
  const old = mem[tsk + TASK.nsproxy] || mem[current + TASK.nsproxy]!;
  const user_ns = mem[tsk + TASK.cred_user_ns] || mem[current + TASK.cred_user_ns]!;
  if ((flags & CLONE_NSPROXY_FLAGS) === 0) {
    if (mem[old + NSPROXY.time_ns_for_children] === mem[old + NSPROXY.time_ns]) {
      get_nsproxy(old);
      mem[tsk + TASK.nsproxy] = old;
      return old;
    }
  } else if (!ns_capable(current, user_ns, CAP_SYS_ADMIN)) {
    return -EPERM;
  }
  // CLONE_NEWIPC must detach from the undo list, CLONE_SYSVSEM would share it.
  if ((flags & (CLONE_NEWIPC | CLONE_SYSVSEM)) === (CLONE_NEWIPC | CLONE_SYSVSEM)) return -EINVAL;
  const np = create_new_namespaces(flags, old, user_ns);
  if (np === SLEEP || is_err(np)) return np;
  timens_on_fork(np);
  mem[tsk + TASK.nsproxy] = np;
  return np;
}

/**
 * unshare_nsproxy_namespaces (kernel/nsproxy.c), for ksys_unshare: 0 when `flags` has no
 * nsproxy namespace, else a new nsproxy (> 0) derived from current's, for the caller to install
 * with switch_task_namespaces; -EPERM without CAP_SYS_ADMIN in `new_user_ns` (the user namespace
 * of the new cred when the same unshare creates one, else 0 = current's); SLEEP as
 * create_new_namespaces.
 */
export function unshare_nsproxy_namespaces(flags: number, new_user_ns = 0): number {
  if ((flags & CLONE_NSPROXY_FLAGS) === 0) return 0;
  const user_ns = new_user_ns || mem[current + TASK.cred_user_ns]!;
  if (!ns_capable(current, user_ns, CAP_SYS_ADMIN)) return -EPERM;
  return create_new_namespaces(flags, mem[current + TASK.nsproxy]!, user_ns);
}

/**
 * switch_task_namespaces (kernel/nsproxy.c): install `np` (whose reference p takes over) as p's
 * nsproxy under task_lock, then drop the old one. Readers of p->nsproxy (the nsfs get operations,
 * validate_nsset) take task_lock and a reference, so the old nsproxy outlives them.
 */
export function switch_task_namespaces(p: number, np: number): void {
  task_lock(p);
  const old = mem[p + TASK.nsproxy]!;
  mem[p + TASK.nsproxy] = np;
  task_unlock(p);
  if (old) put_nsproxy(old);
}

/** exit_task_namespaces (kernel/nsproxy.c): do_exit drops the task's nsproxy. */
export function exit_task_namespaces(p: number): void {
  switch_task_namespaces(p, 0);
}

// ---- boot -------------------------------------------------------------------------------------

function init_namespaces_build(): number {
  const have = mem[kg + G.init_nsproxy]!;
  if (have) return have;
  const user_ns = mem[kg + G.init_user_ns]!;
  const np = create_nsproxy(); // count 1: the static pin
  if (!np) throw new Error('init_nsproxy: nsproxy cache empty at boot');
  const init = (type: number, inum: number): number => {
    const ns = alloc_ns_common(type, user_ns, inum, NSC_INIT); // count 1: the static pin
    if (!ns) throw new Error('init namespaces: ns_common cache empty at boot');
    return get_ns_common(ns); // the init_nsproxy slot's reference
  };
  mem[np + NSPROXY.uts_ns] = init(CLONE_NEWUTS, PROC_UTS_INIT_INO);
  mem[np + NSPROXY.ipc_ns] = init(CLONE_NEWIPC, PROC_IPC_INIT_INO);
  mem[np + NSPROXY.mnt_ns] = init(CLONE_NEWNS, PROC_MNT_INIT_INO);
  mem[np + NSPROXY.net_ns] = init(CLONE_NEWNET, PROC_NET_INIT_INO);
  mem[np + NSPROXY.cgroup_ns] = init(CLONE_NEWCGROUP, PROC_CGROUP_INIT_INO);
  const time = init(CLONE_NEWTIME, PROC_TIME_INIT_INO);
  mem[np + NSPROXY.time_ns] = time;
  mem[np + NSPROXY.time_ns_for_children] = get_ns_common(time);
  const pidns = mem[kg + G.init_pid_ns]!;
  mem[np + NSPROXY.pid_ns_for_children] = pidns ? get_pid_ns(pidns) : 0;
  mem[kg + G.init_nsproxy] = np;
  return np;
}

/**
 * init_nsproxy and the initial uts/ipc/mnt/net/cgroup/time namespaces (kernel/nsproxy.c
 * init_nsproxy, init_uts_ns, init_ipc_ns, init_mnt_ns, init_net, init_cgroup_ns, init_time_ns),
 * built once per machine (G.init_nsproxy) over G.init_user_ns and G.init_pid_ns. Returns
 * init_nsproxy WITH A REFERENCE FOR THE CALLER: the init task assigns it to TASK.nsproxy as is.
 * The initial namespaces carry the kernel's fixed inode numbers (PROC_*_INIT_INO).
 */
export function init_nsproxy_create(): number {
  return get_nsproxy(init_namespaces_build());
}

// Built at boot when the user and pid namespaces are already there; otherwise the init task's
// call to init_nsproxy_create builds it (boot-init order follows module import order).
register_boot_init(() => {
  if (mem[kg + G.init_user_ns] && mem[kg + G.init_pid_ns]) init_namespaces_build();
});

// ---- setns ------------------------------------------------------------------------------------

/** check_setns_flags (kernel/nsproxy.c): a pidfd needs a non-empty set of namespace flags. */
export function check_setns_flags(flags: number): number {
  if (!flags || (flags & ~CLONE_SETNS_FLAGS) !== 0) return -EINVAL;
  return 0;
}

/**
 * prepare_nsset (kernel/nsproxy.c): a private copy of current's nsproxy (create_new_namespaces with
 * no flags) and, for CLONE_NEWUSER, a private cred (prepare_creds: a new reference on the user
 * namespace). Returns the nsset, or -ENOMEM, or SLEEP.
 */
export function prepare_nsset(flags: number): NsSet | number {
  const me = current;
  const np = create_new_namespaces(0, mem[me + TASK.nsproxy]!, mem[me + TASK.cred_user_ns]!);
  if (np === SLEEP || is_err(np)) return np;
  const own = (flags & CLONE_NEWUSER) !== 0;
  const user_ns = mem[me + TASK.cred_user_ns] || init_user_ns();
  return {
    flags,
    nsproxy: np,
    cred_uid: mem[me + TASK.cred_uid]!,
    cred_user_ns: own && user_ns ? get_user_ns(user_ns) : user_ns,
    cred_caps: mem[me + TASK.cred_caps]!,
    own_cred: own,
  };
}

/** put_nsset: drop what commit_nsset did not take over. */
export function put_nsset(nsset: NsSet): void {
  if (nsset.own_cred && nsset.cred_user_ns) put_user_ns(nsset.cred_user_ns);
  nsset.own_cred = false;
  if (nsset.nsproxy) free_nsproxy(nsset.nsproxy);
  nsset.nsproxy = 0;
}

/**
 * userns_install (kernel/user_namespace.c): EINVAL to re-enter current's own user namespace (no
 * regaining capabilities) or from a multi-threaded task (threads share a user namespace; the
 * shared fs_struct rule is the same test in the model), EPERM without CAP_SYS_ADMIN in the target;
 * then the nsset's cred moves there with a full capability set (set_cred_user_ns).
 */
export function userns_install(nsset: NsSet, user_ns: number): number {
  if (user_ns === (mem[current + TASK.cred_user_ns] || init_user_ns())) return -EINVAL;
  if (!thread_group_empty(current)) return -EINVAL;
  if (current_fs_shared()) return -EINVAL;
  if (!ns_capable(current, user_ns, CAP_SYS_ADMIN)) return -EPERM;
  if (!nsset.own_cred) return -EINVAL;
  const old = nsset.cred_user_ns;
  nsset.cred_user_ns = get_user_ns(user_ns);
  nsset.cred_caps = CAP_FULL_SET;
  if (old) put_user_ns(old);
  return 0;
}

/** validate_ns: the namespace type's install operation (proc_ns_operations.install). */
export function validate_ns(nsset: NsSet, type: number, ns: number): number {
  if (type === CLONE_NEWPID) return pidns_install(nsset, ns);
  if (type === CLONE_NEWUSER) return userns_install(nsset, ns);
  if (is_ns_common_type(type)) return ns_common_install(nsset, ns);
  return -EINVAL;
}

/**
 * validate_nsset (kernel/nsproxy.c): setns by pidfd. Snapshot the target's namespaces under
 * rcu_read_lock (ESRCH when the pid has no task any more, or the task passed
 * exit_task_namespaces; EPERM without ptrace access), then install each requested namespace into
 * the private nsset in the kernel's order: user, mnt, uts, ipc, pid, cgroup, net, time. The first
 * failure returns; nothing of current's has changed (commit_nsset has not run).
 */
export function validate_nsset(nsset: NsSet, pid: number): number {
  const flags = nsset.flags;
  let user_ns = 0;
  let pid_ns = 0;
  rcu_read_lock();
  const tsk = pid_task(pid, PIDTYPE_PID);
  if (!tsk) {
    rcu_read_unlock();
    return -ESRCH;
  }
  if (!ptrace_may_access(tsk, PTRACE_MODE_READ_REALCREDS)) {
    rcu_read_unlock();
    return -EPERM;
  }
  // Planted bug (BUG_PLANT_NSPROXY_NO_TASK_LOCK): the target's nsproxy read without task_lock,
  // racing its switch_task_namespaces (which may drop the last reference).
  const planted = (mem[kg + G.bug_switches]! & BUG_PLANT_NSPROXY_NO_TASK_LOCK) !== 0;
  if (!planted) task_lock(tsk);
  const nsp = mem[tsk + TASK.nsproxy]!;
  if (nsp) get_nsproxy(nsp);
  if (!planted) task_unlock(tsk);
  if (!nsp) {
    rcu_read_unlock();
    return -ESRCH;
  }
  let ret = 0;
  if (flags & CLONE_NEWPID) {
    pid_ns = task_active_pid_ns(tsk);
    if (!pid_ns) ret = -ESRCH;
    else get_pid_ns(pid_ns);
  }
  if (!ret && (flags & CLONE_NEWUSER)) user_ns = userns_get(tsk);
  rcu_read_unlock();

  if (!ret && (flags & CLONE_NEWUSER)) ret = user_ns ? userns_install(nsset, user_ns) : -ESRCH;
  if (!ret && (flags & CLONE_NEWNS)) ret = ns_common_install(nsset, mem[nsp + NSPROXY.mnt_ns]!);
  if (!ret && (flags & CLONE_NEWUTS)) ret = ns_common_install(nsset, mem[nsp + NSPROXY.uts_ns]!);
  if (!ret && (flags & CLONE_NEWIPC)) ret = ns_common_install(nsset, mem[nsp + NSPROXY.ipc_ns]!);
  if (!ret && (flags & CLONE_NEWPID)) ret = pidns_install(nsset, pid_ns);
  if (!ret && (flags & CLONE_NEWCGROUP)) ret = ns_common_install(nsset, mem[nsp + NSPROXY.cgroup_ns]!);
  if (!ret && (flags & CLONE_NEWNET)) ret = ns_common_install(nsset, mem[nsp + NSPROXY.net_ns]!);
  if (!ret && (flags & CLONE_NEWTIME)) ret = ns_common_install(nsset, mem[nsp + NSPROXY.time_ns]!);

  if (pid_ns) put_pid_ns(pid_ns);
  put_nsproxy(nsp);
  if (user_ns) put_user_ns(user_ns);
  return ret;
}

/**
 * commit_nsset (kernel/nsproxy.c), the point of no return: commit_creds for CLONE_NEWUSER (the
 * cred words change under task_lock; the nsset's user-namespace reference moves to the task and
 * the task's old one is dropped), then switch_task_namespaces to the nsset's nsproxy.
 */
export function commit_nsset(nsset: NsSet): void {
  const me = current;
  if ((nsset.flags & CLONE_NEWUSER) && nsset.own_cred) {
    task_lock(me);
    const old = mem[me + TASK.cred_user_ns]!;
    mem[me + TASK.cred_uid] = nsset.cred_uid;
    mem[me + TASK.cred_user_ns] = nsset.cred_user_ns;
    mem[me + TASK.cred_caps] = nsset.cred_caps;
    task_unlock(me);
    nsset.own_cred = false;
    if (old) put_user_ns(old);
  }
  switch_task_namespaces(me, nsset.nsproxy);
  nsset.nsproxy = 0;
}

/**
 * setns(fd, flags) (kernel/nsproxy.c SYSCALL_DEFINE2(setns)). By an nsfs fd: `flags` is 0 or that
 * namespace's CLONE_NEW* (else EINVAL). By a pidfd: any non-empty set of CLONE_NEW* flags
 * (check_setns_flags), joined all at once or not at all. EBADF for a bad fd, EINVAL for a file
 * that is neither. Returns 0, -errno, or SLEEP (only if copying the nsproxy has to; nothing is
 * held then and the call is repeated).
 */
export function sys_setns(fd: number, flags: number): number {
  const f = fget(fd);
  if (!f) return -EBADF;
  let err = 0;
  let ns = 0;
  let type = 0;
  const kind = mem[f + FILE.kind]!;
  if (proc_ns_file(f)) {
    ns = mem[f + FILE.obj]!;
    type = mem[f + FILE.ns_type]!;
    if (flags && type !== flags) err = -EINVAL;
    flags = type;
  } else if (kind === FILE_PIDFD && !is_err(pidfd_pid(f))) {
    err = check_setns_flags(flags);
  } else {
    err = -EINVAL;
  }
  if (err) {
    fput(f);
    return err;
  }
  const nsset = prepare_nsset(flags);
  if (typeof nsset === 'number') {
    fput(f);
    return nsset;
  }
  if (kind === FILE_NSFS) err = validate_ns(nsset, type, ns);
  else err = validate_nsset(nsset, pidfd_pid(f));
  if (!err) commit_nsset(nsset);
  put_nsset(nsset);
  fput(f);
  return err;
}

// ---- unshare(CLONE_NEWUSER) -------------------------------------------------------------------

/**
 * unshare(CLONE_NEWUSER) (kernel/fork.c ksys_unshare -> unshare_userns -> create_user_ns): a new
 * user namespace, child of current's, owned by current's euid; current's cred moves into it with
 * a full capability set. EINVAL from a multi-threaded task (CLONE_NEWUSER implies CLONE_THREAD
 * and CLONE_FS); create_user_ns's own errors (EPERM for an unmapped uid or gid, ENOSPC, ENOMEM)
 * pass through.
 */
export function sys_unshare_user(): number {
  const me = current;
  if (!thread_group_empty(me)) return -EINVAL;
  const parent = mem[me + TASK.cred_user_ns] || init_user_ns();
  const ns = create_user_ns(parent, mem[me + TASK.cred_uid]!, mem[me + TASK.cred_gid]!, (mem[me + TASK.cred_caps]! & CAP_SETFCAP) !== 0);
  if (is_err(ns)) return ns;
  if (!ns) return -ENOMEM;
  // commit_creds: create_user_ns's reference moves to the cred, the old one is dropped.
  task_lock(me);
  set_cred_user_ns(me, ns);
  task_unlock(me);
  return 0;
}

register_syscall(SYS_SETNS, 'setns', (fd, flags) => sys_setns(fd, flags));
register_syscall(SYS_UNSHARE_USER, 'unshare_user', () => sys_unshare_user());

// ---- audit ------------------------------------------------------------------------------------

function* live_objects(kind: number, poisonOff: number): Generator<number> {
  const r = regions.objects[kind]!;
  for (let i = 0; i < r.count; i++) {
    const p = r.base + i * r.stride;
    if (Atomics.load(mem, p + poisonOff) === POISON_LIVE) yield p;
  }
}

/**
 * The namespace part of the leak/refcount audit, for audit.ts (call it when no CPU runs kernel
 * code). Checks that every nsproxy count equals the tasks using it (+1 static pin for
 * init_nsproxy), every ns_common count equals the nsproxy slots and nsfs files referring to it
 * (+1 pin for an initial namespace), every file has exactly its fd-table reference and an owner
 * that has not exited (exit_files), every pidfd's pid is live, PID.pidfds equals the pidfds open
 * on it, and no task, nsproxy or file points at a freed object. Returns one line per problem.
 */
export function audit_nsproxy(): string[] {
  const out: string[] = [];
  const npRefs = new Map<number, number>();
  const nsRefs = new Map<number, number>();
  const pidfds = new Map<number, number>();
  const bump = (m: Map<number, number>, k: number): void => { m.set(k, (m.get(k) ?? 0) + 1); };
  const nslive = (ns: number): boolean => Atomics.load(mem, ns + NSCOMMON.poison) === POISON_LIVE;

  for (const t of live_objects(SLAB_TASK, TASK.poison)) {
    const np = mem[t + TASK.nsproxy]!;
    if (!np) continue;
    if (Atomics.load(mem, np + NSPROXY.poison) !== POISON_LIVE) out.push(`task ${mem[t + TASK.id]} uses freed nsproxy @${np}`);
    else bump(npRefs, np);
  }
  const init = mem[kg + G.init_nsproxy]!;
  if (init) bump(npRefs, init);

  const slots: Array<[string, number]> = [
    ['uts_ns', NSPROXY.uts_ns], ['ipc_ns', NSPROXY.ipc_ns], ['mnt_ns', NSPROXY.mnt_ns], ['net_ns', NSPROXY.net_ns],
    ['cgroup_ns', NSPROXY.cgroup_ns], ['time_ns', NSPROXY.time_ns], ['time_ns_for_children', NSPROXY.time_ns_for_children],
  ];
  for (const np of live_objects(SLAB_NSPROXY, NSPROXY.poison)) {
    const want = npRefs.get(np) ?? 0;
    const have = Atomics.load(mem, np + NSPROXY.count);
    if (have !== want) out.push(`nsproxy @${np}: count ${have}, but ${want} task/static references${want === 0 ? ' (leaked)' : ''}`);
    for (const [name, off] of slots) {
      const ns = mem[np + off]!;
      if (!ns) out.push(`nsproxy @${np}: ${name} is NULL`);
      else if (!nslive(ns)) out.push(`nsproxy @${np}: ${name} @${ns} is freed`);
      else bump(nsRefs, ns);
    }
    const pidns = mem[np + NSPROXY.pid_ns_for_children]!;
    if (!pidns) out.push(`nsproxy @${np}: pid_ns_for_children is NULL`);
    else if (Atomics.load(mem, pidns + PIDNS.poison) !== POISON_LIVE) out.push(`nsproxy @${np}: pid_ns_for_children @${pidns} is freed`);
  }

  const fdSeen = new Set<string>();
  for (const f of live_objects(SLAB_FILE, FILE.poison)) {
    const fd = mem[f + FILE.fd]!;
    const key = `${mem[f + FILE.owner]}:${fd}`;
    if (fdSeen.has(key)) out.push(`file fd ${fd}: two entries in the fd table of task @${mem[f + FILE.owner]}`);
    fdSeen.add(key);
    const count = Atomics.load(mem, f + FILE.count);
    if (count !== 1) out.push(`file fd ${fd}: count ${count}, expected 1 (its fd-table reference)`);
    const owner = mem[f + FILE.owner]!;
    if (!owner || Atomics.load(mem, owner + TASK.poison) !== POISON_LIVE) out.push(`file fd ${fd}: owner task @${owner} is gone (leaked file)`);
    else if (mem[owner + TASK.exit_state] !== 0) out.push(`file fd ${fd}: owner task ${mem[owner + TASK.id]} has exited without exit_files (leaked file)`);
    const obj = mem[f + FILE.obj]!;
    const kind = mem[f + FILE.kind]!;
    if (kind === FILE_NSFS) {
      const type = mem[f + FILE.ns_type]!;
      if (is_ns_common_type(type)) {
        if (!nslive(obj)) out.push(`file fd ${fd}: ${NS_TYPE_NAMES[type]} namespace @${obj} is freed`);
        else bump(nsRefs, obj);
      } else if (type === CLONE_NEWPID && Atomics.load(mem, obj + PIDNS.poison) !== POISON_LIVE) {
        out.push(`file fd ${fd}: pid namespace @${obj} is freed`);
      }
    } else if (kind === FILE_PIDFD) {
      if (Atomics.load(mem, obj + PID.poison) !== POISON_LIVE) out.push(`pidfd fd ${fd}: struct pid @${obj} is freed`);
      else bump(pidfds, obj);
    } else {
      out.push(`file fd ${fd}: unknown kind ${kind}`);
    }
  }

  for (const ns of live_objects(SLAB_NSCOMMON, NSCOMMON.poison)) {
    const pin = (mem[ns + NSCOMMON.flags]! & NSC_INIT) !== 0 ? 1 : 0;
    const want = (nsRefs.get(ns) ?? 0) + pin;
    const have = Atomics.load(mem, ns + NSCOMMON.count);
    if (have !== want) {
      const name = NS_TYPE_NAMES[mem[ns + NSCOMMON.type]!] ?? '?';
      out.push(`${name} namespace @${ns} (inum ${mem[ns + NSCOMMON.inum]! >>> 0}): count ${have}, but ${want} nsproxy/file/static references${want === 0 ? ' (leaked)' : ''}`);
    }
  }

  for (const pid of live_objects(SLAB_PID, PID.poison)) {
    const want = pidfds.get(pid) ?? 0;
    const have = Atomics.load(mem, pid + PID.pidfds);
    if (have !== want) out.push(`struct pid @${pid}: pidfds ${have}, but ${want} pidfd files open on it`);
  }
  return out;
}

/**
 * References on pid namespace `ns` held by the namespace code (for audit_pids' extraRefs in
 * pid.ts): nsproxy pid_ns_for_children slots, open nsfs pid files and the mounted proc superblock
 * (G.proc_mnt_ns, src/kernel/proc_root.ts). (init_pid_ns is not counted by get_pid_ns, so its
 * number means nothing.)
 */
export function pidns_extra_refs(ns: number): number {
  let n = Atomics.load(mem, kg + G.proc_mnt_ns) === ns ? 1 : 0;
  for (const np of live_objects(SLAB_NSPROXY, NSPROXY.poison)) if (mem[np + NSPROXY.pid_ns_for_children] === ns) n++;
  for (const f of live_objects(SLAB_FILE, FILE.poison)) {
    if (mem[f + FILE.kind] === FILE_NSFS && mem[f + FILE.ns_type] === CLONE_NEWPID && mem[f + FILE.obj] === ns) n++;
  }
  return n;
}

/**
 * References on user namespace `ns` held by the namespace code (for a user-namespace audit):
 * ns_common owners (NSCOMMON.user_ns) and open nsfs user files. Pid namespaces' user_ns, creds and
 * child user namespaces are counted by their owners.
 */
export function userns_extra_refs(ns: number): number {
  let n = 0;
  for (const c of live_objects(SLAB_NSCOMMON, NSCOMMON.poison)) if (mem[c + NSCOMMON.user_ns] === ns) n++;
  for (const f of live_objects(SLAB_FILE, FILE.poison)) {
    if (mem[f + FILE.kind] === FILE_NSFS && mem[f + FILE.ns_type] === CLONE_NEWUSER && mem[f + FILE.obj] === ns) n++;
  }
  return n;
}
