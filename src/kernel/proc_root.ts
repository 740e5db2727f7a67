/**
 * The proc instance mounted at /proc, as far as catalog entry 8 needs it (fs/proc/root.c,
 * fs/proc/base.c of the 3.13 era): a proc superblock belongs to one pid namespace
 * (sb->s_fs_info, a reference taken at mount and dropped by proc_kill_sb), and a path walk in
 * RCU mode reaches that namespace through the mount and the superblock holding nothing but
 * rcu_read_lock (RCU'd vfsmounts, 48a066e72d97): proc_pid_permission reads the namespace's
 * hide_pid, proc_pid_lookup looks the pid up in it. Nothing else pins the namespace for the walker,
 * so the namespace must not be freed before a grace period after its last put: 1adfcb03e31b
 * ("pid_namespace: make freeing struct pid_namespace rcu-delayed"). BUG_FREE_WITHOUT_GP frees it
 * at the last put (src/kernel/pid_namespace.ts destroy_pid_namespace).
 *
 * The model has one mount namespace and one mount point: G.proc_mnt_ns is "the pid namespace of
 * the proc instance at /proc" (the mount published in the mount hash = the pointer published
 * with rcu_assign_pointer). umount -l unpublishes it and, being the last mntput, kills the
 * superblock at once (cleanup_mnt -> deactivate_super -> proc_kill_sb -> put_pid_ns). In the
 * kernel since the RCU'd vfsmounts, namespace_unlock waits for a grace period (synchronize_rcu,
 * later synchronize_rcu_expedited or an RCU-delayed release) before it drops the unmounted tree's
 * references, which covers walkers that found the mount through the mount hash; the last mntput
 * can still come from another holder (a cwd or an open file inside the detached /proc) while a
 * walker that started from there is in RCU mode: the model's "at once" stands for that put.
 *
 * Stress (the proc operation, issue 14): readlink of /proc/self/ns/KIND or /proc/NR/ns/KIND
 * (proc_ns_readlink_rcu): today's RCU-mode reader of the superblock's namespace is /proc/self's
 * get_link, proc_self_get_link -> task_tgid_nr_ns(current, proc_pid_ns(inode->i_sb)), called
 * with dentry == NULL in RCU mode (docs/catalog-sources.md, entry 8, third edition).
 */
import { G, PIDNS, TASK } from '../mm/layout.js';
import { kg, mem } from '../mm/memory.js';
import { rcu_dereference_check, rcu_read_lock, rcu_read_unlock } from '../rcu/rcu.js';
import { current } from '../sched/core.js';
import { sched_hook } from '../sched/hook.js';
import { register_syscall } from './entry.js';
import { EACCES, EBUSY, EINVAL, ENOENT } from './errno.js';
import { SYS_MOUNT_PROC, SYS_PROC_LOOKUP, SYS_PROC_NS_READLINK, SYS_UMOUNT_PROC } from './unistd.js';
import { find_pid_ns, pid_nr_ns, pid_task, task_active_pid_ns } from './pid.js';
import { ns_inum, ptrace_may_access, PTRACE_MODE_READ_FSCREDS } from './ns_common.js';
import { ns_put, NSK_NAMES, nsk_type, proc_ns_get } from './nsfs.js';
import { get_pid_ns, put_pid_ns } from './pid_namespace.js';
import { PIDTYPE_PID } from './pid_types.js';

/** Scheduling-hook sites of the RCU walk. */
export const SITE_PROC_WALK = 250; // path_init: rcu_read_lock, the mount and its superblock
export const SITE_PROC_PERMISSION = 251; // proc_pid_permission -> has_pid_permissions (nested rcu_read_lock)
export const SITE_PROC_NEXT = 252; // the RCU walk moves on to its next path component

/**
 * mount -t proc proc /proc (proc_mount + proc_fill_super): the superblock takes a reference on the
 * caller's active pid namespace; the mount is published for RCU walkers. EBUSY when a proc
 * instance is mounted already (the model has one mount point).
 */
export function proc_mount(): number {
  const ns = task_active_pid_ns(current);
  if (!ns) return -EINVAL;
  get_pid_ns(ns); // sb->s_fs_info = get_pid_ns(ns)
  // rcu_assign_pointer (a release store): the walker's rcu_dereference pairs with it.
  if (Atomics.compareExchange(mem, kg + G.proc_mnt_ns, 0, ns) !== 0) {
    put_pid_ns(ns);
    return -EBUSY;
  }
  return 0;
}

/**
 * umount -l /proc: unpublish the mount, then the last mntput kills the superblock:
 * proc_kill_sb -> put_pid_ns(sb->s_fs_info). Walkers already inside may still hold the pointer.
 */
export function proc_umount(): number {
  const ns = Atomics.exchange(mem, kg + G.proc_mnt_ns, 0);
  if (!ns) return -EINVAL;
  put_pid_ns(ns); // proc_kill_sb
  return 0;
}

/**
 * An RCU-mode path walk of /proc/NR (link_path_walk in LOOKUP_RCU: no reference on the mount, the
 * superblock or the namespace): proc_pid_permission reads ns->hide_pid (the model reads the
 * namespace's level, the word beside it) and proc_pid_lookup finds NR in the superblock's
 * namespace. Returns 0 when NR has a task, ENOENT otherwise (or with nothing mounted).
 */
export function proc_pid_lookup_rcu(nr: number): number {
  rcu_read_lock(SITE_PROC_WALK);
  const ns = Atomics.load(mem, kg + G.proc_mnt_ns); // rcu_dereference(mnt)->mnt_sb->s_fs_info
  if (!ns) {
    rcu_read_unlock();
    return -ENOENT;
  }
  rcu_read_lock(SITE_PROC_PERMISSION); // has_pid_permissions -> ptrace_may_access: rcu_read_lock
  rcu_dereference_check(ns, PIDNS.poison);
  void mem[ns + PIDNS.level]; // pid->hide_pid
  const pid = nr > 0 ? find_pid_ns(nr, ns) : 0;
  const task = pid ? pid_task(pid, PIDTYPE_PID) : 0;
  rcu_read_unlock();
  rcu_read_unlock();
  return task ? 0 : -ENOENT;
}

/**
 * readlink("/proc/self/ns/KIND") (NR 0), or readlink("/proc/NR/ns/KIND"): what `ls -l
 * /proc/self/ns` and lsns do for each entry, one path walk per link. The walk runs in RCU mode
 * (fs/namei.c link_path_walk under LOOKUP_RCU: rcu_read_lock, no reference on the mount, its
 * superblock or the superblock's pid namespace). Each path component is a step of its own (a
 * scheduling hook), and the superblock's namespace is read after each step that reads it:
 *  - "proc": __follow_mount_rcu crosses into the proc mount: mnt->mnt_sb->s_fs_info;
 *  - "self": may_lookup and lookup_fast in the proc root, pick_link -> proc_self_get_link with
 *    dentry == NULL (RCU mode, GFP_ATOMIC): task_tgid_nr_ns(current, ns) reads the namespace
 *    (fs/proc/self.c); 0 when the caller has no number there: ENOENT;
 *  - "NR": lookup_fast of /proc/NR: the model finds NR in the superblock's namespace (what
 *    proc_pid_lookup does on a dcache miss);
 *  - "ns": may_lookup(/proc/NR) -> proc_pid_permission -> has_pid_permissions reads the
 *    namespace's hide_pid (the 3.13 layout, where s_fs_info is the namespace; the model reads the
 *    level beside it);
 *  - "KIND": proc_ns_dir_lookup, then proc_ns_readlink: ptrace_may_access (EACCES), ns_get_name
 *    -> ns_ops->get(task) and put: "KIND:[inum]". (The kernel leaves RCU mode for this last step
 *    and pins the mount; the model has no mount reference, so it stays inside the section, which
 *    only makes it longer.)
 * Returns the link's length, or ENOENT (an unknown KIND, nothing mounted, NR not in the
 * superblock's namespace, the caller not in it for "self", a namespace `get` cannot return).
 */
export function proc_ns_readlink_rcu(nr: number, nsk: number): number {
  const type = nsk_type(nsk);
  if (!type || nr < 0) return -ENOENT;
  rcu_read_lock(SITE_PROC_WALK); // path_init(LOOKUP_RCU)
  const ns = Atomics.load(mem, kg + G.proc_mnt_ns); // "proc": rcu_dereference(mnt)->mnt_sb->s_fs_info
  let task = 0;
  if (ns && nr === 0) {
    sched_hook(SITE_PROC_NEXT); // "self": may_lookup, lookup_fast, pick_link
    rcu_dereference_check(ns, PIDNS.poison); // proc_self_get_link: task_tgid_nr_ns(current, ns)
    nr = Math.max(0, pid_nr_ns(mem[current + TASK.tgid_pid]!, ns));
  }
  if (ns && nr > 0) {
    sched_hook(SITE_PROC_NEXT); // "NR": lookup_fast in the proc root
    rcu_dereference_check(ns, PIDNS.poison);
    const pid = find_pid_ns(nr, ns);
    task = pid ? pid_task(pid, PIDTYPE_PID) : 0;
    if (task) {
      rcu_read_lock(SITE_PROC_PERMISSION); // "ns": may_lookup(/proc/NR): proc_pid_permission (get_proc_task: rcu_read_lock)
      rcu_dereference_check(ns, PIDNS.poison);
      void mem[ns + PIDNS.level]; // ns->hide_pid
      rcu_read_unlock();
    }
  }
  let ret = -ENOENT;
  if (task) {
    sched_hook(SITE_PROC_NEXT); // "KIND": proc_ns_dir_lookup; readlink: proc_ns_readlink
    if (!ptrace_may_access(task, PTRACE_MODE_READ_FSCREDS)) ret = -EACCES;
    else {
      const obj = proc_ns_get(task, nsk); // ns_get_name: ns_ops->get(task)
      if (obj) {
        ret = `${NSK_NAMES[nsk]}:[${ns_inum(type, obj)}]`.length; // readlink's count of bytes
        ns_put(type, obj);
      }
    }
  }
  rcu_read_unlock();
  return ret;
}

register_syscall(SYS_MOUNT_PROC, 'mount_proc', () => proc_mount());
register_syscall(SYS_UMOUNT_PROC, 'umount_proc', () => proc_umount());
register_syscall(SYS_PROC_LOOKUP, 'proc_pid_lookup', (nr) => proc_pid_lookup_rcu(nr));
register_syscall(SYS_PROC_NS_READLINK, 'proc_ns_readlink', (nr, nsk) => proc_ns_readlink_rcu(nr, nsk));
